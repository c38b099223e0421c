from __future__ import annotations

import numpy as np
import pytest

from emoflow.errors import ConfigError, DataError
from emoflow.models import (
    NetworkSettings,
    RandomizedDeepNetwork,
    binary_metrics,
    load_model,
    roc_auc,
    save_model,
    subject_folds,
)


def _separable(rng: np.random.Generator, n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    labels = (np.arange(n) % 3 == 0).astype(np.int64)  # imbalanced, as one-vs-rest is
    inputs = rng.normal(size=(n, 4, 10, 3)).astype(np.float32)
    inputs[labels == 1, :, 2, :] += 1.5
    return inputs, labels


def test_learns_a_separable_problem(rng) -> None:
    inputs, labels = _separable(rng)
    net = RandomizedDeepNetwork(NetworkSettings(width=64), device="cpu")
    net.fit(inputs[:60], labels[:60])
    metrics = binary_metrics(labels[60:], net.decision_function(inputs[60:]))
    assert metrics["balanced_accuracy"] >= 0.9


@pytest.mark.parametrize("direct_link", [True, False])
def test_same_seed_same_predictions(rng, direct_link) -> None:
    inputs, labels = _separable(rng)
    settings = NetworkSettings(width=32, direct_link=direct_link, seed=7)
    first = RandomizedDeepNetwork(settings, device="cpu").fit(inputs, labels)
    second = RandomizedDeepNetwork(settings, device="cpu").fit(inputs, labels)
    np.testing.assert_array_equal(first.decision_function(inputs), second.decision_function(inputs))
    other = RandomizedDeepNetwork(NetworkSettings(width=32, seed=8), device="cpu").fit(
        inputs, labels
    )
    assert not np.allclose(other.decision_function(inputs), first.decision_function(inputs))


def test_primal_and_dual_ridge_agree(rng) -> None:
    inputs, labels = _separable(rng, n=40)
    wide = NetworkSettings(width=16, n_layers=1, direct_link=True)  # 120 + 16 + 1 > 40: dual
    narrow = NetworkSettings(width=16, n_layers=1, direct_link=False)  # 17 < 40: primal
    for settings in (wide, narrow):
        net = RandomizedDeepNetwork(settings, device="cpu").fit(inputs, labels)
        import torch

        design = net.readout_features(torch.as_tensor(inputs)).double()
        weights = np.where(labels == 1, 40 / (2 * labels.sum()), 40 / (2 * (40 - labels.sum())))
        w = torch.as_tensor(weights)
        y = torch.as_tensor(2.0 * labels - 1.0)
        gram = design.T @ (design * w[:, None]) + settings.ridge * torch.eye(design.shape[1])
        expected = torch.linalg.solve(gram, design.T @ (w * y))
        np.testing.assert_allclose(net.readout_.double().numpy(), expected.numpy(), atol=1e-4)


def test_reload_gives_identical_predictions(rng, tmp_path) -> None:
    inputs, labels = _separable(rng)
    net = RandomizedDeepNetwork(NetworkSettings(width=32), device="cpu").fit(inputs, labels)
    save_model(net, tmp_path / "m.pt", metadata={"emotion": "x", "landmarks": list(range(10))})
    loaded, metadata = load_model(tmp_path / "m.pt", device="cpu")
    assert metadata["emotion"] == "x"
    np.testing.assert_array_equal(loaded.decision_function(inputs), net.decision_function(inputs))


def test_gradients_flow_to_the_input(rng) -> None:
    import torch

    inputs, labels = _separable(rng)
    net = RandomizedDeepNetwork(NetworkSettings(width=16), device="cpu").fit(inputs, labels)
    x = torch.as_tensor(inputs[:3]).requires_grad_(True)
    net(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_bad_training_data_is_refused(rng) -> None:
    inputs, labels = _separable(rng)
    net = RandomizedDeepNetwork(NetworkSettings(width=8), device="cpu")
    with pytest.raises(DataError, match="both classes"):
        net.fit(inputs, np.zeros_like(labels))
    broken = inputs.copy()
    broken[0, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        net.fit(broken, labels)
    with pytest.raises(ConfigError, match="ridge"):
        NetworkSettings(ridge=0)


def test_subject_folds_never_share_a_subject() -> None:
    subjects = np.repeat([f"s{i}" for i in range(7)], 5)
    folds = subject_folds(subjects, 3, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(subjects)))
    for test_index in folds:
        train = np.setdiff1d(np.arange(len(subjects)), test_index)
        assert not set(subjects[test_index]) & set(subjects[train])
    with pytest.raises(DataError, match="subjects"):
        subject_folds(subjects, 8)


def test_roc_auc_matches_definition(rng) -> None:
    labels = rng.integers(0, 2, size=50).astype(bool)
    scores = rng.normal(size=50) + labels
    pairs = [(p, n) for p in scores[labels] for n in scores[~labels]]
    expected = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
    assert roc_auc(labels, scores) == pytest.approx(expected)

"""The backprop baselines: learning, determinism, model files, early-stopping split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emoflow.errors import ConfigError, DataError
from emoflow.metrics import binary_metrics
from emoflow.models import (
    BackpropSettings,
    MLPNetwork,
    TemporalConvNetwork,
    load_model,
    make_model,
    save_model,
)
from emoflow.models.backprop import validation_split

FAST = BackpropSettings(
    width=16, learning_rate=3e-3, max_epochs=25, patience=5, batch_size=16, seed=2
)
KINDS = [MLPNetwork, TemporalConvNetwork]


def _data(rng: np.random.Generator, n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = (np.arange(n) % 3 == 0).astype(np.int64)
    inputs = rng.normal(size=(n, 4, 6, 3)).astype(np.float32)
    inputs[labels == 1, 1:, 2, :] += 1.5
    subjects = np.array([f"s{i % 6}" for i in range(n)])
    return inputs, labels, subjects


@pytest.mark.parametrize("cls", KINDS, ids=["mlp", "temporal"])
def test_learns_deterministically_reloads_and_differentiates(rng, tmp_path, cls) -> None:
    inputs, labels, subjects = _data(rng)
    train, test = slice(0, 45), slice(45, None)
    first = cls(FAST, device="cpu").fit(inputs[train], labels[train], groups=subjects[train])
    second = cls(FAST, device="cpu").fit(inputs[train], labels[train], groups=subjects[train])
    scores = first.decision_function(inputs[test])
    np.testing.assert_array_equal(scores, second.decision_function(inputs[test]))
    assert binary_metrics(labels[test], scores)["balanced_accuracy"] >= 0.85
    assert 1 <= first.best_epoch_ <= first.n_epochs_ <= FAST.max_epochs
    assert first.n_parameters()["random"] == 0 and first.n_parameters()["trained"] > 0
    other = cls(BackpropSettings(**{**FAST.__dict__, "seed": 3}), device="cpu")
    other.fit(inputs[train], labels[train], groups=subjects[train])
    assert not np.allclose(other.decision_function(inputs[test]), scores)

    save_model(first, tmp_path / "b.pt", metadata={"emotion": "x", "landmarks": list(range(6))})
    loaded, metadata = load_model(tmp_path / "b.pt", device="cpu")
    assert type(loaded) is cls and metadata["kind"] == cls.kind
    np.testing.assert_array_equal(loaded.decision_function(inputs[test]), scores)

    x = torch.as_tensor(inputs[:3]).requires_grad_(True)
    loaded(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_make_model_builds_each_kind() -> None:
    assert isinstance(make_model("mlp", {"width": 8}, device="cpu"), MLPNetwork)
    assert isinstance(make_model("temporal", None, device="cpu"), TemporalConvNetwork)
    with pytest.raises(ConfigError, match="unknown setting"):
        make_model("mlp", {"ridge": 1.0}, device="cpu")
    with pytest.raises(ConfigError, match="kind"):
        make_model("svm", None, device="cpu")


def test_validation_split_holds_out_whole_subjects(rng) -> None:
    labels = (np.arange(40) % 4 == 0).astype(np.int64)
    subjects = np.repeat([f"s{i}" for i in range(8)], 5)
    fit, validation = validation_split(labels, subjects, 0.25, seed=0)
    assert sorted(np.concatenate([fit, validation]).tolist()) == list(range(40))
    assert not set(subjects[fit]) & set(subjects[validation])
    assert len(set(subjects[validation])) == 2
    assert 0 < labels[fit].sum() < len(fit)
    # one subject only: a stratified split of samples, both classes kept for fitting
    fit, validation = validation_split(labels, np.full(40, "s"), 0.25, seed=0)
    assert len(validation) > 0 and 0 < labels[fit].sum() < len(fit)


def test_bad_input_and_settings_are_refused(rng) -> None:
    inputs, labels, _ = _data(rng, n=12)
    model = MLPNetwork(FAST, device="cpu")
    with pytest.raises(DataError, match="both classes"):
        model.fit(inputs, np.zeros_like(labels))
    broken = inputs.copy()
    broken[1, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        model.fit(broken, labels)
    with pytest.raises(DataError, match="not fitted"):
        model.decision_function(inputs)
    with pytest.raises(ConfigError, match="kernel_size"):
        BackpropSettings(kernel_size=2)
    with pytest.raises(ConfigError, match="activation"):
        BackpropSettings(activation="softplus")  # type: ignore[arg-type]

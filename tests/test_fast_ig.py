"""The randomized network's exact fast Integrated Gradients against Captum's, and the store
attributing only the samples it aggregates."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import zarr

from emoflow.attribution import (
    ATTRIBUTION_METHODS,
    AttributionSettings,
    attribute_emotion,
    attribute_samples,
)
from emoflow.attribution.baselines import choose_baselines
from emoflow.attribution.dataset import iter_attributions
from emoflow.attribution.methods import (
    CaptumIntegratedGradients,
    IntegratedGradients,
    PathIntegrable,
)
from emoflow.attribution.relevance import landmark_scores
from emoflow.models import NetworkSettings, RandomizedDeepNetwork, save_model
from emoflow.models.backprop import BackpropSettings, MLPNetwork, TemporalConvNetwork
from emoflow.storage.attribution_store import (
    load_scores,
    read_attributed_samples,
    read_attributions,
)
from emoflow.storage.landmark_sets import write_landmark_sets

VARIANTS = [
    # (n_layers, activation, direct_link, ensemble)
    (1, "tanh", True, "none"),
    (2, "tanh", True, "none"),
    (3, "tanh", False, "none"),
    (1, "relu", False, "none"),
    (2, "relu", True, "none"),
    (2, "sigmoid", True, "none"),
    (3, "sigmoid", False, "none"),
    (2, "gelu", True, "none"),
    (2, "gelu", False, "none"),
    (2, "tanh", True, "layers"),
    (3, "relu", False, "layers"),
    (2, "sigmoid", True, "seeds"),
    (2, "gelu", False, "seeds"),
    (1, "tanh", True, "seeds"),
]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    # an offset from zero, so that folding the standardisation into the first layer matters
    inputs = (rng.normal(size=(40, 4, 30, 3)) * 0.5 + 2.0).astype(np.float32)
    labels = (np.arange(40) % 3 == 0).astype(np.int64)
    return inputs, labels


def _both(
    model: object, inputs: np.ndarray, references: np.ndarray, **options: object
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    x, b = torch.as_tensor(inputs), torch.as_tensor(references)
    fast = IntegratedGradients(model, **options).attribute(x, b)  # type: ignore[arg-type]
    captum = CaptumIntegratedGradients(model, **options).attribute(x, b)  # type: ignore[arg-type]
    return fast, captum


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("quadrature", ["gausslegendre", "riemann_trapezoid"])
@pytest.mark.parametrize(
    ("n_layers", "activation", "direct_link", "ensemble"),
    VARIANTS,
    ids=["-".join(map(str, v)) for v in VARIANTS],
)
def test_fast_ig_equals_captum(data, quadrature, n_layers, activation, direct_link, ensemble):
    inputs, labels = data
    settings = NetworkSettings(
        n_layers=n_layers,
        width=48,
        activation=activation,
        direct_link=direct_link,
        ensemble=ensemble,
        n_estimators=3,
        standardise="feature" if n_layers == 2 else "global",
    )
    model = RandomizedDeepNetwork(settings, device="cpu").fit(inputs, labels)
    assert isinstance(model, PathIntegrable)
    # 6 samples against 4 baselines, in calls of 16 // 8 = 2 rows (fast) or 16 rows (Captum)
    options = {"n_steps": 8, "quadrature": quadrature, "internal_batch_size": 16}
    (fast, fast_gap), (captum, captum_gap) = _both(model, inputs[:6], inputs[30:34], **options)
    assert fast.shape == captum.shape == (6, 4, 30, 3)
    assert _relative(fast, captum) <= 1e-5
    # completeness: the gap is the quadrature's error, as small as Captum's
    scale = float(torch.as_tensor(model.decision_function(inputs)).abs().max())
    assert fast_gap.shape == captum_gap.shape == (6,)
    torch.testing.assert_close(fast_gap, captum_gap, rtol=1e-3, atol=1e-5 * scale)


def test_fast_ig_follows_a_refit_and_matches_captum_on_the_default_network(data) -> None:
    inputs, labels = data
    model = RandomizedDeepNetwork(NetworkSettings(), device="cpu").fit(inputs, labels)
    (first, _), (reference, _) = _both(model, inputs[:4], inputs[20:25], n_steps=32)
    assert _relative(first, reference) <= 1e-5
    # the folded first layer is cached per model state: a refit must not reuse it
    model.fit(inputs * 3.0 - 1.0, 1 - labels)
    (again, _), (reference, _) = _both(model, inputs[:4], inputs[20:25], n_steps=32)
    assert _relative(again, reference) <= 1e-5
    assert _relative(again, first) > 1e-2


def test_default_method_takes_the_fast_path_only_for_the_network(data, monkeypatch) -> None:
    inputs, labels = data
    assert ATTRIBUTION_METHODS["integrated_gradients"] is IntegratedGradients
    assert ATTRIBUTION_METHODS["integrated_gradients_captum"] is CaptumIntegratedGradients
    network = RandomizedDeepNetwork(NetworkSettings(width=16), device="cpu").fit(inputs, labels)
    calls: list[int] = []
    original = RandomizedDeepNetwork.path_integral

    def counted(self, *args):
        calls.append(len(args[0]))
        return original(self, *args)

    monkeypatch.setattr(RandomizedDeepNetwork, "path_integral", counted)
    x, b = torch.as_tensor(inputs[:3]), torch.as_tensor(inputs[10:12])
    attribute_samples(network, x, b, AttributionSettings(n_steps=4))
    assert sum(calls) == 6  # every (sample, baseline) pair through the network's own integral
    calls.clear()
    attribute_samples(network, x, b, AttributionSettings(method="integrated_gradients_captum"))
    assert calls == []


@pytest.mark.parametrize("cls", [MLPNetwork, TemporalConvNetwork], ids=["mlp", "temporal"])
def test_backprop_models_go_through_captum(data, cls) -> None:
    inputs, labels = data
    settings = BackpropSettings(width=8, max_epochs=2, patience=1)
    model = cls(settings, device="cpu").fit(inputs, labels)
    model.eval()
    assert not isinstance(model, PathIntegrable)
    (fast, fast_gap), (captum, captum_gap) = _both(model, inputs[:3], inputs[20:22], n_steps=4)
    torch.testing.assert_close(fast, captum, rtol=0, atol=0)
    torch.testing.assert_close(fast_gap, captum_gap, rtol=0, atol=0)


# -- attribute only what is aggregated --------------------------------------------------------
def test_store_attributes_only_the_positive_samples(tmp_path, planted, planted_store) -> None:
    emotion = "happiness"
    keep = np.arange(0, planted.features.shape[2], 3)
    labels = (planted.emotions == emotion).astype(np.int64)
    model = RandomizedDeepNetwork(NetworkSettings(width=32), device="cpu")
    model.fit(planted.features[:, :, keep], labels)
    save_model(model, tmp_path / "model.pt", metadata={"landmarks": keep.tolist()})
    write_landmark_sets(tmp_path / "landmarks.json", {emotion: keep.tolist()})
    settings = AttributionSettings(n_steps=8, n_baselines=3, batch_size=8)
    info = attribute_emotion(
        planted_store,
        tmp_path / "landmarks.json",
        tmp_path / "model.pt",
        tmp_path / "attributions.zarr",
        emotion=emotion,
        settings=settings,
        device="cpu",
    )
    stored, _ = read_attributions(tmp_path / "attributions.zarr", emotion=emotion)
    positive = labels.astype(bool)
    # the store is sized for the samples attributed (issue 26; it held a row for every
    # sample before, 0 where not attributed)
    assert stored.shape[0] == int(positive.sum()) < len(labels)
    samples = read_attributed_samples(tmp_path / "attributions.zarr")
    assert samples["video_id"].tolist() == planted.video_ids[positive].tolist()
    assert samples["used"].all()
    # every sample attributed, as before: the positive ones must be the same
    baselines, _ = choose_baselines(
        planted.features,
        labels,
        **settings.baseline_options(),
        neutral_mask=planted.emotions == "neutral",
        landmarks=keep,
    )
    everything = np.concatenate(
        [
            part
            for _, _, part, _ in iter_attributions(
                model, planted.features, baselines, settings, landmarks=keep
            )
        ]
    )
    np.testing.assert_allclose(stored[:, :, keep], everything[positive], rtol=1e-5, atol=1e-7)
    assert np.isnan(np.delete(stored, keep, axis=2)).all()
    _, scores = load_scores(tmp_path / "attributions.zarr")
    expected = landmark_scores(everything, settings.aggregate, positive)
    np.testing.assert_allclose(scores[0, keep], expected, rtol=1e-5, atol=1e-9)
    root = zarr.open_group(str(tmp_path / "attributions.zarr"), mode="r")
    assert np.asarray(root["used"][0]).all()
    deltas = np.asarray(root["deltas"][0])
    assert deltas.shape == (int(positive.sum()),) and deltas.max() > 0
    assert json.loads(root.attrs["n_attributed"]) == {emotion: int(positive.sum())}
    assert info["seconds_per_sample"][emotion] > 0

from __future__ import annotations

import numpy as np
import pytest

from emoflow.errors import ConfigError, DataError
from emoflow.metrics import binary_metrics, roc_auc, subject_folds
from emoflow.models import NetworkSettings, RandomizedDeepNetwork, load_model, save_model


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
        np.testing.assert_allclose(net.readout_[0].double().numpy(), expected.numpy(), atol=1e-4)


@pytest.mark.parametrize(("n_samples", "n_features"), [(50, 7), (90, 8), (700, 301), (900, 600)])
def test_packed_gram_solve_matches_the_full_solve(rng, monkeypatch, n_samples, n_features) -> None:
    """The CPU primal path (rectangular full packed Cholesky, odd and even widths, many row
    blocks) solves the same system as the full Gram matrix."""
    import torch

    from emoflow.models import _ridge

    monkeypatch.setattr(_ridge, "_BLOCK_BYTES", 8 * n_features * 37)  # 37 rows a block
    design = torch.as_tensor(rng.standard_normal((n_samples, n_features)))
    weights = torch.as_tensor(rng.uniform(0.5, 2.0, n_samples))
    targets = torch.as_tensor(np.sign(rng.standard_normal(n_samples)))
    packed = _ridge.weighted_ridge(design, targets, weights, 0.3)
    gram = design.T @ (design * weights[:, None]) + 0.3 * torch.eye(n_features, dtype=torch.float64)
    expected = torch.linalg.solve(gram, design.T @ (weights * targets))
    assert packed.shape == (n_features,)
    np.testing.assert_allclose(packed.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)


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


# -- ensembles, ridge path, calibration, model files -------------------------------------------
ENSEMBLES = [  # settings, lowest balanced accuracy expected (an ELM read-out is weaker here)
    (NetworkSettings(width=24, n_layers=3, ensemble="layers", seed=3), 0.9),
    (NetworkSettings(width=24, n_layers=2, ensemble="seeds", n_estimators=3, seed=3), 0.9),
    (NetworkSettings(width=64, n_layers=2, ensemble="layers", direct_link=False, seed=3), 0.7),
]


@pytest.mark.parametrize(("settings", "lowest"), ENSEMBLES, ids=["layers", "seeds", "layers-elm"])
def test_ensembles_learn_deterministically_and_reload(rng, tmp_path, settings, lowest) -> None:
    import torch

    inputs, labels = _separable(rng)
    first = RandomizedDeepNetwork(settings, device="cpu").fit(inputs[:60], labels[:60])
    second = RandomizedDeepNetwork(settings, device="cpu").fit(inputs[:60], labels[:60])
    scores = first.decision_function(inputs[60:])
    np.testing.assert_array_equal(scores, second.decision_function(inputs[60:]))
    assert binary_metrics(labels[60:], scores)["balanced_accuracy"] >= lowest
    assert first.readout_.shape[0] == settings.n_heads
    # the output is the mean of the read-outs' outputs
    x = torch.as_tensor(inputs[60:])
    heads = [d @ first.readout_[k] for k, d in enumerate(first.head_features(x))]
    np.testing.assert_allclose(scores, torch.stack(heads).mean(0).numpy(), rtol=1e-4, atol=1e-5)
    # differentiable for attribution
    x_grad = x[:2].clone().requires_grad_(True)
    first(x_grad).sum().backward()
    assert x_grad.grad is not None and x_grad.grad.abs().sum() > 0
    save_model(first, tmp_path / "e.pt", metadata={"emotion": "x", "landmarks": list(range(10))})
    loaded, metadata = load_model(tmp_path / "e.pt", device="cpu")
    assert metadata["kind"] == "rvfl" and metadata["emoflow_version"]
    np.testing.assert_array_equal(loaded.decision_function(inputs[60:]), scores)


def test_seeds_ensemble_member_zero_is_the_single_network(rng) -> None:
    inputs, labels = _separable(rng)
    single = RandomizedDeepNetwork(NetworkSettings(width=16, seed=5), device="cpu").fit(
        inputs, labels
    )
    ensemble = RandomizedDeepNetwork(
        NetworkSettings(width=16, seed=5, ensemble="seeds", n_estimators=2), device="cpu"
    ).fit(inputs, labels)
    for a, b in zip(single.hidden_[0].parameters(), ensemble.hidden_[0].parameters(), strict=True):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    first_weight = next(iter(single.hidden_[0].parameters())).detach().numpy()
    second_weight = next(iter(ensemble.hidden_[1].parameters())).detach().numpy()
    assert not np.allclose(first_weight, second_weight)
    assert ensemble.n_parameters()["random"] == 2 * single.n_parameters()["random"]


def test_ensemble_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="ensemble"):
        NetworkSettings(ensemble="bagging")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n_estimators"):
        NetworkSettings(n_estimators=0)


@pytest.mark.parametrize("ensemble", ["none", "layers"])
def test_ridge_path_matches_separate_fits(rng, ensemble) -> None:
    from dataclasses import replace

    from emoflow.models.rvfl import ridge_path_scores

    inputs, labels = _separable(rng, n=50)
    ridges = [0.1, 3.0, 100.0]
    for direct_link in (True, False):  # dual (wide) and primal (narrow) designs
        settings = NetworkSettings(width=16, ensemble=ensemble, direct_link=direct_link)
        path = ridge_path_scores(
            settings, inputs[:35], labels[:35], inputs[35:], ridges, device="cpu"
        )
        for row, ridge in zip(path, ridges, strict=True):
            net = RandomizedDeepNetwork(replace(settings, ridge=ridge), device="cpu")
            expected = net.fit(inputs[:35], labels[:35]).decision_function(inputs[35:])
            np.testing.assert_allclose(row, expected, rtol=1e-3, atol=1e-4)


def test_platt_calibration(rng) -> None:
    from emoflow.models.calibration import PlattCalibrator

    scores = rng.normal(size=4000)
    truth = rng.random(4000) < 1.0 / (1.0 + np.exp(-(2.0 * scores - 0.5)))
    calibrator = PlattCalibrator().fit(scores, truth.astype(int))
    assert calibrator.slope_ == pytest.approx(2.0, abs=0.25)
    assert calibrator.intercept_ == pytest.approx(-0.5, abs=0.15)
    probabilities = calibrator.predict_proba(np.array([-3.0, 0.0, 3.0]))
    assert np.all(np.diff(probabilities) > 0) and np.all((probabilities > 0) & (probabilities < 1))
    # separable scores still give a finite fit
    separable = PlattCalibrator().fit(np.array([-2.0, -1.0, 1.0, 2.0]), np.array([0, 0, 1, 1]))
    assert np.isfinite(separable.slope_) and separable.slope_ > 0
    restored = PlattCalibrator.from_dict(calibrator.to_dict())
    np.testing.assert_array_equal(restored.predict_proba(scores), calibrator.predict_proba(scores))
    with pytest.raises(DataError, match="both classes"):
        PlattCalibrator().fit(scores[:5], np.ones(5))


def test_model_files_of_other_formats_are_refused(rng, tmp_path) -> None:
    import torch

    from emoflow.errors import InputError

    inputs, labels = _separable(rng)
    net = RandomizedDeepNetwork(NetworkSettings(width=8), device="cpu").fit(inputs, labels)
    old = {
        "format": 1,
        "emoflow_version": "0.0.1",
        "kind": "randomized_deep_network",
        "settings": {"width": 8},
        "input_shape": [4, 10, 3],
        "metadata": {},
        "state_dict": net.state_dict(),
    }
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(InputError, match=r"old\.pt.*format 1.*retrain"):
        load_model(tmp_path / "old.pt", device="cpu")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(InputError, match=r"junk\.pt"):
        load_model(tmp_path / "junk.pt", device="cpu")
    with pytest.raises(InputError, match=r"missing\.pt"):
        load_model(tmp_path / "missing.pt", device="cpu")


def test_apply_model_selects_the_stored_landmarks(rng, tmp_path) -> None:
    from emoflow.features import FeatureSet
    from emoflow.models import apply_model, apply_models
    from emoflow.models.calibration import PlattCalibrator

    features = rng.normal(size=(30, 4, 12, 3)).astype(np.float32)
    emotions = np.array(["a", "b", "c"] * 10)
    features[emotions == "a", :, 5, :] += 2.0
    feature_set = FeatureSet(
        features=features,
        video_ids=np.array([f"v{i}" for i in range(30)]),
        subjects=np.array([f"s{i % 5}" for i in range(30)]),
        emotions=emotions,
        emotion_names=["a", "b", "c"],
        settings={"n_frames": 4},
    )
    keep = [11, 5, 2, 7]
    inputs = feature_set.select(keep).features
    paths = []
    for emotion in ("a", "b"):
        labels = feature_set.labels_for(emotion)
        net = RandomizedDeepNetwork(NetworkSettings(width=8), device="cpu").fit(inputs, labels)
        calibrator = PlattCalibrator().fit(net.decision_function(inputs), labels)
        paths.append(tmp_path / f"{emotion}.pt")
        save_model(
            net,
            paths[-1],
            metadata={
                "emotion": emotion,
                "landmarks": keep,
                "feature_settings": {"n_frames": 4},
                "calibration": calibrator.to_dict(),
            },
        )
    table = apply_model(paths[0], feature_set, device="cpu")
    expected, _ = load_model(paths[0], device="cpu")
    np.testing.assert_array_equal(table["score"].to_numpy(), expected.decision_function(inputs))
    assert table["video_id"].to_list() == feature_set.video_ids.tolist()
    assert table["probability"].is_between(0, 1).all()
    both = apply_models(tmp_path, feature_set, device="cpu")
    assert set(both["emotion"].unique().to_list()) <= {"a", "b"}
    assert (both.filter(np.asarray(emotions) == "a")["emotion"] == "a").mean() > 0.8
    other = FeatureSet(**{**feature_set.__dict__, "settings": {"n_frames": 4, "align": "none"}})
    with pytest.raises(DataError, match="feature"):
        apply_model(paths[0], other, device="cpu")


def test_apply_model_to_new_landmark_tables(tmp_path) -> None:
    """A saved model scores videos straight from landmark tables, with its feature settings."""
    import polars as pl

    from emoflow.facemesh.mesh import reference_face
    from emoflow.features import FeatureSettings, features_from_landmarks
    from emoflow.landmarks import import_landmarks
    from emoflow.models import apply_model

    face = reference_face()
    rows = []
    for video, lift in (("smile", 0.006), ("still", 0.0)):
        for frame in range(5):
            points = face.copy()
            points[[61, 291], 1] -= lift * frame  # mouth corners rise
            row: dict[str, object] = {"video_id": video, "frame": frame}
            for i, (x, y, z) in enumerate(points):
                row.update({f"x_{i}": x, f"y_{i}": y, f"z_{i}": z})
            rows.append(row)
    pl.DataFrame(rows).write_csv(tmp_path / "landmarks.csv")
    import_landmarks(
        tmp_path / "landmarks.csv", tmp_path / "landmarks.parquet", width=256, height=256
    )
    settings = FeatureSettings(n_frames=4, align="canonical")
    features, kept, _ = features_from_landmarks(tmp_path / "landmarks.parquet", settings)
    assert kept == ["smile", "still"]
    keep = [61, 291, 13, 14, 1]
    train = np.concatenate([features[:, :, keep, :]] * 3)
    train += np.random.default_rng(0).normal(scale=1e-3, size=train.shape).astype(np.float32)
    net = RandomizedDeepNetwork(NetworkSettings(width=8), device="cpu")
    net.fit(train, np.array([1, 0] * 3))
    save_model(
        net,
        tmp_path / "happiness.pt",
        metadata={
            "emotion": "happiness",
            "landmarks": keep,
            "feature_settings": {"n_frames": 4, "align": "canonical"},
        },
    )
    table = apply_model(tmp_path / "happiness.pt", tmp_path / "landmarks.parquet", device="cpu")
    assert table["video_id"].to_list() == ["smile", "still"]
    np.testing.assert_allclose(
        table["score"].to_numpy(), net.decision_function(features[:, :, keep, :]), rtol=1e-6
    )
    assert table["present"].to_list() == [True, False]
    assert table["probability"].is_null().all()  # no calibration stored


def test_inference_is_timed_on_a_fixed_batch_of_the_first_samples(rng) -> None:
    """The cost per sample does not depend on how many samples the job has, and a large job
    does not pass over all of them six times to time its model."""
    from emoflow.models.evaluation import TIMING_SAMPLES, time_inference

    class Recording:
        def __init__(self) -> None:
            self.batches: list[np.ndarray] = []

        def decision_function(self, inputs: np.ndarray) -> np.ndarray:
            self.batches.append(inputs)
            return np.zeros(len(inputs))

    inputs = rng.standard_normal((TIMING_SAMPLES + 100, 2, 3))
    model = Recording()
    seconds = time_inference(model, inputs, repeats=3)  # type: ignore[arg-type]
    assert seconds >= 0.0 and len(model.batches) == 4  # a warm-up and 3 timed runs
    for batch in model.batches:
        np.testing.assert_array_equal(batch, inputs[:TIMING_SAMPLES])
    few = Recording()
    time_inference(few, inputs[:7], repeats=1)  # type: ignore[arg-type]
    assert [len(batch) for batch in few.batches] == [7, 7]

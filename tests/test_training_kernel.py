"""The development kernel built once per job and sliced per fold (issue 26): the same models,
to rounding, as fitting every fold from scratch, and no standardisation leaks across folds."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from emoflow.features import FeatureSet
from emoflow.layout import ResultsLayout
from emoflow.metrics import subject_folds
from emoflow.models import SCORE_TOLERANCE, NetworkSettings, RandomizedDeepNetwork, SharedProducts
from emoflow.models.rvfl import ridge_path_scores
from emoflow.storage.feature_store import write_feature_store
from emoflow.storage.metrics import read_metrics
from emoflow.synthetic import planted_features
from emoflow.training import SelectionSettings, train_iteration
from emoflow.training.cross_validation import evaluate_emotion

EMOTIONS = ["happiness", "sadness", "surprise"]
SETTINGS = [
    NetworkSettings(width=16),
    NetworkSettings(width=64, direct_link=False),  # ELM: 65 columns, a dual fit of 24 rows
    NetworkSettings(width=16, ensemble="layers"),
    NetworkSettings(width=16, ensemble="seeds", n_estimators=3),
    NetworkSettings(width=32, n_layers=3, activation="relu", class_weight="none"),
]


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    data = planted_features(
        n_subjects=6, repetitions=2, n_frames=4, n_landmarks=30, n_planted=4, seed=4
    )
    labels = (data.emotions == "happiness").astype(int)
    train = np.sort(np.random.default_rng(0).choice(len(labels), 24, replace=False))
    test = np.setdiff1d(np.arange(len(labels)), train)
    return data.features, labels, train, test


def _relative(new: np.ndarray, old: np.ndarray) -> float:
    return float(np.abs(new - old).max() / np.abs(old).max())


@pytest.mark.parametrize(
    "settings", SETTINGS, ids=["rvfl", "elm", "layers", "seeds", "relu-unweighted"]
)
def test_a_fit_from_the_shared_kernel_is_the_fit_from_scratch(settings) -> None:
    inputs, labels, train, _ = _data()
    products = SharedProducts(inputs, device="cpu")
    assert products.covers(settings, len(train))
    old = RandomizedDeepNetwork(settings, device="cpu").fit(inputs[train], labels[train])
    new = RandomizedDeepNetwork(settings, device="cpu").fit(products.rows(train), labels[train])
    assert _relative(new.decision_function(inputs), old.decision_function(inputs)) < (
        SCORE_TOLERANCE
    )
    assert np.allclose(new.input_mean_.numpy(), old.input_mean_.numpy(), atol=1e-6)
    assert new.input_scale_.numpy() == pytest.approx(old.input_scale_.numpy(), rel=1e-6)
    for a, b in zip(new.hidden_.parameters(), old.hidden_.parameters(), strict=True):
        assert np.array_equal(a.numpy(), b.numpy())  # the same drawn layers


@pytest.mark.parametrize(
    "settings", SETTINGS, ids=["rvfl", "elm", "layers", "seeds", "relu-unweighted"]
)
def test_a_ridge_path_from_the_shared_kernel_is_the_path_from_scratch(settings) -> None:
    inputs, labels, train, test = _data()
    ridges = [0.1, 1.0, 10.0, 100.0, 1000.0]
    old = ridge_path_scores(
        settings, inputs[train], labels[train], inputs[test], ridges, device="cpu"
    )
    new = SharedProducts(inputs, device="cpu").path_scores(
        settings, train, labels[train], test, ridges
    )
    assert new.shape == old.shape == (len(ridges), len(test))
    assert _relative(new, old) < SCORE_TOLERANCE


def test_a_folds_standardisation_and_fit_use_its_training_rows_only() -> None:
    """Replacing every other sample by wild noise leaves the fold's model unchanged."""
    inputs, labels, train, test = _data()
    settings = NetworkSettings(width=16)
    wild = inputs.copy()
    wild[test] = 40.0 * np.random.default_rng(9).standard_normal(wild[test].shape) - 7.0
    models = [
        SharedProducts(values, device="cpu").fit(settings, train, labels[train])
        for values in (inputs, wild)
    ]
    for name in ("input_mean_", "input_scale_", "readout_"):
        a, b = (getattr(model, name).numpy() for model in models)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    paths = [
        SharedProducts(values, device="cpu").path_scores(
            settings, train, labels[train], train[:5], [0.1, 10.0]
        )
        for values in (inputs, wild)
    ]
    np.testing.assert_allclose(paths[0], paths[1], rtol=1e-10, atol=1e-12)


def test_a_primal_sized_fit_is_left_to_the_fit_from_scratch() -> None:
    inputs, _, _, _ = _data()
    products = SharedProducts(inputs, device="cpu")
    narrow = NetworkSettings(width=4, direct_link=False)  # 5 design columns, 36 samples
    assert not products.covers(narrow, len(inputs))
    assert not products.covers(replace(narrow, direct_link=True, standardise="feature"), 10)


def _small() -> FeatureSet:
    data = planted_features(
        n_subjects=6, repetitions=2, n_frames=4, n_landmarks=30, n_planted=4, seed=4
    )
    return FeatureSet(
        features=data.features,
        video_ids=data.video_ids,
        subjects=data.subjects,
        emotions=data.emotions,
        emotion_names=EMOTIONS,
        settings={"n_frames": 4},
    )


def _evaluate(feature_set: FeatureSet, products: SharedProducts | None):
    folds = subject_folds(feature_set.subjects, 3, seed=0)
    return evaluate_emotion(
        feature_set,
        "surprise",
        np.arange(30),
        folds,
        NetworkSettings(width=16),
        selection=SelectionSettings(
            n_inner_folds=2, ridge_grid=(0.1, 1.0, 10.0), width_grid=(8, 16)
        ),
        device="cpu",
        products=products,
    )


def test_cross_validation_with_the_shared_kernel_chooses_and_scores_the_same() -> None:
    feature_set = _small()
    old = _evaluate(feature_set, None)
    new = _evaluate(feature_set, SharedProducts(feature_set.features, device="cpu"))
    for a, b in zip(old.fold_metrics, new.fold_metrics, strict=True):
        assert a["chosen"] == b["chosen"]
    assert _relative(new.oof_scores, old.oof_scores) < SCORE_TOLERANCE
    np.testing.assert_allclose(new.oof_probabilities, old.oof_probabilities, atol=1e-5)


def test_train_iteration_matches_the_path_without_shared_products(
    tmp_path: Path, monkeypatch
) -> None:
    """The whole protocol (inner searches, outer folds, final fit, held-out scores) against
    the same run with every fit from scratch."""
    feature_set = _small()
    store = tmp_path / "features.zarr"
    write_feature_store(
        store,
        features=feature_set.features,
        video_ids=feature_set.video_ids,
        subjects=feature_set.subjects,
        emotions=feature_set.emotions,
        emotion_names=EMOTIONS,
        settings=feature_set.settings,
    )
    landmarks = tmp_path / "landmarks.json"
    landmarks.write_text(json.dumps({"emotions": {e: list(range(30)) for e in EMOTIONS}}))
    runs = {}
    shared_fits: list[int] = []
    original_fit = SharedProducts.fit

    def counted_fit(self, *args, **kwargs):
        shared_fits.append(len(args[1]))
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(SharedProducts, "fit", counted_fit)
    original_applies = SharedProducts.applies
    for name in ("scratch", "shared"):
        applies = (lambda *_: False) if name == "scratch" else original_applies
        monkeypatch.setattr(SharedProducts, "applies", staticmethod(applies))
        root = tmp_path / name
        root.mkdir()
        train_iteration(store, landmarks, root, device="cpu", n_folds=3, test_subjects=1)
        layout = ResultsLayout(root)
        runs[name] = (read_metrics(layout.metrics(0)), pl.read_parquet(layout.scores(0)))
        if name == "scratch":
            assert not shared_fits
    # every emotion: a fit per outer fold and the final fit, all from the shared kernel
    assert len(shared_fits) == len(EMOTIONS) * 4
    (old_metrics, old_scores), (new_metrics, new_scores) = runs["scratch"], runs["shared"]
    for emotion, record in old_metrics["emotions"].items():
        other = new_metrics["emotions"][emotion]
        assert record["final"]["chosen"] == other["final"]["chosen"]
        assert [f["chosen"] for f in record["folds"]] == [f["chosen"] for f in other["folds"]]
    assert old_scores.columns == new_scores.columns
    for column in old_scores.columns:
        if old_scores[column].dtype.is_float():
            a, b = old_scores[column].to_numpy(), new_scores[column].to_numpy()
            assert _relative(b, a) < SCORE_TOLERANCE * 10, column
        else:
            assert old_scores[column].to_list() == new_scores[column].to_list(), column


def test_the_ridge_path_solves_what_cholesky_cannot_factor() -> None:
    import torch

    from emoflow.models._kernel import _dual_path

    rng = np.random.default_rng(1)
    a = torch.as_tensor(rng.standard_normal((6, 6)))
    kernel = a @ a.T
    kernel[0, 0] = -50.0  # indefinite: K + λI is not positive definite for small λ
    targets = torch.as_tensor(rng.standard_normal(6))
    ridges = [0.1, 1.0, 100.0]
    given = kernel.clone()
    solutions = _dual_path(given, targets, ridges)
    assert solutions is not None and torch.equal(given, kernel)  # K itself is kept
    for j, ridge in enumerate(ridges):
        expected = torch.linalg.solve(kernel + ridge * torch.eye(6, dtype=kernel.dtype), targets)
        torch.testing.assert_close(solutions[:, j], expected)
    assert _dual_path(kernel.clone(), targets, [0.1], in_place=True) is None  # rebuild K


@pytest.mark.parametrize("steps", [0, 1, 10], ids=["float64-only", "one-step", "default"])
def test_a_ridge_path_from_float32_factors_is_the_float64_solve(monkeypatch, steps) -> None:
    import torch

    from emoflow.models import _kernel

    monkeypatch.setattr(_kernel, "CG_STEPS", steps)
    rng = np.random.default_rng(2)
    basis = torch.linalg.qr(torch.as_tensor(rng.standard_normal((120, 120))))[0]
    spectrum = torch.logspace(-1, 6, 120, dtype=torch.float64)  # condition number 1e7
    kernel = (basis * spectrum) @ basis.T
    kernel = (kernel + kernel.T) / 2
    targets = torch.as_tensor(rng.standard_normal(120))
    ridges = [0.1, 1.0, 10.0, 100.0, 1000.0]
    given = kernel.clone()
    solutions = _kernel._dual_path(given, targets, ridges)
    assert solutions is not None and torch.equal(given, kernel)  # K itself is kept
    for j, ridge in enumerate(ridges):
        expected = torch.linalg.solve(kernel + ridge * torch.eye(120, dtype=kernel.dtype), targets)
        error = (solutions[:, j] - expected).norm() / expected.norm()
        assert error < 1e-8, (ridge, float(error))

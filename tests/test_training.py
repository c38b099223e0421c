"""The evaluation protocol: nested subject folds, calibration, bad input, model kinds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import emoflow.training.cross_validation as training
from emoflow.errors import DataError
from emoflow.features import FeatureSet, load_features
from emoflow.layout import ResultsLayout
from emoflow.metrics import subject_folds
from emoflow.models import NetworkSettings, apply_models, load_model
from emoflow.storage.feature_store import write_feature_store
from emoflow.synthetic import planted_features
from emoflow.training import SelectionSettings, train_iteration
from emoflow.training.cross_validation import evaluate_emotion

EMOTIONS = ["happiness", "sadness", "surprise"]


def _small(n_subjects: int = 6, seed: int = 4) -> FeatureSet:
    data = planted_features(
        n_subjects=n_subjects,
        repetitions=2,
        n_frames=4,
        n_landmarks=30,
        n_planted=4,
        n_distractors=4,
        seed=seed,
    )
    return FeatureSet(
        features=data.features,
        video_ids=data.video_ids,
        subjects=data.subjects,
        emotions=data.emotions,
        emotion_names=EMOTIONS,
        settings={"n_frames": 4},
    )


def _store(tmp_path: Path, feature_set: FeatureSet, *, emotion_names=None) -> tuple[Path, Path]:
    store = tmp_path / "features.zarr"
    write_feature_store(
        store,
        features=feature_set.features,
        video_ids=feature_set.video_ids,
        subjects=feature_set.subjects,
        emotions=feature_set.emotions,
        emotion_names=emotion_names or feature_set.emotion_names,
        settings=feature_set.settings,
    )
    n_landmarks = feature_set.features.shape[2]
    landmark_sets = {e: list(range(n_landmarks)) for e in emotion_names or EMOTIONS}
    (tmp_path / "landmarks.json").write_text(json.dumps({"emotions": landmark_sets}))
    return store, tmp_path / "landmarks.json"


def _train(tmp_path: Path, store: Path, landmarks: Path, **kwargs) -> dict:
    return train_iteration(store, landmarks, tmp_path, device="cpu", **kwargs)


def test_inner_selection_never_sees_the_test_fold(monkeypatch) -> None:
    feature_set = _small()
    folds = subject_folds(feature_set.subjects, 3, seed=0)
    fingerprints = feature_set.features.reshape(len(feature_set.features), -1).sum(axis=1)
    seen: list[dict[str, np.ndarray]] = []
    original_search = training.select_hyperparameters
    original_path = training.ridge_path_scores

    def search_spy(kind, base, inputs, labels, subjects, *args, **kwargs):
        seen.append({"search_subjects": np.asarray(subjects)})
        return original_search(kind, base, inputs, labels, subjects, *args, **kwargs)

    def path_spy(settings, train_inputs, train_labels, eval_inputs, ridges, **kwargs):
        rows = np.concatenate([train_inputs, eval_inputs]).reshape(
            len(train_inputs) + len(eval_inputs), -1
        )
        seen[-1].setdefault("rows", []).append(rows.sum(axis=1))
        return original_path(settings, train_inputs, train_labels, eval_inputs, ridges, **kwargs)

    monkeypatch.setattr(training, "select_hyperparameters", search_spy)
    monkeypatch.setattr(training, "ridge_path_scores", path_spy)
    result = evaluate_emotion(
        feature_set,
        "happiness",
        np.arange(30),
        folds,
        NetworkSettings(width=16),
        selection=SelectionSettings(n_inner_folds=2, ridge_grid=(0.1, 10.0)),
        device="cpu",
    )
    assert len(seen) == len(folds)
    for test_index, record in zip(folds, seen, strict=True):
        test_subjects = set(feature_set.subjects[test_index])
        assert not test_subjects & set(record["search_subjects"])
        assert len(record["rows"]) == 2  # one ridge path per inner fold
        touched = np.concatenate(record["rows"])
        assert not np.isin(fingerprints[test_index], touched).any()
    for metrics in result.fold_metrics:
        assert set(metrics["chosen"]) == {"width", "ridge"}
        assert metrics["calibration"]["method"] == "platt"
        assert metrics["calibration"]["n_scores"] == metrics["n_train"]
    assert np.isfinite(result.oof_probabilities).all()


def test_selection_prefers_what_works_on_inner_folds() -> None:
    feature_set = _small()
    inputs, labels = feature_set.features, feature_set.labels_for("surprise")
    selection = SelectionSettings(n_inner_folds=3, ridge_grid=(1e-3, 1.0), width_grid=(8, 32))
    chosen = training.select_hyperparameters(
        "rvfl", NetworkSettings(), inputs, labels, feature_set.subjects, selection, device="cpu"
    )
    assert len(chosen.grid) == 4 and chosen.n_inner_folds == 3
    best = max(entry["score"] for entry in chosen.grid)
    assert chosen.chosen in [
        {"width": e["width"], "ridge": e["ridge"]} for e in chosen.grid if e["score"] == best
    ]
    assert chosen.settings.width == chosen.chosen["width"]
    assert np.isfinite(chosen.oof_scores).all()
    one_subject = training.select_hyperparameters(
        "rvfl", NetworkSettings(), inputs, labels, np.full(len(labels), "s"), selection
    )
    assert one_subject.n_inner_folds == 0 and "subject" in one_subject.note


def test_train_iteration_records_the_protocol(tmp_path) -> None:
    feature_set = _small()
    store, landmarks = _store(tmp_path, feature_set)
    metrics = _train(
        tmp_path,
        store,
        landmarks,
        network={"kind": "rvfl", "width": 16, "ensemble": "layers"},
        n_folds=3,
        selection={"n_inner_folds": 2, "ridge_grid": [0.1, 10.0]},
    )
    assert metrics["model_kind"] == "rvfl" and metrics["network"]["ensemble"] == "layers"
    for emotion in EMOTIONS:
        record = metrics["emotions"][emotion]
        assert [f["chosen"]["ridge"] in (0.1, 10.0) for f in record["folds"]] == [True] * 3
        assert record["final"]["calibration"]["method"] == "platt"
        assert record["mean"]["selection_time_s"] > 0
    combined = metrics["combined"]
    assert "calibrated" in combined["rule"] and np.sum(combined["confusion_matrix"]) == 36
    assert set(combined["uncalibrated"]) == {"accuracy", "balanced_accuracy", "confusion_matrix"}
    scores = pl.read_parquet(ResultsLayout(tmp_path).scores(0))
    assert scores["probability"].is_between(0, 1).all()
    assert scores.group_by("subject").agg(pl.col("fold").n_unique())["fold"].max() == 1
    # the final models reload with their metadata and are applied outside the workflow
    model, metadata = load_model(ResultsLayout(tmp_path).model(0, "happiness"), device="cpu")
    assert metadata["calibration"]["method"] == "platt"
    assert metadata["chosen"]["ridge"] in (0.1, 10.0)
    assert metadata["landmarks"] == list(range(30))
    applied = apply_models(ResultsLayout(tmp_path).iteration(0), load_features(store), device="cpu")
    np.testing.assert_array_equal(
        applied["score_happiness"].to_numpy(), model.decision_function(feature_set.features)
    )
    assert (applied["emotion"].to_numpy() == feature_set.emotions).mean() > 0.9


def test_held_out_test_subjects_are_kept_out_of_everything(tmp_path) -> None:
    feature_set = _small()
    store, landmarks = _store(tmp_path, feature_set)
    metrics = _train(tmp_path, store, landmarks, n_folds=2, test_subjects=2)
    held_out = set(metrics["split"]["test_subjects"])
    assert len(held_out) == 2
    assert metrics["split"]["n_test"] == int(np.isin(feature_set.subjects, list(held_out)).sum())
    scores = pl.read_parquet(ResultsLayout(tmp_path).scores(0))  # validation scores only
    assert not held_out & set(scores["subject"].to_list())
    _, metadata = load_model(ResultsLayout(tmp_path).model(0, "happiness"), device="cpu")
    assert metadata["n_samples"] == metrics["split"]["n_development"]
    for emotion in EMOTIONS:
        assert 0.0 <= metrics["emotions"][emotion]["test"]["balanced_accuracy"] <= 1.0
    assert np.sum(metrics["combined"]["test"]["confusion_matrix"]) == metrics["split"]["n_test"]


def test_backprop_kinds_run_through_the_protocol(tmp_path) -> None:
    feature_set = _small(n_subjects=4)
    store, landmarks = _store(tmp_path, feature_set)
    metrics = _train(
        tmp_path,
        store,
        landmarks,
        network={"kind": "mlp"},
        backprop={"width": 8, "max_epochs": 4, "patience": 2, "learning_rate": 3e-3},
        n_folds=2,
        selection={"n_inner_folds": 2},
    )
    assert metrics["model_kind"] == "mlp" and metrics["network"]["width"] == 8
    record = metrics["emotions"]["happiness"]
    assert record["n_parameters"]["random"] == 0
    assert record["folds"][0]["chosen"] == {"width": 8}
    assert 1 <= record["folds"][0]["training"]["n_epochs"] <= 4
    model, metadata = load_model(ResultsLayout(tmp_path).model(0, "happiness"), device="cpu")
    assert metadata["kind"] == "mlp" and model.kind == "mlp"


def test_bad_input_is_refused_naming_the_store(tmp_path) -> None:
    feature_set = _small(n_subjects=3)
    store, landmarks = _store(tmp_path, feature_set, emotion_names=[*EMOTIONS, "fear"])
    with pytest.raises(DataError, match=r"features\.zarr.*'fear'.*no positive"):
        _train(tmp_path, store, landmarks, n_folds=2)
    store, landmarks = _store(tmp_path, feature_set)
    with pytest.raises(DataError, match=r"features\.zarr.*3 subjects cannot make 4"):
        _train(tmp_path, store, landmarks, n_folds=4)
    broken = FeatureSet(**{**feature_set.__dict__, "features": feature_set.features.copy()})
    broken.features[2, 1, 0, 0] = np.nan
    store, landmarks = _store(tmp_path, broken)
    with pytest.raises(DataError, match=r"features\.zarr.*NaN"):
        _train(tmp_path, store, landmarks, n_folds=2)


def test_a_fold_without_positives_in_training_is_refused() -> None:
    feature_set = _small(n_subjects=4)
    emotions = feature_set.emotions.copy()
    only = feature_set.subjects == "s00"
    emotions[(emotions == "happiness") & ~only] = "sadness"  # happiness: one subject only
    lopsided = FeatureSet(**{**feature_set.__dict__, "emotions": emotions})
    folds = subject_folds(lopsided.subjects, 2, seed=0)
    with pytest.raises(DataError, match=r"'happiness', fold \d.*0 positive"):
        evaluate_emotion(
            lopsided, "happiness", np.arange(30), folds, NetworkSettings(width=8), device="cpu"
        )

"""Metrics from scikit-learn, undefined scores reported as undefined, stratified subject folds."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from emoflow._atomic import write_json
from emoflow.errors import DataError
from emoflow.features import FeatureSet
from emoflow.metrics import (
    binary_metrics,
    confusion_matrix,
    format_score,
    multiclass_metrics,
    subject_folds,
    summarise_folds,
    summarise_values,
)
from emoflow.models import NetworkSettings
from emoflow.storage.metrics import read_metrics, write_metrics
from emoflow.synthetic import planted_features
from emoflow.training.cross_validation import evaluate_emotion


def test_binary_metrics_are_scikit_learns(rng) -> None:
    labels = rng.integers(0, 2, size=60).astype(bool)
    scores = np.round(rng.normal(size=60) + labels, 1)  # ties, too
    metrics = binary_metrics(labels, scores)
    predicted = scores > 0
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(labels, predicted))
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(labels, scores))
    tp, fp = np.sum(predicted & labels), np.sum(predicted & ~labels)
    fn, tn = np.sum(~predicted & labels), np.sum(~predicted & ~labels)
    assert metrics["recall"] == pytest.approx(tp / (tp + fn))
    assert metrics["specificity"] == pytest.approx(tn / (tn + fp))
    assert metrics["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert metrics["accuracy"] == pytest.approx((tp + tn) / 60)
    assert (metrics["n_positive"], metrics["n_negative"]) == (labels.sum(), (~labels).sum())


def test_a_test_set_without_positives_has_no_balanced_accuracy() -> None:
    """All negatives, all called negative: the old code said 0.5; it is undefined, and the
    specificity (1.0) is reported under its own name."""
    metrics = binary_metrics(np.zeros(5, dtype=bool), -np.ones(5))
    assert math.isnan(metrics["balanced_accuracy"])
    assert math.isnan(metrics["roc_auc"]) and math.isnan(metrics["recall"])
    assert math.isnan(metrics["f1"])
    assert metrics["specificity"] == 1.0 and metrics["accuracy"] == 1.0
    assert metrics["n_positive"] == 0 and metrics["n_negative"] == 5
    # all positives: specificity is the undefined one
    metrics = binary_metrics(np.ones(4, dtype=bool), np.array([1.0, 1.0, -1.0, 1.0]))
    assert math.isnan(metrics["balanced_accuracy"]) and math.isnan(metrics["specificity"])
    assert metrics["recall"] == 0.75 and metrics["f1"] == pytest.approx(6 / 7)
    assert all(math.isnan(v) for k, v in binary_metrics([], []).items() if not k.startswith("n_"))
    with pytest.raises(DataError, match="labels"):
        binary_metrics(np.zeros(3), np.zeros(4))


def test_combined_prediction_metrics_and_confusion_matrix() -> None:
    names = ["anger", "fear", "joy"]
    truth = np.array(["anger", "anger", "fear", "fear", "joy", "joy"])
    predicted = np.array(["anger", "fear", "fear", "fear", "anger", "joy"])
    record = multiclass_metrics(truth, predicted, names)
    assert record["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert record["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(truth, predicted))
    assert record["accuracy"] == pytest.approx(4 / 6)
    # a class without a true sample has no recall: left out of the mean, not scored 0
    record = multiclass_metrics(truth[:4], predicted[:4], names)
    assert record["confusion_matrix"][2] == [0, 0, 0]
    assert record["balanced_accuracy"] == pytest.approx(0.75)
    # one class only: no balanced accuracy
    assert math.isnan(multiclass_metrics(truth[2:4], predicted[2:4], names)["balanced_accuracy"])
    with pytest.raises(DataError, match="surprise"):
        confusion_matrix(["surprise"], ["joy"], names)


def test_undefined_scores_are_skipped_and_counted() -> None:
    assert summarise_values([0.5, float("nan"), 1.0, None]) == {
        "mean": 0.75,
        "std": 0.25,
        "n": 2,
        "n_undefined": 2,
    }
    folds = [
        {"balanced_accuracy": 0.8, "roc_auc": 0.9},
        {"balanced_accuracy": float("nan"), "roc_auc": float("nan")},
        {"balanced_accuracy": 0.6, "roc_auc": 0.7},
    ]
    summary = summarise_folds(folds, ["balanced_accuracy", "roc_auc", "f1"])
    assert summary["mean"]["balanced_accuracy"] == pytest.approx(0.7)
    assert summary["n_undefined"] == {"balanced_accuracy": 1, "roc_auc": 1, "f1": 3}
    assert math.isnan(summary["mean"]["f1"])
    assert format_score(float("nan")) == "n/a" and format_score(None) == "n/a"
    assert format_score(0.81234) == "0.812"


def test_an_outer_fold_without_positives_is_undefined_not_half() -> None:
    """One outer fold's subject shows no happiness: its balanced accuracy is undefined and the
    emotion's mean is over the other folds (the old code scored the fold 0.5 or less)."""
    data = planted_features(
        n_subjects=6, repetitions=2, n_frames=4, n_landmarks=30, n_planted=4, seed=4
    )
    lacking = data.subjects[0]
    keep = ~((data.subjects == lacking) & (data.emotions == "happiness"))
    feature_set = FeatureSet(
        features=data.features[keep],
        video_ids=data.video_ids[keep],
        subjects=data.subjects[keep],
        emotions=data.emotions[keep],
        emotion_names=["happiness", "sadness", "surprise"],
        settings={"n_frames": 4},
    )
    own = feature_set.subjects == lacking
    others = np.flatnonzero(~own)
    folds = [np.flatnonzero(own), others[: len(others) // 2], others[len(others) // 2 :]]
    evaluation = evaluate_emotion(
        feature_set,
        "happiness",
        np.arange(30),
        folds,
        NetworkSettings(width=32),
        calibration="none",
        device="cpu",
    )
    first = evaluation.fold_metrics[0]
    assert first["n_positive"] == 0 and math.isnan(first["balanced_accuracy"])
    assert 0.0 <= first["specificity"] <= 1.0
    summary = summarise_folds(evaluation.fold_metrics, ["balanced_accuracy", "specificity"])
    assert summary["n_undefined"] == {"balanced_accuracy": 1, "specificity": 0}
    defined = [m["balanced_accuracy"] for m in evaluation.fold_metrics[1:]]
    assert summary["mean"]["balanced_accuracy"] == pytest.approx(np.mean(defined))


def test_undefined_scores_are_null_in_json_and_nan_when_read(tmp_path) -> None:
    path = tmp_path / "metrics.json"
    record = {
        "iteration": 0,
        "emotions": {
            "joy": {
                "mean": {"balanced_accuracy": float("nan"), "accuracy": 1.0},
                "test": binary_metrics(np.zeros(3, dtype=bool), -np.ones(3)),
                "note": None,
            }
        },
    }
    write_metrics(path, record)
    text = path.read_text()
    assert "NaN" not in text
    stored = json.loads(text)["emotions"]["joy"]
    assert stored["mean"]["balanced_accuracy"] is None
    assert stored["test"]["balanced_accuracy"] is None and stored["test"]["specificity"] == 1.0
    again = read_metrics(path)["emotions"]["joy"]
    assert math.isnan(again["mean"]["balanced_accuracy"])
    assert math.isnan(again["test"]["roc_auc"])
    assert again["note"] is None  # a null that is no score stays None
    write_json(tmp_path / "other.json", {"x": [float("inf"), 1.5]})
    assert json.loads((tmp_path / "other.json").read_text()) == {"x": [None, 1.5]}


def test_subject_folds_are_scikit_learns_stratified_group_folds() -> None:
    rng = np.random.default_rng(0)
    subjects = np.repeat([f"s{i}" for i in range(9)], 6)
    labels = rng.choice(["a", "b", "c"], size=len(subjects))
    folds = subject_folds(subjects, 3, labels=labels, seed=5)
    splitter = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=5)
    expected = [np.sort(test) for _, test in splitter.split(subjects, labels, subjects)]
    assert [f.tolist() for f in folds] == [f.tolist() for f in expected]
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(subjects)))
    for test_index in folds:
        train = np.setdiff1d(np.arange(len(subjects)), test_index)
        assert not set(subjects[test_index]) & set(subjects[train])
    assert subject_folds(subjects, 3, labels=labels, seed=5)[0].tolist() == folds[0].tolist()


@pytest.mark.parametrize("seed", range(6))
def test_subject_folds_are_stratified_by_label(seed: int) -> None:
    """Three subjects show only emotion a, three only b: each of 3 folds gets one of each.
    An unstratified shuffle of subjects (the old folds) leaves some fold one-sided."""
    subjects = np.repeat([f"s{i}" for i in range(6)], 4)
    labels = np.repeat(["a", "a", "a", "b", "b", "b"], 4)
    for test_index in subject_folds(subjects, 3, labels=labels, seed=seed):
        assert sorted(set(labels[test_index])) == ["a", "b"]


def test_subject_folds_without_labels_balance_sizes_and_refuse_too_few_subjects() -> None:
    subjects = np.repeat([f"s{i}" for i in range(7)], 5)
    folds = subject_folds(subjects, 3, seed=0)
    assert sorted(len(np.unique(subjects[f])) for f in folds) == [2, 2, 3]
    with pytest.raises(DataError, match="subjects"):
        subject_folds(subjects, 8)
    with pytest.raises(DataError, match="labels"):
        subject_folds(subjects, 3, labels=np.zeros(3))


def test_the_reports_confusions_leave_a_one_class_test_undefined() -> None:
    """The report's selected-model confusions: a held-out test without the emotion's samples
    has no balanced accuracy (it was the specificity, under that name)."""
    import polars as pl

    from emoflow.report.outcomes import multiclass_record, selected_confusions

    table = pl.DataFrame(
        {
            "video_id": ["a", "b", "c", "d", "e", "f"],
            "emotion": ["joy", "fear", "joy", "fear", "fear", "fear"],
            "fold": [0, 0, 1, 1, -1, -1],
            "score": [1.0, -1.0, -1.0, -1.0, -1.0, -1.0],
        }
    )
    entry = selected_confusions({"joy": table}, {"joy": 2})["joy"]
    assert entry["validation_balanced_accuracy"] == pytest.approx(0.75)
    assert entry["test"] == [[2, 0], [0, 0]] and entry["test_balanced_accuracy"] is None
    record = multiclass_record(np.array(["joy", "joy"]), np.array(["joy", "fear"]), ["fear", "joy"])
    assert record["balanced_accuracy"] is None and record["accuracy"] == 0.5
    assert record["confusion_matrix"] == [[0, 0], [1, 1]] and record["n_samples"] == 2


def test_metrics_equal_scikit_learns_on_many_random_cases() -> None:
    """emoflow's numpy metrics are scikit-learn's, case for case (sizes down to 2 samples,
    tied scores, rare classes); scikit-learn is never imported by a job."""
    from sklearn.metrics import confusion_matrix as sklearn_confusion

    rng = np.random.default_rng(11)
    names = ["anger", "fear", "joy", "sadness"]
    for case in range(300):
        n = int(rng.integers(2, 80))
        labels = rng.random(n) < rng.uniform(0.05, 0.95)
        scores = np.round(rng.normal(size=n) + labels * rng.uniform(0, 2), int(rng.integers(0, 3)))
        metrics = binary_metrics(labels, scores)
        if labels.any() and not labels.all():
            assert metrics["balanced_accuracy"] == pytest.approx(
                balanced_accuracy_score(labels, scores > 0), abs=1e-12
            ), case
            assert metrics["roc_auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        truth = rng.choice(names, size=n)
        predicted = np.where(rng.random(n) < 0.6, truth, rng.choice(names, size=n))
        record = multiclass_metrics(truth, predicted, names)
        assert (
            record["confusion_matrix"] == sklearn_confusion(truth, predicted, labels=names).tolist()
        )
        if len(set(truth)) >= 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                expected = balanced_accuracy_score(truth, predicted)
            assert record["balanced_accuracy"] == pytest.approx(expected, abs=1e-12), case


@pytest.mark.parametrize("n_folds", [2, 3, 5])
def test_folds_equal_scikit_learns_stratified_group_kfold(n_folds: int) -> None:
    """Fold for fold, scikit-learn's StratifiedGroupKFold(shuffle=True, random_state=seed):
    by emotion names, by 0/1 labels, unbalanced subjects, many seeds."""
    rng = np.random.default_rng(n_folds)
    for seed in range(40):
        n_subjects = int(rng.integers(n_folds, 16))
        sizes = rng.integers(1, 12, size=n_subjects)
        subjects = np.repeat([f"s{i:02d}" for i in range(n_subjects)], sizes)
        rng.shuffle(subjects)
        labels = (
            rng.choice(["anger", "fear", "joy"], size=len(subjects))
            if seed % 2
            else (rng.random(len(subjects)) < 0.3).astype(int)
        )
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            expected = [np.sort(test) for _, test in splitter.split(subjects, labels, subjects)]
        if any(len(fold) == 0 for fold in expected):
            continue  # emoflow refuses an empty fold; scikit-learn hands it out
        found = subject_folds(subjects, n_folds, labels=labels, seed=seed)
        assert [f.tolist() for f in found] == [f.tolist() for f in expected], seed


def test_no_job_imports_scikit_learn() -> None:
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from emoflow.metrics import binary_metrics, multiclass_metrics, subject_folds\n"
        "from emoflow.training.cross_validation import evaluate_emotion\n"
        "subject_folds(np.repeat(list('abcd'), 3), 2, labels=np.tile([0, 1, 1], 4), seed=1)\n"
        "binary_metrics(np.array([1, 0, 1]), np.array([0.5, -1.0, 2.0]))\n"
        "print('sklearn' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr[-2000:]

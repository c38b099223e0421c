"""The training protocol of one pruning iteration: one binary model per emotion.

For every emotion, on that emotion's landmark subset: subject-independent k-fold
cross-validation (no subject in both train and test of a fold) gives the metrics; a final model
fitted on all samples is written for attribution and later use. The out-of-fold scores of all
emotions give the combined multi-class prediction (argmax) and its confusion matrix.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from emoflow._atomic import atomic_path, read_json, write_json
from emoflow.errors import DataError
from emoflow.features import FeatureSet, load_features
from emoflow.models import (
    NetworkSettings,
    RandomizedDeepNetwork,
    binary_metrics,
    resolve_device,
    save_model,
    subject_folds,
    time_inference,
)

log = logging.getLogger(__name__)

METRIC_NAMES = ("accuracy", "balanced_accuracy", "f1", "roc_auc")


def read_landmark_sets(path: str | Path, emotions: list[str]) -> dict[str, np.ndarray]:
    """Per-emotion landmark ids from an iteration's ``landmarks.json``."""
    record = read_json(path)
    sets = record.get("emotions", {})
    missing = [emotion for emotion in emotions if emotion not in sets]
    if missing:
        raise DataError(f"{path}: no landmark set for emotion(s) {missing}")
    return {emotion: np.asarray(sets[emotion], dtype=np.int64) for emotion in emotions}


def cross_validate_emotion(
    feature_set: FeatureSet,
    emotion: str,
    keep: np.ndarray,
    folds: list[np.ndarray],
    settings: NetworkSettings,
    *,
    device: str = "auto",
) -> tuple[list[dict[str, float]], np.ndarray]:
    """Fit and score one emotion's model on every fold.

    Returns
    -------
    fold_metrics
        One dict per fold (metrics, train time, sample counts).
    oof_scores
        Out-of-fold scores, shape ``(n_samples,)``.
    """
    inputs = feature_set.features[:, :, keep, :]
    labels = feature_set.labels_for(emotion)
    oof_scores = np.full(len(labels), np.nan)
    fold_metrics = []
    for fold, test_index in enumerate(folds):
        train_mask = np.ones(len(labels), dtype=bool)
        train_mask[test_index] = False
        start = time.perf_counter()
        model = RandomizedDeepNetwork(settings, device=device).fit(
            inputs[train_mask], labels[train_mask]
        )
        train_time = time.perf_counter() - start
        oof_scores[test_index] = model.decision_function(inputs[test_index])
        metrics = binary_metrics(labels[test_index], oof_scores[test_index])
        metrics.update(
            fold=fold,
            train_time_s=train_time,
            n_train=int(train_mask.sum()),
            n_test=len(test_index),
        )
        fold_metrics.append(metrics)
    return fold_metrics, oof_scores


def _summarise_folds(fold_metrics: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    summary: dict[str, dict[str, float]] = {"mean": {}, "std": {}}
    for name in (*METRIC_NAMES, "train_time_s"):
        values = np.array([m[name] for m in fold_metrics], dtype=np.float64)
        summary["mean"][name] = float(np.nanmean(values))
        summary["std"][name] = float(np.nanstd(values))
    return summary


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, names: list[str]) -> list[list[int]]:
    """Rows: true emotion, columns: predicted emotion, in the order of ``names``."""
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    for true_name, predicted_name in zip(truth, predicted, strict=True):
        matrix[index[true_name], index[predicted_name]] += 1
    return matrix.tolist()


def train_iteration(
    features_path: str | Path,
    landmark_set_path: str | Path,
    model_dir: str | Path,
    metrics_path: str | Path,
    scores_path: str | Path,
    *,
    network: dict[str, Any] | None = None,
    n_folds: int = 4,
    seed: int = 0,
    device: str = "auto",
    iteration: int = 0,
) -> dict[str, Any]:
    """Cross-validate and fit one model per emotion; write models, metrics and scores.

    Parameters
    ----------
    features_path
        Feature store (Zarr).
    landmark_set_path
        The iteration's ``landmarks.json`` (landmark ids per emotion).
    model_dir
        Folder for ``{emotion}.pt``.
    metrics_path
        ``metrics.json`` to write.
    scores_path
        Parquet of out-of-fold scores (video_id, subject, emotion, fold, model, score).
    network
        :class:`NetworkSettings` fields.
    n_folds, seed
        Subject-independent folds and the seed of their assignment.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.
    iteration
        The pruning iteration, recorded in the outputs.
    """
    import polars as pl

    feature_set = load_features(features_path)
    emotions = feature_set.emotion_names
    landmark_sets = read_landmark_sets(landmark_set_path, emotions)
    settings = NetworkSettings(**(network or {}))
    folds = subject_folds(feature_set.subjects, n_folds, seed=seed)
    fold_of_sample = np.empty(len(feature_set.video_ids), dtype=np.int64)
    for fold, test_index in enumerate(folds):
        fold_of_sample[test_index] = fold
    metrics: dict[str, Any] = {
        "iteration": iteration,
        "n_samples": len(feature_set.video_ids),
        "n_subjects": len(np.unique(feature_set.subjects)),
        "n_folds": n_folds,
        "seed": seed,
        "device": str(resolve_device(device)),
        "network": settings.__dict__,
        "emotions": {},
    }
    score_columns: dict[str, np.ndarray] = {}
    for emotion in emotions:
        keep = landmark_sets[emotion]
        labels = feature_set.labels_for(emotion)
        if labels.sum() == 0:
            raise DataError(f"{features_path}: emotion {emotion!r} has no positive sample")
        fold_metrics, oof_scores = cross_validate_emotion(
            feature_set, emotion, keep, folds, settings, device=device
        )
        score_columns[emotion] = oof_scores
        inputs = feature_set.features[:, :, keep, :]
        start = time.perf_counter()
        final_model = RandomizedDeepNetwork(settings, device=device).fit(inputs, labels)
        final_train_time = time.perf_counter() - start
        save_model(
            final_model,
            Path(model_dir) / f"{emotion}.pt",
            metadata={
                "emotion": emotion,
                "iteration": iteration,
                "landmarks": keep.tolist(),
                "feature_settings": feature_set.settings,
                "seed": settings.seed,
                "n_samples": len(labels),
            },
        )
        summary = _summarise_folds(fold_metrics)
        metrics["emotions"][emotion] = {
            "n_landmarks": len(keep),
            "n_positive": int(labels.sum()),
            "folds": fold_metrics,
            **summary,
            "final_train_time_s": final_train_time,
            "inference_time_ms_per_sample": 1e3 * time_inference(final_model, inputs),
            "n_parameters": final_model.n_parameters(),
        }
        log.info(
            "iteration %d, %s: %d landmarks, balanced accuracy %.3f ± %.3f",
            iteration,
            emotion,
            len(keep),
            summary["mean"]["balanced_accuracy"],
            summary["std"]["balanced_accuracy"],
        )
    score_matrix = np.column_stack([score_columns[e] for e in emotions])
    predicted = np.asarray(emotions)[np.argmax(score_matrix, axis=1)]
    metrics["combined"] = {
        "rule": "argmax of the binary models' out-of-fold scores",
        "accuracy": float(np.mean(predicted == feature_set.emotions)),
        "labels": emotions,
        "confusion_matrix": confusion_matrix(feature_set.emotions, predicted, emotions),
    }
    scores_table = pl.DataFrame(
        {
            "video_id": np.repeat(feature_set.video_ids, len(emotions)),
            "subject": np.repeat(feature_set.subjects, len(emotions)),
            "emotion": np.repeat(feature_set.emotions, len(emotions)),
            "fold": np.repeat(fold_of_sample, len(emotions)),
            "model": np.tile(np.asarray(emotions), len(feature_set.video_ids)),
            "score": score_matrix.reshape(-1),
        }
    )
    with atomic_path(scores_path) as staged:
        scores_table.write_parquet(staged)
    write_json(metrics_path, metrics)
    return metrics

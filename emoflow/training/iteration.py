"""The training protocol of one pruning iteration: one binary model per emotion.

For every emotion, on that emotion's landmark subset, nested subject-independent k-fold
cross-validation (:func:`emoflow.training.evaluate_emotion`) gives the metrics. The combined
multi-class prediction of a sample is the emotion whose binary model gives the highest
calibrated probability; its confusion matrix is recorded. A final model per emotion, with
hyper-parameters and calibrator chosen the same way on all samples, is written for attribution
and later use (:func:`emoflow.models.apply_model`). Optionally some subjects are held out of
everything for a final test.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from emoflow._atomic import atomic_path
from emoflow.errors import ConfigError, DataError
from emoflow.features import FeatureSet, load_features
from emoflow.landmark_sets import read_landmark_sets
from emoflow.models import (
    MODEL_KINDS,
    binary_metrics,
    clear_random_weight_cache,
    make_model,
    make_settings,
    resolve_device,
    save_model,
    subject_folds,
    time_inference,
)
from emoflow.training.cross_validation import (
    CALIBRATIONS,
    SelectionSettings,
    evaluate_emotion,
    fit_calibrator,
    select_hyperparameters,
)
from emoflow.training.outputs import METRIC_NAMES, write_metrics, write_scores

log = logging.getLogger(__name__)


def _summarise_folds(fold_metrics: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    summary: dict[str, dict[str, float]] = {"mean": {}, "std": {}}
    for name in (*METRIC_NAMES, "train_time_s", "selection_time_s"):
        values = np.array([m.get(name, np.nan) for m in fold_metrics], dtype=np.float64)
        finite = np.isfinite(values)
        summary["mean"][name] = float(np.mean(values[finite])) if finite.any() else float("nan")
        summary["std"][name] = float(np.std(values[finite])) if finite.any() else float("nan")
    return summary


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, names: list[str]) -> list[list[int]]:
    """Rows: true emotion, columns: predicted emotion, in the order of ``names``."""
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    for true_name, predicted_name in zip(truth, predicted, strict=True):
        matrix[index[true_name], index[predicted_name]] += 1
    return matrix.tolist()


def _multiclass_record(truth: np.ndarray, predicted: np.ndarray, names: list[str]) -> dict:
    matrix = np.asarray(confusion_matrix(truth, predicted, names))
    totals = matrix.sum(axis=1)
    recalls = np.diag(matrix)[totals > 0] / totals[totals > 0]
    return {
        "accuracy": float(np.mean(predicted == truth)),
        "balanced_accuracy": float(np.mean(recalls)) if len(recalls) else float("nan"),
        "confusion_matrix": matrix.tolist(),
    }


def held_out_mask(subjects: np.ndarray, n_subjects: int, *, seed: int = 0) -> np.ndarray:
    """Samples of ``n_subjects`` subjects drawn (by ``seed``) for a final test, as a mask."""
    unique = np.unique(subjects)
    if n_subjects < 0 or n_subjects >= len(unique):
        raise ConfigError(
            f"train.test_subjects must be between 0 and {len(unique) - 1} "
            f"(the data set has {len(unique)} subjects), got {n_subjects}"
        )
    held_out = np.random.default_rng([seed, 7]).choice(unique, size=n_subjects, replace=False)
    return np.isin(subjects, held_out)


def _test_record(
    model: Any,
    calibrator: Any,
    test_set: FeatureSet,
    emotion: str,
    keep: np.ndarray,
    probabilities: dict[str, np.ndarray],
) -> dict[str, Any]:
    """Score the final model on the held-out test subjects (nothing when there are none)."""
    if not len(test_set.video_ids):
        return {}
    scores = model.decision_function(test_set.select(keep).features)
    probabilities[emotion] = calibrator.predict_proba(scores) if calibrator is not None else scores
    return {"test": binary_metrics(test_set.labels_for(emotion), scores)}


def _check_feature_set(feature_set: FeatureSet, features_path: str | Path, n_folds: int) -> None:
    """Refuse data the protocol cannot use, naming the store."""
    if not np.isfinite(feature_set.features).all():
        raise DataError(f"{features_path}: features contain NaN or infinite values")
    empty = [e for e in feature_set.emotion_names if not (feature_set.emotions == e).any()]
    if empty:
        raise DataError(f"{features_path}: emotion(s) {empty} have no positive sample")
    n_subjects = len(np.unique(feature_set.subjects))
    if n_subjects < n_folds:
        raise DataError(
            f"{features_path}: {n_subjects} subjects cannot make {n_folds} "
            "subject-independent folds; lower train.n_folds"
        )


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
    backprop: dict[str, Any] | None = None,
    selection: dict[str, Any] | SelectionSettings | None = None,
    calibration: str = "platt",
    test_subjects: int = 0,
) -> dict[str, Any]:
    """Cross-validate and fit one model per emotion; write models, metrics and scores.

    With ``test_subjects`` > 0, that many subjects (drawn from ``seed``) are held out of
    everything — cross-validation, hyper-parameter search, the final model, and therefore the
    attribution and pruning that follow — and each iteration's final models are scored on them
    once (``metrics["emotions"][e]["test"]``, ``metrics["combined"]["test"]``).

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
        Parquet of out-of-fold scores (video_id, subject, emotion, fold, model, score,
        probability).
    network
        ``train.model``: ``kind`` (``rvfl``, ``mlp`` or ``temporal``; default ``rvfl``) and the
        :class:`~emoflow.models.NetworkSettings` fields of the randomized network.
    n_folds, seed
        Subject-independent outer folds and the seed of their (and the inner folds')
        assignment.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.
    iteration
        The pruning iteration, recorded in the outputs.
    backprop
        ``train.backprop``: :class:`~emoflow.models.BackpropSettings` fields, used when
        ``kind`` is ``mlp`` or ``temporal``.
    selection
        ``train.selection``: :class:`SelectionSettings` fields (inner folds, grids, metric).
    calibration
        ``train.calibration``: ``platt`` (combined prediction from calibrated scores) or
        ``none`` (raw scores).
    test_subjects
        ``train.test_subjects``: subjects held out for a final test (0: none).
    """
    network_values = dict(network or {})
    kind = str(network_values.pop("kind", "rvfl"))
    if kind not in MODEL_KINDS:
        raise ConfigError(f"train.model.kind must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    if calibration not in CALIBRATIONS:
        raise ConfigError(f"train.calibration must be platt or none, got {calibration!r}")
    sections = {"model": network_values, "backprop": backprop}
    settings = make_settings(kind, sections[MODEL_KINDS[kind].settings_section])
    if not isinstance(selection, SelectionSettings):
        selection = SelectionSettings(**(selection or {}))
    feature_set = load_features(features_path)
    test_mask = held_out_mask(feature_set.subjects, test_subjects, seed=seed)
    test_set = feature_set.samples(test_mask)
    feature_set = feature_set.samples(~test_mask)
    _check_feature_set(feature_set, features_path, n_folds)
    test_probabilities: dict[str, np.ndarray] = {}
    emotions = feature_set.emotion_names
    landmark_sets = read_landmark_sets(landmark_set_path, emotions)
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
        "model_kind": kind,
        "network": asdict(settings),
        "selection": asdict(selection),
        "calibration": calibration,
        "emotions": {},
    }
    score_columns: dict[str, np.ndarray] = {}
    probability_columns: dict[str, np.ndarray] = {}
    # every model file is staged in one folder, renamed into place when all are written
    with atomic_path(model_dir, directory=True) as staged_models:
        for emotion in emotions:
            keep = landmark_sets[emotion]
            labels = feature_set.labels_for(emotion)
            evaluation = evaluate_emotion(
                feature_set,
                emotion,
                keep,
                folds,
                settings,
                kind=kind,
                selection=selection,
                calibration=calibration,
                seed=seed,
                device=device,
            )
            score_columns[emotion] = evaluation.oof_scores
            probability_columns[emotion] = evaluation.oof_probabilities
            inputs = feature_set.select(keep).features
            final_choice = select_hyperparameters(
                kind,
                settings,
                inputs,
                labels,
                feature_set.subjects,
                selection,
                need_scores=calibration != "none",
                seed=seed,
                device=device,
            )
            calibrator, calibration_record = fit_calibrator(final_choice, labels, calibration)
            clear_random_weight_cache()
            start = time.perf_counter()
            final_model = make_model(kind, final_choice.settings, device=device).fit(
                inputs, labels, groups=feature_set.subjects
            )
            final_train_time = time.perf_counter() - start
            save_model(
                final_model,
                staged_models / f"{emotion}.pt",
                metadata={
                    "emotion": emotion,
                    "iteration": iteration,
                    "landmarks": keep.tolist(),
                    "feature_settings": feature_set.settings,
                    "seed": final_choice.settings.seed,
                    "n_samples": len(labels),
                    "chosen": final_choice.chosen,
                    "calibration": calibrator.to_dict() if calibrator is not None else None,
                },
            )
            summary = _summarise_folds(evaluation.fold_metrics)
            metrics["emotions"][emotion] = {
                "n_landmarks": len(keep),
                "n_positive": int(labels.sum()),
                "folds": evaluation.fold_metrics,
                **summary,
                "final": {
                    "chosen": final_choice.chosen,
                    "selection": {
                        "n_inner_folds": final_choice.n_inner_folds,
                        "grid": final_choice.grid,
                        "note": final_choice.note,
                    },
                    "calibration": calibration_record,
                    "selection_time_s": final_choice.seconds,
                },
                "final_train_time_s": final_train_time,
                "inference_time_ms_per_sample": 1e3 * time_inference(final_model, inputs),
                "n_parameters": final_model.n_parameters(),
                **_test_record(
                    final_model, calibrator, test_set, emotion, keep, test_probabilities
                ),
            }
            log.info(
                "iteration %d, %s: %d landmarks, balanced accuracy %.3f ± %.3f, chosen %s",
                iteration,
                emotion,
                len(keep),
                summary["mean"]["balanced_accuracy"],
                summary["std"]["balanced_accuracy"],
                [m["chosen"] for m in evaluation.fold_metrics],
            )
    names = np.asarray(emotions)
    score_matrix = np.column_stack([score_columns[e] for e in emotions])
    probability_matrix = np.column_stack([probability_columns[e] for e in emotions])
    raw_predicted = names[np.argmax(score_matrix, axis=1)]
    calibrated_predicted = names[np.argmax(probability_matrix, axis=1)]
    if calibration == "platt":
        rule = (
            "argmax of the binary models' Platt-calibrated out-of-fold scores; each fold's "
            "calibrators are fitted on inner-fold out-of-fold scores of its training subjects"
        )
        predicted = calibrated_predicted
    else:
        rule = "argmax of the binary models' out-of-fold scores"
        predicted = raw_predicted
    if len(test_set.video_ids):
        test_names = np.asarray(emotions)
        test_matrix = np.column_stack([test_probabilities[e] for e in emotions])
        metrics["split"] = {
            "test_subjects": sorted(np.unique(test_set.subjects).tolist()),
            "n_development": len(feature_set.video_ids),
            "n_test": len(test_set.video_ids),
        }
        combined_test = _multiclass_record(
            test_set.emotions, test_names[np.argmax(test_matrix, axis=1)], emotions
        )
    metrics["combined"] = {
        "rule": rule,
        "labels": emotions,
        **_multiclass_record(feature_set.emotions, predicted, emotions),
        "uncalibrated": _multiclass_record(feature_set.emotions, raw_predicted, emotions),
    }
    if len(test_set.video_ids):
        metrics["combined"]["test"] = combined_test
    write_scores(
        scores_path,
        feature_set,
        folds=fold_of_sample,
        models=names,
        scores=score_matrix,
        probabilities=probability_matrix,
    )
    write_metrics(metrics_path, metrics)
    return metrics

"""The training protocol of one pruning iteration: one binary model per emotion.

For every emotion, on that emotion's landmark subset, subject-independent k-fold
cross-validation (no subject in both train and test of a fold) gives the metrics. Inside each
outer fold, everything learnt is learnt from the training subjects only:

1. **Hyper-parameters** (ridge λ and width of the randomized network; width of a backprop
   baseline) are chosen on *inner* subject-grouped folds of the training fold
   (:func:`select_hyperparameters`); the randomized network scores every λ from one draw and one
   eigendecomposition (:func:`emoflow.models.ridge_path_scores`).
2. The model with the chosen hyper-parameters is fitted on the whole training fold and scores
   the test fold.
3. A **Platt calibrator** is fitted on the inner folds' out-of-fold scores of the chosen
   hyper-parameters (again training subjects only) and maps the test fold's scores to
   probabilities.

The combined multi-class prediction of a sample is the emotion whose binary model gives the
highest calibrated probability; its confusion matrix is recorded. A final model per emotion,
with hyper-parameters and calibrator chosen the same way on all samples, is written for
attribution and later use (:func:`emoflow.models.apply_model`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from emoflow._atomic import atomic_path, write_json
from emoflow.errors import ConfigError, DataError
from emoflow.features import FeatureSet, load_features
from emoflow.landmark_sets import read_landmark_sets as _read_landmark_sets
from emoflow.models import (
    MODEL_KINDS,
    NetworkSettings,
    PlattCalibrator,
    binary_metrics,
    clear_random_weight_cache,
    make_model,
    make_settings,
    resolve_device,
    ridge_path_scores,
    save_model,
    subject_folds,
    time_inference,
)

log = logging.getLogger(__name__)

METRIC_NAMES = ("accuracy", "balanced_accuracy", "f1", "roc_auc")
CALIBRATIONS = ("platt", "none")


@dataclass(frozen=True)
class SelectionSettings:
    """How hyper-parameters are chosen on inner folds of a training fold.

    Parameters
    ----------
    n_inner_folds
        Subject-grouped inner folds (fewer when the training fold has fewer subjects).
    ridge_grid
        Ridge λ values tried (randomized network only); empty: the model's ``ridge`` only.
    width_grid
        Hidden widths tried; empty: the model's ``width`` only.
    metric
        ``balanced_accuracy`` or ``roc_auc``, averaged over inner folds; ties go to the higher
        mean ROC-AUC, then the smaller width, then the larger λ (the simpler model).
    """

    n_inner_folds: int = 3
    ridge_grid: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)
    width_grid: tuple[int, ...] = ()
    metric: Literal["balanced_accuracy", "roc_auc"] = "balanced_accuracy"

    def __post_init__(self) -> None:
        object.__setattr__(self, "ridge_grid", tuple(float(v) for v in self.ridge_grid))
        object.__setattr__(self, "width_grid", tuple(int(v) for v in self.width_grid))
        if self.n_inner_folds < 2:
            raise ConfigError(
                f"train.selection.n_inner_folds must be ≥ 2, got {self.n_inner_folds}"
            )
        if any(not v > 0 for v in self.ridge_grid):
            raise ConfigError(f"train.selection.ridge_grid must be > 0, got {self.ridge_grid}")
        if any(v < 1 for v in self.width_grid):
            raise ConfigError(f"train.selection.width_grid must be ≥ 1, got {self.width_grid}")
        if self.metric not in ("balanced_accuracy", "roc_auc"):
            raise ConfigError(
                f"train.selection.metric must be balanced_accuracy or roc_auc, got {self.metric!r}"
            )


@dataclass
class Selection:
    """The outcome of :func:`select_hyperparameters`.

    Attributes
    ----------
    settings
        The model settings with the chosen hyper-parameters.
    chosen
        The chosen values, e.g. ``{"width": 256, "ridge": 10.0}``.
    grid
        Every candidate with its inner-fold ``score`` and ``roc_auc``.
    oof_scores
        Inner out-of-fold scores of the chosen candidate, one per training sample (NaN where an
        inner fold could not be scored).
    n_inner_folds
        Inner folds used (0: no search).
    note
        Why the search was skipped or shortened; empty otherwise.
    seconds
        Wall time of the search.
    """

    settings: Any
    chosen: dict[str, Any]
    grid: list[dict[str, Any]] = field(default_factory=list)
    oof_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_inner_folds: int = 0
    note: str = ""
    seconds: float = 0.0


def _candidates(kind: str, base: Any, selection: SelectionSettings) -> list[dict[str, Any]]:
    widths = selection.width_grid or (base.width,)
    if kind != "rvfl":
        return [{"width": w} for w in widths]
    ridges = selection.ridge_grid or (base.ridge,)
    return [{"width": w, "ridge": r} for w in widths for r in ridges]


def select_hyperparameters(
    kind: str,
    base: Any,
    inputs: np.ndarray,
    labels: np.ndarray,
    subjects: np.ndarray,
    selection: SelectionSettings,
    *,
    need_scores: bool = True,
    seed: int = 0,
    device: str = "auto",
) -> Selection:
    """Choose hyper-parameters on subject-grouped inner folds of the given (training) data.

    Only ``inputs``, ``labels`` and ``subjects`` are seen: pass the training fold, never data
    of the test fold.

    Parameters
    ----------
    kind
        ``rvfl``, ``mlp`` or ``temporal``.
    base
        The model settings; the searched fields are replaced.
    inputs, labels, subjects
        The training samples (``(n, *sample_shape)``, 0/1, subject ids).
    selection
        Grid, inner folds and criterion.
    need_scores
        Whether the inner out-of-fold scores are wanted (for calibration) even when there is
        only one candidate.
    seed
        Seed of the inner fold assignment.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.
    """
    start = time.perf_counter()
    candidates = _candidates(kind, base, selection)
    n_samples = len(labels)
    n_subjects = len(np.unique(subjects))
    n_inner = min(selection.n_inner_folds, n_subjects)

    def skipped(note: str) -> Selection:
        chosen = dict(candidates[0]) if len(candidates) == 1 else {}
        return Selection(
            settings=replace(base, **chosen),
            chosen=chosen,
            oof_scores=np.full(n_samples, np.nan),
            note=note,
            seconds=time.perf_counter() - start,
        )

    if len(candidates) == 1 and not need_scores:
        return skipped("one candidate: no search")
    if n_inner < 2:
        return skipped(f"{n_subjects} training subject(s): no inner folds, settings as given")
    inner_folds = subject_folds(subjects, n_inner, seed=seed)
    oof = np.full((len(candidates), n_samples), np.nan)
    fold_scores: list[list[float]] = [[] for _ in candidates]
    fold_aucs: list[list[float]] = [[] for _ in candidates]
    used = 0
    for test_index in inner_folds:
        train_mask = np.ones(n_samples, dtype=bool)
        train_mask[test_index] = False
        train_labels = labels[train_mask]
        if train_labels.min() == train_labels.max():
            log.info("inner fold skipped: its training part holds one class only")
            continue
        used += 1
        if kind == "rvfl":
            for width in dict.fromkeys(c["width"] for c in candidates):
                rows = np.array([i for i, c in enumerate(candidates) if c["width"] == width])
                path = ridge_path_scores(
                    replace(base, width=width),
                    inputs[train_mask],
                    train_labels,
                    inputs[test_index],
                    [candidates[i]["ridge"] for i in rows],
                    device=device,
                )
                oof[np.ix_(rows, test_index)] = path
        else:
            for i, candidate in enumerate(candidates):
                model = make_model(kind, replace(base, **candidate), device=device)
                model.fit(inputs[train_mask], train_labels, groups=subjects[train_mask])
                oof[i, test_index] = model.decision_function(inputs[test_index])
        for i in range(len(candidates)):
            metrics = binary_metrics(labels[test_index], oof[i, test_index])
            fold_scores[i].append(metrics[selection.metric])
            fold_aucs[i].append(metrics["roc_auc"])
    if used == 0:
        return skipped("no inner fold had both classes in training: settings as given")
    grid = []
    for candidate, scores, aucs in zip(candidates, fold_scores, fold_aucs, strict=True):
        score = float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan")
        auc = float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")
        grid.append({**candidate, "score": score, "roc_auc": auc})

    def rank(i: int) -> tuple[float, float, float, float]:
        entry = grid[i]
        score = entry["score"] if np.isfinite(entry["score"]) else -np.inf
        auc = entry["roc_auc"] if np.isfinite(entry["roc_auc"]) else -np.inf
        return (-score, -auc, entry["width"], -entry.get("ridge", 0.0))

    best = min(range(len(candidates)), key=rank)
    chosen = dict(candidates[best])
    return Selection(
        settings=replace(base, **chosen),
        chosen=chosen,
        grid=grid,
        oof_scores=oof[best],
        n_inner_folds=used,
        note="" if used == n_inner else f"{n_inner - used} inner fold(s) with one class skipped",
        seconds=time.perf_counter() - start,
    )


def fit_calibrator(
    selection: Selection, labels: np.ndarray, calibration: str
) -> tuple[PlattCalibrator | None, dict[str, Any]]:
    """A Platt calibrator fitted on the inner out-of-fold scores of ``selection``.

    Returns the calibrator (``None`` when ``calibration`` is ``"none"`` or it cannot be fitted)
    and its record for the metrics.
    """
    if calibration == "none":
        return None, {"method": "none"}
    usable = np.isfinite(selection.oof_scores)
    scored_labels = labels[usable]
    if usable.sum() < 2 or scored_labels.min() == scored_labels.max():
        reason = selection.note or "inner out-of-fold scores lack one class"
        return None, {"method": "none", "reason": f"no Platt fit: {reason}"}
    calibrator = PlattCalibrator().fit(selection.oof_scores[usable], scored_labels)
    return calibrator, {**calibrator.to_dict(), "n_scores": int(usable.sum())}


def _probabilities(calibrator: PlattCalibrator | None, scores: np.ndarray) -> np.ndarray:
    """Calibrated probabilities, or the logistic of the raw score without a calibrator."""
    if calibrator is None:
        return 1.0 / (1.0 + np.exp(-np.asarray(scores, dtype=np.float64)))
    return calibrator.predict_proba(scores)


def read_landmark_sets(path: str | Path, emotions: list[str]) -> dict[str, np.ndarray]:
    """Per-emotion landmark ids as arrays; see :func:`emoflow.landmark_sets.read_landmark_sets`."""
    sets = _read_landmark_sets(path, emotions)
    return {emotion: np.asarray(ids, dtype=np.int64) for emotion, ids in sets.items()}


@dataclass
class EmotionEvaluation:
    """Cross-validation of one emotion's binary model.

    Attributes
    ----------
    fold_metrics
        One record per outer fold: metrics, chosen hyper-parameters, calibration, times, counts.
    oof_scores
        Out-of-fold raw scores, ``(n_samples,)``.
    oof_probabilities
        Out-of-fold calibrated probabilities, ``(n_samples,)``.
    """

    fold_metrics: list[dict[str, Any]]
    oof_scores: np.ndarray
    oof_probabilities: np.ndarray


def evaluate_emotion(
    feature_set: FeatureSet,
    emotion: str,
    keep: np.ndarray,
    folds: list[np.ndarray],
    settings: Any,
    *,
    kind: str = "rvfl",
    selection: SelectionSettings | None = None,
    calibration: str = "platt",
    seed: int = 0,
    device: str = "auto",
) -> EmotionEvaluation:
    """Nested, subject-independent cross-validation of one emotion's model.

    Parameters
    ----------
    feature_set
        All samples.
    emotion
        The positive class.
    keep
        The emotion's landmark ids.
    folds
        Test indices of the outer folds (:func:`emoflow.models.subject_folds`).
    settings
        Settings of the ``kind`` of model; the searched fields are replaced per fold.
    kind
        ``rvfl``, ``mlp`` or ``temporal``.
    selection
        Inner-fold search; ``None`` uses :class:`SelectionSettings` defaults.
    calibration
        ``platt`` or ``none``.
    seed
        Seed of the inner fold assignment.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.
    """
    selection = selection or SelectionSettings()
    inputs = feature_set.select(keep).features
    labels = feature_set.labels_for(emotion)
    subjects = feature_set.subjects
    oof_scores = np.full(len(labels), np.nan)
    oof_probabilities = np.full(len(labels), np.nan)
    fold_metrics = []
    for fold, test_index in enumerate(folds):
        train_mask = np.ones(len(labels), dtype=bool)
        train_mask[test_index] = False
        train_labels = labels[train_mask]
        if train_labels.min() == train_labels.max():
            raise DataError(
                f"emotion {emotion!r}, fold {fold}: the training subjects hold "
                f"{int(train_labels.sum())} positive of {len(train_labels)} samples; "
                "a binary model needs both classes (use fewer folds or more subjects)"
            )
        chosen = select_hyperparameters(
            kind,
            settings,
            inputs[train_mask],
            train_labels,
            subjects[train_mask],
            selection,
            need_scores=calibration != "none",
            seed=seed,
            device=device,
        )
        calibrator, calibration_record = fit_calibrator(chosen, train_labels, calibration)
        clear_random_weight_cache()  # the timed fit draws its random layers itself
        start = time.perf_counter()
        model = make_model(kind, chosen.settings, device=device).fit(
            inputs[train_mask], train_labels, groups=subjects[train_mask]
        )
        train_time = time.perf_counter() - start
        oof_scores[test_index] = model.decision_function(inputs[test_index])
        oof_probabilities[test_index] = _probabilities(calibrator, oof_scores[test_index])
        metrics: dict[str, Any] = binary_metrics(labels[test_index], oof_scores[test_index])
        metrics.update(
            fold=fold,
            train_time_s=train_time,
            selection_time_s=chosen.seconds,
            n_train=int(train_mask.sum()),
            n_test=len(test_index),
            chosen=chosen.chosen,
            selection={
                "n_inner_folds": chosen.n_inner_folds,
                "grid": chosen.grid,
                "note": chosen.note,
            },
            calibration=calibration_record,
        )
        if hasattr(model, "training_summary"):
            metrics["training"] = model.training_summary()
        fold_metrics.append(metrics)
    return EmotionEvaluation(fold_metrics, oof_scores, oof_probabilities)


def cross_validate_emotion(
    feature_set: FeatureSet,
    emotion: str,
    keep: np.ndarray,
    folds: list[np.ndarray],
    settings: NetworkSettings,
    *,
    device: str = "auto",
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Fit and score one emotion's randomized network on every fold, settings as given.

    Returns
    -------
    fold_metrics
        One dict per fold (metrics, train time, sample counts).
    oof_scores
        Out-of-fold scores, shape ``(n_samples,)``.
    """
    fixed = SelectionSettings(ridge_grid=(), width_grid=())
    result = evaluate_emotion(
        feature_set,
        emotion,
        keep,
        folds,
        settings,
        selection=fixed,
        calibration="none",
        device=device,
    )
    return result.fold_metrics, result.oof_scores


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
        ``train.backprop``: :class:`~emoflow.baselines.BackpropSettings` fields, used when
        ``kind`` is ``mlp`` or ``temporal``.
    selection
        ``train.selection``: :class:`SelectionSettings` fields (inner folds, grids, metric).
    calibration
        ``train.calibration``: ``platt`` (combined prediction from calibrated scores) or
        ``none`` (raw scores).
    test_subjects
        ``train.test_subjects``: subjects held out for a final test (0: none).
    """
    import polars as pl

    network_values = dict(network or {})
    kind = str(network_values.pop("kind", "rvfl"))
    if kind not in MODEL_KINDS:
        raise ConfigError(f"train.model.kind must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    if calibration not in CALIBRATIONS:
        raise ConfigError(f"train.calibration must be platt or none, got {calibration!r}")
    settings = make_settings(kind, network_values if kind == "rvfl" else backprop)
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
    scores_table = pl.DataFrame(
        {
            "video_id": np.repeat(feature_set.video_ids, len(emotions)),
            "subject": np.repeat(feature_set.subjects, len(emotions)),
            "emotion": np.repeat(feature_set.emotions, len(emotions)),
            "fold": np.repeat(fold_of_sample, len(emotions)),
            "model": np.tile(names, len(feature_set.video_ids)),
            "score": score_matrix.reshape(-1),
            "probability": probability_matrix.reshape(-1),
        }
    )
    with atomic_path(scores_path) as staged:
        scores_table.write_parquet(staged)
    write_json(metrics_path, metrics)
    return metrics

"""Nested, subject-independent cross-validation of one emotion's binary model.

Inside each outer fold, everything learnt is learnt from the training subjects only:

1. **Hyper-parameters** are chosen on *inner* subject-grouped folds of the training fold
   (:func:`select_hyperparameters`), over the search space the model kind offers
   (:meth:`emoflow.models.BaseModel.search_space`: width for every kind, also ridge λ for the
   randomized network, which scores every λ from one draw and one eigendecomposition,
   :func:`emoflow.models.rvfl.ridge_path_scores`).
2. The model with the chosen hyper-parameters is fitted on the whole training fold and scores
   the test fold.
3. A **Platt calibrator** is fitted on the inner folds' out-of-fold scores of the chosen
   hyper-parameters (again training subjects only) and maps the test fold's scores to
   probabilities (:func:`fit_calibrator`).

Given the job's :class:`~emoflow.models.SharedProducts` of the development samples (the
randomized network with one input scale), every fit and ridge path of steps 1 and 2 slices the
development kernel built once instead of building its own (:mod:`emoflow.models._kernel`); the
fits and their scores are the same to rounding, and each still learns its standardisation from
its own training samples.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from emoflow.config import SectionSettings, allowed_values, setting
from emoflow.errors import DataError
from emoflow.features import FeatureSet
from emoflow.metrics import binary_metrics, subject_folds, summarise_values
from emoflow.models import SharedProducts, clear_random_weight_cache, make_model
from emoflow.models.calibration import PlattCalibrator
from emoflow.models.kinds import model_class
from emoflow.models.rvfl import ridge_path_scores

log = logging.getLogger(__name__)

CALIBRATIONS: tuple[str, ...] = allowed_values("train.calibration")
"""Values of ``train.calibration`` (from the schema): Platt-calibrated scores, or the raw
scores."""


@dataclass(frozen=True)
class SelectionSettings(SectionSettings):
    """How hyper-parameters are chosen on inner folds: the ``train.selection`` config section.

    The fields declare the section's keys (the configuration schema is generated from them).

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

    SECTION = "train.selection"

    n_inner_folds: int = setting(3, minimum=2)
    ridge_grid: tuple[float, ...] = setting((0.1, 1, 10, 100, 1000), items={"exclusiveMinimum": 0})
    width_grid: tuple[int, ...] = setting((), items={"minimum": 1})
    metric: str = setting("balanced_accuracy", enum=("balanced_accuracy", "roc_auc"))

    def __post_init__(self) -> None:
        object.__setattr__(self, "ridge_grid", tuple(float(v) for v in self.ridge_grid))
        object.__setattr__(self, "width_grid", tuple(int(v) for v in self.width_grid))
        self.check()


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


def _without_ridge(candidate: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((name, value) for name, value in candidate.items() if name != "ridge")


class _Samples:
    """Training samples of a search or a cross-validation: an array, or rows of the job's
    :class:`~emoflow.models.SharedProducts` (then fits and ridge paths that the products cover
    are taken from them, and the others from a copy of the rows they need)."""

    def __init__(
        self,
        inputs: np.ndarray | None,
        products: SharedProducts | None,
        rows: np.ndarray | None,
        kind: str,
        base: Any,
    ) -> None:
        if inputs is None and (products is None or rows is None):
            raise ValueError("the samples need inputs, or products and rows")
        self.inputs, self.rows = inputs, rows
        shared = (
            products is not None
            and rows is not None
            and SharedProducts.applies(model_class(kind), base)
        )
        self.products = products if shared else None

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        """The inputs of ``index`` (a mask or positions)."""
        if self.inputs is not None:
            return self.inputs[index]
        assert self.products is not None and self.rows is not None
        return self.products.array[self.rows[index]]

    def _covered(self, settings: Any, train: np.ndarray) -> SharedProducts | None:
        n_train = int(train.sum()) if train.dtype == bool else len(train)
        if self.products is not None and self.products.covers(settings, n_train):
            return self.products
        return None

    def shared(self, settings: Any, train: np.ndarray) -> bool:
        """Whether a fit with ``settings`` on the samples ``train`` is taken from the shared
        products."""
        return self._covered(settings, train) is not None

    def path_scores(
        self,
        settings: Any,
        train: np.ndarray,
        labels: np.ndarray,
        test: np.ndarray,
        ridges: list[float],
        device: str,
    ) -> np.ndarray:
        """:func:`~emoflow.models.rvfl.ridge_path_scores` of the samples ``train`` on ``test``."""
        products = self._covered(settings, train)
        if products is None:
            return ridge_path_scores(
                settings, self[train], labels, self[test], ridges, device=device
            )
        assert self.rows is not None
        return products.path_scores(settings, self.rows[train], labels, self.rows[test], ridges)

    def fit(
        self,
        kind: str,
        settings: Any,
        train: np.ndarray,
        labels: np.ndarray,
        groups: np.ndarray,
        device: str,
    ) -> Any:
        """The model of ``kind`` fitted on the samples ``train``."""
        products = self._covered(settings, train)
        model = make_model(kind, settings, device=device)
        if products is None:
            return model.fit(self[train], labels, groups=groups)
        assert self.rows is not None
        return model.fit(products.rows(self.rows[train]), labels, groups=groups)


def select_hyperparameters(
    kind: str,
    base: Any,
    inputs: np.ndarray | None,
    labels: np.ndarray,
    subjects: np.ndarray,
    selection: SelectionSettings,
    *,
    need_scores: bool = True,
    seed: int = 0,
    device: str = "auto",
    products: SharedProducts | None = None,
    rows: np.ndarray | None = None,
) -> Selection:
    """Choose hyper-parameters on subject-grouped inner folds of the given (training) data.

    Only ``inputs``, ``labels`` and ``subjects`` are seen: pass the training fold, never data
    of the test fold.

    Parameters
    ----------
    kind
        A key of :data:`emoflow.models.MODEL_KINDS` (``rvfl``, ``mlp``, ``temporal``).
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
    products, rows
        The job's shared products and the positions of the given samples among their rows
        (``inputs`` are then ``products.array[rows]`` and may be ``None``): the ridge paths
        are taken from the products where they cover them.
    """
    start = time.perf_counter()
    model_cls = model_class(kind)
    samples = _Samples(inputs, products, rows, kind, base)
    candidates = model_cls.search_space(base, selection)
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
    inner_folds = subject_folds(subjects, n_inner, labels=labels, seed=seed)
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
        if model_cls.closed_form_ridge:
            # one fit and one decomposition score every λ of the same other settings
            for others in dict.fromkeys(_without_ridge(c) for c in candidates):
                members = np.array(
                    [i for i, c in enumerate(candidates) if _without_ridge(c) == others]
                )
                path = samples.path_scores(
                    replace(base, **dict(others)),
                    train_mask,
                    train_labels,
                    test_index,
                    [candidates[i]["ridge"] for i in members],
                    device,
                )
                oof[np.ix_(members, test_index)] = path
        else:
            for i, candidate in enumerate(candidates):
                model = model_cls(replace(base, **candidate), device=device)
                model.fit(samples[train_mask], train_labels, groups=subjects[train_mask])
                oof[i, test_index] = model.decision_function(samples[test_index])
        for i in range(len(candidates)):
            metrics = binary_metrics(labels[test_index], oof[i, test_index])
            fold_scores[i].append(metrics[selection.metric])
            fold_aucs[i].append(metrics["roc_auc"])
    if used == 0:
        return skipped("no inner fold had both classes in training: settings as given")
    grid = []
    for candidate, scores, aucs in zip(candidates, fold_scores, fold_aucs, strict=True):
        score = summarise_values(scores)["mean"]  # undefined folds skipped
        auc = summarise_values(aucs)["mean"]
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
    products: SharedProducts | None = None,
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
        Test indices of the outer folds (:func:`emoflow.metrics.subject_folds`).
    settings
        Settings of the ``kind`` of model; the searched fields are replaced per fold.
    kind
        A key of :data:`emoflow.models.MODEL_KINDS` (``rvfl``, ``mlp``, ``temporal``).
    selection
        Inner-fold search; ``None`` uses :class:`SelectionSettings` defaults.
    calibration
        ``platt`` or ``none``.
    seed
        Seed of the inner fold assignment.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.
    products
        The job's :class:`~emoflow.models.SharedProducts` of ``feature_set.select(keep)``'s
        samples, in order: the searches and fits they cover are taken from them, and a fold's
        ``train_time_s`` is then its fit from the shared products (built once per job,
        ``products.seconds``), not from scratch.
    """
    selection = selection or SelectionSettings()
    inputs = None if products is not None else feature_set.select(keep).features
    positions = np.arange(len(feature_set.video_ids))
    samples = _Samples(inputs, products, positions, kind, settings)
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
            None if inputs is None else inputs[train_mask],
            train_labels,
            subjects[train_mask],
            selection,
            need_scores=calibration != "none",
            seed=seed,
            device=device,
            products=products,
            rows=positions[train_mask],
        )
        calibrator, calibration_record = fit_calibrator(chosen, train_labels, calibration)
        if not samples.shared(chosen.settings, train_mask):
            clear_random_weight_cache()  # a fit from scratch draws its random layers itself
        start = time.perf_counter()
        model = samples.fit(
            kind, chosen.settings, train_mask, train_labels, subjects[train_mask], device
        )
        train_time = time.perf_counter() - start
        oof_scores[test_index] = model.decision_function(samples[test_index])
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
        summary = model.training_summary()
        if summary is not None:
            metrics["training"] = summary
        fold_metrics.append(metrics)
    return EmotionEvaluation(fold_metrics, oof_scores, oof_probabilities)

"""The training protocol of one pruning iteration (its one home): one binary model per emotion.

:func:`training_protocol` builds the :class:`Protocol` of a split (settings, samples, folds,
held-out set) from the ``train`` section; :func:`fit_emotion` trains one emotion on it. For
every emotion, on that emotion's landmark subset, nested subject-independent k-fold
cross-validation (:func:`emoflow.training.cross_validation.evaluate_emotion`) gives the
metrics. The combined multi-class prediction of a sample is the emotion whose binary model
gives the highest calibrated probability; its confusion matrix is recorded. A final model per
emotion, with hyper-parameters and calibrator chosen the same way on all samples, is written
for attribution and later use (:func:`emoflow.models.apply_model`). Optionally some subjects
are held out of everything for a final test.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emoflow.errors import ConfigError, DataError
from emoflow.features import FeatureSet, load_features
from emoflow.metrics import binary_metrics, held_out_mask, subject_folds, summarise_folds
from emoflow.models import (
    MODEL_KINDS,
    SharedProducts,
    clear_random_weight_cache,
    make_model,
    make_settings,
    resolve_device,
    save_model,
    time_inference,
)
from emoflow.storage.metrics import METRIC_NAMES
from emoflow.training.cross_validation import (
    CALIBRATIONS,
    SelectionSettings,
    evaluate_emotion,
    fit_calibrator,
    select_hyperparameters,
)

log = logging.getLogger(__name__)


def _summarise_folds(fold_metrics: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean and std over folds of the defined values; ``n_undefined`` counts the folds whose
    score is undefined (:func:`emoflow.metrics.summarise_folds`)."""
    return summarise_folds(fold_metrics, (*METRIC_NAMES, "train_time_s", "selection_time_s"))


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


@dataclass
class Protocol:
    """What every emotion of one iteration shares: settings, samples, folds, held-out set.

    For the deployed chain (``outer_fold`` ``None``) the development samples are every subject
    but the held-out test subjects, and ``test_set`` holds those. For outer fold ``k`` of the
    nested evaluation, the development samples are the training subjects of fold ``k`` only,
    ``test_set`` holds fold ``k``'s subjects (the outer fold, scored once per iteration), and
    the held-out test subjects are ``excluded``: seen by nothing.
    """

    kind: str
    settings: Any
    selection: SelectionSettings
    calibration: str
    seed: int
    device: str
    iteration: int
    n_folds: int
    development: FeatureSet
    test_set: FeatureSet
    folds: list[np.ndarray]
    fold_of_sample: np.ndarray
    outer_fold: int | None = None
    excluded: tuple[str, ...] = ()
    shared: dict[tuple[int, ...], SharedProducts] = field(default_factory=dict, repr=False)
    """The products of the development samples on the last landmark set trained
    (:meth:`products`); shared by copies made with :func:`dataclasses.replace`."""

    def products(self, keep: np.ndarray) -> SharedProducts | None:
        """The :class:`~emoflow.models.SharedProducts` of the development samples on the
        landmarks ``keep``, built once per landmark set (every emotion trained on the same set
        shares them); ``None`` where the model kind's fits cannot share products."""
        if not SharedProducts.applies(MODEL_KINDS[self.kind], self.settings):
            return None
        key = tuple(int(landmark) for landmark in keep)
        if key not in self.shared:
            self.shared.clear()  # one landmark set at a time: its kernel is n × n
            self.shared[key] = SharedProducts(
                self.development.select(keep).features, device=self.device
            )
        return self.shared[key]

    def header(self) -> dict[str, Any]:
        """The part of ``metrics.json`` that does not depend on the emotion."""
        return {
            "iteration": self.iteration,
            **({} if self.outer_fold is None else {"outer_fold": self.outer_fold}),
            "n_samples": len(self.development.video_ids),
            "n_subjects": len(np.unique(self.development.subjects)),
            "n_folds": self.n_folds,
            "seed": self.seed,
            "device": str(resolve_device(self.device)),
            "model_kind": self.kind,
            "network": asdict(self.settings),
            "selection": asdict(self.selection),
            "calibration": self.calibration,
        }

    def split(self) -> dict[str, Any] | None:
        """The held-out test split (``None`` without held-out subjects): for an outer fold,
        ``test_subjects`` are the fold's (outer) subjects and ``excluded_subjects`` the
        held-out test subjects that it never sees."""
        if not len(self.test_set.video_ids):
            return None
        split: dict[str, Any] = {
            "test_subjects": sorted(np.unique(self.test_set.subjects).tolist()),
            "n_development": len(self.development.video_ids),
            "n_test": len(self.test_set.video_ids),
        }
        if self.outer_fold is not None:
            split["role"] = "outer_fold"
            split["excluded_subjects"] = sorted(self.excluded)
        return split


def _protocol(
    features_path: str | Path,
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
    outer_fold: int | None = None,
) -> Protocol:
    network_values = dict(network or {})
    kind = str(network_values.pop("kind", "rvfl"))
    if kind not in MODEL_KINDS:
        raise ConfigError(f"train.model.kind must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    if calibration not in CALIBRATIONS:
        raise ConfigError(
            f"train.calibration must be one of {', '.join(CALIBRATIONS)}, got {calibration!r}"
        )
    sections = {"model": network_values, "backprop": backprop}
    settings = make_settings(kind, sections[MODEL_KINDS[kind].settings_section])
    if not isinstance(selection, SelectionSettings):
        selection = SelectionSettings.from_section(selection)
    feature_set = load_features(features_path)
    test_mask = held_out_mask(feature_set.subjects, test_subjects, seed=seed)
    test_set = feature_set.samples(test_mask)
    development = feature_set.samples(~test_mask)
    excluded: tuple[str, ...] = ()
    if outer_fold is not None:
        development, test_set, excluded = outer_split(
            development, test_set, outer_fold, n_folds=n_folds, seed=seed, source=features_path
        )
        # the fold's training subjects are cross-validated again, in as many folds as they
        # allow (the count is chosen on these inner folds)
        n_folds = min(n_folds, _n_subjects(development))
    _check_feature_set(development, features_path, n_folds)
    folds = subject_folds(development.subjects, n_folds, labels=development.emotions, seed=seed)
    fold_of_sample = np.empty(len(development.video_ids), dtype=np.int64)
    for fold, test_index in enumerate(folds):
        fold_of_sample[test_index] = fold
    return Protocol(
        kind=kind,
        settings=settings,
        selection=selection,
        calibration=calibration,
        seed=seed,
        device=device,
        iteration=iteration,
        n_folds=n_folds,
        development=development,
        test_set=test_set,
        folds=folds,
        fold_of_sample=fold_of_sample,
        outer_fold=outer_fold,
        excluded=excluded,
    )


_SECTION_OPTIONS = {
    "model": "network",
    "n_folds": "n_folds",
    "test_subjects": "test_subjects",
    "seed": "seed",
    "device": "device",
    "backprop": "backprop",
    "selection": "selection",
    "calibration": "calibration",
}
"""``train`` config section key → keyword of :func:`training_protocol`."""


def section_options(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keywords of :func:`training_protocol` from the whole ``train`` config section."""
    section = dict(section or {})
    if unknown := sorted(set(section) - set(_SECTION_OPTIONS)):
        raise ConfigError(
            f"train: unknown key(s) {', '.join(unknown)}; allowed keys here: "
            f"{', '.join(_SECTION_OPTIONS)}"
        )
    return {_SECTION_OPTIONS[key]: value for key, value in section.items()}


def training_protocol(
    features_path: str | Path,
    train: Mapping[str, Any] | None = None,
    *,
    iteration: int = 0,
    **options: Any,
) -> Protocol:
    """The protocol of one split: the feature store read once, its development and test
    samples, folds and settings (what :func:`fit_emotion` trains one emotion on).

    A job that trains several emotions or iterations of one split builds it once and passes
    it to every :func:`~emoflow.training.train_emotion`: the store is read once, and emotions
    trained on the same landmarks share the development kernel
    (:class:`emoflow.models.SharedProducts`).

    With ``test_subjects`` > 0, that many subjects (drawn from ``seed``) are held out of
    everything — cross-validation, hyper-parameter search, the final model, and therefore the
    attribution and pruning that follow — and each iteration's final models are scored on them
    once (``metrics["emotions"][e]["test"]``, ``metrics["combined"]["test"]``).

    Parameters
    ----------
    train
        The whole ``train`` config section (as the workflow passes it); ``options`` (the
        keywords below, and ``outer_fold``: ``None`` for the deployed chain, else the nested
        evaluation's outer fold) override its values.
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
    return _protocol(features_path, iteration=iteration, **{**section_options(train), **options})


def _n_subjects(feature_set: FeatureSet) -> int:
    return len(np.unique(feature_set.subjects))


def outer_folds(
    subjects: np.ndarray, emotions: np.ndarray, n_folds: int, *, seed: int = 0
) -> list[np.ndarray]:
    """The nested evaluation's outer folds of the development samples: their test indices,
    subject-independent and stratified by emotion (:func:`emoflow.metrics.subject_folds` with
    the protocol's seed), the same folds as the deployed chain's cross-validation."""
    return subject_folds(subjects, n_folds, labels=emotions, seed=seed)


def outer_split(
    development: FeatureSet,
    test_set: FeatureSet,
    outer_fold: int,
    *,
    n_folds: int,
    seed: int,
    source: str | Path = "features",
) -> tuple[FeatureSet, FeatureSet, tuple[str, ...]]:
    """Outer fold ``outer_fold`` of the development samples: its training samples (the new
    development set), its own samples (the new test set) and the subjects it never sees (the
    held-out test subjects ``test_set``)."""
    if not 0 <= outer_fold < n_folds:
        raise ConfigError(f"outer fold {outer_fold} does not exist: train.n_folds is {n_folds}")
    n_subjects = _n_subjects(development)
    if n_subjects - -(-n_subjects // n_folds) < 2:
        raise DataError(
            f"{source}: {n_subjects} development subjects cannot make {n_folds} outer folds "
            "whose training subjects make inner folds again (each outer fold must leave at "
            "least 2 subjects to train on); lower train.n_folds or train.test_subjects"
        )
    folds = outer_folds(development.subjects, development.emotions, n_folds, seed=seed)
    outer = np.zeros(len(development.video_ids), dtype=bool)
    outer[folds[outer_fold]] = True
    excluded = tuple(sorted(np.unique(test_set.subjects).tolist()))
    return development.samples(~outer), development.samples(outer), excluded


@dataclass
class EmotionResult:
    """One emotion's training (:func:`fit_emotion`): its metrics record, the out-of-fold
    scores and probabilities of the development samples, and the final model's on the test
    samples (``None`` without any)."""

    record: dict[str, Any]
    oof_scores: np.ndarray
    oof_probabilities: np.ndarray
    test_scores: np.ndarray | None
    test_probabilities: np.ndarray | None


def fit_emotion(
    protocol: Protocol, emotion: str, keep: np.ndarray, model_path: str | Path
) -> EmotionResult:
    """Cross-validate, fit and save one emotion's model on the landmarks ``keep``: the one
    implementation of the training of an emotion (:func:`~emoflow.training.train_emotion`
    writes its files)."""
    feature_set, test_set = protocol.development, protocol.test_set
    kind, settings, selection = protocol.kind, protocol.settings, protocol.selection
    calibration, seed, device = protocol.calibration, protocol.seed, protocol.device
    labels = feature_set.labels_for(emotion)
    products = protocol.products(keep)
    evaluation = evaluate_emotion(
        feature_set,
        emotion,
        keep,
        protocol.folds,
        settings,
        kind=kind,
        selection=selection,
        calibration=calibration,
        seed=seed,
        device=device,
        products=products,
    )
    inputs = products.array if products is not None else feature_set.select(keep).features
    everyone = np.arange(len(labels))
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
        products=products,
        rows=everyone,
    )
    calibrator, calibration_record = fit_calibrator(final_choice, labels, calibration)
    shared = products is not None and products.covers(final_choice.settings, len(labels))
    if not shared:
        clear_random_weight_cache()
    start = time.perf_counter()
    final_model = make_model(kind, final_choice.settings, device=device).fit(
        products.rows(everyone) if products is not None and shared else inputs,
        labels,
        groups=feature_set.subjects,
    )
    final_train_time = time.perf_counter() - start
    save_model(
        final_model,
        model_path,
        metadata={
            "emotion": emotion,
            "iteration": protocol.iteration,
            "landmarks": keep.tolist(),
            "feature_settings": feature_set.settings,
            "seed": final_choice.settings.seed,
            "n_samples": len(labels),
            "chosen": final_choice.chosen,
            "calibration": calibrator.to_dict() if calibrator is not None else None,
            "scheme": feature_set.scheme,  # the landmark scheme of the ids
        },
    )
    summary = _summarise_folds(evaluation.fold_metrics)
    record: dict[str, Any] = {
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
    }
    test_scores = test_probabilities = None
    if len(test_set.video_ids):  # the final model, once, on the held-out test subjects
        test_scores = final_model.decision_function(test_set.select(keep).features)
        test_probabilities = (
            calibrator.predict_proba(test_scores) if calibrator is not None else test_scores
        )
        record["test"] = binary_metrics(test_set.labels_for(emotion), test_scores)
    if products is not None:
        log.info(
            "%s: the development kernel of %d samples (shared by the fits on these %d "
            "landmarks) took %.2f s",
            emotion,
            len(products),
            len(keep),
            products.seconds,
        )
    log.info(
        "iteration %d, %s: %d landmarks, balanced accuracy %.3f ± %.3f, chosen %s",
        protocol.iteration,
        emotion,
        len(keep),
        summary["mean"]["balanced_accuracy"],
        summary["std"]["balanced_accuracy"],
        [m["chosen"] for m in evaluation.fold_metrics],
    )
    return EmotionResult(
        record,
        evaluation.oof_scores,
        evaluation.oof_probabilities,
        test_scores,
        test_probabilities,
    )

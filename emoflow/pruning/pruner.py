"""Progressive landmark pruning, iteration by iteration.

Iteration 0 starts from all landmarks of the feature store's scheme (MediaPipe: 478, or the
468 mesh points without the iris refinement, as in the paper; iBUG: 68). Each next iteration
keeps, per emotion, the landmarks the previous iteration's attribution ranked most relevant;
each emotion has its own set.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from emoflow.errors import ConfigError, DataError
from emoflow.pruning.settings import START_SETS, ChainSettings, PruneSettings
from emoflow.schemes import DEFAULT_SCHEME, get_scheme
from emoflow.storage.attribution_store import load_scores
from emoflow.storage.feature_store import read_store_attributes
from emoflow.storage.landmark_sets import read_landmark_record, write_landmark_sets
from emoflow.storage.metrics import read_metrics

log = logging.getLogger(__name__)


def _units(landmarks: np.ndarray, symmetric: bool, scheme: str | None) -> list[np.ndarray]:
    """Positions (into ``landmarks``) that are kept or dropped together (mirror partners of
    ``scheme`` when ``symmetric``)."""
    if not symmetric:
        return [np.array([position]) for position in range(len(landmarks))]
    points = get_scheme(scheme)
    partner = points.mirror_pairs()
    outside = [int(i) for i in landmarks if not 0 <= int(i) < len(partner)]
    if outside:
        raise DataError(
            f"landmark id(s) {outside[:5]} lie outside the {len(partner)} points of the "
            f"{points.name} scheme"
        )
    units: dict[int, list[int]] = {}
    for position, landmark in enumerate(landmarks):
        key = min(int(landmark), int(partner[landmark]))
        units.setdefault(key, []).append(position)
    return [np.array(members) for _, members in sorted(units.items())]


class LandmarkPruner:
    """Choose the landmarks to keep from relevance scores (scikit-learn style).

    The current landmarks are grouped into units (single landmarks, or mirror pairs when
    ``settings.symmetric``), ranked by their mean relevance; the policy
    (:data:`~emoflow.pruning.PRUNING_POLICIES`) says how many units to keep, and the floor
    ``settings.min_landmarks`` (at least one unit) wins over it.

    Parameters
    ----------
    settings
        The pruning policy.

    Attributes
    ----------
    keep_mask_ : np.ndarray
        Boolean, shape ``(n_current,)``: which of the current landmarks survive.
    policy_ : PruningPolicy
        The fitted policy.
    """

    def __init__(self, settings: PruneSettings | None = None) -> None:
        self.settings = settings or PruneSettings()

    def fit(
        self,
        scores: np.ndarray,
        landmarks: np.ndarray | None = None,
        scheme: str | None = None,
    ) -> LandmarkPruner:
        """Decide from ``scores`` ``(n_current,)``, the relevance of the current landmarks.

        ``landmarks`` (their ids in the landmark ``scheme``, default MediaPipe's) is needed
        for symmetric pruning, which keeps the scheme's mirror pairs together.
        """
        settings = self.settings
        scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
        n_current = len(scores)
        if settings.symmetric and landmarks is None:
            raise ConfigError("symmetric pruning needs the landmark ids")
        ids = np.arange(n_current) if landmarks is None else np.asarray(landmarks)
        units = _units(ids, settings.symmetric, scheme)
        unit_scores = np.array([scores[members].mean() for members in units])
        unit_sizes = np.array([len(members) for members in units])
        order = np.argsort(-unit_scores, kind="stable")  # most relevant first
        self.policy_ = settings.policy_estimator().fit(unit_scores[order], unit_sizes[order])
        kept_counts = np.cumsum(unit_sizes[order])
        floor_units = int(np.searchsorted(kept_counts, settings.min_landmarks) + 1)
        n_units = min(len(units), max(self.policy_.n_units_, floor_units, 1))
        self.keep_mask_ = np.zeros(n_current, dtype=bool)
        for unit in order[:n_units]:
            self.keep_mask_[units[unit]] = True
        return self


def initial_landmark_set(
    features_path: str | Path,
    out_path: str | Path,
    *,
    landmarks: str = ChainSettings.start,
    emotions: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Write iteration 0's ``landmarks.json``: every emotion starts from the same set.

    ``all`` keeps the 478 landmarks (mesh + iris); ``mesh`` keeps the 468 mesh points, as in
    the paper (:data:`START_SETS`). ``emotions`` writes the set of some emotions only (the
    workflow starts one chain per emotion); default: every emotion of the feature store.
    """
    attrs = read_store_attributes(features_path)
    available = [str(emotion) for emotion in attrs["emotions"]]
    if emotions is None:
        emotions = available
    elif unknown := [e for e in emotions if e not in available]:
        raise DataError(f"{features_path}: no emotion(s) {unknown} (has {', '.join(available)})")
    n_available = int(attrs["n_landmarks"])
    count = START_SETS.get(landmarks)
    if count is None:
        raise ConfigError(f"prune.start must be one of {', '.join(START_SETS)}, got {landmarks!r}")
    ids = list(range(min(count, n_available)))
    sets = {emotion: ids for emotion in emotions}
    extra: dict[str, Any] = {"dropped": {emotion: [] for emotion in emotions}, "start": landmarks}
    scheme = str(attrs.get("scheme") or DEFAULT_SCHEME)
    if scheme != DEFAULT_SCHEME:  # MediaPipe's sets stay as they were
        extra["scheme"] = scheme
    write_landmark_sets(out_path, sets, iteration=0, **extra)
    return {"iteration": 0, "emotions": sets, **extra}


def choose_iteration(
    validation: Sequence[float] | np.ndarray,
    n_landmarks: Sequence[int] | np.ndarray,
    *,
    tolerance: float = ChainSettings.tolerance,
) -> int:
    """The iteration a chain selects: the best validation score, where scores within
    ``tolerance`` of the best tie and ties go to fewer landmarks, then to the earlier
    iteration. Undefined (NaN) scores are never chosen; with none defined, iteration 0 (the
    start set) is. The one rule for the deployed chain's summary and for every outer fold's
    chain of the nested evaluation, which applies it to inner-fold scores only.
    """
    scores = np.asarray(validation, dtype=np.float64)
    counts = np.asarray(n_landmarks, dtype=np.int64)
    if scores.shape != counts.shape or not len(scores):
        raise DataError(f"{len(scores)} validation scores for {len(counts)} landmark counts")
    defined = np.isfinite(scores)
    if not defined.any():
        return 0
    tied = defined & (scores >= scores[defined].max() - tolerance - 1e-12)
    candidates = np.flatnonzero(tied)
    return int(candidates[np.lexsort((candidates, counts[candidates]))[0]])


def should_stop(validation_scores: Sequence[float], tolerance: float | None) -> bool:
    """Whether the latest score fell more than ``tolerance`` below the best earlier one."""
    if tolerance is None or len(validation_scores) < 2:
        return False
    return max(validation_scores[:-1]) - validation_scores[-1] > tolerance


def prune_iteration(
    attributions_path: str | Path,
    landmark_set_path: str | Path,
    out_path: str | Path,
    *,
    settings: PruneSettings | None = None,
    iteration: int = 1,
    metrics_paths: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Write the next iteration's ``landmarks.json`` from this iteration's relevance scores.

    Parameters
    ----------
    attributions_path, landmark_set_path
        The previous iteration's attribution store and landmark sets.
    out_path
        This iteration's ``landmarks.json``.
    settings
        The pruning policy.
    iteration
        The iteration being written.
    metrics_paths
        ``metrics.json`` of iterations ``0 … iteration − 1``, in order, for early stopping:
        an emotion whose validation balanced accuracy fell more than
        ``settings.stop_tolerance`` below its best keeps its set from then on.
    """
    settings = settings or PruneSettings()
    emotions, scores = load_scores(attributions_path)
    previous_record = read_landmark_record(landmark_set_path)
    previous = previous_record["emotions"]
    previously_stopped = previous_record.get("stopped", {})
    history = [read_metrics(path)["emotions"] for path in metrics_paths]
    kept: dict[str, list[int]] = {}
    dropped: dict[str, list[int]] = {}
    stopped: dict[str, bool] = {}
    for e, emotion in enumerate(emotions):
        current = np.asarray(previous[emotion], dtype=np.int64)
        validation = [record[emotion]["mean"]["balanced_accuracy"] for record in history]
        if previously_stopped.get(emotion) or should_stop(validation, settings.stop_tolerance):
            kept[emotion], dropped[emotion], stopped[emotion] = sorted(current.tolist()), [], True
            log.info("%s: pruning stopped, keeping %d landmarks", emotion, len(current))
            continue
        current_scores = scores[e, current]
        if np.isnan(current_scores).all():
            raise DataError(f"{attributions_path}: no relevance scores for {emotion!r}")
        keep_mask = (
            LandmarkPruner(settings)
            .fit(current_scores, current, previous_record.get("scheme"))
            .keep_mask_
        )
        kept[emotion] = sorted(current[keep_mask].tolist())
        dropped[emotion] = sorted(current[~keep_mask].tolist())
        stopped[emotion] = False
        log.info("%s: %d → %d landmarks", emotion, len(current), len(kept[emotion]))
    extra: dict[str, Any] = {"dropped": dropped, "stopped": stopped, "settings": asdict(settings)}
    if "scheme" in previous_record:
        extra["scheme"] = previous_record["scheme"]
    write_landmark_sets(out_path, kept, iteration=iteration, **extra)
    return {"iteration": iteration, "emotions": kept, **extra}

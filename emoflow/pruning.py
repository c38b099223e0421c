"""Progressive landmark pruning, iteration by iteration, and the summary over iterations.

Iteration 0 starts from all landmarks (478, or the 468 mesh points without the iris
refinement, as in the paper). Each next iteration keeps, per emotion, the landmarks the
previous iteration's attribution ranked most relevant; each emotion has its own set.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from emoflow._atomic import atomic_path, read_json, write_json
from emoflow.attribution import load_scores
from emoflow.errors import ConfigError, DataError
from emoflow.facemesh import N_LANDMARKS, N_MESH_LANDMARKS, mirror_pairs

log = logging.getLogger(__name__)

Policy = Literal["fraction", "threshold", "share"]


@dataclass(frozen=True)
class PruneSettings:
    """How many landmarks each iteration drops.

    Parameters
    ----------
    policy
        ``fraction``: drop ``fraction`` of the current landmarks; ``threshold``: drop those whose
        relevance is below ``threshold`` × the emotion's largest relevance; ``share``: keep the
        smallest set holding ``share`` of the total relevance.
    min_landmarks
        Never keep fewer than this many.
    symmetric
        Keep or drop left/right mirror landmarks together (ranked by their mean relevance).
    stop_tolerance
        Stop pruning an emotion once its validation balanced accuracy falls more than this
        below the best of the earlier iterations (its set is then kept as it is); ``None``
        never stops.
    """

    policy: Policy = "fraction"
    fraction: float = 0.3
    threshold: float = 0.05
    share: float = 0.9
    min_landmarks: int = 16
    symmetric: bool = False
    stop_tolerance: float | None = None

    def __post_init__(self) -> None:
        if self.policy not in ("fraction", "threshold", "share"):
            raise ConfigError(
                f"prune.policy must be fraction, threshold or share, got {self.policy!r}"
            )
        if not 0.0 < self.fraction < 1.0:
            raise ConfigError(f"prune.fraction must be in (0, 1), got {self.fraction}")
        if not 0.0 <= self.threshold < 1.0:
            raise ConfigError(f"prune.threshold must be in [0, 1), got {self.threshold}")
        if not 0.0 < self.share <= 1.0:
            raise ConfigError(f"prune.share must be in (0, 1], got {self.share}")
        if self.min_landmarks < 1:
            raise ConfigError(f"prune.min_landmarks must be ≥ 1, got {self.min_landmarks}")
        if self.stop_tolerance is not None and self.stop_tolerance < 0:
            raise ConfigError(f"prune.stop_tolerance must be ≥ 0, got {self.stop_tolerance}")


def _units(landmarks: np.ndarray, symmetric: bool) -> list[np.ndarray]:
    """Positions (into ``landmarks``) that are kept or dropped together."""
    if not symmetric:
        return [np.array([position]) for position in range(len(landmarks))]
    partner = mirror_pairs()
    units: dict[int, list[int]] = {}
    for position, landmark in enumerate(landmarks):
        key = min(int(landmark), int(partner[landmark]))
        units.setdefault(key, []).append(position)
    return [np.array(members) for _, members in sorted(units.items())]


class LandmarkPruner:
    """Choose the landmarks to keep from relevance scores (scikit-learn style).

    Parameters
    ----------
    settings
        The pruning policy.

    Attributes
    ----------
    keep_mask_ : np.ndarray
        Boolean, shape ``(n_current,)``: which of the current landmarks survive.
    """

    def __init__(self, settings: PruneSettings | None = None) -> None:
        self.settings = settings or PruneSettings()

    def fit(self, scores: np.ndarray, landmarks: np.ndarray | None = None) -> LandmarkPruner:
        """Decide from ``scores`` ``(n_current,)``, the relevance of the current landmarks.

        ``landmarks`` (their Face Mesh ids) is needed for symmetric pruning.
        """
        settings = self.settings
        scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
        n_current = len(scores)
        if settings.symmetric and landmarks is None:
            raise ConfigError("symmetric pruning needs the landmark ids")
        ids = np.arange(n_current) if landmarks is None else np.asarray(landmarks)
        units = _units(ids, settings.symmetric)
        unit_scores = np.array([scores[members].mean() for members in units])
        unit_sizes = np.array([len(members) for members in units])
        order = np.argsort(-unit_scores, kind="stable")  # most relevant first
        kept_counts = np.cumsum(unit_sizes[order])
        if settings.policy == "fraction":
            target = int(np.ceil(n_current * (1.0 - settings.fraction)))
            n_units = int(np.searchsorted(kept_counts, target) + 1)
        elif settings.policy == "threshold":
            n_units = int(np.sum(unit_scores >= settings.threshold * unit_scores.max()))
        else:
            relevance = np.cumsum((unit_scores * unit_sizes)[order])
            total = relevance[-1]
            share = relevance / total if total > 0 else np.ones(len(units))
            n_units = int(np.searchsorted(share, settings.share - 1e-12) + 1)
        floor_units = int(np.searchsorted(kept_counts, settings.min_landmarks) + 1)
        n_units = min(len(units), max(n_units, floor_units, 1))
        self.keep_mask_ = np.zeros(n_current, dtype=bool)
        for unit in order[:n_units]:
            self.keep_mask_[units[unit]] = True
        return self


def initial_landmark_set(
    features_path: str | Path,
    out_path: str | Path,
    *,
    landmarks: Literal["all", "mesh"] = "all",
) -> dict[str, Any]:
    """Write iteration 0's ``landmarks.json``: every emotion starts from the same set.

    ``all`` keeps the 478 landmarks (mesh + iris); ``mesh`` keeps the 468 mesh points, as in
    the paper.
    """
    import zarr

    root = zarr.open_group(str(features_path), mode="r")
    attrs: dict[str, Any] = dict(root.attrs)
    emotions = [str(emotion) for emotion in attrs["emotions"]]
    n_available = int(attrs["n_landmarks"])
    count = {"all": N_LANDMARKS, "mesh": N_MESH_LANDMARKS}.get(landmarks)
    if count is None:
        raise ConfigError(f"prune.start must be all or mesh, got {landmarks!r}")
    ids = list(range(min(count, n_available)))
    record = {
        "iteration": 0,
        "emotions": {emotion: ids for emotion in emotions},
        "dropped": {emotion: [] for emotion in emotions},
        "start": landmarks,
    }
    write_json(out_path, record)
    return record


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
    previous_record = read_json(landmark_set_path)
    previous = previous_record["emotions"]
    previously_stopped = previous_record.get("stopped", {})
    history = [read_json(path)["emotions"] for path in metrics_paths]
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
        keep_mask = LandmarkPruner(settings).fit(current_scores, current).keep_mask_
        kept[emotion] = sorted(current[keep_mask].tolist())
        dropped[emotion] = sorted(current[~keep_mask].tolist())
        stopped[emotion] = False
        log.info("%s: %d → %d landmarks", emotion, len(current), len(kept[emotion]))
    record = {
        "iteration": iteration,
        "emotions": kept,
        "dropped": dropped,
        "stopped": stopped,
        "settings": asdict(settings),
    }
    write_json(out_path, record)
    return record


SUMMARY_SCHEMA = {
    "emotion": pl.String,
    "iteration": pl.Int32,
    "n_landmarks": pl.Int32,
    "balanced_accuracy_mean": pl.Float64,
    "balanced_accuracy_std": pl.Float64,
    "accuracy_mean": pl.Float64,
    "accuracy_std": pl.Float64,
    "f1_mean": pl.Float64,
    "roc_auc_mean": pl.Float64,
    "train_time_s": pl.Float64,
    "inference_time_ms": pl.Float64,
    "n_parameters": pl.Int64,
    "test_balanced_accuracy": pl.Float64,
    "test_accuracy": pl.Float64,
}
"""Columns of ``summary.parquet`` (plus ``selected``, a Boolean)."""


def summarise_iterations(
    metrics_paths: Sequence[str | Path], out_path: str | Path, *, tolerance: float = 0.0
) -> pl.DataFrame:
    """Collect every iteration's metrics into ``summary.parquet`` and mark the selected model.

    The selected iteration of an emotion has the best mean (validation) balanced accuracy;
    iterations within ``tolerance`` of the best count as ties, and ties go to fewer landmarks.
    ``test_*`` columns hold the held-out subjects' scores (NaN without ``train.test_subjects``);
    they never influence the selection.
    """
    rows = []
    for path in metrics_paths:
        metrics = read_json(path)
        for emotion, record in metrics["emotions"].items():
            parameters = record["n_parameters"]
            rows.append(
                {
                    "emotion": emotion,
                    "iteration": int(metrics["iteration"]),
                    "n_landmarks": int(record["n_landmarks"]),
                    "balanced_accuracy_mean": record["mean"]["balanced_accuracy"],
                    "balanced_accuracy_std": record["std"]["balanced_accuracy"],
                    "accuracy_mean": record["mean"]["accuracy"],
                    "accuracy_std": record["std"]["accuracy"],
                    "f1_mean": record["mean"]["f1"],
                    "roc_auc_mean": record["mean"]["roc_auc"],
                    "train_time_s": record["mean"]["train_time_s"],
                    "inference_time_ms": record["inference_time_ms_per_sample"],
                    "n_parameters": int(parameters["random"] + parameters["trained"]),
                    "test_balanced_accuracy": record.get("test", {}).get(
                        "balanced_accuracy", float("nan")
                    ),
                    "test_accuracy": record.get("test", {}).get("accuracy", float("nan")),
                }
            )
    if not rows:
        raise DataError("no iteration metrics to summarise")
    summary = pl.DataFrame(rows, schema=SUMMARY_SCHEMA).sort("emotion", "iteration")
    best = pl.col("balanced_accuracy_mean").max().over("emotion")
    candidates = summary.with_columns(
        (pl.col("balanced_accuracy_mean") >= best - tolerance - 1e-12).alias("_tie")
    )
    fewest = (
        candidates.filter(pl.col("_tie"))
        .sort("n_landmarks", "iteration")
        .group_by("emotion", maintain_order=True)
        .first()
        .select("emotion", pl.col("iteration").alias("_selected_iteration"))
    )
    summary = (
        summary.join(fewest, on="emotion", how="left")
        .with_columns((pl.col("iteration") == pl.col("_selected_iteration")).alias("selected"))
        .drop("_selected_iteration")
    )
    with atomic_path(out_path) as staged:
        summary.write_parquet(staged)
    return summary

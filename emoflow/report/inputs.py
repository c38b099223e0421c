"""The report's inputs, read once and cross-checked: :class:`ReportInputs`.

``summary.parquet`` through :func:`emoflow.storage.summary.read_summary`, each iteration's
``metrics.json`` and ``landmarks.json``, iteration 0's relevance through
:func:`emoflow.storage.attribution_store.load_scores`, and optionally the ground-truth landmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow._atomic import read_json
from emoflow.errors import DataError, InputError
from emoflow.report.data import DataQuality, load_data_quality
from emoflow.storage.landmark_sets import read_landmark_sets
from emoflow.storage.metrics import read_metrics, read_scores
from emoflow.storage.summary import read_summary


@dataclass
class ReportInputs:
    """Everything the figures need, read once.

    Attributes
    ----------
    summary
        ``summary.parquet`` as a data frame.
    emotions
        Emotion names in the attribution store's order (restricted to those in the summary).
    iterations
        Iteration number of each position of the input sequences.
    metrics
        Each iteration's ``metrics.json``.
    scores
        Iteration 0's relevance ``(emotion, landmark)``, rows in the order of ``emotions``;
        NaN for landmarks outside an emotion's set.
    landmark_sets
        Each iteration's landmark ids per emotion.
    ground_truth
        Emotion → ground-truth landmark ids, or ``None``.
    selected_relevance
        Like ``scores``, from each emotion's selected iteration (``None`` when not read).
    selected_scores
        Emotion → its selected iteration's ``scores.parquet`` (out-of-fold and held-out test
        rows); empty when the scores were not given.
    data
        The data and quality section (:mod:`emoflow.report.data`), or ``None``.
    """

    summary: pl.DataFrame
    emotions: list[str]
    iterations: list[int]
    metrics: list[dict[str, Any]]
    scores: np.ndarray
    landmark_sets: list[dict[str, list[int]]]
    ground_truth: dict[str, list[int]] | None
    selected_relevance: np.ndarray | None = None
    selected_scores: dict[str, pl.DataFrame] = field(default_factory=dict)
    data: DataQuality | None = None

    def selected_iteration(self, emotion: str) -> int:
        """The iteration the summary selected for ``emotion``."""
        return int(full_and_selected(self.summary, emotion)[1]["iteration"])

    def position(self, iteration: int) -> int:
        """Index into the per-iteration lists of iteration number ``iteration``."""
        try:
            return self.iterations.index(int(iteration))
        except ValueError:
            raise DataError(
                f"the summary names iteration {iteration}, but no metrics.json of it was given"
            ) from None


def full_and_selected(summary: pl.DataFrame, emotion: str) -> tuple[dict, dict]:
    """The all-landmark row (most landmarks, earliest) and the selected row of one emotion."""
    rows = summary.filter(pl.col("emotion") == emotion)
    full = rows.sort(pl.col("n_landmarks"), pl.col("iteration"), descending=[True, False]).row(
        0, named=True
    )
    chosen = rows.filter(pl.col("selected"))
    selected = chosen.row(0, named=True) if len(chosen) else full
    return full, selected


def read_ground_truth(path: str | Path) -> dict[str, list[int]]:
    """Emotion → ground-truth landmark ids from ``{"emotions": {e: {"landmarks": [...]}}}``."""
    record = read_json(path)
    emotions = record.get("emotions") if isinstance(record, dict) else None
    if not isinstance(emotions, dict):
        raise InputError(path, 'ground truth needs an "emotions" mapping')
    truth: dict[str, list[int]] = {}
    for emotion, entry in emotions.items():
        ids = entry.get("landmarks") if isinstance(entry, dict) else None
        if not isinstance(ids, list):
            raise InputError(path, f'ground truth of {emotion!r} needs a "landmarks" list')
        truth[emotion] = sorted({int(i) for i in ids})
    return truth


def _single_path(value: Any) -> str | Path | None:
    """A path, or ``None``, from a path, ``None`` or a (Snakemake) list of at most one path."""
    if value is None or isinstance(value, (str, Path)):
        return value or None
    items = list(value)
    if len(items) > 1:
        raise InputError(", ".join(map(str, items)), "give at most one ground-truth file")
    return items[0] if items else None


def load_report_inputs(
    summary_path: str | Path,
    metrics_paths: Sequence[str | Path],
    attribution_paths: Sequence[str | Path | Sequence[str | Path]],
    landmark_set_paths: Sequence[str | Path],
    ground_truth_path: str | Path | None = None,
    *,
    scores_paths: Sequence[Sequence[str | Path]] | None = None,
    manifest_path: str | Path | None = None,
    features_path: str | Path | None = None,
    landmark_paths: Sequence[str | Path] | None = None,
) -> ReportInputs:
    """Read and cross-check the report's inputs (the i-th paths belong to iteration i).

    ``scores_paths`` (per iteration, each emotion's ``scores.parquet``) give the selected
    models' confusion matrices and combined prediction; ``manifest_path``, ``features_path``
    and ``landmark_paths`` (the landmark shards) give the data and quality section.
    """
    from emoflow.storage.attribution_store import load_scores

    lengths = {len(metrics_paths), len(attribution_paths), len(landmark_set_paths)}
    if len(lengths) != 1 or 0 in lengths:
        raise DataError(
            "the report needs one metrics.json, attributions.zarr and landmarks.json per "
            f"iteration; got {len(metrics_paths)}, {len(attribution_paths)} and "
            f"{len(landmark_set_paths)}"
        )
    summary = read_summary(summary_path)
    metrics = [read_metrics(path) for path in metrics_paths]
    iterations = [int(m.get("iteration", i)) for i, m in enumerate(metrics)]
    landmark_sets = [read_landmark_sets(path) for path in landmark_set_paths]
    store_emotions, scores = load_scores(attribution_paths[0])
    in_summary = set(summary["emotion"].to_list())
    emotions = [e for e in store_emotions if e in in_summary]
    if not emotions:
        raise DataError(
            f"{attribution_paths[0]}: no emotion in common with {summary_path} "
            f"({store_emotions} vs {sorted(in_summary)})"
        )
    rows = [store_emotions.index(e) for e in emotions]
    truth_path = _single_path(ground_truth_path)
    inputs = ReportInputs(
        summary=summary,
        emotions=emotions,
        iterations=iterations,
        metrics=metrics,
        scores=scores[rows],
        landmark_sets=landmark_sets,
        ground_truth=read_ground_truth(truth_path) if truth_path else None,
    )
    inputs.selected_relevance = _selected_relevance(inputs, attribution_paths, load_scores)
    if scores_paths is not None:
        inputs.selected_scores = _selected_scores(inputs, scores_paths)
    given = [p is not None for p in (manifest_path, features_path, landmark_paths)]
    if any(given) and not all(given):
        raise DataError("the data section needs the manifest, the feature store and the shards")
    if manifest_path is not None and features_path is not None and landmark_paths is not None:
        inputs.data = load_data_quality(manifest_path, features_path, landmark_paths, metrics)
    return inputs


def _selected_relevance(
    inputs: ReportInputs,
    attribution_paths: Sequence[str | Path | Sequence[str | Path]],
    load_scores: Any,
) -> np.ndarray:
    """Each emotion's relevance in its selected iteration (NaN outside its landmark set)."""
    relevance = np.full_like(inputs.scores, np.nan)
    loaded: dict[int, tuple[list[str], np.ndarray]] = {}
    for e, emotion in enumerate(inputs.emotions):
        iteration = inputs.selected_iteration(emotion)
        position = inputs.position(iteration)
        if position == 0:
            relevance[e] = inputs.scores[e]
            continue
        if iteration not in loaded:
            loaded[iteration] = load_scores(attribution_paths[position])
        names, scores = loaded[iteration]
        if emotion in names:
            row = scores[names.index(emotion)]
            relevance[e, : min(len(row), relevance.shape[1])] = row[: relevance.shape[1]]
    return relevance


def _selected_scores(
    inputs: ReportInputs, scores_paths: Sequence[Sequence[str | Path]]
) -> dict[str, pl.DataFrame]:
    """Each emotion's selected iteration's scores table (its ``model`` column names it)."""
    if len(scores_paths) != len(inputs.iterations):
        raise DataError(
            f"the report needs the scores of every iteration; got {len(scores_paths)} for "
            f"{len(inputs.iterations)} iterations"
        )
    wanted = {e: inputs.position(inputs.selected_iteration(e)) for e in inputs.emotions}
    found: dict[str, pl.DataFrame] = {}
    for emotion, position in wanted.items():
        entry = scores_paths[position]
        for path in [entry] if isinstance(entry, str | Path) else entry:
            table = read_scores(path)
            models = set(table["model"].unique().to_list())
            if emotion in models:
                found[emotion] = table.filter(pl.col("model") == emotion)
                break
        else:
            raise DataError(
                f"no scores.parquet of iteration {inputs.iterations[position]} scores {emotion}"
            )
    return found


__all__ = ["ReportInputs", "full_and_selected", "load_report_inputs", "read_ground_truth"]

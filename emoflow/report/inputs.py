"""The report's inputs, read once and cross-checked: :class:`ReportInputs`.

``summary.parquet`` through :func:`emoflow.summary.read_summary`, each iteration's
``metrics.json`` and ``landmarks.json``, iteration 0's relevance through
:func:`emoflow.attribution.load_scores`, and optionally the ground-truth landmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow._atomic import read_json
from emoflow.errors import DataError, InputError
from emoflow.landmark_sets import read_landmark_sets
from emoflow.summary import read_summary
from emoflow.training import read_metrics


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
    """

    summary: pl.DataFrame
    emotions: list[str]
    iterations: list[int]
    metrics: list[dict[str, Any]]
    scores: np.ndarray
    landmark_sets: list[dict[str, list[int]]]
    ground_truth: dict[str, list[int]] | None

    def position(self, iteration: int) -> int:
        """Index into the per-iteration lists of iteration number ``iteration``."""
        try:
            return self.iterations.index(int(iteration))
        except ValueError:
            raise DataError(
                f"the summary names iteration {iteration}, but no metrics.json of it was given"
            ) from None


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
) -> ReportInputs:
    """Read and cross-check the report's inputs (the i-th paths belong to iteration i)."""
    from emoflow.attribution import load_scores

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
    return ReportInputs(
        summary=summary,
        emotions=emotions,
        iterations=iterations,
        metrics=metrics,
        scores=scores[rows],
        landmark_sets=landmark_sets,
        ground_truth=read_ground_truth(truth_path) if truth_path else None,
    )


__all__ = ["ReportInputs", "load_report_inputs", "read_ground_truth"]

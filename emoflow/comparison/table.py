"""The comparison tables: the one module that writes and reads
``results/compare/fold_{k}/{emotion}.parquet``.

One row per ranking, seed and iteration of one emotion in one outer fold
(:data:`COMPARISON_SCHEMA`):

``emotion``, ``ranking``, ``seed``, ``outer_fold``
    The emotion, the baseline (``random``, ``motion``, ``mean_difference``, ``vanilla_ig``),
    the random set's seed (null for the deterministic rankings) and the outer fold.
``iteration``, ``n_landmarks``, ``landmarks``
    The pruning iteration, and the landmarks kept (as many as the fold's IG chain kept).
``val_balanced_accuracy_mean``, ``val_balanced_accuracy_std``
    Balanced accuracy over the inner folds of the fold's training subjects: what the
    baseline's own count is chosen on.
``video_id``, ``score``, ``probability``
    The outer fold's samples and the model's raw score and calibrated probability of each:
    scored once, never used for a choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow._tables import differing_columns, read_parquet, write_parquet
from emoflow.errors import InputError

__all__ = [
    "COMPARISON_SCHEMA",
    "comparison_frame",
    "comparison_row",
    "read_comparison",
    "write_comparison",
]

COMPARISON_SCHEMA: dict[str, Any] = {
    "emotion": pl.String,
    "ranking": pl.String,
    "seed": pl.Int64,
    "outer_fold": pl.Int64,
    "iteration": pl.Int64,
    "n_landmarks": pl.Int64,
    "landmarks": pl.List(pl.Int64),
    "val_balanced_accuracy_mean": pl.Float64,
    "val_balanced_accuracy_std": pl.Float64,
    "video_id": pl.List(pl.String),
    "score": pl.List(pl.Float64),
    "probability": pl.List(pl.Float64),
}
"""Columns and types of a comparison table."""

_ORDER = ("emotion", "ranking", "seed", "outer_fold", "iteration")
_REMEDY = "delete it and rerun compare_pruning (snakemake --forcerun compare_pruning)"


def comparison_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Rows as a table of :data:`COMPARISON_SCHEMA`, sorted by emotion, ranking, seed, fold
    and iteration."""
    frame = pl.DataFrame(list(rows), schema=COMPARISON_SCHEMA, orient="row")
    return frame.sort(_ORDER, nulls_last=False)


def write_comparison(path: str | Path, table: pl.DataFrame) -> None:
    """Write a comparison table (atomically), checked against :data:`COMPARISON_SCHEMA`."""
    if dict(table.schema) != COMPARISON_SCHEMA:
        raise ValueError(f"comparison table schema {dict(table.schema)} is not COMPARISON_SCHEMA")
    write_parquet(table, path)


def read_comparison(path: str | Path) -> pl.DataFrame:
    """A comparison table as :func:`write_comparison` wrote it; an :class:`InputError` names
    the file when it is missing, unreadable or has other columns or types."""
    table = read_parquet(path, what="comparison table", remedy=_REMEDY)
    wrong = differing_columns(table, COMPARISON_SCHEMA)
    if wrong:
        raise InputError(path, f"not a comparison table: column(s) {', '.join(wrong)} differ")
    return table


def comparison_row(
    emotion: str,
    ranking: str,
    seed: int | None,
    outer_fold: int,
    iteration: int,
    keep: Iterable[int],
    result: Any,
    protocol: Any,
) -> dict[str, Any]:
    """One row of the table from a step's training result (its metrics record and the outer
    fold's scores) and the landmarks ``keep`` it was trained on."""
    record = result.record
    landmarks = [int(i) for i in keep]
    scores = np.asarray(result.test_scores, dtype=np.float64)
    probabilities = np.asarray(result.test_probabilities, dtype=np.float64)
    return {
        "emotion": emotion,
        "ranking": ranking,
        "seed": seed,
        "outer_fold": outer_fold,
        "iteration": iteration,
        "n_landmarks": len(landmarks),
        "landmarks": landmarks,
        "val_balanced_accuracy_mean": record["mean"]["balanced_accuracy"],
        "val_balanced_accuracy_std": record["std"]["balanced_accuracy"],
        "video_id": [str(v) for v in protocol.test_set.video_ids],
        "score": scores.tolist(),
        "probability": probabilities.tolist(),
    }

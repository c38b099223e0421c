"""``summary.parquet``: one row per emotion and iteration, each emotion's selected one marked.

The summary is the run's *selection*: the report draws it, and ``emoflow predict`` /
``emoflow explain`` take each emotion's selected iteration from it. Both read it here
(:func:`read_summary`, :func:`selected_iterations`) and it is written here
(:func:`write_summary`, called by :func:`emoflow.pruning.summarise_iterations`, which builds the
table); nothing else opens it. It sits in the storage layer, below :mod:`emoflow.inference`,
:mod:`emoflow.report` and :mod:`emoflow.pruning`, since all three need it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from emoflow._tables import differing_columns, read_parquet, write_parquet
from emoflow.errors import DataError, InputError

__all__ = [
    "SUMMARY_COLUMNS",
    "SUMMARY_SCHEMA",
    "read_summary",
    "selected_iterations",
    "write_summary",
]

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
    "selected": pl.Boolean,
}
"""Columns of ``summary.parquet`` and their types, in the file's order."""

SUMMARY_COLUMNS = (
    "emotion",
    "iteration",
    "n_landmarks",
    "balanced_accuracy_mean",
    "balanced_accuracy_std",
    "inference_time_ms",
    "n_parameters",
    "selected",
)
"""Columns the report uses."""


def write_summary(summary: pl.DataFrame, path: str | Path) -> None:
    """Write the summary table, its columns exactly :data:`SUMMARY_SCHEMA`, atomically.

    Raises
    ------
    DataError
        A column is missing, extra, out of order or of another type (named).
    """
    wrong = differing_columns(summary, SUMMARY_SCHEMA)
    if wrong or summary.columns != list(SUMMARY_SCHEMA):
        raise DataError(
            f"{path}: the summary's columns differ from SUMMARY_SCHEMA: "
            f"{', '.join(wrong) or 'their order'}"
        )
    write_parquet(summary, path)


def _read(path: str | Path, columns: Sequence[str], *, missing_hint: str = "") -> pl.DataFrame:
    """The summary table; InputError naming the file when it is missing, unreadable or short."""
    summary = read_parquet(
        path,
        missing_hint=missing_hint,
        remedy="delete it and rerun summarise_iterations "
        "(snakemake --forcerun summarise_iterations)",
    )
    absent = [name for name in columns if name not in summary.columns]
    if absent:
        raise InputError(path, f"lacks column(s) {', '.join(absent)}")
    return summary


def read_summary(path: str | Path) -> pl.DataFrame:
    """Read ``summary.parquet`` with the columns the report uses, by emotion and iteration."""
    summary = _read(path, SUMMARY_COLUMNS)
    if summary.is_empty():
        raise InputError(path, "summary has no rows")
    return summary.sort("emotion", "iteration")


def selected_iterations(path: str | Path) -> dict[str, int]:
    """Each emotion's selected iteration, emotions in order.

    Raises
    ------
    InputError
        The summary is missing or unreadable, or an emotion has no or several selected
        iterations; the file is named.
    """
    summary = _read(
        path,
        ("emotion", "iteration", "selected"),
        missing_hint=": run the workflow up to the summary, or choose an iteration (--iteration N)",
    )
    selected = summary.filter(pl.col("selected")).sort("emotion")
    emotions = sorted(summary["emotion"].unique().to_list())
    unselected = sorted(set(emotions) - set(selected["emotion"].to_list()))
    if unselected:
        raise InputError(path, f"no selected iteration for emotion(s) {unselected}")
    doubled = selected.group_by("emotion").len().filter(pl.col("len") > 1)["emotion"].to_list()
    if doubled:
        raise InputError(path, f"several selected iterations for {sorted(doubled)}")
    return {str(row["emotion"]): int(row["iteration"]) for row in selected.iter_rows(named=True)}

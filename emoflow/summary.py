"""``summary.parquet``: one row per emotion and iteration, each emotion's selected one marked.

The summary is the run's *selection*: the report draws it, and ``emoflow predict`` /
``emoflow explain`` take each emotion's selected iteration from it. Both read it here
(:func:`read_summary`, :func:`selected_iterations`); nothing else opens it. It sits below
:mod:`emoflow.inference` and :mod:`emoflow.report` in the layers, since both need it. The
writer (:func:`emoflow.pruning.summarise_iterations` today) belongs here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from emoflow._tables import read_parquet
from emoflow.errors import InputError

__all__ = ["SUMMARY_COLUMNS", "read_summary", "selected_iterations"]

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

"""The comparison table: the one module that writes and reads ``results/compare/*.parquet``.

One row per emotion, ranking, seed and iteration (:data:`COMPARISON_SCHEMA`):

``emotion``, ``ranking``
    ``ig_guided`` (the chain itself, read from its ``metrics.json``), ``random``, ``motion``
    or ``vanilla_ig``.
``seed``
    The random set's seed; null for the deterministic rankings.
``iteration``, ``n_landmarks``, ``landmarks``
    The pruning iteration, and the landmarks kept (as many as the chain kept).
``val_balanced_accuracy_mean``, ``val_balanced_accuracy_std``
    Validation balanced accuracy over the outer subject folds.
``test_balanced_accuracy``
    The final model on the held-out test subjects (null without them).
``selected``
    The chain's selected iteration of the emotion (``summary.parquet``): where the
    verdicts of :func:`verdicts` are taken.

Per (emotion, ranking) files hold the baseline's rows (``selected`` false); the gathered
``summary.parquet`` holds every ranking, the chain's rows and the selection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from emoflow._atomic import atomic_path
from emoflow.comparison._text import signed
from emoflow.errors import InputError

__all__ = [
    "CHAIN",
    "COMPARISON_SCHEMA",
    "comparison_frame",
    "deltas_by_iteration",
    "gather_comparison",
    "read_comparison",
    "verdicts",
    "write_comparison",
]

CHAIN = "ig_guided"
"""The ``ranking`` of the IG-guided chain's own rows."""

COMPARISON_SCHEMA: dict[str, Any] = {
    "emotion": pl.String,
    "ranking": pl.String,
    "seed": pl.Int64,
    "iteration": pl.Int64,
    "n_landmarks": pl.Int64,
    "val_balanced_accuracy_mean": pl.Float64,
    "val_balanced_accuracy_std": pl.Float64,
    "test_balanced_accuracy": pl.Float64,
    "selected": pl.Boolean,
    "landmarks": pl.List(pl.Int64),
}
"""Columns and types of every comparison table."""

_ORDER = ("emotion", "ranking", "seed", "iteration")


def comparison_frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Rows as a table of :data:`COMPARISON_SCHEMA`, sorted by emotion, ranking, seed and
    iteration."""
    frame = pl.DataFrame(list(rows), schema=COMPARISON_SCHEMA, orient="row")
    return frame.sort(_ORDER, nulls_last=False)


def write_comparison(path: str | Path, table: pl.DataFrame) -> None:
    """Write a comparison table (atomically), checked against :data:`COMPARISON_SCHEMA`."""
    if dict(table.schema) != COMPARISON_SCHEMA:
        raise ValueError(f"comparison table schema {dict(table.schema)} is not COMPARISON_SCHEMA")
    with atomic_path(path) as staged:
        table.write_parquet(staged)


def read_comparison(path: str | Path) -> pl.DataFrame:
    """A comparison table as :func:`write_comparison` wrote it; an :class:`InputError` names
    the file when it is missing, unreadable or has other columns or types."""
    if not Path(path).exists():
        raise InputError(path, "comparison table does not exist")
    try:
        table = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise InputError(path, f"not a readable comparison table ({err})") from err
    if dict(table.schema) != COMPARISON_SCHEMA:
        wrong = sorted(
            name
            for name in set(COMPARISON_SCHEMA) | set(table.schema)
            if COMPARISON_SCHEMA.get(name) != table.schema.get(name)
        )
        raise InputError(path, f"not a comparison table: column(s) {', '.join(wrong)} differ")
    return table


def comparison_row(
    emotion: str,
    ranking: str,
    seed: int | None,
    iteration: int,
    keep: Iterable[int],
    record: Mapping[str, Any],
) -> dict[str, Any]:
    """One row of the table from an emotion's metrics record (``metrics.json``'s entry) and the
    landmarks ``keep`` it was trained on."""
    test = record.get("test") or {}
    landmarks = [int(i) for i in keep]
    return {
        "emotion": emotion,
        "ranking": ranking,
        "seed": seed,
        "iteration": iteration,
        "n_landmarks": len(landmarks),
        "val_balanced_accuracy_mean": record["mean"]["balanced_accuracy"],
        "val_balanced_accuracy_std": record["std"]["balanced_accuracy"],
        "test_balanced_accuracy": test.get("balanced_accuracy"),
        "selected": False,
        "landmarks": landmarks,
    }


def _chain_rows(
    emotion: str, metrics_paths: Sequence[str | Path], set_paths: Sequence[str | Path]
) -> list[dict[str, Any]]:
    """The IG chain's rows of one emotion, from its metrics (through emoflow.training)."""
    from emoflow.landmark_sets import read_landmark_sets
    from emoflow.training import read_metrics

    rows = []
    for iteration, (metrics_path, set_path) in enumerate(
        zip(metrics_paths, set_paths, strict=True)
    ):
        record = read_metrics(metrics_path)["emotions"].get(emotion)
        if record is None:
            raise InputError(metrics_path, f"no metrics of emotion {emotion!r}")
        keep = read_landmark_sets(set_path, [emotion])[emotion]
        rows.append(comparison_row(emotion, CHAIN, None, iteration, keep, record))
    return rows


def gather_comparison(
    tables: Sequence[str | Path],
    chain_metrics: Mapping[str, Sequence[str | Path]],
    chain_sets: Mapping[str, Sequence[str | Path]],
    summary_path: str | Path,
    out_path: str | Path,
    *,
    figure_path: str | Path | None = None,
    page_path: str | Path | None = None,
) -> pl.DataFrame:
    """Gather the baselines' tables with the chain's rows and its selection.

    Parameters
    ----------
    tables
        The per (emotion, ranking) tables of ``compare_pruning``.
    chain_metrics, chain_sets
        Per emotion, the chain's ``metrics.json`` and ``landmarks.json`` of every iteration,
        in order.
    summary_path
        The run's ``summary.parquet`` (each emotion's selected iteration).
    figure_path
        Where to draw :func:`emoflow.comparison.plot_comparison` (optional).
    page_path
        Where to write the verdicts' HTML page
        (:func:`emoflow.comparison.page.write_comparison_page`, optional).
    """
    from emoflow.summary import selected_iterations

    selected = selected_iterations(summary_path)
    rows = [
        row
        for emotion in chain_metrics
        for row in _chain_rows(emotion, chain_metrics[emotion], chain_sets[emotion])
    ]
    parts = [comparison_frame(rows), *(read_comparison(path) for path in tables)]
    table = pl.concat(parts, how="vertical")
    chosen = pl.DataFrame(
        {"emotion": list(selected), "_chosen": list(selected.values())},
        schema={"emotion": pl.String, "_chosen": pl.Int64},
    )
    table = (
        table.join(chosen, on="emotion", how="left")
        .with_columns(selected=(pl.col("iteration") == pl.col("_chosen")).fill_null(False))
        .drop("_chosen")
        .sort(_ORDER, nulls_last=False)
    )
    write_comparison(out_path, table)
    if figure_path is not None:
        from emoflow.comparison.figure import plot_comparison

        plot_comparison(table, figure_path)
    if page_path is not None:
        from emoflow.comparison.page import write_comparison_page

        write_comparison_page(verdicts(table), page_path)
    return table


def _with_shared_start(table: pl.DataFrame) -> pl.DataFrame:
    """The table with each baseline's iteration 0: the chain's own row (every ranking starts
    from the same full set, so it is the same model), once per seed of ``random``."""
    start = table.filter((pl.col("ranking") == CHAIN) & (pl.col("iteration") == 0))
    parts = [table]
    for ranking, seeds in (
        table.filter(pl.col("ranking") != CHAIN)
        .group_by("ranking")
        .agg(pl.col("seed").unique())
        .iter_rows()
    ):
        for seed in seeds:
            parts.append(start.with_columns(ranking=pl.lit(ranking), seed=pl.lit(seed, pl.Int64)))
    return pl.concat(parts, how="vertical")


def _against_chain(at: pl.DataFrame) -> pl.DataFrame:
    """Chain − baseline at the rows ``at`` (one chain row per emotion and iteration)."""
    chain = at.filter(pl.col("ranking") == CHAIN).select(
        "emotion",
        "iteration",
        "n_landmarks",
        pl.col("val_balanced_accuracy_mean").alias("ig_val"),
        pl.col("test_balanced_accuracy").alias("ig_test"),
    )
    # an undefined score (NaN, or null) is skipped by the means over seeds and counted
    val = pl.col("val_balanced_accuracy_mean").fill_nan(None)
    test = pl.col("test_balanced_accuracy").fill_nan(None)
    others = (
        at.filter(pl.col("ranking") != CHAIN)
        .group_by("emotion", "ranking", "iteration")
        .agg(
            val.mean().alias("val"),
            val.std(ddof=0).alias("val_std"),
            test.mean().alias("test"),
            test.std(ddof=0).alias("test_std"),
            pl.len().alias("n_runs"),
            val.null_count().alias("n_undefined"),
            test.null_count().alias("n_test_undefined"),
        )
    )
    return (
        others.join(chain, on=["emotion", "iteration"], how="inner")
        .with_columns(  # rounded: a mean of equal numbers is no float-noise "difference"
            delta=(pl.col("ig_val") - pl.col("val")).round(12),
            test_delta=(pl.col("ig_test") - pl.col("test")).round(12),
        )
        .with_columns(beats=pl.col("delta") > 0)
    )


def deltas_by_iteration(table: pl.DataFrame) -> pl.DataFrame:
    """Chain − baseline at every iteration (not only the selected one, whose choice by the
    chain's own validation accuracy favours the chain), per emotion and ranking."""
    return (
        _against_chain(_with_shared_start(table))
        .select(
            "emotion",
            "ranking",
            "iteration",
            "n_landmarks",
            "ig_val",
            "val",
            "val_std",
            "delta",
            "ig_test",
            "test",
            "test_delta",
            "n_runs",
            "n_undefined",
            "n_test_undefined",
            "beats",
        )
        .sort("emotion", "ranking", "iteration")
    )


def verdicts(table: pl.DataFrame) -> pl.DataFrame:
    """Per emotion and baseline: does the IG-guided chain beat it at the selected count?

    At each emotion's selected iteration, the chain's validation balanced accuracy against
    the baseline's (the mean over seeds for ``random``): ``delta`` = chain − baseline,
    ``beats`` = delta > 0, the test balanced accuracies likewise (``test_delta``), and a plain
    ``statement`` ("happiness: IG-guided beats random at 40 landmarks: yes (Δ +0.031 …)").
    An emotion whose selected iteration is 0 keeps every landmark, the same set (and model)
    for every ranking: Δ 0, "no". An undefined score of a run (NaN: a test set without the
    emotion's videos) is left out of the means over seeds and counted (``n_undefined``
    validation, ``n_test_undefined`` test, of ``n_runs``).
    """
    full = _with_shared_start(table)
    selected = full.filter(pl.col("ranking") == CHAIN, pl.col("selected")).select(
        "emotion", "iteration"
    )
    at = full.join(selected, on=["emotion", "iteration"], how="semi")
    joined = _against_chain(at).with_columns(
        # the baseline's own random spread is reported; at iteration 0 it has none
        val_std=pl.col("val_std").fill_null(0.0),
    )
    return _statements(joined)


def _statements(joined: pl.DataFrame) -> pl.DataFrame:
    """The verdict rows with their plain statements."""
    statements = [
        f"{row['emotion']}: IG-guided beats {row['ranking']} at {row['n_landmarks']} landmarks: "
        f"{'yes' if row['beats'] else 'no (a tie)' if row['delta'] == 0 else 'no'} "
        f"(Δ {signed(row['delta'])} validation"
        + (f", {signed(row['test_delta'])} test)" if row["test_delta"] is not None else ")")
        for row in joined.iter_rows(named=True)
    ]
    return (
        joined.with_columns(statement=pl.Series(statements, dtype=pl.String))
        .select(
            "emotion",
            "ranking",
            "n_landmarks",
            "ig_val",
            "val",
            "val_std",
            "delta",
            "ig_test",
            "test",
            "test_std",
            "test_delta",
            "n_runs",
            "n_undefined",
            "n_test_undefined",
            "beats",
            "statement",
        )
        .sort("emotion", "ranking")
    )

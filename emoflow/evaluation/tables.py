"""The evaluation's tables: the one module that writes and reads ``results/evaluation/*``.

- ``predictions.parquet`` (:data:`~emoflow.evaluation.outer.PREDICTION_SCHEMA`): every
  procedure's outer-fold scores per sample, the chosen counts marked;
- ``estimates.parquet`` (:data:`~emoflow.evaluation.estimates.ESTIMATE_SCHEMA`): balanced
  accuracy of each procedure with its interval and n;
- ``differences.parquet`` (:data:`~emoflow.evaluation.estimates.DIFFERENCE_SCHEMA`): paired
  differences with their intervals and verdicts;
- ``curves.parquet`` (:data:`~emoflow.evaluation.estimates.CURVE_SCHEMA`): every ranking's
  outer-fold balanced accuracy at every iteration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from emoflow._tables import differing_columns, read_parquet, write_parquet
from emoflow.errors import InputError
from emoflow.evaluation.estimates import CURVE_SCHEMA, DIFFERENCE_SCHEMA, ESTIMATE_SCHEMA
from emoflow.evaluation.outer import PREDICTION_SCHEMA

__all__ = ["TABLES", "read_evaluation", "read_runs", "write_evaluation"]

TABLES: dict[str, dict[str, Any]] = {
    "predictions": PREDICTION_SCHEMA,
    "estimates": ESTIMATE_SCHEMA,
    "differences": DIFFERENCE_SCHEMA,
    "curves": CURVE_SCHEMA,
}
"""Each evaluation table by name, with its schema."""

_REMEDY = "delete it and rerun evaluate_nested (snakemake --forcerun evaluate_nested)"


def write_evaluation(kind: str, table: pl.DataFrame, path: str | Path) -> None:
    """Write one evaluation table (atomically), checked against its schema."""
    schema = TABLES[kind]
    if dict(table.schema) != schema:
        raise ValueError(f"{kind} table schema {dict(table.schema)} is not {schema}")
    write_parquet(table, path)


def read_evaluation(kind: str, path: str | Path) -> pl.DataFrame:
    """One evaluation table as :func:`write_evaluation` wrote it; an :class:`InputError` names
    the file when it is missing, damaged or of another schema."""
    table = read_parquet(path, what=f"{kind} table", remedy=_REMEDY)
    wrong = differing_columns(table, TABLES[kind])
    if wrong:
        raise InputError(path, f"not an evaluation {kind} table: column(s) {wrong} differ")
    return table


def read_runs(paths: dict[str, str | Path]) -> pl.DataFrame:
    """Several runs' ``predictions.parquet`` (repeated data seeds, say) as one table with a
    ``run`` column (the mapping's keys): :func:`~emoflow.evaluation.estimate_all` pools them,
    resampling each run's subjects within the run."""
    parts = [
        read_evaluation("predictions", path).with_columns(run=pl.lit(str(run)))
        for run, path in paths.items()
    ]
    if not parts:
        raise InputError("runs", "no predictions table given")
    return pl.concat(parts, how="vertical")

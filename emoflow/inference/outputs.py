"""Output files of the inference commands: formats by file name ending, written atomically;
``-`` (:data:`emoflow._outputs.STDOUT`) writes a CSV table to standard output."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import polars as pl

from emoflow._atomic import atomic_path
from emoflow._outputs import is_stdout
from emoflow._tables import write_parquet
from emoflow.errors import ConfigError

OUTPUT_SUFFIXES = (".csv", ".parquet")
"""Table formats, by file name ending."""


def check_suffix(path: str | Path, allowed: Collection[str], what: str) -> None:
    """ConfigError naming ``path`` unless its (lower-case) ending is one of ``allowed``."""
    if Path(path).suffix.lower() not in allowed:
        raise ConfigError(f"{path}: the {what} must end in {', '.join(allowed)}")


def output_format(out_path: str | Path) -> str:
    """``csv`` or ``parquet`` by the file name ending (``-``, standard output: ``csv``);
    ConfigError naming the file otherwise."""
    if is_stdout(out_path):
        return "csv"
    suffix = Path(out_path).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ConfigError(
            f"{out_path}: the output must end in {' or '.join(OUTPUT_SUFFIXES)} "
            "(CSV or Parquet table)"
        )
    return suffix.lstrip(".")


def write_table(table: pl.DataFrame, out_path: str | Path) -> None:
    """Write a table as CSV or Parquet (by the file name ending), atomically; ``-``: as CSV
    to standard output."""
    if is_stdout(out_path):
        import sys

        sys.stdout.write(table.write_csv())
        sys.stdout.flush()
        return
    if output_format(out_path) == "parquet":
        write_parquet(table, out_path)  # with page checksums, as every emoflow table
        return
    with atomic_path(out_path) as staged:
        table.write_csv(staged)


__all__ = ["OUTPUT_SUFFIXES", "check_suffix", "output_format", "write_table"]

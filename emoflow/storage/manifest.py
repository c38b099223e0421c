"""``manifest.parquet``: one row per video of a data set, sorted by ``video_id``, with at least
the columns of :data:`MANIFEST_SCHEMA` (adapter columns after them). :func:`write_manifest`
writes it, :func:`read_manifest` reads it; :mod:`emoflow.manifest` makes it from a data set's
labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from emoflow._tables import read_parquet, write_parquet
from emoflow.errors import InputError

MANIFEST_SCHEMA = pl.Schema(
    {"video_id": pl.String, "path": pl.String, "subject": pl.String, "emotion": pl.String}
)
"""Columns every manifest has, first and in this order; adapter columns follow."""
MANIFEST_COLUMNS: tuple[str, ...] = tuple(MANIFEST_SCHEMA.names())


def write_manifest(manifest: pl.DataFrame, path: str | Path) -> None:
    """Write a checked manifest (atomically, as every Parquet table)."""
    write_parquet(manifest, path)


def read_manifest(
    path: str | Path, *, required_columns: Sequence[str] = MANIFEST_COLUMNS
) -> pl.DataFrame:
    """Read a manifest Parquet file, checking that it has ``required_columns``.

    Raises
    ------
    InputError
        The file is missing, not Parquet, or lacks a required column.
    """
    manifest_path = Path(path)
    manifest = read_parquet(
        manifest_path,
        what="manifest",
        remedy="delete it and rerun build_manifest (snakemake --forcerun build_manifest)",
    )
    missing = [name for name in required_columns if name not in manifest.columns]
    if missing:
        raise InputError(
            manifest_path,
            f"manifest lacks column(s) {', '.join(missing)}; found {', '.join(manifest.columns)}",
        )
    return manifest

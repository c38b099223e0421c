"""Manifests: one table listing every video of a data set with its subject and emotion label.

A manifest is a Parquet file sorted by ``video_id`` with at least the columns of
:data:`MANIFEST_SCHEMA`; adapters may add their own columns (kept as read). ``path`` is
absolute or relative to the working directory: paths in label files are taken relative to
the label file's folder and rewritten so that they resolve from the working directory.

Adapters
--------
``demo``
    A demo folder's ``labels.csv`` (``video_id, path, subject, emotion, repetition,
    intensity``). The source may be the folder or the CSV file itself.
``csv``
    Any CSV or TSV with columns ``path``, ``label`` and ``subject``; optional ``video_id``
    (default: the file name without its suffix), ``start_s`` and ``end_s`` (seconds).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from emoflow._atomic import atomic_path
from emoflow.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

MANIFEST_SCHEMA = pl.Schema(
    {"video_id": pl.String, "path": pl.String, "subject": pl.String, "emotion": pl.String}
)
"""Columns every manifest has, first and in this order; adapter columns follow."""
MANIFEST_COLUMNS: tuple[str, ...] = tuple(MANIFEST_SCHEMA.names())
DEMO_LABELS = "labels.csv"
"""Name of the label file inside a demo folder."""
MAX_LISTED = 5
"""How many offending values an error message lists before summarising the rest."""


def _listing(values: Sequence[str]) -> str:
    """``a, b, c`` — at most :data:`MAX_LISTED` values, then how many more."""
    shown = ", ".join(str(value) for value in values[:MAX_LISTED])
    more = len(values) - MAX_LISTED
    return f"{shown} (and {more} more)" if more > 0 else shown


def _separator(label_file: Path) -> str:
    """Tab for ``.tsv``/``.tab`` files or a header with tabs and no commas; comma otherwise."""
    if label_file.suffix.lower() in {".tsv", ".tab"}:
        return "\t"
    with label_file.open(encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    return "\t" if "\t" in header and "," not in header else ","


def _read_label_file(
    label_file: Path, required: Sequence[str], text_columns: Sequence[str]
) -> pl.DataFrame:
    """Read a CSV/TSV label file, checking that it exists and has the required columns.

    Column names are stripped of surrounding spaces; ``text_columns`` are read as strings
    (so ``01`` stays ``01``) with surrounding spaces stripped, other columns are inferred.
    """
    if not label_file.is_file():
        problem = "is a folder, not a label file" if label_file.is_dir() else "does not exist"
        raise InputError(label_file, f"label file {problem}")
    separator = _separator(label_file)
    try:
        header = pl.read_csv(label_file, separator=separator, n_rows=0).columns
        overrides = {name: pl.String for name in header if name.strip() in text_columns}
        table = pl.read_csv(
            label_file,
            separator=separator,
            schema_overrides=overrides,
            infer_schema_length=None,
        )
    except pl.exceptions.NoDataError as err:
        raise InputError(label_file, "label file is empty") from err
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as err:
        raise InputError(label_file, f"cannot be parsed as a label table ({err})") from err
    table = table.rename({name: name.strip() for name in table.columns})
    missing = [name for name in required if name not in table.columns]
    if missing:
        raise InputError(
            label_file,
            f"missing column(s) {', '.join(missing)}; found {', '.join(table.columns)}",
        )
    return table.with_columns(
        pl.col(name).str.strip_chars() for name in text_columns if name in table.columns
    )


def _check_filled(table: pl.DataFrame, label_file: Path, columns: Sequence[str]) -> None:
    """Raise if a required column has empty cells, naming the lines (header is line 1)."""
    for name in columns:
        empty = table.select(
            (pl.col(name).is_null() | (pl.col(name) == "")).arg_true() + 2
        ).to_series()
        if empty.len():
            raise InputError(
                label_file,
                f"column {name!r} is empty on line(s) {_listing([str(n) for n in empty])}",
            )


def _resolve_paths(table: pl.DataFrame, base: Path) -> pl.DataFrame:
    """Rewrite relative ``path`` values (relative to ``base``) to resolve from the CWD."""

    def resolve(value: str) -> str:
        path = Path(value).expanduser()
        return str(path) if path.is_absolute() else os.path.normpath(base / path)

    return table.with_columns(pl.col("path").map_elements(resolve, return_dtype=pl.String))


def _demo(source: Path) -> tuple[Path, pl.DataFrame]:
    """The ``demo`` adapter: a demo folder's ``labels.csv``."""
    label_file = source / DEMO_LABELS if source.is_dir() else source
    table = _read_label_file(label_file, MANIFEST_COLUMNS, text_columns=MANIFEST_COLUMNS)
    _check_filled(table, label_file, MANIFEST_COLUMNS)
    return label_file, _resolve_paths(table, label_file.parent)


def _csv(source: Path) -> tuple[Path, pl.DataFrame]:
    """The ``csv`` adapter: ``path``, ``label``, ``subject`` (+ ``video_id``, times)."""
    label_file = source
    text_columns = ("video_id", "path", "label", "subject")
    table = _read_label_file(label_file, ("path", "label", "subject"), text_columns)
    if "emotion" in table.columns:
        raise InputError(
            label_file, "has both 'label' and 'emotion' columns; keep one, named 'label'"
        )
    _check_filled(table, label_file, ("path", "label", "subject"))
    table = table.rename({"label": "emotion"})
    if "video_id" in table.columns:
        _check_filled(table, label_file, ("video_id",))
    else:
        table = table.with_columns(
            pl.col("path")
            .map_elements(lambda value: Path(value).stem, return_dtype=pl.String)
            .alias("video_id")
        )
    for name in ("start_s", "end_s"):
        if name in table.columns:
            try:
                table = table.with_columns(pl.col(name).cast(pl.Float64, strict=True))
            except pl.exceptions.PolarsError as err:
                raise InputError(label_file, f"column {name!r} must hold seconds") from err
    if "start_s" in table.columns:
        negative = table.filter(pl.col("start_s") < 0)["video_id"].to_list()
        if negative:
            raise InputError(label_file, f"negative start_s for {_listing(negative)}")
    if "start_s" in table.columns and "end_s" in table.columns:
        reversed_times = table.filter(pl.col("end_s") <= pl.col("start_s"))["video_id"]
        if reversed_times.len():
            raise InputError(
                label_file, f"end_s is not after start_s for {_listing(reversed_times.to_list())}"
            )
    return label_file, _resolve_paths(table, label_file.parent)


ADAPTERS: dict[str, Callable[[Path], tuple[Path, pl.DataFrame]]] = {"csv": _csv, "demo": _demo}
"""Adapter name → function reading a source into (label file, raw manifest)."""


def _validate(
    table: pl.DataFrame,
    label_file: Path,
    *,
    emotions: Sequence[str] | None,
    check_files: bool,
) -> pl.DataFrame:
    """Check a raw manifest and return it sorted by ``video_id``, core columns first."""
    if table.height == 0:
        raise InputError(label_file, "lists no videos (the manifest would be empty)")
    counts = table.group_by("video_id").len().filter(pl.col("len") > 1).sort("video_id")
    if counts.height:
        duplicates = [f"{row[0]} ({row[1]} rows)" for row in counts.iter_rows()]
        raise InputError(label_file, f"duplicate video_id(s): {_listing(duplicates)}")
    if emotions is not None:
        allowed = list(dict.fromkeys(emotions))
        unknown = sorted(set(table["emotion"].unique().to_list()) - set(allowed))
        if unknown:
            raise InputError(
                label_file,
                f"label(s) {', '.join(unknown)} are not among the configured emotions; "
                f"allowed: {', '.join(allowed)}",
            )
    if check_files:
        missing = [path for path in table["path"].to_list() if not Path(path).exists()]
        if missing:
            raise InputError(
                label_file, f"{len(missing)} listed video file(s) do not exist: {_listing(missing)}"
            )
    extras = [name for name in table.columns if name not in MANIFEST_COLUMNS]
    return table.select(*MANIFEST_COLUMNS, *extras).sort("video_id")


def build_manifest(
    adapter: str,
    source: str | Path,
    out_path: str | Path,
    *,
    emotions: Sequence[str] | None = None,
    check_files: bool = True,
) -> pl.DataFrame:
    """Read a data set's labels with an adapter, check them and write the manifest.

    Parameters
    ----------
    adapter
        One of :data:`ADAPTERS` (``demo``, ``csv``).
    source
        What the adapter reads: a demo folder (or its ``labels.csv``) or a CSV/TSV file.
    out_path
        The manifest Parquet file, written atomically.
    emotions
        Labels allowed; any other label is an error. ``None`` allows all.
    check_files
        Check that every listed video file (or frame folder) exists.

    Returns
    -------
    polars.DataFrame
        The manifest as written: sorted by ``video_id``, :data:`MANIFEST_SCHEMA` columns
        first, adapter columns after.

    Raises
    ------
    ConfigError
        Unknown adapter.
    InputError
        Label file missing, unparsable or lacking columns; empty cells, duplicate
        ``video_id``, labels outside ``emotions``, missing video files, or no rows; the
        label file is named.
    """
    if adapter not in ADAPTERS:
        raise ConfigError(
            f"unknown manifest adapter {adapter!r} for {source}; "
            f"valid adapters: {', '.join(sorted(ADAPTERS))}"
        )
    label_file, table = ADAPTERS[adapter](Path(source))
    manifest = _validate(table, label_file, emotions=emotions, check_files=check_files)
    with atomic_path(out_path) as staged:
        manifest.write_parquet(staged, compression="zstd")
    logger.info(
        "manifest %s: %d videos, %d subjects, emotions %s (from %s)",
        out_path,
        manifest.height,
        manifest["subject"].n_unique(),
        ", ".join(sorted(manifest["emotion"].unique().to_list())),
        label_file,
    )
    return manifest


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
    if not manifest_path.is_file():
        raise InputError(manifest_path, "manifest does not exist")
    try:
        manifest = pl.read_parquet(manifest_path)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise InputError(manifest_path, f"not a readable Parquet manifest ({err})") from err
    missing = [name for name in required_columns if name not in manifest.columns]
    if missing:
        raise InputError(
            manifest_path,
            f"manifest lacks column(s) {', '.join(missing)}; found {', '.join(manifest.columns)}",
        )
    return manifest

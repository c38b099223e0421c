"""What every data-set adapter shares: the base class and the label-file helpers.

An adapter reads a data set's labels into a raw manifest table (``video_id``, ``path``,
``subject``, ``emotion`` and its own columns); :func:`emoflow.manifest.build_manifest` checks
and writes it. The class also answers what the workflow must know before the run
(:meth:`DatasetAdapter.label_file`, :meth:`DatasetAdapter.planned`,
:meth:`DatasetAdapter.extraction_inputs`, :meth:`DatasetAdapter.ground_truth`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from emoflow.errors import ConfigError, InputError

logger = logging.getLogger("emoflow.manifest")
"""The manifest stage's log channel (adapters log what they select and drop)."""

MAX_LISTED = 5
"""How many offending values an error message lists before summarising the rest."""


class DatasetAdapter:
    """Base of the data-set adapters: options checked once, one :meth:`read` per data set.

    Subclasses set :attr:`name`, :attr:`options` (the option names they take) and
    :attr:`fixed_labels`, and implement :meth:`read`.

    Parameters
    ----------
    options
        The adapter's options (``None``: its defaults); unknown options are a ConfigError.
    """

    name: ClassVar[str]
    """The ``dataset.adapter`` value of the configuration."""
    options: ClassVar[tuple[str, ...]] = ()
    """Option names the adapter takes."""
    fixed_labels: ClassVar[bool] = False
    """Whether the label set is fixed by the data set: videos whose emotion is not configured
    are then dropped (counted in the log) instead of being an error."""
    made_by_workflow: ClassVar[bool] = False
    """Whether the workflow makes the source itself (the demo)."""
    synthetic: ClassVar[bool] = False
    """Whether the videos are synthetic, not recordings of people (the demo): models trained
    on them say so wherever their predictions are written."""

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.settings = dict(options or {})
        _no_options(self.name, self.settings, self.options)

    def read(self, source: Path) -> tuple[Path, pl.DataFrame]:
        """Read ``source`` into (the file or folder that labels it, raw manifest table)."""
        raise NotImplementedError

    def planned(self, source: Path, config: Mapping[str, Any]) -> tuple[Path, pl.DataFrame] | None:
        """What :meth:`read` will give, known before the run (``None``: not knowable yet).

        The workflow plans its landmark shards from it, so that a shard's extraction depends
        on its own videos only (a label fix re-extracts nothing). By default the source is
        read as it is now; ``config`` is the workflow configuration.
        """
        return self.read(source) if source.exists() else None

    # -- what the workflow asks before the run (workflow/rules/common.smk) -----------------

    @classmethod
    def label_file(cls, source: str) -> str:
        """The file (or folder) that labels the videos: the input of the manifest rule."""
        if not Path(source).exists():
            raise FileNotFoundError(
                f"dataset.source {source!r} does not exist (adapter {cls.name!r}); point it "
                "at the data set"
            )
        return source

    @classmethod
    def extraction_inputs(cls, source: str) -> list[str]:
        """Files the landmark jobs must wait for beyond the manifest (none: the videos exist
        before the run; their sizes and times are in each shard's plan)."""
        return []

    @classmethod
    def ground_truth(cls, source: str) -> str | None:
        """The file naming the landmarks that carry each emotion, if the data set has one."""
        return None


def listing(values: Sequence[str]) -> str:
    """``a, b, c`` — at most :data:`MAX_LISTED` values, then how many more."""
    shown = ", ".join(str(value) for value in values[:MAX_LISTED])
    more = len(values) - MAX_LISTED
    return f"{shown} (and {more} more)" if more > 0 else shown


def csv_separator(label_file: Path) -> str:
    """Tab for ``.tsv``/``.tab`` files or a header with tabs and no commas; comma otherwise."""
    if label_file.suffix.lower() in {".tsv", ".tab"}:
        return "\t"
    with label_file.open(encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    return "\t" if "\t" in header and "," not in header else ","


def read_label_file(
    label_file: Path, required: Sequence[str], text_columns: Sequence[str]
) -> pl.DataFrame:
    """Read a CSV/TSV label file, checking that it exists and has the required columns.

    Column names are stripped of surrounding spaces; ``text_columns`` are read as strings
    (so ``01`` stays ``01``) with surrounding spaces stripped, other columns are inferred.
    """
    if not label_file.is_file():
        problem = "is a folder, not a label file" if label_file.is_dir() else "does not exist"
        raise InputError(label_file, f"label file {problem}")
    separator = csv_separator(label_file)
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


def check_filled(table: pl.DataFrame, label_file: Path, columns: Sequence[str]) -> None:
    """Raise if a required column has empty cells, naming the lines (header is line 1)."""
    for name in columns:
        empty = table.select(
            (pl.col(name).is_null() | (pl.col(name) == "")).arg_true() + 2
        ).to_series()
        if empty.len():
            raise InputError(
                label_file,
                f"column {name!r} is empty on line(s) {listing([str(n) for n in empty])}",
            )


def resolve_paths(table: pl.DataFrame, base: Path) -> pl.DataFrame:
    """Rewrite relative ``path`` values (relative to ``base``) to resolve from the CWD."""

    def resolve(value: str) -> str:
        path = Path(value).expanduser()
        return str(path) if path.is_absolute() else os.path.normpath(base / path)

    return table.with_columns(pl.col("path").map_elements(resolve, return_dtype=pl.String))


def _no_options(adapter: str, options: Mapping[str, Any], allowed: Sequence[str] = ()) -> None:
    """Raise ConfigError for any option ``adapter`` does not take."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        takes = f"it takes {', '.join(allowed)}" if allowed else "it takes none"
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for adapter {adapter!r}; {takes}"
        )


def label_table(source: Path) -> tuple[Path, pl.DataFrame]:
    """Read and check a ``path, label, subject`` table (the ``csv`` adapter's format)."""
    label_file = source
    text_columns = ("video_id", "path", "label", "subject")
    table = read_label_file(label_file, ("path", "label", "subject"), text_columns)
    if "emotion" in table.columns:
        raise InputError(
            label_file, "has both 'label' and 'emotion' columns; keep one, named 'label'"
        )
    check_filled(table, label_file, ("path", "label", "subject"))
    table = table.rename({"label": "emotion"})
    if "video_id" in table.columns:
        check_filled(table, label_file, ("video_id",))
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
            raise InputError(label_file, f"negative start_s for {listing(negative)}")
    if "end_s" in table.columns:
        not_positive = table.filter(pl.col("end_s") <= 0)["video_id"].to_list()
        if not_positive:
            raise InputError(label_file, f"end_s is not after 0 for {listing(not_positive)}")
    if "start_s" in table.columns and "end_s" in table.columns:
        reversed_times = table.filter(pl.col("end_s") <= pl.col("start_s"))["video_id"]
        if reversed_times.len():
            raise InputError(
                label_file, f"end_s is not after start_s for {listing(reversed_times.to_list())}"
            )
    return label_file, resolve_paths(table, label_file.parent)


def merged_label_map(
    option_value: Any, names: Mapping[str, str], default: Mapping[str, str | None], what: str
) -> dict[str, str | None]:
    """Merge a user label map (keys: data set names or codes) over ``default``.

    Returns data set emotion name → emoflow emotion name (``None``: drop those videos).
    """
    merged = dict(default)
    if option_value is None:
        return merged
    if not isinstance(option_value, Mapping):
        raise ConfigError(f"label_map for {what} must be a mapping, got {option_value!r}")
    codes = {str(code): name for code, name in names.items()}
    for key, value in option_value.items():
        text = str(key).strip()
        if isinstance(key, int | float) and not isinstance(key, bool):
            text = str(int(key))
        if len(text) == 1 and f"0{text}" in codes:
            text = f"0{text}"
        name = codes.get(text, text)
        if name not in default:
            valid = ", ".join(f"{name} ({code})" for code, name in names.items())
            raise ConfigError(f"label_map for {what}: unknown label {key!r}; valid: {valid}")
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise ConfigError(
                f"label_map for {what}: {key!r} must map to an emotion name or null, got {value!r}"
            )
        merged[name] = value.strip() if isinstance(value, str) else None
    return merged


def drop_unmapped(table: pl.DataFrame, source: Path) -> pl.DataFrame:
    """Drop the rows whose label the label map sends to null, logging their count."""
    unmapped = table.filter(pl.col("emotion").is_null())
    if unmapped.height:
        logger.info(
            "%s: %d videos dropped by the label map (null emotion)", source, unmapped.height
        )
    return table.filter(pl.col("emotion").is_not_null())

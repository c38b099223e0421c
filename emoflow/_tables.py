"""Parquet tables that emoflow writes and reads back: one writer, one verifying reader.

Every Parquet file emoflow writes carries a CRC-32 checksum per data page
(:data:`PARQUET_CHECKSUMS`, pyarrow's ``write_page_checksum``), and every read of one checks
them (:data:`PARQUET_VERIFY`, ``page_checksum_verification``), so a flipped byte in a stored
table is an error naming the file instead of silently different numbers. Every file also
carries a SHA-256 of all of its bytes, footer and key-value metadata included, checked before
it is parsed (:mod:`emoflow._integrity`). Files written before checksums or digests existed
have none to check and are read as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emoflow._atomic import atomic_path
from emoflow._integrity import check_parquet, seal_parquet, sealable_metadata
from emoflow.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import polars as pl
    import pyarrow as pa

PARQUET_CHECKSUMS: dict[str, Any] = {"write_page_checksum": True}
"""Options of every ``pyarrow.parquet`` writer of emoflow: a CRC-32 checksum in each page."""
PARQUET_VERIFY: dict[str, Any] = {"page_checksum_verification": True}
"""Options of every ``pyarrow.parquet`` read of emoflow: pages with a checksum are verified."""
DEFAULT_REMEDY = "delete it and rerun the command or workflow job that wrote it"
"""What a damaged table's message tells to do when the caller names nothing better."""


def damaged(path: str | Path, err: Exception, remedy: str = DEFAULT_REMEDY) -> InputError:
    """The error for a table whose data cannot be read back intact (checksum, truncation), on
    one line (pyarrow's messages may span several)."""
    reason = " ".join(str(err).split())
    return InputError(path, f"corrupt or truncated Parquet data ({reason}); {remedy}")


def write_parquet(
    table: pl.DataFrame | pa.Table, path: str | Path, *, compression: str = "zstd"
) -> None:
    """Write a Polars frame or Arrow table as Parquet with page checksums and a whole-file
    digest (:func:`emoflow._integrity.seal_parquet`), atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = table if isinstance(table, pa.Table) else table.to_arrow()
    arrow = arrow.replace_schema_metadata(sealable_metadata(arrow.schema.metadata))
    with atomic_path(path) as staged:
        pq.write_table(arrow, staged, compression=compression, **PARQUET_CHECKSUMS)
        seal_parquet(staged)


def _load(path: str | Path, columns: list[str] | None, remedy: str, options: dict) -> pa.Table:
    """The table, page checksums verified; a damaged page is an InputError naming the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # pyarrow, unlike polars, checks page checksums and reports damaged pages as
        # Python exceptions (never panics)
        if options:  # filters and the like: the dataset reader
            return pq.read_table(path, columns=columns, **PARQUET_VERIFY, **options)
        # one file: its reader alone; read_table's dataset layer imports pyarrow.dataset and
        # pandas (0.23 s of every job that reads a table) for the same table and metadata
        with pq.ParquetFile(path, **PARQUET_VERIFY) as parquet:
            return parquet.read(columns=columns)
    except MemoryError:  # out of memory is no damage of the file (pyarrow's is an ArrowException)
        raise
    except (OSError, pa.ArrowException, ValueError) as err:
        raise damaged(path, err, remedy) from err


def check_table(path: str | Path, remedy: str = DEFAULT_REMEDY) -> None:
    """Check a Parquet file's digests (:func:`emoflow._integrity.check_parquet`) before
    anything parses it: a damaged footer is never parsed; damaged data pages are named by
    their page checksum where it catches them.

    Raises
    ------
    InputError
        Naming the file and ``remedy``.
    """
    check_parquet(path, remedy, on_damaged_data=lambda: _load(path, None, remedy, {}))


def read_arrow(
    path: str | Path,
    *,
    columns: list[str] | None = None,
    remedy: str = DEFAULT_REMEDY,
    digests_checked: bool = False,
    **options,
) -> pa.Table:
    """A Parquet file as an Arrow table, its digests (:func:`check_table`, unless the caller
    did: ``digests_checked``) and page checksums verified.

    Raises
    ------
    InputError
        Naming the file and ``remedy``: not Parquet, truncated, its bytes do not match its
        digests, or a page's checksum fails.
    """
    if not digests_checked:
        check_table(path, remedy)
    return _load(path, columns, remedy, options)


def differing_columns(table: pl.DataFrame, schema: dict[str, Any]) -> list[str]:
    """The columns that ``table`` lacks, adds or holds in another type than ``schema``, sorted:
    none when the table is of that schema."""
    return sorted(
        name
        for name in set(schema) | set(table.schema)
        if schema.get(name) != table.schema.get(name)
    )


def read_parquet(
    path: str | Path, *, what: str = "", missing_hint: str = "", remedy: str = DEFAULT_REMEDY
) -> pl.DataFrame:
    """The table at ``path``; an :class:`InputError` when it is missing, not Parquet or damaged
    (its digest, then its page checksums: :func:`read_arrow`).

    ``what`` names the table in the messages (``"manifest does not exist"``, ``"not a readable
    Parquet manifest"``; by default ``"does not exist"``, ``"not a readable Parquet file"``);
    ``missing_hint`` is appended to the message of a missing file, ``remedy`` to that of a
    damaged one. Page checksums are verified (:func:`read_arrow`).
    """
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not Path(path).is_file():
        raise InputError(path, f"{what + ' ' if what else ''}does not exist{missing_hint}")
    check_table(path, remedy)
    try:
        pq.read_schema(path)
    except (OSError, pa.ArrowException, UnicodeDecodeError) as err:
        raise InputError(path, f"not a readable Parquet {what or 'file'} ({err})") from err
    frame = pl.from_arrow(read_arrow(path, remedy=remedy, digests_checked=True))
    assert isinstance(frame, pl.DataFrame)
    return frame


def arrow_array(
    values: Sequence[Any] | np.ndarray, type: pa.DataType, *, null: np.ndarray | None = None
) -> pa.Array:
    """``pyarrow.array(values, type=type)`` for fixed-width numbers or booleans, built from the
    values' NumPy buffer instead: ``pyarrow.array`` asks its pandas shim whether any object
    that is not an Arrow one is a pandas object, which imports pandas (0.1–0.3 s of a
    process's CPU) into a job that never uses it (the landmark extraction).

    ``values`` is cast to ``type``'s NumPy dtype (``None``, only where ``null`` is not given,
    becomes null); ``null`` marks null entries (their values are ignored). Like
    ``pyarrow.array``, a contiguous NumPy array of that dtype without nulls is not copied: the
    Arrow array shares its memory. Strings: :func:`repeated_string`.
    """
    import numpy as np
    import pyarrow as pa

    dtype = np.dtype(bool) if type == pa.bool_() else np.dtype(type.to_pandas_dtype())
    if null is None and not isinstance(values, np.ndarray) and any(v is None for v in values):
        null = np.array([v is None for v in values], dtype=bool)
        values = [0 if v is None else v for v in values]
    data = np.ascontiguousarray(values, dtype=dtype)
    if data.ndim != 1:
        raise ValueError(f"arrow_array takes one dimension, got shape {data.shape}")
    validity = None
    null_count = 0
    if null is not None:
        null = np.asarray(null, dtype=bool)
        if null.shape != data.shape:
            raise ValueError(f"null has shape {null.shape}, the values {data.shape}")
        null_count = int(null.sum())
        if null_count:
            data = data.copy()  # never the caller's array
            data[null] = 0  # what pyarrow.array leaves in a null slot
            validity = pa.py_buffer(np.packbits(~null, bitorder="little"))
    if dtype == np.dtype(bool):
        buffer = pa.py_buffer(np.packbits(data, bitorder="little"))
    else:
        buffer = pa.py_buffer(data)
    return pa.Array.from_buffers(type, len(data), [validity, buffer], null_count=null_count)


def repeated_string(value: str, n: int) -> pa.Array:
    """``pyarrow.array([value] * n, type=pyarrow.string())``, built from its buffers (see
    :func:`arrow_array`)."""
    import numpy as np
    import pyarrow as pa

    encoded = value.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int64) * len(encoded)
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError(f"{n} copies of {value!r} exceed a string array's 2 GiB")
    return pa.Array.from_buffers(
        pa.string(),
        n,
        [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(encoded * n)],
    )


def arrow_scalar(value: Any, type: pa.DataType) -> pa.Scalar:
    """``pyarrow.scalar(value, type=type)`` for a number or boolean, without the pandas import
    of ``pyarrow.scalar`` (:func:`arrow_array`); pyarrow.compute functions given a plain
    Python value make one with ``pyarrow.scalar``, so pass them this instead."""
    return arrow_array([value], type)[0]

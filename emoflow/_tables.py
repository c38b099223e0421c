"""Reading a Parquet table that emoflow wrote, with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from emoflow.errors import InputError

if TYPE_CHECKING:
    import polars as pl


def read_parquet(path: str | Path, *, what: str = "", missing_hint: str = "") -> pl.DataFrame:
    """The table at ``path``; an :class:`InputError` when it is missing or not Parquet.

    ``what`` names the table in the messages (``"manifest does not exist"``, ``"not a readable
    Parquet manifest"``; by default ``"does not exist"``, ``"not a readable Parquet file"``);
    ``missing_hint`` is appended to the message of a missing file.
    """
    import polars as pl

    if not Path(path).is_file():
        raise InputError(path, f"{what + ' ' if what else ''}does not exist{missing_hint}")
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise InputError(path, f"not a readable Parquet {what or 'file'} ({err})") from err

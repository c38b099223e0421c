"""Atomic writes: every output goes to a temporary sibling and is renamed when complete.

A killed job therefore leaves either the old file or nothing, never a half-written file that a
rerun would trust.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | Path, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` if the block succeeds.

    Parameters
    ----------
    path
        Final destination (a file, or a folder such as a Zarr store when ``directory``).
    directory
        Whether the output is a folder.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    staged = tmp_dir / final.name
    try:
        yield staged
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        os.replace(staged, final)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def json_ready(payload: Any) -> Any:
    """A copy of ``payload`` in which every non-finite float (an undefined score: NaN, ±inf)
    is ``None``, so that it is written as JSON's ``null`` (``NaN`` is not JSON: browsers,
    ``jq`` and strict parsers refuse it)."""
    if isinstance(payload, float):
        return payload if math.isfinite(payload) else None
    if isinstance(payload, dict):
        return {key: json_ready(value) for key, value in payload.items()}
    if isinstance(payload, list | tuple):
        return [json_ready(value) for value in payload]
    return payload


def write_json(path: str | Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON, atomically; undefined numbers (NaN) as ``null``
    (:func:`json_ready`)."""
    text = json.dumps(json_ready(payload), indent=2, sort_keys=False, allow_nan=False)
    with atomic_path(path) as staged:
        staged.write_text(text + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file, naming the file when it is missing or malformed."""
    from emoflow.errors import InputError

    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as err:
        raise InputError(path, "file does not exist") from err
    except json.JSONDecodeError as err:
        raise InputError(path, f"not valid JSON ({err})") from err


JSON_ATTRIBUTES = "emoflow_json_attributes"
"""The attribute that lists (space-separated) which of a Zarr group's or array's attributes
:func:`portable_attributes` wrote as JSON strings."""


def portable_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """Attributes that netCDF (and so ``xarray``'s ``to_netcdf``) can hold: strings and numbers
    as they are, anything else (mappings, lists, booleans, ``None``) as a JSON string, each
    such key listed in :data:`JSON_ATTRIBUTES` for :func:`decoded_attributes`."""
    out: dict[str, Any] = {}
    encoded: list[str] = []
    for key, value in attributes.items():
        if isinstance(value, str) or (
            isinstance(value, int | float) and not isinstance(value, bool)
        ):
            out[key] = value
        else:
            out[key] = json.dumps(json_ready(value))
            encoded.append(key)
    if encoded:
        out[JSON_ATTRIBUTES] = " ".join(encoded)
    return out


def decoded_attributes(attributes: Any) -> dict[str, Any]:
    """The attributes :func:`portable_attributes` wrote, JSON strings decoded (attributes
    written before, as plain JSON values, are returned as they are)."""
    values = dict(attributes)
    listed = values.pop(JSON_ATTRIBUTES, "")
    for key in str(listed).split():
        if isinstance(values.get(key), str):
            values[key] = json.loads(values[key])
    return values

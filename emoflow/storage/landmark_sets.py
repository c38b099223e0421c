"""``landmarks.json``: the landmarks each emotion keeps in a pruning iteration.

The one module that reads and writes the file. Its record is ::

    {"iteration": i, "emotions": {emotion: [landmark ids]}, ...}

followed by what the writer adds (pruning records ``dropped``, ``stopped`` and its
``settings``; iteration 0 records ``dropped`` and ``start``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emoflow._atomic import read_json, write_json
from emoflow.errors import DataError, InputError

__all__ = [
    "gather_landmark_sets",
    "read_landmark_record",
    "read_landmark_sets",
    "write_landmark_sets",
]


def read_landmark_record(path: str | Path) -> dict[str, Any]:
    """The whole record of a ``landmarks.json`` (its ``emotions`` checked to be a mapping)."""
    record = read_json(path)
    sets = record.get("emotions") if isinstance(record, dict) else None
    if not isinstance(sets, dict):
        raise InputError(
            path, 'not a landmark-set file: expected {"emotions": {emotion: [landmark ids]}}'
        )
    return record


def read_landmark_sets(
    path: str | Path, emotions: Sequence[str] | None = None
) -> dict[str, list[int]]:
    """Per-emotion landmark ids of an iteration's ``landmarks.json``.

    Parameters
    ----------
    path
        The file.
    emotions
        The emotions wanted, in this order; a missing one is a :class:`DataError`.
        ``None``: every emotion of the file.
    """
    sets = read_landmark_record(path)["emotions"]
    if emotions is None:
        emotions = list(sets)
    missing = [emotion for emotion in emotions if emotion not in sets]
    if missing:
        raise DataError(f"{path}: no landmark set for emotion(s) {missing}")
    return {emotion: [int(i) for i in sets[emotion]] for emotion in emotions}


def write_landmark_sets(path: str | Path, sets: Mapping[str, Sequence[int]], **extra: Any) -> None:
    """Write ``landmarks.json`` atomically.

    The record is ``iteration`` (when given in ``extra``), ``emotions`` (``sets``, ids as
    integers) and then the other ``extra`` entries in the order given.
    """
    record: dict[str, Any] = {}
    if "iteration" in extra:
        record["iteration"] = extra.pop("iteration")
    record["emotions"] = {emotion: [int(i) for i in ids] for emotion, ids in sets.items()}
    record.update(extra)
    write_json(path, record)


def gather_landmark_sets(paths: Sequence[str | Path], out_path: str | Path) -> dict[str, Any]:
    """Merge one-emotion ``landmarks.json`` files of an iteration into the iteration's file.

    Per-emotion entries (``emotions``, ``dropped``, ``stopped``) are merged and ordered by
    emotion name (the feature store's order); other entries (``iteration``, ``settings``,
    ``start``) are taken from the first file, and must agree between the files.
    """
    if not paths:
        raise DataError("no landmark-set file to gather")
    merged: dict[str, Any] = {}
    for path in paths:
        record = read_landmark_record(path)
        for key, value in record.items():
            if isinstance(value, dict) and key in ("emotions", "dropped", "stopped"):
                merged.setdefault(key, {}).update(value)
            elif key not in merged:
                merged[key] = value
            elif merged[key] != value:
                raise DataError(
                    f"{path}: {key} {value!r} differs from {paths[0]}'s {merged[key]!r}"
                )
    for key in ("emotions", "dropped", "stopped"):
        if key in merged:
            merged[key] = dict(sorted(merged[key].items()))
    sets = merged.pop("emotions")
    write_landmark_sets(out_path, sets, **merged)
    return {"emotions": sets, **merged}

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

__all__ = ["read_landmark_record", "read_landmark_sets", "write_landmark_sets"]


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

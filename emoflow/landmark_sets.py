"""The owner of ``landmarks.json``: each pruning iteration's kept landmarks per emotion.

The record is a JSON object ``{"iteration": i, "emotions": {emotion: [landmark ids]}, …}``;
pruning adds what it dropped and why (``dropped``, ``stopped``, ``settings``, ``start``).
Training and attribution read the sets with :func:`read_landmark_sets`; nothing else opens
the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emoflow._atomic import read_json, write_json
from emoflow.errors import DataError, InputError

__all__ = ["read_landmark_record", "read_landmark_sets", "write_landmark_sets"]

_SHAPE = 'expected {"emotions": {emotion: [landmark ids]}}'


def write_landmark_sets(path: str | Path, record: dict[str, Any]) -> None:
    """Write a landmark-set record (atomically); it must hold ``emotions``."""
    if not isinstance(record.get("emotions"), dict):
        raise DataError(f"{path}: a landmark-set record needs emotions; {_SHAPE}")
    write_json(path, record)


def read_landmark_record(path: str | Path) -> dict[str, Any]:
    """The whole record of a ``landmarks.json`` (sets and pruning facts)."""
    record = read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("emotions"), dict):
        raise InputError(path, f"not a landmark-set file: {_SHAPE}")
    return record


def read_landmark_sets(path: str | Path, emotions: list[str]) -> dict[str, np.ndarray]:
    """Per-emotion landmark ids from an iteration's ``landmarks.json``."""
    sets = read_landmark_record(path)["emotions"]
    missing = [emotion for emotion in emotions if emotion not in sets]
    if missing:
        raise DataError(f"{path}: no landmark set for emotion(s) {missing}")
    return {emotion: np.asarray(sets[emotion], dtype=np.int64) for emotion in emotions}

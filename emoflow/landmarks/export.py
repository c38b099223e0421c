"""Landmark tables → a wide CSV that other tools open: py-feat's column names, units stated.

One row per frame of a table (every frame, or the meshed ones), one column per coordinate in
py-feat's ``Fex`` naming: ``x_0 … x_{n-1}``, ``y_0 …``, then ``z_0 …`` (left out when no video
has a z: 2-D trackers). Before them, per row: ``video_id``, ``frame``, ``timestamp_s``,
``face_found``, ``detection_score``, ``n_faces``, and per video ``n_frames`` (the video's frame
count: more than its rows when only the frames the features read were meshed), ``width`` and
``height`` (the frame size in pixels, empty when unknown), ``units`` (``pixels`` or
``normalised``, what the coordinates are), ``tracker`` and ``tracker_version``. A frame without
a face has empty coordinates. ``pandas.read_csv`` reads it as it is, and
:func:`emoflow.landmarks.import_landmarks` reads it back into the same table (and so the same
features).

``units="pixels"`` (py-feat's, the default) multiplies normalised coordinates by the frame
size (``z``, on ``x``'s scale, by the width); ``normalised`` keeps MediaPipe's fractions of
the frame. A video whose coordinates cannot be given in the units asked for (pixels of a frame
of unknown size) is written in its own, which its ``units`` cell says, with a warning.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow._atomic import atomic_path
from emoflow._outputs import is_stdout
from emoflow.errors import ConfigError, DataError
from emoflow.storage.landmark_table.reader import landmark_files, read_landmarks, read_video_records
from emoflow.storage.landmark_table.schema import (
    EXTRACTOR,
    META_EXTRACTOR,
    META_MEDIAPIPE_VERSION,
)

log = logging.getLogger(__name__)

EXPORT_UNITS: tuple[str, ...] = ("pixels", "normalised")
"""Values of :func:`export_wide_csv`'s ``units``."""


def _provenance(paths: Sequence[Path]) -> dict[str, tuple[str | None, str | None]]:
    """Video id → (tracker, version) from the tables' records and metadata."""
    import pyarrow.parquet as pq

    found: dict[str, tuple[str | None, str | None]] = {}
    for file in paths:
        metadata = {
            key.decode(): value.decode()
            for key, value in (pq.read_schema(file).metadata or {}).items()
        }
        for video_id, record in read_video_records(file).items():
            if record.get("landmarks_format") is None and metadata.get(
                META_EXTRACTOR, ""
            ).startswith(EXTRACTOR):
                found[video_id] = (EXTRACTOR, metadata.get(META_MEDIAPIPE_VERSION))
            else:
                found[video_id] = (record.get("tracker"), record.get("tracker_version"))
    return found


def wide_table(paths: str | Path | Sequence[str | Path], *, units: str = "pixels") -> pl.DataFrame:
    """The wide table of landmark tables (see the module's description).

    Parameters
    ----------
    paths
        Landmark tables (files, folders or glob patterns, as :func:`read_landmarks` takes).
    units
        ``pixels`` or ``normalised`` (:data:`EXPORT_UNITS`).

    Raises
    ------
    ConfigError
        Unknown ``units``.
    DataError
        A video in OpenFace's millimetres (no pixel or normalised form).
    """
    if units not in EXPORT_UNITS:
        raise ConfigError(f"units must be one of {', '.join(EXPORT_UNITS)}, got {units!r}")
    files = landmark_files(paths)
    table = read_landmarks(files)
    records: dict[str, dict[str, Any]] = {}
    for file in files:
        records |= read_video_records(file)
    trackers = _provenance(files)
    n_points = int(table.schema["landmarks"].shape[0])  # type: ignore[attr-defined]
    values = np.full((table.height, n_points, 3), np.nan, dtype=np.float64)
    present = table["landmarks"].is_not_null().to_numpy()
    if present.any():
        values[present] = np.asarray(
            table.filter(pl.Series(present))["landmarks"].to_numpy(), dtype=np.float64
        )
    ids = table["video_id"].to_numpy()
    per_video: dict[str, dict[str, Any]] = {}
    for video_id in dict.fromkeys(ids.tolist()):
        record = records.get(video_id, {})
        own = record.get("units") or "normalised"
        if own == "millimetres":
            raise DataError(
                f"video {video_id!r} holds OpenFace's 3-D points in millimetres, which have no "
                "pixel or normalised form; export its 2-D points instead"
            )
        width, height = record.get("width"), record.get("height")
        written = own
        rows = ids == video_id
        if units == "pixels" and own == "normalised":
            if width and height:
                values[rows] *= np.array([width, height, width], dtype=np.float64)
                written = "pixels"
            else:
                log.warning(
                    "video %s: the frame size is unknown, so its landmarks are written "
                    "normalised (its units column says so)",
                    video_id,
                )
        elif units == "normalised" and own == "pixels":
            log.warning(
                "video %s: pixels of a frame of unknown size cannot be normalised; written in "
                "pixels (its units column says so)",
                video_id,
            )
        meshed = record.get("meshed_frames")
        tracker, version = trackers.get(video_id, (None, None))
        per_video[video_id] = {
            "n_frames": int(record["n_frames"]) if meshed is not None else None,
            "width": width,
            "height": height,
            "units": written,
            "tracker": tracker,
            "tracker_version": version,
        }
    has_z = bool(np.isfinite(values[..., 2]).any()) or not present.any()
    columns: dict[str, Any] = {
        "video_id": table["video_id"],
        "frame": table["frame"],
        "timestamp_s": table["timestamp_s"],
        "face_found": table["face_found"],
        "detection_score": table["detection_score"],
        "n_faces": table["n_faces"],
    }
    for name, dtype in (
        ("n_frames", pl.Int64),
        ("width", pl.Int64),
        ("height", pl.Int64),
        ("units", pl.String),
        ("tracker", pl.String),
        ("tracker_version", pl.String),
    ):
        columns[name] = pl.Series(name, [per_video[v][name] for v in ids.tolist()], dtype=dtype)
    axes = "xyz" if has_z else "xy"
    for axis, name in enumerate(axes):
        for point in range(n_points):
            columns[f"{name}_{point}"] = values[:, point, axis]
    frame = pl.DataFrame(columns)
    coordinates = [f"{name}_{point}" for name in axes for point in range(n_points)]
    return frame.with_columns(pl.col(coordinates).fill_nan(None))


def export_wide_csv(
    paths: str | Path | Sequence[str | Path],
    out_path: str | Path,
    *,
    units: str = "pixels",
) -> dict[str, Any]:
    """Write landmark tables as one wide CSV (:func:`wide_table`), atomically; ``-`` writes it
    to standard output.

    Returns
    -------
    dict
        ``out``, ``videos``, ``rows``, ``points`` and ``units`` (the distinct units written).
    """
    frame = wide_table(paths, units=units)
    text = frame.write_csv()
    if is_stdout(out_path):
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        with atomic_path(out_path) as staged:
            staged.write_text(text, encoding="utf-8")
    n_points = sum(1 for name in frame.columns if name.startswith("x_"))
    return {
        "out": str(out_path),
        "videos": frame["video_id"].n_unique(),
        "rows": frame.height,
        "points": n_points,
        "units": sorted(set(frame["units"].drop_nulls().to_list())),
    }


__all__ = ["EXPORT_UNITS", "export_wide_csv", "wide_table"]

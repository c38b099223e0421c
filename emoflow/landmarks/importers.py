"""Precomputed landmarks → landmark tables: Parquet in emoflow's schema, or one-row-per-frame CSV.

A CSV/TSV holds the landmarks' coordinates (MediaPipe's 468 or 478 points, iBUG's 68 of
OpenFace, py-feat and dlib) as columns (see :mod:`emoflow.landmarks.formats`), optionally frame
numbers, times, face flags, confidences and a ``video_id`` column (a file of many videos).
:func:`import_landmarks` converts files into one shard;
:func:`emoflow.landmarks.extract_shard` imports the manifest rows whose ``landmarks_format``
is set.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from emoflow._tables import read_arrow
from emoflow.errors import ConfigError, InputError
from emoflow.facemesh.tracker import FaceMeshTracker
from emoflow.landmark_files import COORDINATE_UNITS, CSV_LAYOUTS, LANDMARK_FORMATS
from emoflow.landmarks.formats import CsvLayout, parse_landmark_csv
from emoflow.schemes import get_scheme
from emoflow.storage.landmark_table.reader import checked_schema, expand_paths
from emoflow.storage.landmark_table.schema import (
    EXTRACTOR,
    LANDMARK_SCHEMA,
    META_EXTRACTOR,
    META_MEDIAPIPE_VERSION,
    landmark_schema,
    landmarks_table,
    metadata_records,
    table_scheme,
    video_record,
)
from emoflow.storage.landmark_table.writer import check_unique_ids, write_shard
from emoflow.video import VideoItem

log = logging.getLogger(__name__)

EXPORT_AGAIN = "the file is damaged: export the landmarks again"
"""What to do about a damaged landmark file to import."""
DEFAULT_IMPORT_FPS = 30.0
"""Frame rate assumed for imported landmarks without timestamps when none is given."""
TRACKERS: dict[str, str | None] = {"openface": "OpenFace", "pyfeat": "py-feat", "wide": None}
"""The tracker a CSV layout comes from (``None``: unknown, unless the file says in a
``tracker`` column)."""
TRACKER_COLUMNS: tuple[str, str] = ("tracker", "tracker_version")
"""Optional columns of a wide landmark CSV naming the tracker that made it and its version
(emoflow's own export writes them)."""
FRAME_SIZE_COLUMNS: tuple[str, str] = ("width", "height")
"""Optional columns of a wide landmark CSV giving the frame size in pixels (emoflow's export
writes them); they take precedence over the ``width``/``height`` options."""
FRAMES_COLUMN = "n_frames"
"""Optional column of a wide landmark CSV giving the video's frame count when its rows are
some frames only (emoflow's export of a ``landmarks.frames: sampled`` table): the record then
lists the rows' frames as the meshed ones, as extraction does."""
UNITS_COLUMN = "units"
"""Optional column of a wide landmark CSV saying its coordinates' units (``normalised`` or
``pixels``, as emoflow's export writes it); it takes precedence over the ``units`` option."""

FRAME_COLUMNS: tuple[str, ...] = ("frame", "frame_index", "frame_idx", "frame_number")
"""Names accepted for the frame-number column of a landmark CSV (first match wins)."""
TIMESTAMP_COLUMNS: dict[str, float] = {
    "timestamp_s": 1.0,
    "timestamp": 1.0,
    "time_s": 1.0,
    "time": 1.0,
    "timestamp_ms": 1e-3,
}
"""Names accepted for the time column of a landmark CSV → factor to seconds."""
SCORE_COLUMNS: tuple[str, ...] = ("detection_score", "confidence", "score")
"""Names accepted for a per-frame face confidence column of a landmark CSV."""
_PIXEL_LIKE = 4.0
"""Normalised x/y beyond this magnitude are taken for pixel coordinates (an error)."""


def _rows_of_video(ids: Sequence[str], video_id: str, source: Path) -> tuple[str | None, list[str]]:
    """Which ``video_id`` value of a landmark file holds ``video_id``'s rows.

    Returns the value to filter on (``None``: take every row, the file holds one video) and
    the distinct ids of the file.
    """
    distinct = sorted(set(ids))
    if video_id in distinct:
        return video_id, distinct
    if len(distinct) == 1:
        return None, distinct
    listed = ", ".join(distinct[:5]) + (
        f" (and {len(distinct) - 5} more)" if len(distinct) > 5 else ""
    )
    raise InputError(source, f"holds no rows of video_id {video_id!r}; it holds {listed}")


def _in_window(
    timestamps: np.ndarray, start_s: float | None, end_s: float | None
) -> np.ndarray | None:
    """Mask of the rows inside ``[start_s, end_s)``, or ``None`` without a window."""
    if start_s is None and end_s is None:
        return None
    keep = np.ones(len(timestamps), dtype=bool)
    if start_s is not None:
        keep &= timestamps >= start_s - 1e-9
    if end_s is not None:
        keep &= timestamps < end_s - 1e-9
    return keep


class LandmarkImporter:
    """Read precomputed landmarks of one video at a time, keeping the last CSV file parsed
    (manifests list the videos of a many-video CSV next to each other)."""

    def __init__(self) -> None:
        self._cached_key: tuple[Path, str] | None = None
        self._cached: tuple[pl.DataFrame, CsvLayout] | None = None

    def csv(self, path: Path, layout: str = "auto") -> tuple[pl.DataFrame, CsvLayout]:
        """The parsed CSV file and its layout (cached)."""
        if self._cached_key != (path, layout) or self._cached is None:
            self._cached = parse_landmark_csv(path, layout)
            self._cached_key = (path, layout)
        return self._cached

    def read(self, item: VideoItem) -> tuple[pa.Table, dict[str, Any]]:
        """One video's table and record from a precomputed landmark file."""
        path = Path(item.path)
        if not path.exists():
            raise InputError(path, "does not exist")
        if item.landmarks_format == "parquet":
            table, record = _import_parquet(path, item.video_id)
        else:
            options = dict(item.import_options or {})
            frame, layout = self.csv(path, options.pop("layout", None) or "auto")
            table, record = _import_csv(frame, layout, path, item.video_id, options)
        keep = _in_window(table["timestamp_s"].to_numpy(), item.start_s, item.end_s)
        if keep is not None:
            table = table.filter(pa.array(keep))
            record["n_frames"] = table.num_rows
            record["n_faces_found"] = int(pc.sum(table["face_found"]).as_py() or 0)
            if table.num_rows == 0:
                raise InputError(
                    path,
                    f"no frame of video {item.video_id!r} in the time window "
                    f"[{item.start_s or 0:g}, {item.end_s if item.end_s is not None else 'end'})",
                )
        record["start_s"], record["end_s"] = item.start_s, item.end_s
        return table, record


def _import_parquet(path: Path, video_id: str) -> tuple[pa.Table, dict[str, Any]]:
    """One video's rows of a landmarks Parquet file in emoflow's schema."""
    schema = checked_schema(path)
    ids = read_arrow(path, columns=["video_id"], remedy=EXPORT_AGAIN)["video_id"]
    if len(ids) == 0:
        raise InputError(path, "landmark file has no rows")
    selected, distinct = _rows_of_video(pc.unique(ids).to_pylist(), video_id, path)
    columns = [name for name in LANDMARK_SCHEMA.names if name in schema.names]
    filters = None if selected is None else [("video_id", "==", selected)]
    raw = read_arrow(path, columns=columns, filters=filters, remedy=EXPORT_AGAIN).sort_by("frame")
    n_rows = raw.num_rows
    scheme = table_scheme(schema)
    expected = landmark_schema(get_scheme(scheme).n_points)
    arrays = []
    for field in expected:
        if field.name == "video_id":
            arrays.append(pa.array([video_id] * n_rows, type=pa.string()))
        elif field.name in raw.column_names:
            arrays.append(raw[field.name].cast(field.type).combine_chunks())
        else:
            arrays.append(pa.nulls(n_rows, field.type))
    table = pa.Table.from_arrays(arrays, schema=expected)
    frames = table["frame"].to_numpy()
    if len(np.unique(frames)) != n_rows:
        raise InputError(path, f"video {video_id!r} has duplicate frame numbers")
    original = metadata_records(schema).get(selected if selected is not None else distinct[0], {})
    fps = original.get("fps") or _fps_from_timestamps(
        table["timestamp_s"].to_numpy(), table["frame"].to_numpy()
    )
    metadata = {key.decode(): value.decode() for key, value in (schema.metadata or {}).items()}
    source_tracker = metadata.get(META_EXTRACTOR)
    tracker: str | None
    version: str | None
    if original.get("landmarks_format") is None and source_tracker == EXTRACTOR:
        tracker, version = EXTRACTOR, metadata.get(META_MEDIAPIPE_VERSION)  # meshed by emoflow
    else:
        tracker, version = original.get("tracker"), original.get("tracker_version")
    record = video_record(path, None, n_rows, 0, None, landmarks_format="parquet")
    record.update(
        fps=fps,
        source_fps=original.get("source_fps") or fps,
        width=original.get("width"),
        height=original.get("height"),
        n_faces_found=int(pc.sum(table["face_found"]).as_py() or 0),
        n_faces_found_on_crop=original.get("n_faces_found_on_crop", 0),
        video_path=original.get("path"),
        scheme=scheme,
        tracker=tracker,
        tracker_version=version,
        units=original.get("units") or "normalised",
        coordinates=original.get("coordinates") or "xyz",
    )
    return table, record


def _fps_from_timestamps(timestamps: np.ndarray, frames: np.ndarray | None = None) -> float | None:
    """Frame rate from the median time per frame of increasing timestamps, ``None`` if
    unknown. With the rows' ``frames`` numbers, a step over a gap (rows of the sampled frames
    only) counts as that many frames."""
    order = np.argsort(timestamps, kind="stable")
    steps = np.diff(np.asarray(timestamps, dtype=np.float64)[order])
    counts = np.ones_like(steps) if frames is None else np.diff(np.asarray(frames)[order])
    keep = (steps > 0) & (counts > 0)
    if not keep.any():
        return None
    return float(1.0 / np.median(steps[keep] / counts[keep]))


def _file_value(frame: pl.DataFrame, column: str, path: Path) -> Any:
    """The one value a per-file column (``units``, ``width``, ``tracker``, …) holds for a
    video's rows, ``None`` without the column or a value; an InputError when rows disagree."""
    if column not in frame.columns:
        return None
    values = frame[column].drop_nulls().unique().to_list()
    if len(values) > 1:
        raise InputError(path, f"column {column!r} holds several values for one video: {values}")
    return values[0] if values else None


def _import_csv(
    frame: pl.DataFrame, layout: CsvLayout, path: Path, video_id: str, options: dict[str, Any]
) -> tuple[pa.Table, dict[str, Any]]:
    """One video's table from a parsed one-row-per-frame landmark CSV of ``layout``.

    ``options``: ``fps`` (frame rate of a file without a time column; default 30; a time
    column's frame rate wins), ``width``/``height`` (frame size in pixels), ``units``
    (``normalised`` or ``pixels``). A wide file's own ``units``, ``width``, ``height``,
    ``tracker`` and ``tracker_version`` columns (emoflow's export writes them) take
    precedence. Coordinates end up in the record's ``units``:

    * ``normalised`` fractions of the frame: as given, or pixels divided by the frame size;
    * ``pixels`` when the file's pixels come without the frame size (OpenFace and py-feat
      tables are pixels by definition; a wide file needs ``units: pixels`` and the size): the
      face keeps its shape, so the features, which are centred and scaled, are those of the
      normalised coordinates;
    * ``millimetres`` for OpenFace's 3-D points (a camera-space face, used as it is).

    ``z`` is NaN for a file without z columns (2-D trackers: OpenFace's and py-feat's 2-D
    points, dlib): the record says ``coordinates: xy`` and the features use x and y only
    (:func:`emoflow.features.normalise.normalise_sequence`).
    """
    unknown = sorted(set(options) - {"fps", "width", "height", "units"})
    if unknown:
        raise ConfigError(f"{path}: unknown landmark import option(s) {', '.join(unknown)}")
    if "video_id" in frame.columns:
        selected, _ = _rows_of_video(
            frame["video_id"].drop_nulls().unique().to_list(), video_id, path
        )
        if selected is not None:
            frame = frame.filter(pl.col("video_id") == selected)
    if frame.height == 0:
        raise InputError(path, f"holds no rows for video {video_id!r}")
    stated = _file_value(frame, UNITS_COLUMN, path) if layout.name == "wide" else None
    units = stated or options.get("units") or "normalised"
    if units not in COORDINATE_UNITS:
        where = f"its {UNITS_COLUMN!r} column says" if stated else "got"
        raise ConfigError(
            f"{path}: units must be one of {', '.join(COORDINATE_UNITS)}; {where} {units!r}"
        )
    size = [options.get(name) for name in FRAME_SIZE_COLUMNS]
    if layout.name == "wide":
        size = [
            _file_value(frame, name, path) or given
            for name, given in zip(FRAME_SIZE_COLUMNS, size, strict=True)
        ]
    width, height = (int(value) if value is not None else None for value in size)
    units = layout.units or units  # OpenFace and py-feat define their own
    described = layout.units is not None or stated is not None  # the file says its units
    if units == "pixels" and (width is None or height is None) and not described:
        raise ConfigError(
            f"{path}: units 'pixels' needs the frame width and height (give width and height)"
        )
    frame_column = next((name for name in FRAME_COLUMNS if name in frame.columns), None)
    if frame_column is not None:
        frame = frame.sort(frame_column)
        numbers = frame[frame_column].to_numpy()
        if not np.issubdtype(numbers.dtype, np.integer) or (numbers < 0).any():
            raise InputError(path, f"column {frame_column!r} must hold non-negative whole numbers")
        if len(np.unique(numbers)) != len(numbers):
            raise InputError(
                path,
                f"video {video_id!r} has duplicate frame numbers (several videos in one "
                "file need a video_id column; OpenFace and py-feat tables are recognised by "
                "their columns)",
            )
        if layout.first_frame and len(numbers) and numbers.min() >= layout.first_frame:
            numbers = numbers - layout.first_frame  # OpenFace counts frames from 1
        frame_numbers = numbers.astype(np.int32)
    else:
        frame_numbers = np.arange(frame.height, dtype=np.int32)
    time_column = next((name for name in TIMESTAMP_COLUMNS if name in frame.columns), None)
    fps = float(options["fps"]) if options.get("fps") is not None else None
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"{path}: fps must be a positive number, got {fps!r}")
    if time_column is not None:
        try:
            timestamps = frame[time_column].cast(pl.Float64).to_numpy()
        except pl.exceptions.PolarsError as err:
            raise InputError(path, f"column {time_column!r} must hold times") from err
        timestamps = timestamps * TIMESTAMP_COLUMNS[time_column]
        if not np.isfinite(timestamps).all():
            raise InputError(path, f"column {time_column!r} has empty or non-finite values")
        measured = _fps_from_timestamps(timestamps, frame_numbers)
        if measured is not None and fps is not None and abs(measured - fps) > 0.01 * measured:
            log.debug(
                "%s: %.4g fps from its %s column, not the %.4g given",
                path,
                measured,
                time_column,
                fps,
            )
        fps = measured or fps or DEFAULT_IMPORT_FPS
    else:
        fps = fps or DEFAULT_IMPORT_FPS
        timestamps = frame_numbers / fps
    triples = layout.triples
    values = np.full((frame.height, len(triples), 3), np.nan, dtype=np.float64)
    for axis in range(3):
        names = [triple[axis] for triple in triples]
        if all(name is not None for name in names):
            values[..., axis] = frame.select(names).to_numpy()
    planar = np.isfinite(values[..., :2]).all(axis=(1, 2))
    # 2-D: no z columns, or z columns left empty wherever x and y are given (a wide file of
    # 2-D and 3-D videos)
    three_d = bool(np.isfinite(values[planar][..., 2]).any()) if planar.any() else True
    three_d = three_d and all(triple[2] is not None for triple in triples)
    if not three_d:
        values[..., 2] = np.nan
    found = np.isfinite(values[..., : 3 if three_d else 2]).all(axis=(1, 2))
    if layout.found_column is not None:
        try:
            flags = frame[layout.found_column].cast(pl.Boolean).fill_null(False).to_numpy()
        except pl.exceptions.PolarsError as err:
            raise InputError(path, f"column {layout.found_column!r} must hold 0/1 flags") from err
        found &= flags
    if units == "pixels" and width is not None and height is not None:
        values /= np.array([width, height, width], dtype=np.float64)  # exact for float32 data
        units = "normalised"
    elif units == "normalised" and found.any():
        extent = float(np.abs(values[found][..., :2]).max())
        if extent > _PIXEL_LIKE:
            raise InputError(
                path,
                f"x/y coordinates reach {extent:g}: they look like pixels; set units to "
                "'pixels' and give the frame width and height",
            )
    score_column = layout.score_column or next(
        (name for name in SCORE_COLUMNS if name in frame.columns), None
    )
    scores = None
    if score_column is not None:
        score_values = frame[score_column].cast(pl.Float32).fill_null(np.nan).to_numpy()
        scores = pa.array(score_values, type=pa.float32(), mask=~found | np.isnan(score_values))
    n_faces = None
    if "n_faces" in frame.columns:
        n_faces = pa.array(frame["n_faces"].cast(pl.Int16).to_list(), type=pa.int16())
    stored = get_scheme(layout.scheme.stored_in or layout.scheme.name)  # 468 points: as 478
    table = landmarks_table(
        video_id,
        timestamps,
        np.flatnonzero(found),
        values[found].astype(np.float32),
        n_faces=n_faces,
        detection_scores=scores,
        frame_numbers=frame_numbers,
        n_points=stored.n_points,
    )
    n_frames, meshed = frame.height, None
    stated_frames = _file_value(frame, FRAMES_COLUMN, path) if layout.name == "wide" else None
    if stated_frames is not None and int(stated_frames) > frame.height:
        # rows of some frames only (emoflow's landmarks.frames: sampled): say which
        n_frames, meshed = int(stated_frames), frame_numbers.tolist()
        if max(meshed) >= n_frames:
            raise InputError(
                path, f"frame numbers reach {max(meshed)}, beyond its {n_frames} frames"
            )
    record = video_record(
        path, None, n_frames, int(found.sum()), None, landmarks_format="csv", meshed_frames=meshed
    )
    tracker = TRACKERS[layout.name]
    version = None
    if layout.name == "wide":
        tracker = _file_value(frame, TRACKER_COLUMNS[0], path)
        version = _file_value(frame, TRACKER_COLUMNS[1], path)
    record.update(
        fps=fps,
        source_fps=fps,
        width=width,
        height=height,
        scheme=stored.name,
        layout=layout.name,
        tracker=None if tracker is None else str(tracker),
        tracker_version=None if version is None else str(version),
        units=units,
        coordinates="xyz" if three_d else "xy",
    )
    return table, record


def _import_sources(source: str | Path | Sequence[str | Path], format: str | None) -> list[Path]:
    """Expand a landmark file, folder, glob pattern or list of these to files."""
    suffixes = {"parquet": {".parquet", ".pq"}, "csv": {".csv", ".tsv", ".tab"}}
    wanted = suffixes[format] if format else suffixes["parquet"] | suffixes["csv"]
    return expand_paths(
        source,
        lambda folder: sorted(file for file in folder.iterdir() if file.suffix.lower() in wanted),
        f"folder holds no landmark file ({', '.join(sorted(wanted))})",
    )


def _landmark_format(file: Path, format: str | None) -> str:
    if format is not None:
        if format not in LANDMARK_FORMATS:
            raise ConfigError(
                f"landmark format must be one of {', '.join(LANDMARK_FORMATS)}, got {format!r}"
            )
        return format
    suffix = file.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    if suffix in {".csv", ".tsv", ".tab"}:
        return "csv"
    raise InputError(file, "cannot tell the landmark format from the suffix; give format")


def _video_ids_of(
    file: Path, file_format: str, importer: LandmarkImporter, layout: str = "auto"
) -> list[str]:
    """The distinct ``video_id`` values of a landmark file (empty without the column)."""
    if file_format == "csv":
        frame, _ = importer.csv(file, layout)
        if "video_id" not in frame.columns:
            return []
        return frame["video_id"].drop_nulls().unique(maintain_order=True).to_list()
    checked_schema(file)
    ids = read_arrow(file, columns=["video_id"], remedy=EXPORT_AGAIN)["video_id"]
    return pc.unique(ids).to_pylist()


def import_landmarks(
    source: str | Path | Sequence[str | Path],
    out_path: str | Path,
    *,
    format: str | None = None,
    video_id: str | None = None,
    fps: float | None = None,
    width: int | None = None,
    height: int | None = None,
    units: str = "normalised",
    layout: str = "auto",
    strict: bool = False,
) -> dict[str, dict[str, Any]]:
    """Convert precomputed landmarks into an emoflow landmarks table (skipping Face Mesh).

    Parameters
    ----------
    source
        A landmark file, a folder of them, a glob pattern (string) or a list of these. Each
        file is either Parquet in :data:`LANDMARK_SCHEMA` (e.g. from another emoflow run) or
        a CSV/TSV with one row per frame (OpenFace 2.0 and py-feat tables as they are
        written, or emoflow's wide layout) and the landmarks' coordinates (MediaPipe's 468 or
        478, iBUG's 68) as columns: ``x_0 … x_477, y_0 … y_477, z_0 … z_477`` or
        ``x0, y0, z0, x1, …`` (see :func:`~emoflow.landmarks.formats.coordinate_columns`),
        optionally ``frame`` (frame number; default the row order),
        ``timestamp_s``/``timestamp``/``time`` (seconds) or ``timestamp_ms``, ``face_found``,
        ``detection_score``/``confidence``, and ``video_id`` (a file of many videos). A row
        with an empty or NaN coordinate is a frame without a face.
    out_path
        The landmarks file to write.
    format
        ``parquet`` or ``csv``; ``None`` tells by the file suffix.
    video_id
        Id of the one video in ``source`` when it is a single file without a ``video_id``
        column; default the file name without suffix.
    fps
        Frame rate of CSV rows without a time column (default 30).
    width, height
        Frame size in pixels, recorded (the feature stage scales x and y by it) and needed
        for ``units="pixels"``.
    units
        CSV coordinates as ``normalised`` fractions of the frame (MediaPipe's) or ``pixels``.
    layout
        The CSV column layout, one of :data:`~emoflow.landmark_files.CSV_LAYOUTS`
        (``auto`` tells OpenFace 2.0 and py-feat tables by their columns; see
        :mod:`emoflow.landmarks.formats`). A py-feat table gives one video per ``input``.
    strict
        Raise on the first unusable file instead of recording it and going on.

    Returns
    -------
    dict
        The summary of :func:`extract_videos`.
    """
    files = _import_sources(source, format)
    importer = LandmarkImporter()
    if layout not in CSV_LAYOUTS:
        raise ConfigError(f"layout must be one of {', '.join(CSV_LAYOUTS)}, got {layout!r}")
    options = {"fps": fps, "width": width, "height": height, "units": units, "layout": layout}
    items: list[VideoItem] = []
    for file in files:
        file_format = _landmark_format(file, format)
        try:
            ids = _video_ids_of(file, file_format, importer, layout)
        except InputError:
            if strict:
                raise
            ids = []  # one item named after the file: its import records the error
        if not ids or (len(ids) == 1 and video_id is not None and len(files) == 1):
            ids = [video_id if video_id is not None and len(files) == 1 else file.stem]
        items.extend(
            VideoItem(str(one_id), str(file), None, None, file_format, options) for one_id in ids
        )
    check_unique_ids(items, f"among the landmark files for {out_path}")
    faces = FaceMeshTracker().face_settings  # the default settings, as an extracted shard
    return write_shard(
        items, out_path, importer.read, refine_landmarks=True, faces=faces, strict=strict
    )

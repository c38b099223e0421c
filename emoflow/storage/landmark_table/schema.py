"""The landmark table: one row per meshed frame of one video, one Parquet file (shard) per many
videos.

Table schema (:data:`LANDMARK_SCHEMA`), columns in this order:

``video_id`` (``string``)
    The manifest's video id.
``frame`` (``int32``)
    Frame index, 0-based from the first frame of the video's time window.
``timestamp_s`` (``float64``)
    Time of the frame in the source, seconds: its presentation time in the container, from
    the video stream's start (:mod:`emoflow.video`; a variable frame rate keeps its real
    times), or ``start + frame / fps`` for frame folders, resampled videos and imports.
``face_found`` (``bool``)
    Whether a face was found in this frame.
``landmarks`` (``fixed_size_list<fixed_size_list<float32, 3>, N>``, nullable)
    The face's ``N`` points ``(x, y, z)`` in the table's landmark scheme
    (:mod:`emoflow.schemes`; 478 for MediaPipe Face Mesh); null without a face.
``n_faces`` (``int16``, nullable)
    Faces seen in the frame (see :mod:`emoflow.facemesh.tracker`); null when unknown
    (imported landmarks).
``detection_score`` (``float32``, nullable)
    Score of the face detection that started the followed face's track (the detector runs
    on the first frame of a track, the tracker after it); null without a face.

Landmarks are MediaPipe's normalised coordinates of the whole frame: ``x`` and ``y`` in [0, 1]
of the frame width and height, ``z`` the relative depth on roughly the scale of ``x``. Imported
landmarks (:mod:`emoflow.landmarks.importers`) say otherwise in their video's record:
``units`` ``pixels`` (pixel coordinates of a frame of unknown size) or ``millimetres``
(OpenFace's 3-D points), and ``coordinates`` ``xy`` for 2-D trackers, whose ``z`` is NaN
(missing, never 0). A frame without a face is kept, with ``face_found = False`` and null
``landmarks``. Polars reads the
column as ``Array(Float32, shape=(478, 3))``. Files written before ``n_faces`` and
``detection_score`` existed are still read; those columns are then null.

The schema metadata records the landmark scheme (``emoflow.scheme``, e.g. ``mediapipe_478`` or
``ibug_68``; files without it are ``mediapipe_478``), the extractor (``emoflow.extractor``:
``mediapipe.face_mesh``, or the tracker an imported table came from, e.g. ``OpenFace
(imported)``), where MediaPipe ran here its version, model and face settings, the sources'
trackers, units and coordinates (``emoflow.source``), which frames were meshed (``emoflow.frames``:
``{"mode": "all" | "sampled", "feature_frames": N}``), and, under ``emoflow.videos``, one JSON
record per video of the shard (path, fps, size, time window, frame and face counts, the frames
meshed, the frames its header declares and what decoding found wrong with the file, and the
error that kept a video out of the table, if any). Videos that fail (missing, unreadable,
empty, no face anywhere, frames of a refused size, out of memory) add no rows.

Frames. With ``landmarks.frames: all`` every frame has a row. With ``sampled`` only the frames
that features of ``feature_frames`` frames read at the frames' times were meshed
(:meth:`emoflow.features.FeatureSettings.frames_read`): they alone have rows (``frame`` keeps
the video's frame numbering), and the video's record lists them as ``meshed_frames``; a record
whose ``meshed_frames`` is null (every video of an ``all`` file; a sampled video in which a
read frame showed no face) has a row for every frame. ``n_frames`` is always the video's frame
count. Files written before ``emoflow.frames`` existed have every frame.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from emoflow._tables import arrow_array, repeated_string
from emoflow.errors import InputError
from emoflow.facemesh._graph import mediapipe_version, model_description
from emoflow.facemesh.mesh import N_LANDMARKS
from emoflow.schemes import DEFAULT_SCHEME, get_scheme
from emoflow.video import VideoInfo

POINT_TYPE = pa.list_(pa.float32(), 3)
"""One landmark: fixed-size list of ``(x, y, z)`` float32."""


def landmarks_type(n_points: int = N_LANDMARKS) -> pa.DataType:
    """One face: fixed-size list of ``n_points`` points."""
    return pa.list_(POINT_TYPE, n_points)


def landmark_schema(n_points: int = N_LANDMARKS) -> pa.Schema:
    """Columns of a landmarks table of ``n_points`` points per face (without the per-file
    metadata, see :func:`schema_metadata`)."""
    return pa.schema(
        [
            pa.field("video_id", pa.string(), nullable=False),
            pa.field("frame", pa.int32(), nullable=False),
            pa.field("timestamp_s", pa.float64(), nullable=False),
            pa.field("face_found", pa.bool_(), nullable=False),
            pa.field("landmarks", landmarks_type(n_points), nullable=True),
            pa.field("n_faces", pa.int16(), nullable=True),
            pa.field("detection_score", pa.float32(), nullable=True),
        ]
    )


LANDMARK_SCHEMA = landmark_schema(N_LANDMARKS)
"""Columns of a MediaPipe landmarks table (without the per-file metadata, see
:func:`schema_metadata`)."""
REQUIRED_COLUMNS: tuple[str, ...] = ("video_id", "frame", "timestamp_s", "face_found", "landmarks")
"""Columns every landmarks file has; the others of :data:`LANDMARK_SCHEMA` may be absent
(files of older emoflow versions) and are then read as nulls."""


EXTRACTOR = "mediapipe.face_mesh"
META_EXTRACTOR = "emoflow.extractor"
META_MEDIAPIPE_VERSION = "emoflow.mediapipe_version"
META_MODEL = "emoflow.model"
META_FACES = "emoflow.faces"
META_VIDEOS = "emoflow.videos"
META_FRAMES = "emoflow.frames"
META_SCHEME = "emoflow.scheme"
META_SOURCE = "emoflow.source"


def table_scheme(schema: pa.Schema) -> str:
    """The landmark scheme a table's metadata records (:data:`DEFAULT_SCHEME` when none)."""
    raw = (schema.metadata or {}).get(META_SCHEME.encode())
    return raw.decode() if raw else DEFAULT_SCHEME


def schema_metadata(
    refine_landmarks: bool,
    videos: dict[str, dict[str, Any]],
    faces: Mapping[str, Any] | None = None,
    frames: Mapping[str, Any] | None = None,
    scheme: str = DEFAULT_SCHEME,
) -> dict[str, str]:
    """Schema metadata of a landmarks file.

    Parameters
    ----------
    refine_landmarks
        The Face Mesh setting used.
    videos
        ``video_id`` → record with keys ``path``, ``fps``, ``source_fps``, ``width``,
        ``height``, ``start_s``, ``end_s``, ``n_frames``, ``n_faces_found``,
        ``n_faces_found_on_crop``, ``landmarks_format`` (``None`` when extracted here),
        ``meshed_frames`` (``None``: every frame), ``n_frames_declared`` (the frames the
        video's header declares, in its time window; ``None`` when it declares none or the
        landmarks were imported), ``warnings`` (what decoding found wrong with the file: fewer
        frames than declared, an implausible duration or frame rate, frames that failed to
        decode; one line each), ``error`` (``None`` or a message) and, for
        videos with rows, ``n_frames_several_faces`` (frames whose ``n_faces`` is above 1: the
        video showed several faces and one was followed by the face policy; absent in files
        of earlier versions).
    faces
        The face settings (``max_num_faces``, ``face_policy``, ``find_small_faces``), stored
        under ``emoflow.faces``.
    frames
        Which frames were meshed (``mode``, ``feature_frames``), stored under
        ``emoflow.frames`` (default: every frame).
    scheme
        The landmark scheme of the rows (:mod:`emoflow.schemes`), stored under
        ``emoflow.scheme``.
    """
    source = landmark_sources(videos)
    metadata = {META_SCHEME: get_scheme(scheme).name}
    if source["meshed_here"]:
        metadata |= {
            META_MEDIAPIPE_VERSION: mediapipe_version(),
            META_MODEL: model_description(refine_landmarks),
            META_FACES: json.dumps(dict(faces or {})),
        }
    return {
        **metadata,
        META_EXTRACTOR: source.pop("extractor"),
        META_SOURCE: json.dumps(source),
        META_FRAMES: json.dumps(dict(frames or {"mode": "all", "feature_frames": None})),
        META_VIDEOS: json.dumps(videos),
    }


def landmark_sources(videos: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Where a table's landmarks come from, from its video records: ``extractor`` (the
    ``emoflow.extractor`` value), ``meshed_here`` (whether MediaPipe ran in this run),
    ``trackers`` (tracker → version, ``None`` when unknown), ``units`` and ``coordinates``
    (the distinct values of the records'; Face Mesh's are ``normalised`` and ``xyz``).

    A record without ``landmarks_format`` was meshed here by MediaPipe; an imported one names
    its tracker (``tracker``, ``tracker_version``; ``None`` when the file does not say).
    Records of videos that failed count only when no video succeeded.
    """
    records = [record for record in videos.values() if not record.get("error")]
    records = records or list(videos.values())
    meshed_here = not records or any(r.get("landmarks_format") is None for r in records)
    trackers: dict[str, str | None] = {}
    names: list[str] = []
    for record in records:
        version: str | None
        if record.get("landmarks_format") is None:
            name, version = EXTRACTOR, mediapipe_version()
        else:
            name = record.get("tracker") or "unknown tracker"
            version = record.get("tracker_version")
            name = name if name == EXTRACTOR else f"{name} (imported)"
        if name not in trackers or trackers[name] is None:
            trackers[name] = version
        if name not in names:
            names.append(name)
    return {
        "extractor": ", ".join(names) if names else EXTRACTOR,
        "meshed_here": meshed_here,
        "trackers": trackers,
        "units": sorted({record.get("units") or "normalised" for record in records}),
        "coordinates": sorted({record.get("coordinates") or "xyz" for record in records}),
    }


def video_record(
    path: str | Path,
    info: VideoInfo | None,
    n_frames: int,
    n_faces: int,
    error: str | None,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    n_on_crop: int = 0,
    landmarks_format: str | None = None,
    meshed_frames: list[int] | None = None,
    n_frames_declared: int | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """One video's ``emoflow.videos`` record (see :func:`schema_metadata`)."""
    return {
        "path": str(path),
        "fps": info.fps if info else None,
        "source_fps": info.source_fps if info else None,
        "width": info.width if info else None,
        "height": info.height if info else None,
        "start_s": info.start_s if info else start_s,
        "end_s": info.end_s if info else end_s,
        "n_frames": n_frames,
        "n_faces_found": n_faces,
        "n_faces_found_on_crop": n_on_crop,
        "landmarks_format": landmarks_format,
        "meshed_frames": None if meshed_frames is None else [int(f) for f in meshed_frames],
        "n_frames_declared": n_frames_declared,
        "warnings": list(warnings or []),
        "error": error,
    }


def decoding_problems(records: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Videos decoded only in part, or whose header contradicts their frames: ``video_id`` →
    frames decoded against frames declared, and what decoding found (the records'
    ``warnings``), one line each. Records of earlier versions (no ``warnings``) give none."""
    problems: dict[str, str] = {}
    for video_id, record in records.items():
        warnings = [str(warning) for warning in record.get("warnings") or []]
        declared = record.get("n_frames_declared")
        decoded = record.get("n_frames")
        partial = declared is not None and decoded is not None and decoded < declared - 1
        if not warnings and not partial:
            continue
        counts = f"{decoded} of {declared} declared frames" if declared is not None else ""
        problems[str(video_id)] = "; ".join(part for part in [counts, *warnings] if part)
    return problems


def landmarks_table(
    video_id: str,
    timestamps: np.ndarray,
    found_frames: list[int] | np.ndarray,
    faces: list[np.ndarray] | np.ndarray,
    *,
    n_faces: pa.Array | None = None,
    detection_scores: pa.Array | None = None,
    frame_numbers: np.ndarray | None = None,
    n_points: int = N_LANDMARKS,
) -> pa.Table:
    """Build one video's table from the found frames' landmark arrays.

    Parameters
    ----------
    video_id
        The video's id.
    timestamps
        ``(n_frames,)`` seconds of every frame.
    found_frames
        Row positions (0-based) of the frames with a face.
    faces
        One ``(n, 3)`` array per found frame, or one ``(n_found, n, 3)`` array; ``n`` is
        ``n_points`` or fewer (468 MediaPipe points in a 478-point table: the iris points
        are NaN).
    n_faces, detection_scores
        Per-frame columns (nulls when not given).
    frame_numbers
        Frame numbers of the rows (default ``0 … n_frames-1``).
    n_points
        Points per face of the table's scheme (default MediaPipe's 478).
    """
    n_frames = len(timestamps)
    values = np.zeros((n_frames, n_points, 3), dtype=np.float32)
    if len(faces):
        stacked = np.stack(faces) if isinstance(faces, list) else faces
        n_given = stacked.shape[1]
        values[found_frames, :n_given] = stacked
        values[found_frames, n_given:] = np.nan  # iris points when refine_landmarks=False
    missing = np.ones(n_frames, dtype=bool)
    missing[found_frames] = False
    # built from the arrays' buffers: pyarrow.array() would import pandas (arrow_array)
    points = pa.FixedSizeListArray.from_arrays(arrow_array(values.reshape(-1), pa.float32()), 3)
    landmarks = pa.FixedSizeListArray.from_arrays(
        points, n_points, mask=arrow_array(missing, pa.bool_())
    )
    if frame_numbers is None:
        frame_numbers = np.arange(n_frames, dtype=np.int32)
    return pa.Table.from_arrays(
        [
            repeated_string(video_id, n_frames),
            arrow_array(frame_numbers, pa.int32()),
            arrow_array(timestamps, pa.float64()),
            arrow_array(~missing, pa.bool_()),
            landmarks,
            n_faces if n_faces is not None else pa.nulls(n_frames, pa.int16()),
            detection_scores if detection_scores is not None else pa.nulls(n_frames, pa.float32()),
        ],
        schema=landmark_schema(n_points),
    )


def metadata_records(schema: pa.Schema) -> dict[str, dict[str, Any]]:
    raw = (schema.metadata or {}).get(META_VIDEOS.encode())
    return parse_video_records(raw, "landmark table") if raw else {}


def parse_video_records(raw: bytes, file: str | Path) -> dict[str, dict[str, Any]]:
    """The ``emoflow.videos`` metadata as ``video_id`` → record, or an InputError."""
    try:
        records = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        records, problem = None, str(err)
    else:
        problem = "not a mapping of video_id to records"
    if not isinstance(records, dict) or not all(
        isinstance(record, dict) for record in records.values()
    ):
        raise InputError(
            file,
            f"schema metadata {META_VIDEOS!r} is not a JSON mapping of video_id to record "
            f"({problem}); the file is damaged: delete it and rerun its extract_landmarks job",
        )
    return records

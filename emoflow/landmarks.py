"""Face Mesh landmark extraction: videos → one Parquet table (one row per frame) per shard.

Each row holds one frame of one video: ``video_id``, ``frame`` (0-based), ``timestamp_s``,
``face_found`` and ``landmarks``, the 478 Face Mesh points as ``(x, y, z)`` float32 — MediaPipe's
normalised coordinates: ``x`` and ``y`` in [0, 1] of the frame width and height, ``z`` the
relative depth on roughly the scale of ``x``. A frame without a face is kept, with
``face_found = False`` and null ``landmarks``. Polars reads the column as
``Array(Float32, shape=(478, 3))``.

The schema metadata records the extractor and, under ``emoflow.videos``, one JSON record per
video of the shard (path, fps, size, frame and face counts, and the error that kept a video out
of the table, if any). Videos that fail (missing, unreadable, no face anywhere) add no rows.

MediaPipe is imported only when the first frame is processed.
"""

from __future__ import annotations

import glob
import importlib.metadata
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from emoflow._atomic import atomic_path
from emoflow.errors import ConfigError, DataError, InputError, NoFaceError
from emoflow.facemesh import N_LANDMARKS
from emoflow.video import VideoInfo, open_frames

logger = logging.getLogger(__name__)

POINT_TYPE = pa.list_(pa.float32(), 3)
"""One landmark: fixed-size list of ``(x, y, z)`` float32."""
LANDMARKS_TYPE = pa.list_(POINT_TYPE, N_LANDMARKS)
"""One face: fixed-size list of 478 points."""

LANDMARK_SCHEMA = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("frame", pa.int32(), nullable=False),
        pa.field("timestamp_s", pa.float64(), nullable=False),
        pa.field("face_found", pa.bool_(), nullable=False),
        pa.field("landmarks", LANDMARKS_TYPE, nullable=True),
    ]
)
"""Columns of a landmarks table (without the per-file metadata, see :func:`schema_metadata`)."""

EXTRACTOR = "mediapipe.face_mesh"
META_EXTRACTOR = "emoflow.extractor"
META_MEDIAPIPE_VERSION = "emoflow.mediapipe_version"
META_MODEL = "emoflow.model"
META_VIDEOS = "emoflow.videos"

PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": ["video_id"],
    "use_byte_stream_split": ["timestamp_s", "landmarks.list.element.list.element"],
}
"""Shard file encoding: byte-stream-split floats compress about 40 % better with zstd and
write several times faster than with the default, which first tries dictionary encoding."""
STAGING_OPTIONS: dict[str, Any] = {"compression": "lz4", "use_dictionary": ["video_id"]}
"""Encoding of the temporary per-video file a shard is streamed to before its metadata is known."""
ROW_GROUP_ROWS = 4096
"""Rows per Parquet row group of a shard file (about 23 MB of landmarks before compression)."""

_LANDMARK_RECORD = np.dtype(
    [
        ("tag", "u1"),
        ("size", "u1"),
        ("x_tag", "u1"),
        ("x", "<f4"),
        ("y_tag", "u1"),
        ("y", "<f4"),
        ("z_tag", "u1"),
        ("z", "<f4"),
    ]
)
"""Wire layout of one ``NormalizedLandmark`` holding exactly x, y and z inside a
``NormalizedLandmarkList``: field 1 (length-delimited, 15 bytes), then fixed32 fields 1, 2, 3."""


_FLUSH_FRAME = np.zeros((32, 32, 3), dtype=np.uint8)
"""A frame without a face, processed between videos to end Face Mesh tracking."""


def _mediapipe_version() -> str:
    try:
        return importlib.metadata.version("mediapipe")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def model_description(refine_landmarks: bool) -> str:
    """The ``emoflow.model`` metadata value for the given Face Mesh setting."""
    return f"face_mesh refine_landmarks={refine_landmarks}"


def schema_metadata(refine_landmarks: bool, videos: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Schema metadata of a landmarks file.

    Parameters
    ----------
    refine_landmarks
        The Face Mesh setting used.
    videos
        ``video_id`` → record with keys ``path``, ``fps``, ``source_fps``, ``width``,
        ``height``, ``n_frames``, ``n_faces_found`` and ``error`` (``None`` or a message).
    """
    return {
        META_EXTRACTOR: EXTRACTOR,
        META_MEDIAPIPE_VERSION: _mediapipe_version(),
        META_MODEL: model_description(refine_landmarks),
        META_VIDEOS: json.dumps(videos),
    }


def _landmark_values(face: Any) -> np.ndarray:
    """``(n_points, 3)`` float32 of one ``NormalizedLandmarkList``.

    Decodes the serialised message with one NumPy view when every point holds exactly x, y
    and z (what Face Mesh emits); otherwise reads the points one by one.
    """
    raw = face.SerializeToString()
    if len(raw) % _LANDMARK_RECORD.itemsize == 0:
        records = np.frombuffer(raw, dtype=_LANDMARK_RECORD)
        if (
            (records["tag"] == 0x0A)
            & (records["size"] == 15)
            & (records["x_tag"] == 0x0D)
            & (records["y_tag"] == 0x15)
            & (records["z_tag"] == 0x1D)
        ).all():
            points = np.empty((records.shape[0], 3), dtype=np.float32)
            points[:, 0] = records["x"]
            points[:, 1] = records["y"]
            points[:, 2] = records["z"]
            return points
    return np.array([(point.x, point.y, point.z) for point in face.landmark], dtype=np.float32)


def _video_record(
    path: str | Path, info: VideoInfo | None, n_frames: int, n_faces: int, error: str | None
) -> dict[str, Any]:
    return {
        "path": str(path),
        "fps": info.fps if info else None,
        "source_fps": info.source_fps if info else None,
        "width": info.width if info else None,
        "height": info.height if info else None,
        "n_frames": n_frames,
        "n_faces_found": n_faces,
        "error": error,
    }


def _landmarks_table(
    video_id: str, fps: float, n_frames: int, found_frames: list[int], faces: list[np.ndarray]
) -> pa.Table:
    """Build one video's table from the found frames' landmark arrays."""
    values = np.zeros((n_frames, N_LANDMARKS, 3), dtype=np.float32)
    if faces:
        stacked = np.stack(faces)
        n_points = stacked.shape[1]
        values[found_frames, :n_points] = stacked
        values[found_frames, n_points:] = np.nan  # iris points when refine_landmarks=False
    missing = np.ones(n_frames, dtype=bool)
    missing[found_frames] = False
    points = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), 3)
    landmarks = pa.FixedSizeListArray.from_arrays(points, N_LANDMARKS, mask=pa.array(missing))
    frame_numbers = np.arange(n_frames, dtype=np.int32)
    return pa.Table.from_arrays(
        [
            pa.array([video_id] * n_frames, type=pa.string()),
            pa.array(frame_numbers),
            pa.array(frame_numbers / fps),
            pa.array(~missing),
            landmarks,
        ],
        schema=LANDMARK_SCHEMA,
    )


class FaceMeshExtractor:
    """Run MediaPipe Face Mesh over videos, one video at a time.

    One ``FaceMesh`` instance is created on first use and reused; its tracking state is reset
    between videos, so a video's landmarks never depend on the video before it. Use as a
    context manager (or call :meth:`close`).

    Parameters
    ----------
    refine_landmarks
        Add the 10 iris points (478 landmarks). With ``False`` Face Mesh gives 468 points and
        the iris points of the table are NaN.
    min_detection_confidence, min_tracking_confidence
        Face Mesh thresholds, in [0, 1].
    static_image_mode
        Detect the face afresh in every frame instead of tracking it (slower; misses small
        faces that video mode tracks).
    """

    def __init__(
        self,
        *,
        refine_landmarks: bool = True,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        static_image_mode: bool = False,
    ) -> None:
        for name, value in (
            ("min_detection_confidence", min_detection_confidence),
            ("min_tracking_confidence", min_tracking_confidence),
        ):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must lie in [0, 1], got {value!r}")
        self.refine_landmarks = bool(refine_landmarks)
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.static_image_mode = bool(static_image_mode)
        self._face_mesh: Any = None
        self._needs_reset = False

    def __enter__(self) -> FaceMeshExtractor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the MediaPipe graph (a later :meth:`extract` creates a new one)."""
        if self._face_mesh is not None:
            self._face_mesh.close()
            self._face_mesh = None
            self._needs_reset = False

    @property
    def model(self) -> str:
        """The ``emoflow.model`` metadata value of this extractor."""
        return model_description(self.refine_landmarks)

    def _ready_face_mesh(self) -> Any:
        """The Face Mesh instance, created on first use, its tracking reset after each video."""
        if self._face_mesh is None:
            from mediapipe.python.solutions import face_mesh

            self._face_mesh = face_mesh.FaceMesh(
                static_image_mode=self.static_image_mode,
                max_num_faces=1,
                refine_landmarks=self.refine_landmarks,
                min_detection_confidence=self.min_detection_confidence,
                min_tracking_confidence=self.min_tracking_confidence,
            )
        elif self._needs_reset and not self.static_image_mode:
            # Forget the tracked face: one frame without a face makes the next frame start
            # from detection, exactly like a fresh instance (checked bit for bit in the tests),
            # in about 3 ms where ``FaceMesh.reset()`` restarts the graph in about 30 ms.
            self._face_mesh.process(_FLUSH_FRAME)
        self._needs_reset = True
        return self._face_mesh

    def extract_with_record(
        self, source: str | Path, video_id: str, *, fps: float | None = None
    ) -> tuple[pa.Table, dict[str, Any]]:
        """Extract one video; return its table and its ``emoflow.videos`` record.

        Unlike :meth:`extract`, a video without any face is not an error here: the table has
        only ``face_found = False`` rows and the record counts zero faces.

        Raises
        ------
        InputError
            The source is missing, unreadable or empty.
        """
        info, frames = open_frames(source, fps=fps)
        process = self._ready_face_mesh().process
        found_frames: list[int] = []
        faces: list[np.ndarray] = []
        n_frames = 0
        for frame_index, frame in enumerate(frames):
            face_lists = process(frame).multi_face_landmarks
            if face_lists:
                found_frames.append(frame_index)
                faces.append(_landmark_values(face_lists[0]))
            n_frames = frame_index + 1
        if fps is None and info.n_frames is not None and n_frames < info.n_frames - 1:
            logger.warning(
                "%s: decoded %d of the %d frames the container reports; the file may be truncated",
                source,
                n_frames,
                info.n_frames,
            )
        table = _landmarks_table(video_id, info.fps, n_frames, found_frames, faces)
        return table, _video_record(source, info, n_frames, len(found_frames), None)

    def extract(self, source: str | Path, video_id: str, *, fps: float | None = None) -> pa.Table:
        """Extract the landmarks of every frame of one video.

        Parameters
        ----------
        source
            Video file or frame folder (see :func:`emoflow.video.open_frames`).
        video_id
            Value of the ``video_id`` column.
        fps
            Resample a video to this frame rate (a frame folder's frame rate).

        Returns
        -------
        pyarrow.Table
            :data:`LANDMARK_SCHEMA` with that video's metadata, one row per frame.

        Raises
        ------
        InputError
            The source is missing, unreadable or empty.
        NoFaceError
            No frame shows a face.
        """
        table, record = self.extract_with_record(source, video_id, fps=fps)
        if record["n_faces_found"] == 0:
            raise NoFaceError(source, f"no face found in any of its {record['n_frames']} frames")
        return table.replace_schema_metadata(
            schema_metadata(self.refine_landmarks, {video_id: record})
        )


def extract_videos(
    videos: Sequence[tuple[str, str]],
    out_path: str | Path,
    *,
    strict: bool = False,
    fps: float | None = None,
    **extractor_options: Any,
) -> dict[str, dict[str, Any]]:
    """Extract several videos into one Parquet file (a shard), written atomically.

    Parameters
    ----------
    videos
        ``(video_id, path)`` pairs; ids must be unique.
    out_path
        The shard file to write (zstd-compressed Parquet, :data:`LANDMARK_SCHEMA`).
    strict
        Raise on the first missing, unreadable or face-less video instead of recording its
        error, logging a warning and going on.
    fps
        Resample every video to this frame rate (``None`` keeps the source rate).
    **extractor_options
        Passed to :class:`FaceMeshExtractor`.

    Returns
    -------
    dict
        ``video_id`` → ``{"frames": int, "faces_found": int, "error": str | None}``.

    Raises
    ------
    InputError, NoFaceError
        Only with ``strict``: the video at fault is named.
    ConfigError
        Duplicate video ids or invalid options.
    """
    pairs = [(str(video_id), str(path)) for video_id, path in videos]
    id_counts = Counter(video_id for video_id, _ in pairs)
    duplicates = sorted(video_id for video_id, count in id_counts.items() if count > 1)
    if duplicates:
        raise ConfigError(f"duplicate video_id(s) given for {out_path}: {', '.join(duplicates)}")
    extractor = FaceMeshExtractor(**extractor_options)
    records: dict[str, dict[str, Any]] = {}
    summary: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    total_frames = 0
    with atomic_path(out_path) as staged:
        # Rows are streamed to a staging file (memory stays at one video), then copied into the
        # final file: its schema metadata lists every video's record, and pyarrow takes schema
        # metadata from the Arrow schema fixed when a Parquet writer opens.
        rows_path = staged.with_name(staged.name + ".rows")
        with (
            extractor,
            pq.ParquetWriter(rows_path, LANDMARK_SCHEMA, **STAGING_OPTIONS) as rows_writer,
        ):
            for position, (video_id, path) in enumerate(pairs, start=1):
                video_started = time.perf_counter()
                try:
                    table, record = extractor.extract_with_record(path, video_id, fps=fps)
                except InputError as err:
                    if strict:
                        raise
                    record = _video_record(path, None, 0, 0, str(err))
                    logger.warning("skipping video %s: %s", video_id, err)
                else:
                    if record["n_faces_found"] == 0:
                        no_face = NoFaceError(
                            path, f"no face found in any of its {record['n_frames']} frames"
                        )
                        if strict:
                            raise no_face
                        record["error"] = str(no_face)
                        logger.warning("skipping video %s: %s", video_id, no_face)
                    else:
                        rows_writer.write_table(table)
                records[video_id] = record
                summary[video_id] = {
                    "frames": record["n_frames"],
                    "faces_found": record["n_faces_found"],
                    "error": record["error"],
                }
                total_frames += record["n_frames"]
                elapsed = time.perf_counter() - video_started
                logger.info(
                    "[%d/%d] %s: %d frames, face in %d, %.2f s (%.0f frames/s)",
                    position,
                    len(pairs),
                    video_id,
                    record["n_frames"],
                    record["n_faces_found"],
                    elapsed,
                    record["n_frames"] / elapsed if elapsed > 0 else math.inf,
                )
        schema = LANDMARK_SCHEMA.with_metadata(schema_metadata(extractor.refine_landmarks, records))
        rows_file = pq.ParquetFile(rows_path)
        try:
            with pq.ParquetWriter(staged, schema, **PARQUET_OPTIONS) as writer:
                for batch in rows_file.iter_batches(batch_size=ROW_GROUP_ROWS):
                    writer.write_batch(batch)
        finally:
            rows_file.close()
    elapsed = time.perf_counter() - started
    n_failed = sum(record["error"] is not None for record in records.values())
    logger.info(
        "wrote %s: %d videos (%d skipped), %d frames in %.1f s",
        out_path,
        len(pairs),
        n_failed,
        total_frames,
        elapsed,
    )
    return summary


def extract_shard(
    manifest_path: str | Path,
    out_path: str | Path,
    *,
    shard: int,
    n_shards: int,
    strict: bool = False,
    **options: Any,
) -> dict[str, dict[str, Any]]:
    """Extract one shard of a manifest: rows ``i`` with ``i % n_shards == shard``.

    Parameters
    ----------
    manifest_path
        Manifest Parquet with at least the columns ``video_id`` and ``path``.
    out_path
        The shard's landmarks file.
    shard, n_shards
        Which shard, ``0 <= shard < n_shards``, in manifest row order.
    strict
        See :func:`extract_videos`.
    **options
        ``fps`` and :class:`FaceMeshExtractor` options, passed to :func:`extract_videos`.

    Returns
    -------
    dict
        The summary of :func:`extract_videos`.
    """
    from emoflow.manifest import read_manifest

    if n_shards < 1 or not 0 <= shard < n_shards:
        raise ConfigError(f"shard must satisfy 0 <= shard < n_shards, got {shard} of {n_shards}")
    manifest = read_manifest(manifest_path, required_columns=("video_id", "path"))
    selected = manifest.select("video_id", "path").gather_every(n_shards, offset=shard)
    logger.info(
        "shard %d of %d: %d of the %d videos in %s",
        shard,
        n_shards,
        selected.height,
        manifest.height,
        manifest_path,
    )
    videos = list(zip(selected["video_id"].to_list(), selected["path"].to_list(), strict=True))
    return extract_videos(videos, out_path, strict=strict, **options)


def _landmark_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """Expand files, folders (their ``*.parquet``) and glob patterns to a list of files."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise DataError("no landmark files given")
    files: list[Path] = []
    for item in items:
        text = str(item)
        if isinstance(item, str) and any(char in text for char in "*?["):
            pattern_matches = sorted(Path(match) for match in glob.glob(text))
            if not pattern_matches:
                raise InputError(text, "glob pattern matches no landmark file")
            files.extend(pattern_matches)
        elif Path(text).is_dir():
            folder_files = sorted(Path(text).glob("*.parquet"))
            if not folder_files:
                raise InputError(text, "folder holds no .parquet landmark file")
            files.extend(folder_files)
        elif not Path(text).exists():
            raise InputError(text, "does not exist")
        else:
            files.append(Path(text))
    return files


def _as_string(data_type: pa.DataType) -> pa.DataType:
    """``string`` for ``large_string`` (what Polars writes), the type itself otherwise."""
    return pa.string() if data_type == pa.large_string() else data_type


def _checked_schema(file: Path) -> pa.Schema:
    """The Arrow schema of a landmarks file, or an InputError naming the file."""
    try:
        schema = pq.read_schema(file)
    except (OSError, pa.ArrowException) as err:
        raise InputError(file, f"not a readable Parquet file ({err})") from err
    for field in LANDMARK_SCHEMA:
        if field.name not in schema.names:
            raise InputError(file, f"not a landmarks file: column {field.name!r} is missing")
        actual = schema.field(field.name).type
        if not (actual.equals(field.type) or (field.type == pa.string() == _as_string(actual))):
            raise InputError(
                file,
                f"not a landmarks file: column {field.name!r} is {actual}, expected {field.type}",
            )
    return schema


def read_landmarks(paths: str | Path | Sequence[str | Path]) -> pl.DataFrame:
    """Read one or many landmark shard files into one Polars frame.

    Parameters
    ----------
    paths
        A file, a folder (all its ``*.parquet``), a glob pattern (string), or a sequence of
        these.

    Returns
    -------
    polars.DataFrame
        The rows of all files, in file order; ``landmarks`` is
        ``Array(Float32, shape=(478, 3))``.
    """
    files = _landmark_files(paths)
    for file in files:
        _checked_schema(file)
    return pl.read_parquet([str(file) for file in files], columns=LANDMARK_SCHEMA.names)


def read_video_records(paths: str | Path | Sequence[str | Path]) -> dict[str, dict[str, Any]]:
    """Merge the ``emoflow.videos`` metadata of landmark files: ``video_id`` → record.

    The records include the videos that failed (with their ``error``), which have no rows.

    Raises
    ------
    DataError
        The same ``video_id`` appears in two files.
    """
    records: dict[str, dict[str, Any]] = {}
    origin: dict[str, Path] = {}
    for file in _landmark_files(paths):
        metadata = _checked_schema(file).metadata or {}
        raw = metadata.get(META_VIDEOS.encode())
        if raw is None:
            raise InputError(file, f"schema metadata lacks {META_VIDEOS!r}")
        for video_id, record in json.loads(raw).items():
            if video_id in records:
                raise DataError(f"video_id {video_id!r} is in both {origin[video_id]} and {file}")
            records[video_id] = record
            origin[video_id] = file
    return records


def landmarks_array(table: pl.DataFrame, video_id: str) -> tuple[np.ndarray, np.ndarray]:
    """One video's landmarks as a dense array, frames in order.

    Parameters
    ----------
    table
        A landmarks frame, e.g. from :func:`read_landmarks`.
    video_id
        The video to take.

    Returns
    -------
    landmarks
        ``(n_frames, 478, 3)`` float32, NaN where no face was found (and for frames absent
        from ``table``); ``n_frames`` is the highest frame number plus one.
    found_mask
        ``(n_frames,)`` bool, True where a face was found.

    Raises
    ------
    DataError
        ``video_id`` has no rows, or a frame number appears twice.
    """
    rows = table.filter(pl.col("video_id") == video_id)
    if rows.height == 0:
        raise DataError(
            f"video_id {video_id!r} has no rows in the landmarks table (not extracted, "
            "unreadable or without any face)"
        )
    frame_numbers = rows["frame"].to_numpy().astype(np.int64)
    if np.unique(frame_numbers).size != frame_numbers.size:
        raise DataError(f"video_id {video_id!r} has duplicate frame numbers in the table")
    n_frames = int(frame_numbers.max()) + 1
    landmarks = np.full((n_frames, N_LANDMARKS, 3), np.nan, dtype=np.float32)
    found_mask = np.zeros(n_frames, dtype=bool)
    found_mask[frame_numbers] = rows["face_found"].to_numpy()
    present = rows["landmarks"].is_not_null().to_numpy()
    if present.any():
        landmarks[frame_numbers[present]] = rows.filter(pl.Series(present))["landmarks"].to_numpy()
    return landmarks, found_mask


__all__ = [
    "LANDMARK_SCHEMA",
    "FaceMeshExtractor",
    "extract_shard",
    "extract_videos",
    "landmarks_array",
    "read_landmarks",
    "read_video_records",
    "schema_metadata",
]

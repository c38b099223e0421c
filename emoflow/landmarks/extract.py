"""Face Mesh → landmark tables: one video (:class:`FaceMeshExtractor`), a list of videos or one
shard of a manifest (:func:`extract_videos`, :func:`extract_shard`), each shard one file.

Items with a ``landmarks_format`` are imported from precomputed landmark files instead
(:mod:`emoflow.landmarks.importers`). What the workflow plans before the extraction runs (the
shards, their settings and memory) is :mod:`emoflow.landmarks.planning`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import numpy as np
import pyarrow as pa

from emoflow._progress import Progress
from emoflow._tables import arrow_array
from emoflow.errors import ConfigError, InputError, NoFaceError
from emoflow.facemesh.tracker import FaceMeshTracker, FrameProgress
from emoflow.landmarks.planning import (
    MANIFEST_IMPORT_COLUMNS,
    MANIFEST_ITEM_COLUMNS,
    extraction_settings,
)
from emoflow.landmarks.settings import FRAME_MODES
from emoflow.storage.landmark_table.schema import landmarks_table, schema_metadata, video_record
from emoflow.storage.landmark_table.writer import (
    VideoReader,
    as_item,
    check_unique_ids,
    write_shard,
)
from emoflow.video import (
    MAX_SIDE,
    MIN_SIDE,
    FrameWindow,
    Selection,
    VideoItem,
    declared_frames,
    resampled_frames,
)

if TYPE_CHECKING:
    from emoflow.landmarks.importers import LandmarkImporter

logger = logging.getLogger(__name__)


class FaceMeshExtractor(FaceMeshTracker):
    """Run MediaPipe Face Mesh over videos, one video at a time, into landmark tables.

    A :class:`emoflow.facemesh.tracker.FaceMeshTracker` (same settings: ``refine_landmarks``,
    confidences, ``static_image_mode``, ``max_num_faces``, ``face_policy``,
    ``find_small_faces``) whose results are tables in
    :data:`emoflow.storage.landmark_table.schema.LANDMARK_SCHEMA`. One ``FaceMesh`` instance is
    created on first use and reused; its tracking state is reset between videos, so a video's
    landmarks never depend on the video before it. Use as a context manager (or call :meth:`close`).
    """

    def extract_with_record(
        self,
        source: str | Path,
        video_id: str,
        *,
        progress: FrameProgress | None = None,
        **window: Unpack[FrameWindow],
    ) -> tuple[pa.Table, dict[str, Any]]:
        """Extract one video; return its table and its ``emoflow.videos`` record.

        Unlike :meth:`extract`, a video without any face is not an error here: the table has
        only ``face_found = False`` rows and the record counts zero faces. With ``select``
        (see :meth:`emoflow.facemesh.tracker.FaceMeshTracker.track`) only the meshed frames
        have rows, and the record's ``meshed_frames`` lists them (``None``: every frame).
        ``progress`` is called after each frame (:data:`emoflow.facemesh.tracker.FrameProgress`);
        ``side_limits`` (``(min_side, max_side)``, the ``landmarks`` settings
        ``min_frame_side`` and ``max_frame_side``, which the message of a refused size names)
        refuses other frame sizes before decoding. The other keywords (``fps``, ``start_s``,
        ``end_s``) are those of the tracker (:class:`emoflow.video.FrameWindow`).

        Raises
        ------
        InputError
            The source is missing, unreadable or empty, has no frame in the time window, or
            frames of a refused size.
        """
        window["side_setting"] = SIDE_SETTINGS
        track = self.track(source, progress=progress, **window)
        frame_numbers = track.frame_numbers()
        table = landmarks_table(
            video_id,
            track.timestamps(),
            np.searchsorted(frame_numbers, track.found_frames),
            track.faces,
            n_faces=arrow_array(track.n_faces, pa.int16()),
            detection_scores=arrow_array(track.scores, pa.float32()),
            frame_numbers=frame_numbers,
        )
        record = video_record(
            source,
            track.info,
            track.n_frames,
            len(track.found_frames),
            None,
            n_on_crop=track.n_on_crop,
            meshed_frames=track.meshed_frames,
            n_frames_declared=declared_frames(track.info, window.get("fps")),
            warnings=track.warnings,
        )
        return table, record

    def extract_item(
        self,
        item: VideoItem,
        *,
        progress: FrameProgress | None = None,
        **window: Unpack[FrameWindow],
    ) -> tuple[pa.Table, dict[str, Any]]:
        """:meth:`extract_with_record` of a video item: its path and id, over its time window
        (``start_s``, ``end_s``)."""
        window["start_s"], window["end_s"] = item.start_s, item.end_s
        return self.extract_with_record(item.path, item.video_id, progress=progress, **window)

    def extract(self, source: str | Path, video_id: str, **window: float | None) -> pa.Table:
        """Extract the landmarks of every frame of one video.

        Parameters
        ----------
        source
            Video file or frame folder (see :func:`emoflow.video.open_frames`).
        video_id
            Value of the ``video_id`` column.
        **window
            ``fps`` (resample a video to this frame rate; a frame folder's frame rate),
            ``start_s`` and ``end_s`` (time window in seconds; ``None``: whole video), as for
            :meth:`extract_with_record`.

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
        unknown = set(window) - {"fps", "start_s", "end_s"}
        if unknown:
            raise TypeError(f"extract() got unexpected keyword argument(s) {sorted(unknown)}")
        table, record = self.extract_with_record(
            source,
            video_id,
            fps=window.get("fps"),
            start_s=window.get("start_s"),
            end_s=window.get("end_s"),
        )
        if record["n_faces_found"] == 0:
            raise NoFaceError(source, f"no face found in any of its {record['n_frames']} frames")
        return table.replace_schema_metadata(
            schema_metadata(
                self.refine_landmarks,
                {video_id: record},
                self.face_settings,
                frames_metadata("all", None),
            )
        )


# --- shards: many videos → one file --------------------------------------------------------


def extract_videos(
    videos: Sequence[VideoItem | tuple[Any, ...]],
    out_path: str | Path,
    *,
    strict: bool = False,
    fps: float | None = None,
    frames: str = "all",
    feature_frames: int | None = None,
    progress: bool | None = None,
    min_frame_side: int = MIN_SIDE,
    max_frame_side: int = MAX_SIDE,
    **extractor_options: Any,
) -> dict[str, dict[str, Any]]:
    """Extract several videos into one Parquet file (a shard), written atomically.

    Parameters
    ----------
    videos
        :class:`VideoItem` values or plain ``(video_id, path)`` pairs (or longer tuples in
        :class:`VideoItem` order); ids must be unique. Items with a ``landmarks_format`` are
        imported from precomputed landmark files instead of extracted.
    out_path
        The shard file to write (zstd-compressed Parquet, :data:`LANDMARK_SCHEMA`).
    strict
        Raise on the first missing, unreadable, empty or face-less video instead of
        recording its error, logging a warning and going on.
    fps
        Resample every video to this frame rate (``None`` keeps the source rate); imported
        landmarks keep their own frames.
    frames
        ``"all"`` meshes every frame; ``"sampled"`` only the frames that features of
        ``feature_frames`` frames read (:func:`emoflow.video.resampled_frames`, the frames
        :meth:`emoflow.features.FeatureSettings.frames_read` names), every frame of a video
        in which one of them shows no face. The file's metadata says which
        (:data:`~emoflow.storage.landmark_table.schema.META_FRAMES`, each record's
        ``meshed_frames``).
    feature_frames
        ``features.n_frames``; needed with ``frames="sampled"``.
    progress
        Progress bars (videos, and each video's frames) on stderr; ``None``: only when
        stderr is a terminal (never in the workflow's jobs, whose stderr is their log).
    min_frame_side, max_frame_side
        A video whose frames are smaller or larger (pixels per side; ``emoflow predict``'s
        limits by default) is not decoded: its record gives the reason, the rest of the shard
        goes on (as for any bad video; ``strict`` raises instead).
    **extractor_options
        Passed to :class:`FaceMeshExtractor` (``refine_landmarks``, ``max_num_faces``,
        ``face_policy``, ``find_small_faces``, confidences, ``static_image_mode``).

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
    items = [as_item(video) for video in videos]
    check_unique_ids(items, f"given for {out_path}")
    select = frame_selection(frames, feature_frames)
    side_limits = _side_limits(min_frame_side, max_frame_side)
    importer = None
    if any(item.landmarks_format is not None for item in items):
        # the importers (and polars) only where a shard holds precomputed landmarks
        from emoflow.landmarks.importers import LandmarkImporter

        importer = LandmarkImporter()
    with (
        FaceMeshExtractor(**extractor_options) as extractor,
        Progress(len(items), enabled=progress) as bar,
    ):
        return write_shard(
            items,
            out_path,
            _reader(extractor, importer, fps, bar, select, side_limits),
            refine_landmarks=extractor.refine_landmarks,
            faces=extractor.face_settings,
            strict=strict,
            frames=frames_metadata(frames, feature_frames),
        )


SIDE_SETTINGS = "landmarks.min_frame_side, landmarks.max_frame_side"
"""The settings that bound a video's frame size in the workflow (named in refusals)."""


def _side_limits(min_side: int, max_side: int) -> tuple[int, int]:
    for name, value in (("min_frame_side", min_side), ("max_frame_side", max_side)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive whole number of pixels, got {value!r}")
    if min_side > max_side:
        raise ConfigError(
            f"min_frame_side ({min_side}) must not exceed max_frame_side ({max_side})"
        )
    return min_side, max_side


def frame_selection(frames: str, feature_frames: int | None) -> Selection | None:
    """The tracker's ``select`` for a ``landmarks.frames`` mode (``None``: every frame): given
    the frames' times (or, for a plan at a constant rate, their number), the frames the
    features read."""
    if frames not in FRAME_MODES:
        raise ConfigError(f"frames must be one of {', '.join(FRAME_MODES)}, got {frames!r}")
    if frames == "all":
        return None
    if feature_frames is None or isinstance(feature_frames, bool) or feature_frames < 2:
        raise ConfigError(
            f'frames="sampled" needs feature_frames (features.n_frames, at least 2), got '
            f"{feature_frames!r}"
        )
    return partial(_frames_read, n_out=int(feature_frames))


def _frames_read(frames: int | np.ndarray, n_out: int) -> list[int]:
    if isinstance(frames, int | np.integer):
        return resampled_frames(int(frames), n_out).tolist()
    times = np.asarray(frames, dtype=np.float64)
    return resampled_frames(len(times), n_out, times).tolist()


def frames_metadata(frames: str, feature_frames: int | None) -> dict[str, Any]:
    """The ``emoflow.frames`` metadata value: the mode and, sampled, for which
    ``features.n_frames``."""
    return {"mode": frames, "feature_frames": feature_frames if frames == "sampled" else None}


def _reader(
    extractor: FaceMeshExtractor,
    importer: LandmarkImporter | None,
    fps: float | None,
    bar: Progress,
    select: Selection | None = None,
    side_limits: tuple[int, int] | None = None,
) -> VideoReader:
    """Read an item with Face Mesh, or import it when it has a ``landmarks_format``; count
    it and its frames on ``bar``. Running out of memory on one video is that video's error
    (an InputError naming it and saying so), not the shard's."""

    def read(item: VideoItem) -> tuple[pa.Table, dict[str, Any]]:
        bar.start(item.video_id)
        try:
            if item.landmarks_format is None:
                return extractor.extract_item(
                    item, fps=fps, select=select, progress=bar.frames, side_limits=side_limits
                )
            assert importer is not None  # made for the items with a landmarks_format
            return importer.read(item)
        except MemoryError as err:
            raise InputError(item.path, out_of_memory(item.path)) from err
        finally:
            bar.advance(1)

    return read


def out_of_memory(path: str | Path) -> str:
    """The error of a video whose decoding or meshing ran out of memory: its frame size (from
    the header, when it tells) and what to do."""
    size = ""
    try:
        import av

        with av.open(str(path), metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if width and height:
                size = f" of {width}x{height} frames"
    except Exception:  # the header tells nothing more: the message stands without it
        pass
    return (
        f"out of memory while decoding or meshing this video{size}: give the job more memory "
        "(the extract_landmarks rule's mem_mb, or --resources mem_mb) or lower "
        "landmarks.max_frame_side to refuse such frame sizes (downscale the video instead)"
    )


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

    Per-video settings come from the manifest's optional columns: ``start_s`` and ``end_s``
    (time window, seconds; null for the whole video), and, for precomputed landmarks,
    ``landmarks_format`` (``parquet`` or ``csv``: the row's ``path`` is imported, not
    extracted), ``landmarks_fps``, ``landmarks_width``, ``landmarks_height`` and
    ``landmarks_units`` (see :func:`import_landmarks`).

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
    if n_shards < 1 or not 0 <= shard < n_shards:
        raise ConfigError(f"shard must satisfy 0 <= shard < n_shards, got {shard} of {n_shards}")
    from emoflow.storage.manifest import read_manifest

    manifest = read_manifest(manifest_path, required_columns=("video_id", "path"))
    selected = manifest.gather_every(n_shards, offset=shard)
    logger.info(
        "shard %d of %d: %d of the %d videos in %s",
        shard,
        n_shards,
        selected.height,
        manifest.height,
        manifest_path,
    )
    items = _manifest_items(selected.iter_rows(named=True))
    return extract_videos(items, out_path, strict=strict, **options)


def extract_planned(
    videos: Sequence[Mapping[str, Any]],
    out_path: str | Path,
    *,
    strict: bool = False,
    settings: Mapping[str, Any] | None = None,
    **options: Any,
) -> dict[str, dict[str, Any]]:
    """Extract planned manifest rows (one shard of
    :func:`~emoflow.landmarks.planning.plan_shards`) into a landmark table.

    The workflow plans each shard's videos before the run
    (:func:`~emoflow.landmarks.planning.shard_of`, stable when videos are added or removed) and
    hands the rows to the job, so a shard's extraction depends on its own videos only, never
    on the manifest's labels. Per-video settings come
    from the rows as in :func:`extract_shard`. ``settings`` is the ``landmarks`` config
    section (its sharding keys are ignored; ``strict``, ``fps`` and the
    :class:`FaceMeshExtractor` options are used); ``options`` override it.
    """
    rows = _table_rows(videos)
    logger.info("%d planned videos", len(rows))
    merged = {"strict": strict, **extraction_settings(settings or {}), **options}
    return extract_videos(_manifest_items(rows), out_path, **merged)


def _plain(value: Any) -> bool:
    """A value that a Polars column holds as it is: ``None``, a string, a bool, a float or a
    64-bit integer."""
    if type(value) is int:
        return -(2**63) <= value < 2**63
    return value is None or type(value) in (str, float, bool)


def _table_rows(videos: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows as the rows of one table (a Polars frame of them, row by row): every row with
    every column, ``None`` where a row lacks one, each column's values of one type.

    Rows that are so already, as :func:`~emoflow.landmarks.planning.plan_shards` plans them
    (a manifest's rows: what the workflow hands to the job), are that table's rows as they
    are, and are taken without Polars (0.1 s of the job's imports); other rows are unified by
    Polars.
    """
    rows = [dict(row) for row in videos]
    columns = {name for row in rows for name in row}
    as_they_are = all(
        len(row) == len(columns) and all(_plain(value) for value in row.values()) for row in rows
    ) and all(
        len({type(row[name]) for row in rows if row[name] is not None}) <= 1 for name in columns
    )
    if as_they_are:
        return rows
    import polars as pl

    return list(pl.DataFrame(rows, infer_schema_length=None).iter_rows(named=True))


def _manifest_items(rows: Iterable[Mapping[str, Any]]) -> list[VideoItem]:
    """Manifest rows → :class:`VideoItem` values with their window and import options."""
    items = []
    for row in rows:
        fields = {field: row[name] for name, field in MANIFEST_ITEM_COLUMNS.items() if name in row}
        import_options = {
            option: row[name]
            for name, option in MANIFEST_IMPORT_COLUMNS.items()
            if row.get(name) is not None
        }
        items.append(
            VideoItem(
                video_id=row["video_id"],
                path=row["path"],
                import_options=import_options or None,
                **fields,
            )
        )
    return items

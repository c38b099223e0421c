"""Writing landmark shards: many videos' tables into one Parquet file, atomically.

The shard's rows are streamed through a staging file once they outgrow a row group, so memory
stays bounded; the schema metadata (every video's record) is written last, and the finished
file is sealed with a SHA-256 of all its bytes (:mod:`emoflow._integrity`), which every read
checks.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from emoflow._atomic import atomic_path
from emoflow._integrity import seal_parquet, sealable_metadata
from emoflow._tables import PARQUET_CHECKSUMS, PARQUET_VERIFY, arrow_scalar
from emoflow.errors import ConfigError, DataError, InputError, NoFaceError
from emoflow.landmark_files import LANDMARK_FORMATS
from emoflow.schemes import DEFAULT_SCHEME
from emoflow.storage.landmark_table.schema import (
    LANDMARK_SCHEMA,
    schema_metadata,
    video_record,
)
from emoflow.video import VideoItem

logger = logging.getLogger("emoflow.landmarks.writer")
"""The landmark stage's logger, as before the table's format moved to storage: what a user or
the workflow configures for ``emoflow.landmarks`` still shows the shards' warnings."""


PARQUET_OPTIONS: dict[str, Any] = {
    **PARQUET_CHECKSUMS,
    "compression": "zstd",
    "use_dictionary": ["video_id"],
    "use_byte_stream_split": ["timestamp_s", "landmarks.list.element.list.element"],
}
"""Shard file encoding: byte-stream-split floats compress about 40 % better with zstd and
write several times faster than with the default, which first tries dictionary encoding;
every page carries a CRC-32 checksum that :func:`emoflow.landmarks.read_landmarks` verifies."""
STAGING_OPTIONS: dict[str, Any] = {
    **PARQUET_CHECKSUMS,
    "compression": "lz4",
    "use_dictionary": ["video_id"],
}
"""Encoding of the temporary per-video file a shard is streamed to before its metadata is known."""
ROW_GROUP_ROWS = 4096
"""Rows per Parquet row group of a shard file (about 23 MB of landmarks before compression)."""


def _optional_seconds(value: Any) -> float | None:
    """``None`` for a missing (null or NaN) time, the value as float otherwise."""
    if value is None:
        return None
    seconds = float(value)
    return None if math.isnan(seconds) else seconds


def as_item(video: VideoItem | Sequence[Any]) -> VideoItem:
    """Normalise a ``(video_id, path, …)`` tuple to a :class:`VideoItem`."""
    item = video if isinstance(video, VideoItem) else VideoItem(*video)
    landmarks_format = item.landmarks_format or None
    if landmarks_format is not None and landmarks_format not in LANDMARK_FORMATS:
        raise ConfigError(
            f"video {item.video_id}: landmarks_format must be one of "
            f"{', '.join(LANDMARK_FORMATS)} or empty, got {landmarks_format!r}"
        )
    return item._replace(
        video_id=str(item.video_id),
        path=str(item.path),
        start_s=_optional_seconds(item.start_s),
        end_s=_optional_seconds(item.end_s),
        landmarks_format=landmarks_format,
    )


def check_unique_ids(items: Sequence[VideoItem], what: str) -> None:
    """Raise a ConfigError naming the ``video_id`` values that repeat among ``items``."""
    id_counts = Counter(item.video_id for item in items)
    duplicates = sorted(video_id for video_id, count in id_counts.items() if count > 1)
    if duplicates:
        raise ConfigError(f"duplicate video_id(s) {what}: {', '.join(duplicates)}")


VideoReader = Callable[[VideoItem], tuple[pa.Table, dict[str, Any]]]
"""Gives one item's table (:data:`LANDMARK_SCHEMA`) and its ``emoflow.videos`` record."""


class _ShardRows:
    """The rows of a shard on their way to its file.

    Video tables are gathered in memory; once they reach :data:`ROW_GROUP_ROWS` rows they are
    written as one row group to a staging file next to the shard (memory stays bounded).
    :meth:`finish` writes the shard file: straight from memory when everything fit, otherwise
    by copying the staging file. The copy is needed because the shard's schema metadata lists
    every video's record, and pyarrow fixes schema metadata when a Parquet writer opens.
    """

    def __init__(self, staged: Path) -> None:
        self.staged = staged
        self.rows_path = staged.with_name(staged.name + ".rows")
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.rows_writer: pq.ParquetWriter | None = None
        self.schema = LANDMARK_SCHEMA
        """The rows' schema: that of the first table added (its landmark count)."""
        self.scheme: str | None = None
        """The landmark scheme of the rows (of the first table added)."""

    def __enter__(self) -> _ShardRows:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.rows_writer is not None:
            self.rows_writer.close()
            self.rows_writer = None

    def add(self, table: pa.Table, scheme: str) -> None:
        """Queue one video's rows (of landmark scheme ``scheme``), staging them when the queue
        reaches a row group."""
        if self.scheme is None:
            self.scheme, self.schema = scheme, table.schema.remove_metadata()
        elif scheme != self.scheme:
            raise DataError(
                f"one shard cannot hold landmarks of two schemes ({self.scheme} and {scheme}); "
                "import the files of each scheme into their own landmark table"
            )
        self.pending.append(table)
        self.pending_rows += table.num_rows
        if self.pending_rows >= ROW_GROUP_ROWS:
            if self.rows_writer is None:
                self.rows_writer = pq.ParquetWriter(self.rows_path, self.schema, **STAGING_OPTIONS)
            self.rows_writer.write_table(self._take_pending())

    def _take_pending(self) -> pa.Table:
        table = pa.concat_tables(self.pending) if self.pending else self.schema.empty_table()
        self.pending, self.pending_rows = [], 0
        return table

    def finish(self, metadata: dict[str, str]) -> None:
        """Write the shard file with ``metadata`` as its schema metadata, then seal it with a
        digest of all its bytes (:func:`emoflow._integrity.seal_parquet`)."""
        schema = self.schema.with_metadata(sealable_metadata(metadata))
        with pq.ParquetWriter(self.staged, schema, **PARQUET_OPTIONS) as writer:
            self._write_rows(writer)
        seal_parquet(self.staged)

    def _write_rows(self, writer: pq.ParquetWriter) -> None:
        """Every row into the shard file's ``writer``: from memory, or from the staging file."""
        if self.rows_writer is None:
            writer.write_table(self._take_pending(), row_group_size=ROW_GROUP_ROWS)
            return
        if self.pending:
            self.rows_writer.write_table(self._take_pending())
        self.rows_writer.close()
        self.rows_writer = None
        rows_file = pq.ParquetFile(self.rows_path, **PARQUET_VERIFY)
        try:
            for batch in rows_file.iter_batches(batch_size=ROW_GROUP_ROWS):
                writer.write_batch(batch)
        finally:
            rows_file.close()


def _frames_with_several_faces(table: pa.Table) -> int:
    """Frames of a video's table whose ``n_faces`` is above 1 (unknown counts as 1)."""
    import pyarrow.compute as pc  # 30-40 ms that the workflow's plan (ROW_GROUP_ROWS) skips

    # Arrow scalars, not Python numbers: pyarrow.scalar() would import pandas (arrow_array)
    n_faces = table["n_faces"].fill_null(arrow_scalar(0, pa.int16()))
    return int(pc.sum(pc.greater(n_faces, arrow_scalar(1, pa.int16()))).as_py() or 0)


def write_shard(
    items: Sequence[VideoItem],
    out_path: str | Path,
    read: VideoReader,
    *,
    refine_landmarks: bool,
    faces: Mapping[str, Any],
    strict: bool,
    frames: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Read every item with ``read`` into one shard file (see
    :func:`emoflow.landmarks.extract_videos`); ``refine_landmarks``, ``faces`` and ``frames``
    go into the schema metadata (:func:`emoflow.storage.landmark_table.schema.schema_metadata`)."""
    records: dict[str, dict[str, Any]] = {}
    summary: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    total_frames = 0
    with atomic_path(out_path) as staged, _ShardRows(staged) as rows:
        for position, item in enumerate(items, start=1):
            video_id, path = item.video_id, item.path
            video_started = time.perf_counter()
            try:
                table, record = read(item)
            except InputError as err:
                if strict:
                    raise
                record = video_record(
                    path,
                    None,
                    0,
                    0,
                    str(err),
                    start_s=item.start_s,
                    end_s=item.end_s,
                    landmarks_format=item.landmarks_format,
                )
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
                    several = _frames_with_several_faces(table)
                    record["n_frames_several_faces"] = several
                    if several:
                        logger.warning(
                            "video %s: several faces in %d of %d frames; one was followed "
                            "(face_policy %s)",
                            video_id,
                            several,
                            record["n_frames"],
                            faces.get("face_policy", "?"),
                        )
                    rows.add(table, record.pop("scheme", None) or DEFAULT_SCHEME)
            records[video_id] = record
            summary[video_id] = {
                "frames": record["n_frames"],
                "faces_found": record["n_faces_found"],
                "error": record["error"],
            }
            total_frames += record["n_frames"]
            elapsed = time.perf_counter() - video_started
            logger.info(
                "[%d/%d] %s: %d frames, face in %d (%d on crops), %.2f s (%.0f frames/s)",
                position,
                len(items),
                video_id,
                record["n_frames"],
                record["n_faces_found"],
                record["n_faces_found_on_crop"],
                elapsed,
                record["n_frames"] / elapsed if elapsed > 0 else math.inf,
            )
        for record in records.values():  # failed videos' records: the shard says the scheme
            record.pop("scheme", None)
        metadata = schema_metadata(
            refine_landmarks, records, faces, frames, scheme=rows.scheme or DEFAULT_SCHEME
        )
        rows.finish(metadata)
    elapsed = time.perf_counter() - started
    n_failed = sum(record["error"] is not None for record in records.values())
    logger.info(
        "wrote %s: %d videos (%d skipped), %d frames in %.1f s",
        out_path,
        len(items),
        n_failed,
        total_frames,
        elapsed,
    )
    return summary

"""The landmark table (``landmarks/shard_*.parquet``): one row per meshed frame (every frame,
or the frames the features read), one Parquet file (shard) per many videos.

* :mod:`~emoflow.storage.landmark_table.schema`: the columns
  (:data:`~emoflow.storage.landmark_table.schema.LANDMARK_SCHEMA`) and metadata.
* :mod:`~emoflow.storage.landmark_table.writer`: shard files, written atomically in bounded
  memory.
* :mod:`~emoflow.storage.landmark_table.reader`: :func:`read_landmarks`,
  :func:`~emoflow.storage.landmark_table.reader.read_video_records`, :func:`landmarks_array`.

These modules own the shard files: nothing else opens them. The stage that makes the tables
(extraction, import, export) is :mod:`emoflow.landmarks`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emoflow._lazy import lazy_names

if TYPE_CHECKING:
    from emoflow.storage.landmark_table.reader import landmarks_array, read_landmarks

__all__ = ["landmarks_array", "read_landmarks"]

# imported when first used: the writer (the extraction) needs neither the reader nor polars
__getattr__ = lazy_names(__name__, {"landmarks_array": "reader", "read_landmarks": "reader"})

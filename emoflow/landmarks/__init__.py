"""The landmark table contract: one row per meshed frame (every frame, or the frames the features
read), one Parquet file (shard) per many videos.

* :mod:`~emoflow.landmarks.schema`: the columns
  (:data:`~emoflow.landmarks.schema.LANDMARK_SCHEMA`) and metadata.
* :mod:`~emoflow.landmarks.writer`: shard files, written atomically in bounded memory.
* :mod:`~emoflow.landmarks.reader`: :func:`read_landmarks`,
  :func:`~emoflow.landmarks.reader.read_video_records`, :func:`landmarks_array`.
* :mod:`~emoflow.landmarks.importers`: precomputed landmarks (Parquet, CSV) →
  :func:`import_landmarks`.
* :mod:`~emoflow.landmarks.extract`: Face Mesh (:mod:`emoflow.facemesh`) → tables:
  :class:`~emoflow.landmarks.extract.FaceMeshExtractor`, :func:`extract_videos`,
  :func:`extract_shard`.

This package owns the shard files: nothing else opens them.
"""

from emoflow.landmarks.extract import (
    decoding_summary,
    extract_planned,
    extract_shard,
    extract_videos,
    extraction_mem_mb,
    extraction_settings,
    plan_shards,
)
from emoflow.landmarks.importers import import_landmarks
from emoflow.landmarks.reader import landmarks_array, read_landmarks

__all__ = [
    "decoding_summary",
    "extract_planned",
    "extract_shard",
    "extract_videos",
    "extraction_mem_mb",
    "extraction_settings",
    "import_landmarks",
    "landmarks_array",
    "plan_shards",
    "read_landmarks",
]

"""Landmark tables made: extracted from videos with Face Mesh, imported from precomputed
landmarks, exported; the table format itself (schema, writer, reader) is
:mod:`emoflow.storage.landmark_table`, which alone opens the shard files.

* :mod:`~emoflow.landmarks.importers`: precomputed landmarks (Parquet, CSV) →
  :func:`import_landmarks`.
* :mod:`~emoflow.landmarks.extract`: Face Mesh (:mod:`emoflow.facemesh`) → tables:
  :class:`~emoflow.landmarks.extract.FaceMeshExtractor`, :func:`extract_videos`,
  :func:`extract_shard`.
* :mod:`~emoflow.landmarks.settings`: the ``landmarks`` config section
  (:class:`~emoflow.landmarks.settings.LandmarkSettings`).
* :func:`read_landmarks`, :func:`landmarks_array`: re-exported from
  :mod:`emoflow.storage.landmark_table.reader`.
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
from emoflow.landmarks.settings import LandmarkSettings
from emoflow.storage.landmark_table.reader import landmarks_array, read_landmarks

__all__ = [
    "LandmarkSettings",
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

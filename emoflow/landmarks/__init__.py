"""Landmark tables made: extracted from videos with Face Mesh, imported from precomputed
landmarks, exported; the table format itself (schema, writer, reader) is
:mod:`emoflow.storage.landmark_table`, which alone opens the shard files.

* :mod:`~emoflow.landmarks.importers`: precomputed landmarks (Parquet, CSV) →
  :func:`import_landmarks`.
* :mod:`~emoflow.landmarks.extract`: Face Mesh (:mod:`emoflow.facemesh`) → tables:
  :class:`~emoflow.landmarks.extract.FaceMeshExtractor`, :func:`extract_videos`,
  :func:`extract_shard`.
* :mod:`~emoflow.landmarks.planning`: the shards, their settings and memory, planned before
  the extraction runs (:func:`plan_shards`, light: the workflow calls it when it reads the
  Snakefile).
* :mod:`~emoflow.landmarks.settings`: the ``landmarks`` config section
  (:class:`~emoflow.landmarks.settings.LandmarkSettings`).
* :func:`read_landmarks`, :func:`landmarks_array`: re-exported from
  :mod:`emoflow.storage.landmark_table.reader`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emoflow._lazy import lazy_names

if TYPE_CHECKING:
    from emoflow.landmarks.extract import extract_planned, extract_shard, extract_videos
    from emoflow.landmarks.importers import import_landmarks
    from emoflow.landmarks.planning import (
        decoding_summary,
        extraction_mem_mb,
        extraction_settings,
        plan_shards,
    )
    from emoflow.landmarks.settings import LandmarkSettings
    from emoflow.storage.landmark_table.reader import landmarks_array, read_landmarks

# Each name is imported from its module when first used (emoflow._lazy): the workflow's plan
# (read with the Snakefile) and the readers of landmark tables import neither Face Mesh nor
# the importers (nor pyarrow.compute), the extraction neither the importers nor the reader
# (nor polars).
_LAZY = {
    "LandmarkSettings": "settings",
    "decoding_summary": "planning",
    "extract_planned": "extract",
    "extract_shard": "extract",
    "extract_videos": "extract",
    "extraction_mem_mb": "planning",
    "extraction_settings": "planning",
    "import_landmarks": "importers",
    "landmarks_array": "emoflow.storage.landmark_table.reader",
    "plan_shards": "planning",
    "read_landmarks": "emoflow.storage.landmark_table.reader",
}

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


__getattr__ = lazy_names(__name__, _LAZY)

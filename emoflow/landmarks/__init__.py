"""The landmark table contract: one row per meshed frame (every frame, or the frames the features
read), one Parquet file (shard) per many videos.

* :mod:`~emoflow.landmarks.schema`: the columns (:data:`LANDMARK_SCHEMA`) and metadata.
* :mod:`~emoflow.landmarks.writer`: shard files, written atomically in bounded memory.
* :mod:`~emoflow.landmarks.reader`: :func:`read_landmarks`, :func:`read_video_records`,
  :func:`landmarks_array`.
* :mod:`~emoflow.landmarks.importers`: precomputed landmarks (Parquet, CSV) →
  :func:`import_landmarks`.
* :mod:`~emoflow.landmarks.extract`: Face Mesh (:mod:`emoflow.facemesh`) → tables:
  :class:`FaceMeshExtractor`, :func:`extract_videos`, :func:`extract_shard`.

This package owns the shard files: nothing else opens them.
"""

from emoflow.facemesh import FACE_POLICIES, choose_face
from emoflow.landmarks.extract import (
    MANIFEST_IMPORT_COLUMNS,
    MANIFEST_ITEM_COLUMNS,
    FaceMeshExtractor,
    decoding_summary,
    extract_planned,
    extract_shard,
    extract_videos,
    extraction_mem_mb,
    extraction_settings,
    plan_shards,
    shard_of,
)
from emoflow.landmarks.importers import (
    DEFAULT_IMPORT_FPS,
    coordinate_columns,
    import_landmarks,
)
from emoflow.landmarks.reader import (
    landmark_files,
    landmark_scheme,
    landmarks_array,
    read_landmarks,
    read_video_records,
)
from emoflow.landmarks.schema import (
    LANDMARK_SCHEMA,
    POINT_TYPE,
    REQUIRED_COLUMNS,
    decoding_problems,
    landmark_schema,
    model_description,
    schema_metadata,
)
from emoflow.landmarks.writer import ROW_GROUP_ROWS
from emoflow.video import COORDINATE_UNITS, LANDMARK_FORMATS, VideoItem

__all__ = [
    "COORDINATE_UNITS",
    "DEFAULT_IMPORT_FPS",
    "FACE_POLICIES",
    "LANDMARK_FORMATS",
    "LANDMARK_SCHEMA",
    "MANIFEST_IMPORT_COLUMNS",
    "MANIFEST_ITEM_COLUMNS",
    "POINT_TYPE",
    "REQUIRED_COLUMNS",
    "ROW_GROUP_ROWS",
    "FaceMeshExtractor",
    "VideoItem",
    "choose_face",
    "coordinate_columns",
    "decoding_problems",
    "decoding_summary",
    "extract_planned",
    "extract_shard",
    "extract_videos",
    "extraction_mem_mb",
    "extraction_settings",
    "import_landmarks",
    "landmark_files",
    "landmark_schema",
    "landmark_scheme",
    "landmarks_array",
    "model_description",
    "plan_shards",
    "read_landmarks",
    "read_video_records",
    "schema_metadata",
    "shard_of",
]

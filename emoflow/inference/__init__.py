"""Inference on new videos: the one pipeline that ``emoflow predict`` and ``emoflow explain`` use.

Steps, one module each:

- :mod:`~emoflow.inference.sources`: which videos (:func:`find_videos`, :class:`VideoSource`);
- :mod:`~emoflow.inference.loading`: which models and their checks (:func:`model_paths`,
  :func:`load_models`, :class:`LoadedModel`) — the only way inference loads a model;
- :mod:`~emoflow.inference.videos`: checks before decoding and Face Mesh
  (:func:`inspect_video`, :func:`extract_video`, :class:`VideoLandmarks`);
- :mod:`~emoflow.inference.pipeline`: the shared set-up (:class:`Pipeline`: models, Face Mesh
  options, face policy, extractor);
- :mod:`~emoflow.inference.windows`: time windows, feature samples, scores;
- :mod:`~emoflow.inference.relevance`: per-video Integrated Gradients (``explain``);
- :mod:`~emoflow.inference.drawing`: the picture and the annotated clip (``explain``);
- :mod:`~emoflow.inference.outputs`: output formats, atomic table writing.

The commands themselves are :mod:`emoflow.predict` and :mod:`emoflow.explain`.
"""

from emoflow.inference.loading import (
    SYNTHETIC_NOTE,
    LoadedModel,
    extraction_options,
    landmark_union,
    load_models,
    model_paths,
    trained_on,
)
from emoflow.inference.outputs import OUTPUT_SUFFIXES, check_suffix, output_format, write_table
from emoflow.inference.pipeline import FACE_MODES, MAX_FACES_FOLLOWED, Pipeline, check_face_mode
from emoflow.inference.sources import (
    LIST_SUFFIXES,
    VIDEO_SUFFIXES,
    VideoSource,
    check_unique,
    find_videos,
    names_one_video,
)
from emoflow.inference.videos import (
    MAX_SIDE,
    MIN_SIDE,
    FaceCounter,
    VideoLandmarks,
    check_resolution,
    extract_video,
    frame_size,
    inspect_video,
)
from emoflow.inference.windows import (
    feature_samples,
    model_columns,
    model_inputs,
    score_windows,
    time_windows,
    window_features,
    window_mask,
)

__all__ = [
    "FACE_MODES",
    "LIST_SUFFIXES",
    "MAX_FACES_FOLLOWED",
    "MAX_SIDE",
    "MIN_SIDE",
    "OUTPUT_SUFFIXES",
    "SYNTHETIC_NOTE",
    "VIDEO_SUFFIXES",
    "FaceCounter",
    "LoadedModel",
    "Pipeline",
    "VideoLandmarks",
    "VideoSource",
    "check_face_mode",
    "check_resolution",
    "check_suffix",
    "check_unique",
    "extract_video",
    "extraction_options",
    "feature_samples",
    "find_videos",
    "frame_size",
    "inspect_video",
    "landmark_union",
    "load_models",
    "model_columns",
    "model_inputs",
    "model_paths",
    "names_one_video",
    "output_format",
    "score_windows",
    "time_windows",
    "trained_on",
    "window_features",
    "window_mask",
    "write_table",
]

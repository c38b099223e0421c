"""Inference on new videos: the one pipeline that ``emoflow predict`` and ``emoflow explain`` use.

Steps, one module each:

- :mod:`~emoflow.inference.sources`: which videos (:func:`find_videos`, giving
  :class:`~emoflow.video.VideoItem` values);
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

from emoflow.inference.outputs import check_suffix

__all__ = ["check_suffix"]

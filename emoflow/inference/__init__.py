"""Inference on new videos: the one pipeline that ``emoflow predict`` and ``emoflow explain`` use.

Steps, one module each:

- :mod:`~emoflow.inference.sources`: which videos (:func:`~emoflow.inference.sources.find_videos`,
  giving :class:`~emoflow.video.VideoItem` values);
- :mod:`~emoflow.inference.loading`: which models and their checks
  (:func:`~emoflow.inference.loading.model_paths`, :func:`~emoflow.inference.loading.load_models`,
  :class:`~emoflow.inference.loading.LoadedModel`) — the only way inference loads a model;
- :mod:`~emoflow.inference.videos`: checks before decoding and Face Mesh
  (:func:`~emoflow.inference.videos.inspect_video`, :func:`~emoflow.inference.videos.extract_video`,
  :class:`~emoflow.inference.videos.VideoLandmarks`);
- :mod:`~emoflow.inference.pipeline`: the shared set-up
  (:class:`~emoflow.inference.pipeline.Pipeline`: models, Face Mesh options, face policy,
  extractor);
- :mod:`~emoflow.inference.windows`: time windows, feature samples, scores;
- :mod:`~emoflow.inference.relevance`: per-video Integrated Gradients (``explain``);
- :mod:`~emoflow.inference.drawing`: the picture and the annotated clip (``explain``);
- :mod:`~emoflow.inference.outputs`: output formats, atomic table writing.

The commands themselves are :mod:`emoflow.predict` and :mod:`emoflow.explain`.
"""

from emoflow.inference.outputs import check_suffix

__all__ = ["check_suffix"]

"""emoflow: explainable, fast facial-emotion recognition from video.

Stages, one module each: :mod:`emoflow.demo` (synthetic data set), :mod:`emoflow.manifest`,
:mod:`emoflow.video`, :mod:`emoflow.landmarks`, :mod:`emoflow.features`, :mod:`emoflow.models`,
:mod:`emoflow.attribution`, :mod:`emoflow.pruning`, :mod:`emoflow.report`.
Heavy libraries (torch, mediapipe, captum) are imported lazily inside the stages that need them.
"""

__version__ = "0.1.0"

"""emoflow: explainable, fast facial-emotion recognition from video.

Packages by concern (README, "Where things live"): :mod:`emoflow.config`,
:mod:`emoflow.layout`, :mod:`emoflow.video`, :mod:`emoflow.facemesh`, :mod:`emoflow.datasets`,
:mod:`emoflow.manifest`, :mod:`emoflow.landmarks`, :mod:`emoflow.features`,
:mod:`emoflow.storage`, :mod:`emoflow.models`, :mod:`emoflow.training`,
:mod:`emoflow.attribution`, :mod:`emoflow.pruning`, :mod:`emoflow.chains`,
:mod:`emoflow.inference`, :mod:`emoflow.report`, :mod:`emoflow.demo`. Heavy libraries (torch,
MediaPipe, Captum, matplotlib, dask) are imported lazily inside the stages that need them.
"""

__version__ = "0.1.0"

"""Everything MediaPipe Face Mesh: the mesh topology and the extractor that follows a face.

* :mod:`emoflow.facemesh.mesh`: landmark count, named regions, tesselation, contours,
  mirror pairs and a reference face, read from the package's ``face_mesh.json``.
* :mod:`emoflow.facemesh.tracker`: :class:`~emoflow.facemesh.tracker.FaceMeshTracker`, Face
  Mesh over a video's frames (with face choice and the small-face search of
  :mod:`emoflow.facemesh.faces`), built on the graph of :mod:`emoflow.facemesh._graph`.

Importing this package is light: MediaPipe and OpenCV load when the first frame is processed.
MediaPipe is not a dependency of the package (README, "Installation notes"): without it,
:func:`require_mediapipe` and every MediaPipe import raise a
:class:`~emoflow.errors.MissingDependencyError` whose message is the install command
(:data:`MEDIAPIPE_INSTALL`).
Landmark *tables* (schema, shards, import) are :mod:`emoflow.landmarks`.
"""

from emoflow.facemesh._graph import MEDIAPIPE_INSTALL, import_mediapipe, require_mediapipe

__all__ = ["MEDIAPIPE_INSTALL", "import_mediapipe", "require_mediapipe"]

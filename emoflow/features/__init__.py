"""Landmark tables → a feature tensor ``(n_samples, n_frames, n_landmarks, 3)`` in Zarr.

Each video's landmark sequence is converted to pixel-proportional coordinates, missing-face
frames interpolated, normalised (optionally aligned by a similarity Procrustes fit — to the
video's first frame or to the canonical face of :func:`emoflow.facemesh.mesh.reference_face` — to
remove head pose, then centred on the face and scaled by the inter-ocular distance), resampled
to a fixed number of frames and, optionally, expressed as displacement from the first (neutral)
frame. Landmark subsets are taken later by indexing the ``landmark`` axis
(:meth:`FeatureSet.select`), never by recomputing features.
"""

from emoflow.features.build import build_features, features_from_landmarks
from emoflow.features.normalise import FeatureSettings
from emoflow.storage.feature_store import FeatureSet, load_features, sample_summary

__all__ = [
    "FeatureSet",
    "FeatureSettings",
    "build_features",
    "features_from_landmarks",
    "load_features",
    "sample_summary",
]

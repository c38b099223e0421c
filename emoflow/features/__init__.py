"""Landmark tables → a feature tensor ``(n_samples, n_frames, n_landmarks, 3)`` in Zarr.

Each video's landmark sequence is converted to pixel-proportional coordinates, missing-face
frames interpolated, normalised (optionally aligned by a similarity Procrustes fit — to the
video's first frame or to the canonical face of :func:`emoflow.facemesh.reference_face` — to
remove head pose, then centred on the face and scaled by the inter-ocular distance), resampled
to a fixed number of frames and, optionally, expressed as displacement from the first (neutral)
frame. Landmark subsets are taken later by indexing the ``landmark`` axis
(:meth:`FeatureSet.select`), never by recomputing features.
"""

from emoflow.features.build import build_features, features_from_landmarks
from emoflow.features.normalise import (
    ALIGNMENTS,
    LEFT_EYE_OUTER,
    MIN_SAMPLE_FRAMES,
    RIGHT_EYE_OUTER,
    FeatureSettings,
    canonical_face,
    normalise_sequence,
    resample_frames,
)
from emoflow.features.store import (
    COORDS,
    FEATURE_DIMS,
    FeatureSet,
    load_features,
    read_sample_report,
    read_store_attributes,
    read_store_samples,
    read_strings,
    sample_summary,
    write_feature_store,
)

__all__ = [
    "ALIGNMENTS",
    "COORDS",
    "FEATURE_DIMS",
    "LEFT_EYE_OUTER",
    "MIN_SAMPLE_FRAMES",
    "RIGHT_EYE_OUTER",
    "FeatureSet",
    "FeatureSettings",
    "build_features",
    "canonical_face",
    "features_from_landmarks",
    "load_features",
    "normalise_sequence",
    "read_sample_report",
    "read_store_attributes",
    "read_store_samples",
    "read_strings",
    "resample_frames",
    "sample_summary",
    "write_feature_store",
]

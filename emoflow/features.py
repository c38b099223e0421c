"""Landmark tables → a feature tensor ``(n_samples, n_frames, n_landmarks, 3)`` in Zarr.

Each video's landmark sequence is converted to pixel-proportional coordinates, normalised
(centred on the face, scaled by the inter-ocular distance, optionally aligned to its first
frame by a similarity Procrustes fit to remove head pose), missing-face frames interpolated,
resampled to a fixed number of frames and, optionally, expressed as displacement from the first
(neutral) frame. Landmark subsets are taken later by indexing the ``landmark`` axis, never by
recomputing features.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from emoflow._atomic import atomic_path
from emoflow.errors import ConfigError, DataError, InputError
from emoflow.facemesh import N_LANDMARKS

log = logging.getLogger(__name__)

FEATURE_DIMS = ("sample", "frame", "landmark", "coord")
COORDS = ("x", "y", "z")
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
"""Face Mesh ids of the outer eye corners, whose distance sets the scale."""


@dataclass(frozen=True)
class FeatureSettings:
    """How landmark sequences become features.

    Parameters
    ----------
    n_frames
        Frames per sample after temporal resampling.
    center
        ``"mean"`` (centroid of the frame's landmarks), ``"nose"`` (tip, id 1) or ``"none"``.
    scale
        ``"interocular"`` (divide by the outer-eye-corner distance of the first frame) or
        ``"none"``.
    align
        Remove head pose by a similarity Procrustes fit of every frame to the first one.
    displacement
        Subtract the first (neutral) frame, so features hold motion, not face shape.
    max_missing
        Largest share of frames without a face a video may have; above it the video is dropped.
    """

    n_frames: int = 8
    center: Literal["mean", "nose", "none"] = "mean"
    scale: Literal["interocular", "none"] = "interocular"
    align: bool = True
    displacement: bool = True
    max_missing: float = 0.2

    def __post_init__(self) -> None:
        if self.n_frames < 2:
            raise ConfigError(f"features.n_frames must be at least 2, got {self.n_frames}")
        if self.center not in ("mean", "nose", "none"):
            raise ConfigError(f"features.center must be mean, nose or none, got {self.center!r}")
        if self.scale not in ("interocular", "none"):
            raise ConfigError(f"features.scale must be interocular or none, got {self.scale!r}")
        if not 0.0 <= self.max_missing < 1.0:
            raise ConfigError(f"features.max_missing must be in [0, 1), got {self.max_missing}")


@dataclass
class FeatureSet:
    """Features of a data set as loaded from the Zarr store.

    Attributes
    ----------
    features
        Shape ``(n_samples, n_frames, n_landmarks, 3)``, float32.
    video_ids, subjects, emotions
        One entry per sample.
    emotion_names
        The emotions of the data set, in a fixed order.
    settings
        The :class:`FeatureSettings` used, as a dict.
    """

    features: np.ndarray
    video_ids: np.ndarray
    subjects: np.ndarray
    emotions: np.ndarray
    emotion_names: list[str]
    settings: dict[str, Any] = field(default_factory=dict)

    def labels_for(self, emotion: str) -> np.ndarray:
        """One-vs-rest labels (1 for ``emotion``, 0 otherwise), shape ``(n_samples,)``."""
        return (self.emotions == emotion).astype(np.int64)


def _interpolate_missing(landmarks: np.ndarray, found_mask: np.ndarray) -> np.ndarray:
    """Fill frames without a face by linear interpolation in time (edges: nearest frame)."""
    if found_mask.all():
        return landmarks
    frames = np.arange(len(landmarks))
    flat = landmarks.reshape(len(landmarks), -1)
    filled = np.empty_like(flat)
    for column in range(flat.shape[1]):
        filled[:, column] = np.interp(frames, frames[found_mask], flat[found_mask, column])
    return filled.reshape(landmarks.shape)


def _align_to(frame: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Similarity-align ``frame`` (landmark, 3) to ``target`` (Umeyama, rotation + scale)."""
    frame_mean, target_mean = frame.mean(axis=0), target.mean(axis=0)
    frame_c, target_c = frame - frame_mean, target - target_mean
    u, singular, vt = np.linalg.svd(target_c.T @ frame_c)
    sign = np.sign(np.linalg.det(u @ vt)) or 1.0
    correction = np.diag([1.0, 1.0, sign])
    rotation = u @ correction @ vt
    scale = (singular * np.diag(correction)).sum() / max((frame_c**2).sum(), 1e-12)
    return scale * frame_c @ rotation.T + target_mean


def resample_frames(landmarks: np.ndarray, n_frames: int) -> np.ndarray:
    """Linearly resample a sequence ``(n_in, ...)`` to ``(n_frames, ...)`` over the same span."""
    n_in = len(landmarks)
    if n_in == 1:
        return np.repeat(landmarks, n_frames, axis=0)
    positions = np.linspace(0.0, n_in - 1, n_frames)
    lower = np.floor(positions).astype(int)
    upper = np.minimum(lower + 1, n_in - 1)
    weight = (positions - lower).reshape(-1, *([1] * (landmarks.ndim - 1)))
    return (1.0 - weight) * landmarks[lower] + weight * landmarks[upper]


def normalise_sequence(
    landmarks: np.ndarray,
    found_mask: np.ndarray,
    settings: FeatureSettings,
    *,
    width: int = 1,
    height: int = 1,
) -> np.ndarray:
    """Turn one video's raw landmarks into its feature sample.

    Parameters
    ----------
    landmarks
        MediaPipe's normalised coordinates, shape ``(n_frames_in, 478, 3)``; NaN where no face.
    found_mask
        Shape ``(n_frames_in,)``, whether the frame has a face.
    settings
        Normalisation settings.
    width, height
        Frame size in pixels, to undo MediaPipe's per-axis normalisation (z uses width).

    Returns
    -------
    np.ndarray
        Shape ``(settings.n_frames, 478, 3)``, float32.
    """
    pixels = landmarks.astype(np.float64) * np.array([width, height, width], dtype=np.float64)
    pixels = _interpolate_missing(pixels, found_mask)
    if settings.align:
        pixels = np.stack([_align_to(frame, pixels[0]) for frame in pixels])
    if settings.center == "mean":
        pixels = pixels - pixels.mean(axis=1, keepdims=True)
    elif settings.center == "nose":
        pixels = pixels - pixels[:, 1:2, :]
    if settings.scale == "interocular":
        interocular = np.linalg.norm(pixels[0, RIGHT_EYE_OUTER] - pixels[0, LEFT_EYE_OUTER])
        pixels = pixels / max(float(interocular), 1e-9)
    sample = resample_frames(pixels, settings.n_frames)
    if settings.displacement:
        sample = sample - sample[:1]
    return sample.astype(np.float32)


def build_features(
    manifest_path: str | Path,
    landmark_paths: Sequence[str | Path],
    out_path: str | Path,
    settings: FeatureSettings,
) -> dict[str, Any]:
    """Build the feature store of a data set.

    Parameters
    ----------
    manifest_path
        The manifest Parquet (video_id, subject, emotion, …).
    landmark_paths
        Landmark tables (shards) covering the manifest's videos.
    out_path
        The Zarr store to write (atomically).
    settings
        Normalisation settings.

    Returns
    -------
    dict
        ``{"n_samples": …, "dropped": {video_id: reason}}``.
    """
    import polars as pl

    from emoflow.landmarks import landmarks_array, read_landmarks, read_video_records

    manifest = pl.read_parquet(manifest_path).sort("video_id")
    tables = read_landmarks(list(landmark_paths))
    sizes = read_video_records(list(landmark_paths))
    by_video = tables.partition_by("video_id", as_dict=True, maintain_order=True)
    samples, kept_rows, dropped = [], [], {}
    for row in manifest.iter_rows(named=True):
        video_id = row["video_id"]
        video_table = by_video.get((video_id,))
        if video_table is None or video_table.height == 0:
            reason = (sizes.get(video_id) or {}).get("error") or "no landmark rows"
            dropped[video_id] = reason
            continue
        landmarks, found_mask = landmarks_array(video_table, video_id)
        missing_share = 1.0 - float(found_mask.mean())
        if not found_mask.any() or missing_share > settings.max_missing:
            dropped[video_id] = f"{missing_share:.0%} of frames without a face"
            continue
        size = sizes.get(video_id, {})
        samples.append(
            normalise_sequence(
                landmarks,
                found_mask,
                settings,
                width=int(size.get("width") or 1),
                height=int(size.get("height") or 1),
            )
        )
        kept_rows.append(row)
    for video_id, reason in dropped.items():
        log.warning("video %s dropped from features: %s", video_id, reason)
    if not samples:
        raise DataError(f"no usable video among {manifest.height} in {manifest_path}")
    features = np.stack(samples)
    kept = pl.DataFrame(kept_rows, schema=manifest.schema)
    emotion_names = sorted(kept["emotion"].unique().to_list())
    write_feature_store(
        out_path,
        features=features,
        video_ids=kept["video_id"].to_numpy().astype(str),
        subjects=kept["subject"].to_numpy().astype(str),
        emotions=kept["emotion"].to_numpy().astype(str),
        emotion_names=emotion_names,
        settings=asdict(settings),
        dropped=dropped,
    )
    return {"n_samples": len(samples), "dropped": dropped}


def write_feature_store(
    out_path: str | Path,
    *,
    features: np.ndarray,
    video_ids: np.ndarray,
    subjects: np.ndarray,
    emotions: np.ndarray,
    emotion_names: list[str],
    settings: dict[str, Any],
    dropped: dict[str, str] | None = None,
) -> None:
    """Write features and their sample labels as a Zarr v3 store (atomically)."""
    import zarr

    n_samples, n_frames, n_landmarks, n_coords = features.shape
    with atomic_path(out_path, directory=True) as staged:
        root = zarr.open_group(str(staged), mode="w")
        array = root.create_array(
            "features",
            shape=features.shape,
            dtype="float32",
            chunks=(min(n_samples, 256), n_frames, n_landmarks, n_coords),
            dimension_names=FEATURE_DIMS,
        )
        array[...] = features
        array.attrs["dims"] = list(FEATURE_DIMS)
        array.attrs["coords"] = list(COORDS)
        for name, values in (("video_id", video_ids), ("subject", subjects), ("emotion", emotions)):
            labels = root.create_array(
                name, shape=(n_samples,), dtype=str, dimension_names=["sample"]
            )
            labels[...] = np.asarray(values, dtype=str)
            labels.attrs["dims"] = ["sample"]
        root.attrs.update(
            {
                "emoflow_store": "features",
                "dims": {"features": list(FEATURE_DIMS)},
                "emotions": list(emotion_names),
                "n_landmarks": int(n_landmarks),
                "settings": settings,
                "dropped": dropped or {},
            }
        )


def read_strings(array: Any) -> np.ndarray:
    """A Zarr string array as a NumPy unicode array (Zarr returns NumPy's StringDType)."""
    return np.array(np.asarray(array[...]).tolist(), dtype=str)


def load_features(path: str | Path) -> FeatureSet:
    """Read a feature store written by :func:`build_features`."""
    import zarr

    if not Path(path).exists():
        raise InputError(path, "feature store does not exist")
    root = zarr.open_group(str(path), mode="r")
    if root.attrs.get("emoflow_store") != "features":
        raise InputError(path, "not an emoflow feature store")
    features = np.asarray(root["features"][...], dtype=np.float32)
    if not np.isfinite(features).all():
        raise DataError(f"{path}: features contain NaN or infinite values")
    if features.shape[2] != N_LANDMARKS:
        log.info("feature store %s holds %d landmarks", path, features.shape[2])
    return FeatureSet(
        features=features,
        video_ids=read_strings(root["video_id"]),
        subjects=read_strings(root["subject"]),
        emotions=read_strings(root["emotion"]),
        emotion_names=list(root.attrs["emotions"]),
        settings=dict(root.attrs["settings"]),
    )

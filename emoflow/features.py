"""Landmark tables → a feature tensor ``(n_samples, n_frames, n_landmarks, 3)`` in Zarr.

Each video's landmark sequence is converted to pixel-proportional coordinates, missing-face
frames interpolated, normalised (optionally aligned by a similarity Procrustes fit — to the
video's first frame or to the canonical face of :func:`emoflow.facemesh.reference_face` — to
remove head pose, then centred on the face and scaled by the inter-ocular distance), resampled
to a fixed number of frames and, optionally, expressed as displacement from the first (neutral)
frame. Landmark subsets are taken later by indexing the ``landmark`` axis
(:meth:`FeatureSet.select`), never by recomputing features.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from emoflow._atomic import atomic_path
from emoflow.errors import ConfigError, DataError, InputError
from emoflow.facemesh import N_LANDMARKS, RIGID_LANDMARKS, reference_face

log = logging.getLogger(__name__)

FEATURE_DIMS = ("sample", "frame", "landmark", "coord")
COORDS = ("x", "y", "z")
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
"""Face Mesh ids of the outer eye corners, whose distance sets the scale."""
ALIGNMENTS = ("none", "first_frame", "canonical")
"""Values of :attr:`FeatureSettings.align`."""


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
        Remove head pose by a similarity Procrustes fit (rotation, scale, translation) of every
        frame: ``"first_frame"`` aligns to the video's first frame (pose changes within the video
        go, the pose of the first frame stays), ``"canonical"`` aligns to the canonical neutral
        face of :func:`emoflow.facemesh.reference_face` (the pose of the whole video goes too),
        ``"none"`` keeps the pose. ``True``/``False`` are read as ``"first_frame"``/``"none"``.
    align_on
        Landmarks the pose is fitted on: ``"rigid"`` (:data:`emoflow.facemesh.RIGID_LANDMARKS`,
        which expressions barely move) or ``"all"``.
    displacement
        Subtract the first (neutral) frame, so features hold motion, not face shape.
    max_missing
        Largest share of frames without a face a video may have; above it the video is dropped.
    """

    n_frames: int = 8
    center: Literal["mean", "nose", "none"] = "mean"
    scale: Literal["interocular", "none"] = "interocular"
    align: Literal["none", "first_frame", "canonical"] = "first_frame"
    align_on: Literal["rigid", "all"] = "rigid"
    displacement: bool = True
    max_missing: float = 0.2

    def __post_init__(self) -> None:
        if isinstance(self.align, bool | np.bool_):  # the boolean form of earlier versions
            object.__setattr__(self, "align", "first_frame" if self.align else "none")
        if self.align not in ALIGNMENTS:
            raise ConfigError(
                f"features.align must be none, first_frame or canonical, got {self.align!r}"
            )
        if self.align_on not in ("rigid", "all"):
            raise ConfigError(f"features.align_on must be rigid or all, got {self.align_on!r}")
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
    landmark_ids
        The Face Mesh id of each entry of the ``landmark`` axis; ``None`` means
        ``0 … n_landmarks − 1`` (all landmarks of the store, in order).
    """

    features: np.ndarray
    video_ids: np.ndarray
    subjects: np.ndarray
    emotions: np.ndarray
    emotion_names: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    landmark_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        n_landmarks = self.features.shape[2]
        if self.landmark_ids is None:
            self.landmark_ids = np.arange(n_landmarks, dtype=np.int64)
        self.landmark_ids = np.asarray(self.landmark_ids, dtype=np.int64)
        if self.landmark_ids.shape != (n_landmarks,):
            raise DataError(
                f"{len(self.landmark_ids)} landmark ids for features with {n_landmarks} landmarks"
            )

    def labels_for(self, emotion: str) -> np.ndarray:
        """One-vs-rest labels (1 for ``emotion``, 0 otherwise), shape ``(n_samples,)``."""
        return (self.emotions == emotion).astype(np.int64)

    def samples(self, mask: np.ndarray) -> FeatureSet:
        """The samples where ``mask`` (shape ``(n_samples,)``, Boolean) is true."""
        mask = np.asarray(mask, dtype=bool)
        return FeatureSet(
            features=self.features[mask],
            video_ids=self.video_ids[mask],
            subjects=self.subjects[mask],
            emotions=self.emotions[mask],
            emotion_names=self.emotion_names,
            settings=self.settings,
            landmark_ids=self.landmark_ids,
        )

    def select(self, landmarks: Sequence[int] | np.ndarray) -> FeatureSet:
        """The same samples restricted to some landmarks, by indexing the ``landmark`` axis.

        Parameters
        ----------
        landmarks
            Face Mesh ids (as in ``landmarks.json`` and model metadata), in the order wanted;
            each must be held by this set and appear once.

        Returns
        -------
        FeatureSet
            Features ``(n_samples, n_frames, len(landmarks), 3)``; sample arrays and settings
            are shared with this set, not copied.

        Raises
        ------
        DataError
            A landmark id is repeated or not held by this set.
        """
        wanted = np.asarray(landmarks, dtype=np.int64).reshape(-1)
        if len(np.unique(wanted)) != len(wanted):
            raise DataError("landmark subset repeats a landmark id")
        assert self.landmark_ids is not None
        position_of = {int(lid): pos for pos, lid in enumerate(self.landmark_ids)}
        unknown = [int(lid) for lid in wanted if int(lid) not in position_of]
        if unknown:
            raise DataError(
                f"landmark id(s) {unknown[:10]} are not in this feature set "
                f"({len(self.landmark_ids)} landmarks)"
            )
        positions = np.array([position_of[int(lid)] for lid in wanted], dtype=np.int64)
        if len(positions) == len(self.landmark_ids) and np.array_equal(
            positions, np.arange(len(positions))
        ):
            features = self.features  # the whole set, in order: no copy
        else:
            features = self.features[:, :, positions, :]
        return FeatureSet(
            features=features,
            video_ids=self.video_ids,
            subjects=self.subjects,
            emotions=self.emotions,
            emotion_names=self.emotion_names,
            settings=self.settings,
            landmark_ids=wanted,
        )


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


def _align_to(
    frame: np.ndarray, target: np.ndarray, anchors: Sequence[int] | None = None
) -> np.ndarray:
    """Similarity-align ``frame`` (landmark, 3) to ``target`` (Umeyama, rotation + scale).

    The transform is fitted on the ``anchors`` landmarks (all when ``None``) and applied to all.
    """
    frame_fit = frame if anchors is None else frame[list(anchors)]
    target_fit = target if anchors is None else target[list(anchors)]
    frame_mean, target_mean = frame_fit.mean(axis=0), target_fit.mean(axis=0)
    frame_c, target_c = frame - frame_mean, target_fit - target_mean
    frame_fit_c = frame_fit - frame_mean
    u, singular, vt = np.linalg.svd(target_c.T @ frame_fit_c)
    sign = np.sign(np.linalg.det(u @ vt)) or 1.0
    correction = np.diag([1.0, 1.0, sign])
    rotation = u @ correction @ vt
    scale = (singular * np.diag(correction)).sum() / max((frame_fit_c**2).sum(), 1e-12)
    return scale * frame_c @ rotation.T + target_mean


def canonical_face(n_landmarks: int = N_LANDMARKS) -> np.ndarray:
    """The target of ``align="canonical"``: the reference neutral face, ``(n_landmarks, 3)``.

    :func:`emoflow.facemesh.reference_face` holds MediaPipe's coordinates of a square image;
    the first ``n_landmarks`` points are used (468 without the iris refinement).
    """
    reference = reference_face()
    if not 0 < n_landmarks <= len(reference):
        raise DataError(
            f"a face of {n_landmarks} landmarks cannot be aligned to the canonical face of "
            f"{len(reference)} landmarks"
        )
    return reference[:n_landmarks]


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
    anchors = RIGID_LANDMARKS if settings.align_on == "rigid" else None
    if settings.align == "first_frame":
        pixels = np.stack([_align_to(frame, pixels[0], anchors) for frame in pixels])
    elif settings.align == "canonical":
        target = canonical_face(pixels.shape[1])
        pixels = np.stack([_align_to(frame, target, anchors) for frame in pixels])
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


def _video_sample(
    video_id: str, video_table: Any, record: dict[str, Any], settings: FeatureSettings
) -> np.ndarray | str:
    """One video's feature sample, or the reason it gives none."""
    from emoflow.landmarks import landmarks_array

    if video_table.height == 0:
        return str(record.get("error") or "no landmark rows")
    landmarks, found_mask = landmarks_array(video_table, video_id)
    missing_share = 1.0 - float(found_mask.mean())
    if not found_mask.any() or missing_share > settings.max_missing:
        return f"{missing_share:.0%} of frames without a face"
    if not np.isfinite(landmarks[found_mask]).all():
        raise DataError(
            f"video {video_id!r}: landmarks of frames with a face hold NaN or infinite "
            "values; the landmark table is damaged, re-extract it"
        )
    return normalise_sequence(
        landmarks,
        found_mask,
        settings,
        width=int(record.get("width") or 1),
        height=int(record.get("height") or 1),
    )


def features_from_landmarks(
    landmark_paths: str | Path | Sequence[str | Path],
    settings: FeatureSettings,
    *,
    video_ids: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[str], dict[str, str]]:
    """Feature samples of the videos in landmark tables, without a manifest or a store.

    This is what :func:`build_features` does per video; it also serves to apply a saved model
    to new landmark tables (:func:`emoflow.models.apply_model`).

    Parameters
    ----------
    landmark_paths
        Landmark tables (a file, a folder, a glob, or a sequence of them), as written by
        :func:`emoflow.landmarks.extract_videos`.
    settings
        Normalisation settings.
    video_ids
        The videos to take, in this order; ``None`` takes every video of the tables, sorted.

    Returns
    -------
    features
        Shape ``(n_kept, settings.n_frames, n_landmarks, 3)``, float32.
    kept
        The video id of each sample.
    dropped
        ``video_id`` → why it gave no sample (no rows, too many frames without a face).
    """
    from emoflow.landmarks import landmark_files, read_landmarks, read_video_records

    records = read_video_records(landmark_paths)
    wanted = None if video_ids is None else set(video_ids)
    by_video: dict[str, np.ndarray | str] = {}
    # one shard in memory at a time: a video's rows all live in one file
    for file in landmark_files(landmark_paths):
        table = read_landmarks(file)
        for (video_id,), video_table in table.partition_by(
            "video_id", as_dict=True, maintain_order=True
        ).items():
            if wanted is None or video_id in wanted:
                by_video[str(video_id)] = _video_sample(
                    str(video_id), video_table, records.get(str(video_id)) or {}, settings
                )
    if video_ids is None:
        video_ids = sorted(set(by_video) | set(records))
    samples, kept, dropped = [], [], {}
    for video_id in video_ids:
        outcome = by_video.get(
            video_id, (records.get(video_id) or {}).get("error") or "no landmark rows"
        )
        if isinstance(outcome, str):
            dropped[video_id] = outcome
        else:
            samples.append(outcome)
            kept.append(video_id)
    for video_id, reason in dropped.items():
        log.warning("video %s dropped from features: %s", video_id, reason)
    if not samples:
        features = np.zeros((0, settings.n_frames, N_LANDMARKS, 3), dtype=np.float32)
    else:
        features = np.stack(samples)
    return features, kept, dropped


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

    manifest = pl.read_parquet(manifest_path).sort("video_id")
    features, kept_ids, dropped = features_from_landmarks(
        list(landmark_paths), settings, video_ids=manifest["video_id"].to_list()
    )
    if not kept_ids:
        raise DataError(f"no usable video among {manifest.height} in {manifest_path}")
    kept = manifest.filter(pl.col("video_id").is_in(kept_ids))
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
    return {"n_samples": len(kept_ids), "dropped": dropped}


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
    try:
        root = zarr.open_group(str(path), mode="r")
        if root.attrs.get("emoflow_store") != "features":
            raise InputError(path, "not an emoflow feature store")
        features_array = cast(Any, root["features"])
        features = np.asarray(features_array[...], dtype=np.float32)
    except InputError:
        raise
    except Exception as err:  # zarr and JSON raise many kinds on a damaged store
        raise InputError(
            path, f"not a readable Zarr store ({err}); delete it and rerun build_features"
        ) from err
    if not np.isfinite(features).all():
        raise DataError(f"{path}: features contain NaN or infinite values")
    if features.shape[2] != N_LANDMARKS:
        log.info("feature store %s holds %d landmarks", path, features.shape[2])
    return FeatureSet(
        features=features,
        video_ids=read_strings(root["video_id"]),
        subjects=read_strings(root["subject"]),
        emotions=read_strings(root["emotion"]),
        emotion_names=list(cast(list[str], root.attrs["emotions"])),
        settings=dict(cast(dict[str, Any], root.attrs["settings"])),
    )

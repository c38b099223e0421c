"""How one video's landmark sequence becomes a feature sample (:class:`FeatureSettings`).

Coordinates are made pixel-proportional, frames without a face interpolated, the pose
optionally removed by a similarity Procrustes fit (to the video's first frame or to the
canonical face of :func:`emoflow.facemesh.mesh.reference_face`), the face centred and scaled by
the inter-ocular distance, the sequence resampled to a fixed number of frames and, optionally,
expressed as displacement from the first (neutral) frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from emoflow.config import SectionSettings, setting
from emoflow.errors import DataError
from emoflow.facemesh.mesh import N_LANDMARKS
from emoflow.schemes import LandmarkScheme, get_scheme
from emoflow.video import even_times, filled_times, resampled_frames, resampling_weights

MIN_SAMPLE_FRAMES = 2
"""Frames a video (or a time window) needs to make a sample: from one frame, resampling
repeats it and the displacement features are all zero. ``predict`` refuses such windows, and
features drop such videos, with the same rule."""
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
"""Face Mesh ids of the outer eye corners, whose distance sets the scale (other schemes:
:attr:`emoflow.schemes.LandmarkScheme.eye_corners`)."""
ALIGNMENTS: tuple[str, ...] = ("none", "first_frame", "canonical")
"""Values of :attr:`FeatureSettings.align`."""


@dataclass(frozen=True)
class FeatureSettings(SectionSettings):
    """How landmark sequences become features: the ``features`` config section.

    The fields declare the section's keys (the configuration schema is generated from them);
    :meth:`~emoflow.config.SectionSettings.check` validates them.

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
        face of :func:`emoflow.facemesh.mesh.reference_face` (the pose of the whole video goes too),
        ``"none"`` keeps the pose. ``True``/``False`` are read as ``"first_frame"``/``"none"``.
    align_on
        Landmarks the pose is fitted on: ``"rigid"`` (:data:`emoflow.facemesh.mesh.RIGID_LANDMARKS`,
        which expressions barely move) or ``"all"``.
    displacement
        Subtract the first (neutral) frame, so features hold motion, not face shape.
    max_missing
        Largest share of frames without a face a video may have; above it the video is dropped.
    """

    SECTION = "features"

    n_frames: int = setting(8, minimum=2)
    center: str = setting("mean", enum=("mean", "nose", "none"))
    scale: str = setting("interocular", enum=("interocular", "none"))
    align: str = setting("first_frame", enum=ALIGNMENTS)
    align_on: str = setting("rigid", enum=("rigid", "all"))
    displacement: bool = True
    max_missing: float = setting(0.2, minimum=0, exclusive_maximum=1)

    def __post_init__(self) -> None:
        self.check()

    def frames_read(self, n_in: int, times: np.ndarray | None = None) -> np.ndarray:
        """The frames of an ``n_in``-frame video that :func:`normalise_sequence` reads when
        every one of them has a face: those of the temporal resampling (the first frame, the
        alignment and scale reference, is one), given the frames' ``times`` (seconds; NaN
        where unknown; ``None``: a constant frame rate). Landmark extraction meshes only
        these (``landmarks.frames: sampled``)."""
        return resampled_frames(n_in, self.n_frames, times)


def _interpolate_missing(
    landmarks: np.ndarray, found_mask: np.ndarray, times: np.ndarray | None = None
) -> np.ndarray:
    """Fill frames without a face by linear interpolation in time (edges: nearest frame);
    ``times`` (seconds of each frame, none unknown) where the frame rate is not constant,
    frame numbers otherwise."""
    if found_mask.all():
        return landmarks
    # np.interp's arithmetic for every coordinate at once (the same numbers as calling it per
    # coordinate, which was 137,000 calls for the demo's 96 videos): frames before the first
    # or from the last found frame take that frame's values, found frames keep theirs, the
    # others lie on the line between the found frames around them
    frames = np.arange(len(landmarks), dtype=np.float64)
    known = np.flatnonzero(found_mask)
    flat = landmarks.reshape(len(landmarks), -1).astype(np.float64)
    # the found frames x0 ≤ frame < x1 around each frame (both the last found one at the end)
    last = len(known) - 1
    upper = np.clip(np.searchsorted(known, frames, side="right"), min(1, last), last)
    x0, x1 = known[np.maximum(upper - 1, 0)], known[upper]
    filled = flat[np.where(frames >= x1, x1, x0)]  # a copy: fancy indexing
    inside = np.flatnonzero((frames > x0) & (frames < x1))
    if inside.size:
        left, right = flat[x0[inside]], flat[x1[inside]]
        if times is None:
            slope = (right - left) / (x1[inside] - x0[inside]).astype(np.float64)[:, None]
            filled[inside] = slope * (frames[inside] - x0[inside])[:, None] + left
        else:
            span = (times[x1[inside]] - times[x0[inside]])[:, None]
            filled[inside] = (right - left) / span * (times[inside] - times[x0[inside]])[
                :, None
            ] + left
    return filled.astype(landmarks.dtype, copy=False).reshape(landmarks.shape)


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


def canonical_face(
    n_landmarks: int = N_LANDMARKS, scheme: LandmarkScheme | None = None
) -> np.ndarray:
    """The target of ``align="canonical"``: the reference neutral face, ``(n_landmarks, 3)``.

    The ``scheme``'s reference face (default MediaPipe's, in its coordinates of a square
    image; :meth:`emoflow.schemes.LandmarkScheme.reference_face`); its first ``n_landmarks``
    points are used (468 without the iris refinement).
    """
    reference = (scheme or get_scheme(None)).reference_face()
    if not 0 < n_landmarks <= len(reference):
        raise DataError(
            f"a face of {n_landmarks} landmarks cannot be aligned to the canonical face of "
            f"{len(reference)} landmarks"
        )
    return reference[:n_landmarks]


def resample_frames(
    landmarks: np.ndarray, n_frames: int, times: np.ndarray | None = None
) -> np.ndarray:
    """Linearly resample a sequence ``(n_in, ...)`` to ``(n_frames, ...)`` over the same span
    of time, reading only the frames of :func:`emoflow.video.resampled_frames` (``times``: the
    frames' seconds, NaN where unknown; a constant frame rate resamples by frame number, bit
    for bit as without times)."""
    lower, upper, weight = resampling_weights(len(landmarks), n_frames, times)
    weight = weight.reshape(-1, *([1] * (landmarks.ndim - 1)))
    return (1.0 - weight) * landmarks[lower] + weight * landmarks[upper]


def normalise_sequence(
    landmarks: np.ndarray,
    found_mask: np.ndarray,
    settings: FeatureSettings,
    *,
    width: int = 1,
    height: int = 1,
    scheme: LandmarkScheme | str | None = None,
    timestamps: np.ndarray | None = None,
) -> np.ndarray:
    """Turn one video's raw landmarks into its feature sample.

    Landmarks of 2-D trackers (``z`` NaN in every frame with a face: OpenFace's and py-feat's
    2-D points, dlib) are normalised in the image plane: ``z`` is taken as 0, the canonical
    face's too, and the sample's ``z`` features are exactly 0. Every sample and every baseline
    of such data then has ``z = 0``, so no Integrated Gradients attribution (``x - x'`` is 0)
    and no relevance ever comes from ``z``.

    Parameters
    ----------
    landmarks
        Normalised coordinates (MediaPipe's), shape ``(n_frames_in, n_points, 3)``; NaN
        where no face, and ``z`` NaN throughout for 2-D landmarks.
    found_mask
        Shape ``(n_frames_in,)``, whether the frame has a face.
    settings
        Normalisation settings.
    width, height
        Frame size in pixels, to undo MediaPipe's per-axis normalisation (z uses width).
    scheme
        The landmark scheme (:mod:`emoflow.schemes`): its rigid points anchor the alignment,
        its nose tip centres and its eye corners scale. Default: MediaPipe's
        (:data:`emoflow.schemes.DEFAULT_SCHEME`).
    timestamps
        Seconds of each frame (``timestamp_s``; NaN for frames not meshed). Where they are
        not evenly spaced (a variable frame rate, :func:`emoflow.video.even_times`), the
        resampling and the filling of frames without a face follow the frames' times;
        otherwise (and with ``None``) frame numbers, exactly as without times.

    Returns
    -------
    np.ndarray
        Shape ``(settings.n_frames, n_points, 3)``, float32.

    Raises
    ------
    DataError
        Fewer than :data:`MIN_SAMPLE_FRAMES` frames.
    """
    if len(landmarks) < MIN_SAMPLE_FRAMES:
        raise DataError(
            f"{len(landmarks)} frame(s); a sample needs at least {MIN_SAMPLE_FRAMES} "
            "(from one frame every feature would be zero)"
        )
    times = None
    if timestamps is not None and not even_times(timestamps, settings.n_frames):
        times = filled_times(np.asarray(timestamps, dtype=np.float64))
    planar = bool(found_mask.any()) and bool(np.isnan(landmarks[found_mask][..., 2]).all())
    if planar:  # a 2-D tracker: z is missing, not a depth
        landmarks = landmarks.copy()
        landmarks[found_mask, :, 2] = 0.0
    pixels = landmarks.astype(np.float64) * np.array([width, height, width], dtype=np.float64)
    pixels = _interpolate_missing(pixels, found_mask, times)
    if not isinstance(scheme, LandmarkScheme):
        scheme = get_scheme(scheme)
    anchors = scheme.rigid if settings.align_on == "rigid" else None
    if settings.align == "first_frame":
        pixels = np.stack([_align_to(frame, pixels[0], anchors) for frame in pixels])
    elif settings.align == "canonical":
        target = canonical_face(pixels.shape[1], scheme)
        if planar:  # fitted in the image plane: a tilt towards the 3-D face would invent z
            target = target * np.array([1.0, 1.0, 0.0])
        pixels = np.stack([_align_to(frame, target, anchors) for frame in pixels])
    if settings.center == "mean":
        pixels = pixels - pixels.mean(axis=1, keepdims=True)
    elif settings.center == "nose":
        pixels = pixels - pixels[:, scheme.nose_tip : scheme.nose_tip + 1, :]
    if settings.scale == "interocular":
        right, left = scheme.eye_corners
        interocular = np.linalg.norm(pixels[0, right] - pixels[0, left])
        pixels = pixels / max(float(interocular), 1e-9)
    sample = resample_frames(pixels, settings.n_frames, times)
    if settings.displacement:
        sample = sample - sample[:1]
    if planar:
        sample[..., 2] = 0.0  # exactly: rounding in the 3-D fits leaves ~1e-17
    return sample.astype(np.float32)

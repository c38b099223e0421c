"""The built-in synthetic demo data set: short labelled face videos warped from a real photo.

Every video starts from the same real face (``skimage.data.astronaut()``), cropped to a square
around the face. MediaPipe Face Mesh finds that face's 478 neutral landmarks once per process;
everything else is geometry on those landmarks:

* an **emotion** is a sum of *actions*; an action pushes a named group of landmarks
  (``emoflow.facemesh.regions()``) by known vectors. A smooth dense displacement field is
  built from those control points (kernel-weighted interpolation with a compactly supported
  kernel, and zero-displacement anchors where the face must stay put) and scaled over time
  by an ease-in/out ramp from neutral (first frame) to peak (from about ``ramp_fraction`` of
  the clip on);
* a **subject** is an identity: a static face-shape morph, anisotropic scale, size, in-plane
  rotation and shear, a colour grade, its own expression intensity and its own per-action
  style (how strongly it uses each action);
* every video adds **nuisance** shared by all classes: random blinks, brow twitches, sideways
  mouth shifts and jaw motion, head drift and jitter, and pixel noise. These move landmarks
  without carrying any class information, so landmark pruning has something to remove.

Each frame is rendered with one ``cv2.remap`` of the colour-graded photo: output pixel →
head motion and subject pose (affine) → inverse of the expression field (two fixed-point
steps) → photo pixel.

``ground_truth.json`` lists, for each emotion, the regions its actions drive and the landmark
ids its peak displacement field moves by more than :data:`GROUND_TRUTH_THRESHOLD` face widths,
evaluated exactly at the neutral landmarks.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from emoflow._atomic import atomic_path, write_json
from emoflow.errors import ConfigError
from emoflow.facemesh import N_LANDMARKS, regions

EMOTIONS: tuple[str, ...] = ("happiness", "sadness", "surprise", "anger", "disgust", "fear")
"""Emotions the demo can synthesise (``"neutral"`` is also accepted: nuisance only)."""

GROUND_TRUTH_THRESHOLD = 0.02
"""A landmark belongs to an emotion's ground truth when the emotion's peak displacement moves
it by more than this fraction of the face width (≈ 2 px in a 256 px frame)."""

LABEL_COLUMNS: tuple[str, ...] = (
    "video_id",
    "path",
    "subject",
    "emotion",
    "repetition",
    "intensity",
)
"""Header of ``labels.csv``."""

_CROP_CENTRE_XY = (225, 128)
"""Centre of the face crop in ``skimage.data.astronaut()`` pixels."""
_CROP_SIZE = 232
"""Side of the square face crop in photo pixels; it is rendered at ``DemoSpec.size``."""
_ANCHOR_RADIUS_FACTOR = 0.5
"""Zero-displacement anchors hold only their close neighbourhood (radius relative to the
action's)."""
_STABLE_EMOTION_CODES = {name: code for code, name in enumerate((*EMOTIONS, "neutral"))}
"""Emotion → integer used to seed random streams, independent of the order in a spec."""


@dataclass(frozen=True)
class DemoSpec:
    """What :func:`make_demo` synthesises.

    Parameters
    ----------
    n_subjects
        Synthetic subjects (identities).
    emotions
        Emotion classes, from :data:`EMOTIONS` (or ``"neutral"``).
    repetitions
        Videos per subject and emotion.
    n_frames
        Frames per video.
    fps
        Frame rate written into the videos.
    size
        Output frames are ``size × size`` RGB.
    seed
        Seed of every random choice; the same spec always gives the same data set.
    noise_std
        Standard deviation of the Gaussian pixel noise, in 8-bit grey levels.
    head_motion
        Scale of the per-video head drift and jitter (0 turns it off).
    blink_rate
        Mean blinks per second (Poisson), in every class.
    twitch
        Scale of the random brow twitches, sideways mouth shifts and jaw motion in every class.
    intensity_range
        Range of each subject's expression intensity (1 = the nominal peak).
    ramp_fraction
        Fraction of the clip by which the expression reaches its peak (then it holds).
    expression_scale
        Global multiplier of every emotion's displacement.
    """

    n_subjects: int = 8
    emotions: tuple[str, ...] = EMOTIONS
    repetitions: int = 2
    n_frames: int = 30
    fps: float = 15.0
    size: int = 256
    seed: int = 0
    noise_std: float = 3.0
    head_motion: float = 1.0
    blink_rate: float = 0.3
    twitch: float = 1.0
    intensity_range: tuple[float, float] = (0.6, 1.2)
    ramp_fraction: float = 0.6
    expression_scale: float = 1.0

    def __post_init__(self) -> None:
        # Accept lists (from YAML/JSON) but keep the spec hashable and comparable.
        object.__setattr__(self, "emotions", tuple(self.emotions))
        object.__setattr__(self, "intensity_range", tuple(float(v) for v in self.intensity_range))
        known = set(_STABLE_EMOTION_CODES)
        unknown = [name for name in self.emotions if name not in known]
        problems = []
        if unknown:
            problems.append(f"unknown emotions {unknown} (known: {sorted(known)})")
        if not self.emotions:
            problems.append("emotions is empty")
        if len(set(self.emotions)) != len(self.emotions):
            problems.append(f"emotions repeat: {list(self.emotions)}")
        if self.n_subjects < 1:
            problems.append(f"n_subjects must be ≥ 1, got {self.n_subjects}")
        if self.repetitions < 1:
            problems.append(f"repetitions must be ≥ 1, got {self.repetitions}")
        if self.n_frames < 2:
            problems.append(f"n_frames must be ≥ 2, got {self.n_frames}")
        if self.fps <= 0:
            problems.append(f"fps must be > 0, got {self.fps}")
        if self.size < 64:
            problems.append(f"size must be ≥ 64 pixels, got {self.size}")
        if len(self.intensity_range) != 2 or not (
            0 <= self.intensity_range[0] <= self.intensity_range[1]
        ):
            problems.append(f"intensity_range must be (low, high), got {self.intensity_range}")
        if not 0 < self.ramp_fraction <= 1:
            problems.append(f"ramp_fraction must be in (0, 1], got {self.ramp_fraction}")
        for name in ("noise_std", "head_motion", "blink_rate", "twitch", "expression_scale"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be ≥ 0, got {getattr(self, name)}")
        if problems:
            raise ConfigError("demo spec: " + "; ".join(problems))


# --------------------------------------------------------------------------------------------
# The neutral face
# --------------------------------------------------------------------------------------------


@cache
def _photo() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def _crop_origin() -> tuple[int, int]:
    """Top-left corner (x, y) of the face crop in photo pixels."""
    return _CROP_CENTRE_XY[0] - _CROP_SIZE // 2, _CROP_CENTRE_XY[1] - _CROP_SIZE // 2


@cache
def neutral_landmarks() -> np.ndarray:
    """Face Mesh landmarks of the neutral face crop, shape ``(478, 3)``.

    ``x`` and ``y`` are in crop coordinates normalised to ``[0, 1]`` (the *canonical* frame of
    the demo); ``z`` is MediaPipe's relative depth. Values are rounded to 1e-4 so that tiny
    floating-point differences between machines do not change the ground truth.
    """
    import mediapipe as mp

    x0, y0 = _crop_origin()
    crop = np.ascontiguousarray(_photo()[y0 : y0 + _CROP_SIZE, x0 : x0 + _CROP_SIZE])
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, refine_landmarks=True, max_num_faces=1
    ) as face_mesh:
        result = face_mesh.process(crop)
    if not result.multi_face_landmarks:
        raise RuntimeError("MediaPipe Face Mesh found no face in the demo photo")
    points = result.multi_face_landmarks[0].landmark
    landmarks = np.array([[p.x, p.y, p.z] for p in points], dtype=np.float64)
    if landmarks.shape != (N_LANDMARKS, 3):
        raise RuntimeError(f"expected {N_LANDMARKS} landmarks, MediaPipe gave {len(landmarks)}")
    landmarks = np.round(landmarks, 4)
    landmarks.flags.writeable = False
    return landmarks


class _Face:
    """Geometry of the neutral face that the actions are written in (canonical units)."""

    def __init__(self, landmarks: np.ndarray) -> None:
        self.points = landmarks[:, :2]
        self.regions = {name: np.asarray(ids, dtype=np.int64) for name, ids in regions().items()}
        self.width = float(self.points[454, 0] - self.points[234, 0])
        self.midline_x = float(self.points[[1, 4, 6, 168, 197, 152], 0].mean())
        self.mouth_centre = self.points[[13, 14]].mean(axis=0)
        self.mouth_half_width = float(self.points[291, 0] - self.points[61, 0]) / 2
        self.centre = (self.points.min(axis=0) + self.points.max(axis=0)) / 2

    def ids(self, *names: str) -> np.ndarray:
        """Sorted union of the landmark ids of named regions."""
        return np.unique(np.concatenate([self.regions[name] for name in names]))

    def outward(self, ids: np.ndarray) -> np.ndarray:
        """+1 for landmarks right of the face midline (in the image), −1 left of it."""
        return np.where(self.points[ids, 0] >= self.midline_x, 1.0, -1.0)

    def innerness(self, ids: np.ndarray) -> np.ndarray:
        """1 for the landmark nearest the midline, 0 for the farthest, linear in between."""
        distance = np.abs(self.points[ids, 0] - self.midline_x)
        return (distance.max() - distance) / (distance.max() - distance.min())

    def above(self, ids: np.ndarray, y: float) -> np.ndarray:
        return ids[self.points[ids, 1] < y]

    def below(self, ids: np.ndarray, y: float) -> np.ndarray:
        return ids[self.points[ids, 1] > y]

    def lids(self) -> tuple[np.ndarray, np.ndarray]:
        """Upper- and lower-eyelid landmark ids of both eyes."""
        upper, lower = [], []
        for eye in ("left_eye", "right_eye"):
            ids = self.regions[eye]
            centre_y = float(self.points[ids, 1].mean())
            upper.append(self.above(ids, centre_y))
            lower.append(self.below(ids, centre_y))
        return np.concatenate(upper), np.concatenate(lower)

    def lips(self) -> tuple[np.ndarray, np.ndarray]:
        """Upper- and lower-lip landmark ids."""
        ids = self.ids("lips")
        return self.above(ids, self.mouth_centre[1]), self.below(ids, self.mouth_centre[1])

    def lower_face_oval(self) -> np.ndarray:
        ids = self.regions["face_oval"]
        return self.below(ids, self.mouth_centre[1])

    def lower_nose(self) -> np.ndarray:
        ids = self.regions["nose"]
        nose_mid_y = float(self.points[[168, 1], 1].mean())
        return self.below(ids, nose_mid_y)


# --------------------------------------------------------------------------------------------
# Actions: control-point displacements → smooth dense displacement fields
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Action:
    """One facial movement: landmarks pushed by known vectors, anchors held in place.

    ``displacement`` is in canonical units (fractions of the crop side) at unit intensity.
    """

    name: str
    regions: tuple[str, ...]
    driven: np.ndarray
    displacement: np.ndarray
    anchors: np.ndarray
    radius: float

    def field(self, points: np.ndarray, face: _Face) -> np.ndarray:
        """Displacement at ``points`` (``(n, 2)`` canonical), shape ``(n, 2)``.

        Kernel-weighted interpolation of the control points (driven landmarks with their
        vectors, anchors with zero) with the compactly supported Wendland kernel
        ``(1 − r/R)⁴₊ (4r/R + 1)``. Where the control points are sparse (total weight < 1) the
        field fades out instead of being renormalised, and it is exactly zero farther than
        ``radius`` from every driven landmark.
        """
        query = points.astype(np.float32)

        def weights(centres: np.ndarray, radius: float) -> np.ndarray:
            squared = ((query[:, None, :] - centres[None, :, :].astype(np.float32)) ** 2).sum(-1)
            ratio = np.sqrt(squared) / np.float32(radius)
            return np.clip(1 - ratio, 0, None) ** 4 * (4 * ratio + 1)

        driven_weight = weights(face.points[self.driven], self.radius)
        total_weight = driven_weight.sum(axis=1)
        if len(self.anchors):
            anchor_radius = self.radius * _ANCHOR_RADIUS_FACTOR
            total_weight += weights(face.points[self.anchors], anchor_radius).sum(axis=1)
        pushed = driven_weight @ self.displacement.astype(np.float32)
        return (pushed / np.maximum(total_weight, 1.0)[:, None]).astype(np.float64)


def _action(
    face: _Face,
    name: str,
    region_names: tuple[str, ...],
    driven: np.ndarray,
    displacement: np.ndarray | tuple[float, float],
    *,
    anchors: np.ndarray | None = None,
    radius: float = 0.2,
) -> _Action:
    """Build an action; ``displacement`` and ``radius`` are in face widths."""
    driven = np.asarray(driven, dtype=np.int64)
    vectors = np.broadcast_to(np.asarray(displacement, dtype=np.float64), (len(driven), 2))
    anchor_ids = np.setdiff1d(
        np.asarray([] if anchors is None else anchors, dtype=np.int64), driven
    )
    return _Action(
        name=name,
        regions=region_names,
        driven=driven,
        displacement=vectors * face.width,
        anchors=anchor_ids,
        radius=radius * face.width,
    )


def _emotion_actions(face: _Face) -> dict[str, list[_Action]]:
    """The actions of each emotion (image y points down, so "up" is negative)."""
    brows = face.ids("left_eyebrow", "right_eyebrow")
    brow_inner = face.innerness(brows)
    brow_out = face.outward(brows)
    upper_lids, lower_lids = face.lids()
    upper_lip, lower_lip = face.lips()
    corners = face.ids("mouth_corners")
    corner_out = face.outward(corners)
    corner_reach = np.abs(face.points[corners, 0] - face.mouth_centre[0]) / face.mouth_half_width
    lips = face.ids("lips", "mouth_corners")
    lip_offset = (face.points[lips, 0] - face.mouth_centre[0]) / face.mouth_half_width
    nose = face.ids("nose")
    chin = face.ids("chin")
    cheeks = face.ids("left_cheek", "right_cheek")
    jaw = np.union1d(np.union1d(chin, face.lower_face_oval()), lower_lip)
    jaw_depth = (face.points[jaw, 1] - face.mouth_centre[1]) / (
        face.points[152, 1] - face.mouth_centre[1]
    )
    jaw_drop = 0.4 + 0.6 * np.clip(jaw_depth, 0.0, 1.0)
    eyes = face.ids("left_eye", "right_eye")

    def column(x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        return np.stack(np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float)), axis=-1)

    mouth_regions = ("mouth_corners",)
    brow_regions = ("left_eyebrow", "right_eyebrow")
    eye_regions = ("left_eye", "right_eye")
    # surprise and fear both open the eyes the same way
    widen_eyes = _action(
        face,
        "upper_lids_up",
        eye_regions,
        upper_lids,
        column(0.0, -0.025),
        anchors=lower_lids,
        radius=0.1,
    )
    return {
        "happiness": [
            _action(
                face,
                "mouth_corners_up_out",
                mouth_regions,
                corners,
                column(0.07 * corner_out * corner_reach, -0.07 * corner_reach),
                anchors=np.union1d(nose, chin),
            ),
            _action(
                face,
                "cheeks_up",
                ("left_cheek", "right_cheek"),
                cheeks,
                column(0.0, -0.05),
                anchors=np.union1d(nose, upper_lids),
                radius=0.25,
            ),
            _action(
                face,
                "lower_lids_up",
                eye_regions,
                lower_lids,
                column(0.0, -0.02),
                anchors=upper_lids,
                radius=0.1,
            ),
        ],
        "sadness": [
            _action(
                face,
                "inner_brows_up",
                brow_regions,
                brows,
                column(0.0, -0.08 * brow_inner**1.5),
                anchors=lower_lids,
            ),
            _action(
                face,
                "mouth_corners_down",
                mouth_regions,
                corners,
                column(-0.015 * corner_out * corner_reach, 0.07 * corner_reach),
                anchors=nose,
            ),
        ],
        "surprise": [
            _action(
                face,
                "brows_up",
                (*brow_regions, "forehead"),
                np.union1d(brows, face.ids("forehead")),
                column(0.0, -0.07),
                anchors=lower_lids,
                radius=0.25,
            ),
            widen_eyes,
            _action(
                face,
                "jaw_drop",
                ("chin", "lips", "face_oval"),
                jaw,
                column(0.0, 0.11 * jaw_drop),
                anchors=np.union1d(upper_lip, nose),
                radius=0.25,
            ),
        ],
        "anger": [
            _action(
                face,
                "brows_down_together",
                brow_regions,
                brows,
                column(-0.03 * brow_out * (0.3 + 0.7 * brow_inner), 0.035),
                anchors=lower_lids,
            ),
            _action(
                face,
                "lips_pressed",
                ("lips", "mouth_corners"),
                lips,
                column(
                    -0.03 * lip_offset,
                    np.where(face.points[lips, 1] < face.mouth_centre[1], 0.025, -0.03),
                ),
                anchors=np.union1d(nose, chin),
                radius=0.125,
            ),
        ],
        "disgust": [
            _action(
                face,
                "upper_lip_raise",
                ("lips",),
                upper_lip,
                column(0.0, -0.05),
                anchors=np.union1d(lower_lip, chin),
                radius=0.15,
            ),
            _action(
                face,
                "nose_wrinkle",
                ("nose",),
                face.lower_nose(),
                column(0.0, -0.035),
                anchors=eyes,
                radius=0.15,
            ),
        ],
        "fear": [
            _action(
                face,
                "brows_up_together",
                brow_regions,
                brows,
                column(-0.035 * brow_out * (0.3 + 0.7 * brow_inner), -0.055),
                anchors=lower_lids,
            ),
            widen_eyes,
            _action(
                face,
                "mouth_stretch",
                ("lips", "mouth_corners"),
                lips,
                column(0.07 * lip_offset, 0.015 * np.abs(lip_offset)),
                anchors=np.union1d(nose, chin),
                radius=0.15,
            ),
        ],
        "neutral": [],
    }


def _nuisance_actions(face: _Face) -> dict[str, _Action]:
    """Movements present in every class; their strength over time is random per video."""
    upper_lids, lower_lids = face.lids()
    lower_lid_points = face.points[lower_lids]
    order = np.argsort(lower_lid_points[:, 0])
    closure = []
    for landmark in upper_lids:
        x, y = face.points[landmark]
        side = np.sign(lower_lid_points[order, 0] - face.midline_x) == np.sign(x - face.midline_x)
        lower_y = np.interp(x, lower_lid_points[order][side, 0], lower_lid_points[order][side, 1])
        closure.append(max(lower_y - y, 0.0) * 0.9 / face.width)
    left_brow, right_brow = face.ids("left_eyebrow"), face.ids("right_eyebrow")
    upper_lip, lower_lip = face.lips()
    lips = face.ids("lips", "mouth_corners")
    chin = face.ids("chin")
    return {
        "blink": _action(
            face,
            "blink",
            ("left_eye", "right_eye"),
            upper_lids,
            np.stack([np.zeros(len(closure)), closure], axis=-1),
            anchors=lower_lids,
            radius=0.1,
        ),
        "left_brow_twitch": _action(
            face, "left_brow_twitch", ("left_eyebrow",), left_brow, (0.0, -0.02)
        ),
        "right_brow_twitch": _action(
            face, "right_brow_twitch", ("right_eyebrow",), right_brow, (0.0, -0.02)
        ),
        "mouth_shift": _action(
            face,
            "mouth_shift",
            ("lips", "mouth_corners"),
            lips,
            (0.025, 0.0),
            anchors=face.ids("nose"),
            radius=0.15,
        ),
        "jaw_motion": _action(
            face,
            "jaw_motion",
            ("chin", "lips"),
            np.union1d(chin, lower_lip),
            (0.0, 0.02),
            anchors=np.union1d(upper_lip, face.ids("nose")),
            radius=0.2,
        ),
    }


def _identity_actions(face: _Face) -> dict[str, _Action]:
    """Static face-shape differences between subjects (coefficient per subject in [−1, 1])."""
    eye_area = face.ids("left_eye", "right_eye", "left_eyebrow", "right_eyebrow", "irises")
    lips = face.ids("lips", "mouth_corners")
    lip_offset = (face.points[lips, 0] - face.mouth_centre[0]) / face.mouth_half_width
    brows = face.ids("left_eyebrow", "right_eyebrow")
    lower_face = np.union1d(np.union1d(face.ids("chin"), face.lower_face_oval()), lips)
    return {
        "eye_spacing": _action(
            face,
            "eye_spacing",
            ("left_eye", "right_eye"),
            eye_area,
            np.stack([0.025 * face.outward(eye_area), np.zeros(len(eye_area))], axis=-1),
            anchors=face.ids("nose"),
            radius=0.25,
        ),
        "brow_height": _action(
            face, "brow_height", ("left_eyebrow", "right_eyebrow"), brows, (0.0, -0.025)
        ),
        "nose_length": _action(
            face,
            "nose_length",
            ("nose",),
            face.lower_nose(),
            (0.0, 0.025),
            anchors=face.ids("left_eye", "right_eye"),
        ),
        "mouth_width": _action(
            face,
            "mouth_width",
            ("lips",),
            lips,
            np.stack([0.03 * lip_offset, np.zeros(len(lips))], axis=-1),
            anchors=face.ids("nose"),
            radius=0.15,
        ),
        "face_length": _action(
            face,
            "face_length",
            ("chin", "face_oval"),
            lower_face,
            (0.0, 0.03),
            anchors=face.ids("nose", "left_eye", "right_eye"),
            radius=0.3,
        ),
    }


@dataclass(frozen=True, eq=False)
class _Actions:
    face: _Face
    emotions: dict[str, list[_Action]]
    nuisance: dict[str, _Action]
    identity: dict[str, _Action]


@cache
def _actions() -> _Actions:
    face = _Face(neutral_landmarks())
    return _Actions(face, _emotion_actions(face), _nuisance_actions(face), _identity_actions(face))


@cache
def _grid_field(group: str, key: str, index: int, size: int) -> np.ndarray:
    """An action's field sampled on the ``size × size`` canonical grid, in grid pixels.

    Shape ``(size, size, 2)``, float32, read-only. Grid pixel ``(i, j)`` sits at canonical
    ``((j + 0.5) / size, (i + 0.5) / size)``.
    """
    actions = _actions()
    if group == "emotion":
        action = actions.emotions[key][index]
    elif group == "nuisance":
        action = actions.nuisance[key]
    else:
        action = actions.identity[key]
    field = np.zeros((size, size, 2), dtype=np.float32)
    # The field is zero farther than `radius` from every driven landmark: evaluate it only on
    # the grid pixels of that support's bounding box.
    driven_points = actions.face.points[action.driven] * size - 0.5
    low = np.clip(np.floor(driven_points.min(axis=0) - action.radius * size), 0, size)
    high = np.clip(np.ceil(driven_points.max(axis=0) + action.radius * size) + 1, 0, size)
    (x_low, y_low), (x_high, y_high) = low.astype(int), high.astype(int)
    if x_high > x_low and y_high > y_low:
        grid_x, grid_y = np.meshgrid(np.arange(x_low, x_high), np.arange(y_low, y_high))
        points = (np.stack([grid_x.ravel(), grid_y.ravel()], axis=-1) + 0.5) / size
        box = action.field(points, actions.face) * size
        field[y_low:y_high, x_low:x_high] = box.reshape(y_high - y_low, x_high - x_low, 2)
    field.flags.writeable = False
    return field


# --------------------------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------------------------


def _displacement_at_landmarks(actions: list[_Action]) -> np.ndarray:
    """Summed displacement of ``actions`` at the neutral landmarks, ``(478, 2)`` canonical."""
    face = _actions().face
    displacement = np.zeros((N_LANDMARKS, 2))
    for action in actions:
        displacement += action.field(face.points, face)
    return displacement


def _above_threshold(magnitude: np.ndarray) -> list[int]:
    """Ids of the landmarks whose displacement (in face widths) exceeds the threshold."""
    return [int(i) for i in np.flatnonzero(magnitude > GROUND_TRUTH_THRESHOLD)]


def peak_displacement(emotion: str) -> np.ndarray:
    """An emotion's nominal peak displacement at the neutral landmarks, shape ``(478, 2)``.

    In canonical units (fractions of the face crop side), at intensity 1 and default style.
    """
    return _displacement_at_landmarks(_actions().emotions[emotion])


def ground_truth(spec: DemoSpec = DemoSpec()) -> dict[str, Any]:
    """What moves in the demo data set, as written to ``ground_truth.json``.

    Returns
    -------
    dict
        ``emotions``: per emotion, the ``regions`` and ``actions`` that produce it, the
        ``landmarks`` its peak displacement (intensity 1) moves by more than
        :data:`GROUND_TRUTH_THRESHOLD` face widths, and ``peak_displacement``, that motion for
        all 478 landmarks in face widths. ``nuisance``: the random movements present in every
        class (landmarks listed at a typical peak: a full blink, a 2σ twitch), head motion and
        pixel noise. ``subjects``: what differs between subjects (static). ``spec``: the spec.
    """
    actions = _actions()
    face = actions.face
    emotions = {}
    for emotion in spec.emotions:
        emotion_actions = actions.emotions[emotion]
        displacement = spec.expression_scale * _displacement_at_landmarks(emotion_actions)
        # Rounded first, so that the listed landmarks follow from the listed displacements.
        magnitude = np.round(np.linalg.norm(displacement, axis=1) / face.width, 4)
        emotions[emotion] = {
            "regions": sorted({name for action in emotion_actions for name in action.regions}),
            "actions": [action.name for action in emotion_actions],
            "landmarks": _above_threshold(magnitude),
            "peak_displacement": [round(float(value), 4) for value in magnitude],
        }
    nuisance: dict[str, Any] = {}
    for name, action in actions.nuisance.items():
        typical_peak = (1.0 if spec.blink_rate > 0 else 0.0) if name == "blink" else 2 * spec.twitch
        magnitude = np.linalg.norm(typical_peak * _displacement_at_landmarks([action]), axis=1)
        nuisance[name] = {
            "regions": list(action.regions),
            "landmarks": _above_threshold(magnitude / face.width),
            "signal": (
                f"Poisson blinks, {spec.blink_rate} per second, 0.2-0.35 s each"
                if name == "blink"
                else f"smooth Gaussian noise, standard deviation {spec.twitch}"
            ),
        }
    nuisance["head_motion"] = {
        "amplitude": spec.head_motion,
        "signal": "in-plane similarity transform: slow drift + sinusoid + per-frame jitter",
    }
    nuisance["pixel_noise_std"] = spec.noise_std
    shape_displacement = np.zeros(N_LANDMARKS)
    for action in actions.identity.values():
        shape_displacement = np.maximum(
            shape_displacement, np.linalg.norm(_displacement_at_landmarks([action]), axis=1)
        )
    subjects = {
        "shape_actions": list(actions.identity),
        "shape_landmarks": _above_threshold(shape_displacement / face.width),
        "pose": "scale 0.88-1.12, aspect ±8%, rotation ±7°, shear ±0.06, offset ±4%",
        "colour": "hue, saturation, gamma, contrast, brightness, white balance",
        "intensity_range": list(spec.intensity_range),
        "style": "each subject scales each emotion action by 0.8-1.2",
    }
    return {
        "emotions": emotions,
        "nuisance": nuisance,
        "subjects": subjects,
        "threshold_face_widths": GROUND_TRUTH_THRESHOLD,
        "spec": dataclasses.asdict(spec),
    }


# --------------------------------------------------------------------------------------------
# Subjects and videos
# --------------------------------------------------------------------------------------------


def _translation(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def _linear(matrix: np.ndarray) -> np.ndarray:
    out = np.eye(3)
    out[:2, :2] = matrix
    return out


def _rotation(degrees: float) -> np.ndarray:
    angle = math.radians(degrees)
    return _linear(
        np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    )


@dataclass(frozen=True, eq=False)
class _Subject:
    index: int
    name: str
    pose: np.ndarray
    """Canonical → output coordinates (both normalised to [0, 1]), 3 × 3."""
    source: np.ndarray
    """The colour-graded photo, scaled so the face crop spans ``size`` pixels."""
    intensity: float
    style: dict[str, float]
    """Emotion action name → how strongly this subject uses it."""
    shape: dict[str, float]
    """Identity action name → this subject's coefficient (static face-shape morph)."""
    shape_field: np.ndarray
    """The static face-shape displacement on the canonical grid, in grid pixels."""


def _colour_graded_photo(rng: np.random.Generator, size: int) -> np.ndarray:
    import cv2

    scale = size / _CROP_SIZE
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    photo = cv2.resize(_photo(), None, fx=scale, fy=scale, interpolation=interpolation)
    hsv = cv2.cvtColor(photo, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = np.mod(hsv[..., 0] + rng.uniform(-4, 4), 180)
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.7, 1.25), 0, 255)
    rgb = cv2.cvtColor(hsv.round().astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32) / 255
    rgb = rgb ** rng.uniform(0.85, 1.2)
    rgb = (rgb - 0.5) * rng.uniform(0.8, 1.15) + 0.5 + rng.uniform(-0.1, 0.08)
    rgb *= rng.uniform(0.95, 1.05, size=3)  # white balance
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def _make_subject(index: int, spec: DemoSpec) -> _Subject:
    rng = np.random.default_rng([spec.seed, 0, index])
    actions = _actions()
    scale = rng.uniform(0.88, 1.12)
    aspect = math.exp(rng.uniform(-0.08, 0.08))
    shear = rng.uniform(-0.06, 0.06)
    pose = (
        _translation(0.5 + rng.uniform(-0.04, 0.04), 0.5 + rng.uniform(-0.04, 0.04))
        @ _rotation(rng.uniform(-7, 7))
        @ _linear(np.array([[1.0, shear], [0.0, 1.0]]))
        @ _linear(np.diag([scale * aspect, scale / aspect]))
        @ _translation(-actions.face.centre[0], -actions.face.centre[1])
    )
    source = _colour_graded_photo(rng, spec.size)
    low, high = spec.intensity_range
    intensity = float(rng.uniform(low, high))
    style = {
        f"{emotion}.{action.name}": float(rng.uniform(0.8, 1.2))
        for emotion in EMOTIONS
        for action in actions.emotions[emotion]
    }
    shape = {name: float(rng.uniform(-1, 1)) for name in actions.identity}
    shape_field = np.zeros((spec.size, spec.size, 2), dtype=np.float32)
    for name, coefficient in shape.items():
        shape_field += np.float32(coefficient) * _grid_field("identity", name, 0, spec.size)
    return _Subject(index, f"s{index + 1:02d}", pose, source, intensity, style, shape, shape_field)


def _ease_in_out(progress: np.ndarray) -> np.ndarray:
    progress = np.clip(progress, 0.0, 1.0)
    return progress * progress * (3 - 2 * progress)


def _smooth_noise(rng: np.random.Generator, n_frames: int, timescale_frames: float) -> np.ndarray:
    """Zero-mean Gaussian-filtered noise with unit variance in expectation."""
    radius = max(1, math.ceil(3 * timescale_frames))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / timescale_frames) ** 2)
    kernel /= np.sqrt((kernel**2).sum())
    white = rng.standard_normal(n_frames + 2 * radius)
    return np.convolve(white, kernel, mode="valid")


def _blinks(rng: np.random.Generator, spec: DemoSpec) -> np.ndarray:
    """Eyelid closure (0 open … 1 closed) per frame."""
    times = np.arange(spec.n_frames) / spec.fps
    closure = np.zeros(spec.n_frames)
    duration_s = spec.n_frames / spec.fps
    for _ in range(rng.poisson(spec.blink_rate * duration_s)):
        start = rng.uniform(-0.2, duration_s)
        length = rng.uniform(0.2, 0.35)
        phase = (times - start) / length
        inside = (phase > 0) & (phase < 1)
        closure[inside] = np.maximum(
            closure[inside], rng.uniform(0.8, 1.0) * np.sin(np.pi * phase[inside])
        )
    return closure


def _head_motion(rng: np.random.Generator, spec: DemoSpec) -> list[np.ndarray]:
    """Per-frame output → output similarity transforms (about the frame centre)."""
    amplitude = spec.head_motion
    progress = np.linspace(0.0, 1.0, spec.n_frames)
    times = np.arange(spec.n_frames) / spec.fps

    def track(drift: float, wave: float, jitter: float) -> np.ndarray:
        frequency = rng.uniform(0.1, 0.4)
        phase = rng.uniform(0, 2 * np.pi)
        values = (
            rng.uniform(-drift, drift) * progress
            + wave * rng.uniform(0, 1) * np.sin(2 * np.pi * frequency * times + phase)
            + jitter * rng.standard_normal(spec.n_frames)
        )
        return amplitude * values

    shift_x = track(0.03, 0.015, 0.0015)
    shift_y = track(0.02, 0.01, 0.0015)
    angle = track(4.0, 2.0, 0.15)
    zoom = np.exp(track(0.04, 0.02, 0.002))
    return [
        _translation(0.5 + dx, 0.5 + dy)
        @ _rotation(a)
        @ _linear(np.eye(2) * s)
        @ _translation(-0.5, -0.5)
        for dx, dy, a, s in zip(shift_x, shift_y, angle, zoom, strict=True)
    ]


@dataclass(frozen=True, eq=False)
class _VideoPlan:
    """Everything random about one video except its pixel noise."""

    peak_intensity: float
    expression: np.ndarray
    """Expression strength per frame (0 neutral … ``peak_intensity``), style and
    ``expression_scale`` not included."""
    nuisance: dict[str, np.ndarray]
    """Nuisance action name → its strength per frame."""
    head_motion: list[np.ndarray]
    """Per-frame output → output transforms (3 × 3, normalised coordinates)."""


def _plan_video(subject: _Subject, emotion: str, repetition: int, spec: DemoSpec) -> _VideoPlan:
    rng = np.random.default_rng(
        [spec.seed, 1, subject.index, _STABLE_EMOTION_CODES[emotion], repetition]
    )
    peak_intensity = subject.intensity * float(rng.uniform(0.9, 1.1))
    last = spec.n_frames - 1
    onset = rng.uniform(0.0, 0.1) * last
    peak = float(np.clip(spec.ramp_fraction + rng.uniform(-0.08, 0.08), 0.1, 1.0)) * last
    ramp = _ease_in_out((np.arange(spec.n_frames) - onset) / max(peak - onset, 1e-9))
    nuisance = {"blink": _blinks(rng, spec)}
    for name in ("left_brow_twitch", "right_brow_twitch", "mouth_shift", "jaw_motion"):
        timescale_frames = rng.uniform(0.2, 0.5) * spec.fps
        nuisance[name] = spec.twitch * _smooth_noise(rng, spec.n_frames, timescale_frames)
    return _VideoPlan(
        peak_intensity=peak_intensity,
        expression=spec.expression_scale * peak_intensity * ramp,
        nuisance=nuisance,
        head_motion=_head_motion(rng, spec),
    )


def expected_landmarks(
    spec: DemoSpec, subject_index: int, emotion: str, repetition: int
) -> np.ndarray:
    """Where the renderer puts the neutral face's landmarks in each frame of one video.

    Parameters
    ----------
    spec
        The demo spec.
    subject_index
        0-based subject number (``s01`` is 0).
    emotion
        One of ``spec.emotions``.
    repetition
        1-based repetition.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_frames, 478, 2)``: x, y in output pixels. This is the geometric truth of the
        synthesis (what a perfect landmark detector would report), up to the small error of
        inverting the warp numerically.
    """
    actions = _actions()
    face = actions.face
    subject = _make_subject(subject_index, spec)
    plan = _plan_video(subject, emotion, repetition, spec)

    def at_landmarks(action: _Action) -> np.ndarray:
        return action.field(face.points, face)

    shape = sum(
        (coefficient * at_landmarks(actions.identity[name]))
        for name, coefficient in subject.shape.items()
    )
    expression = sum(
        (
            subject.style[f"{emotion}.{action.name}"] * at_landmarks(action)
            for action in actions.emotions[emotion]
        ),
        start=np.zeros((N_LANDMARKS, 2)),
    )
    nuisance = {name: at_landmarks(actions.nuisance[name]) for name in plan.nuisance}
    frames = []
    for frame_index in range(spec.n_frames):
        canonical = face.points + shape + plan.expression[frame_index] * expression
        for name, signal in plan.nuisance.items():
            canonical = canonical + signal[frame_index] * nuisance[name]
        transform = plan.head_motion[frame_index] @ subject.pose
        output = canonical @ transform[:2, :2].T + transform[:2, 2]
        frames.append(output * spec.size)
    return np.stack(frames)


def _render_video(
    path: Path,
    subject: _Subject,
    emotion: str,
    repetition: int,
    spec: DemoSpec,
) -> float:
    """Write one video; return its peak expression intensity."""
    import cv2

    size = spec.size
    plan = _plan_video(subject, emotion, repetition, spec)
    expression_field = np.zeros((size, size, 2), dtype=np.float32)
    for index, action in enumerate(_actions().emotions[emotion]):
        weight = subject.style[f"{emotion}.{action.name}"]
        expression_field += np.float32(weight) * _grid_field("emotion", emotion, index, size)
    nuisance_fields = {name: _grid_field("nuisance", name, 0, size) for name in plan.nuisance}
    noise_rng = np.random.default_rng(
        [spec.seed, 2, subject.index, _STABLE_EMOTION_CODES[emotion], repetition]
    )

    pixel_centres = np.arange(size, dtype=np.float32) + np.float32(0.5)
    out_x, out_y = np.meshgrid(pixel_centres / size, pixel_centres / size)
    x0, y0 = _crop_origin()
    source_offset = np.float32(size / _CROP_SIZE) * np.array([x0, y0], dtype=np.float32)

    fourcc = cv2.VideoWriter.fourcc(*"mp4v")
    with atomic_path(path) as staged:
        writer = cv2.VideoWriter(str(staged), fourcc, float(spec.fps), (size, size))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {path} with the mp4v codec")
        try:
            for frame_index in range(spec.n_frames):
                field = subject.shape_field + np.float32(plan.expression[frame_index]) * (
                    expression_field
                )
                for name, signal in plan.nuisance.items():
                    if signal[frame_index] != 0:
                        field += np.float32(signal[frame_index]) * nuisance_fields[name]
                # output (normalised) → canonical grid pixels
                to_grid = np.diag([size, size, 1.0]) @ np.linalg.inv(
                    plan.head_motion[frame_index] @ subject.pose
                )
                a, b, c = to_grid[0].astype(np.float32)
                d, e, f = to_grid[1].astype(np.float32)
                grid_x = a * out_x + b * out_y + (c - np.float32(0.5))
                grid_y = d * out_x + e * out_y + (f - np.float32(0.5))
                # invert the forward displacement by two fixed-point steps: p = u − D(p)
                source_x, source_y = grid_x, grid_y
                for _ in range(2):
                    pushed = cv2.remap(
                        field, source_x, source_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
                    )
                    source_x = grid_x - pushed[..., 0]
                    source_y = grid_y - pushed[..., 1]
                frame = cv2.remap(
                    subject.source,
                    source_x + source_offset[0],
                    source_y + source_offset[1],
                    cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT101,
                )
                if spec.noise_std > 0:
                    noise = noise_rng.standard_normal(frame.shape, dtype=np.float32)
                    noisy = frame.astype(np.float32) + np.float32(spec.noise_std) * noise
                    frame = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
    return plan.peak_intensity


def video_id(subject: str, emotion: str, repetition: int) -> str:
    """The id of one demo video, e.g. ``s03_happiness_r1`` (repetitions count from 1)."""
    return f"{subject}_{emotion}_r{repetition}"


def make_demo(
    out_dir: str | Path,
    spec: DemoSpec = DemoSpec(),
    *,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write the demo data set under ``out_dir`` and return the path of ``labels.csv``.

    Writes ``videos/{video_id}.mp4``, ``ground_truth.json`` and, last, ``labels.csv``
    (columns :data:`LABEL_COLUMNS`, paths relative to ``out_dir``). Every file is written
    atomically, and the same spec always gives the same files.

    Parameters
    ----------
    out_dir
        Folder to write into (created if needed).
    spec
        What to synthesise.
    progress
        Called with each video id once its video is written.
    """
    out_dir = Path(out_dir)
    rows = []
    for subject_index in range(spec.n_subjects):
        subject = _make_subject(subject_index, spec)
        for emotion in spec.emotions:
            for repetition in range(1, spec.repetitions + 1):
                name = video_id(subject.name, emotion, repetition)
                relative = Path("videos") / f"{name}.mp4"
                intensity = _render_video(out_dir / relative, subject, emotion, repetition, spec)
                rows.append(
                    {
                        "video_id": name,
                        "path": relative.as_posix(),
                        "subject": subject.name,
                        "emotion": emotion,
                        "repetition": repetition,
                        "intensity": f"{intensity:.3f}",
                    }
                )
                if progress is not None:
                    progress(name)
    write_json(out_dir / "ground_truth.json", ground_truth(spec))
    labels_path = out_dir / "labels.csv"
    with atomic_path(labels_path) as staged, staged.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return labels_path

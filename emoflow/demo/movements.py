"""The catalogue of actions (emotions, nuisance, identity) and their fields on the frame grid."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, partial

import numpy as np

from emoflow.demo.actions import Action, make_action
from emoflow.demo.face import Face, neutral_landmarks


def _emotion_actions(face: Face) -> dict[str, list[Action]]:
    """The actions of each emotion (image y points down, so "up" is negative)."""
    act = partial(make_action, face)
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
    nose_chin = np.union1d(nose, chin)
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
    lip_regions = ("lips", "mouth_corners")
    # surprise and fear both open the eyes the same way
    widen_eyes = act(
        "upper_lids_up", eye_regions, upper_lids, (0.0, -0.025), anchors=lower_lids, radius=0.1
    )
    return {
        "happiness": [
            act(
                "mouth_corners_up_out",
                mouth_regions,
                corners,
                column(0.07 * corner_out * corner_reach, -0.07 * corner_reach),
                anchors=nose_chin,
            ),
            act(
                "cheeks_up",
                ("left_cheek", "right_cheek"),
                cheeks,
                (0.0, -0.05),
                anchors=np.union1d(nose, upper_lids),
                radius=0.25,
            ),
            act(
                "lower_lids_up",
                eye_regions,
                lower_lids,
                (0.0, -0.02),
                anchors=upper_lids,
                radius=0.1,
            ),
        ],
        "sadness": [
            act(
                "inner_brows_up",
                brow_regions,
                brows,
                column(0.0, -0.08 * brow_inner**1.5),
                anchors=lower_lids,
            ),
            act(
                "mouth_corners_down",
                mouth_regions,
                corners,
                column(-0.015 * corner_out * corner_reach, 0.07 * corner_reach),
                anchors=nose,
            ),
        ],
        "surprise": [
            act(
                "brows_up",
                (*brow_regions, "forehead"),
                np.union1d(brows, face.ids("forehead")),
                (0.0, -0.07),
                anchors=lower_lids,
                radius=0.25,
            ),
            widen_eyes,
            act(
                "jaw_drop",
                ("chin", "lips", "face_oval"),
                jaw,
                column(0.0, 0.11 * jaw_drop),
                anchors=np.union1d(upper_lip, nose),
                radius=0.25,
            ),
        ],
        "anger": [
            act(
                "brows_down_together",
                brow_regions,
                brows,
                column(-0.03 * brow_out * (0.3 + 0.7 * brow_inner), 0.035),
                anchors=lower_lids,
            ),
            act(
                "lips_pressed",
                lip_regions,
                lips,
                column(
                    -0.03 * lip_offset,
                    np.where(face.points[lips, 1] < face.mouth_centre[1], 0.025, -0.03),
                ),
                anchors=nose_chin,
                radius=0.125,
            ),
        ],
        "disgust": [
            act(
                "upper_lip_raise",
                ("lips",),
                upper_lip,
                (0.0, -0.05),
                anchors=np.union1d(lower_lip, chin),
                radius=0.15,
            ),
            act(
                "nose_wrinkle",
                ("nose",),
                face.lower_nose(),
                (0.0, -0.035),
                anchors=eyes,
                radius=0.15,
            ),
        ],
        "fear": [
            act(
                "brows_up_together",
                brow_regions,
                brows,
                column(-0.035 * brow_out * (0.3 + 0.7 * brow_inner), -0.055),
                anchors=lower_lids,
            ),
            widen_eyes,
            act(
                "mouth_stretch",
                lip_regions,
                lips,
                column(0.07 * lip_offset, 0.015 * np.abs(lip_offset)),
                anchors=nose_chin,
                radius=0.15,
            ),
        ],
        "neutral": [],
    }


def _by_name(*actions: Action) -> dict[str, Action]:
    """Actions keyed by their names, in order."""
    return {action.name: action for action in actions}


def _nuisance_actions(face: Face) -> dict[str, Action]:
    """Movements present in every class; their strength over time is random per video."""
    act = partial(make_action, face)
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
    nose = face.ids("nose")
    return _by_name(
        act(
            "blink",
            ("left_eye", "right_eye"),
            upper_lids,
            np.stack([np.zeros(len(closure)), closure], axis=-1),
            anchors=lower_lids,
            radius=0.1,
        ),
        act("left_brow_twitch", ("left_eyebrow",), left_brow, (0.0, -0.02)),
        act("right_brow_twitch", ("right_eyebrow",), right_brow, (0.0, -0.02)),
        act(
            "mouth_shift", ("lips", "mouth_corners"), lips, (0.025, 0.0), anchors=nose, radius=0.15
        ),
        act(
            "jaw_motion",
            ("chin", "lips"),
            np.union1d(chin, lower_lip),
            (0.0, 0.02),
            anchors=np.union1d(upper_lip, nose),
            radius=0.2,
        ),
    ) | _speech_and_tic_actions(face)


OPTIONAL_NUISANCE: dict[str, str] = {
    "talk_jaw": "talking",
    "talk_lips": "talking",
    "left_oval_tic": "idiosyncrasy",
    "right_oval_tic": "idiosyncrasy",
}
"""Nuisance actions that only a spec with the named knob above 0 uses (the default demo has
none of them, so its files do not change)."""


def _speech_and_tic_actions(face: Face) -> dict[str, Action]:
    """Talking (jaw opening, lip rounding) and per-subject tics on the side of the face oval
    between the eyes and the mouth, away from the emotions' actions (only happiness's cheek
    raise reaches it)."""
    act = partial(make_action, face)
    upper_lip, lower_lip = face.lips()
    lips = face.ids("lips", "mouth_corners")
    lip_offset = (face.points[lips, 0] - face.mouth_centre[0]) / face.mouth_half_width
    jaw = np.union1d(np.union1d(face.ids("chin"), face.lower_face_oval()), lower_lip)
    oval = face.ids("face_oval")
    eye_y = float(face.points[face.ids("left_eye", "right_eye"), 1].mean())
    side_y = face.points[oval, 1]
    side = oval[(side_y > eye_y) & (side_y < face.mouth_centre[1])]
    left = side[face.points[side, 0] < face.midline_x]
    right = side[face.points[side, 0] >= face.midline_x]
    nose = face.ids("nose")
    return _by_name(
        act(
            "talk_jaw",
            ("chin", "lips", "face_oval"),
            jaw,
            (0.0, 0.045),
            anchors=np.union1d(upper_lip, nose),
            radius=0.22,
        ),
        act(
            "talk_lips",
            ("lips", "mouth_corners"),
            lips,
            np.stack([-0.035 * lip_offset, np.zeros(len(lips))], axis=-1),
            anchors=nose,
            radius=0.12,
        ),
        act("left_oval_tic", ("face_oval",), left, (-0.025, -0.015), radius=0.12),
        act("right_oval_tic", ("face_oval",), right, (0.025, -0.015), radius=0.12),
    )


def _identity_actions(face: Face) -> dict[str, Action]:
    """Static face-shape differences between subjects (coefficient per subject in [−1, 1])."""
    act = partial(make_action, face)
    eye_area = face.ids("left_eye", "right_eye", "left_eyebrow", "right_eyebrow", "irises")
    lips = face.ids("lips", "mouth_corners")
    lip_offset = (face.points[lips, 0] - face.mouth_centre[0]) / face.mouth_half_width
    brows = face.ids("left_eyebrow", "right_eyebrow")
    lower_face = np.union1d(np.union1d(face.ids("chin"), face.lower_face_oval()), lips)
    nose = face.ids("nose")
    return _by_name(
        act(
            "eye_spacing",
            ("left_eye", "right_eye"),
            eye_area,
            np.stack([0.025 * face.outward(eye_area), np.zeros(len(eye_area))], axis=-1),
            anchors=nose,
            radius=0.25,
        ),
        act("brow_height", ("left_eyebrow", "right_eyebrow"), brows, (0.0, -0.025)),
        act(
            "nose_length",
            ("nose",),
            face.lower_nose(),
            (0.0, 0.025),
            anchors=face.ids("left_eye", "right_eye"),
        ),
        act(
            "mouth_width",
            ("lips",),
            lips,
            np.stack([0.03 * lip_offset, np.zeros(len(lips))], axis=-1),
            anchors=nose,
            radius=0.15,
        ),
        act(
            "face_length",
            ("chin", "face_oval"),
            lower_face,
            (0.0, 0.03),
            anchors=face.ids("nose", "left_eye", "right_eye"),
            radius=0.3,
        ),
    )


@dataclass(frozen=True, eq=False)
class _Actions:
    face: Face
    emotions: dict[str, list[Action]]
    nuisance: dict[str, Action]
    identity: dict[str, Action]


@cache
def demo_actions() -> _Actions:
    face = Face(neutral_landmarks())
    return _Actions(face, _emotion_actions(face), _nuisance_actions(face), _identity_actions(face))


@cache
def grid_field(group: str, key: str, index: int, size: int) -> np.ndarray:
    """An action's field sampled on the ``size × size`` canonical grid, in grid pixels.

    Shape ``(size, size, 2)``, float32, read-only. Grid pixel ``(i, j)`` sits at canonical
    ``((j + 0.5) / size, (i + 0.5) / size)``.
    """
    actions = demo_actions()
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

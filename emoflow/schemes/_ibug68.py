"""The iBUG-300W 68-point layout (dlib, OpenFace 2.0, py-feat), as data.

Point numbers are 0-based, in the subject-centred iBUG order: jaw 0–16 (from the image's left,
the subject's right ear, round the chin), right brow 17–21, left brow 22–26, nose bridge 27–30,
nostrils 31–35, right eye 36–41, left eye 42–47, outer lips 48–59, inner lips 60–67
("right"/"left" are the subject's, as for MediaPipe's regions).
"""

from __future__ import annotations

from emoflow.schemes._scheme import LandmarkScheme, mirror_partners

N_POINTS = 68

MEDIAPIPE_TO_IBUG68: tuple[int, ...] = (
    # jaw 0-16
    *(162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389),
    # brows 17-21, 22-26
    *(71, 63, 105, 66, 107, 336, 296, 334, 293, 301),
    # nose bridge 27-30, nostrils 31-35
    *(168, 197, 5, 4, 75, 97, 2, 326, 305),
    # eyes 36-41, 42-47
    *(33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380),
    # outer lips 48-59
    *(61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181),
    # inner lips 60-67
    *(78, 82, 13, 312, 308, 317, 14, 87),
)
"""The MediaPipe Face Mesh landmark nearest to each iBUG point (the correspondence used by
several MediaPipe → dlib converters): the 68-point reference face is MediaPipe's reference face
at these landmarks. It is approximate on the jaw, where iBUG's points follow the visible
cheek outline and MediaPipe's the face oval."""

REGIONS: dict[str, tuple[int, ...]] = {
    "jaw": tuple(range(0, 17)),
    "chin": tuple(range(6, 11)),
    "right_eyebrow": tuple(range(17, 22)),
    "left_eyebrow": tuple(range(22, 27)),
    "nose": tuple(range(27, 36)),
    "right_eye": tuple(range(36, 42)),
    "left_eye": tuple(range(42, 48)),
    "lips": tuple(range(48, 68)),
    "mouth_corners": (48, 54, 60, 64),
}
"""Named groups of the 68 points (they overlap: the chin is part of the jaw, the mouth corners of
the lips)."""

FACE_REGIONS: dict[str, tuple[int, ...]] = {
    **{name: REGIONS[name] for name in ("right_eyebrow", "left_eyebrow", "right_eye", "left_eye")},
    "nose": REGIONS["nose"],
    "mouth": REGIONS["lips"],
    "jaw": tuple(range(4, 13)),
    "right_contour": tuple(range(0, 4)),
    "left_contour": tuple(range(13, 17)),
}
"""Face regions that partition the 68 points, named as MediaPipe's
(:data:`emoflow.schemes.FACE_AREAS`; no points lie on the forehead or cheeks): the jaw line's
middle nine points (from below the ears' level round the chin) are the jaw, its top four on
each side the contour."""

_PAIRS: tuple[tuple[int, int], ...] = (
    *((i, 16 - i) for i in range(8)),
    *((17 + i, 26 - i) for i in range(5)),
    (31, 35),
    (32, 34),
    (36, 45),
    (37, 44),
    (38, 43),
    (39, 42),
    (40, 47),
    (41, 46),
    (48, 54),
    (49, 53),
    (50, 52),
    (55, 59),
    (56, 58),
    (60, 64),
    (61, 63),
    (65, 67),
)
"""Left/right mirror pairs; the other points (8, 27–30, 33, 51, 57, 62, 66) lie on the
midline."""


RIGID: tuple[int, ...] = (0, 1, 15, 16, 27, 28, 29, 30, 33, 36, 39, 42, 45)
"""Points that expressions barely move: the jaw's top (at the ears), the nose bridge and tip,
the eye corners."""


def _chain(first: int, last: int, *, closed: bool = False) -> list[tuple[int, int]]:
    edges = [(i, i + 1) for i in range(first, last)]
    return [*edges, (last, first)] if closed else edges


OUTLINE: tuple[tuple[int, int], ...] = (
    *_chain(0, 16),
    *_chain(17, 21),
    *_chain(22, 26),
    *_chain(27, 30),
    *_chain(31, 35),
    (30, 33),
    *_chain(36, 41, closed=True),
    *_chain(42, 47, closed=True),
    *_chain(48, 59, closed=True),
    *_chain(60, 67, closed=True),
)
"""Edges of the face outline and feature contours (jaw, brows, nose, eyes, lips)."""


IBUG_68 = LandmarkScheme(
    "ibug_68",
    N_POINTS,
    "iBUG-300W 68 points (dlib, OpenFace 2.0, py-feat)",
    RIGID,
    30,
    (36, 45),
    tuple(FACE_REGIONS.items()),
    mediapipe_ids=MEDIAPIPE_TO_IBUG68,
    region_ids=tuple(REGIONS.items()),
    mirror=mirror_partners(N_POINTS, _PAIRS),
    outline=OUTLINE,
)
"""The 68 points as a scheme (registered in :data:`emoflow.schemes.SCHEMES`)."""

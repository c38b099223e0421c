"""The neutral face: the demo photo's face crop, its Face Mesh landmarks and their geometry."""

from __future__ import annotations

from functools import cache

import numpy as np

from emoflow.facemesh.mesh import N_LANDMARKS, regions
from emoflow.facemesh.tracker import image_landmarks

_CROP_CENTRE_XY = (225, 128)
"""Centre of the face crop in ``skimage.data.astronaut()`` pixels."""
CROP_SIZE = 232
"""Side of the square face crop in photo pixels; it is rendered at ``DemoSpec.size``."""


@cache
def face_photo() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def crop_origin() -> tuple[int, int]:
    """Top-left corner (x, y) of the face crop in photo pixels."""
    return _CROP_CENTRE_XY[0] - CROP_SIZE // 2, _CROP_CENTRE_XY[1] - CROP_SIZE // 2


@cache
def neutral_landmarks() -> np.ndarray:
    """Face Mesh landmarks of the neutral face crop, shape ``(478, 3)``.

    ``x`` and ``y`` are in crop coordinates normalised to ``[0, 1]`` (the *canonical* frame of
    the demo); ``z`` is MediaPipe's relative depth. Values are rounded to 1e-4 so that tiny
    floating-point differences between machines do not change the ground truth.
    """
    x0, y0 = crop_origin()
    crop = np.ascontiguousarray(face_photo()[y0 : y0 + CROP_SIZE, x0 : x0 + CROP_SIZE])
    landmarks = image_landmarks(crop, refine_landmarks=True)
    if landmarks is None:
        raise RuntimeError("MediaPipe Face Mesh found no face in the demo photo")
    if landmarks.shape != (N_LANDMARKS, 3):
        raise RuntimeError(f"expected {N_LANDMARKS} landmarks, MediaPipe gave {len(landmarks)}")
    landmarks = np.round(landmarks, 4)
    landmarks.flags.writeable = False
    return landmarks


class Face:
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

"""Choosing one face among several, and the boxes and crops of the small-face search."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from emoflow.facemesh.mesh import N_MESH_LANDMARKS

FACE_POLICIES: tuple[str, ...] = ("largest", "central", "tracked")
"""How one face is chosen among several (``max_num_faces > 1``)."""

CROP_SIZE = 256
"""Side in pixels of the square crop the small-face search gives to Face Mesh."""
CROP_SCALE_DETECTION = 3.0
"""Crop side / larger side of a full-range detection box (the box covers brows to mouth)."""
CROP_SCALE_LANDMARKS = 2.0
"""Crop side / larger side of the previous frame's landmark box (the whole face oval)."""


def pixel_box(points: np.ndarray, width: int, height: int) -> tuple[float, float, float, float]:
    """Centre ``(x, y)`` and size ``(w, h)`` in pixels of a face's landmark box."""
    xs = points[:N_MESH_LANDMARKS, 0]
    ys = points[:N_MESH_LANDMARKS, 1]
    x_min, x_max = float(xs.min()), float(xs.max())
    y_min, y_max = float(ys.min()), float(ys.max())
    return (
        (x_min + x_max) / 2 * width,
        (y_min + y_max) / 2 * height,
        (x_max - x_min) * width,
        (y_max - y_min) * height,
    )


def choose_face(
    boxes: Sequence[tuple[float, float, float, float]],
    policy: str,
    width: int,
    height: int,
    previous_centre: tuple[float, float] | None,
) -> int:
    """Index of the face to follow among several, by ``policy``.

    Parameters
    ----------
    boxes
        ``(centre_x, centre_y, width, height)`` of each face, in pixels.
    policy
        ``largest`` (largest box area), ``central`` (centre nearest the frame centre) or
        ``tracked`` (centre nearest ``previous_centre``; the largest without one).
    width, height
        Frame size in pixels.
    previous_centre
        Centre of the face followed in the previous frame with a face, in pixels.
    """
    if policy == "central":
        target: tuple[float, float] | None = (width / 2, height / 2)
    elif policy == "tracked":
        target = previous_centre
    else:
        target = None
    if target is None:
        return int(np.argmax([box[2] * box[3] for box in boxes]))
    distances = [math.hypot(box[0] - target[0], box[1] - target[1]) for box in boxes]
    return int(np.argmin(distances))


def detection_box(detection: Any, width: int, height: int) -> tuple[float, float, float, float]:
    """Centre and size in pixels of a MediaPipe ``Detection``'s relative bounding box."""
    box = detection.location_data.relative_bounding_box
    return (
        (box.xmin + box.width / 2) * width,
        (box.ymin + box.height / 2) * height,
        box.width * width,
        box.height * height,
    )


def centre_of(points: np.ndarray | None, width: int, height: int) -> tuple[float, float] | None:
    """Centre in pixels of a face's landmark box, ``None`` without a face."""
    if points is None:
        return None
    centre_x, centre_y, _, _ = pixel_box(points, width, height)
    return centre_x, centre_y


def matching_score(detections: Sequence[Any], points: np.ndarray, width: int, height: int) -> float:
    """Score of the detection whose box centre is nearest the face ``points``' centre."""
    if len(detections) == 1:
        return float(detections[0].score[0])
    centre_x, centre_y, _, _ = pixel_box(points, width, height)
    boxes = [detection_box(detection, width, height) for detection in detections]
    distances = [math.hypot(box[0] - centre_x, box[1] - centre_y) for box in boxes]
    return float(detections[int(np.argmin(distances))].score[0])

"""Regenerate ``emoflow/facemesh/face_mesh.json`` (package data) from the MediaPipe wheel.

Run once by a developer (``python tools/make_face_mesh_resource.py``); the pipeline reads the
JSON and never needs this script. The file holds the Face Mesh topology (tesselation edges),
named landmark regions, and a neutral reference face (the landmarks MediaPipe finds on
``skimage.data.astronaut()``), used for drawing.
"""

from __future__ import annotations

import json
from pathlib import Path

import mediapipe as mp
import numpy as np
from skimage import data

connections = mp.solutions.face_mesh_connections


def _points(edges: frozenset[tuple[int, int]]) -> list[int]:
    return sorted({int(i) for edge in edges for i in edge})


# Regions beyond MediaPipe's connection sets, from the canonical mesh's numbering.
EXTRA_REGIONS = {
    "mouth_corners": [61, 291, 146, 375, 185, 409, 40, 270, 76, 306, 62, 292],
    "left_cheek": [425, 280, 411, 352, 345, 346, 347, 330, 266, 426, 427, 436, 432],
    "right_cheek": [205, 50, 187, 123, 116, 117, 118, 101, 36, 206, 207, 216, 212],
    "forehead": [10, 151, 9, 108, 337, 69, 299, 67, 297, 109, 338, 107, 336],
    "chin": [152, 148, 176, 149, 150, 377, 400, 378, 379, 175, 199, 200, 18, 83, 313],
}


MIDLINE = [0, 1, 2, 4, 5, 6, 8, 9, 10, 13, 14, 17, 19, 94, 151, 152, 164, 168, 199, 200]
"""Landmarks on the face's vertical midline, used to fit the symmetry axis."""


def mirror_pairs(reference: np.ndarray) -> list[int]:
    """Left/right mirror partner of every landmark (midline points pair with themselves).

    The reference face is reflected across its fitted midline and matched to itself by
    minimum-cost assignment, separately for the 468 mesh points and the 10 iris points.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    points = reference[:, :2]
    design = np.c_[points[MIDLINE, 1], np.ones(len(MIDLINE))]
    slope, intercept = np.linalg.lstsq(design, points[MIDLINE, 0], rcond=None)[0]
    direction = np.array([slope, 1.0]) / np.hypot(slope, 1.0)
    normal = np.array([direction[1], -direction[0]])
    relative = points - np.array([intercept, 0.0])
    mirrored = relative - 2 * (relative @ normal)[:, None] * normal + np.array([intercept, 0.0])
    partners = np.arange(len(points))
    for block in (np.arange(468), np.arange(468, len(points))):
        rows, cols = linear_sum_assignment(cdist(mirrored[block], points[block]))
        partners[block[rows]] = block[cols]
    if not np.array_equal(partners[partners], np.arange(len(points))):
        raise RuntimeError("mirror matching is not symmetric")
    return partners.tolist()


def main() -> None:
    regions = {
        "lips": _points(connections.FACEMESH_LIPS),
        "left_eye": _points(connections.FACEMESH_LEFT_EYE),
        "right_eye": _points(connections.FACEMESH_RIGHT_EYE),
        "left_eyebrow": _points(connections.FACEMESH_LEFT_EYEBROW),
        "right_eyebrow": _points(connections.FACEMESH_RIGHT_EYEBROW),
        "nose": _points(connections.FACEMESH_NOSE),
        "face_oval": _points(connections.FACEMESH_FACE_OVAL),
        "irises": _points(connections.FACEMESH_IRISES),
        **EXTRA_REGIONS,
    }
    image = data.astronaut()
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as mesh:
        found = mesh.process(image).multi_face_landmarks[0]
    reference = np.array([[p.x, p.y, p.z] for p in found.landmark], dtype=np.float64)
    resource = {
        "source": f"mediapipe {mp.__version__} face_mesh (refine_landmarks=True)",
        "n_landmarks": 478,
        "regions": regions,
        "tesselation": sorted([list(edge) for edge in connections.FACEMESH_TESSELATION]),
        "contours": sorted([list(edge) for edge in connections.FACEMESH_CONTOURS]),
        "reference_face": np.round(reference, 5).tolist(),
        "mirror": mirror_pairs(reference),
        "reference_image_size": list(image.shape[1::-1]),
    }
    out = Path(__file__).resolve().parents[1] / "emoflow" / "facemesh" / "face_mesh.json"
    out.write_text(json.dumps(resource, separators=(",", ":")) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

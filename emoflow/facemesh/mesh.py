"""The MediaPipe Face Mesh topology: landmark count, named regions, tesselation, reference face.

Read from the package data file ``face_mesh.json`` beside this module (through
:mod:`importlib.resources`, so an installed wheel finds it), generated from the MediaPipe wheel
by ``tools/make_face_mesh_resource.py``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

N_LANDMARKS = 478
"""Landmarks per face with ``refine_landmarks=True`` (468 mesh points + 10 iris points)."""
N_MESH_LANDMARKS = 468
"""Landmarks of the face mesh without the iris refinement (the paper's setting)."""

RIGID_LANDMARKS = (1, 4, 5, 6, 8, 9, 10, 151, 168, 195, 197, 33, 133, 263, 362, 127, 234, 356, 454)
"""Landmarks that expressions barely move (nose bridge and tip, forehead midline, eye corners,
temples): the anchors of head-pose alignment, so a dropped jaw or raised brows do not tilt the
fitted pose."""

RESOURCE = "face_mesh.json"
"""Name of the topology file inside the :mod:`emoflow.facemesh` package."""


@cache
def _resource() -> dict[str, Any]:
    return json.loads(resources.files("emoflow.facemesh").joinpath(RESOURCE).read_text())


def regions() -> dict[str, list[int]]:
    """Named landmark groups (lips, eyebrows, eyes, nose, cheeks, …) → landmark ids."""
    return {name: list(ids) for name, ids in _resource()["regions"].items()}


def tesselation() -> np.ndarray:
    """Edges of the mesh triangulation, shape ``(n_edges, 2)``."""
    return np.asarray(_resource()["tesselation"], dtype=np.int64)


def contours() -> np.ndarray:
    """Edges of the face contours (lips, eyes, brows, oval), shape ``(n_edges, 2)``."""
    return np.asarray(_resource()["contours"], dtype=np.int64)


def reference_face() -> np.ndarray:
    """A neutral face's landmarks in normalised image coordinates, shape ``(478, 3)``."""
    return np.asarray(_resource()["reference_face"], dtype=np.float64)


def mirror_pairs() -> np.ndarray:
    """Left/right mirror partner of each landmark, shape ``(478,)``; midline points map to
    themselves (``partner[partner] == identity``)."""
    return np.asarray(_resource()["mirror"], dtype=np.int64)

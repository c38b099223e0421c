"""MediaPipe Face Mesh's layouts: its 478 points (468 mesh points and 10 iris points) and the
468 mesh points alone, read from the topology file (:mod:`emoflow.facemesh.mesh`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoflow.facemesh import mesh
from emoflow.schemes._mediapipe_regions import FACE_REGIONS
from emoflow.schemes._scheme import LandmarkScheme


@dataclass(frozen=True)
class FaceMeshScheme(LandmarkScheme):
    """The first ``n_points`` landmarks of Face Mesh: what video extraction gives, with the
    mesh's own groups, mirror pairs, reference face, contours and tesselation."""

    @property
    def approximated_by_face_mesh(self) -> bool:
        return False

    def from_face_mesh(self, landmarks: np.ndarray) -> np.ndarray:
        """Face Mesh's landmarks are this scheme's points: ``landmarks`` as they are."""
        return landmarks

    def regions(self) -> dict[str, list[int]]:
        return {
            name: kept
            for name, ids in mesh.regions().items()
            if (kept := [i for i in ids if i < self.n_points])
        }

    def mirror_pairs(self) -> np.ndarray:
        return mesh.mirror_pairs()[: self.n_points]

    def reference_face(self) -> np.ndarray:
        return mesh.reference_face()[: self.n_points]

    def contours(self) -> np.ndarray:
        edges = mesh.contours()
        return edges[(edges < self.n_points).all(axis=1)]

    def tesselation(self) -> np.ndarray:
        edges = mesh.tesselation()
        return edges[(edges < self.n_points).all(axis=1)]

    def picture_edges(self) -> np.ndarray | None:
        return None  # the mesh is dense enough


_EYE_CORNERS = (33, 263)  # the outer corners of the right and left eye

MEDIAPIPE_478 = FaceMeshScheme(
    "mediapipe_478",
    mesh.N_LANDMARKS,
    "MediaPipe Face Mesh, 468 mesh points and 10 iris points",
    mesh.RIGID_LANDMARKS,
    1,
    _EYE_CORNERS,
    tuple(FACE_REGIONS.items()),
)
"""Face Mesh with the iris refinement (``refine_landmarks``): the points of every table it
extracts."""

MEDIAPIPE_468 = FaceMeshScheme(
    "mediapipe_468",
    mesh.N_MESH_LANDMARKS,
    "MediaPipe Face Mesh without the iris points",
    mesh.RIGID_LANDMARKS,
    1,
    _EYE_CORNERS,
    tuple(FACE_REGIONS.items()),
    stored_in=MEDIAPIPE_478.name,
)
"""Face Mesh without the iris points (tracks of 468 points imported from a CSV)."""

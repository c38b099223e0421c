"""What a landmark scheme is: :class:`LandmarkScheme`, the contract every scheme fulfils.

A scheme is one object in one module of this package (``_mediapipe``, ``_ibug68``) and one line
of the registry (:data:`emoflow.schemes.SCHEMES`); the rest of emoflow asks the object (its
attributes and methods) and never branches on a scheme's name or point count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from emoflow.facemesh import mesh

FACE_AREAS: dict[str, str] = {
    "forehead": "forehead",
    "right_eyebrow": "eyebrows",
    "left_eyebrow": "eyebrows",
    "right_eye": "eyes",
    "left_eye": "eyes",
    "nose": "nose",
    "right_cheek": "cheeks",
    "left_cheek": "cheeks",
    "mouth": "mouth",
    "jaw": "jaw",
    "right_contour": "contour",
    "left_contour": "contour",
}
"""Every face region (:meth:`LandmarkScheme.face_regions`, top of the face to bottom) → its
area, the region with left and right taken together."""

IdGroups = tuple[tuple[str, tuple[int, ...]], ...]
"""Named groups of point ids, in order (a dict's items, kept hashable)."""


def mirror_partners(n_points: int, pairs: Iterable[tuple[int, int]]) -> tuple[int, ...]:
    """Mirror partner of each of ``n_points`` points from left/right ``pairs`` (the other
    points lie on the midline and map to themselves)."""
    partner = list(range(n_points))
    for a, b in pairs:
        partner[a], partner[b] = b, a
    return tuple(partner)


@dataclass(frozen=True)
class LandmarkScheme:
    """One landmark layout of points that another tracker than MediaPipe Face Mesh gives.

    Its reference face is MediaPipe's reference face at :attr:`mediapipe_ids`, and a video
    tracked with Face Mesh gives its points there (approximately: :meth:`from_face_mesh`).
    MediaPipe's own layouts are :class:`emoflow.schemes._mediapipe.FaceMeshScheme`.

    Attributes
    ----------
    name
        Registry key (e.g. ``ibug_68``), recorded in every landmark table, feature store and
        model file.
    n_points
        Landmarks per face.
    description
        One line for messages and reports.
    rigid
        Points that expressions barely move (rigid alignment anchors).
    nose_tip
        The point ``features.center: nose`` subtracts.
    eye_corners
        Outer corners of the right and left eye (``features.scale: interocular``).
    face_region_ids
        Face regions that partition the points (:meth:`face_regions`).
    mediapipe_ids
        The MediaPipe Face Mesh landmark nearest to each point: the reference face is taken
        there, and so are the points of a video tracked with Face Mesh.
    region_ids
        Named landmark groups, which may overlap (:meth:`regions`).
    mirror
        Mirror partner of each point (:func:`mirror_partners`).
    outline
        Edges of the face outline and feature contours.
    stored_in
        The scheme whose landmark tables hold these points, when not this one (MediaPipe's
        468 points are stored as 478, the iris points missing).
    """

    name: str
    n_points: int
    description: str
    rigid: tuple[int, ...]
    nose_tip: int
    eye_corners: tuple[int, int]
    face_region_ids: IdGroups = field(repr=False)
    mediapipe_ids: tuple[int, ...] | None = field(default=None, repr=False)
    region_ids: IdGroups = field(default=(), repr=False)
    mirror: tuple[int, ...] = field(default=(), repr=False)
    outline: tuple[tuple[int, int], ...] = field(default=(), repr=False)
    stored_in: str | None = None

    @property
    def approximated_by_face_mesh(self) -> bool:
        """Whether a video tracked with Face Mesh gives these points only approximately (its
        landmark nearest to each point stands in for it)."""
        return True

    def from_face_mesh(self, landmarks: np.ndarray) -> np.ndarray:
        """This scheme's points of Face Mesh landmarks ``(..., 478, k)``: the landmark at each
        point (:attr:`mediapipe_ids`), ``(..., n_points, k)``."""
        return landmarks[..., np.asarray(self.mediapipe_ids, dtype=np.int64), :]

    def regions(self) -> dict[str, list[int]]:
        """Named landmark groups (lips, eyebrows, eyes, nose, …) → point ids."""
        return {name: list(ids) for name, ids in self.region_ids}

    def region_of(self, landmark_ids: list[int] | np.ndarray) -> dict[str, int]:
        """How many of ``landmark_ids`` fall in each region (regions may overlap)."""
        wanted = {int(i) for i in landmark_ids}
        return {name: len(wanted.intersection(ids)) for name, ids in self.regions().items()}

    def face_regions(self) -> dict[str, list[int]]:
        """Face regions that partition the points: region → point ids, every point of the
        scheme in exactly one region.

        The regions are those of :data:`FACE_AREAS` that the scheme has points in (iBUG's 68
        points have no forehead or cheeks), top of the face to bottom; ``right``/``left`` are
        the subject's own. MediaPipe's are defined in :mod:`emoflow.schemes._mediapipe_regions`
        (made by ``tools/make_face_regions.py``), iBUG's in :mod:`emoflow.schemes._ibug68`.
        """
        return {
            name: kept
            for name, ids in self.face_region_ids
            if (kept := [i for i in ids if i < self.n_points])
        }

    def face_region_names(self) -> np.ndarray:
        """The face region of every point, shape ``(n_points,)`` (strings)."""
        names = np.empty(self.n_points, dtype=object)
        for name, ids in self.face_regions().items():
            names[ids] = name
        return names.astype(str)

    def face_region_counts(self, landmark_ids: list[int] | np.ndarray) -> dict[str, int]:
        """How many of ``landmark_ids`` fall in each face region (they partition the points,
        so the counts add up to the number of ids); regions without any are left out."""
        counts: dict[str, int] = {}
        names = self.face_region_names()
        for i in sorted({int(i) for i in landmark_ids}):
            counts[str(names[i])] = counts.get(str(names[i]), 0) + 1
        order = list(self.face_regions())
        return dict(sorted(counts.items(), key=lambda item: order.index(item[0])))

    def mirror_pairs(self) -> np.ndarray:
        """Mirror partner of each point, shape ``(n_points,)``; midline points map to
        themselves."""
        return np.asarray(self.mirror, dtype=np.int64)

    def reference_face(self) -> np.ndarray:
        """A neutral face in MediaPipe's normalised coordinates of a square image,
        ``(n_points, 3)``."""
        return self.from_face_mesh(mesh.reference_face())

    def contours(self) -> np.ndarray:
        """Edges of the outline and feature contours, ``(n_edges, 2)``."""
        return np.asarray(self.outline, dtype=np.int64).reshape(-1, 2)

    def tesselation(self) -> np.ndarray:
        """Edges of a triangulation to draw faintly (empty when the scheme has none)."""
        return np.zeros((0, 2), dtype=np.int64)

    def picture_edges(self) -> np.ndarray | None:
        """Edges to draw between the points over a video frame: the contours of a sparse
        scheme; ``None`` for a mesh whose points alone show the face."""
        return self.contours()

"""Landmark schemes: what a tracker's points are, as data.

A :class:`LandmarkScheme` names a layout of face landmarks (MediaPipe Face Mesh with or without
the iris points, iBUG-300W's 68 points of dlib, OpenFace and py-feat) and gives everything the
method needs of it: the point count, named region groups (which may overlap), face regions that
partition the points (every point in exactly one: :meth:`LandmarkScheme.face_regions`),
left/right mirror partners, the points expressions barely move (the anchors of rigid
alignment), a reference face and the edges to draw. Landmark tables record their scheme in
their metadata (``emoflow.scheme``), feature stores in their attributes (``scheme``); files
without one are MediaPipe's 478 points.

Importing this package is light (NumPy and the MediaPipe topology file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emoflow.errors import DataError
from emoflow.facemesh import mesh
from emoflow.schemes import _ibug68
from emoflow.schemes._mediapipe_regions import FACE_REGIONS as _MEDIAPIPE_FACE_REGIONS

DEFAULT_SCHEME = "mediapipe_478"
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
"""The scheme of landmark tables and feature stores that record none (written before schemes
existed, or extracted with MediaPipe)."""


@dataclass(frozen=True)
class LandmarkScheme:
    """One landmark layout.

    Attributes
    ----------
    name
        Registry key (e.g. ``ibug_68``).
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
    mediapipe_ids
        For a non-MediaPipe scheme, the MediaPipe landmark nearest to each point (its
        reference face is taken there); ``None`` for MediaPipe's own schemes.
    """

    name: str
    n_points: int
    description: str
    rigid: tuple[int, ...]
    nose_tip: int
    eye_corners: tuple[int, int]
    mediapipe_ids: tuple[int, ...] | None = field(default=None, repr=False)
    _regions: tuple[tuple[str, tuple[int, ...]], ...] | None = field(default=None, repr=False)
    _face_regions: tuple[tuple[str, tuple[int, ...]], ...] = field(default=(), repr=False)
    _mirror: tuple[int, ...] | None = field(default=None, repr=False)
    _outline: tuple[tuple[int, int], ...] | None = field(default=None, repr=False)

    @property
    def is_mediapipe(self) -> bool:
        """Whether the points are MediaPipe Face Mesh's (so video extraction gives them)."""
        return self.mediapipe_ids is None

    def regions(self) -> dict[str, list[int]]:
        """Named landmark groups (lips, eyebrows, eyes, nose, …) → point ids."""
        if self._regions is not None:
            return {name: list(ids) for name, ids in self._regions}
        return {
            name: kept
            for name, ids in mesh.regions().items()
            if (kept := [i for i in ids if i < self.n_points])
        }

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
            for name, ids in self._face_regions
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
        if self._mirror is not None:
            return np.asarray(self._mirror, dtype=np.int64)
        return mesh.mirror_pairs()[: self.n_points]

    def reference_face(self) -> np.ndarray:
        """A neutral face in MediaPipe's normalised coordinates of a square image,
        ``(n_points, 3)``."""
        reference = mesh.reference_face()
        if self.mediapipe_ids is not None:
            return reference[list(self.mediapipe_ids)]
        return reference[: self.n_points]

    def contours(self) -> np.ndarray:
        """Edges of the outline and feature contours, ``(n_edges, 2)``."""
        if self._outline is not None:
            return np.asarray(self._outline, dtype=np.int64)
        edges = mesh.contours()
        return edges[(edges < self.n_points).all(axis=1)]

    def tesselation(self) -> np.ndarray:
        """Edges of a triangulation to draw faintly (empty when the scheme has none)."""
        if not self.is_mediapipe:
            return np.zeros((0, 2), dtype=np.int64)
        edges = mesh.tesselation()
        return edges[(edges < self.n_points).all(axis=1)]


_RIGHT_EYE_OUTER, _LEFT_EYE_OUTER = 33, 263

SCHEMES: dict[str, LandmarkScheme] = {
    "mediapipe_478": LandmarkScheme(
        "mediapipe_478",
        mesh.N_LANDMARKS,
        "MediaPipe Face Mesh, 468 mesh points and 10 iris points",
        mesh.RIGID_LANDMARKS,
        1,
        (_RIGHT_EYE_OUTER, _LEFT_EYE_OUTER),
        _face_regions=tuple(_MEDIAPIPE_FACE_REGIONS.items()),
    ),
    "mediapipe_468": LandmarkScheme(
        "mediapipe_468",
        mesh.N_MESH_LANDMARKS,
        "MediaPipe Face Mesh without the iris points",
        mesh.RIGID_LANDMARKS,
        1,
        (_RIGHT_EYE_OUTER, _LEFT_EYE_OUTER),
        _face_regions=tuple(_MEDIAPIPE_FACE_REGIONS.items()),
    ),
    "ibug_68": LandmarkScheme(
        "ibug_68",
        _ibug68.N_POINTS,
        "iBUG-300W 68 points (dlib, OpenFace 2.0, py-feat)",
        _ibug68.RIGID,
        30,
        (36, 45),
        mediapipe_ids=_ibug68.MEDIAPIPE_TO_IBUG68,
        _regions=tuple(_ibug68.REGIONS.items()),
        _face_regions=tuple(_ibug68.FACE_REGIONS.items()),
        _mirror=_ibug68.mirror(),
        _outline=_ibug68.OUTLINE,
    ),
}
"""Every scheme emoflow knows, by name."""


def supported() -> str:
    """The known schemes for messages: ``name (n points)``, …"""
    return ", ".join(f"{name} ({scheme.n_points} points)" for name, scheme in SCHEMES.items())


def get_scheme(name: str | None) -> LandmarkScheme:
    """The scheme called ``name`` (``None``: :data:`DEFAULT_SCHEME`).

    Raises
    ------
    DataError
        No such scheme; the message lists the known ones.
    """
    scheme = SCHEMES.get(name or DEFAULT_SCHEME)
    if scheme is None:
        raise DataError(f"unknown landmark scheme {name!r}; emoflow knows {supported()}")
    return scheme


def scheme_for_points(n_points: int) -> LandmarkScheme:
    """The scheme whose faces have ``n_points`` points (468 → ``mediapipe_468``).

    Raises
    ------
    DataError
        No scheme has that many points; the message lists the known ones.
    """
    for scheme in SCHEMES.values():
        if scheme.n_points == n_points:
            return scheme
    raise DataError(
        f"{n_points} landmarks per face match no known scheme; supported: {supported()}"
    )


__all__ = [
    "DEFAULT_SCHEME",
    "FACE_AREAS",
    "SCHEMES",
    "LandmarkScheme",
    "get_scheme",
    "scheme_for_points",
    "supported",
]

"""Landmark schemes: what a tracker's points are, as data.

A :class:`LandmarkScheme` names a layout of face landmarks (MediaPipe Face Mesh with or without
the iris points, iBUG-300W's 68 points of dlib, OpenFace and py-feat) and gives everything the
method needs of it: the point count, named region groups (which may overlap), face regions that
partition the points (every point in exactly one: :meth:`LandmarkScheme.face_regions`),
left/right mirror partners, the points expressions barely move (the anchors of rigid
alignment), a reference face, the edges to draw and how a video tracked with Face Mesh gives
its points. Landmark tables record their scheme in their metadata (``emoflow.scheme``), feature
stores in their attributes (``scheme``), model files in their metadata (``scheme``); files
without one are MediaPipe's 478 points. Only a table that does not say (an imported CSV) has its
scheme told by its point count (:func:`scheme_for_points`).

Adding a scheme is one module holding its :class:`LandmarkScheme` and one line in
:data:`SCHEMES` (or one :func:`register` call).

Importing this package is light (NumPy and the MediaPipe topology file).
"""

from __future__ import annotations

from emoflow.errors import DataError
from emoflow.schemes._ibug68 import IBUG_68
from emoflow.schemes._mediapipe import MEDIAPIPE_468, MEDIAPIPE_478
from emoflow.schemes._scheme import FACE_AREAS, LandmarkScheme, mirror_partners

DEFAULT_SCHEME = MEDIAPIPE_478.name
"""The scheme of landmark tables, feature stores and model files that record none (written
before schemes existed)."""

SCHEMES: dict[str, LandmarkScheme] = {
    scheme.name: scheme
    for scheme in (
        MEDIAPIPE_478,
        MEDIAPIPE_468,
        IBUG_68,
    )
}
"""Every scheme emoflow knows, by name."""


def register(scheme: LandmarkScheme) -> LandmarkScheme:
    """Add ``scheme`` to :data:`SCHEMES` (e.g. one defined outside the package); returns it.

    Raises
    ------
    DataError
        A scheme of that name, or one of as many points (a table's point count would no
        longer tell its scheme), is known already.
    """
    for known in SCHEMES.values():
        if scheme.name == known.name or scheme.n_points == known.n_points:
            raise DataError(
                f"landmark scheme {scheme.name} ({scheme.n_points} points) clashes with "
                f"{known.name} ({known.n_points} points)"
            )
    SCHEMES[scheme.name] = scheme
    return scheme


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
    "mirror_partners",
    "register",
    "scheme_for_points",
    "supported",
]

"""Actions: control-point displacements → smooth dense displacement fields."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoflow.demo.face import Face

_ANCHOR_RADIUS_FACTOR = 0.5
"""Zero-displacement anchors hold only their close neighbourhood (radius relative to the
action's)."""


@dataclass(frozen=True, eq=False)
class Action:
    """One facial movement: landmarks pushed by known vectors, anchors held in place.

    ``displacement`` is in canonical units (fractions of the crop side) at unit intensity.
    """

    name: str
    regions: tuple[str, ...]
    driven: np.ndarray
    displacement: np.ndarray
    anchors: np.ndarray
    radius: float

    def field(self, points: np.ndarray, face: Face) -> np.ndarray:
        """Displacement at ``points`` (``(n, 2)`` canonical), shape ``(n, 2)``.

        Kernel-weighted interpolation of the control points (driven landmarks with their
        vectors, anchors with zero) with the compactly supported Wendland kernel
        ``(1 − r/R)⁴₊ (4r/R + 1)``. Where the control points are sparse (total weight < 1) the
        field fades out instead of being renormalised, and it is exactly zero farther than
        ``radius`` from every driven landmark.
        """
        query = points.astype(np.float32)

        def weights(centres: np.ndarray, radius: float) -> np.ndarray:
            squared = ((query[:, None, :] - centres[None, :, :].astype(np.float32)) ** 2).sum(-1)
            ratio = np.sqrt(squared) / np.float32(radius)
            return np.clip(1 - ratio, 0, None) ** 4 * (4 * ratio + 1)

        driven_weight = weights(face.points[self.driven], self.radius)
        total_weight = driven_weight.sum(axis=1)
        if len(self.anchors):
            anchor_radius = self.radius * _ANCHOR_RADIUS_FACTOR
            total_weight += weights(face.points[self.anchors], anchor_radius).sum(axis=1)
        pushed = driven_weight @ self.displacement.astype(np.float32)
        return (pushed / np.maximum(total_weight, 1.0)[:, None]).astype(np.float64)


def make_action(
    face: Face,
    name: str,
    region_names: tuple[str, ...],
    driven: np.ndarray,
    displacement: np.ndarray | tuple[float, float],
    *,
    anchors: np.ndarray | None = None,
    radius: float = 0.2,
) -> Action:
    """Build an action; ``displacement`` and ``radius`` are in face widths."""
    driven = np.asarray(driven, dtype=np.int64)
    vectors = np.broadcast_to(np.asarray(displacement, dtype=np.float64), (len(driven), 2))
    anchor_ids = np.setdiff1d(
        np.asarray([] if anchors is None else anchors, dtype=np.int64), driven
    )
    return Action(
        name=name,
        regions=region_names,
        driven=driven,
        displacement=vectors * face.width,
        anchors=anchor_ids,
        radius=radius * face.width,
    )

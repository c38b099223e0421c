"""Shared drawing for the report's figures: style, grids of panels, the face mesh.

Matplotlib is imported lazily and drawn with the Agg canvas, so the stage runs headless.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from emoflow._atomic import atomic_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from emoflow.schemes import LandmarkScheme

log = logging.getLogger(__name__)

FIGURES = {
    "accuracy": "accuracy_vs_landmarks.png",
    "cost": "cost_vs_landmarks.png",
    "selected": "selected_landmarks.png",
    "confusion": "confusion_matrix.png",
    "selected_confusion": "selected_confusion.png",
}
"""File names of the figures in the report folder (each emotion's relevance figure:
:data:`RELEVANCE_FIGURE`)."""
RELEVANCE_FIGURE = "relevance_on_face_{emotion}.png"
"""File name of an emotion's relevance figure in the report folder."""
DPI = 110
STYLE: dict[str, Any] = {
    "font.size": 13,
    "axes.titlesize": 14,
    "axes.labelsize": 13,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "figure.titlesize": 16,
    "axes.spines.top": False,
}
PANEL_INCHES = (4.6, 3.5)
"""Width and height of one emotion's panel in the accuracy grid."""
FACE_INCHES = 4.0
"""Side of one emotion's face panel."""
KEPT_COLOUR = "#c0392b"
GROUND_TRUTH_COLOUR = "#1f5fbf"
ACCURACY_COLOUR = "#1f77b4"
COST_COLOUR = "#6b6b6b"


@contextmanager
def plotting() -> Iterator[None]:
    """Lazy Matplotlib import with the Agg backend and the report's style."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # never switch an interactive session's backend
        matplotlib.use("Agg")
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]  # stubs want literal keys
        yield


def new_figure(
    width: float, height: float, *, layout: Literal["constrained"] | None = "constrained"
) -> Figure:
    """A figure on an Agg canvas (no pyplot state), with constrained layout (``layout=None``:
    axes placed by the caller)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(figure)
    return figure


def save(figure: Figure, path: Path) -> None:
    with atomic_path(path) as staged:
        figure.savefig(staged, dpi=DPI, facecolor="white")
    log.info("wrote %s", path)


def grid(n: int, max_columns: int = 3) -> tuple[int, int]:
    """Rows and columns of a grid holding ``n`` panels (few empty cells, at most 4 columns)."""
    if n == 4:
        columns = 2
    elif n in (7, 8) and max_columns >= 4:
        columns = 4
    else:
        columns = max(1, min(max_columns, n))
    return math.ceil(n / columns), columns


def panels(figure: Figure, n: int) -> list[Axes]:
    """``n`` axes in a grid; the unused cells of the last row are hidden."""
    rows, columns = grid(n)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for unused in axes[n:]:
        unused.set_visible(False)
    return list(axes[:n])


def face_scheme(n_landmarks: int) -> LandmarkScheme:
    """The landmark scheme of relevance over ``n_landmarks`` points: the known scheme of that
    many points (:func:`emoflow.schemes.scheme_for_points`), else MediaPipe's (whose first
    points small synthetic stores use)."""
    from emoflow.errors import DataError
    from emoflow.schemes import get_scheme, scheme_for_points

    try:
        return scheme_for_points(n_landmarks)
    except DataError:
        return get_scheme(None)


def face_xy(n_landmarks: int) -> np.ndarray:
    """Reference-face x, y of the first ``n_landmarks`` landmarks of their scheme."""
    return face_scheme(n_landmarks).reference_face()[:n_landmarks, :2]


def draw_mesh(ax: Axes, xy: np.ndarray) -> None:
    """The tesselation faintly (MediaPipe) and the outline and feature contours a little
    darker; image orientation (y down)."""
    from matplotlib.collections import LineCollection

    scheme = face_scheme(len(xy))
    for edges, colour, width in (
        (scheme.tesselation(), "#d4d4d4", 0.4),
        (scheme.contours(), "#8c8c8c", 0.9),
    ):
        edges = edges[(edges < len(xy)).all(axis=1)]
        ax.add_collection(LineCollection(xy[edges], colors=colour, linewidths=width, zorder=1))
    margin = 0.06 * np.ptp(xy, axis=0).max()
    ax.set_xlim(xy[:, 0].min() - margin, xy[:, 0].max() + margin)
    ax.set_ylim(xy[:, 1].max() + margin, xy[:, 1].min() - margin)  # y grows downward
    ax.set_aspect("equal")
    ax.set_axis_off()


def min_max(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] (least relevant → 0, most → 1); constant values give zeros."""
    values = np.asarray(values, dtype=np.float64)
    if not len(values):
        return values
    low, span = values.min(), np.ptp(values)
    return (values - low) / span if span > 0 else np.zeros_like(values)


def ring_ground_truth(ax: Axes, xy: np.ndarray, ids: Sequence[int] | None) -> None:
    if ids:
        ids = [i for i in ids if 0 <= i < len(xy)]
        ax.scatter(
            xy[ids, 0],
            xy[ids, 1],
            s=95,
            facecolors="none",
            edgecolors=GROUND_TRUTH_COLOUR,
            linewidths=0.8,
            alpha=0.65,
            zorder=2.5,  # under the landmarks' points: a ring never hides a relevant point
        )


def log_ticks(ax: Axes, counts: Sequence[int], max_ticks: int = 7) -> None:
    """Label a log x axis at the landmark counts themselves (thinned to ``max_ticks``)."""
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    counts = sorted(set(int(c) for c in counts), reverse=True)
    step = max(1, math.ceil(len(counts) / max_ticks))
    ticks = counts[::step]
    if counts[-1] not in ticks:
        ticks.append(counts[-1])
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())


def accuracy_floor(summary: pl.DataFrame) -> float:
    """A common lower y limit for the accuracy panels: below every mean − std, in 0.05 steps."""
    mean = summary["balanced_accuracy_mean"].to_numpy().astype(np.float64)
    std = np.nan_to_num(summary["balanced_accuracy_std"].to_numpy().astype(np.float64))
    lows = (mean - std)[np.isfinite(mean)]
    if not len(lows):
        return 0.0
    low = float(lows.min())
    return max(0.0, math.floor((min(low, 1.0) - 0.02) * 20) / 20)


def ground_truth_handle() -> Any:
    """Legend entry of the rings drawn around ground-truth landmarks."""
    from matplotlib.lines import Line2D

    return Line2D(
        [],
        [],
        marker="o",
        linestyle="none",
        markerfacecolor="none",
        markeredgecolor=GROUND_TRUTH_COLOUR,
        markeredgewidth=1.4,
        markersize=10,
        label="ground-truth landmark",
    )

"""The report's figures on the face: relevance (one figure per emotion: iteration 0 beside the
emotion's selected iteration, face regions labelled, each region's share of relevance) and the
landmarks each selected model kept."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emoflow.facemesh.style import RELEVANCE_CMAP
from emoflow.report._drawing import (
    FACE_INCHES,
    KEPT_COLOUR,
    RELEVANCE_FIGURE,
    draw_mesh,
    face_xy,
    grid,
    ground_truth_handle,
    min_max,
    new_figure,
    ring_ground_truth,
    save,
)
from emoflow.report.inputs import ReportInputs
from emoflow.report.settings import ReportSettings
from emoflow.report.tables import full_and_selected, ground_truth_precision, top_landmarks

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def label_regions(ax: Axes, xy: np.ndarray) -> None:
    """Name the face regions (:meth:`~emoflow.schemes.LandmarkScheme.face_regions`, which
    partition the landmarks) in the margins, each with a thin leader to its centre, so no
    label covers a landmark; right and left are the subject's own."""
    from emoflow.report._drawing import face_scheme

    named = face_scheme(len(xy)).face_regions()
    low, high = xy[:, 0].min(), xy[:, 0].max()
    span, height = high - low, np.ptp(xy[:, 1])
    centre_x = float(np.median(xy[:, 0]))
    sides: dict[bool, list[tuple[float, float, str]]] = {True: [], False: []}
    alternate = False
    for name, ids in named.items():
        ids = [i for i in ids if i < len(xy)]
        if ids:
            x, y = xy[ids].mean(axis=0)
            if abs(x - centre_x) < 0.02 * span:  # midline regions alternate to spread them
                left, alternate = alternate, not alternate
            else:  # the image's left half on the left
                left = bool(x < centre_x)
            sides[left].append((float(x), float(y), name))
    gap = 0.06 * height
    for left, entries in sides.items():
        placed = -np.inf
        for x, y, name in sorted(entries, key=lambda entry: entry[1]):
            text_y = max(y, placed + gap)  # y grows downward: keep labels apart
            placed = text_y
            ax.annotate(
                name.replace("_", " "),
                xy=(x, y),
                xytext=(low - 0.05 * span if left else high + 0.05 * span, text_y),
                ha="right" if left else "left",
                va="center",
                fontsize=11.5,
                color="#333333",
                arrowprops={"arrowstyle": "-", "color": "#6d8fbf", "linewidth": 0.6},
                zorder=6,
            )


def _draw_relevance(
    ax: Axes,
    xy: np.ndarray,
    row: np.ndarray,
    top_k: int,
    truth: Sequence[int] | None,
) -> None:
    """One face: rings under the points, the most relevant points drawn last, on top."""
    from matplotlib.colors import Normalize

    draw_mesh(ax, xy)
    ring_ground_truth(ax, xy, truth)  # below the points: rings never hide relevance
    scored = np.flatnonzero(np.isfinite(row))
    relevance = min_max(row[scored])
    order = np.argsort(relevance, kind="stable")  # most relevant drawn last, on top
    ids, values = scored[order], relevance[order]
    top = set(top_landmarks(row, top_k).tolist())
    ax.scatter(
        xy[ids, 0],
        xy[ids, 1],
        s=3 + 55 * values,
        c=values,
        cmap=RELEVANCE_CMAP,
        norm=Normalize(0.0, 1.0),
        edgecolors=[(0.0, 0.0, 0.0, 1.0 if i in top else 0.0) for i in ids],
        linewidths=0.7,
        zorder=3,
    )


def _place(
    size: tuple[float, float], left: float, low: float, across: float, up: float
) -> tuple[float, float, float, float]:
    """An axes' rectangle in figure fractions from inches on a figure of ``size`` inches."""
    width, height = size
    return (left / width, low / height, across / width, up / height)


def relevance_figure_paths(emotions: Sequence[str], path: str | Path) -> dict[str, Path]:
    """Each emotion's relevance figure: in a folder (a path without a suffix, or an existing
    folder) :data:`~emoflow.report._drawing.RELEVANCE_FIGURE`; a file name with ``{emotion}``
    filled in; a plain file name for one emotion as it is, for several with ``_EMOTION``
    before its suffix."""
    path = Path(path)
    if path.is_dir() or not path.suffix:
        return {e: path / RELEVANCE_FIGURE.format(emotion=e) for e in emotions}
    if "{emotion}" in path.name:
        return {e: path.with_name(path.name.format(emotion=e)) for e in emotions}
    if len(emotions) == 1:
        return {emotions[0]: path}
    return {e: path.with_name(f"{path.stem}_{e}{path.suffix}") for e in emotions}


def _region_bars(
    ax: Axes, rows: Sequence[np.ndarray], labels: Sequence[str], n_landmarks: int
) -> None:
    """Each face region's share of relevance (sum of |relevance| over the region's landmarks,
    over the face's total) for each relevance row, as horizontal bars, regions top to bottom
    as on the face."""
    from emoflow.report._drawing import face_scheme

    regions = face_scheme(n_landmarks).face_regions()
    names = list(regions)
    height = 0.8 / len(rows)
    colours = ["#b9c7d9", "#2f5d8c"]
    largest = 0.0
    for r, (row, label) in enumerate(zip(rows, labels, strict=True)):
        magnitude = np.abs(np.where(np.isfinite(row), row, 0.0))
        total = float(magnitude.sum())
        shares = [
            float(magnitude[[i for i in ids if i < len(row)]].sum()) / total if total else 0.0
            for ids in regions.values()
        ]
        y = np.arange(len(names)) + (r - (len(rows) - 1) / 2) * height
        largest = max(largest, *shares)
        ax.barh(y, shares, height=height, color=colours[r % 2], label=label)
        if r == len(rows) - 1:
            for position, share in zip(y, shares, strict=True):
                ax.text(share + 0.01, position, f"{100 * share:.0f} %", va="center", fontsize=11)
    ax.set_yticks(range(len(names)), [name.replace("_", " ") for name in names])
    ax.invert_yaxis()  # top of the face first
    ax.set_xlim(0, min(1.0, max(0.25, float(np.ceil(largest * 1.3 * 10) / 10))))
    ax.xaxis.set_major_formatter(lambda value, _: f"{100 * value:.0f} %")
    ax.set_xlabel("share of relevance")
    ax.grid(axis="x", alpha=0.3)
    ax.spines["right"].set_visible(False)
    ax.set_title("relevance by face region", fontsize=13)


def plot_relevance_on_face(
    emotions: Sequence[str],
    scores: np.ndarray,
    path: str | Path,
    *,
    top_k: int = ReportSettings.top_k,
    ground_truth: Mapping[str, Sequence[int]] | None = None,
    iteration: int = 0,
    selected: np.ndarray | None = None,
    selected_iterations: Sequence[int] | None = None,
) -> dict[str, Path]:
    """One figure per emotion (see :func:`relevance_figure_paths` for the files): each
    landmark's relevance on the reference face in iteration ``iteration`` (all landmarks)
    and, given ``selected`` (same shape, NaN outside the set), in the emotion's selected
    iteration beside it; then each face region's share of the relevance.

    Points are sized and coloured by relevance scaled to [0, 1] per face (min–max); the
    ``top_k`` most relevant have a black edge, ground-truth landmarks a blue ring drawn
    *under* the points; the face regions are named on the first face. Returns the files.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    xy = face_xy(scores.shape[1])
    paths = relevance_figure_paths(list(emotions), path)
    for e, emotion in enumerate(emotions):
        truth = ground_truth.get(emotion) if ground_truth else None
        maps = [(scores[e], f"iteration {iteration}: all landmarks")]
        labels = ["all landmarks"]
        if selected is not None:
            chosen = selected_iterations[e] if selected_iterations else "?"
            n_kept = int(np.isfinite(selected[e]).sum())
            maps.append((selected[e], f"selected (iteration {chosen}): {n_kept} kept"))
            labels.append(f"selected ({n_kept})")
        # placed by hand (inches): constrained layout measured every label twice per figure
        face, side, gap, bar_width, bottom = FACE_INCHES * 1.05, 1.25, 1.3, 2.6, 1.4
        width = side + len(maps) * face + (len(maps) - 1) * gap + 1.45 + bar_width + 0.9
        height = bottom + face + 1.05
        figure = new_figure(width, height, layout=None)
        size = (width, height)
        axes = [
            figure.add_axes(_place(size, side + i * (face + gap), bottom, face, face))
            for i in range(len(maps))
        ]
        bars_left = side + len(maps) * face + (len(maps) - 1) * gap + 1.45
        for index, (ax, (row, title)) in enumerate(zip(axes, maps, strict=True)):
            _draw_relevance(ax, xy, row, top_k, truth)
            if index == 0:
                label_regions(ax, xy)
            if truth and index == 0:
                score = ground_truth_precision(row, truth, top_k)
                title += (
                    f"\nprecision@{score['k']} = {score['precision_at_k']:.2f}"
                    f" (chance {score['chance_level']:.2f})"
                )
            ax.set_title(title, fontsize=14)
        bars = figure.add_axes(_place(size, bars_left, bottom, bar_width, face))
        _region_bars(bars, [row for row, _ in maps], labels, scores.shape[1])
        faces_span = len(maps) * face + (len(maps) - 1) * gap
        colourbar = figure.colorbar(
            ScalarMappable(norm=Normalize(0.0, 1.0), cmap=RELEVANCE_CMAP),
            cax=figure.add_axes(_place(size, side + 0.2 * faces_span, 0.6, 0.6 * faces_span, 0.15)),
            orientation="horizontal",
        )
        colourbar.set_label("relevance, scaled per face (least → 0, most → 1)")
        handles = [
            Line2D(
                [],
                [],
                marker="o",
                linestyle="none",
                markerfacecolor="#e34a33",
                markeredgecolor="black",
                markersize=8,
                label=f"top {top_k} by relevance",
            ),
        ]
        if truth:
            handles.append(ground_truth_handle())
        shown, names = bars.get_legend_handles_labels()
        bars.legend(
            handles=[*shown, *handles],
            labels=[*names, *(h.get_label() for h in handles)],
            loc="upper center",
            bbox_to_anchor=(0.45, -0.16),
            ncols=2,
            fontsize=11,
            frameon=False,
            columnspacing=1.0,
            handletextpad=0.4,
        )
        figure.suptitle(
            f"{emotion}: Integrated Gradients relevance per landmark", fontsize=16, y=0.975
        )
        save(figure, paths[emotion])
    return paths


def plot_selected_landmarks(inputs: ReportInputs, path: Path) -> None:
    """The landmark set each emotion's selected iteration kept, on the reference face."""
    from matplotlib.lines import Line2D

    from emoflow.report._drawing import panels

    xy = face_xy(inputs.scores.shape[1])
    rows, columns = grid(len(inputs.emotions))
    figure = new_figure(FACE_INCHES * columns, FACE_INCHES * rows + 1.2)
    axes = panels(figure, len(inputs.emotions))
    for ax, emotion in zip(axes, inputs.emotions, strict=True):
        full, selected = full_and_selected(inputs.summary, emotion)
        position = inputs.position(selected["iteration"])
        kept = [i for i in inputs.landmark_sets[position].get(emotion, []) if 0 <= i < len(xy)]
        draw_mesh(ax, xy)
        if inputs.ground_truth:
            ring_ground_truth(ax, xy, inputs.ground_truth.get(emotion))
        ax.scatter(xy[:, 0], xy[:, 1], s=2, color="#b0b0b0", zorder=2)
        ax.scatter(
            xy[kept, 0],
            xy[kept, 1],
            s=22,
            color=KEPT_COLOUR,
            edgecolors="black",
            linewidths=0.5,
            zorder=4,
        )
        test = selected.get("test_balanced_accuracy")
        test_text = "" if test is None or not np.isfinite(test) else f", test {test:.2f}"
        ax.set_title(
            f"{emotion} (iteration {selected['iteration']})\n"
            f"{len(kept)} of {full['n_landmarks']} landmarks; validation "
            f"{selected['balanced_accuracy_mean']:.2f}{test_text}",
            fontsize=11,
        )
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="none",
            color=KEPT_COLOUR,
            markeredgecolor="black",
            markersize=7,
            label="kept landmark",
        ),
        Line2D(
            [],
            [],
            marker="o",
            linestyle="none",
            color="#b0b0b0",
            markersize=4,
            label="dropped landmark",
        ),
    ]
    if inputs.ground_truth:
        handles.append(ground_truth_handle())
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    figure.suptitle("Landmarks kept by each emotion's selected model")
    save(figure, path)


__all__ = [
    "label_regions",
    "plot_relevance_on_face",
    "plot_selected_landmarks",
    "relevance_figure_paths",
]

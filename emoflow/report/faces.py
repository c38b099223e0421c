"""The report's figures on the face: relevance (iteration 0 beside each emotion's selected
iteration, face regions labelled) and the landmarks each selected model kept."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emoflow.facemesh import RELEVANCE_CMAP
from emoflow.report._drawing import (
    FACE_INCHES,
    KEPT_COLOUR,
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
from emoflow.report.tables import full_and_selected, precision_at_k, top_landmarks

if TYPE_CHECKING:
    from matplotlib.axes import Axes

LABELLED_REGIONS = (
    "forehead",
    "right_eyebrow",
    "left_eyebrow",
    "right_eye",
    "left_eye",
    "nose",
    "right_cheek",
    "left_cheek",
    "lips",
    "chin",
)
"""Face regions named beside the face, those the scheme has (left/right: the subject's own)."""


def label_regions(ax: Axes, xy: np.ndarray) -> None:
    """Name the face regions in the margins, each with a thin leader to its centre, so no
    label covers a landmark."""
    from emoflow.report._drawing import face_scheme

    named = face_scheme(len(xy)).regions()
    low, high = xy[:, 0].min(), xy[:, 0].max()
    span, height = high - low, np.ptp(xy[:, 1])
    centre_x = float(np.median(xy[:, 0]))
    sides: dict[bool, list[tuple[float, float, str]]] = {True: [], False: []}
    for name in LABELLED_REGIONS:
        ids = [i for i in named.get(name, []) if i < len(xy)]
        if ids:
            x, y = xy[ids].mean(axis=0)
            # the image's left half on the left; midline regions alternate to spread them
            left = x < centre_x - 0.02 * span or name in ("chin", "lips")
            sides[left].append((float(x), float(y), name))
    gap = 0.055 * height
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
                fontsize=8.5,
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


def plot_relevance_on_face(
    emotions: Sequence[str],
    scores: np.ndarray,
    path: Path,
    *,
    top_k: int = 50,
    ground_truth: Mapping[str, Sequence[int]] | None = None,
    iteration: int = 0,
    selected: np.ndarray | None = None,
    selected_iterations: Sequence[int] | None = None,
) -> None:
    """Each landmark's relevance on the reference face, per emotion: iteration ``iteration``
    (all landmarks) and, given ``selected`` (same shape, NaN outside the set), beside it the
    emotion's selected iteration.

    Points are sized and coloured by relevance scaled to [0, 1] per face (min–max); the
    ``top_k`` most relevant have a black edge, ground-truth landmarks a blue ring drawn
    *under* the points; the face regions are named on the first face.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    xy = face_xy(scores.shape[1])
    pair = selected is not None
    rows, columns = grid(len(emotions), max_columns=2 if pair else 3)
    faces_per_emotion = 2 if pair else 1
    width = FACE_INCHES * columns * faces_per_emotion + 1.4
    figure = new_figure(width, (FACE_INCHES + 0.4) * rows + 1.0)
    grid_axes = figure.subplots(rows, columns * faces_per_emotion, squeeze=False)
    axes_all = list(grid_axes.ravel())
    for unused in axes_all[len(emotions) * faces_per_emotion :]:
        unused.set_visible(False)
    for e, emotion in enumerate(emotions):
        axes = axes_all[e * faces_per_emotion : (e + 1) * faces_per_emotion]
        truth = ground_truth.get(emotion) if ground_truth else None
        maps = [(scores[e], f"{emotion}\niteration {iteration}: all landmarks")]
        if selected is not None:
            chosen = selected_iterations[e] if selected_iterations else "?"
            n_kept = int(np.isfinite(selected[e]).sum())
            maps.append((selected[e], f"{emotion}\nselected (iteration {chosen}): {n_kept} kept"))
        for index, (ax, (row, title)) in enumerate(zip(axes, maps, strict=True)):
            _draw_relevance(ax, xy, row, top_k, truth)
            if index == 0 and e == 0:
                label_regions(ax, xy)
            if truth and index == 0:
                score = precision_at_k(row, truth, top_k)
                title += (
                    f"\nprecision@{score['k']} = {score['precision_at_k']:.2f}"
                    f" (chance {score['chance_level']:.2f})"
                )
            ax.set_title(title, fontsize=10.5)
    colourbar = figure.colorbar(
        ScalarMappable(norm=Normalize(0.0, 1.0), cmap=RELEVANCE_CMAP),
        ax=axes_all[: len(emotions) * faces_per_emotion],
        shrink=0.5,
        pad=0.01,
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
    if ground_truth:
        handles.append(ground_truth_handle())
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    figure.suptitle("Integrated Gradients relevance per landmark")
    save(figure, path)


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


__all__ = ["label_regions", "plot_relevance_on_face", "plot_selected_landmarks"]

"""The report's figures: accuracy and cost against landmarks kept, relevance on the face,
the landmarks each emotion kept, and the combined classifier's confusion matrices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from emoflow.errors import DataError
from emoflow.report._drawing import (
    ACCURACY_COLOUR,
    COST_COLOUR,
    FACE_INCHES,
    KEPT_COLOUR,
    PANEL_INCHES,
    RELEVANCE_CMAP,
    accuracy_floor,
    draw_mesh,
    face_xy,
    grid,
    ground_truth_handle,
    log_ticks,
    min_max,
    new_figure,
    panels,
    ring_ground_truth,
    save,
)
from emoflow.report.inputs import ReportInputs
from emoflow.report.tables import full_and_selected, precision_at_k, top_landmarks

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.image import AxesImage


_FULL_MARKER: dict[str, Any] = {"marker": "D", "color": "white", "markersize": 7, "zorder": 4}
"""The all-landmark iteration's point in the accuracy panels."""
_SELECTED_MARKER: dict[str, Any] = {"marker": "*", "color": "gold", "markersize": 17, "zorder": 5}
"""The selected iteration's point (its legend entry is drawn a little smaller)."""


def plot_accuracy_vs_landmarks(summary: pl.DataFrame, emotions: Sequence[str], path: Path) -> None:
    """Balanced accuracy (± std over folds) and inference time against landmarks kept.

    One panel per emotion; the x axis (log scale) runs from all landmarks on the left to the
    fewest on the right, in pruning order. A star marks the selected iteration, a diamond and
    a dotted line the all-landmark iteration's accuracy.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows, columns = grid(len(emotions))
    figure = new_figure(PANEL_INCHES[0] * columns, PANEL_INCHES[1] * rows + 0.9)
    axes = panels(figure, len(emotions))
    bottom = accuracy_floor(summary.filter(pl.col("emotion").is_in(list(emotions))))
    for index, (ax, emotion) in enumerate(zip(axes, emotions, strict=True)):
        data = summary.filter(pl.col("emotion") == emotion).sort("n_landmarks", descending=True)
        full, selected = full_and_selected(summary, emotion)
        x = data["n_landmarks"].to_numpy().astype(np.float64)
        mean = data["balanced_accuracy_mean"].to_numpy()
        std = np.nan_to_num(data["balanced_accuracy_std"].to_numpy())
        ax.fill_between(
            x,
            np.clip(mean - std, 0, 1),
            np.clip(mean + std, 0, 1),
            color=ACCURACY_COLOUR,
            alpha=0.18,
        )
        ax.plot(x, mean, "o-", color=ACCURACY_COLOUR, markersize=4, linewidth=1.8, zorder=3)
        ax.axhline(full["balanced_accuracy_mean"], color="black", linestyle=":", linewidth=1)
        for row, marker in ((full, _FULL_MARKER), (selected, _SELECTED_MARKER)):
            ax.plot(
                row["n_landmarks"],
                row["balanced_accuracy_mean"],
                linestyle="none",
                markeredgecolor="black",
                **marker,
            )
        ax.set_xscale("log")
        ax.set_xlim(x.max() * 1.25, x.min() / 1.3)  # decreasing: pruning goes left to right
        log_ticks(ax, data["n_landmarks"].to_list())
        ax.set_ylim(bottom, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title(
            f"{emotion}: {selected['balanced_accuracy_mean']:.2f} with "
            f"{selected['n_landmarks']} landmarks"
        )
        milliseconds = data["inference_time_ms"].to_numpy()
        scale, unit = (1e3, "µs") if np.nanmax(milliseconds) < 1 else (1.0, "ms")
        cost = ax.twinx()
        cost.plot(
            x,
            milliseconds * scale,
            "s--",
            color=COST_COLOUR,
            markersize=3.5,
            linewidth=1.2,
            zorder=2,
        )
        cost.set_ylim(bottom=0)
        cost.tick_params(axis="y", colors=COST_COLOUR)
        cost.spines["right"].set_color(COST_COLOUR)
        if index % columns == 0:
            ax.set_ylabel("balanced accuracy", color=ACCURACY_COLOUR)
        if index % columns == columns - 1 or index == len(emotions) - 1:
            cost.set_ylabel(f"inference ({unit} / sample)", color=COST_COLOUR)
        if index >= len(emotions) - columns:
            ax.set_xlabel("landmarks kept (log scale)")
    handles = [
        Line2D([], [], color=ACCURACY_COLOUR, marker="o", markersize=4, label="balanced accuracy"),
        Patch(color=ACCURACY_COLOUR, alpha=0.25, label="± 1 std over folds"),
        Line2D([], [], color=COST_COLOUR, marker="s", linestyle="--", label="inference time"),
        Line2D(
            [],
            [],
            color="black",
            marker="D",
            markerfacecolor="white",
            linestyle=":",
            label="all landmarks",
        ),
        Line2D(
            [],
            [],
            color="gold",
            marker="*",
            markeredgecolor="black",
            markersize=14,
            linestyle="none",
            label="selected",
        ),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    figure.suptitle("Balanced accuracy and inference cost as landmarks are pruned")
    save(figure, path)


def plot_relevance_on_face(
    emotions: Sequence[str],
    scores: np.ndarray,
    path: Path,
    *,
    top_k: int = 50,
    ground_truth: Mapping[str, Sequence[int]] | None = None,
    iteration: int = 0,
) -> None:
    """Each landmark's relevance drawn on the reference face, one face per emotion.

    Points are sized and coloured by relevance scaled to [0, 1] per emotion (min–max);
    the ``top_k`` most relevant have a black edge, ground-truth landmarks a blue ring.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    xy = face_xy(scores.shape[1])
    rows, columns = grid(len(emotions))
    figure = new_figure(FACE_INCHES * columns + 0.9, FACE_INCHES * rows + 1.0)
    axes = panels(figure, len(emotions))
    norm = Normalize(0.0, 1.0)
    for e, (ax, emotion) in enumerate(zip(axes, emotions, strict=True)):
        draw_mesh(ax, xy)
        row = scores[e]
        scored = np.flatnonzero(np.isfinite(row))
        relevance = min_max(row[scored])
        order = np.argsort(relevance, kind="stable")  # most relevant drawn last, on top
        ids, values = scored[order], relevance[order]
        top = set(top_landmarks(row, top_k).tolist())
        ax.scatter(
            xy[ids, 0],
            xy[ids, 1],
            s=3 + 70 * values,
            c=values,
            cmap=RELEVANCE_CMAP,
            norm=norm,
            edgecolors=[(0.0, 0.0, 0.0, 1.0 if i in top else 0.0) for i in ids],
            linewidths=0.8,
            zorder=3,
        )
        truth = ground_truth.get(emotion) if ground_truth else None
        ring_ground_truth(ax, xy, truth)
        title = emotion
        if truth:
            score = precision_at_k(row, truth, top_k)
            title += (
                f"\nprecision@{score['k']} = {score['precision_at_k']:.2f}"
                f" (chance {score['chance_level']:.2f})"
            )
        ax.set_title(title)
    colourbar = figure.colorbar(
        ScalarMappable(norm=norm, cmap=RELEVANCE_CMAP), ax=axes, shrink=0.6, pad=0.02
    )
    colourbar.set_label("relevance, scaled per emotion (least → 0, most → 1)")
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
    figure.suptitle(f"Integrated Gradients relevance per landmark (iteration {iteration})")
    save(figure, path)


def plot_selected_landmarks(inputs: ReportInputs, path: Path) -> None:
    """The landmark set each emotion's selected iteration kept, on the reference face."""
    from matplotlib.lines import Line2D

    xy = face_xy(inputs.scores.shape[1])
    rows, columns = grid(len(inputs.emotions))
    figure = new_figure(FACE_INCHES * columns, FACE_INCHES * rows + 1.2)
    axes = panels(figure, len(inputs.emotions))
    for ax, emotion in zip(axes, inputs.emotions, strict=True):
        full, selected = full_and_selected(inputs.summary, emotion)
        position = inputs.position(selected["iteration"])
        kept = [i for i in inputs.landmark_sets[position].get(emotion, []) if 0 <= i < len(xy)]
        draw_mesh(ax, xy)
        ax.scatter(xy[:, 0], xy[:, 1], s=2, color="#b0b0b0", zorder=2)
        ax.scatter(
            xy[kept, 0],
            xy[kept, 1],
            s=26,
            color=KEPT_COLOUR,
            edgecolors="black",
            linewidths=0.5,
            zorder=4,
        )
        if inputs.ground_truth:
            ring_ground_truth(ax, xy, inputs.ground_truth.get(emotion))
        ax.set_title(
            f"{emotion} (iteration {selected['iteration']})\n"
            f"{len(kept)} of {full['n_landmarks']} landmarks, bal. acc. "
            f"{selected['balanced_accuracy_mean']:.2f} (all: {full['balanced_accuracy_mean']:.2f})",
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


def _draw_confusion(ax: Axes, metrics: Mapping[str, Any], title: str) -> AxesImage:
    """One row-normalised confusion matrix with counts; returns the image for a colourbar."""
    combined = metrics.get("combined", {})
    labels = list(combined.get("labels", []))
    counts = np.asarray(combined.get("confusion_matrix", []), dtype=np.int64)
    if counts.shape != (len(labels), len(labels)) or not labels:
        raise DataError(f"iteration {metrics.get('iteration')}: metrics lack a confusion matrix")
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    size = 11 if len(labels) <= 6 else 10 if len(labels) <= 10 else 8
    for (i, j), count in np.ndenumerate(counts):
        if count == 0:
            continue
        ax.text(
            j,
            i,
            f"{count}\n{shares[i, j]:.0%}" if len(labels) <= 8 else str(count),
            ha="center",
            va="center",
            fontsize=size,
            color="white" if shares[i, j] > 0.55 else "black",
        )
    ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted emotion")
    ax.set_ylabel("true emotion")
    accuracy = combined.get("accuracy", float("nan"))
    ax.set_title(f"{title}\naccuracy {accuracy:.2f}")
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


def plot_confusion_matrices(inputs: ReportInputs, path: Path) -> None:
    """The combined classifier's confusion matrix of the first and of the last iteration."""
    positions = [0] if len(inputs.metrics) == 1 else [0, len(inputs.metrics) - 1]
    n_labels = len(inputs.metrics[0].get("combined", {}).get("labels", [])) or 1
    side = max(4.4, 0.75 * n_labels + 2.2)
    figure = new_figure(side * len(positions) + 0.8, side + 0.6)
    axes = figure.subplots(1, len(positions), squeeze=False).ravel()
    images = []
    for ax, position in zip(axes, positions, strict=True):
        iteration = inputs.iterations[position]
        counts = inputs.summary.filter(pl.col("iteration") == iteration)[
            "n_landmarks"
        ].to_list() or [0]
        low, high = min(counts), max(counts)
        kept = f"{high}" if low == high else f"{low}–{high}"
        images.append(
            _draw_confusion(
                ax,
                inputs.metrics[position],
                f"Iteration {iteration} ({kept} landmarks per emotion)",
            )
        )
    colourbar = figure.colorbar(images[-1], ax=list(axes), shrink=0.8, pad=0.02)
    colourbar.set_label("share of the true emotion's samples")
    figure.suptitle("Combined classifier (argmax of the binary models), out-of-fold")
    save(figure, path)


__all__ = [
    "plot_accuracy_vs_landmarks",
    "plot_confusion_matrices",
    "plot_relevance_on_face",
    "plot_selected_landmarks",
]

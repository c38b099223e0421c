"""The report's figures of accuracy and cost against landmarks kept; the figures on the face
(:mod:`emoflow.report.faces`) and the confusion matrices (:mod:`emoflow.report.confusion`)
are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow.report._drawing import (
    ACCURACY_COLOUR,
    PANEL_INCHES,
    accuracy_floor,
    grid,
    log_ticks,
    new_figure,
    panels,
    save,
)
from emoflow.report.confusion import plot_confusion_matrices, plot_selected_confusions
from emoflow.report.faces import plot_relevance_on_face, plot_selected_landmarks
from emoflow.report.inputs import ReportInputs
from emoflow.report.outcomes import fold_scores
from emoflow.report.tables import full_and_selected

TEST_COLOUR = "#d95f02"
"""The held-out test's line in the accuracy panels."""
FOLD_COLOUR = "#5a5a5a"
_FULL_MARKER: dict[str, Any] = {"marker": "D", "color": "white", "markersize": 7, "zorder": 4}
"""The all-landmark iteration's point in the accuracy panels."""
_SELECTED_MARKER: dict[str, Any] = {"marker": "*", "color": "gold", "markersize": 17, "zorder": 5}
"""The selected iteration's point (its legend entry is drawn a little smaller)."""


def _has_test(summary: pl.DataFrame) -> bool:
    return "test_balanced_accuracy" in summary.columns and bool(
        summary["test_balanced_accuracy"].is_not_nan().fill_null(False).any()
    )


def plot_accuracy_vs_landmarks(inputs: ReportInputs, path: Path) -> None:
    """Balanced accuracy against landmarks kept: validation per fold (points), their mean
    (line, ± std band) and the held-out test (orange), one panel per emotion.

    The x axis (log scale) runs from all landmarks on the left to the fewest on the right, in
    pruning order. A star marks the selected iteration, a diamond and a dotted line the
    all-landmark iteration's validation accuracy.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    summary, emotions = inputs.summary, inputs.emotions
    has_test = _has_test(summary)
    rows, columns = grid(len(emotions))
    figure = new_figure(PANEL_INCHES[0] * columns, PANEL_INCHES[1] * rows + 0.9)
    axes = panels(figure, len(emotions))
    shown = summary.filter(pl.col("emotion").is_in(list(emotions)))
    bottom = accuracy_floor(shown)
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
            alpha=0.12,
        )
        for n, iteration in zip(x, data["iteration"].to_list(), strict=True):
            folds = fold_scores(inputs.metrics[inputs.position(iteration)], emotion)
            if folds:
                offsets = np.linspace(-0.04, 0.04, len(folds)) if len(folds) > 1 else [0.0]
                ax.scatter(
                    n * np.exp(offsets),
                    folds,
                    s=12,
                    color=FOLD_COLOUR,
                    alpha=0.7,
                    linewidths=0,
                    zorder=2,
                )
                bottom = min(bottom, max(0.0, np.floor((min(folds) - 0.02) * 20) / 20))
        ax.plot(x, mean, "o-", color=ACCURACY_COLOUR, markersize=4, linewidth=1.8, zorder=3)
        if has_test:
            test = data["test_balanced_accuracy"].to_numpy()
            ax.plot(x, test, "^-", color=TEST_COLOUR, markersize=5, linewidth=1.6, zorder=3)
            finite = test[np.isfinite(test)]
            if len(finite):
                bottom = min(bottom, max(0.0, np.floor((finite.min() - 0.02) * 20) / 20))
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
        ax.grid(alpha=0.3)
        title = f"{emotion}: validation {selected['balanced_accuracy_mean']:.2f}"
        test_value = selected.get("test_balanced_accuracy")
        if has_test and test_value is not None and np.isfinite(test_value):
            title += f", test {test_value:.2f}"
        ax.set_title(f"{title}\nselected: {selected['n_landmarks']} landmarks", fontsize=11)
        if index % columns == 0:
            ax.set_ylabel("balanced accuracy")
        if index >= len(emotions) - columns:
            ax.set_xlabel("landmarks kept (log scale)")
    for ax in axes:
        ax.set_ylim(bottom, 1.02)
    handles = [
        Line2D(
            [], [], color=FOLD_COLOUR, marker="o", markersize=4, linestyle="none", label="each fold"
        ),
        Line2D([], [], color=ACCURACY_COLOUR, marker="o", markersize=4, label="validation mean"),
        Patch(color=ACCURACY_COLOUR, alpha=0.2, label="± 1 std"),
    ]
    if has_test:
        handles.append(
            Line2D([], [], color=TEST_COLOUR, marker="^", markersize=5, label="held-out test")
        )
    handles += [
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
    figure.suptitle("Balanced accuracy as landmarks are pruned: validation folds and held-out test")
    save(figure, path)


COST_PANELS = (
    ("n_parameters", "parameters, millions (random + trained)", 1e-6),
    ("train_time_s", "training time (s per fold)", 1.0),
    ("inference_time_ms", "inference time (ms per sample)", 1.0),
)
"""The cost figure's panels: summary column, axis label, scale."""


def plot_cost_vs_landmarks(summary: pl.DataFrame, emotions: Sequence[str], path: Path) -> None:
    """Cost against landmarks kept: parameters, training time and inference time, one line per
    emotion (stars: the selected iterations). Timings of very small models are noisy."""
    from matplotlib import colormaps

    present = [panel for panel in COST_PANELS if panel[0] in summary.columns]
    figure = new_figure(4.4 * len(present) + 1.6, 3.9)
    axes = figure.subplots(1, len(present), squeeze=False).ravel()
    colours = colormaps["tab10"]
    counts: list[int] = summary["n_landmarks"].to_list()
    for ax, (column, label, scale) in zip(axes, present, strict=True):
        for e, emotion in enumerate(emotions):
            data = summary.filter(pl.col("emotion") == emotion).sort("n_landmarks", descending=True)
            x = data["n_landmarks"].to_numpy().astype(np.float64)
            y = data[column].to_numpy().astype(np.float64) * scale
            ax.plot(x, y, "o-", color=colours(e % 10), markersize=3.5, linewidth=1.4, label=emotion)
            chosen = data.filter(pl.col("selected"))
            if chosen.height:
                ax.plot(
                    chosen["n_landmarks"].to_numpy(),
                    chosen[column].to_numpy() * scale,
                    linestyle="none",
                    marker="*",
                    markersize=13,
                    color=colours(e % 10),
                    markeredgecolor="black",
                    zorder=4,
                )
        ax.set_xscale("log")
        ax.set_xlim(max(counts) * 1.25, min(counts) / 1.3)
        log_ticks(ax, counts)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("landmarks kept (log scale)")
        ax.set_title(label, fontsize=11)
        ax.grid(alpha=0.3)
    figure.legend(
        *axes[0].get_legend_handles_labels(),
        loc="outside right center",
        frameon=False,
        title="emotion (★ selected)",
    )
    figure.suptitle("Cost of each emotion's model as landmarks are pruned")
    save(figure, path)


__all__ = [
    "plot_accuracy_vs_landmarks",
    "plot_confusion_matrices",
    "plot_cost_vs_landmarks",
    "plot_relevance_on_face",
    "plot_selected_confusions",
    "plot_selected_landmarks",
]

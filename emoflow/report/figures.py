"""The report's figures of accuracy and cost against landmarks kept (the figures on the face
are drawn by :mod:`emoflow.report.faces`, the confusion matrices by
:mod:`emoflow.report.confusion`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow.report._drawing import (
    ACCURACY_COLOUR,
    COST_COLOUR,
    PANEL_INCHES,
    accuracy_floor,
    grid,
    log_ticks,
    new_figure,
    panels,
    save,
)
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


def _fold_times(
    summary: pl.DataFrame, emotions: Sequence[str], metrics: Sequence[Mapping[str, Any]] | None
) -> dict[int, list[float]]:
    """Landmark count → every training time (s) measured at it: each fold of each emotion's
    model with that many landmarks (from the iterations' ``metrics.json``), or the summary's
    per-model mean where the folds are not given."""
    times: dict[int, list[float]] = {}
    by_iteration = {int(m.get("iteration", i)): m for i, m in enumerate(metrics or [])}
    for row in summary.filter(pl.col("emotion").is_in(list(emotions))).iter_rows(named=True):
        record = by_iteration.get(int(row["iteration"]), {}).get("emotions", {})
        folds = [
            float(fold["train_time_s"])
            for fold in (record.get(row["emotion"]) or {}).get("folds", [])
            if fold.get("train_time_s") is not None
        ]
        if not folds and row.get("train_time_s") is not None:
            folds = [float(row["train_time_s"])]
        times.setdefault(int(row["n_landmarks"]), []).extend(folds)
    return times


def _spread(ax: Any, values: Mapping[int, Sequence[float]], scale: float) -> None:
    """Each value (grey points), the median per landmark count (line) and the 25–75 %
    range (band)."""
    counts = sorted(values, reverse=True)
    samples = [np.asarray(values[n], dtype=np.float64) * scale for n in counts]
    samples = [v[np.isfinite(v)] for v in samples]
    keep = [i for i, v in enumerate(samples) if v.size]
    x = np.asarray([counts[i] for i in keep], dtype=np.float64)
    for n, v in zip(x, [samples[i] for i in keep], strict=True):
        offsets = np.linspace(-0.04, 0.04, v.size) if v.size > 1 else np.zeros(1)
        ax.scatter(n * np.exp(offsets), v, s=9, color=FOLD_COLOUR, alpha=0.45, linewidths=0)
    median = np.asarray([np.median(samples[i]) for i in keep])
    low = np.asarray([np.percentile(samples[i], 25) for i in keep])
    high = np.asarray([np.percentile(samples[i], 75) for i in keep])
    ax.fill_between(x, low, high, color=ACCURACY_COLOUR, alpha=0.18, linewidth=0)
    ax.plot(x, median, "o-", color=ACCURACY_COLOUR, markersize=4, linewidth=1.8, zorder=3)


def plot_cost_vs_landmarks(
    summary: pl.DataFrame,
    emotions: Sequence[str],
    path: Path,
    *,
    metrics: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Cost against landmarks kept: parameters, training time and inference time.

    The parameter count is drawn once when every emotion's model has the same at each count
    (one network shape per count), else one line per emotion. Timings are noisy single
    measurements on a shared machine, so each count shows every measurement (grey: each fold
    of each emotion's model with that many landmarks, from ``metrics`` — the iterations'
    ``metrics.json``; each emotion's model for inference), their median (line) and their
    25–75 % range (band). Stars mark each emotion's selected count, on the median.
    """
    from matplotlib import colormaps
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    present = [panel for panel in COST_PANELS if panel[0] in summary.columns]
    figure = new_figure(4.4 * len(present) + 1.8, 4.1)
    axes = figure.subplots(1, len(present), squeeze=False).ravel()
    colours = colormaps["tab10"]
    shown = summary.filter(pl.col("emotion").is_in(list(emotions)))
    counts: list[int] = shown["n_landmarks"].to_list()
    selected = {
        emotion: int(chosen["n_landmarks"][0])
        for emotion in emotions
        if (chosen := shown.filter((pl.col("emotion") == emotion) & pl.col("selected"))).height
    }
    spread_drawn = False
    for ax, (column, label, scale) in zip(axes, present, strict=True):
        per_count: dict[int, list[float]] = {}
        for row in shown.iter_rows(named=True):
            if row[column] is not None:
                per_count.setdefault(int(row["n_landmarks"]), []).append(float(row[column]))
        if column == "n_parameters":
            same = all(len(set(values)) == 1 for values in per_count.values())
            if same:
                x = sorted(per_count, reverse=True)
                y = [per_count[n][0] * scale for n in x]
                ax.plot(x, y, "o-", color=COST_COLOUR, markersize=4, linewidth=1.8, zorder=3)
                ax.text(
                    0.97,
                    0.95,
                    "the same for every emotion",
                    transform=ax.transAxes,
                    fontsize=9,
                    color=COST_COLOUR,
                    va="top",
                    ha="right",
                )
                level = {n: per_count[n][0] * scale for n in per_count}
            else:
                for e, emotion in enumerate(emotions):
                    data = shown.filter(pl.col("emotion") == emotion).sort(
                        "n_landmarks", descending=True
                    )
                    ax.plot(
                        data["n_landmarks"].to_numpy(),
                        data[column].to_numpy().astype(np.float64) * scale,
                        "o-",
                        color=colours(e % 10),
                        markersize=3.5,
                        linewidth=1.4,
                    )
                level = {}
        else:
            values = (
                _fold_times(shown, emotions, metrics) if column == "train_time_s" else per_count
            )
            _spread(ax, values, scale)
            spread_drawn = True
            level = {n: float(np.median(v)) * scale for n, v in values.items() if len(v)}
        for e, emotion in enumerate(emotions):
            n = selected.get(emotion)
            if n is None:
                continue
            if level and n in level:
                y_star = level[n]
            else:
                chosen_row = shown.filter((pl.col("emotion") == emotion) & pl.col("selected"))
                y_star = float(chosen_row[column][0]) * scale
            ax.plot(
                [n * np.exp(0.03 * (e - (len(emotions) - 1) / 2))],
                [y_star],
                linestyle="none",
                marker="*",
                markersize=13,
                color=colours(e % 10),
                markeredgecolor="black",
                zorder=5,
            )
        ax.set_xscale("log")
        ax.set_xlim(max(counts) * 1.25, min(counts) / 1.3)
        log_ticks(ax, counts)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("landmarks kept (log scale)")
        ax.set_title(label, fontsize=11)
        ax.grid(alpha=0.3)
    handles: list[Any] = [
        Line2D(
            [],
            [],
            marker="*",
            linestyle="none",
            markersize=12,
            color=colours(e % 10),
            markeredgecolor="black",
            label=emotion,
        )
        for e, emotion in enumerate(emotions)
        if emotion in selected
    ]
    if spread_drawn:
        handles += [
            Line2D(
                [],
                [],
                color=FOLD_COLOUR,
                marker="o",
                linestyle="none",
                markersize=4,
                alpha=0.6,
                label="each measurement",
            ),
            Line2D([], [], color=ACCURACY_COLOUR, marker="o", markersize=4, label="median"),
            Patch(color=ACCURACY_COLOUR, alpha=0.25, label="25–75 %"),
        ]
    figure.legend(
        handles=handles,
        loc="outside right center",
        frameon=False,
        title="selected (★) per emotion",
    )
    figure.suptitle(
        "Cost of each emotion's model as landmarks are pruned (timings: every fold's and "
        "model's, median and 25–75 %)"
    )
    save(figure, path)


__all__ = ["plot_accuracy_vs_landmarks", "plot_cost_vs_landmarks"]

"""The report's confusion matrices: the combined classifier (validation and held-out test, with
all landmarks and with each emotion's selected model) and each emotion's selected binary model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emoflow.errors import DataError
from emoflow.report._drawing import grid, new_figure, save
from emoflow.report.inputs import ReportInputs
from emoflow.report.outcomes import combined_of_selected, selected_confusions

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.image import AxesImage


def draw_confusion(
    ax: Axes,
    record: Mapping[str, Any],
    title: str,
    *,
    labels: Sequence[str] | None = None,
    name: str = "",
) -> AxesImage:
    """One row-normalised confusion matrix with counts; returns the image for a colourbar.

    ``record`` holds ``confusion_matrix`` (rows true, columns predicted), ``labels`` (or give
    ``labels``) and optionally ``accuracy`` / ``balanced_accuracy`` for the title.
    """
    labels = list(labels if labels is not None else record.get("labels", []))
    counts = np.asarray(record.get("confusion_matrix", []), dtype=np.int64)
    if counts.shape != (len(labels), len(labels)) or not labels:
        raise DataError(f"{name or title}: no confusion matrix of {len(labels)} labels")
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
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    scores = []
    for key, short in (("accuracy", "accuracy"), ("balanced_accuracy", "bal. acc.")):
        value = record.get(key)
        if value is not None and np.isfinite(value):
            scores.append(f"{short} {value:.2f}")
    ax.set_title(f"{title}\n{', '.join(scores)}" if scores else title, fontsize=11)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


def _combined_panels(inputs: ReportInputs) -> list[tuple[str, list[tuple[str, dict | None]]]]:
    """Rows of the combined figure: (row title, [(column title, record or None), ...])."""
    first = inputs.metrics[0].get("combined", {}) or {}
    labels = list(first.get("labels", []))
    rows: list[tuple[str, list[tuple[str, dict | None]]]] = [
        (
            f"all landmarks (iteration {inputs.iterations[0]})",
            [("validation", {**first, "labels": labels}), ("test", first.get("test"))],
        )
    ]
    selected = combined_of_selected(inputs.selected_scores, labels)
    if selected["validation"] is not None:
        rows.append(
            (
                "each emotion's selected model",
                [
                    ("validation", selected["validation"]),
                    ("test", selected["test"]),
                ],
            )
        )
    elif len(inputs.metrics) > 1:
        last = inputs.metrics[-1].get("combined", {}) or {}
        rows.append(
            (
                f"last iteration ({inputs.iterations[-1]})",
                [("validation", {**last, "labels": labels}), ("test", last.get("test"))],
            )
        )
    return rows


def plot_confusion_matrices(inputs: ReportInputs, path: Path) -> None:
    """The combined classifier's confusion matrices: rows all landmarks and the selected
    models (or the last iteration), columns validation (out-of-fold) and held-out test."""
    rows = _combined_panels(inputs)
    has_test = any(record is not None for _, cells in rows for name, record in cells[1:])
    columns = 2 if has_test else 1
    labels = list((inputs.metrics[0].get("combined", {}) or {}).get("labels", []))
    side = max(4.2, 0.7 * len(labels) + 2.2)
    figure = new_figure(side * columns + 1.0, side * len(rows) + 0.8)
    axes = figure.subplots(len(rows), columns, squeeze=False)
    image = None
    for r, (row_title, cells) in enumerate(rows):
        for c in range(columns):
            column_title, record = cells[c]
            ax = axes[r, c]
            if record is None:
                ax.set_axis_off()
                ax.text(0.5, 0.5, "no held-out test", ha="center", va="center")
                continue
            image = draw_confusion(
                ax,
                record,
                f"{row_title}: {column_title}",
                labels=labels,
                name=f"combined {column_title}",
            )
    if image is not None:
        colourbar = figure.colorbar(image, ax=axes.ravel().tolist(), shrink=0.7, pad=0.02)
        colourbar.set_label("share of the true emotion's videos")
    kind = "validation (out-of-fold) and held-out test" if has_test else "out-of-fold"
    figure.suptitle(f"Combined classifier (argmax over the emotions' models), {kind}")
    save(figure, path)


def plot_selected_confusions(inputs: ReportInputs, path: Path) -> dict[str, dict[str, Any]]:
    """Each emotion's selected binary model: validation (out-of-fold, pooled over folds) and
    held-out test decisions (``score > 0``) as 2 × 2 confusion matrices; returns them
    (:func:`~emoflow.report.outcomes.selected_confusions`) for ``report.json``."""
    emotions = [e for e in inputs.emotions if e in inputs.selected_scores]
    if not emotions:
        raise DataError("no selected model's scores to draw confusion matrices from")
    matrices = selected_confusions(
        {e: inputs.selected_scores[e] for e in emotions},
        {e: inputs.selected_iteration(e) for e in emotions},
    )
    has_test = any(matrices[e]["test"] is not None for e in emotions)
    per_emotion = 2 if has_test else 1
    rows, columns = grid(len(emotions), max_columns=3 if per_emotion == 1 else 2)
    figure = new_figure(3.0 * per_emotion * columns + 1.0, 3.3 * rows + 0.8)
    grid_axes = figure.subplots(rows, columns * per_emotion, squeeze=False)
    axes_all = list(grid_axes.ravel())
    for unused in axes_all[len(emotions) * per_emotion :]:
        unused.set_visible(False)
    image = None
    for e, emotion in enumerate(emotions):
        entry = matrices[emotion]
        axes = axes_all[e * per_emotion : (e + 1) * per_emotion]
        for ax, name in zip(axes, ("validation", "test"), strict=False):
            if entry[name] is None:
                ax.set_axis_off()
                ax.text(0.5, 0.5, "no held-out test", ha="center", va="center")
                continue
            record = {
                "confusion_matrix": entry[name],
                "balanced_accuracy": entry[f"{name}_balanced_accuracy"],
            }
            image = draw_confusion(
                ax,
                record,
                f"{emotion} (it. {entry['iteration']}): {name}",
                labels=["other", emotion],
                name=emotion,
            )
    if image is not None:
        colourbar = figure.colorbar(
            image, ax=axes_all[: len(emotions) * per_emotion], shrink=0.6, pad=0.01
        )
        colourbar.set_label("share of the true class's videos")
    figure.suptitle("Each emotion's selected binary model: videos by true and predicted class")
    save(figure, path)
    return matrices


__all__ = ["draw_confusion", "plot_confusion_matrices", "plot_selected_confusions"]

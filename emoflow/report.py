"""The report stage: figures of accuracy and cost versus landmarks, relevance on the face mesh.

:func:`make_report` reads what the other stages wrote — ``summary.parquet``
(:func:`emoflow.pruning.summarise_iterations`), each iteration's ``metrics.json``,
``attributions.zarr`` and ``landmarks.json`` — and writes into one folder:

``accuracy_vs_landmarks.png``
    Per emotion, balanced accuracy (mean ± std over folds) and inference time per sample
    against the number of landmarks kept; the selected and the all-landmark iterations marked.
``relevance_on_face.png``
    Per emotion, iteration 0's relevance of every landmark drawn on the reference face mesh;
    the ``top_k`` most relevant emphasised, ground-truth landmarks (if given) ringed.
``selected_landmarks.png``
    Per emotion, the landmarks the selected iteration kept.
``confusion_matrix.png``
    The combined (argmax) classifier's confusion matrix, first and last iteration.
``report.json``
    The key numbers per emotion (see :func:`report_numbers`).

Matplotlib is imported lazily and drawn with the Agg canvas, so the stage runs headless.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from emoflow._atomic import atomic_path, read_json, write_json
from emoflow.errors import DataError, InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

log = logging.getLogger(__name__)

FIGURES = {
    "accuracy": "accuracy_vs_landmarks.png",
    "relevance": "relevance_on_face.png",
    "selected": "selected_landmarks.png",
    "confusion": "confusion_matrix.png",
}
"""File names of the figures in the report folder."""
REPORT_JSON = "report.json"
SUMMARY_TABLE = "summary.csv"
RUN_CONFIG = "run_config.yaml"
DPI = 110
STYLE: dict[str, Any] = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 10,
    "figure.titlesize": 14,
    "axes.spines.top": False,
}
PANEL_INCHES = (4.6, 3.5)
"""Width and height of one emotion's panel in the accuracy grid."""
FACE_INCHES = 4.0
"""Side of one emotion's face panel."""
RELEVANCE_CMAP = "YlOrRd"
KEPT_COLOUR = "#c0392b"
GROUND_TRUTH_COLOUR = "#1f5fbf"
ACCURACY_COLOUR = "#1f77b4"
COST_COLOUR = "#6b6b6b"

SUMMARY_COLUMNS = (
    "emotion",
    "iteration",
    "n_landmarks",
    "balanced_accuracy_mean",
    "balanced_accuracy_std",
    "inference_time_ms",
    "n_parameters",
    "selected",
)


@dataclass
class ReportInputs:
    """Everything the figures need, read once.

    Attributes
    ----------
    summary
        ``summary.parquet`` as a data frame.
    emotions
        Emotion names in the attribution store's order (restricted to those in the summary).
    iterations
        Iteration number of each position of the input sequences.
    metrics
        Each iteration's ``metrics.json``.
    scores
        Iteration 0's relevance ``(emotion, landmark)``, rows in the order of ``emotions``;
        NaN for landmarks outside an emotion's set.
    landmark_sets
        Each iteration's landmark ids per emotion.
    ground_truth
        Emotion → ground-truth landmark ids, or ``None``.
    """

    summary: pl.DataFrame
    emotions: list[str]
    iterations: list[int]
    metrics: list[dict[str, Any]]
    scores: np.ndarray
    landmark_sets: list[dict[str, list[int]]]
    ground_truth: dict[str, list[int]] | None

    def position(self, iteration: int) -> int:
        """Index into the per-iteration lists of iteration number ``iteration``."""
        try:
            return self.iterations.index(int(iteration))
        except ValueError:
            raise DataError(
                f"the summary names iteration {iteration}, but no metrics.json of it was given"
            ) from None


# -- reading ---------------------------------------------------------------------------------
def read_summary(path: str | Path) -> pl.DataFrame:
    """Read ``summary.parquet`` and check it has the columns the report uses."""
    if not Path(path).exists():
        raise InputError(path, "summary file does not exist")
    summary = pl.read_parquet(path)
    missing = [c for c in SUMMARY_COLUMNS if c not in summary.columns]
    if missing:
        raise InputError(path, f"summary lacks column(s) {missing}")
    if summary.is_empty():
        raise InputError(path, "summary has no rows")
    return summary.sort("emotion", "iteration")


def read_ground_truth(path: str | Path) -> dict[str, list[int]]:
    """Emotion → ground-truth landmark ids from ``{"emotions": {e: {"landmarks": [...]}}}``."""
    record = read_json(path)
    emotions = record.get("emotions") if isinstance(record, dict) else None
    if not isinstance(emotions, dict):
        raise InputError(path, 'ground truth needs an "emotions" mapping')
    truth: dict[str, list[int]] = {}
    for emotion, entry in emotions.items():
        ids = entry.get("landmarks") if isinstance(entry, dict) else None
        if not isinstance(ids, list):
            raise InputError(path, f'ground truth of {emotion!r} needs a "landmarks" list')
        truth[emotion] = sorted({int(i) for i in ids})
    return truth


def _single_path(value: Any) -> str | Path | None:
    """A path, or ``None``, from a path, ``None`` or a (Snakemake) list of at most one path."""
    if value is None or isinstance(value, (str, Path)):
        return value or None
    items = list(value)
    if len(items) > 1:
        raise InputError(", ".join(map(str, items)), "give at most one ground-truth file")
    return items[0] if items else None


def load_report_inputs(
    summary_path: str | Path,
    metrics_paths: Sequence[str | Path],
    attribution_paths: Sequence[str | Path],
    landmark_set_paths: Sequence[str | Path],
    ground_truth_path: str | Path | None = None,
) -> ReportInputs:
    """Read and cross-check the report's inputs (the i-th paths belong to iteration i)."""
    from emoflow.attribution import load_scores

    lengths = {len(metrics_paths), len(attribution_paths), len(landmark_set_paths)}
    if len(lengths) != 1 or 0 in lengths:
        raise DataError(
            "the report needs one metrics.json, attributions.zarr and landmarks.json per "
            f"iteration; got {len(metrics_paths)}, {len(attribution_paths)} and "
            f"{len(landmark_set_paths)}"
        )
    summary = read_summary(summary_path)
    metrics = [read_json(path) for path in metrics_paths]
    iterations = [int(m.get("iteration", i)) for i, m in enumerate(metrics)]
    landmark_sets = [read_json(path).get("emotions", {}) for path in landmark_set_paths]
    store_emotions, scores = load_scores(attribution_paths[0])
    in_summary = set(summary["emotion"].to_list())
    emotions = [e for e in store_emotions if e in in_summary]
    if not emotions:
        raise DataError(
            f"{attribution_paths[0]}: no emotion in common with {summary_path} "
            f"({store_emotions} vs {sorted(in_summary)})"
        )
    rows = [store_emotions.index(e) for e in emotions]
    truth_path = _single_path(ground_truth_path)
    return ReportInputs(
        summary=summary,
        emotions=emotions,
        iterations=iterations,
        metrics=metrics,
        scores=scores[rows],
        landmark_sets=landmark_sets,
        ground_truth=read_ground_truth(truth_path) if truth_path else None,
    )


# -- numbers ---------------------------------------------------------------------------------
def top_landmarks(scores: np.ndarray, k: int) -> np.ndarray:
    """Ids of the ``k`` most relevant landmarks (NaN scores never count), most relevant first."""
    scores = np.asarray(scores, dtype=np.float64)
    valid = np.flatnonzero(np.isfinite(scores))
    order = valid[np.argsort(-scores[valid], kind="stable")]
    return order[: max(int(k), 0)]


def precision_at_k(scores: np.ndarray, truth: Sequence[int], top_k: int) -> dict[str, Any]:
    """How many of the most relevant landmarks are ground-truth landmarks.

    Parameters
    ----------
    scores
        Relevance of every landmark, shape ``(n_landmarks,)``; NaN for landmarks not scored.
    truth
        Ground-truth landmark ids.
    top_k
        Upper bound on ``k``; ``k = min(top_k, len(truth))``.

    Returns
    -------
    dict
        ``k``, ``precision_at_k`` (share of the top ``k`` that are ground truth), ``chance_level``
        (``len(truth) / n_scored``: the expected precision of a random ranking),
        ``n_ground_truth``, ``n_scored`` and ``hits`` (the ground-truth ids found).
    """
    truth_set = {int(i) for i in truth}
    n_scored = int(np.isfinite(np.asarray(scores, dtype=np.float64)).sum())
    k = min(int(top_k), len(truth_set))
    top = top_landmarks(scores, k)
    hits = sorted(int(i) for i in top if int(i) in truth_set)
    return {
        "k": k,
        "precision_at_k": len(hits) / k if k else None,
        "chance_level": len(truth_set) / n_scored if n_scored else None,
        "n_ground_truth": len(truth_set),
        "n_scored": n_scored,
        "hits": hits,
    }


def _full_and_selected(summary: pl.DataFrame, emotion: str) -> tuple[dict, dict]:
    """The all-landmark row (most landmarks, earliest) and the selected row of one emotion."""
    rows = summary.filter(pl.col("emotion") == emotion)
    full = rows.sort(pl.col("n_landmarks"), pl.col("iteration"), descending=[True, False]).row(
        0, named=True
    )
    chosen = rows.filter(pl.col("selected"))
    selected = chosen.row(0, named=True) if len(chosen) else full
    return full, selected


def _finite(value: Any) -> Any:
    """JSON-safe scalar: NaN and infinities become ``None``, NumPy scalars plain Python."""
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def report_numbers(inputs: ReportInputs, top_k: int = 50) -> dict[str, Any]:
    """The numbers of ``report.json``.

    Per emotion: the selected iteration; landmark count, balanced accuracy (mean and std),
    inference time and parameter count of the all-landmark and of the selected iteration; the
    ``top_k`` most relevant landmarks of iteration 0 and how many fall in each face region
    (regions may overlap); with ground truth, :func:`precision_at_k` and its chance level.
    """
    from emoflow.facemesh import region_of

    emotions: dict[str, Any] = {}
    for e, emotion in enumerate(inputs.emotions):
        full, selected = _full_and_selected(inputs.summary, emotion)
        top = top_landmarks(inputs.scores[e], top_k)
        entry: dict[str, Any] = {
            "selected_iteration": int(selected["iteration"]),
            "full_iteration": int(full["iteration"]),
        }
        for name in (
            "n_landmarks",
            "balanced_accuracy_mean",
            "balanced_accuracy_std",
            "inference_time_ms",
            "n_parameters",
        ):
            short = name.removesuffix("_mean")
            entry[f"{short}_full"] = _finite(full[name])
            entry[f"{short}_selected"] = _finite(selected[name])
        entry["top_k"] = len(top)
        entry["top_k_landmarks"] = [int(i) for i in top]
        entry["top_k_regions"] = region_of(top)
        if inputs.ground_truth is not None:
            truth = inputs.ground_truth.get(emotion)
            if truth:
                entry.update(precision_at_k(inputs.scores[e], truth, top_k))
            else:
                entry.update({"k": 0, "precision_at_k": None, "chance_level": None})
        emotions[emotion] = entry
    first, last = inputs.metrics[0], inputs.metrics[-1]
    return {
        "iterations": inputs.iterations,
        "top_k": int(top_k),
        "ground_truth": inputs.ground_truth is not None,
        "combined_accuracy": {
            "first_iteration": inputs.iterations[0],
            "first": _finite(first.get("combined", {}).get("accuracy", float("nan"))),
            "last_iteration": inputs.iterations[-1],
            "last": _finite(last.get("combined", {}).get("accuracy", float("nan"))),
        },
        "figures": dict(FIGURES),
        "emotions": emotions,
    }


# -- drawing helpers -------------------------------------------------------------------------
@contextmanager
def _plotting() -> Iterator[None]:
    """Lazy Matplotlib import with the Agg backend and the report's style."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # never switch an interactive session's backend
        matplotlib.use("Agg")
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]  # stubs want literal keys
        yield


def _new_figure(width: float, height: float) -> Figure:
    """A figure on an Agg canvas (no pyplot state), with constrained layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> None:
    with atomic_path(path) as staged:
        figure.savefig(staged, dpi=DPI, facecolor="white")
    log.info("wrote %s", path)


def _grid(n: int, max_columns: int = 3) -> tuple[int, int]:
    """Rows and columns of a grid holding ``n`` panels (few empty cells, at most 4 columns)."""
    if n == 4:
        columns = 2
    elif n in (7, 8):
        columns = 4
    else:
        columns = max(1, min(max_columns, n))
    return math.ceil(n / columns), columns


def _panels(figure: Figure, n: int) -> list[Axes]:
    """``n`` axes in a grid; the unused cells of the last row are hidden."""
    rows, columns = _grid(n)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for unused in axes[n:]:
        unused.set_visible(False)
    return list(axes[:n])


def _face_xy(n_landmarks: int) -> np.ndarray:
    """Reference-face x, y of the first ``n_landmarks`` landmarks."""
    from emoflow.facemesh import reference_face

    return reference_face()[:n_landmarks, :2]


def _draw_mesh(ax: Axes, xy: np.ndarray) -> None:
    """The tesselation faintly and the contours a little darker; image orientation (y down)."""
    from matplotlib.collections import LineCollection

    from emoflow.facemesh import contours, tesselation

    for edges, colour, width in ((tesselation(), "#d4d4d4", 0.4), (contours(), "#8c8c8c", 0.9)):
        edges = edges[(edges < len(xy)).all(axis=1)]
        ax.add_collection(LineCollection(xy[edges], colors=colour, linewidths=width, zorder=1))
    margin = 0.06 * np.ptp(xy, axis=0).max()
    ax.set_xlim(xy[:, 0].min() - margin, xy[:, 0].max() + margin)
    ax.set_ylim(xy[:, 1].max() + margin, xy[:, 1].min() - margin)  # y grows downward
    ax.set_aspect("equal")
    ax.set_axis_off()


def _min_max(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] (least relevant → 0, most → 1); constant values give zeros."""
    values = np.asarray(values, dtype=np.float64)
    if not len(values):
        return values
    low, span = values.min(), np.ptp(values)
    return (values - low) / span if span > 0 else np.zeros_like(values)


def _ring_ground_truth(ax: Axes, xy: np.ndarray, ids: Sequence[int] | None) -> None:
    if ids:
        ids = [i for i in ids if 0 <= i < len(xy)]
        ax.scatter(
            xy[ids, 0],
            xy[ids, 1],
            s=110,
            facecolors="none",
            edgecolors=GROUND_TRUTH_COLOUR,
            linewidths=1.4,
            zorder=5,
        )


def _log_ticks(ax: Axes, counts: Sequence[int], max_ticks: int = 7) -> None:
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


def _accuracy_floor(summary: pl.DataFrame) -> float:
    """A common lower y limit for the accuracy panels: below every mean − std, in 0.05 steps."""
    mean = summary["balanced_accuracy_mean"].to_numpy().astype(np.float64)
    std = np.nan_to_num(summary["balanced_accuracy_std"].to_numpy().astype(np.float64))
    lows = (mean - std)[np.isfinite(mean)]
    if not len(lows):
        return 0.0
    low = float(lows.min())
    return max(0.0, math.floor((min(low, 1.0) - 0.02) * 20) / 20)


# -- figures ---------------------------------------------------------------------------------
def plot_accuracy_vs_landmarks(summary: pl.DataFrame, emotions: Sequence[str], path: Path) -> None:
    """Balanced accuracy (± std over folds) and inference time against landmarks kept.

    One panel per emotion; the x axis (log scale) runs from all landmarks on the left to the
    fewest on the right, in pruning order. A star marks the selected iteration, a diamond and
    a dotted line the all-landmark iteration's accuracy.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows, columns = _grid(len(emotions))
    figure = _new_figure(PANEL_INCHES[0] * columns, PANEL_INCHES[1] * rows + 0.9)
    axes = _panels(figure, len(emotions))
    bottom = _accuracy_floor(summary.filter(pl.col("emotion").is_in(list(emotions))))
    for index, (ax, emotion) in enumerate(zip(axes, emotions, strict=True)):
        data = summary.filter(pl.col("emotion") == emotion).sort("n_landmarks", descending=True)
        full, selected = _full_and_selected(summary, emotion)
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
        ax.plot(
            full["n_landmarks"],
            full["balanced_accuracy_mean"],
            "D",
            color="white",
            markeredgecolor="black",
            markersize=7,
            zorder=4,
        )
        ax.plot(
            selected["n_landmarks"],
            selected["balanced_accuracy_mean"],
            "*",
            color="gold",
            markeredgecolor="black",
            markersize=17,
            zorder=5,
        )
        ax.set_xscale("log")
        ax.set_xlim(x.max() * 1.25, x.min() / 1.3)  # decreasing: pruning goes left to right
        _log_ticks(ax, data["n_landmarks"].to_list())
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
    _save(figure, path)


def _ground_truth_handle() -> Any:
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

    xy = _face_xy(scores.shape[1])
    rows, columns = _grid(len(emotions))
    figure = _new_figure(FACE_INCHES * columns + 0.9, FACE_INCHES * rows + 1.0)
    axes = _panels(figure, len(emotions))
    norm = Normalize(0.0, 1.0)
    for e, (ax, emotion) in enumerate(zip(axes, emotions, strict=True)):
        _draw_mesh(ax, xy)
        row = scores[e]
        scored = np.flatnonzero(np.isfinite(row))
        relevance = _min_max(row[scored])
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
        _ring_ground_truth(ax, xy, truth)
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
        handles.append(_ground_truth_handle())
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    figure.suptitle(f"Integrated Gradients relevance per landmark (iteration {iteration})")
    _save(figure, path)


def plot_selected_landmarks(inputs: ReportInputs, path: Path) -> None:
    """The landmark set each emotion's selected iteration kept, on the reference face."""
    from matplotlib.lines import Line2D

    xy = _face_xy(inputs.scores.shape[1])
    rows, columns = _grid(len(inputs.emotions))
    figure = _new_figure(FACE_INCHES * columns, FACE_INCHES * rows + 1.2)
    axes = _panels(figure, len(inputs.emotions))
    for ax, emotion in zip(axes, inputs.emotions, strict=True):
        full, selected = _full_and_selected(inputs.summary, emotion)
        position = inputs.position(selected["iteration"])
        kept = [i for i in inputs.landmark_sets[position].get(emotion, []) if 0 <= i < len(xy)]
        _draw_mesh(ax, xy)
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
            _ring_ground_truth(ax, xy, inputs.ground_truth.get(emotion))
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
        handles.append(_ground_truth_handle())
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    figure.suptitle("Landmarks kept by each emotion's selected model")
    _save(figure, path)


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
    figure = _new_figure(side * len(positions) + 0.8, side + 0.6)
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
    _save(figure, path)


# -- entry point -----------------------------------------------------------------------------
def make_report(
    summary_path: str | Path,
    metrics_paths: Sequence[str | Path],
    attribution_paths: Sequence[str | Path],
    landmark_set_paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    ground_truth_path: str | Path | None = None,
    top_k: int = 50,
    run_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the report's figures, ``report.json``, ``summary.csv`` and the run's configuration
    (``run_config.yaml``, when given) into ``out_dir``.

    Parameters
    ----------
    summary_path
        ``summary.parquet`` of :func:`emoflow.pruning.summarise_iterations`.
    metrics_paths, attribution_paths, landmark_set_paths
        Per iteration, in order (the i-th entries belong to iteration i): ``metrics.json``,
        ``attributions.zarr`` and ``landmarks.json``. Relevance is drawn from the first.
    out_dir
        Folder of the report (created); file names in :data:`FIGURES` and ``report.json``.
    ground_truth_path
        Optional ``{"emotions": {emotion: {"landmarks": [ids], ...}}}``: rings the
        ground-truth landmarks and adds precision@k to ``report.json``.
    top_k
        How many of the most relevant landmarks are emphasised and counted per region.
    run_config
        The workflow configuration of the run, recorded next to the figures.

    Returns
    -------
    dict
        The content of ``report.json`` (see :func:`report_numbers`).
    """
    if top_k < 1:
        raise DataError(f"report.top_k must be ≥ 1, got {top_k}")
    inputs = load_report_inputs(
        summary_path, metrics_paths, attribution_paths, landmark_set_paths, ground_truth_path
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    numbers = report_numbers(inputs, top_k)
    with _plotting():
        plot_accuracy_vs_landmarks(inputs.summary, inputs.emotions, out / FIGURES["accuracy"])
        plot_relevance_on_face(
            inputs.emotions,
            inputs.scores,
            out / FIGURES["relevance"],
            top_k=top_k,
            ground_truth=inputs.ground_truth,
            iteration=inputs.iterations[0],
        )
        plot_selected_landmarks(inputs, out / FIGURES["selected"])
        plot_confusion_matrices(inputs, out / FIGURES["confusion"])
    with atomic_path(out / SUMMARY_TABLE) as staged:
        inputs.summary.write_csv(staged, float_precision=4)
    if run_config is not None:
        import yaml

        with atomic_path(out / RUN_CONFIG) as staged:
            staged.write_text(yaml.safe_dump(dict(run_config), sort_keys=False))
    write_json(out / REPORT_JSON, numbers)
    return numbers

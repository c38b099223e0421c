"""The comparison figure: validation balanced accuracy against landmarks kept, per emotion,
for the IG-guided chain and every baseline (matplotlib, imported when drawing, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from emoflow._atomic import atomic_path

if TYPE_CHECKING:
    import polars as pl

__all__ = ["plot_comparison"]

_STYLE = {
    "ig_guided": ("tab:blue", "o", "IG-guided (improved IG)"),
    "vanilla_ig": ("tab:orange", "s", "vanilla IG (zero baseline)"),
    "motion": ("tab:green", "^", "motion statistic"),
    "mean_difference": ("tab:purple", "D", "class-mean difference"),
    "random": ("tab:grey", "x", "random (mean ± std)"),
}


def plot_comparison(table: pl.DataFrame, out_path: str | Path) -> None:
    """Draw the gathered comparison table (:func:`emoflow.comparison.gather_comparison`) to
    a PNG: one panel per emotion; the chain's iteration 0 (every landmark) starts every
    curve, random sets show their mean and a ± std band, the dashed line marks the chain's
    selected count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import polars as pl
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter

    emotions = sorted(table["emotion"].unique().to_list())
    columns = min(3, len(emotions))
    rows = -(-len(emotions) // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(4.2 * columns, 3.3 * rows), squeeze=False, sharey=True
    )
    for panel, emotion in zip(axes.flat, emotions, strict=False):
        own = table.filter(pl.col("emotion") == emotion)
        chain = own.filter(pl.col("ranking") == "ig_guided").sort("iteration")
        start = chain.filter(pl.col("iteration") == 0)
        for ranking, (colour, marker, label) in _STYLE.items():
            part = own.filter(pl.col("ranking") == ranking)
            if part.is_empty():
                continue
            curve = pl.concat([start, part]) if ranking != "ig_guided" else part
            stats = (
                curve.group_by("iteration")
                .agg(
                    pl.col("n_landmarks").first(),
                    pl.col("val_balanced_accuracy_mean").mean().alias("mean"),
                    pl.col("val_balanced_accuracy_mean").std(ddof=0).fill_null(0).alias("std"),
                )
                .sort("iteration")
            )
            x, y = stats["n_landmarks"].to_numpy(), stats["mean"].to_numpy()
            panel.plot(x, y, marker=marker, color=colour, label=label, lw=1.5, ms=4)
            if ranking == "random":
                spread = stats["std"].to_numpy()
                panel.fill_between(x, y - spread, y + spread, color=colour, alpha=0.25, lw=0)
        chosen = chain.filter(pl.col("selected"))
        if not chosen.is_empty():
            panel.axvline(chosen["n_landmarks"][0], color="k", ls="--", lw=0.8)
        panel.set_xscale("log")
        counts = sorted(set(chain["n_landmarks"].to_list()))
        panel.xaxis.set_major_locator(FixedLocator(counts))
        panel.xaxis.set_major_formatter(FixedFormatter([str(count) for count in counts]))
        panel.xaxis.set_minor_formatter(NullFormatter())
        panel.set_title(emotion)
        panel.set_xlabel("landmarks kept")
        panel.grid(alpha=0.3)
    for panel in axes[:, 0]:
        panel.set_ylabel("validation balanced accuracy")
    for panel in list(axes.flat)[len(emotions) :]:
        panel.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(5, len(handles)), frameon=False)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    with atomic_path(out_path) as staged:
        figure.savefig(staged, dpi=120, format="png")
    plt.close(figure)

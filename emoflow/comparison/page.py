"""The comparison's report page (``compare/verdicts.html``): does IG-guided pruning beat each
baseline at every emotion's selected landmark count?"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from emoflow.comparison._text import signed


def write_comparison_page(found: pl.DataFrame, path: str | Path) -> None:
    """Write verdicts (:func:`emoflow.comparison.verdicts`) as an HTML page for
    ``snakemake --report``.

    One plain statement per emotion and baseline, then the numbers: validation (mean over
    folds; for ``random`` the mean and spread over seeds) and held-out test balanced accuracy
    of the IG-guided chain and of the baseline at the chain's selected count, and their
    differences. Test sets are small: a difference of one video is common.
    """
    from emoflow.report.html import heading, paragraph, write_page
    from emoflow.report.html import table as html_table

    n_beats = int(found["beats"].sum())
    rows = list(found.iter_rows(named=True))
    parts = [
        paragraph(
            "Each baseline keeps, at every iteration, as many landmarks as the IG-guided chain "
            "kept, ranked by its own criterion on the development subjects only, and is trained "
            "and scored exactly as the chain (same folds, same held-out test subjects). "
            f"IG-guided pruning beats the baseline in {n_beats} of {len(rows)} comparisons "
            "on validation at the selected counts. The selected count is chosen by the chain's "
            "own validation accuracy, which favours the chain: read the held-out test columns "
            "and the figure's curves too."
        ),
        heading("Verdicts"),
        "<ul>" + "".join(f"<li>{row['statement']}</li>" for row in rows) + "</ul>",
        heading("Numbers at the selected count"),
        html_table(
            [
                "emotion",
                "baseline",
                "landmarks",
                "IG-guided validation",
                "baseline validation",
                "± std (seeds)",
                "Δ validation",
                "IG-guided test",
                "baseline test",
                "Δ test",
                "beats",
            ],
            [
                [
                    row["emotion"],
                    row["ranking"],
                    row["n_landmarks"],
                    row["ig_val"],
                    row["val"],
                    row["val_std"] if row["n_runs"] > 1 else None,  # a spread over seeds
                    signed(row["delta"]),
                    row["ig_test"],
                    row["test"],
                    None if row["test_delta"] is None else signed(row["test_delta"]),
                    "yes" if row["beats"] else "no",
                ]
                for row in rows
            ],
            highlight=[bool(row["beats"]) for row in rows],
        ),
    ]
    write_page(Path(path), "Pruning baselines: does the explanation help?", parts)


__all__ = ["write_comparison_page"]

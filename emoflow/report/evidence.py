"""The report's evidence: what the nested evaluation says, in words and one figure.

``evidence.html``
    The estimate of the whole procedure (train → attribute → prune → choose the count on inner
    folds) on subjects it never saw, per emotion and for the combined classifier, with
    subject-level bootstrap intervals and the subjects behind them; pruned − full and IG-guided
    − each baseline as paired differences with a verdict (a win or a loss only when the
    interval excludes 0); the deployed models on the held-out test subjects.
``accuracy_curves.png``
    Per emotion, every ranking's outer-fold balanced accuracy at every iteration (the matched
    landmark counts) with its interval: the curve each count is chosen along, scored on
    subjects the choice never saw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow.evaluation import CHAIN, COMBINED, FULL
from emoflow.report._text import procedure_name, signed
from emoflow.report.html import heading, paragraph, table, warning, write_page
from emoflow.uncertainty import MIN_SUBJECTS

__all__ = [
    "evidence_numbers",
    "plot_evaluation_curves",
    "report_evidence",
    "statements",
    "write_evidence_page",
]

_STYLE = {
    CHAIN: ("tab:blue", "o"),
    "vanilla_ig": ("tab:orange", "s"),
    "mean_difference": ("tab:purple", "D"),
    "motion": ("tab:green", "^"),
    "random": ("tab:grey", "x"),
}
MODEL_FREE = ("mean_difference", "motion")
_DEPLOYED_HEADER = (
    "emotion",
    "all landmarks",
    "landmarks",
    "selected",
    "landmarks",
    "subjects / samples",
)
"""The columns of the deployed models' tables (held-out test, the chain's cross-validation)."""


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, float) and math.isfinite(value)


def interval_text(estimate: Any, low: Any, high: Any) -> str:
    """``0.912 [0.850, 0.967]``; without an interval the estimate alone, or ``n/a``."""
    if not _finite(estimate):
        return "n/a"
    if not (_finite(low) and _finite(high)):
        return f"{estimate:.3f} [no interval]"
    return f"{estimate:.3f} [{low:.3f}, {high:.3f}]"


def difference_text(row: dict[str, Any]) -> str:
    if not _finite(row["difference"]):
        return "n/a"
    if not (_finite(row["ci_low"]) and _finite(row["ci_high"])):
        return f"{signed(row['difference'])} [no interval]"
    return f"{signed(row['difference'])} [{signed(row['ci_low'])}, {signed(row['ci_high'])}]"


def statements(differences: pl.DataFrame, scope: str = "nested") -> list[str]:
    """One plain sentence per difference of ``scope``: what the data support."""
    lines = []
    for row in differences.filter(pl.col("scope") == scope).iter_rows(named=True):
        verdict = row["verdict"]
        subject = (
            f"{row['emotion']}: {procedure_name(row['procedure'])} "
            f"against {procedure_name(row['baseline'])}"
        )
        if verdict == "win":
            said = "better"
        elif verdict == "loss":
            said = "worse"
        else:
            said = verdict
        lines.append(
            f"{subject}: {said} ({difference_text(row)} balanced accuracy, "
            f"{row['n_subjects']} subjects)"
        )
    return lines


def _tally(differences: pl.DataFrame, baseline: str) -> dict[str, int]:
    rows = differences.filter(
        (pl.col("scope") == "nested")
        & (pl.col("baseline") == baseline)
        & (pl.col("emotion") != COMBINED)
    )
    return {
        verdict: int((rows["verdict"] == verdict).sum()) for verdict in rows["verdict"].unique()
    }


def _conclusions(differences: pl.DataFrame) -> list[str]:
    """The answer in a few sentences: does pruning lose anything, does IG beat the others."""
    lines = []
    full = _tally(differences, FULL)
    if full:
        n = sum(full.values())
        lines.append(
            f"Pruning against all landmarks: better for {full.get('win', 0)} of {n} emotions, "
            f"worse for {full.get('loss', 0)}, no difference shown for the rest."
        )
    for baseline in sorted(set(differences["baseline"].to_list()) - {FULL}):
        tally = _tally(differences, baseline)
        n = sum(tally.values())
        wins, losses = tally.get("win", 0), tally.get("loss", 0)
        line = (
            f"IG-guided against {procedure_name(baseline)}: better for {wins} of {n} emotions, "
            f"worse for {losses}."
        )
        if baseline in MODEL_FREE and wins == 0:
            line += (
                " The explanation-guided pruning does not beat this model-free ranking on these "
                "data."
            )
        lines.append(line)
    return lines


def _estimate_rows(estimates: pl.DataFrame, scope: str, procedures: Sequence[str]) -> list[list]:
    rows = []
    own = estimates.filter(pl.col("scope") == scope)
    emotions = [e for e in dict.fromkeys(own["emotion"].to_list()) if e != COMBINED]
    for emotion in [*sorted(emotions), COMBINED]:
        of = own.filter(pl.col("emotion") == emotion)
        if of.is_empty():
            continue
        cells: list[Any] = [emotion]
        for procedure in procedures:
            found = of.filter(pl.col("procedure") == procedure)
            if found.is_empty():
                cells += ["–", "–"]
                continue
            row = found.row(0, named=True)
            cells.append(interval_text(row["estimate"], row["ci_low"], row["ci_high"]))
            counts = row["n_landmarks"]
            cells.append(", ".join(str(c) for c in counts) if counts else "–")
        first = of.row(0, named=True)
        cells.append(f"{first['n_subjects']} / {first['n_samples']}")
        rows.append(cells)
    return rows


def write_evidence_page(
    estimates: pl.DataFrame, differences: pl.DataFrame, path: str | Path
) -> dict[str, Any]:
    """Write ``evidence.html``; returns its numbers for ``report.json``."""
    nested = estimates.filter(pl.col("scope") == "nested")
    procedures = [FULL, CHAIN, *sorted(set(nested["procedure"].to_list()) - {FULL, CHAIN})]
    header = ["emotion"]
    for procedure in procedures:
        header += [procedure_name(procedure), "landmarks per fold"]
    header.append("subjects / samples")
    conclusions = _conclusions(differences)
    parts = [
        paragraph(
            "Each number is the balanced accuracy of the whole procedure — train, attribute, "
            "prune and choose the landmark count on inner folds — on subjects that procedure "
            "never saw: for each outer fold of the development subjects it ran on the fold's "
            "training subjects alone and was scored once on the fold's own subjects "
            "(nested cross-validation). In brackets: the 95 % interval of a subject-level "
            "bootstrap (subjects resampled with all their videos); differences are resampled "
            "paired. A difference counts as better or worse only when its interval excludes 0."
        ),
        heading("What the data say"),
        "<ul>" + "".join(f"<li>{line}</li>" for line in conclusions) + "</ul>",
        heading("Estimated balanced accuracy (nested, outer folds)"),
        table(header, _estimate_rows(estimates, "nested", procedures)),
        heading("Differences (nested)"),
        "<ul>"
        + "".join(f"<li>{line}</li>" for line in statements(differences, "nested"))
        + "</ul>",
    ]
    test = estimates.filter(pl.col("scope") == "test")
    if not test.is_empty():
        parts += [
            heading("The deployed models on the held-out test subjects"),
            table(
                list(_DEPLOYED_HEADER),
                _estimate_rows(estimates, "test", [FULL, CHAIN]),
            ),
            warning(
                [
                    f"{min(test['n_subjects'].to_list())} held-out test subject(s): too few "
                    f"for an interval (at least {MIN_SUBJECTS} are needed); read these numbers "
                    "as a check that the models run, not as an estimate."
                ]
                if test["ci_low"].is_nan().all()
                else [],
                "Small test set",
            ),
        ]
    validation = estimates.filter(pl.col("scope") == "validation")
    if not validation.is_empty():
        parts += [
            heading("The deployed chain's cross-validation (the scores its count was chosen on)"),
            paragraph(
                "Optimistic by construction: the selected count is the one that scored best "
                "here. Shown for comparison with the nested estimate above, which is the one to "
                "report.",
                "note",
            ),
            table(
                list(_DEPLOYED_HEADER),
                _estimate_rows(estimates, "validation", [FULL, CHAIN]),
            ),
        ]
    write_page(Path(path), "Evidence: the procedure on subjects it never saw", parts)
    return evidence_numbers(estimates, differences)


def evidence_numbers(estimates: pl.DataFrame, differences: pl.DataFrame) -> dict[str, Any]:
    """The evaluation's numbers for ``report.json``: estimates and differences by scope,
    emotion and procedure, and the conclusions in words."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    numbers: dict[str, Any] = {"estimates": {}, "differences": {}}
    # part of report.json, its table, the row's key under scope and emotion, the value, and
    # the columns copied after the interval and the subject count
    for part, frame, key, value, more in (
        ("estimates", estimates, "procedure", "estimate", ("n_samples", "n_landmarks")),
        ("differences", differences, "baseline", "difference", ("verdict",)),
    ):
        for row in frame.iter_rows(named=True):
            entry = numbers[part].setdefault(row["scope"], {}).setdefault(row["emotion"], {})
            entry[row[key]] = {
                value: clean(row[value]),
                "ci": [clean(row["ci_low"]), clean(row["ci_high"])],
                "n_subjects": row["n_subjects"],
                **{column: row[column] for column in more},
            }
    numbers["conclusions"] = _conclusions(differences)
    return numbers


def plot_evaluation_curves(curves: pl.DataFrame, path: str | Path) -> None:
    """Draw ``accuracy_curves.png``: one panel per emotion, each ranking's outer-fold balanced
    accuracy against its (mean) landmark count, with its interval as a band."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter

    from emoflow.report._drawing import new_figure, panels, plotting, save

    emotions = sorted(curves["emotion"].unique().to_list())
    with plotting():
        columns = min(3, len(emotions))
        rows = -(-len(emotions) // columns)
        figure = new_figure(4.4 * columns, 3.4 * rows + 0.6)
        axes = panels(figure, len(emotions))
        for axis, emotion in zip(axes, emotions, strict=False):
            own = curves.filter(pl.col("emotion") == emotion)
            counts: set[int] = set()
            for ranking, (colour, marker) in _STYLE.items():
                line = own.filter(pl.col("ranking") == ranking).sort("iteration")
                if line.is_empty():
                    continue
                x = line["n_landmarks"].to_numpy()
                y = line["estimate"].to_numpy()
                low, high = line["ci_low"].to_numpy(), line["ci_high"].to_numpy()
                axis.plot(
                    x, y, marker=marker, color=colour, label=procedure_name(ranking), lw=1.5, ms=4
                )
                if np.isfinite(low).any():
                    axis.fill_between(x, low, high, color=colour, alpha=0.12, lw=0)
                counts |= {round(float(v)) for v in x}
            axis.axhline(0.5, color="k", lw=0.6, ls=":")
            axis.set_xscale("log")
            ticks = sorted(counts)
            axis.xaxis.set_major_locator(FixedLocator(ticks))
            axis.xaxis.set_major_formatter(FixedFormatter([str(t) for t in ticks]))
            axis.xaxis.set_minor_formatter(NullFormatter())
            axis.set_title(emotion)
            axis.set_xlabel("landmarks kept (mean over outer folds)")
            axis.set_ylabel("outer-fold balanced accuracy")
            axis.grid(alpha=0.3)
        handles, labels = axes[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="lower center", ncol=min(5, len(labels)), frameon=False)
        figure.tight_layout(rect=(0, 0.07, 1, 1))
        save(figure, Path(path))


def report_evidence(
    estimates_path: str | Path,
    differences_path: str | Path,
    curves_path: str | Path,
    *,
    page_path: str | Path,
    numbers_path: str | Path,
    figure_path: str | Path,
) -> dict[str, Any]:
    """The workflow's ``report_evidence`` job: read the evaluation's tables
    (:mod:`emoflow.evaluation`), write the evidence page, its numbers (JSON) and the curves
    figure. Returns the numbers."""
    from emoflow._atomic import write_json
    from emoflow.evaluation.tables import read_evaluation

    estimates = read_evaluation("estimates", estimates_path)
    differences = read_evaluation("differences", differences_path)
    numbers = write_evidence_page(estimates, differences, page_path)
    plot_evaluation_curves(read_evaluation("curves", curves_path), figure_path)
    write_json(numbers_path, numbers)
    return numbers

"""Write the README's results tables from a finished run, or check that the README has them.

Usage::

    .venv/bin/python tools/demo_results_table.py [results/report/report.json]     # print
    .venv/bin/python tools/demo_results_table.py results/report/report.json --write
    .venv/bin/python tools/demo_results_table.py results/report/report.json --check
    .venv/bin/python tools/demo_results_table.py results_hard/report/report.json \\
        --marker hard-demo --write

The README holds each generated block between two marker comments::

    <!-- results:default-demo … -->
    …
    <!-- /results:default-demo -->

``--write`` replaces what lies between them (and nothing else; the README is rewritten
atomically), ``--check`` exits with status 1 and prints the difference when the README's block
is not what the run gives (0 when it is); without either, the block is printed.

Blocks (``--marker``):

``default-demo``
    From the run's ``report.json`` (written by ``make_report``): per emotion the landmark
    counts, validation and held-out test balanced accuracy of the all-landmark and the
    selected iteration, the parameter ratio, precision@k against the demo's ground truth and
    its chance level; then the combined classifiers, the range of the ratios and the data
    counts. An undefined number is printed ``n/a``. Only what a rerun reproduces goes in (no
    timings), so ``--check`` can compare a README with any run of the same configuration.
``hard-demo``
    From the run's comparison table (``compare/summary.parquet`` beside ``report/``): at each
    emotion's selected count, validation / held-out test balanced accuracy of the IG-guided
    chain and of every baseline of ``prune.compare`` (random: mean ± std over its seeds).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
UNDEFINED = "n/a"


def _number(value: Any, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals; ``n/a`` when undefined (``None``, NaN)."""
    if value is None or not isinstance(value, int | float) or value != value:
        return UNDEFINED
    return f"{value:.{digits}f}"


def _pair(record: dict, name: str) -> str:
    return f"{_number(record[f'{name}_full'])} → {_number(record[f'{name}_selected'])}"


def _ratio(numerator: Any, denominator: Any) -> float | None:
    if not isinstance(numerator, int | float) or not isinstance(denominator, int | float):
        return None
    return numerator / denominator if denominator else None


def _span(values: list[float | None], digits: int = 1, unit: str = "") -> str:
    known = sorted(v for v in values if v is not None and v == v)
    if not known:
        return UNDEFINED
    low, high = f"{known[0]:.{digits}f}", f"{known[-1]:.{digits}f}"
    return f"{low}{unit}" if low == high else f"{low}–{high}{unit}"


def table(report: dict) -> str:
    """The ``default-demo`` block: the per-emotion table and the sentences under it."""
    lines = [
        "| emotion | landmarks (full → selected) | validation bal. acc. (full → selected) "
        "| test bal. acc. (full → selected) | parameters of selected / full "
        f"| precision@{report['top_k']} vs ground truth (chance) |",
        "|---|---|---|---|---|---|",
    ]
    emotions = report["emotions"]
    for emotion, record in emotions.items():
        precision = record.get("precision_at_k")
        truth = (
            f"{_number(precision, 2)} ({_number(record['chance_level'], 2)})"
            if precision is not None
            else "—"
        )
        parameters = _ratio(record["n_parameters_selected"], record["n_parameters_full"])
        lines.append(
            f"| {emotion} | {record['n_landmarks_full']} → {record['n_landmarks_selected']} "
            f"| {_pair(record, 'balanced_accuracy')} | {_pair(record, 'test_balanced_accuracy')} "
            f"| {_number(parameters, 2)} | {truth} |"
        )
    combined = report["combined_accuracy"]
    data = report["data"]
    selected = (report.get("validation_vs_test") or {}).get("combined_selected") or {}
    validation, test = selected.get("validation") or {}, selected.get("test") or {}
    pruned = [r for r in emotions.values() if r["n_landmarks_selected"] < r["n_landmarks_full"]]
    parameters = _span(
        [_ratio(r["n_parameters_selected"], r["n_parameters_full"]) for r in pruned], 2
    )
    above_chance = _span(
        [_ratio(r.get("precision_at_k"), r.get("chance_level")) for r in emotions.values()],
        1,
        "×",
    )
    pruning = f"{len(pruned)} of {len(emotions)} emotions select fewer landmarks than the full set"
    if pruned:
        pruning += f" (share of the parameters kept: {parameters})"
    truth = (
        f" Precision@{report['top_k']} of the relevance against the demo's ground truth is "
        f"{above_chance} its chance level."
        if report.get("ground_truth")
        else ""
    )
    lines += [
        "",
        f"Combined (argmax) classifier of each emotion's selected model: accuracy "
        f"{_number(validation.get('accuracy'))} in validation ({validation.get('n_samples', 0)} "
        f"videos, out-of-fold) and {_number(test.get('accuracy'))} on the "
        f"{test.get('n_samples', 0)} held-out test videos. "
        f"Combined classifier of one iteration: validation accuracy {_number(combined['first'])} "
        f"(iteration {combined['first_iteration']}) → {_number(combined['last'])} (iteration "
        f"{combined['last_iteration']}); held-out test {_number(combined['first_test'])} → "
        f"{_number(combined['last_test'])}.",
        f"{pruning}.{truth}",
        f"Data: {data['n_videos']} videos, {data['n_subjects']} subjects, {data['n_kept']} kept, "
        f"{data['n_dropped']} dropped, {data['n_skipped']} skipped; held out: "
        f"{', '.join(data['test_subjects'])} ({data['n_test']} test samples).",
    ]
    return "\n".join(line.rstrip() for line in lines)


_LABELS = {  # the baselines' columns, in this order
    "vanilla_ig": "vanilla IG",
    "motion": "motion",
    "mean_difference": "mean difference",
    "random": "random",
}


def _cell(best: float, val: Any, test: Any, val_std: Any = None, test_std: Any = None) -> str:
    """``validation / test`` of one ranking; the row's best validation in bold."""
    shown = f"**{_number(val)}**" if val is not None and val == best else _number(val)
    if val_std is not None:
        shown += f" ± {_number(val_std)}"
    tested = _number(test) + (f" ± {_number(test_std)}" if test_std is not None else "")
    return f"{shown} / {tested}"


def comparison_table(report_path: Path) -> str:
    """The ``hard-demo`` block, from the comparison table of the run of ``report_path``."""
    import polars as pl

    from emoflow.comparison import RANKINGS, read_comparison, verdicts

    summary = report_path.parent.parent / "compare" / "summary.parquet"
    found = verdicts(read_comparison(summary))
    present = set(found["ranking"].to_list())
    rankings = [r for r in _LABELS if r in present and r in RANKINGS]
    lines = [
        "| emotion | kept | IG-guided | " + " | ".join(_LABELS[r] for r in rankings) + " |",
        "|---|---|---|" + "---|" * len(rankings),
    ]
    for emotion in sorted(set(found["emotion"].to_list())):
        rows = {
            row["ranking"]: row
            for row in found.filter(pl.col("emotion") == emotion).iter_rows(named=True)
        }
        first = next(iter(rows.values()))
        values = {"ig_guided": first["ig_val"], **{r: rows[r]["val"] for r in rows}}
        best = max(v for v in values.values() if v is not None)

        cells = [_cell(best, first["ig_val"], first["ig_test"])]
        for ranking in rankings:
            row = rows.get(ranking)
            if row is None:
                cells.append("—")
            elif ranking == "random":
                cells.append(_cell(best, row["val"], row["test"], row["val_std"], row["test_std"]))
            else:
                cells.append(_cell(best, row["val"], row["test"]))
        lines.append(f"| {emotion} | {first['n_landmarks']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[Path], str]] = {
    "default-demo": lambda path: table(json.loads(path.read_text())),
    "hard-demo": comparison_table,
}
"""Marker name → the block written from a run's ``report.json``."""


def _markers(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- results:{re.escape(name)}\b[^>]*-->\n)(.*?)(<!-- /results:{re.escape(name)} -->)",
        re.DOTALL,
    )


def replace_block(readme: str, name: str, block: str) -> str:
    """``readme`` with the text between the ``name`` markers replaced by ``block``; a
    :class:`ValueError` when the markers are missing or repeated."""
    pattern = _markers(name)
    found = pattern.findall(readme)
    if len(found) != 1:
        raise ValueError(
            f"expected one pair of markers '<!-- results:{name} … -->' … "
            f"'<!-- /results:{name} -->', found {len(found)}"
        )
    return pattern.sub(lambda m: m.group(1) + block.rstrip("\n") + "\n" + m.group(3), readme)


def readme_block(readme: str, name: str) -> str:
    """The text between the ``name`` markers of ``readme`` (``ValueError`` without them)."""
    found = _markers(name).findall(readme)
    if len(found) != 1:
        raise ValueError(
            f"expected one pair of '<!-- results:{name} -->' markers, found {len(found)}"
        )
    return str(found[0][1]).rstrip("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", nargs="?", type=Path, default=Path("results/report/report.json"))
    parser.add_argument("--marker", choices=sorted(BLOCKS), default="default-demo")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the block into the README")
    mode.add_argument("--check", action="store_true", help="exit 1 when the README differs")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.report.is_file():
        print(f"{args.report}: no such report (run the workflow first)", file=sys.stderr)
        return 2
    block = BLOCKS[args.marker](args.report)
    if not (args.write or args.check):
        print(block)
        return 0
    readme = args.readme.read_text()
    try:
        current = readme_block(readme, args.marker)
        updated = replace_block(readme, args.marker, block)
    except ValueError as err:
        print(f"{args.readme}: {err}", file=sys.stderr)
        return 2
    if args.check:
        if current == block.rstrip("\n"):
            return 0
        diff = difflib.unified_diff(
            current.splitlines(),
            block.splitlines(),
            f"{args.readme} ({args.marker})",
            f"from {args.report}",
            lineterm="",
        )
        print("\n".join(diff))
        print(
            f"{args.readme}: the {args.marker} results differ from {args.report}; update with "
            f"tools/demo_results_table.py {args.report} --marker {args.marker} --write",
            file=sys.stderr,
        )
        return 1
    if updated != readme:
        from emoflow._atomic import atomic_path

        with atomic_path(args.readme) as staged:
            staged.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())

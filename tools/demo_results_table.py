"""Write the README's results tables from a finished run, or check that the README has them.

Usage::

    .venv/bin/python tools/demo_results_table.py [results/report/report.json]     # print
    .venv/bin/python tools/demo_results_table.py results/report/report.json --write
    .venv/bin/python tools/demo_results_table.py results/report/report.json --check
    .venv/bin/python tools/demo_results_table.py results_seeds --marker hard-demo --write

The README holds each generated block between two marker comments::

    <!-- results:default-demo … -->
    …
    <!-- /results:default-demo -->

``--write`` replaces what lies between them (and nothing else; the README is rewritten
atomically), ``--check`` exits with status 1 and prints the difference when the README's block
is not what the run gives (0 when it is); without either, the block is printed.

Blocks (``--marker``):

``default-demo``
    From the run's ``report.json`` (written by ``make_report``) and ``evidence.json`` (written
    by ``report_evidence``) beside it: per emotion the landmark counts the procedure chose in
    each outer fold and the deployed one, the nested balanced accuracy (with its 95 %
    interval) of all landmarks and of IG-guided pruning, their paired difference and verdict,
    the deployed models' held-out test, precision@k against the demo's ground truth and its
    chance level; then the combined classifier, the report's conclusions and the data counts.
    An undefined number is printed ``n/a``. Only what a rerun reproduces goes in (no
    timings), so ``--check`` can compare a README with any run of the same configuration.
``hard-demo``
    From a seed study's folder (``tools/seed_study.py``: ``pooled_estimates.parquet`` and
    ``pooled_differences.parquet``): every procedure's nested balanced accuracy pooled over the
    data seeds, and the paired verdicts of IG-guided pruning against each.
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


def _interval(entry: dict | None) -> str:
    """``0.912 [0.850, 0.967]`` from an ``evidence.json`` entry; the estimate alone without
    an interval (too few subjects), ``n/a`` when undefined."""
    if not entry or entry.get("estimate") is None:
        return UNDEFINED
    low, high = entry.get("ci") or (None, None)
    if low is None or high is None:
        return _number(entry["estimate"])
    return f"{_number(entry['estimate'])} [{_number(low)}, {_number(high)}]"


def _difference(entry: dict | None) -> str:
    if not entry or entry.get("difference") is None:
        return UNDEFINED
    low, high = entry.get("ci") or (None, None)

    def signed(value: float) -> str:
        return f"{round(value, 3) + 0.0:+.3f}"

    bounds = f" [{signed(low)}, {signed(high)}]" if low is not None and high is not None else ""
    return f"{signed(entry['difference'])}{bounds} {entry['verdict']}"


def _counts(entry: dict | None) -> str:
    counts = (entry or {}).get("n_landmarks") or []
    return "/".join(str(c) for c in counts) if counts else UNDEFINED


def table(report: dict, evidence: dict) -> str:
    """The ``default-demo`` block: per emotion the nested estimates (the procedure on
    subjects it never saw, with intervals), the verdict of pruning, the deployed models'
    held-out test and the relevance against the ground truth; then the combined classifier,
    the conclusions and the data counts."""
    nested = evidence["estimates"]["nested"]
    test = evidence["estimates"].get("test", {})
    differences = evidence["differences"]["nested"]
    lines = [
        "| emotion | landmarks chosen (per outer fold; deployed) | nested bal. acc., all "
        "landmarks | nested bal. acc., IG-guided pruning | pruned − all (95 % interval), "
        "verdict | held-out test, all → deployed selected "
        f"| precision@{report['top_k']} vs ground truth (chance) |",
        "|---|---|---|---|---|---|---|",
    ]
    emotions = report["emotions"]
    for emotion, record in emotions.items():
        precision = record.get("precision_at_k")
        truth = (
            f"{_number(precision, 2)} ({_number(record['chance_level'], 2)})"
            if precision is not None
            else "—"
        )
        own, tested = nested.get(emotion, {}), test.get(emotion, {})
        lines.append(
            f"| {emotion} | {_counts(own.get('ig_guided'))}; {record['n_landmarks_selected']} "
            f"| {_interval(own.get('full'))} | {_interval(own.get('ig_guided'))} "
            f"| {_difference(differences.get(emotion, {}).get('full'))} "
            f"| {_number((tested.get('full') or {}).get('estimate'))} → "
            f"{_number((tested.get('ig_guided') or {}).get('estimate'))} | {truth} |"
        )
    combined = nested.get("combined", {})
    sample = next(iter(nested.values()))["full"]
    test_sample = next(iter(test.values()), {}).get("full") or {}
    data = report["data"]
    above_chance = _span(
        [_ratio(r.get("precision_at_k"), r.get("chance_level")) for r in emotions.values()],
        1,
        "×",
    )
    truth = (
        f" Precision@{report['top_k']} of the deployed models' relevance against the demo's "
        f"ground truth is {above_chance} its chance level."
        if report.get("ground_truth")
        else ""
    )
    lines += [
        "",
        f"Nested estimates: {sample['n_subjects']} development subjects, {sample['n_samples']} "
        "videos, each scored once by the procedure run on the other outer folds' subjects; "
        "95 % subject-level bootstrap intervals. Combined (argmax) classifier: "
        f"{_interval(combined.get('full'))} with all landmarks, "
        f"{_interval(combined.get('ig_guided'))} with each emotion's pruned models. "
        f"Held-out test: {test_sample.get('n_subjects', 0)} subjects, "
        f"{test_sample.get('n_samples', 0)} videos, too few for an interval.{truth}",
        *(f"{line}" for line in evidence.get("conclusions", [])),
        f"Data: {data['n_videos']} videos, {data['n_subjects']} subjects, {data['n_kept']} kept, "
        f"{data['n_dropped']} dropped, {data['n_skipped']} skipped; held out: "
        f"{', '.join(data['test_subjects'])} ({data['n_test']} test samples).",
    ]
    return "\n".join(line.rstrip() for line in lines)


def pooled_table(folder: Path) -> str:
    """The ``hard-demo`` block, from ``tools/seed_study.py``'s pooled tables in ``folder``
    (``pooled_estimates.parquet``, ``pooled_differences.parquet``): every procedure's nested
    balanced accuracy over the data seeds, and IG-guided pruning's paired verdicts."""
    import polars as pl

    sys.path.insert(0, str(REPO / "tools"))
    from seed_study import markdown

    return markdown(
        pl.read_parquet(folder / "pooled_estimates.parquet"),
        pl.read_parquet(folder / "pooled_differences.parquet"),
    )


BLOCKS: dict[str, Callable[[Path], str]] = {
    "default-demo": lambda path: table(
        json.loads(path.read_text()), json.loads((path.parent / "evidence.json").read_text())
    ),
    "hard-demo": lambda path: pooled_table(path if path.is_dir() else path.parent),
}
"""Marker name → the block written from a run's ``report.json`` (``default-demo``, with the
``evidence.json`` beside it) or a seed study's folder (``hard-demo``)."""


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
    if not args.report.exists():
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

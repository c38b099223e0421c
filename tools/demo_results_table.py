"""Print the README's "Results on the demo" table and sentences from a finished run.

Usage::

    .venv/bin/python tools/demo_results_table.py [results/report/report.json]

Every number comes from the report's ``report.json`` (written by ``make_report``): per emotion
the landmark counts, validation and held-out test balanced accuracy of the all-landmark and
the selected iteration, the parameter ratio, precision@k against the demo's ground truth and
its chance level; then the combined classifier and the data counts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _pair(record: dict, name: str) -> str:
    return f"{record[f'{name}_full']:.3f} → {record[f'{name}_selected']:.3f}"


def table(report: dict) -> str:
    lines = [
        "| emotion | landmarks (full → selected) | validation bal. acc. (full → selected) "
        "| test bal. acc. (full → selected) | parameters of selected / full "
        f"| precision@{report['top_k']} vs ground truth (chance) |",
        "|---|---|---|---|---|---|",
    ]
    for emotion, record in report["emotions"].items():
        precision = record.get("precision_at_k")
        truth = f"{precision:.2f} ({record['chance_level']:.2f})" if precision is not None else "—"
        lines.append(
            f"| {emotion} | {record['n_landmarks_full']} → {record['n_landmarks_selected']} "
            f"| {_pair(record, 'balanced_accuracy')} | {_pair(record, 'test_balanced_accuracy')} "
            f"| {record['n_parameters_selected'] / record['n_parameters_full']:.2f} | {truth} |"
        )
    combined = report["combined_accuracy"]
    data = report["data"]
    lines += [
        "",
        f"Combined (argmax) classifier: validation accuracy {combined['first']:.3f} (iteration "
        f"{combined['first_iteration']}) → {combined['last']:.3f} (iteration "
        f"{combined['last_iteration']}); held-out test {combined['first_test']:.3f} → "
        f"{combined['last_test']:.3f}.",
        f"Data: {data['n_videos']} videos, {data['n_subjects']} subjects, {data['n_kept']} kept, "
        f"{data['n_dropped']} dropped, {data['n_skipped']} skipped; held out: "
        f"{', '.join(data['test_subjects'])} ({data['n_test']} test samples).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "results/report/report.json")
    print(table(json.loads(path.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

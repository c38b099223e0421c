"""Run a demo preset over several data seeds and pool the nested evaluation's verdicts.

Usage::

    .venv/bin/python tools/seed_study.py --configfile config/hard_demo.yaml --seeds 0 1 2 3 4 \
        [--cores 2] [--out results_seeds]

Each seed is a separate run of the workflow: its own demo data set (``demo.seed``), folder
(``OUT/seed_{s}``) and results, made by ``snakemake`` exactly as a user runs the preset. The
runs' outer-fold predictions (``evaluation/predictions.parquet``) are then pooled: each
estimate's subject-level bootstrap resamples subjects within each run
(:func:`emoflow.evaluation.estimate_all` with a ``run`` column), and every difference is paired
across the same subjects. Prints, per emotion, the pooled nested balanced accuracy (95 %
interval) of every procedure and the verdict of IG-guided pruning against each, as Markdown,
and writes the pooled tables to ``OUT/pooled_{estimates,differences}.parquet``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from emoflow.evaluation import COMBINED, EvidenceSettings, estimate_all, read_runs
from emoflow.layout import ResultsLayout

REPO = Path(__file__).resolve().parents[1]
ORDER = ("full", "ig_guided", "vanilla_ig", "mean_difference", "motion", "random")
NAMES = {
    "full": "all landmarks",
    "ig_guided": "IG-guided",
    "vanilla_ig": "vanilla IG",
    "mean_difference": "mean difference",
    "motion": "motion",
    "random": "random",
}


def run_seed(configfile: str, seed: int, out: Path, cores: int) -> Path:
    """One run of the preset with data seed ``seed``; returns its results folder."""
    results = out / f"seed_{seed}" / "results"
    source = out / f"seed_{seed}" / "data"
    command = [
        str(Path(sys.executable).with_name("snakemake")),
        "-s",
        str(REPO / "Snakefile"),
        "--configfile",
        str(REPO / configfile),
        "--cores",
        str(cores),
        "--config",
        f"results={results}",
        f"dataset={{source: {source}}}",
        f"demo={{seed: {seed}}}",
    ]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=out, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"seed {seed}: the workflow failed")
    print(f"seed {seed}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return results


def _cell(row: dict) -> str:
    if row["estimate"] is None:
        return "n/a"
    if row["ci_low"] is None or row["ci_low"] != row["ci_low"]:
        return f"{row['estimate']:.3f}"
    return f"{row['estimate']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def markdown(estimates: pl.DataFrame, differences: pl.DataFrame) -> str:
    """The pooled table: per emotion every procedure's estimate, then the verdicts."""
    nested = estimates.filter(pl.col("scope") == "nested")
    procedures = [p for p in ORDER if p in set(nested["procedure"].to_list())]
    lines = [
        "| emotion | " + " | ".join(NAMES[p] for p in procedures) + " |",
        "|---" * (len(procedures) + 1) + "|",
    ]
    emotions = [*sorted(set(nested["emotion"].to_list()) - {COMBINED}), COMBINED]
    for emotion in emotions:
        own = nested.filter(pl.col("emotion") == emotion)
        cells = []
        for procedure in procedures:
            found = own.filter(pl.col("procedure") == procedure)
            cells.append(_cell(found.row(0, named=True)) if found.height else "—")
        lines.append(f"| {emotion} | " + " | ".join(cells) + " |")
    runs, subjects = nested["n_runs"].max(), nested["n_subjects"].max()
    lines += ["", f"{runs} runs, {subjects} development subjects in all (95 % intervals).", ""]
    verdicts = differences.filter(pl.col("scope") == "nested")
    baselines = [p for p in ORDER if p in set(verdicts["baseline"].to_list())]
    lines += [
        "| emotion | " + " | ".join(f"IG-guided − {NAMES[b]}" for b in baselines) + " |",
        "|---" * (len(baselines) + 1) + "|",
    ]
    for emotion in emotions:
        own = verdicts.filter(pl.col("emotion") == emotion)
        cells = []
        for baseline in baselines:
            found = own.filter(pl.col("baseline") == baseline)
            if not found.height:
                cells.append("—")
                continue
            row = found.row(0, named=True)
            cells.append(
                f"{row['difference']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}] "
                f"{row['verdict']}"
            )
        lines.append(f"| {emotion} | " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", *tally(verdicts, baselines)])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}{'es' if noun.endswith('s') else 's'}"


def tally(verdicts: pl.DataFrame, baselines: list[str]) -> list[str]:
    """One plain line per compared procedure: in how many emotions IG-guided pruning won, lost,
    or showed no difference (the per-emotion verdicts; the combined row left out)."""
    lines = []
    for baseline in baselines:
        own = verdicts.filter((pl.col("baseline") == baseline) & (pl.col("emotion") != COMBINED))
        wins = own.filter(pl.col("verdict") == "win").height
        losses = own.filter(pl.col("verdict") == "loss").height
        beat = f"beat it in {wins} of {own.height} emotions" if wins else "did not beat it"
        lines.append(
            f"- Against {NAMES[baseline]}, IG-guided pruning {beat}: {_count(wins, 'win')}, "
            f"{_count(losses, 'loss')}, {own.height - wins - losses} with no difference shown."
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", default="config/hard_demo.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results_seeds"))
    parser.add_argument("--pool-only", action="store_true", help="pool finished runs only")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    runs = {}
    for seed in args.seeds:
        results = out / f"seed_{seed}" / "results"
        if not args.pool_only:
            results = run_seed(args.configfile, seed, out, args.cores)
        runs[str(seed)] = ResultsLayout(results).evaluation_predictions
    estimates, differences, _ = estimate_all(read_runs(runs), settings=EvidenceSettings())
    estimates.write_parquet(out / "pooled_estimates.parquet")
    differences.write_parquet(out / "pooled_differences.parquet")
    print(markdown(estimates, differences))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

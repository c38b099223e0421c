"""The whole demo workflow, this tree against another checkout, in one run.

Usage::

    .venv/bin/python benchmarks/demo_from_scratch.py --before ../old_checkout [--cores 2]
        [--start results|scratch] [--repeat N] [--keep] [--timeline]

For each tree the benchmark copies its ``Snakefile``, ``workflow/`` and ``config/`` into a
fresh temporary folder and runs ``snakemake --cores C`` there with ``PYTHONPATH`` pointing at
that tree's package. Two starting points (both by default):

- ``results``: from a clean ``results/`` (the issue's measure): the demo videos are made first
  by the tree's own ``make_demo`` job, not timed, as a data set a user already has; then the
  landmarks, features, every pruning iteration and the report are timed.
- ``scratch``: from nothing, the demo videos included.

Both trees' packages are byte-compiled first (``compileall``), as ``make setup`` does, so
neither pays for compiling its modules in every job. With ``--repeat N`` the trees take turns
N times (before, this, before, this, …), so a slow spell of a shared machine hits both; the
medians and their ratios close the table. It prints wall time and the CPU time of the whole
process tree side by side, and under each run the CPU of every process measured by the process
itself at its exit, by role (the workflow's rules, the scheduler), split into start-up, imports
and work (``benchmarks/process_cpu.py``; not Snakemake's ``benchmark:`` files, which sample a
job every few seconds and miss short jobs and their children). Compare figures of one run only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from process_cpu import (  # the benchmark module beside this one
    accounting_env,
    become_subreaper,
    format_summary,
    format_timeline,
    read_records,
    reap_orphans,
    summarise,
    tree_cpu,
)

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def _snakemake(work: Path, env: dict[str, str], args: list[str]) -> None:
    done = subprocess.run([SNAKEMAKE, *args], cwd=work, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{env['PYTHONPATH']}: snakemake failed\n{done.stderr[-3000:]}")


def _compile(package: Path) -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)


def run_demo(
    tree: Path, cores: int, start: str = "scratch", keep: bool = False, timeline: bool = False
) -> tuple[float, float]:
    """Wall and CPU seconds of the demo workflow with ``tree``'s code, from nothing
    (``start="scratch"``) or from the demo videos without results (``"results"``); the folder
    is kept, and printed, with ``keep``; every process's span is printed with ``timeline``."""
    work = Path(tempfile.mkdtemp(prefix="emoflow-demo-"))
    try:
        shutil.copy(tree / "Snakefile", work / "Snakefile")
        for name in ("workflow", "config"):
            shutil.copytree(tree / name, work / name)
        accounting = accounting_env(work / "cpu")  # every Python process records its CPU
        site = accounting["PYTHONPATH"].split(os.pathsep)[0]
        env = {**os.environ, **accounting, "PYTHONPATH": os.pathsep.join([site, str(tree)])}
        # each tree's package byte-compiled, as after a first run on a machine that writes
        # bytecode (``make setup``/``make demo`` do it; PYTHONDONTWRITEBYTECODE would
        # otherwise make every job compile the package again)
        _compile(tree / "emoflow")
        if start == "results":  # the data set a user already has: not timed
            _snakemake(work, env, ["--cores", str(cores), "--until", "make_demo"])
            shutil.rmtree(work / "results", ignore_errors=True)
        shutil.rmtree(work / "cpu" / "records")
        (work / "cpu" / "records").mkdir()
        cpu, begin = tree_cpu(), time.perf_counter()
        _snakemake(work, env, ["--cores", str(cores)])
        wall = time.perf_counter() - begin
        reap_orphans()  # the jobs' watchers, adopted by this process (become_subreaper)
        cpu = tree_cpu() - cpu
        records = read_records(work / "cpu")
        print(format_summary(summarise(records, cpu), f"{tree}"), flush=True)
        if timeline:
            print(format_timeline(records), flush=True)
    finally:
        if keep:
            print(f"  results of {tree} kept in {work}/results", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--start", choices=("results", "scratch"), nargs="+", default=["results", "scratch"]
    )
    parser.add_argument("--repeat", type=int, default=1, help="turns per tree (medians)")
    parser.add_argument("--keep", action="store_true", help="keep every run's folder")
    parser.add_argument(
        "--timeline", action="store_true", help="print every process's start, end and CPU"
    )
    args = parser.parse_args(argv)
    become_subreaper()
    trees = (("before", args.before.resolve()), ("this tree", REPO))
    print(f"{'start':>8} {'tree':>10} {'wall s':>8} {'CPU s':>8}", flush=True)
    summary = []
    for start in args.start:
        runs: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in trees}
        for _ in range(args.repeat):
            for label, tree in trees:
                wall, cpu = run_demo(tree, args.cores, start, args.keep, args.timeline)
                runs[label].append((wall, cpu))
                print(f"{start:>8} {label:>10} {wall:8.1f} {cpu:8.1f}", flush=True)
        (wall_0, cpu_0), (wall_1, cpu_1) = (
            (
                statistics.median(w for w, _ in runs[label]),
                statistics.median(c for _, c in runs[label]),
            )
            for label, _ in trees
        )
        summary.append(
            f"from {'clean results/' if start == 'results' else 'scratch':<15}"
            f" before {wall_0:6.1f} s wall {cpu_0:6.1f} s CPU | this tree {wall_1:6.1f} s wall"
            f" {cpu_1:6.1f} s CPU | {wall_0 / wall_1:.2f}x faster in wall time,"
            f" {cpu_0 / cpu_1:.2f}x in CPU (median of {args.repeat})"
        )
    print(f"before: {args.before.resolve()}")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

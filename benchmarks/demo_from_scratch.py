"""The whole demo workflow from scratch, this tree against another checkout, in one run.

Usage::

    .venv/bin/python benchmarks/demo_from_scratch.py --before ../old_checkout [--cores 2] [--keep]

For each tree (``--before`` first, then this one) the benchmark copies its ``Snakefile``,
``workflow/`` and ``config/`` into a fresh temporary folder and runs ``snakemake --cores C``
there with ``PYTHONPATH`` pointing at that tree's package: the demo data, landmarks, features,
every pruning iteration and the report, from nothing. It prints wall time and the CPU time of
the whole process tree side by side, and the ratios. On a shared machine compare figures of one
run only.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_demo(tree: Path, cores: int, keep: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds of the demo workflow from scratch with ``tree``'s code (its
    folder is kept, and printed, with ``keep``)."""
    work = Path(tempfile.mkdtemp(prefix="emoflow-demo-"))
    try:
        shutil.copy(tree / "Snakefile", work / "Snakefile")
        for name in ("workflow", "config"):
            shutil.copytree(tree / name, work / name)
        env = {**os.environ, "PYTHONPATH": str(tree)}
        cpu, start = _children_cpu(), time.perf_counter()
        done = subprocess.run(
            [SNAKEMAKE, "--cores", str(cores)], cwd=work, env=env, capture_output=True, text=True
        )
        wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
        if done.returncode != 0:
            raise SystemExit(f"{tree}: snakemake failed\n{done.stderr[-3000:]}")
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
    parser.add_argument("--keep", action="store_true", help="keep both runs' folders")
    args = parser.parse_args(argv)
    results = {}
    for label, tree in (("before", args.before.resolve()), ("this tree", REPO)):
        results[label] = run_demo(tree, args.cores, args.keep)
        wall, cpu = results[label]
        print(f"{label:>10}: {wall:7.1f} s wall, {cpu:7.1f} s CPU ({tree})", flush=True)
    (wall_0, cpu_0), (wall_1, cpu_1) = results["before"], results["this tree"]
    print(f"this tree is {wall_0 / wall_1:.2f}x faster in wall time, {cpu_0 / cpu_1:.2f}x in CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())

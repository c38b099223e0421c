"""The demo's pruning phase with 1 core and with more, side by side (issue #12).

Into a fresh temporary folder the benchmark copies the workflow and its configuration, builds
everything up to the feature store once (not timed), then for each core count removes the
pruning phase's outputs and runs it again with ``snakemake --cores C --resources gpu=G``
(``train.device: auto``: the train and attribute jobs declare a GPU and run on the CPU here,
each holding one of G device slots). It prints wall time, CPU time of the whole process tree
and the ratio to the first core count, plus the critical path of the DAG in jobs (the longest
chain of jobs after the features) and how many GPU jobs have no path between them.

Run it with::

    .venv/bin/python benchmarks/workflow.py                  # demo, 1 core vs all cores
    .venv/bin/python benchmarks/workflow.py --cores 1 2 4    # any core counts
    .venv/bin/python benchmarks/workflow.py --before ../old_checkout   # also the old DAG's path

On a shared machine compare figures of one run only; CPU time shows the work, wall time what
a user waits.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
GPU_RULES = ("train_models", "attribute_models")  # attribute_models: the old single chain
PRUNING_PHASE = (
    "start_landmark_set",
    "prune_landmarks",
    "train_models",
    "attribute_models",
    "gather_iteration",
    "summarise_iterations",
    "train_iteration",
)


def _copy_workflow(source: Path, target: Path) -> None:
    shutil.copy(source / "Snakefile", target / "Snakefile")
    shutil.copytree(source / "workflow", target / "workflow")
    shutil.copytree(source / "config", target / "config")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(workdir: Path, *args: str) -> tuple[float, float]:
    """Wall and CPU seconds of one Snakemake run (the CPU of all its jobs)."""
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run([SNAKEMAKE, *args], cwd=workdir, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return wall, _children_cpu() - cpu


def dag_paths(workdir: Path, *config: str) -> tuple[int, int]:
    """(critical path of the pruning phase in jobs, independent GPU jobs) of a DAG."""
    done = subprocess.run(
        [SNAKEMAKE, "--dag", "--forceall", *config],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"snakemake --dag failed:\n{done.stderr[-3000:]}")
    nodes = dict(re.findall(r'^\s*(\d+)\[label = "([a-z_]+)', done.stdout, re.MULTILINE))
    edges = re.findall(r"^\s*(\d+) -> (\d+)", done.stdout, re.MULTILINE)
    children: dict[str, list[str]] = {}
    for parent, child in edges:
        if nodes.get(parent) in PRUNING_PHASE and nodes.get(child) in PRUNING_PHASE:
            children.setdefault(parent, []).append(child)
    longest: dict[str, int] = {}

    def depth(node: str) -> int:
        if node not in longest:
            longest[node] = 1 + max((depth(child) for child in children.get(node, ())), default=0)
        return longest[node]

    phase = [node for node, rule in nodes.items() if rule in PRUNING_PHASE]
    critical = max((depth(node) for node in phase), default=0)
    reach: dict[str, set[str]] = {}
    all_children: dict[str, list[str]] = {}
    for parent, child in edges:
        all_children.setdefault(parent, []).append(child)

    def below(node: str) -> set[str]:
        if node not in reach:
            reach[node] = set()
            for child in all_children.get(node, ()):
                reach[node] |= {child} | below(child)
        return reach[node]

    independent: list[str] = []
    for node in (node for node, rule in nodes.items() if rule in GPU_RULES):
        if all(node not in below(o) and o not in below(node) for o in independent):
            independent.append(node)
    return critical, len(independent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument(
        "--before", type=Path, help="another checkout of emoflow whose DAG is measured too"
    )
    args = parser.parse_args()
    config = ["--config", "train={device: auto}"]
    with tempfile.TemporaryDirectory(prefix="emoflow_workflow_") as tmp:
        workdir = Path(tmp)
        _copy_workflow(REPO, workdir)
        print("building the demo up to its features (not timed) …", flush=True)
        _run(workdir, "--cores", str(max(args.cores)), "results/features.zarr", *config)
        critical, independent = dag_paths(workdir, *config)
        print(f"\ncritical path of the pruning phase: {critical} jobs; ", end="")
        print(f"GPU jobs with no path between them: {independent}")
        if args.before is not None:
            old = workdir / "before"
            old.mkdir()
            _copy_workflow(args.before.resolve(), old)
            old_critical, old_independent = dag_paths(old, *config)
            print(f"before ({args.before}): critical path {old_critical} jobs; ", end="")
            print(f"independent GPU jobs: {old_independent}")
        print(f"\n{'cores':>5}  {'gpu slots':>9}  {'wall s':>8}  {'CPU s':>8}  {'wall ratio':>10}")
        first_wall = None
        for cores in args.cores:
            for entry in (workdir / "results").glob("iter_*"):
                shutil.rmtree(entry)
            for name in ("summary.parquet", "report", "provenance.json"):
                target = workdir / "results" / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
            slots = min(cores, 2)
            wall, cpu = _run(workdir, "--cores", str(cores), "--resources", f"gpu={slots}", *config)
            first_wall = first_wall or wall
            ratio = first_wall / wall
            print(f"{cores:>5}  {slots:>9}  {wall:>8.1f}  {cpu:>8.1f}  {ratio:>9.2f}×", flush=True)
        print(
            f"\nmachine: {os.cpu_count()} cores; ratio = wall with {args.cores[0]} core(s) / wall"
        )


if __name__ == "__main__":
    main()

"""One iteration-0 training job at growing development-sample counts, before and after the
shared development kernel (issue 26), side by side in one run.

Usage::

    .venv/bin/python benchmarks/training_scale.py [--sizes 1408 2816 5632 11264]
        [--baseline-rev REV | --baseline-tree DIR] [--no-baseline]
        [--baseline-sizes 1408 2816 5632]
        [--threads 2] [--emotion happiness] [--json out.json]

Each size is a synthetic feature store of the demo's sample shape (8 frames × 478 landmarks
× 3; :func:`emoflow.synthetic.planted_features`, 8 emotions, 4 repetitions per subject and
emotion) with ``n / 32`` development subjects plus the 2 held-out test subjects of
``config/config.yaml``'s ``train`` section, whose settings the job trains with (3 outer folds,
3 inner folds, 5 λ: sixteen fits or ridge paths of the randomized network). Every job is
:func:`emoflow.training.train_emotion` of one emotion in a fresh Python process, once with this
tree's code and once with the tree of ``--baseline-rev`` (by default the commit before
``emoflow/models/_kernel.py`` was added), extracted with ``git archive``, or the checkout
``--baseline-tree`` (its ``emoflow`` package).

Reported per job, each process measured by itself, never sampled: the training call's wall
time and CPU time (``time.process_time``: every thread of the process), the whole process's
CPU time (``getrusage(RUSAGE_CHILDREN)`` of this benchmark around it: start-up and imports
included) and its peak resident memory (``ru_maxrss``: interpreter, torch and the features
included). Then the ratios before / after at each size, the growth of the training time from
each size to the next, and how far the new out-of-fold scores are from the old ones (largest
difference over the largest score, with the chosen λ of both).

The issue's bar: at 5.6k samples ≥ 2× faster than before and under 2 GB peak for the whole job;
training time growing ≤ 3× from 2.8k to 5.6k samples. Measured before (the issue): 10.3 /
30.8 / 127.1 s and 1.08 / 1.77 / 2.48 GB at 1,408 / 2,816 / 5,632 development samples.

Measured (one run each, ``--threads 1``, 2 cores shared with other work). The shared kernel
(``emoflow/models/_kernel.py``) took the job at 5,632 samples from 145.1 s wall (137.9 s CPU,
peak 1.60 GB) to 39.0 s (36.3 s CPU, 1.36 GB), scores within 5e-7 (that baseline can no longer
read the stores this tree writes). One float32 decomposition per ridge path (conjugate
gradients preconditioned by a float32 Cholesky factor, :func:`emoflow.models._kernel._dual_path`)
against that shared kernel's Cholesky factorisation per λ (``--baseline-tree`` of its checkout,
a quieter machine than the run above): at 1,408 / 2,816 / 5,632 samples before 2.5 / 7.1 /
25.2 s wall (2.6 / 7.2 / 24.7 s CPU), peak 0.58 / 0.91 / 1.36 GB; after 2.6 / 6.1 / 22.2 s
wall (2.6 / 6.2 / 21.8 s CPU), peak 0.51 / 0.87 / 1.42 GB: 1.13x less CPU at 5.6k, the same
model weights, out-of-fold scores and chosen λ (the Platt calibration within 2e-13). Growth from
2.8k to 5.6k: 3.61x wall, 3.49x CPU (3.55x / 3.42x before), over the bar of 3x. At 5.6k the
job's CPU is about 4.8 s for the Gram matrix (``O(n² p)``), 4.1 s for the folds' kernels
(slices of it and ``O(m² · width)`` hidden blocks), 6.5 s for the ridge solves (``O(m³)``
float32 factorisations and ``O(m²)`` steps) and 6.5 s of work linear in ``n`` (loading, hidden
layers, scoring, timing inference); each doubling multiplies these by about 4, 4, 5-8 and 2, so
a growth of 3x needs the linear work to outweigh the quadratic part plus five times the cubic
part, which at these sizes it does not.

Timing the model on a fixed batch (:data:`emoflow.models.evaluation.TIMING_SAMPLES`: the first
256 samples, where the job passed over every development sample six times), against
``--baseline-rev e5f49a9`` (one run, ``--threads 1``): at 1,408 / 2,816 / 5,632 samples before
2.7 / 7.1 / 26.6 s wall (2.8 / 7.2 / 26.8 s CPU), peak 0.59 / 0.89 / 1.45 GB; after 2.3 / 6.3 /
22.1 s wall (2.3 / 6.4 / 22.4 s CPU), peak 0.58 / 0.82 / 1.31 GB; out-of-fold scores and
chosen λ identical. Growth from 2.8k to 5.6k: 3.53x wall, 3.51x CPU (before 3.74x / 3.71x; an
earlier run of the same pair gave 3.76x after, 3.62x before: the growth moves by ±0.15 between
runs). Profiled after it (``cProfile``, one thread, one run each), the job at 2,816 / 5,632
samples is 6.7 / 23.5 s: the Gram matrix 1.5 / 5.6 s, the folds' kernels 1.0 / 4.6 s, the ridge
solves 1.2 / 7.5 s, everything else 3.0 / 5.9 s. Were the ridge solves free, the growth would
still be 2.90x. A float32 Gram matrix (tried, not kept) takes about 2.3 s off the job at 5.6k
and 0.6 s at 2.8k, so the growth stays where it is (the Gram matrix grows about 4x, as the job
does), and on the demo it moves the scores by up to 1.2e-5, over
:data:`~emoflow.models.SCORE_TOLERANCE` (the selected landmark sets, the metrics and the nested
evaluation's estimates unchanged).

On a shared machine compare figures of one run only (CPU time shows the work, wall time what
the other processes left of the cores).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REPETITIONS, N_EMOTIONS = 4, 8
EMOTIONS = ("anger", "calm", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")

_MAKE_STORE = """
import json, sys
from emoflow.synthetic import planted_features
n_subjects, path, landmarks = int(sys.argv[1]), sys.argv[2], sys.argv[3]
emotions = tuple(json.loads(sys.argv[4]))
data = planted_features(
    emotions=emotions, n_subjects=n_subjects, repetitions=4, n_frames=8, seed=0
)
data.write_store(path)
n_landmarks = data.features.shape[2]
with open(landmarks, "w") as out:
    json.dump({"emotions": {e: list(range(n_landmarks)) for e in emotions}}, out)
"""

_TRAIN = """
import json, resource, sys, time
from emoflow.training import train_emotion
store, landmarks, out, emotion = sys.argv[1:5]
train, threads = json.loads(sys.argv[5]), int(sys.argv[6])
start, cpu = time.perf_counter(), time.process_time()
metrics = train_emotion(
    store, landmarks, emotion, out + "/model.pt", out + "/metrics.json",
    out + "/scores.parquet", train=train, threads=threads,
)
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
record = metrics["emotions"][emotion]
print(json.dumps({
    "wall_s": wall, "cpu_s": cpu, "peak_gb": peak,
    "n_development": int(metrics.get("n_development", 0) or 0),
    "chosen": [fold["chosen"] for fold in record["folds"]] + [record["final"]["chosen"]],
}))
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _python(tree: Path, code: str, *args: str, threads: int) -> tuple[str, float]:
    """Run ``code`` with ``tree``'s emoflow in a fresh process: its stdout and its CPU time."""
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    before = _children_cpu()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, cwd=tree
    )
    cpu = _children_cpu() - before
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: {done.stderr.strip()[-2000:]}")
    return done.stdout, cpu


def _baseline_rev() -> str:
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "emoflow/models/_kernel.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"{added[-1]}^" if added else "HEAD"


def _extract(rev: str, folder: Path) -> Path:
    """The tree of ``rev`` (its ``emoflow`` package and config), without touching the repo."""
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", rev, "emoflow", "config"], cwd=REPO, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def _train_section() -> dict[str, Any]:
    import yaml

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text()) or {}
    train = dict(config.get("train", {}))
    train["device"] = "cpu"
    return train


def _scores(path: Path) -> Any:
    import polars as pl

    return pl.read_parquet(path).sort(["video_id", "model", "fold"])


def _distance(old: Path, new: Path) -> float:
    """Largest difference of the out-of-fold scores over the largest old score."""
    import numpy as np

    a, b = _scores(old), _scores(new)
    if a["video_id"].to_list() != b["video_id"].to_list():
        return float("nan")
    old_scores, new_scores = a["score"].to_numpy(), b["score"].to_numpy()
    return float(np.abs(new_scores - old_scores).max() / np.abs(old_scores).max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1408, 2816, 5632])
    parser.add_argument("--baseline-rev", default=None)
    parser.add_argument("--baseline-tree", type=Path, default=None, help="a checkout to compare")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--baseline-sizes", type=int, nargs="+", default=None, help="default: every size"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--emotion", default="happiness")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the stores and outputs")
    args = parser.parse_args(argv)

    train = _train_section()
    held_out = int(train.get("test_subjects", 0))
    work = Path(tempfile.mkdtemp(prefix="emoflow-training-scale-"))
    trees = [("after", REPO)]
    if args.baseline_tree is not None and not args.no_baseline:
        trees.insert(0, ("before", args.baseline_tree.resolve()))
        print(f"before: {trees[0][1]}; after: this tree ({REPO})")
    elif not args.no_baseline:
        rev = args.baseline_rev or _baseline_rev()
        trees.insert(0, ("before", _extract(rev, work / "baseline")))
        print(f"before: {rev} ({work / 'baseline'}); after: this tree ({REPO})")
    rows: list[dict[str, Any]] = []
    header = (
        f"{'samples':>8} {'tree':>7} {'train wall s':>12} {'train CPU s':>11}"
        f" {'process CPU s':>13} {'peak GB':>8}"
    )
    print(f"machine: {os.cpu_count()} cores, {args.threads} threads per job\n{header}")
    try:
        for n in args.sizes:
            folder = work / str(n)
            folder.mkdir()
            store, landmarks = folder / "features.zarr", folder / "landmarks.json"
            n_subjects = -(-n // (REPETITIONS * N_EMOTIONS)) + held_out
            _python(
                REPO,
                _MAKE_STORE,
                str(n_subjects),
                str(store),
                str(landmarks),
                json.dumps(EMOTIONS),
                threads=args.threads,
            )
            for label, tree in trees:
                if label == "before" and n not in (args.baseline_sizes or args.sizes):
                    continue
                out = folder / label
                out.mkdir()
                stdout, process_cpu = _python(
                    tree,
                    _TRAIN,
                    str(store),
                    str(landmarks),
                    str(out),
                    args.emotion,
                    json.dumps(train),
                    str(args.threads),
                    threads=args.threads,
                )
                result = json.loads(stdout.strip().splitlines()[-1])
                row = {"samples": n, "tree": label, "process_cpu_s": process_cpu, **result}
                rows.append(row)
                print(
                    f"{n:>8} {label:>7} {row['wall_s']:>12.1f} {row['cpu_s']:>11.1f}"
                    f" {process_cpu:>13.1f} {row['peak_gb']:>8.2f}",
                    flush=True,
                )
            if len(rows) > 1 and rows[-2]["samples"] == n:
                before, after = rows[-2], rows[-1]
                after["score_distance"] = _distance(
                    folder / "before" / "scores.parquet", folder / "after" / "scores.parquet"
                )
                after["same_choice"] = before["chosen"] == after["chosen"]
                print(
                    f"{n:>8} {'ratio':>7} {before['wall_s'] / after['wall_s']:>11.2f}x"
                    f" {before['cpu_s'] / after['cpu_s']:>10.2f}x"
                    f" {before['process_cpu_s'] / after['process_cpu_s']:>12.2f}x"
                    f" {before['peak_gb'] / after['peak_gb']:>7.2f}x"
                    f"   scores within {after['score_distance']:.1e} of before,"
                    f" same hyper-parameters chosen: {after['same_choice']}",
                    flush=True,
                )
            if not args.keep:
                shutil.rmtree(store)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print("\ngrowth of the training time from one size to the next (wall, CPU)")
    for label, _ in trees:
        mine = [row for row in rows if row["tree"] == label]
        for small, large in itertools.pairwise(mine):
            print(
                f"  {label:>7} {small['samples']:>6} -> {large['samples']:>6}:"
                f" {large['wall_s'] / small['wall_s']:5.2f}x wall,"
                f" {large['cpu_s'] / small['cpu_s']:5.2f}x CPU"
            )
    after = {row["samples"]: row for row in rows if row["tree"] == "after"}
    before = {row["samples"]: row for row in rows if row["tree"] == "before"}
    if 5632 in after:
        mine = after[5632]
        verdicts = [
            f"peak {mine['peak_gb']:.2f} GB ({'met' if mine['peak_gb'] < 2 else 'not met'})"
        ]
        if 5632 in before:
            speed = before[5632]["wall_s"] / mine["wall_s"]
            verdicts.insert(0, f"{speed:.2f}x faster ({'met' if speed >= 2 else 'not met'})")
        if 2816 in after:
            growth = mine["wall_s"] / after[2816]["wall_s"]
            verdicts.append(f"2.8k -> 5.6k {growth:.2f}x ({'met' if growth <= 3 else 'not met'})")
        print("bar at 5.6k samples: " + "; ".join(verdicts))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory of one randomized-network fit, at growing sample counts.

Usage::

    .venv/bin/python benchmarks/training_memory.py [--sizes 1000 4000 16000]
        [--baseline /path/to/old/tree] [--baseline-sizes 1000 4000] [--threads 2]

Every fit runs in a fresh subprocess on synthetic float32 features of the demo's shape
(8 frames × 478 landmarks × 3), with the default ``train.model`` settings (2 × 256 tanh,
direct links: a design of ~12k columns). Reported per size: the process's peak resident memory
(``ru_maxrss``: interpreter, torch and the inputs included), the resident memory just before the
fit, and the fit's own peak (the difference). With ``--baseline`` the same fits run against an
older checkout (``PYTHONPATH`` pointing at it) for comparison in the same run.

The issue's bar: 16k samples under 2 GB. The fit holds the smaller of the ``d × d`` Gram and
the ``n × n`` kernel in float64 plus one block of the design, never the ``n × d`` design; on the
CPU the primal Gram's lower triangle only (rectangular full packed format): at 16k samples
12k²/2 float64 = 0.58 GB instead of 1.15 GB. The caller's float32 inputs are 0.7 GB next to
torch's ~0.25 GB, and the standardised copy the hidden layers are computed from is another
0.7 GB while it lives.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHAPE = (8, 478, 3)

_CHILD = """
import json, resource, sys, time
import numpy as np, torch
torch.set_num_threads(int(sys.argv[2]))
from emoflow.models import NetworkSettings, RandomizedDeepNetwork

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

n = int(sys.argv[1])
shape = (n, 8, 478, 3)
rng = np.random.default_rng(0)
inputs = np.empty(shape, dtype=np.float32)
for start in range(0, n, 256):  # filled in chunks: no float64 copy of the whole array
    inputs[start : start + 256] = rng.standard_normal((min(256, n - start), *shape[1:]))
labels = (inputs[:, 0, 0, 0] + 0.5 * rng.standard_normal(n) > 0).astype(int)
net = RandomizedDeepNetwork(NetworkSettings(), device="cpu")
before = rss_mb()
start, cpu_start = time.perf_counter(), time.process_time()
net.fit(inputs, labels)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"n": n, "peak_mb": peak, "before_mb": before, "seconds": seconds, "cpu_s": cpu}))
"""


def _measure(tree: Path, n: int, threads: int) -> dict[str, float] | None:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(n), str(threads)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tree,
    )
    if done.returncode != 0:
        print(f"  n={n} failed in {tree}: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000])
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--baseline-sizes", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    rows: list[dict[str, object]] = []
    trees = [("this tree", REPO, args.sizes)]
    if args.baseline is not None:
        trees.append(("baseline", args.baseline, args.baseline_sizes))
    for label, tree, sizes in trees:
        for n in sizes:
            result = _measure(tree, n, args.threads)
            if result is not None:
                rows.append({"tree": label, **result})
                print(
                    f"{label:>10}  n={n:>6}  peak {result['peak_mb']:8.0f} MB"
                    f"  (before fit {result['before_mb']:6.0f} MB,"
                    f" fit adds {result['peak_mb'] - result['before_mb']:6.0f} MB)"
                    f"  {result['seconds']:6.1f} s wall, {result['cpu_s']:6.1f} s CPU",
                    flush=True,
                )
    ours = {row["n"]: row for row in rows if row["tree"] == "this tree"}
    for row in rows:
        if row["tree"] == "baseline" and row["n"] in ours:
            mine = ours[row["n"]]
            ratio = (float(row["peak_mb"]) - float(row["before_mb"])) / max(
                float(mine["peak_mb"]) - float(mine["before_mb"]), 1.0
            )
            print(f"n={row['n']}: the baseline's fit uses {ratio:.1f}× this tree's fit memory")
    if 16000 in ours:
        peak = float(ours[16000]["peak_mb"])
        fit = peak - float(ours[16000]["before_mb"])
        verdict = "met" if peak < 2048 else "not met by the whole process"
        print(
            f"bar, 16k samples under 2 GB: process peak {peak:.0f} MB ({verdict}); fit {fit:.0f} MB"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory, disk and time of one emotion's attribution job, at growing sample counts.

Usage::

    .venv/bin/python benchmarks/attribution_store.py [--sizes 1400 5600]
        [--baseline /path/to/old/tree] [--threads 1]

For each size, a planted feature store (:func:`emoflow.synthetic.planted_features`: six
emotions and neutral, 8 frames × 478 landmarks × 3, subjects × repetitions to reach the size)
and one emotion's randomized network (width 64, all landmarks) are made, then
:func:`emoflow.attribution.attribute_emotion` runs in a fresh process with the workflow's
default attribution settings (``samples: positive``: the emotion's own samples, 1/7 of them).
Reported per tree and size: the job's peak resident memory (``VmHWM``: interpreter, torch and
the features included), its resident memory before attributing, the difference (what the
attribution adds), the store's size on disk, its ``sample`` axis, and wall and CPU seconds.
With ``--baseline`` the same runs use an older checkout (``PYTHONPATH`` pointing at it), each
tree writing its own inputs, in the same run. Issue 26's measurement: a store sized for every
sample added 0.7 GB at 5.6k development samples.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
N_EMOTIONS = 7  # six emotions and neutral

_SETUP = """
import sys
from pathlib import Path
import numpy as np
from emoflow.synthetic import planted_features
from emoflow.storage.landmark_sets import write_landmark_sets
from emoflow.models import NetworkSettings, RandomizedDeepNetwork, save_model

n, out = int(sys.argv[1]), Path(sys.argv[2])
emotions = ("happiness", "sadness", "surprise", "anger", "disgust", "fear")
subjects = 40
repetitions = max(1, round(n / (subjects * 7)))
data = planted_features(
    emotions=emotions, n_subjects=subjects, repetitions=repetitions, n_frames=8, neutral=True,
    seed=0,
)
data.write_store(out / "features.zarr")
labels = (data.emotions == "happiness").astype(np.int64)
model = RandomizedDeepNetwork(NetworkSettings(width=64), device="cpu")
model.fit(data.features, labels)
save_model(model, out / "model.pt", metadata={"landmarks": list(range(478))})
write_landmark_sets(out / "landmarks.json", {"happiness": list(range(478))})
print(len(labels))
"""

_MEASURE = """
import json, sys, time
from pathlib import Path
out = Path(sys.argv[1])
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
import torch
torch.set_num_threads(int(sys.argv[2]))
from emoflow.attribution import attribute_emotion
from emoflow.features import load_features
load_features(out / "features.zarr")  # the job reads the store: its pages counted before
before = status("VmRSS")
start, cpu = time.perf_counter(), time.process_time()
attribute_emotion(
    out / "features.zarr", out / "landmarks.json", out / "model.pt", out / "attributions.zarr",
    emotion="happiness", device="cpu", threads=int(sys.argv[2]),
)
print(json.dumps({
    "peak_mb": status("VmHWM"), "before_mb": before,
    "seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
}))
"""


def _disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def _sample_axis(path: Path) -> int:
    meta = json.loads((path / "attributions" / "zarr.json").read_text())
    return int(meta["shape"][1])


def _run(tree: Path, n: int, threads: int) -> dict[str, float] | None:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory(prefix="emoflow-attribution-bench-") as folder:
        out = Path(folder)
        setup = subprocess.run(
            [sys.executable, "-c", _SETUP, str(n), str(out)],
            env=env,
            capture_output=True,
            text=True,
            cwd=tree,
        )
        if setup.returncode != 0:
            print(f"  setup n={n} failed in {tree}: {setup.stderr.strip().splitlines()[-1:]}")
            return None
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, str(out), str(threads)],
            env=env,
            capture_output=True,
            text=True,
            cwd=tree,
        )
        if done.returncode != 0:
            print(f"  n={n} failed in {tree}: {done.stderr.strip().splitlines()[-1:]}")
            return None
        result = dict(json.loads(done.stdout.strip().splitlines()[-1]))
        result["n"] = int(setup.stdout.strip().splitlines()[-1])
        result["disk_mb"] = _disk_mb(out / "attributions.zarr")
        result["sample_axis"] = _sample_axis(out / "attributions.zarr")
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1400, 5600])
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    trees = [("this tree", REPO)]
    if args.baseline is not None:
        trees.insert(0, ("baseline", args.baseline.resolve()))
    header = (
        f"{'tree':<10} {'samples':>7} {'axis':>5} {'peak MB':>8} {'before':>7} {'added':>7} "
        f"{'disk MB':>8} {'wall s':>7} {'CPU s':>6}"
    )
    print(header)
    results: dict[tuple[str, int], dict[str, float]] = {}
    for n in args.sizes:
        for name, tree in trees:
            found = _run(tree, n, args.threads)
            if found is None:
                continue
            results[(name, n)] = found
            print(
                f"{name:<10} {found['n']:>7} {found['sample_axis']:>5} {found['peak_mb']:>8.0f} "
                f"{found['before_mb']:>7.0f} {found['peak_mb'] - found['before_mb']:>7.0f} "
                f"{found['disk_mb']:>8.1f} {found['seconds']:>7.1f} {found['cpu_s']:>6.1f}",
                flush=True,
            )
    if args.baseline is not None:
        for n in args.sizes:
            old, new = results.get(("baseline", n)), results.get(("this tree", n))
            if old and new:
                added_old = old["peak_mb"] - old["before_mb"]
                added_new = new["peak_mb"] - new["before_mb"]
                print(
                    f"n={n}: peak {old['peak_mb']:.0f} → {new['peak_mb']:.0f} MB "
                    f"({old['peak_mb'] / new['peak_mb']:.2f}×), added by attribution "
                    f"{added_old:.0f} → {added_new:.0f} MB, disk {old['disk_mb']:.1f} → "
                    f"{new['disk_mb']:.1f} MB, wall {old['seconds']:.1f} → {new['seconds']:.1f} s"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

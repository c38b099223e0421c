"""How long Snakemake takes to plan emoflow's DAG for 1k, 5k and 20k videos (issue #7).

For each size the benchmark writes, into a fresh temporary folder, a copy of the workflow
(``Snakefile`` + ``workflow/``), a label file of that many videos (empty placeholder files: a
dry run never opens them) and a ``csv``-adapter configuration, then times

* ``build_manifest`` on the label file (the one step whose work is per video before
  extraction: it reads the labels and checks that every file exists), in this process;
* ``snakemake -n`` (a dry run from scratch: every job planned), in a child process whose peak
  resident memory is read back with ``getrusage``.

Landmark extraction is sharded: ``n_shards = max(min_shards, ceil(videos / videos_per_shard))``
(the rule the workflow applies when ``landmarks.videos_per_shard`` is set), so the DAG grows
by one job per ``videos_per_shard`` videos. ``--per-video`` instead plans one extraction job
per video, the layout the workflow avoids: it shows what that would cost.

Run it with::

    .venv/bin/python benchmarks/dag_scale.py                 # 1k, 5k, 20k videos
    .venv/bin/python benchmarks/dag_scale.py --per-video --sizes 1000 5000
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
EMOTIONS = ["happiness", "sadness", "surprise", "anger", "disgust", "fear"]

# Runs one command and prints its wall time and the peak RSS of its process tree's largest
# member (ru_maxrss of the waited-for children, in KiB on Linux) as JSON.
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[2:], cwd=sys.argv[1], capture_output=True, text=True)
seconds = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": done.returncode, "seconds": seconds, "peak_kib": peak_kib,
                  "out": done.stdout[-20000:], "err": done.stderr[-20000:]}))
"""


def n_shards_for(n_videos: int, videos_per_shard: int, min_shards: int) -> int:
    """Shards for ``n_videos``: at least ``min_shards``, at most ``videos_per_shard`` each."""
    return max(min_shards, math.ceil(n_videos / videos_per_shard))


def write_dataset(root: Path, n_videos: int, *, placeholder_files: bool = True) -> Path:
    """A ``path,label,subject`` label file of ``n_videos`` videos under ``root``."""
    videos = root / "videos"
    videos.mkdir(parents=True)
    n_subjects = max(4, n_videos // 60)
    label_file = root / "labels.csv"
    with label_file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "subject"])
        for index in range(n_videos):
            emotion = EMOTIONS[index % len(EMOTIONS)]
            subject = f"s{(index // len(EMOTIONS)) % n_subjects:05d}"
            name = f"{subject}_{emotion}_{index:06d}.mp4"
            if placeholder_files:
                (videos / name).touch()
            writer.writerow([f"videos/{name}", emotion, subject])
    return label_file


def has_videos_per_shard() -> bool:
    """Whether the workflow's schema offers ``landmarks.videos_per_shard``."""
    from emoflow.config import load_schema

    landmarks = load_schema()["properties"]["landmarks"]["properties"]
    return "videos_per_shard" in landmarks


def write_workflow(workdir: Path, label_file: Path, landmarks: dict[str, int]) -> None:
    """Copy the workflow next to a configuration for ``label_file``."""
    shutil.copy(REPO / "Snakefile", workdir / "Snakefile")
    shutil.copytree(REPO / "workflow", workdir / "workflow")
    (workdir / "config").mkdir()
    config = {
        "dataset": {"adapter": "csv", "source": str(label_file), "emotions": EMOTIONS},
        "landmarks": landmarks,
        "train": {"device": "auto"},
        "prune": {"iterations": 4},
    }
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))


def time_manifest(label_file: Path, out_dir: Path) -> float:
    """Seconds to build the manifest of ``label_file`` (file existence checked)."""
    from emoflow.manifest import build_manifest

    start = time.perf_counter()
    build_manifest("csv", label_file, out_dir / "manifest.parquet", emotions=EMOTIONS)
    return time.perf_counter() - start


def dry_run(workdir: Path, cores: int) -> dict[str, float | int]:
    """Plan the whole workflow with ``snakemake -n``; seconds, peak MiB and job count."""
    command = [SNAKEMAKE, "-n", "--cores", str(cores), "--workflow-profile", "none"]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(workdir), *command],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(done.stdout)
    if measured["rc"] != 0:
        raise RuntimeError(f"snakemake -n failed in {workdir}:\n{measured['err'][-3000:]}")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)\s*$", measured["out"], re.MULTILINE))
    return {
        "seconds": measured["seconds"],
        "peak_mib": measured["peak_kib"] / 1024,
        "jobs": int(counts.get("total", -1)),
        "shards": int(counts.get("extract_landmarks", -1)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--videos-per-shard", type=int, default=250)
    parser.add_argument("--min-shards", type=int, default=4)
    parser.add_argument(
        "--per-video", action="store_true", help="one extraction job per video (stress case)"
    )
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args(argv)

    # With landmarks.videos_per_shard in the schema the workflow counts the videos itself;
    # otherwise the benchmark sets n_shards by the same rule.
    by_option = has_videos_per_shard() and not args.per_video
    rows = []
    for n_videos in args.sizes:
        root = Path(tempfile.mkdtemp(prefix=f"emoflow-dag-{n_videos}-"))
        try:
            label_file = write_dataset(root / "data", n_videos)
            if by_option:
                landmarks = {"n_shards": args.min_shards, "videos_per_shard": args.videos_per_shard}
            elif args.per_video:
                landmarks = {"n_shards": n_videos}
            else:
                shards = n_shards_for(n_videos, args.videos_per_shard, args.min_shards)
                landmarks = {"n_shards": shards}
            workdir = root / "run"
            workdir.mkdir()
            write_workflow(workdir, label_file, landmarks)
            manifest_s = time_manifest(label_file, root)
            planned = dry_run(workdir, args.cores)
            rows.append({"videos": n_videos, "manifest_s": manifest_s, **planned})
            print(
                f"  {n_videos} videos: {planned['jobs']} jobs planned in "
                f"{planned['seconds']:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        finally:
            if args.keep:
                print(f"  kept {root}", file=sys.stderr)
            else:
                shutil.rmtree(root, ignore_errors=True)

    layout = "one job per video" if args.per_video else f"{args.videos_per_shard} videos/shard"
    if by_option:
        layout += ", set by landmarks.videos_per_shard"
    print(f"\nsnakemake -n of the whole emoflow workflow ({layout}, --cores {args.cores})\n")
    header = f"{'videos':>7} {'shards':>7} {'jobs':>6} {'plan s':>8} {'peak MiB':>9} "
    header += f"{'ms/job':>7} {'manifest s':>11}"
    print(header)
    print("-" * len(header))
    for row in rows:
        per_job = 1000 * row["seconds"] / max(1, row["jobs"])
        print(
            f"{row['videos']:>7} {row['shards']:>7} {row['jobs']:>6} {row['seconds']:>8.1f} "
            f"{row['peak_mib']:>9.0f} {per_job:>7.0f} {row['manifest_s']:>11.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

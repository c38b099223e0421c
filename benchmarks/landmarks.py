"""Landmark extraction throughput: emoflow versus the bare MediaPipe Face Mesh loop.

Run as ``.venv/bin/python benchmarks/landmarks.py`` (``--help`` for options). On the same
frames, pinned to one CPU core, it times

* **bare**: ``cv2.VideoCapture`` decode → RGB → ``FaceMesh.process``, nothing else (the Face
  Mesh instance is created inside the timing, as emoflow's is);
* **emoflow**: :func:`emoflow.landmarks.extract_videos` — decode, process, landmark decoding,
  face bookkeeping and the Parquet shard write, with the default settings
  (``max_num_faces=1``, ``refine_landmarks=True``, ``find_small_faces=True``);

first on one long video (640×360), then on a shard of many short videos, where it also shows
what one Face Mesh per video and one process per video would cost. Rounds alternate between
the runs and the best round of each is reported (the least disturbed by other processes),
as wall-clock time and as the process's CPU time (which other processes on a shared machine
disturb much less).

The videos are synthesised from the astronaut photograph bundled with scikit-image: the face
(about 200 pixels) drifts, turns and scales over a grey background.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import skimage.data

WIDTH, HEIGHT = 640, 360
FPS = 30.0
FACE_SIZE = 200


def synthetic_frame(index: int) -> np.ndarray:
    """Frame ``index`` of the synthetic video: the astronaut's face moving on grey, RGB."""
    face = cv2.resize(skimage.data.astronaut()[30:230, 125:325], (FACE_SIZE, FACE_SIZE))
    frame = np.full((HEIGHT, WIDTH, 3), 96, dtype=np.uint8)
    left = int(WIDTH / 2 - FACE_SIZE / 2 + 120 * np.sin(index / 40))
    top = int(HEIGHT / 2 - FACE_SIZE / 2 + 40 * np.sin(index / 25))
    frame[top : top + FACE_SIZE, left : left + FACE_SIZE] = face
    centre = (left + FACE_SIZE / 2, top + FACE_SIZE / 2)
    warp = cv2.getRotationMatrix2D(centre, 10 * np.sin(index / 15), 1 + 0.08 * np.cos(index / 20))
    return cv2.warpAffine(frame, warp, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REPLICATE)


def write_video(path: Path, n_frames: int, offset: int = 0) -> Path:
    """Write ``n_frames`` synthetic frames (from frame ``offset``) as an MPEG-4 video."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for index in range(offset, offset + n_frames):
        writer.write(cv2.cvtColor(synthetic_frame(index), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


FLUSH_FRAME = np.zeros((32, 32, 3), dtype=np.uint8)
"""A frame without a face: processing it ends Face Mesh's tracking (emoflow's reset)."""


def bare_loop(
    paths: list[Path], *, fresh_per_video: bool = False, reset_per_video: bool = False
) -> int:
    """Decode and process every frame with plain MediaPipe; return the frames processed.

    By default one Face Mesh runs through all videos, tracking a face from one video into the
    next. ``reset_per_video`` ends the tracking between videos the way emoflow does (so each
    video starts from detection); ``fresh_per_video`` creates a new Face Mesh per video.
    """
    from mediapipe.python.solutions import face_mesh

    def new_mesh() -> face_mesh.FaceMesh:
        return face_mesh.FaceMesh(max_num_faces=1, refine_landmarks=True)

    mesh = new_mesh()
    n_frames = 0
    for path in paths:
        if fresh_per_video and n_frames:
            mesh.close()
            mesh = new_mesh()
        elif reset_per_video and n_frames:
            mesh.process(FLUSH_FRAME)
        capture = cv2.VideoCapture(str(path))
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            mesh.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            n_frames += 1
        capture.release()
    mesh.close()
    return n_frames


def emoflow_shard(paths: list[Path], out: Path) -> int:
    """Extract every video into one shard with emoflow; return the frames processed."""
    from emoflow.landmarks import extract_videos

    summary = extract_videos([(path.stem, str(path)) for path in paths], out)
    return sum(record["frames"] for record in summary.values())


class Timing(NamedTuple):
    """Best wall-clock and CPU seconds of one run over the rounds, and its frame count."""

    wall_s: float
    cpu_s: float
    frames: int


def best_of(rounds: int, runs: dict[str, Callable[[], int]]) -> dict[str, Timing]:
    """Alternate the runs ``rounds`` times; per run, the best wall and CPU times."""
    walls: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    frames: dict[str, int] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            wall_started, cpu_started = time.perf_counter(), time.process_time()
            frames[name] = run()
            cpus[name].append(time.process_time() - cpu_started)
            walls[name].append(time.perf_counter() - wall_started)
    for name, values in walls.items():
        spread = statistics.median(values) / min(values) - 1
        print(
            f"  {name}: best {min(values):.3f} s wall (median +{spread:.1%}), "
            f"{min(cpus[name]):.3f} s CPU"
        )
    return {name: Timing(min(walls[name]), min(cpus[name]), frames[name]) for name in runs}


def startup_seconds() -> float:
    """Wall time of a fresh Python process that imports emoflow's extraction and MediaPipe."""
    code = "import emoflow.landmarks, mediapipe.python.solutions.face_mesh"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames of the long video")
    parser.add_argument("--videos", type=int, default=40, help="short videos in the shard")
    parser.add_argument("--video-frames", type=int, default=15, help="frames per short video")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    parser.add_argument("--core", type=int, help="CPU core to pin to (default: the last one)")
    args = parser.parse_args()

    cores = sorted(os.sched_getaffinity(0))
    core = cores[-1] if args.core is None else args.core
    os.sched_setaffinity(0, {core})
    logging.disable(logging.WARNING)
    import mediapipe

    print(
        f"emoflow landmark benchmark — MediaPipe {mediapipe.__version__}, OpenCV "
        f"{cv2.__version__}, pinned to CPU core {core} of {os.cpu_count()}"
    )
    with tempfile.TemporaryDirectory(prefix="emoflow-bench-") as tmp:
        folder = Path(tmp)
        long_video = write_video(folder / "long.mp4", args.frames)
        shorts = [
            write_video(folder / f"short_{i:03d}.mp4", args.video_frames, offset=7 * i)
            for i in range(args.videos)
        ]
        # warm up: import the libraries and load the models once, outside the timings
        bare_loop(shorts[:1])
        emoflow_shard(shorts[:1], folder / "warm_up.parquet")

        print(f"\nlong video: {args.frames} frames, {WIDTH}x{HEIGHT}")
        long = best_of(
            args.rounds,
            {
                "bare": lambda: bare_loop([long_video]),
                "emoflow": lambda: emoflow_shard([long_video], folder / "long.parquet"),
            },
        )
        print(f"\nshard: {args.videos} videos x {args.video_frames} frames, {WIDTH}x{HEIGHT}")
        shard = best_of(
            args.rounds,
            {
                "bare": lambda: bare_loop(shorts),
                "emoflow": lambda: emoflow_shard(shorts, folder / "shard.parquet"),
                "bare, tracking reset per video": lambda: bare_loop(shorts, reset_per_video=True),
                "bare, new FaceMesh per video": lambda: bare_loop(shorts, fresh_per_video=True),
            },
        )
        startup = startup_seconds()

    print()
    header = (
        f"{'job':<38}{'frames':>7}{'wall s':>8}{'frames/s':>10}{'x bare':>8}"
        f"{'CPU s':>8}{'frames/CPU s':>14}{'x bare':>8}"
    )
    print(header)
    print("-" * len(header))
    for label, results, name in (
        ("long video: bare MediaPipe loop", long, "bare"),
        ("long video: emoflow extract_videos", long, "emoflow"),
        ("shard: bare MediaPipe loop", shard, "bare"),
        ("shard: emoflow extract_videos", shard, "emoflow"),
        ("shard: bare, tracking reset per video", shard, "bare, tracking reset per video"),
        ("shard: bare, new FaceMesh per video", shard, "bare, new FaceMesh per video"),
    ):
        run, bare = results[name], results["bare"]
        wall_rate, cpu_rate = run.frames / run.wall_s, run.frames / run.cpu_s
        print(
            f"{label:<38}{run.frames:>7}{run.wall_s:>8.3f}{wall_rate:>10.1f}"
            f"{wall_rate / (bare.frames / bare.wall_s):>8.3f}{run.cpu_s:>8.3f}{cpu_rate:>14.1f}"
            f"{cpu_rate / (bare.frames / bare.cpu_s):>8.3f}"
        )
    n_videos = args.videos
    per_video = (shard["emoflow"].wall_s - shard["bare"].wall_s) / n_videos
    per_video_cpu = (shard["emoflow"].cpu_s - shard["bare"].cpu_s) / n_videos
    reset = shard["bare, tracking reset per video"]
    reset_wall = (reset.wall_s - shard["bare"].wall_s) / n_videos
    reset_cpu = (reset.cpu_s - shard["bare"].cpu_s) / n_videos
    fresh = shard["bare, new FaceMesh per video"]
    fresh_wall = (fresh.wall_s - shard["bare"].wall_s) / n_videos
    fresh_cpu = (fresh.cpu_s - shard["bare"].cpu_s) / n_videos
    print()
    print("per video, over the bare loop that tracks one face through all videos:")
    print(
        f"  emoflow shard (reset + bookkeeping + write): {1000 * per_video:+6.1f} ms wall, "
        f"{1000 * per_video_cpu:+6.1f} ms CPU"
    )
    print(
        f"  of which the tracking reset alone (bare):    {1000 * reset_wall:+6.1f} ms wall, "
        f"{1000 * reset_cpu:+6.1f} ms CPU"
    )
    print(
        f"  a new FaceMesh per video instead:            {1000 * fresh_wall:+6.1f} ms wall, "
        f"{1000 * fresh_cpu:+6.1f} ms CPU"
    )
    print(f"  a new Python process per video (start-up):   {1000 * startup:+6.0f} ms wall")


if __name__ == "__main__":
    main()

"""Landmark extraction throughput: emoflow versus the bare MediaPipe Face Mesh loop.

Run as ``.venv/bin/python benchmarks/landmarks.py`` (``--help`` for options). On the same
frames, pinned to one CPU core, it times

* **bare**: ``cv2.VideoCapture`` decode → RGB → ``FaceMesh.process``, nothing else (the Face
  Mesh instance is created inside the timing, as emoflow's is);
* **emoflow**: :func:`emoflow.landmarks.extract_videos` — decode, process, landmark decoding,
  face bookkeeping and the Parquet shard write, with the default settings
  (``max_num_faces=1``, ``refine_landmarks=True``, ``find_small_faces=True``);

first on one long video (640×360), then on a shard of many short videos, where it also shows
what one Face Mesh per video and one process per video would cost. Last, on a 1280×720 clip
made by the demo's renderer (the astronaut's face, animated), it compares

* **sampled**: ``extract_videos(frames="sampled")`` — every frame decoded, only the frames the
  features read meshed (:meth:`emoflow.features.FeatureSettings.frames_read`, 14 of 105 at
  ``n_frames = 8``), the shard written;
* with the bare all-frames loop, in frames of video per CPU second, and reports the mean
  landmark difference (pixels) between sampled and all-frames extraction on the sampled frames,
  next to the difference static-image mode makes on the same frames, and how long reaching the
  sampled frames takes by sequential decoding (``grab``), by seeking and by emoflow's selective
decoding, which bounds the gain of sampling (all-frames extraction over that decoding alone),
and what FFmpeg's decoder shortcuts (:data:`DECODER_SHORTCUTS`: no deblocking, no IDCT, B-frames
skipped) would save and change in the sampled frames' pixels. Rounds alternate between
the runs and the best round of each is reported (the least disturbed by other processes),
as wall-clock time and as the process's CPU time (which other processes on a shared machine
disturb much less).

The HD clip comes as MPEG-4 part 2 (``mp4v``, through OpenCV) and as RAVDESS-like H.264
(``h264``: libx264 through PyAV at 8.4 Mbps, 120 frames with ``--hd-frames 120``, x264's
B-frames and key-frame interval; ``--keyint`` shortens it), each described by its packets.
With ``--baseline DIR`` (another checkout of emoflow, e.g. ``git worktree add /tmp/main
main``) the HD section also times that emoflow's extraction and today's, all frames and
sampled, each round in a process of its own (per-process CPU time, read by the process
itself), and compares their features.

The videos are synthesised from the astronaut photograph bundled with scikit-image: the face
(about 200 pixels) drifts, turns and scales over a grey background.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

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


HD_WIDTH, HD_HEIGHT = 1280, 720


H264_BIT_RATE = 8_400_000
"""Bits per second of the H.264 clip: RAVDESS's 720p videos run at about 8.4 Mbps."""


def hd_clip(path: Path, n_frames: int, codec: str = "mp4v", keyint: int | None = None) -> Path:
    """A 1280×720, 30 fps clip: a demo video rendered at 720×720 (the astronaut photograph,
    a subject's head motion and a happiness expression) centred on a grey canvas.

    ``codec`` ``mp4v``: MPEG-4 part 2 through OpenCV (no B-frames, a key frame every 12
    frames). ``h264``: RAVDESS-like H.264 through PyAV's libx264 at :data:`H264_BIT_RATE`,
    x264's defaults (B-frames, B-pyramid, a key frame every 250 frames unless ``keyint``).
    """
    from emoflow.demo.render import render_video
    from emoflow.demo.spec import DemoSpec
    from emoflow.demo.subjects import make_subject

    spec = DemoSpec(n_frames=n_frames, size=HD_HEIGHT, fps=FPS)
    square = path.with_name(path.stem + "_square.mp4")
    render_video(square, make_subject(0, spec), "happiness", 1, spec)
    capture = cv2.VideoCapture(str(square))
    left = (HD_WIDTH - HD_HEIGHT) // 2
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        canvas = np.full((HD_HEIGHT, HD_WIDTH, 3), 96, dtype=np.uint8)
        canvas[:, left : left + HD_HEIGHT] = bgr
        frames.append(canvas)
    capture.release()
    if codec == "mp4v":
        fourcc = cv2.VideoWriter.fourcc(*"mp4v")
        writer = cv2.VideoWriter(str(path), fourcc, FPS, (HD_WIDTH, HD_HEIGHT))
        for canvas in frames:
            writer.write(canvas)
        writer.release()
        return path
    import av

    options = {"x264-params": f"keyint={keyint}:min-keyint={keyint}"} if keyint else {}
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=int(FPS), options=options)
        stream.width, stream.height, stream.pix_fmt = HD_WIDTH, HD_HEIGHT, "yuv420p"
        stream.bit_rate = H264_BIT_RATE
        for canvas in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(canvas, format="bgr24")))
        out.mux(stream.encode())
    return path


def clip_description(path: Path) -> str:
    """Codec, bit rate, frames, key frames and B-frames of a clip (from its packets)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [packet for packet in container.demux(stream) if packet.size]
        seconds = float(len(packets) / stream.average_rate)
        keys = sum(packet.is_keyframe for packet in packets)
        reordered = sum(packet.pts != packet.dts for packet in packets)
        bits = sum(packet.size for packet in packets) * 8
        name = stream.codec_context.name
    return (
        f"{name}, {bits / seconds / 1e6:.1f} Mbps, {len(packets)} frames, {keys} key frame(s), "
        f"{reordered} frames out of decoding order (B-frames and the frames they precede)"
    )


def extract_table(path: Path | list[Path], out: Path, **options: object) -> int:
    """``extract_videos`` of one clip (or a shard of clips) with ``options``; return the frames
    of video they hold."""
    from emoflow.landmarks import extract_videos

    paths = [path] if isinstance(path, Path) else path
    videos = [(f"{p.stem}_{i}", str(p)) for i, p in enumerate(paths)]
    summary = extract_videos(videos, out, **options)  # type: ignore[arg-type]
    return sum(record["frames"] for record in summary.values())


def frame_pixels(table_path: Path, frames: np.ndarray) -> np.ndarray:
    """``(len(frames), 478, 2)`` landmark x, y in pixels of the HD clip's table."""
    from emoflow.landmarks import landmarks_array, read_landmarks

    table = read_landmarks(table_path)
    landmarks, _ = landmarks_array(table, table["video_id"][0])
    return landmarks[frames, :, :2] * np.array([HD_WIDTH, HD_HEIGHT])


def decode_seconds(path: Path, frames: np.ndarray, *, seek: bool) -> float:
    """CPU seconds to obtain ``frames`` of ``path`` as RGB: by ``grab`` through every frame,
    or by seeking to each (``CAP_PROP_POS_FRAMES``)."""
    started = time.process_time()
    capture = cv2.VideoCapture(str(path))
    wanted = set(frames.tolist())
    if seek:
        for frame in frames:
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(frame))
            ok, bgr = capture.read()
            if not ok:
                raise RuntimeError(f"{path}: seeking to frame {frame} failed")
            cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    else:
        index = 0
        while capture.grab():
            if index in wanted:
                cv2.cvtColor(capture.retrieve()[1], cv2.COLOR_BGR2RGB)
            index += 1
    capture.release()
    return time.process_time() - started


CHILD = """
import json, logging, os, sys, time
sys.path.insert(0, sys.argv[1])
os.sched_setaffinity(0, {int(sys.argv[2])})
logging.disable(logging.WARNING)
from emoflow.landmarks import extract_videos
clip, out, frames = sys.argv[3], sys.argv[4], sys.argv[5]
rounds, copies = int(sys.argv[6]), int(sys.argv[7])
options = {} if frames == "all" else {"frames": "sampled", "feature_frames": 8}
videos = [(f"v{i}", clip) for i in range(copies)]
extract_videos(videos[:1], out, **options)  # warm-up: Face Mesh models loaded
cpu, wall = [], []
for _ in range(rounds):
    started, cpu_started = time.perf_counter(), time.process_time()
    extract_videos(videos, out, **options)
    cpu.append(time.process_time() - cpu_started)
    wall.append(time.perf_counter() - started)
print(json.dumps({"cpu": cpu, "wall": wall, "file": __import__("emoflow").__file__}))
"""
"""One timed extraction in a process of its own, with the emoflow found at ``sys.argv[1]``:
its own CPU time (``time.process_time``: every thread of the process, read by the process
itself, not sampled) and wall time per round."""


def child_timing(
    root: Path, core: int, clip: Path, out: Path, frames: str, rounds: int, copies: int
) -> dict[str, list[float]]:
    """Run :data:`CHILD` with the emoflow package of ``root`` (a checkout)."""
    import json

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(root),
            str(core),
            str(clip),
            str(out),
            frames,
            str(rounds),
            str(copies),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def before_after(
    folder: Path, clip: Path, baseline: Path, rounds: int, core: int, copies: int
) -> None:
    """Today's extraction against ``baseline``'s (another checkout of emoflow), all frames and
    sampled, each in processes of its own, alternating, on the same clip and core."""
    current = Path(__file__).resolve().parents[1]
    runs = {
        (name, frames): []  # type: ignore[var-annotated]
        for name in ("before", "after")
        for frames in ("all", "sampled")
    }
    roots = {"before": baseline.resolve(), "after": current}
    for _ in range(rounds):
        for (name, frames), timings in runs.items():
            timings.append(
                child_timing(
                    roots[name], core, clip, folder / f"{name}_{frames}.parquet", frames, 1, copies
                )
            )
    print(f"\nbefore ({roots['before']}) and after ({roots['after']}), {copies} clip(s) per")
    print(f"timed shard, best of {rounds} processes each (per-process CPU, pinned to core {core})")
    header = f"{'':<10}{'frames':<9}{'CPU s':>8}{'wall s':>8}{'x all-frames, CPU':>20}"
    print(header)
    print("-" * len(header))
    best = {
        key: (min(t["cpu"][0] for t in timings), min(t["wall"][0] for t in timings))
        for key, timings in runs.items()
    }
    for (name, frames), (cpu, wall) in best.items():
        ratio = best[(name, "all")][0] / cpu
        print(f"{name:<10}{frames:<9}{cpu:>8.3f}{wall:>8.3f}{ratio:>20.2f}")
    after_sampled = best[("after", "sampled")][0]
    over_all = best[("before", "all")][0] / after_sampled
    over_sampled = best[("before", "sampled")][0] / after_sampled
    print(
        f"sampled after vs all-frames before: {over_all:.2f}x CPU; "
        f"sampled after vs sampled before: {over_sampled:.2f}x CPU"
    )
    from emoflow.features import FeatureSettings, features_from_landmarks

    settings = FeatureSettings(n_frames=8)
    features = {
        key: features_from_landmarks(folder / f"{key[0]}_{key[1]}.parquet", settings)[0]
        for key in runs
    }
    reference = features[("before", "all")]
    print("features (n_frames = 8) against all-frames before, max |difference|, interocular units:")
    for key, values in features.items():
        print(f"  {key[0]} {key[1]}: {np.abs(values - reference).max():.3g}")
    print(
        "  sampled after vs sampled before: "
        f"{np.abs(features[('after', 'sampled')] - features[('before', 'sampled')]).max():.3g}"
    )


def decode_costs(path: Path, wanted: np.ndarray, rounds: int) -> dict[str, float]:
    """CPU seconds to decode the clip: every frame (PyAV, one thread), and only what the
    ``wanted`` frames need (emoflow's selective decoding)."""
    import av

    from emoflow.video import open_frame_slots

    def every() -> None:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            for _ in container.decode(stream):
                pass

    def selected() -> None:
        _, frames = open_frame_slots(path, select=lambda times: wanted.tolist(), threads=1)
        for _ in frames:
            pass

    costs = {}
    for name, run in (("every frame", every), ("selected frames", selected)):
        best = math.inf
        for _ in range(rounds):
            started = time.process_time()
            run()
            best = min(best, time.process_time() - started)
        costs[name] = best
    return costs


DECODER_SHORTCUTS: dict[str, tuple[dict[str, str], Any]] = {
    "exact (unreferenced frames skipped)": ({}, "NONREF"),
    "+ flags2 fast": ({"flags2": "+fast"}, "NONREF"),
    "+ no deblocking (skip_loop_filter all)": ({"skip_loop_filter": "all"}, "NONREF"),
    "+ no IDCT (skip_idct all)": ({"skip_idct": "all"}, "NONREF"),
    "B-frames not meshed skipped (skip_frame bidir)": ({}, "BIDIR"),
}
"""FFmpeg decoder settings tried for the frames sampled extraction decodes: codec-context
options for the whole stream, and the ``skip_frame`` level of the packets of frames not meshed
(emoflow's is ``NONREF``: a frame no other frame refers to is not decoded)."""


def decoder_shortcuts(
    path: Path, wanted: np.ndarray, rounds: int
) -> dict[str, tuple[float, float, float]]:
    """Per :data:`DECODER_SHORTCUTS` entry: best CPU seconds to decode the ``wanted`` frames
    sequentially (one thread, RGB), and the mean and max absolute pixel difference of those
    frames from the exact decode (0-255)."""
    import av

    def decode(options: dict[str, str], skip: Any) -> tuple[float, list[np.ndarray]]:
        started = time.process_time()
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            context = stream.codec_context
            context.thread_count, context.thread_type = 1, "SLICE"
            context.options = options
            packets = [packet for packet in container.demux(stream) if packet.size]
            times = sorted(int(packet.pts or 0) for packet in packets)
            needed = {times[int(i)] for i in wanted}
            frames: dict[int, np.ndarray] = {}
            for packet in [*packets, None]:
                context.skip_frame = "DEFAULT" if packet is None or packet.pts in needed else skip
                for frame in context.decode(packet):
                    if frame.pts in needed:
                        frames[frame.pts] = frame.to_ndarray(format="rgb24")
        return time.process_time() - started, [frames[times[int(i)]] for i in wanted]

    exact = decode({}, "NONREF")[1]
    results = {}
    for name, (options, skip) in DECODER_SHORTCUTS.items():
        best = math.inf
        for _ in range(rounds):
            seconds, frames = decode(options, skip)
            best = min(best, seconds)
        diff = np.abs(np.stack(frames).astype(np.int16) - np.stack(exact))
        results[name] = (best, float(diff.mean()), float(diff.max()))
    return results


def sampled_section(
    folder: Path,
    n_frames: int,
    feature_frames: int,
    rounds: int,
    shard_clips: int = 1,
    codec: str = "mp4v",
    keyint: int | None = None,
    baseline: Path | None = None,
    core: int = 0,
) -> None:
    """Sampled-frame extraction versus the all-frames bare loop on a 1280×720 clip (or on a
    shard of ``shard_clips`` copies of it, as the workflow's jobs extract: one Face Mesh graph
    and one face detector per shard, not per clip); with ``baseline``, before and after."""
    from emoflow.features import FeatureSettings

    clip = hd_clip(folder / f"hd_{codec}.mp4", n_frames, codec, keyint)
    sampled = FeatureSettings(n_frames=feature_frames).frames_read(n_frames)
    print(
        f"\nHD clip ({codec}): {n_frames} frames, {HD_WIDTH}x{HD_HEIGHT}, "
        f"{clip_description(clip)}; features of {feature_frames} frames read {len(sampled)}: "
        f"{sampled.tolist()}"
    )
    clips = [clip] * shard_clips
    if shard_clips > 1:
        print(f"timed on a shard of {shard_clips} copies of the clip (per-shard set-up shared)")
    timings = best_of(
        rounds,
        {
            "bare, all frames": lambda: bare_loop(clips),
            "emoflow, all frames": lambda: extract_table(clips, folder / "all_shard.parquet"),
            "emoflow, sampled": lambda: extract_table(
                clips,
                folder / "sampled_shard.parquet",
                frames="sampled",
                feature_frames=feature_frames,
            ),
        },
    )
    extract_table(clip, folder / "all.parquet")
    extract_table(clip, folder / "sampled.parquet", frames="sampled", feature_frames=feature_frames)
    extract_table(clip, folder / "static.parquet", static_image_mode=True)
    all_frames = frame_pixels(folder / "all.parquet", sampled)
    sampled_diff = np.linalg.norm(
        frame_pixels(folder / "sampled.parquet", sampled) - all_frames, axis=-1
    )
    static_diff = np.linalg.norm(
        frame_pixels(folder / "static.parquet", sampled) - all_frames, axis=-1
    )
    grab_s = min(decode_seconds(clip, sampled, seek=False) for _ in range(rounds))
    seek_s = min(decode_seconds(clip, sampled, seek=True) for _ in range(rounds))
    decoding = decode_costs(clip, sampled, rounds)
    bare = timings["bare, all frames"]
    print()
    header = f"{'job':<34}{'CPU s':>8}{'wall s':>8}{'video frames/CPU s':>20}{'x bare':>8}"
    print(header)
    print("-" * len(header))
    for name, run in timings.items():
        rate = run.frames / run.cpu_s
        print(
            f"{name:<34}{run.cpu_s:>8.3f}{run.wall_s:>8.3f}{rate:>20.1f}"
            f"{rate / (bare.frames / bare.cpu_s):>8.2f}"
        )
    every = timings["emoflow, all frames"]
    ratio = every.cpu_s / timings["emoflow, sampled"].cpu_s
    print(f"emoflow sampled vs emoflow all frames: {ratio:.2f}x CPU")
    print(
        f"\nlandmark difference on the {len(sampled)} sampled frames, x-y pixels, vs all-frame "
        f"video mode:\n  sampled video mode: mean {sampled_diff.mean():.3f} px, "
        f"max {sampled_diff.max():.3f} px\n  static-image mode:  mean {static_diff.mean():.3f} "
        f"px, max {static_diff.max():.3f} px (the difference video mode already makes)"
    )
    print(
        f"reaching the {len(sampled)} sampled frames as RGB (decode only, best of {rounds}): "
        f"OpenCV grab through all {grab_s:.3f} s CPU, OpenCV seek to each {seek_s:.3f} s CPU; "
        f"PyAV every frame {decoding['every frame']:.3f} s, emoflow's selective decoding "
        f"(skip unreferenced frames, seek to key frames) {decoding['selected frames']:.3f} s"
    )
    ceiling = every.cpu_s / decoding["selected frames"]
    print(
        "emoflow all frames over emoflow's selective decoding alone (the most sampled "
        f"extraction could gain were meshing free): {ceiling:.2f}x CPU"
    )
    print(
        f"decoder settings for the {len(sampled)} sampled frames (sequential, one thread, RGB; "
        f"best of {rounds}), pixel difference from the exact decode:"
    )
    for name, (seconds, mean, most) in decoder_shortcuts(clip, sampled, rounds).items():
        print(f"  {name:<48}{seconds:>7.3f} s CPU  mean {mean:.3f}, max {most:.0f}")
    if baseline is not None:
        before_after(folder, clip, baseline, rounds, core, shard_clips)


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
    parser.add_argument("--hd-frames", type=int, default=105, help="frames of the HD clip")
    parser.add_argument("--feature-frames", type=int, default=8, help="features.n_frames")
    parser.add_argument(
        "--only-sampled", action="store_true", help="run only the HD sampled-frame comparison"
    )
    parser.add_argument(
        "--shard-clips", type=int, default=1, help="copies of the HD clip per timed shard"
    )
    parser.add_argument(
        "--hd-codec",
        choices=["mp4v", "h264"],
        action="append",
        help="codec of the HD clip (repeat for both; default: mp4v and h264)",
    )
    parser.add_argument(
        "--keyint", type=int, help="H.264 key frame interval (default: x264's, 250 frames)"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another emoflow checkout (e.g. main) to time before/after on the HD clips, each "
        "run in a process of its own",
    )
    args = parser.parse_args()
    codecs = args.hd_codec or ["mp4v", "h264"]

    cores = sorted(os.sched_getaffinity(0))
    core = cores[-1] if args.core is None else args.core
    os.sched_setaffinity(0, {core})
    logging.disable(logging.WARNING)
    import mediapipe

    print(
        f"emoflow landmark benchmark — MediaPipe {mediapipe.__version__}, OpenCV "
        f"{cv2.__version__}, pinned to CPU core {core} of {os.cpu_count()}"
    )
    if args.only_sampled:
        with tempfile.TemporaryDirectory(prefix="emoflow-bench-") as tmp:
            bare_loop([write_video(Path(tmp) / "warm.mp4", 5)])  # load the models once
            for codec in codecs:
                sampled_section(
                    Path(tmp),
                    args.hd_frames,
                    args.feature_frames,
                    args.rounds,
                    args.shard_clips,
                    codec,
                    args.keyint,
                    args.baseline,
                    core,
                )
        return
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
    with tempfile.TemporaryDirectory(prefix="emoflow-bench-") as tmp:
        for codec in codecs:
            sampled_section(
                Path(tmp),
                args.hd_frames,
                args.feature_frames,
                args.rounds,
                args.shard_clips,
                codec,
                args.keyint,
                args.baseline,
                core,
            )


if __name__ == "__main__":
    main()

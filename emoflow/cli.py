"""The ``emoflow`` command line: the same functions the workflow's rules call.

Examples
--------
``emoflow demo data/demo`` writes the synthetic demo data set;
``emoflow landmarks clip.mp4 -o clip.parquet`` extracts one video's (or frame folder's)
landmark table.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from emoflow import __version__
from emoflow.errors import EmoflowError

log = logging.getLogger("emoflow")


def _demo(args: argparse.Namespace) -> int:
    from emoflow.demo import DemoSpec, make_demo

    spec = DemoSpec(
        n_subjects=args.subjects,
        repetitions=args.repetitions,
        n_frames=args.frames,
        size=args.size,
        seed=args.seed,
    )
    labels = make_demo(args.out_dir, spec)
    print(f"demo data set written: {labels}")
    return 0


def _landmarks(args: argparse.Namespace) -> int:
    from emoflow.landmarks import extract_videos

    source = Path(args.source)
    video_id = args.video_id or source.stem
    summary = extract_videos(
        [(video_id, str(source))],
        args.output,
        strict=True,
        fps=args.fps,
        refine_landmarks=not args.no_refine,
    )
    print(json.dumps({"out": args.output, **summary}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emoflow",
        description="Explainable, fast facial-emotion recognition from video.",
    )
    parser.add_argument("--version", action="version", version=f"emoflow {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="write the synthetic demo data set")
    demo.add_argument("out_dir", help="folder for videos/, labels.csv and ground_truth.json")
    demo.add_argument("--subjects", type=int, default=8, help="synthetic subjects (default 8)")
    demo.add_argument("--repetitions", type=int, default=2, help="videos per subject and emotion")
    demo.add_argument("--frames", type=int, default=30, help="frames per video (default 30)")
    demo.add_argument("--size", type=int, default=256, help="frame size in pixels (default 256)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)

    landmarks = commands.add_parser(
        "landmarks", help="extract MediaPipe Face Mesh landmarks of one video or frame folder"
    )
    landmarks.add_argument("source", help="a video file or a folder of frames")
    landmarks.add_argument("-o", "--output", required=True, help="the Parquet table to write")
    landmarks.add_argument("--video-id", help="id stored in the table (default: file name)")
    landmarks.add_argument("--fps", type=float, help="resample to this frame rate")
    landmarks.add_argument(
        "--no-refine", action="store_true", help="468 mesh landmarks without the iris points"
    )
    landmarks.set_defaults(run=_landmarks)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``emoflow`` command."""
    from emoflow._logging import log_to_console

    args = build_parser().parse_args(argv)
    log_to_console(args.verbose)
    try:
        return int(args.run(args))
    except EmoflowError as err:
        print(f"emoflow: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

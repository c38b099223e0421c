"""The ``emoflow`` command line: the same functions the workflow's rules call.

Examples
--------
``emoflow demo resources/demo`` writes the synthetic demo data set;
``emoflow landmarks clip.mp4 -o clip.parquet`` extracts one video's (or frame folder's)
landmark table, ``-o clip.csv`` as a wide CSV in py-feat's columns; ``emoflow landmarks
results/manifest.parquet -o shard_0.parquet --shard 0 --n-shards 4`` one shard of a manifest,
as the workflow's ``extract_landmarks`` rule does; ``emoflow landmarks shard_0.parquet -o
shard_0.csv`` converts a landmark table; ``emoflow predict videos/`` scores new videos with a
run's selected models (the table to standard output, or ``-o predictions.csv``); ``emoflow
explain clip.mp4 --image clip.png --table clip.csv`` shows which landmarks drove each
emotion's score; ``emoflow validate-config my.yaml`` checks a configuration as the workflow
reads it (over ``config/config.yaml``). ``emoflow COMMAND --help`` describes each command,
with examples.

Output ``-`` means standard output wherever a command writes a table (``landmarks -o -``,
``predict``'s default, ``explain --table -``): the table goes there as CSV, and the summary
that the command prints otherwise goes to stderr.

Exit status: 0 on success; 1 when ``predict`` wrote its table but some videos could not be
scored (their rows carry the error); 2 on an error, reported on one line naming the file or
key at fault (nothing is written then) — among them an output path that is one of the
command's inputs (no command overwrites its inputs), a folder, a file in a folder that cannot
be written, or a name whose ending is not a table format the command writes; and, for the
commands that run MediaPipe Face Mesh (``demo``, ``landmarks`` of a video or manifest,
``predict``, ``explain``), MediaPipe not installed (it is not a dependency of the package: the
line gives the command that installs it); 130 when interrupted (Ctrl-C).

Console: progress bars (per video and per frame, with time estimates) and log lines go to
stderr, the bars only when stderr is a terminal; MediaPipe's native log lines are kept off it
(shown with ``--verbose``, or after an unexpected failure). ``-q``/``--quiet`` (warnings and
errors only, no bars) and ``-v``/``--verbose`` (debug logging) go before or after the command.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from emoflow import __version__
from emoflow.errors import EmoflowError

log = logging.getLogger("emoflow")


def _demo(args: argparse.Namespace) -> int:
    from emoflow.facemesh import require_mediapipe

    require_mediapipe()  # the demo's landmarks come from Face Mesh on its face photo
    from emoflow._progress import Progress
    from emoflow.demo import DemoSpec, make_demo

    spec = DemoSpec(
        n_subjects=args.subjects,
        repetitions=args.repetitions,
        n_frames=args.frames,
        size=args.size,
        seed=args.seed,
    )
    n_videos = spec.n_subjects * len(spec.emotions) * spec.repetitions
    with Progress(n_videos, enabled=_progress(args), frame_bars=False) as bar:
        labels = make_demo(args.out_dir, spec, progress=lambda name: bar.advance(1))
    print(f"demo data set written: {labels}")
    return 0


def _refuse_overwriting_landmark_inputs(source: Path, output: str, is_manifest: bool) -> None:
    """The landmark table may be neither the video (or frame folder) nor the manifest or a
    video it lists."""
    from emoflow._outputs import refuse_overwriting_inputs

    inputs: list[str | Path] = [source]
    if is_manifest:
        from emoflow.storage.manifest import read_manifest

        paths = read_manifest(source, required_columns=("path",))["path"]
        inputs += [path for path in paths.drop_nulls().to_list() if path]
    folders = [path for path in inputs if Path(path).is_dir()]
    refuse_overwriting_inputs([output], inputs, folders=folders)


def _progress(args: argparse.Namespace) -> bool | None:
    """``progress`` of the library functions: off with ``--no-progress`` or ``--quiet``,
    otherwise ``None`` (bars only on a terminal)."""
    return False if args.no_progress or args.quiet else None


def _landmark_source(source: Path) -> str:
    """What ``emoflow landmarks`` was given: ``table`` (a landmark table in emoflow's Parquet
    schema), ``csv`` (a landmark CSV of another tracker or emoflow's export), ``manifest`` (a
    Parquet manifest to shard) or ``video`` (a video file or frame folder)."""
    suffix = source.suffix.lower()
    if suffix in (".csv", ".tsv", ".tab") and source.is_file():
        return "csv"
    if suffix == ".parquet" and source.is_file():
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            names = set(pq.read_schema(source).names)
        except (OSError, pa.ArrowException):
            return "manifest"  # the manifest reader names the problem
        return "table" if {"landmarks", "face_found"} <= names else "manifest"
    return "video"


def _print_summary(args: argparse.Namespace, summary: dict[str, Any], table: Any) -> None:
    """Print a command's JSON summary: on stdout, or on stderr when its ``table`` goes there
    (nowhere, then, with ``--quiet``)."""
    from emoflow._outputs import is_stdout

    if not is_stdout(table):
        print(json.dumps(summary), file=sys.stdout)
    elif not args.quiet:
        print(json.dumps(summary), file=sys.stderr)


def _landmarks(args: argparse.Namespace) -> int:
    import tempfile

    from emoflow._outputs import check_writable, is_stdout
    from emoflow.inference import check_suffix
    from emoflow.landmarks import extract_shard, extract_videos, import_landmarks
    from emoflow.landmarks.export import export_wide_csv

    source = Path(args.source)
    output = args.output
    to_csv = is_stdout(output) or Path(output).suffix.lower() == ".csv"
    if not to_csv:
        check_suffix(output, (".parquet", ".csv"), "landmark table (Parquet, or a wide CSV)")
    check_writable(output)
    kind = _landmark_source(source)
    if kind in ("video", "manifest"):
        from emoflow.facemesh import require_mediapipe

        require_mediapipe()
    options = {
        "fps": args.fps,
        "refine_landmarks": not args.no_refine,
        "progress": _progress(args),
    }
    _refuse_overwriting_landmark_inputs(source, output, kind == "manifest")
    with tempfile.TemporaryDirectory(prefix="emoflow-landmarks-") as scratch:
        table = Path(scratch) / "landmarks.parquet" if to_csv else Path(output)
        if kind == "table" and to_csv:
            table = source  # converted as it is
            summary: dict[str, Any] = {}
        elif kind in ("table", "csv"):
            summary = import_landmarks(
                source, table, format="parquet" if kind == "table" else "csv", strict=True
            )
        elif kind == "manifest":
            summary = extract_shard(
                source,
                table,
                shard=args.shard,
                n_shards=args.n_shards,
                strict=args.strict,
                **options,
            )
        else:
            video_id = args.video_id or source.stem
            summary = extract_videos([(video_id, str(source))], table, strict=True, **options)
        exported = export_wide_csv(table, output, units=args.units) if to_csv else {}
    printed = {"out": output, **summary}
    if exported:
        printed["csv"] = {key: value for key, value in exported.items() if key != "out"}
    _print_summary(args, printed, output)
    return 0


def _model_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The options of :func:`_add_model_options` as arguments of ``predict`` and ``explain``."""
    return {
        "results": args.results,
        "iteration": args.iteration,
        "models": args.models,
        "fps": args.fps,
        "refine_landmarks": False if args.no_refine else None,
        "several_faces": args.several_faces,
        "device": args.device,
    }


def _predict(args: argparse.Namespace) -> int:
    from emoflow.facemesh import require_mediapipe

    require_mediapipe()  # every source predict takes is video: Face Mesh first
    import polars as pl

    from emoflow.predict import failed_videos, predict

    table = predict(
        args.source,
        args.output,
        window_s=args.window_s,
        hop_s=args.hop_s,
        strict=True if args.strict else None,
        progress=_progress(args),
        **_model_arguments(args),
    )
    failed = failed_videos(table)
    n_failed = len(failed)
    summary: dict[str, Any] = {
        "out": args.output,
        "videos": table["video_id"].n_unique(),
        "failed": n_failed,
        "rows": table.height,
        "trained_on": ", ".join(sorted(table["trained_on"].drop_nulls().unique())) or None,
    }
    if args.window_s is not None:
        # windows without a face in the videos that were scored: kept, marked in `error`
        kept = table.filter(~pl.col("video_id").is_in(failed))
        summary["windows_not_scored"] = kept.filter(pl.col("score").is_null()).height
    _print_summary(args, summary, args.output)
    return 1 if n_failed else 0


def _explain(args: argparse.Namespace) -> int:
    from emoflow.facemesh import require_mediapipe

    require_mediapipe()
    from emoflow.explain import explain

    stem = Path(args.video).stem
    summary = explain(
        args.video,
        image_path=args.image or f"{stem}_explain.png",
        table_path=args.table or f"{stem}_explain.csv",
        video_path=args.video_out,
        n_steps=args.steps,
        top_k=args.top_k,
        progress=_progress(args),
        **_model_arguments(args),
    )
    _print_summary(args, summary, args.table)
    return 0


def _validate_config(args: argparse.Namespace) -> int:
    import yaml

    from emoflow._outputs import same_file
    from emoflow.config import load_config, workflow_defaults

    defaults = None if args.alone else (args.defaults or workflow_defaults())
    if defaults is not None and Path(defaults).exists() and same_file(defaults, args.config):
        defaults = None  # the defaults themselves
    config = load_config(args.config, defaults=defaults)
    if args.print:
        print(yaml.safe_dump(config, sort_keys=False), end="")
    elif defaults is None:
        print(f"{args.config}: valid")
    else:
        print(f"{args.config}: valid (read over {defaults}, as the workflow reads it)")
    return 0


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results", default="results", help="workflow results folder (default: results)"
    )
    parser.add_argument(
        "--iteration",
        type=int,
        help="use every model of results/iter_N (default: each emotion's selected iteration "
        "in results/summary.parquet)",
    )
    parser.add_argument(
        "--models", nargs="+", help="model files (.pt) or folders of them, instead of --results"
    )
    parser.add_argument(
        "--fps", type=float, help="resample videos to this frame rate (the run's landmarks.fps)"
    )
    parser.add_argument(
        "--no-refine", action="store_true", help="468 mesh landmarks without the iris points"
    )
    parser.add_argument(
        "--several-faces",
        choices=("error", "largest", "central", "tracked"),
        default="error",
        help="refuse videos showing several faces (default), or follow one by this policy",
    )
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")


def _add_source_and_output(
    parser: argparse.ArgumentParser, source: str, output: str, **how: Any
) -> None:
    """The ``source`` argument and the ``-o``/``--output`` option of a command that reads a
    source and writes a table (the help texts; ``how``: ``required`` or its ``default``)."""
    parser.add_argument("source", help=source)
    parser.add_argument("-o", "--output", help=output, **how)


def _add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars (they are drawn only when stderr is a terminal anyway)",
    )


def _console_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """``-v``/``--verbose`` and ``-q``/``--quiet``; on the commands with ``default``
    ``SUPPRESS``, so that given before the command they are not reset after it."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="debug logging, and MediaPipe's own log lines",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="only warnings and errors; no progress bars",
    )


class _Command(NamedTuple):
    """A subcommand: its ``name``, the function that ``run``s it, the function that adds its
    ``arguments`` (then ``--no-progress``, with ``progress``), a one-line ``summary`` (in
    ``emoflow --help``), a ``description`` and ``examples`` (in ``emoflow NAME --help``)."""

    name: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None]
    summary: str
    description: str
    examples: str
    progress: bool = True


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' lines as written; wraps the description's paragraphs."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return super()._fill_text(text, width, indent)
        import textwrap

        paragraphs = [" ".join(part.split()) for part in text.split("\n\n")]
        return "\n\n".join(
            textwrap.fill(part, width, initial_indent=indent, subsequent_indent=indent)
            for part in paragraphs
        )


def _demo_arguments(demo: argparse.ArgumentParser) -> None:
    demo.add_argument("out_dir", help="folder for videos/, labels.csv and ground_truth.json")
    demo.add_argument("--subjects", type=int, default=8, help="synthetic subjects (default 8)")
    demo.add_argument(
        "--repetitions", type=int, default=2, help="videos per subject and emotion (default 2)"
    )
    demo.add_argument("--frames", type=int, default=30, help="frames per video (default 30)")
    demo.add_argument("--size", type=int, default=256, help="frame size in pixels (default 256)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def _landmarks_arguments(landmarks: argparse.ArgumentParser) -> None:
    _add_source_and_output(
        landmarks,
        "a video file or frame folder; a manifest (.parquet) to shard; or a landmark "
        "table to convert (.parquet in emoflow's schema, or a landmark .csv)",
        "the table to write: .parquet (emoflow's), .csv (wide, py-feat's columns) or - "
        "(that CSV to standard output)",
        required=True,
    )
    landmarks.add_argument(
        "--units",
        choices=("pixels", "normalised"),
        default="pixels",
        help="CSV output: coordinates in pixels (py-feat's; default) or normalised to the "
        "frame (MediaPipe's 0-1); the units column says which",
    )
    landmarks.add_argument("--video-id", help="id stored in the table (default: file name)")
    landmarks.add_argument("--fps", type=float, help="resample to this frame rate")
    landmarks.add_argument(
        "--no-refine", action="store_true", help="468 mesh landmarks without the iris points"
    )
    landmarks.add_argument(
        "--shard", type=int, default=0, help="manifest shard to extract (default 0)"
    )
    landmarks.add_argument(
        "--n-shards", type=int, default=1, help="shards the manifest is split into (default 1)"
    )
    landmarks.add_argument(
        "--strict", action="store_true", help="manifest: stop at the first bad video"
    )


def _predict_arguments(predict: argparse.ArgumentParser) -> None:
    _add_source_and_output(
        predict,
        "a video file, a frame folder, a folder of videos, a manifest (.parquet) or a "
        "CSV/TSV list with a path column",
        "the table to write (.csv or .parquet); default - (CSV to standard output)",
        default="-",
    )
    predict.add_argument("--window-s", type=float, help="score windows of this many seconds")
    predict.add_argument(
        "--hop-s", type=float, help="start a window every this many seconds (default: --window-s)"
    )
    _add_model_options(predict)
    predict.add_argument(
        "--strict", action="store_true", help="stop at the first video that cannot be scored"
    )


def _explain_arguments(explain: argparse.ArgumentParser) -> None:
    explain.add_argument("video", help="a video file or a frame folder")
    explain.add_argument(
        "--image", help="picture to write, .png/.jpg/.pdf/.svg (default: VIDEO_explain.png)"
    )
    explain.add_argument(
        "--table",
        help="table to write, .csv or .parquet, or - for CSV to standard output (default: "
        "VIDEO_explain.csv)",
    )
    explain.add_argument(
        "--video", dest="video_out", help="annotated video to write (.mp4 or .avi)"
    )
    explain.add_argument("--steps", type=int, help="integration steps (default: the run's)")
    explain.add_argument(
        "--top-k", type=int, default=8, help="landmarks numbered per emotion (default 8)"
    )
    _add_model_options(explain)


def _validate_config_arguments(validate: argparse.ArgumentParser) -> None:
    validate.add_argument("config", help="the YAML file, e.g. config/config.yaml")
    validate.add_argument(
        "--print", action="store_true", help="print the configuration with defaults filled in"
    )
    validate.add_argument(
        "--defaults",
        help="the configuration read first (default: the workflow's config/config.yaml)",
    )
    validate.add_argument(
        "--alone", action="store_true", help="check the file by itself, over no defaults"
    )


_COMMANDS = (
    _Command(
        "demo",
        _demo,
        _demo_arguments,
        "write the synthetic demo data set",
        "Write the synthetic demo data set: short videos made from the face photo bundled "
        "with scikit-image, in which each emotion moves a known group of facial regions, for "
        "several synthetic subjects; labels.csv lists them and ground_truth.json says which "
        "landmarks each emotion moves. The workflow's default configuration makes it itself.",
        "  emoflow demo resources/demo\n"
        "  emoflow demo small/ --subjects 4 --repetitions 1 --frames 16",
    ),
    _Command(
        "landmarks",
        _landmarks,
        _landmarks_arguments,
        "extract MediaPipe Face Mesh landmarks, or convert a landmark table",
        "Extract the MediaPipe Face Mesh landmarks (478 x, y, z per frame) of one video or "
        "frame folder, or of one shard of a manifest as the workflow's extract_landmarks rule "
        "does; or convert a landmark table (emoflow's Parquet, or a CSV of OpenFace, py-feat "
        "or emoflow's export). The output's ending chooses its format: .parquet writes "
        "emoflow's landmark table; .csv (or - for standard output) a wide table in py-feat's "
        "columns (x_0 …, y_0 …, z_0 …; frame, time, face flag, frame size, units, tracker), "
        "which pandas.read_csv opens and emoflow imports back into the same landmarks.",
        "  emoflow landmarks clip.mp4 -o clip.parquet\n"
        "  emoflow landmarks clip.mp4 -o clip.csv        # py-feat's wide columns, pixels\n"
        "  emoflow landmarks clip.mp4 -o - --units normalised > clip.csv\n"
        "  emoflow landmarks results/landmarks/shard_0.parquet -o shard_0.csv\n"
        "  emoflow landmarks results/manifest.parquet -o shard_0.parquet --shard 0 --n-shards 4",
    ),
    _Command(
        "predict",
        _predict,
        _predict_arguments,
        "score videos with a run's models (per video or time window)",
        "Apply the selected models of a workflow run to one video, a folder of videos, or a "
        "manifest/CSV list; write per video (or window) and emotion the score, the "
        "calibrated probability and the combined label. The table goes to standard output "
        "as CSV unless -o names a file; a JSON summary follows it on stderr (on stdout "
        "when the table goes to a file).",
        "  emoflow predict clip.mp4\n"
        "  emoflow predict videos/ -o predictions.csv --results results\n"
        "  emoflow predict long.mp4 --window-s 2 --hop-s 1 -o windows.parquet\n"
        "  emoflow predict clip.mp4 --models results/iter_0/happiness/model.pt",
    ),
    _Command(
        "explain",
        _explain,
        _explain_arguments,
        "show which landmarks drove each emotion's score on one video",
        "Integrated Gradients of each emotion's model on one video, with the model's typical "
        "baselines: a picture (a face frame with the relevance at the landmarks, the most "
        "relevant numbered), a table (emotion, landmark, relevance, rank, score, probability) "
        "and, optionally, a short annotated video.",
        "  emoflow explain clip.mp4\n"
        "  emoflow explain clip.mp4 --image clip.png --table clip.csv --video clip_explained.mp4\n"
        "  emoflow explain clip.mp4 --table - --top-k 5 > relevance.csv",
    ),
    _Command(
        "validate-config",
        _validate_config,
        _validate_config_arguments,
        "check a workflow configuration against the schema",
        "Check a configuration file as the workflow reads it: the workflow starts from its "
        "own config/config.yaml and overrides it key by key with the file given by "
        "--configfile, so a file that changes a few settings is read over those defaults "
        "(--alone checks the file by itself). Errors name each key and its allowed values.",
        "  emoflow validate-config config/config.yaml\n"
        "  emoflow validate-config my_run.yaml --print      # with every default filled in\n"
        "  emoflow validate-config complete.yaml --alone",
        progress=False,
    ),
)
"""The subcommands, in the order of ``emoflow --help``."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emoflow",
        description="Explainable, fast facial-emotion recognition from video.",
    )
    parser.add_argument("--version", action="version", version=f"emoflow {__version__}")
    _console_options(parser, False)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in _COMMANDS:
        subparser = commands.add_parser(
            command.name,
            help=command.summary,
            description=command.description,
            epilog="examples:\n" + command.examples,
            formatter_class=_HelpFormatter,
        )
        command.arguments(subparser)
        if command.progress:
            _add_progress_option(subparser)
        subparser.set_defaults(run=command.run)
        _console_options(subparser, argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``emoflow`` command."""
    from emoflow._logging import console_logging, native_messages, native_stderr_aside

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quiet and args.verbose:
        parser.error("choose one of --quiet and --verbose")
    with native_stderr_aside(keep=args.verbose) as native:
        try:
            with console_logging(verbose=args.verbose, quiet=args.quiet):
                return int(args.run(args))
        except EmoflowError as err:
            print(f"emoflow: error: {err}", file=sys.stderr)
            return 2
        except OSError as err:  # e.g. a full disk or a folder that became unwritable
            print(f"emoflow: error: {_os_error_text(err)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("emoflow: interrupted", file=sys.stderr)
            return 130
        except Exception:
            shown = native_messages(native).strip()
            if shown:  # MediaPipe's own lines may explain the failure
                print(f"MediaPipe's messages:\n{shown}", file=sys.stderr)
            raise


def _os_error_text(err: OSError) -> str:
    """``FILE: reason`` of an operating-system error, on one line."""
    reason = err.strerror or str(err)
    if err.filename is None:
        return reason
    return f"{err.filename}: {reason}"


if __name__ == "__main__":
    sys.exit(main())

"""The `emoflow` command line: demo and landmarks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from emoflow.cli import main


@pytest.mark.slow
def test_demo_then_landmarks(tmp_path, capsys) -> None:
    demo_dir = tmp_path / "demo"
    assert (
        main(["demo", str(demo_dir), "--subjects", "2", "--repetitions", "1", "--frames", "8"]) == 0
    )
    labels = pl.read_csv(demo_dir / "labels.csv")
    assert labels.height == 2 * 6
    video = demo_dir / labels["path"][0]
    out = tmp_path / "one.parquet"
    capsys.readouterr()
    assert main(["landmarks", str(video), "-o", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    table = pl.read_parquet(out)
    assert table.height == 8
    assert table["face_found"].all()
    assert printed["out"] == str(out)


def test_missing_video_is_a_clear_error(tmp_path, capsys) -> None:
    missing = tmp_path / "nothing.mp4"
    code = main(["landmarks", str(missing), "-o", str(tmp_path / "x.parquet")])
    assert code == 2
    assert "nothing.mp4" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()


def test_commands_are_listed(capsys) -> None:
    from emoflow.cli import build_parser

    help_text = build_parser().format_help()
    for command in ("demo", "landmarks", "predict", "explain", "validate-config"):
        assert command in help_text


def test_validate_config_of_the_repository(capsys) -> None:
    from pathlib import Path

    config = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
    assert main(["validate-config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == f"{config}: valid"


def test_landmarks_of_a_manifest_shard_records_bad_videos(tmp_path, capsys) -> None:
    manifest = tmp_path / "manifest.parquet"
    pl.DataFrame(
        {"video_id": ["a", "b", "c"], "path": [str(tmp_path / f"{v}.mp4") for v in "abc"]}
    ).write_parquet(manifest)
    out = tmp_path / "shard_1.parquet"
    code = main(["landmarks", str(manifest), "-o", str(out), "--shard", "1", "--n-shards", "2"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"out", "b"} and "does not exist" in printed["b"]["error"]
    assert pl.read_parquet(out).height == 0
    code = main(["landmarks", str(manifest), "-o", str(out), "--strict"])
    assert code == 2 and "a.mp4: does not exist" in capsys.readouterr().err


def test_progress_bar_only_on_a_terminal() -> None:
    import io

    from emoflow._progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet = io.StringIO()
    with Progress(2, stream=quiet) as bar:
        bar.start("clip", 30)
        bar.frames(30, 30)
        bar.advance(1, frames=30)
    assert quiet.getvalue() == ""
    terminal = Terminal()
    with Progress(2, stream=terminal) as bar:  # faster than a redraw: final counts shown
        bar.start("clip", 30)
        for done in range(31):
            bar.frames(done, 30)
        bar.advance(1, frames=30)
        bar.start("other")  # the container did not tell its length
        bar.frames(20)
        bar.advance(1, frames=20)
    text = terminal.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    assert "2/2" in text and "videos" in text  # the video bar, kept at the end
    assert "30/30" in text and "frame/s" in text  # the frame bar of the first video
    assert "20/20" in text  # frames counted without a known total, then shown as done
    assert bar.done == 2 and bar.frame_count == 50


# --- the console: progress bars on a terminal only, no MediaPipe lines, quiet and verbose ---


@pytest.mark.slow
def test_landmarks_in_a_terminal_and_piped(demo_video: Path, tmp_path: Path) -> None:
    from cli_runs import in_terminal, native_lines, piped

    out = str(tmp_path / "clip.parquet")
    code, shown = in_terminal(["landmarks", str(demo_video), "-o", out])
    assert code == 0, shown
    assert "30/30" in shown and "frame/s" in shown  # the frame bar, with its rate
    assert native_lines(shown) == []
    # --quiet after the command: no bar, no INFO lines, the result still printed
    code, shown = in_terminal(["landmarks", str(demo_video), "-o", out, "--quiet"])
    assert code == 0 and "frame/s" not in shown and "INFO" not in shown
    assert json.loads(shown.strip().splitlines()[-1])["out"] == out
    # piped: no bar (no carriage return) and no MediaPipe lines; the log lines stay
    done = piped(["landmarks", str(demo_video), "-o", out])
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "frame/s" not in done.stderr
    assert native_lines(done.stderr) == []
    assert "INFO emoflow" in done.stderr and json.loads(done.stdout)["out"] == out
    # --verbose after the command lets MediaPipe's own lines through (so the check above can
    # fail: they are written on every run, and only the command line keeps them away)
    done = piped(["landmarks", str(demo_video), "-o", out, "--verbose"])
    assert done.returncode == 0 and native_lines(done.stderr) != []
    assert "DEBUG" in done.stderr or "INFO emoflow" in done.stderr


def test_quiet_and_verbose_before_or_after_the_command() -> None:
    from emoflow.cli import build_parser

    parser = build_parser()
    for argv in (
        ["-q", "predict", "v.mp4", "-o", "p.csv"],
        ["predict", "v.mp4", "-o", "p.csv", "-q"],
        ["predict", "--quiet", "v.mp4", "-o", "p.csv"],
    ):
        args = parser.parse_args(argv)
        assert args.quiet and not args.verbose, argv
    for argv in (
        ["--verbose", "landmarks", "v.mp4", "-o", "l.parquet"],
        ["explain", "v.mp4", "-v"],
    ):
        args = parser.parse_args(argv)
        assert args.verbose and not args.quiet, argv
    args = parser.parse_args(["demo", "out"])
    assert not args.quiet and not args.verbose
    with pytest.raises(SystemExit) as stopped:
        main(["-q", "validate-config", "x.yaml", "--verbose"])
    assert stopped.value.code == 2


def _one_error_line(capsys) -> str:
    """The single stderr line of a refused command."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("emoflow: error: "), lines
    return lines[0]


def test_output_paths_are_checked_first(tmp_path: Path, capsys) -> None:
    """Bad output paths: one line, exit status 2, before anything is read or computed."""
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not read: the output is refused first")
    folder = tmp_path / "table.csv"
    folder.mkdir()
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    no_models = ["--results", str(tmp_path / "no_results")]
    cases = {
        "is a folder": ["predict", str(video), "-o", str(folder), *no_models],
        "must end in .csv or .parquet": ["predict", str(video), "-o", "p.txt", *no_models],
        "a_file is a file, not a folder": [
            "predict",
            str(video),
            "-o",
            str(blocker / "p.csv"),
            *no_models,
        ],
        # .csv is a landmark output since issue 24 (py-feat's wide table)
        "must end in .parquet": ["landmarks", str(video), "-o", str(tmp_path / "l.txt")],
        "landmarks.parquet: is a folder": [
            "landmarks",
            str(video),
            "-o",
            str(tmp_path / "landmarks.parquet"),
        ],
        "the output must end in .csv or .parquet": [
            "explain",
            str(video),
            "--table",
            str(tmp_path / "t.json"),
            *no_models,
        ],
    }
    (tmp_path / "landmarks.parquet").mkdir()
    for expected, argv in cases.items():
        assert main(argv) == 2, argv
        assert expected in _one_error_line(capsys), argv
    assert folder.is_dir() and not any(folder.iterdir())  # a folder is never replaced
    assert video.read_bytes() == b"not read: the output is refused first"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in any folder")
def test_an_unwritable_folder_is_one_line(tmp_path: Path, capsys) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code = main(["landmarks", str(tmp_path / "v.mp4"), "-o", str(locked / "l.parquet")])
    finally:
        locked.chmod(0o700)
    assert code == 2 and "not writable" in _one_error_line(capsys)


def test_write_failures_are_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    """An operating-system error while writing (a full disk) is one line, exit status 2."""
    import errno

    import emoflow.landmarks

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.parquet"))

    monkeypatch.setattr(emoflow.landmarks, "extract_videos", full_disk)
    assert main(["landmarks", "v.mp4", "-o", str(tmp_path / "x.parquet")]) == 2
    assert _one_error_line(capsys).endswith("x.parquet: No space left on device")


# -- without MediaPipe (not a dependency of the package: README, "Installation notes") ---------
INSTALL = (
    "pip install --no-deps mediapipe==0.10.21 absl-py 'protobuf>=4.25,<5' attrs "
    "'flatbuffers>=2.0' opencv-python-headless"
)


@pytest.fixture()
def without_mediapipe(monkeypatch: pytest.MonkeyPatch) -> None:
    """MediaPipe as if it were not installed: ``import mediapipe…`` fails and
    ``importlib.util.find_spec("mediapipe")`` is ``None`` (a ``None`` in ``sys.modules``)."""
    import sys

    for name in [name for name in sys.modules if name.split(".")[0] == "mediapipe"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "mediapipe", None)


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "{tmp}/demo"],
        ["landmarks", "{tmp}/clip.mp4", "-o", "{tmp}/clip.parquet"],
        ["landmarks", "{tmp}/manifest.parquet", "-o", "{tmp}/shard.parquet"],
        ["predict", "{tmp}/clip.mp4", "-o", "{tmp}/predictions.csv"],
        ["explain", "{tmp}/clip.mp4", "--image", "{tmp}/x.png", "--table", "{tmp}/x.csv"],
    ],
    ids=["demo", "landmarks-video", "landmarks-manifest", "predict", "explain"],
)
def test_face_mesh_commands_without_mediapipe_exit_2_with_the_install_command(
    tmp_path, capsys, without_mediapipe, args
) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 64)
    pl.DataFrame({"video_id": ["a"], "path": ["clip.mp4"]}).write_parquet(
        tmp_path / "manifest.parquet"
    )
    before = sorted(tmp_path.iterdir())
    assert main([arg.format(tmp=tmp_path) for arg in args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("emoflow: error: ") and INSTALL in line, line
    assert sorted(tmp_path.iterdir()) == before  # nothing written


def test_landmark_tables_convert_without_mediapipe(tmp_path, capsys, without_mediapipe) -> None:
    """Converting a landmark table runs no Face Mesh, so it needs no MediaPipe."""
    from emoflow.facemesh.mesh import reference_face

    face = reference_face()
    frame = face * 0.3 + 0.5
    header = ["video_id", "frame", "timestamp_s", "face_found", "units"]
    header += [f"{axis}_{i}" for axis in "xyz" for i in range(len(face))]
    values = ["clip", "0", "0.0", "true", "normalised", *map(str, frame.T.ravel())]
    (tmp_path / "clip.csv").write_text(",".join(header) + "\n" + ",".join(values) + "\n")
    assert main(["landmarks", str(tmp_path / "clip.csv"), "-o", str(tmp_path / "x.parquet")]) == 0
    assert pl.read_parquet(tmp_path / "x.parquet").height == 1


def test_face_mesh_without_mediapipe_is_the_install_command_not_a_traceback(
    without_mediapipe,
) -> None:
    """What workflow jobs (extraction, the demo) and predict's face count reach."""
    import numpy as np

    from emoflow.errors import MissingDependencyError
    from emoflow.facemesh import MEDIAPIPE_INSTALL
    from emoflow.facemesh.tracker import image_landmarks
    from emoflow.inference.videos import FaceCounter

    assert MEDIAPIPE_INSTALL == INSTALL
    frame = np.zeros((64, 64, 3), dtype=np.uint8)
    with pytest.raises(MissingDependencyError, match=r"mediapipe==0\.10\.21") as raised:
        image_landmarks(frame)
    assert INSTALL in str(raised.value) and "\n" not in str(raised.value)
    with pytest.raises(MissingDependencyError, match=r"mediapipe==0\.10\.21"):
        FaceCounter().count(frame)

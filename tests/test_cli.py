"""The `emoflow` command line: demo and landmarks."""

from __future__ import annotations

import json

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
    with Progress(2, stream=terminal, min_interval_s=0) as bar:
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
    assert "20frame" in text.replace(" ", "")  # frames counted without a known total
    assert bar.done == 2 and bar.frame_count == 50

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

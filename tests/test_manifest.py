"""Tests of emoflow.manifest: the demo and csv adapters and every validation error."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from emoflow.errors import ConfigError, InputError
from emoflow.manifest import build_manifest
from emoflow.storage.manifest import MANIFEST_SCHEMA, read_manifest

DEMO_HEADER = "video_id,path,subject,emotion,repetition,intensity\n"


def make_demo(folder: Path, rows: list[str], *, create_videos: bool = True) -> Path:
    """A demo folder: ``labels.csv`` with ``rows`` and (empty) video files under videos/."""
    (folder / "videos").mkdir(parents=True, exist_ok=True)
    (folder / "labels.csv").write_text(DEMO_HEADER + "".join(f"{row}\n" for row in rows))
    if create_videos:
        for row in rows:
            (folder / row.split(",")[1]).touch()
    return folder


DEMO_ROWS = [
    "s02_happy_1,videos/s02_happy_1.mp4,02,happy,1,strong",
    "s01_sad_1,videos/s01_sad_1.mp4,01,sad,1,normal",
    "s01_happy_1,videos/s01_happy_1.mp4,01,happy,1,normal",
]


def test_demo_adapter(tmp_path: Path) -> None:
    demo = make_demo(tmp_path / "demo", DEMO_ROWS)
    out = tmp_path / "results" / "manifest.parquet"
    manifest = build_manifest("demo", demo, out, emotions=["happy", "sad", "angry"])
    assert manifest.columns[:4] == list(MANIFEST_SCHEMA.names())
    assert {"repetition", "intensity"} <= set(manifest.columns)
    assert manifest["video_id"].to_list() == ["s01_happy_1", "s01_sad_1", "s02_happy_1"]
    assert manifest["subject"].to_list() == ["01", "01", "02"]  # strings, zeros kept
    for name, dtype in MANIFEST_SCHEMA.items():
        assert manifest.schema[name] == dtype
    assert manifest["path"][0] == os.path.join(str(demo), "videos", "s01_happy_1.mp4")
    assert all(Path(path).exists() for path in manifest["path"])
    assert read_manifest(out).equals(manifest)
    # the labels.csv file itself is an accepted source too
    again = build_manifest("demo", demo / "labels.csv", tmp_path / "again.parquet")
    assert again.equals(manifest)


def test_demo_relative_folder_gives_cwd_relative_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_demo(tmp_path / "data" / "demo", DEMO_ROWS)
    monkeypatch.chdir(tmp_path)
    manifest = build_manifest("demo", "data/demo", "manifest.parquet")
    assert manifest["path"][0] == os.path.join("data", "demo", "videos", "s01_happy_1.mp4")


def test_csv_adapter(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    (clips / "sub").mkdir(parents=True)
    for name in ("a.mp4", "sub/b.avi"):
        (clips / name).touch()
    absolute = tmp_path / "elsewhere.mp4"
    absolute.touch()
    labels = clips / "labels.csv"
    labels.write_text(f"path,label,subject\na.mp4,happy,7\nsub/b.avi,sad,8\n{absolute},happy,9\n")
    manifest = build_manifest("csv", labels, tmp_path / "m.parquet")
    assert manifest["video_id"].to_list() == ["a", "b", "elsewhere"]
    assert manifest["emotion"].to_list() == ["happy", "sad", "happy"]
    assert manifest["path"].to_list() == [
        str(clips / "a.mp4"),
        str(clips / "sub" / "b.avi"),
        str(absolute),
    ]
    assert manifest["subject"].dtype == pl.String


def test_csv_adapter_tsv_with_ids_and_times(tmp_path: Path) -> None:
    (tmp_path / "long.mp4").touch()
    labels = tmp_path / "labels.tsv"
    labels.write_text(
        "video_id\tpath\tlabel\tsubject\tstart_s\tend_s\n"
        "clip2\tlong.mp4\tsad\ts1\t4\t6.5\n"
        "clip1\tlong.mp4\thappy\ts1\t0\t2\n"
    )
    manifest = build_manifest("csv", labels, tmp_path / "m.parquet")
    assert manifest["video_id"].to_list() == ["clip1", "clip2"]
    assert manifest["start_s"].to_list() == [0.0, 4.0]
    assert manifest["end_s"].dtype == pl.Float64


def test_unknown_adapter(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"'nope'.*valid adapters: ckplus, csv, demo, landmarks_csv"
    ):
        build_manifest("nope", tmp_path, tmp_path / "m.parquet")


def test_missing_label_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"labels\.csv: label file does not exist"):
        build_manifest("demo", tmp_path, tmp_path / "m.parquet")
    with pytest.raises(InputError, match=r"absent\.csv: label file does not exist"):
        build_manifest("csv", tmp_path / "absent.csv", tmp_path / "m.parquet")


def test_missing_columns(tmp_path: Path) -> None:
    labels = tmp_path / "my_labels.csv"
    labels.write_text("path,subject\na.mp4,1\n")
    with pytest.raises(InputError, match=r"my_labels\.csv: missing column\(s\) label"):
        build_manifest("csv", labels, tmp_path / "m.parquet")


def test_duplicate_video_ids(tmp_path: Path) -> None:
    rows = [*DEMO_ROWS, "s01_sad_1,videos/other.mp4,01,sad,2,normal"]
    demo = make_demo(tmp_path, rows)
    with pytest.raises(InputError, match=r"labels\.csv: duplicate video_id\(s\): s01_sad_1 \(2"):
        build_manifest("demo", demo, tmp_path / "m.parquet")
    labels = tmp_path / "same_stem.csv"
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "videos").mkdir()
    labels.write_text("path,label,subject\nvideos/a.mp4,happy,1\nx/videos/a.mp4,sad,2\n")
    with pytest.raises(InputError, match=r"same_stem\.csv: duplicate video_id\(s\): a "):
        build_manifest("csv", labels, tmp_path / "m.parquet", check_files=False)


def test_missing_video_files(tmp_path: Path) -> None:
    demo = make_demo(tmp_path, DEMO_ROWS, create_videos=False)
    (tmp_path / "videos" / "s01_sad_1.mp4").touch()
    with pytest.raises(
        InputError, match=r"labels\.csv: 2 listed video file\(s\) do not exist: .*s01_happy_1"
    ):
        build_manifest("demo", demo, tmp_path / "m.parquet")
    manifest = build_manifest("demo", demo, tmp_path / "m.parquet", check_files=False)
    assert manifest.height == 3


def test_labels_outside_emotions(tmp_path: Path) -> None:
    demo = make_demo(tmp_path, DEMO_ROWS)
    with pytest.raises(
        InputError, match=r"labels\.csv: label\(s\) sad are not among .*allowed: happy, angry"
    ):
        build_manifest("demo", demo, tmp_path / "m.parquet", emotions=["happy", "angry"])


def test_empty_manifest_and_empty_cells(tmp_path: Path) -> None:
    demo = make_demo(tmp_path / "empty", [])
    with pytest.raises(InputError, match=r"labels\.csv: lists no videos"):
        build_manifest("demo", demo, tmp_path / "m.parquet")
    blank = tmp_path / "blank.csv"
    blank.write_text("")
    with pytest.raises(InputError, match=r"blank\.csv: label file is empty"):
        build_manifest("csv", blank, tmp_path / "m.parquet")
    holes = tmp_path / "holes.csv"
    holes.write_text("path,label,subject\na.mp4,happy,1\nb.mp4,,2\n")
    with pytest.raises(InputError, match=r"holes\.csv: column 'label' is empty on line\(s\) 3"):
        build_manifest("csv", holes, tmp_path / "m.parquet", check_files=False)
    assert not (tmp_path / "m.parquet").exists()


def test_bad_times(tmp_path: Path) -> None:
    labels = tmp_path / "times.csv"
    labels.write_text("path,label,subject,start_s,end_s\na.mp4,happy,1,3,2\n")
    with pytest.raises(InputError, match=r"times\.csv: end_s is not after start_s for a"):
        build_manifest("csv", labels, tmp_path / "m.parquet", check_files=False)
    labels.write_text("path,label,subject,start_s\na.mp4,happy,1,soon\n")
    with pytest.raises(InputError, match=r"times\.csv: column 'start_s' must hold seconds"):
        build_manifest("csv", labels, tmp_path / "m.parquet", check_files=False)


def test_read_manifest_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"gone\.parquet: manifest does not exist"):
        read_manifest(tmp_path / "gone.parquet")
    partial = tmp_path / "partial.parquet"
    pl.DataFrame({"video_id": ["a"], "path": ["a.mp4"]}).write_parquet(partial)
    with pytest.raises(InputError, match=r"partial\.parquet: manifest lacks column\(s\) subject"):
        read_manifest(partial)
    assert read_manifest(partial, required_columns=("video_id", "path")).height == 1
    text = tmp_path / "text.parquet"
    text.write_text("nope")
    with pytest.raises(InputError, match=r"text\.parquet: not a readable Parquet manifest"):
        read_manifest(text)


def test_the_protocol_is_refused_when_a_training_part_lacks_an_emotion() -> None:
    """Every model of the nested protocol (deployed, each outer fold's chain, each inner fold
    of those) trains on subjects who show every emotion, or the run is refused before
    anything is extracted, naming the fold and the emotion (issue 21)."""
    import polars as pl

    from emoflow.errors import InputError
    from emoflow.manifest import check_protocol
    from emoflow.metrics import protocol_training_parts

    subjects = [f"s{i}" for i in range(8)]
    rows = [(s, e) for s in subjects for e in ("happiness", "sadness")]
    rows.append(("s3", "fear"))  # one subject alone shows fear
    manifest = pl.DataFrame({"subject": [s for s, _ in rows], "emotion": [e for _, e in rows]})
    with pytest.raises(InputError, match=r"fold .* show no video of fear"):
        check_protocol(manifest, n_folds=3, test_subjects=2, source="labels.csv")
    balanced = manifest.filter(pl.col("emotion") != "fear")
    check_protocol(balanced, n_folds=3, test_subjects=2, source="labels.csv")
    parts = protocol_training_parts(
        balanced["subject"].to_numpy(), balanced["emotion"].to_numpy(), n_folds=3, test_subjects=2
    )
    names = [name for name, _ in parts]
    assert names[0] == "the development subjects" and "outer fold 2" in names
    assert "inner fold 0 of outer fold 1" in names

"""Tests of the data set adapters (RAVDESS, CK+, precomputed landmarks) and landmark import.

Every data set is a tiny synthetic folder laid out like the real one: empty video files named
the RAVDESS way, CK+ sequences of 8×8 PNG frames with emotion files, and landmark CSV/Parquet
files made from the reference face. Nothing here runs MediaPipe.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from emoflow.errors import ConfigError, InputError, NoFaceError
from emoflow.facemesh.mesh import N_LANDMARKS, N_MESH_LANDMARKS, reference_face
from emoflow.landmarks import (
    extract_shard,
    extract_videos,
    import_landmarks,
    landmarks_array,
    read_landmarks,
)
from emoflow.landmarks.formats import coordinate_columns
from emoflow.manifest import build_manifest
from emoflow.storage.landmark_table.reader import read_video_records
from emoflow.storage.landmark_table.schema import LANDMARK_SCHEMA
from emoflow.storage.manifest import MANIFEST_COLUMNS, read_manifest
from emoflow.video import open_frames

# --- RAVDESS -------------------------------------------------------------------------------

RAVDESS_FILES = [
    # modality-channel-emotion-intensity-statement-repetition-actor
    "Actor_01/02-01-03-01-01-01-01.mp4",  # video-only speech happy normal
    "Actor_01/01-01-03-01-01-01-01.mp4",  # the same recording, full AV
    "Actor_01/02-02-04-02-02-02-01.mp4",  # video-only song sad strong
    "Actor_01/02-01-02-01-01-01-01.mp4",  # video-only speech calm
    "Actor_02/02-01-05-02-01-02-02.mp4",  # video-only speech angry strong, actor 2
    "Actor_02/02-01-08-01-02-01-02.mp4",  # video-only speech surprised
    "Actor_02/03-01-05-02-01-02-02.wav",  # audio-only: ignored
    "Actor_02/.02-01-05-01-01-01-02.mp4",  # hidden: ignored
    "Actor_02/notes.mp4",  # not a RAVDESS name: ignored
]


def make_ravdess(root: Path, files: list[str] = RAVDESS_FILES) -> Path:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).touch()
    return root


def test_ravdess_default_selection_and_labels(tmp_path: Path) -> None:
    source = make_ravdess(tmp_path / "RAVDESS")
    manifest = build_manifest("ravdess", source, tmp_path / "m.parquet")
    assert manifest.columns[:4] == list(MANIFEST_COLUMNS)
    assert manifest["video_id"].to_list() == [
        "02-01-02-01-01-01-01",
        "02-01-03-01-01-01-01",
        "02-01-05-02-01-02-02",
        "02-01-08-01-02-01-02",
        "02-02-04-02-02-02-01",
    ]
    rows = {row["video_id"]: row for row in manifest.iter_rows(named=True)}
    happy = rows["02-01-03-01-01-01-01"]
    assert happy["emotion"] == "happiness" and happy["ravdess_emotion"] == "happy"
    assert (happy["subject"], happy["actor"], happy["actor_sex"]) == ("01", 1, "male")
    assert (happy["modality"], happy["vocal_channel"], happy["intensity"]) == (
        "video_only",
        "speech",
        "normal",
    )
    assert happy["path"] == str(source / "Actor_01" / "02-01-03-01-01-01-01.mp4")
    angry = rows["02-01-05-02-01-02-02"]
    assert (angry["emotion"], angry["subject"], angry["actor_sex"]) == ("anger", "02", "female")
    assert (angry["repetition"], angry["statement"]) == (2, "01")
    assert rows["02-01-08-01-02-01-02"]["emotion"] == "surprise"
    assert rows["02-02-04-02-02-02-01"]["emotion"] == "sadness"
    assert rows["02-01-02-01-01-01-01"]["emotion"] == "calm"
    assert read_manifest(tmp_path / "m.parquet").equals(manifest)


def test_ravdess_subset_options_and_label_map(tmp_path: Path) -> None:
    source = make_ravdess(tmp_path)
    manifest = build_manifest(
        "ravdess",
        source,
        tmp_path / "m.parquet",
        options={"modalities": ["01", "video_only"], "vocal_channels": ["speech"], "actors": [1]},
    )
    assert manifest["video_id"].to_list() == [
        "01-01-03-01-01-01-01",
        "02-01-02-01-01-01-01",
        "02-01-03-01-01-01-01",
    ]
    strong = build_manifest(
        "ravdess",
        source,
        tmp_path / "m.parquet",
        options={
            "intensities": "strong",
            "label_map": {"sad": "sorrow", "05": None},  # by name and by code; null drops
        },
    )
    assert strong["video_id"].to_list() == ["02-02-04-02-02-02-01"]
    assert strong["emotion"].to_list() == ["sorrow"]


def test_ravdess_drops_emotions_not_configured(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_ravdess(tmp_path)
    with caplog.at_level(logging.INFO, logger="emoflow.manifest"):
        manifest = build_manifest(
            "ravdess", source, tmp_path / "m.parquet", emotions=["happiness", "anger", "fear"]
        )
    assert sorted(manifest["emotion"].to_list()) == ["anger", "happiness"]
    assert "3 videos dropped" in caplog.text and "calm (1)" in caplog.text
    assert "no video is labelled fear" in caplog.text
    with pytest.raises(InputError, match="no video has one of the configured emotions"):
        build_manifest("ravdess", source, tmp_path / "m.parquet", emotions=["contempt"])


def test_ravdess_errors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "m.parquet"
    with pytest.raises(InputError, match=r"absent: RAVDESS folder does not exist"):
        build_manifest("ravdess", tmp_path / "absent", out)
    empty = tmp_path / "empty"
    (empty / "Actor_01").mkdir(parents=True)
    with pytest.raises(InputError, match=r"empty: holds no RAVDESS video named MM-VV"):
        build_manifest("ravdess", empty, out)
    full_only = make_ravdess(tmp_path / "full", ["Actor_01/01-01-03-01-01-01-01.mp4"])
    with pytest.raises(InputError, match=r"none of its 1 RAVDESS videos.*holds full_av"):
        build_manifest("ravdess", full_only, out)
    bad = make_ravdess(tmp_path / "bad", ["Actor_03/02-01-09-01-01-01-03.mp4"])
    with pytest.raises(InputError, match=r"02-01-09-01-01-01-03\.mp4: .*emotion code 09"):
        build_manifest("ravdess", bad, out)
    source = make_ravdess(tmp_path / "ok")
    with pytest.raises(ConfigError, match="audio_only"):
        build_manifest("ravdess", source, out, options={"modalities": ["audio_only"]})
    with pytest.raises(ConfigError, match=r"vocal_channels: unknown value 'opera'"):
        build_manifest("ravdess", source, out, options={"vocal_channels": ["opera"]})
    with pytest.raises(ConfigError, match=r"actors: unknown value 25"):
        build_manifest("ravdess", source, out, options={"actors": [25]})
    with pytest.raises(ConfigError, match=r"label_map for ravdess: unknown label 'joy'"):
        build_manifest("ravdess", source, out, options={"label_map": {"joy": "happiness"}})
    with pytest.raises(ConfigError, match=r"unknown option\(s\) colour for adapter 'ravdess'"):
        build_manifest("ravdess", source, out, options={"colour": True})
    misplaced = make_ravdess(tmp_path / "misplaced", ["Actor_04/02-01-03-01-01-01-05.mp4"])
    with caplog.at_level(logging.WARNING, logger="emoflow.manifest"):
        manifest = build_manifest("ravdess", misplaced, out)
    assert manifest["subject"].to_list() == ["05"]
    assert "says actor 05 but it lies in Actor_04" in caplog.text


# --- CK+ -----------------------------------------------------------------------------------


def make_ckplus(root: Path) -> Path:
    """CK+ layout: four sequences, two labelled, one with an empty emotion folder."""
    sequences = {
        ("S005", "001"): (3, "   3.0000000e+00\n"),  # disgust, peak frame 3
        ("S005", "002"): (2, None),  # no emotion folder
        ("S010", "004"): (4, "7.0000000e+00"),  # surprise
        ("S010", "006"): (2, ""),  # emotion folder without a file
        ("S011", "001"): (2, "2.0000000e+00"),  # contempt
    }
    for (subject, sequence), (n_frames, label) in sequences.items():
        folder = root / "cohn-kanade-images" / subject / sequence
        folder.mkdir(parents=True)
        for index in range(1, n_frames + 1):
            image = np.full((8, 8), 40 * index, dtype=np.uint8)  # grey, as many CK+ frames
            cv2.imwrite(str(folder / f"{subject}_{sequence}_{index:08d}.png"), image)
        if label is not None:
            emotion = root / "Emotion" / subject / sequence
            emotion.mkdir(parents=True)
            if label:
                name = f"{subject}_{sequence}_{n_frames:08d}_emotion.txt"
                (emotion / name).write_text(label)
    (root / "cohn-kanade-images" / ".DS_Store").touch()
    return root


def test_ckplus_adapter(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = make_ckplus(tmp_path / "CK+")
    with caplog.at_level(logging.INFO, logger="emoflow.manifest"):
        manifest = build_manifest("ckplus", source, tmp_path / "m.parquet")
    assert manifest["video_id"].to_list() == ["S005_001", "S010_004", "S011_001"]
    assert manifest["subject"].to_list() == ["S005", "S010", "S011"]
    assert manifest["emotion"].to_list() == ["disgust", "surprise", "contempt"]
    assert manifest["n_frames"].to_list() == [3, 4, 2]
    assert manifest["peak_frame"].to_list() == [3, 4, 2]
    assert "2 without an emotion file skipped" in caplog.text
    path = manifest.filter(pl.col("video_id") == "S010_004")["path"].item()
    assert path == str(source / "cohn-kanade-images" / "S010" / "004")
    info, frames = open_frames(path)  # the frame folder reads as a video (grey → RGB)
    assert info.n_frames == 4 and next(frames).shape == (8, 8, 3)
    with pytest.raises(InputError, match=r"CK\+: no video has one of the configured emotions"):
        build_manifest(
            "ckplus",
            source,
            tmp_path / "m.parquet",
            emotions=["disgust", "surprise"],
            options={"subjects": ["S011"]},
        )


def test_ckplus_label_map_and_emotion_filter(tmp_path: Path) -> None:
    source = make_ckplus(tmp_path)
    manifest = build_manifest(
        "ckplus",
        source,
        tmp_path / "m.parquet",
        emotions=["disgust", "surprise"],
        options={"subjects": ["S005", "S010", "S011"], "label_map": {2: None}},
    )
    assert manifest["emotion"].to_list() == ["disgust", "surprise"]
    renamed = build_manifest(
        "ckplus", source, tmp_path / "m.parquet", options={"label_map": {"7": "astonishment"}}
    )
    assert "astonishment" in renamed["emotion"].to_list()


def test_ckplus_errors(tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    with pytest.raises(InputError, match=r"cohn-kanade-images: CK\+ folder does not exist"):
        build_manifest("ckplus", tmp_path, out)
    source = make_ckplus(tmp_path / "ck")
    emotion_file = next((source / "Emotion" / "S010" / "004").iterdir())
    emotion_file.write_text("surprise")
    with pytest.raises(InputError, match=r"S010_004_00000004_emotion\.txt: .*not hold a number"):
        build_manifest("ckplus", source, out)
    emotion_file.write_text("9.0")
    with pytest.raises(InputError, match=r"emotion\.txt: emotion code 9\.0 is not one of 0 … 7"):
        build_manifest("ckplus", source, out)
    emotion_file.write_text("7")
    (emotion_file.parent / "S010_004_00000003_emotion.txt").write_text("6")
    with pytest.raises(InputError, match=r"004: holds several emotion files"):
        build_manifest("ckplus", source, out)
    unlabelled = tmp_path / "unlabelled"
    (unlabelled / "cohn-kanade-images" / "S001" / "001").mkdir(parents=True)
    cv2.imwrite(str(unlabelled / "cohn-kanade-images" / "S001" / "001" / "f.png"), np.zeros((4, 4)))
    (unlabelled / "Emotion").mkdir()
    with pytest.raises(InputError, match=r"holds no labelled CK\+ sequence \(1 sequences"):
        build_manifest("ckplus", unlabelled, out)
    with pytest.raises(ConfigError, match="label_map for ckplus: unknown label 'joy'"):
        build_manifest(
            "ckplus", make_ckplus(tmp_path / "ck2"), out, options={"label_map": {"joy": "x"}}
        )


# --- precomputed landmarks ------------------------------------------------------------------


def face_frames(n_frames: int, n_points: int = N_LANDMARKS) -> np.ndarray:
    """``(n_frames, n_points, 3)`` landmarks: the reference face drifting right."""
    base = reference_face()[:n_points].astype(np.float32)
    shift = np.zeros((n_frames, 1, 3), dtype=np.float32)
    shift[:, 0, 0] = 0.01 * np.arange(n_frames)
    return base[None] + shift


def wide_columns(values: np.ndarray) -> dict[str, np.ndarray]:
    """``x_0 … x_n, y_0 …, z_0 …`` columns (the layout of many public dumps)."""
    return {
        f"{axis}_{index}": values[:, index, column]
        for column, axis in enumerate("xyz")
        for index in range(values.shape[1])
    }


def interleaved_columns(values: np.ndarray) -> dict[str, np.ndarray]:
    """``x0, y0, z0, x1, …`` columns."""
    return {
        f"{axis}{index}": values[:, index, column]
        for index in range(values.shape[1])
        for column, axis in enumerate("xyz")
    }


def test_coordinate_column_layouts() -> None:
    names = [f"{axis}_{i}" for axis in "xyz" for i in range(N_LANDMARKS)]
    triples = coordinate_columns(["frame", *names], "f.csv")
    assert triples[0] == ("x_0", "y_0", "z_0") and triples[-1] == ("x_477", "y_477", "z_477")
    interleaved = [f"{axis}{i}" for i in range(N_MESH_LANDMARKS) for axis in "XYZ"]
    assert coordinate_columns(interleaved, "f.csv")[10] == ("X10", "Y10", "Z10")
    one_based = [f"{i}_{axis}" for i in range(1, N_LANDMARKS + 1) for axis in "xyz"]
    assert coordinate_columns(one_based, "f.csv")[0] == ("1_x", "1_y", "1_z")
    with pytest.raises(InputError, match=r"f\.csv: has no landmark coordinate columns"):
        coordinate_columns(["frame", "label"], "f.csv")
    with pytest.raises(InputError, match=r"z and x differ for landmark\(s\) 477"):
        coordinate_columns(names[:-1], "f.csv")
    with pytest.raises(InputError, match="holds 10 landmarks per frame"):
        coordinate_columns([f"{a}{i}" for i in range(10) for a in "xyz"], "f.csv")
    with pytest.raises(InputError, match="without gaps"):
        coordinate_columns([f"{a}{i}" for i in range(2, 480) for a in "xyz"], "f.csv")
    with pytest.raises(InputError, match="both name x of landmark 0"):
        coordinate_columns(["x_0", "x0"], "f.csv")


def test_import_landmark_csv_layouts(tmp_path: Path) -> None:
    values = face_frames(5)
    wide = pl.DataFrame({"frame": np.arange(5), **wide_columns(values)})
    wide_file = tmp_path / "clip_a.csv"
    wide.write_csv(wide_file)
    summary = import_landmarks(wide_file, tmp_path / "a.parquet", fps=25)
    assert summary == {"clip_a": {"frames": 5, "faces_found": 5, "error": None}}
    table = read_landmarks(tmp_path / "a.parquet")
    landmarks, found = landmarks_array(table, "clip_a")
    assert found.all() and np.allclose(landmarks, values, atol=1e-6)
    assert np.allclose(table["timestamp_s"].to_numpy(), np.arange(5) / 25)
    assert table["n_faces"].is_null().all() and table["detection_score"].is_null().all()
    record = read_video_records(tmp_path / "a.parquet")["clip_a"]
    assert (record["landmarks_format"], record["fps"], record["width"]) == ("csv", 25.0, None)
    assert pq.read_schema(tmp_path / "a.parquet").equals(LANDMARK_SCHEMA)

    # interleaved 468-point layout, a time column in ms and a frame without a face
    mesh = face_frames(4, N_MESH_LANDMARKS).copy()
    mesh[2] = np.nan
    columns = {"timestamp_ms": [0.0, 40.0, 80.0, 120.0], **interleaved_columns(mesh)}
    tsv = tmp_path / "clip_b.tsv"
    pl.DataFrame(columns).write_csv(tsv, separator="\t")
    import_landmarks(tsv, tmp_path / "b.parquet", video_id="b")
    landmarks, found = landmarks_array(read_landmarks(tmp_path / "b.parquet"), "b")
    assert found.tolist() == [True, True, False, True]
    assert np.allclose(landmarks[found][:, :N_MESH_LANDMARKS], mesh[found], atol=1e-6)
    assert np.isnan(landmarks[:, N_MESH_LANDMARKS:]).all()
    assert read_video_records(tmp_path / "b.parquet")["b"]["fps"] == pytest.approx(25.0)


def test_import_many_videos_per_file_and_pixels(tmp_path: Path) -> None:
    values = face_frames(6)
    pixels = values * np.array([640, 360, 640], dtype=np.float32)
    frame = pl.DataFrame(
        {
            "video_id": ["v1"] * 3 + ["v2"] * 3,
            "frame": [2, 0, 1, 0, 1, 2],  # out of order: sorted on import
            "confidence": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
            **wide_columns(pixels),
        }
    )
    file = tmp_path / "dump.csv"
    frame.write_csv(file)
    with pytest.raises(InputError, match=r"dump\.csv: x/y coordinates reach \d+.*look like pixels"):
        import_landmarks(file, tmp_path / "x.parquet", strict=True)
    summary = import_landmarks(file, tmp_path / "d.parquet", units="pixels", width=640, height=360)
    assert sorted(summary) == ["v1", "v2"]
    table = read_landmarks(tmp_path / "d.parquet")
    v1 = table.filter(pl.col("video_id") == "v1")
    assert v1["frame"].to_list() == [0, 1, 2]
    assert v1["detection_score"].to_list() == pytest.approx([0.8, 0.7, 0.9])
    landmarks, _ = landmarks_array(table, "v1")
    assert np.allclose(landmarks[0], values[1], atol=1e-5)  # frame 0 was the second row
    assert read_video_records(tmp_path / "d.parquet")["v2"]["width"] == 640
    with pytest.raises(ConfigError, match="units 'pixels' needs the frame width and height"):
        import_landmarks(file, tmp_path / "x.parquet", units="pixels", strict=True)


def test_import_faults_are_recorded(tmp_path: Path) -> None:
    no_face = tmp_path / "no_face.csv"
    pl.DataFrame(wide_columns(np.full((3, N_LANDMARKS, 3), np.nan, np.float32))).write_csv(no_face)
    broken = tmp_path / "broken.csv"
    broken.write_text("frame,label\n0,happy\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    summary = import_landmarks([no_face, broken, empty], tmp_path / "out.parquet")
    assert "no face found in any of its 3 frames" in summary["no_face"]["error"]
    assert "broken.csv: has no landmark coordinate columns" in summary["broken"]["error"]
    assert "empty.csv: landmark file is empty" in summary["empty"]["error"]
    assert read_landmarks(tmp_path / "out.parquet").height == 0
    with pytest.raises(NoFaceError, match=r"no_face\.csv"):
        import_landmarks(no_face, tmp_path / "strict.parquet", strict=True)
    with pytest.raises(InputError, match=r"nothing\.csv: does not exist"):
        import_landmarks(tmp_path / "nothing.csv", tmp_path / "x.parquet")


def test_landmark_adapters_feed_the_landmark_stage(tmp_path: Path) -> None:
    """Labels + landmark CSVs → manifest → shards (import, no Face Mesh) → Parquet re-import."""
    data = tmp_path / "data"
    data.mkdir()
    for name, n_frames in (("a", 6), ("b", 4)):
        pl.DataFrame(wide_columns(face_frames(n_frames))).write_csv(data / f"{name}.csv")
    labels = data / "labels.csv"
    labels.write_text(
        "path,label,subject,fps,start_s\na.csv,happiness,s1,10,0.2\nb.csv,sadness,s2,,\n"
    )
    manifest_path = tmp_path / "manifest.parquet"
    manifest = build_manifest(
        "landmarks_csv",
        labels,
        manifest_path,
        options={"fps": 20, "width": 640, "height": 480},
    )
    assert manifest["landmarks_format"].to_list() == ["csv", "csv"]
    assert manifest["landmarks_fps"].to_list() == [10.0, 20.0]
    assert manifest["landmarks_width"].to_list() == [640, 640]
    shards = [tmp_path / f"shard_{k}.parquet" for k in range(2)]
    for shard, out in enumerate(shards):
        extract_shard(manifest_path, out, shard=shard, n_shards=2, fps=5)
    table = read_landmarks(shards)
    a_rows = table.filter(pl.col("video_id") == "a")
    assert a_rows["frame"].to_list() == [2, 3, 4, 5]  # window from 0.2 s at 10 fps
    assert a_rows["timestamp_s"].to_list() == pytest.approx([0.2, 0.3, 0.4, 0.5])
    records = read_video_records(shards)
    assert records["a"]["start_s"] == 0.2 and records["b"]["fps"] == 20.0
    assert records["b"]["height"] == 480

    # the shard files are landmark Parquet files a later study can import
    parquet_labels = tmp_path / "parquet_labels.csv"
    parquet_labels.write_text(
        f"video_id,path,label,subject\nb,{shards[1]},sadness,s2\na,{shards[0]},happiness,s1\n"
    )
    reimported_manifest = tmp_path / "reimported.parquet"
    build_manifest("landmarks_parquet", parquet_labels, reimported_manifest)
    out = tmp_path / "reimported_shard.parquet"
    extract_shard(reimported_manifest, out, shard=0, n_shards=1)
    again = read_landmarks(out)
    for video_id in ("a", "b"):
        before, _ = landmarks_array(table, video_id)
        after, _ = landmarks_array(again, video_id)
        assert np.array_equal(before, after, equal_nan=True)
    assert read_video_records(out)["b"]["height"] == 480
    with pytest.raises(ConfigError, match=r"unknown option\(s\) fps for adapter 'landmarks_par"):
        build_manifest("landmarks_parquet", parquet_labels, reimported_manifest, options={"fps": 3})


def test_parquet_import_of_older_files(tmp_path: Path) -> None:
    """A landmark file without the n_faces/detection_score columns still imports and reads."""
    pl.DataFrame(wide_columns(face_frames(3))).write_csv(tmp_path / "v.csv")
    import_landmarks(tmp_path / "v.csv", tmp_path / "new.parquet")
    old = pq.read_table(tmp_path / "new.parquet").drop_columns(["n_faces", "detection_score"])
    pq.write_table(old, tmp_path / "old.parquet")
    frame = read_landmarks([tmp_path / "old.parquet", tmp_path / "new.parquet"])
    assert frame.columns == LANDMARK_SCHEMA.names and frame.height == 6
    assert frame["n_faces"].is_null().all()
    summary = import_landmarks(tmp_path / "old.parquet", tmp_path / "re.parquet", video_id="w")
    assert summary["w"]["faces_found"] == 3


def test_csv_adapter_time_window_reaches_extract_shard(tmp_path: Path) -> None:
    """``start_s``/``end_s`` of a csv manifest become the items of the shard (no decoding)."""
    labels = tmp_path / "labels.csv"
    labels.write_text("video_id,path,label,subject,start_s,end_s\nc1,gone.mp4,happiness,s1,1,2\n")
    manifest_path = tmp_path / "m.parquet"
    build_manifest("csv", labels, manifest_path, check_files=False)
    summary = extract_shard(manifest_path, tmp_path / "s.parquet", shard=0, n_shards=1)
    assert "gone.mp4: does not exist" in summary["c1"]["error"]
    record = read_video_records(tmp_path / "s.parquet")["c1"]
    assert (record["start_s"], record["end_s"]) == (1.0, 2.0)
    with pytest.raises(ConfigError, match="landmarks_format must be one of"):
        extract_videos([("v", "x.csv", None, None, "hdf5")], tmp_path / "x.parquet")

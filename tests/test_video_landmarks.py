"""Tests of frame decoding (emoflow.video) and Face Mesh extraction (emoflow.landmarks).

Inputs are made here: short videos of warped copies of the astronaut face bundled with
scikit-image, blank videos, broken files and frame folders. MediaPipe runs only in tests
marked ``slow``; most of those share one shard extracted once per module.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
import skimage.data

from emoflow.errors import ConfigError, DataError, InputError, NoFaceError
from emoflow.facemesh.mesh import N_LANDMARKS
from emoflow.landmarks import extract_shard, extract_videos, landmarks_array, read_landmarks
from emoflow.landmarks.extract import FaceMeshExtractor
from emoflow.storage.landmark_table.reader import read_video_records
from emoflow.storage.landmark_table.schema import LANDMARK_SCHEMA
from emoflow.video import open_frames

SIZE = 256
FPS = 30.0
N_FACE_FRAMES = 24
GAP = range(8, 16)  # blank frames in the middle of the gap video
N_FOLDER_FRAMES = 6


def face_image(index: int) -> np.ndarray:
    """The astronaut's face, slightly rotated, scaled and moved according to ``index``."""
    face = cv2.resize(skimage.data.astronaut()[30:230, 125:325], (SIZE, SIZE))
    centre = (SIZE / 2, SIZE / 2)
    warp = cv2.getRotationMatrix2D(centre, 8 * np.sin(index / 5), 1 + 0.05 * np.cos(index / 7))
    warp[:, 2] += (6 * np.sin(index / 4), 4 * np.cos(index / 6))
    return cv2.warpAffine(face, warp, (SIZE, SIZE), borderMode=cv2.BORDER_REFLECT)


def blank_image() -> np.ndarray:
    return np.full((SIZE, SIZE, 3), 127, dtype=np.uint8)


def write_video(path: Path, images: list[np.ndarray], fourcc: str = "mp4v") -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), FPS, (SIZE, SIZE))
    for image in images:
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every kind of input, made once per module."""
    folder = tmp_path_factory.mktemp("inputs")
    paths: dict[str, Path] = {}
    paths["face"] = write_video(folder / "face.mp4", [face_image(i) for i in range(N_FACE_FRAMES)])
    paths["blank"] = write_video(folder / "blank.mp4", [blank_image()] * 10)
    paths["gap"] = write_video(
        folder / "gap.mp4",
        [blank_image() if i in GAP else face_image(i) for i in range(N_FACE_FRAMES)],
    )
    full = paths["face"].read_bytes()
    paths["truncated"] = folder / "truncated.mp4"
    paths["truncated"].write_bytes(full[: len(full) // 2])
    paths["garbage"] = folder / "garbage.mp4"
    paths["garbage"].write_bytes(np.random.default_rng(0).bytes(4000))
    paths["zero"] = write_video(folder / "zero.mp4", [])
    paths["missing"] = folder / "missing.mp4"
    avi = write_video(folder / "whole.avi", [face_image(i) for i in range(20)], fourcc="MJPG")
    paths["truncated_avi"] = folder / "truncated.avi"  # decodes, but only its first half
    paths["truncated_avi"].write_bytes(avi.read_bytes()[: avi.stat().st_size // 2])
    frames = folder / "frames"
    frames.mkdir()
    for index in range(N_FOLDER_FRAMES):
        image = cv2.cvtColor(face_image(index), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(frames / f"frame_{index:03d}.png"), image)
    (frames / "notes.txt").write_text("not a frame")
    paths["frames"] = frames
    mixed = folder / "mixed"
    mixed.mkdir()
    cv2.imwrite(str(mixed / "a.png"), blank_image())
    cv2.imwrite(str(mixed / "b.png"), np.zeros((64, 64, 3), np.uint8))
    paths["mixed"] = mixed
    return paths


# --- emoflow.video -------------------------------------------------------------------------


def test_open_video_yields_rgb_frames(inputs: dict[str, Path]) -> None:
    info, frames = open_frames(inputs["face"])
    assert (info.width, info.height, info.fps, info.n_frames) == (SIZE, SIZE, FPS, N_FACE_FRAMES)
    decoded = list(frames)
    assert len(decoded) == N_FACE_FRAMES
    assert all(f.shape == (SIZE, SIZE, 3) and f.dtype == np.uint8 for f in decoded)
    # RGB, not BGR: the astronaut's suit/face crop is redder than it is blue.
    first = decoded[0].reshape(-1, 3).mean(axis=0)
    expected = face_image(0).reshape(-1, 3).mean(axis=0)
    assert np.allclose(first, expected, atol=6)


def test_open_video_resamples(inputs: dict[str, Path]) -> None:
    info, frames = open_frames(inputs["face"], fps=15)
    assert info.fps == 15 and info.source_fps == FPS
    assert len(list(frames)) == N_FACE_FRAMES // 2
    info, frames = open_frames(inputs["face"], fps=60)
    assert abs(len(list(frames)) - 2 * N_FACE_FRAMES) <= 1


def test_open_frame_folder(inputs: dict[str, Path], tmp_path: Path) -> None:
    info, frames = open_frames(inputs["frames"], fps=25)
    assert (info.fps, info.n_frames, info.width) == (25, N_FOLDER_FRAMES, SIZE)
    assert len(list(frames)) == N_FOLDER_FRAMES
    assert open_frames(inputs["frames"])[0].fps == 30
    # natural name order: f2 before f10
    for value, name in ((10, "f10.png"), (2, "f2.png"), (1, "f1.png")):
        cv2.imwrite(str(tmp_path / name), np.full((8, 8, 3), value, np.uint8))
    assert [int(f[0, 0, 0]) for f in open_frames(tmp_path)[1]] == [1, 2, 10]


def test_open_frames_mixed_sizes(inputs: dict[str, Path]) -> None:
    _, frames = open_frames(inputs["mixed"])
    with pytest.raises(InputError, match=r"mixed sizes.*b\.png"):
        list(frames)


@pytest.mark.parametrize("kind", ["truncated", "garbage", "zero"])
def test_open_frames_unreadable(inputs: dict[str, Path], kind: str) -> None:
    with pytest.raises(InputError, match="unreadable, corrupt or empty") as caught:
        open_frames(inputs[kind])
    assert inputs[kind].name in str(caught.value)


def test_open_frames_missing_and_bad_fps(inputs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.mp4: does not exist"):
        open_frames(inputs["missing"])
    with pytest.raises(InputError, match="no image frames"):
        open_frames(tmp_path)
    with pytest.raises(ConfigError, match="fps"):
        open_frames(inputs["face"], fps=0)


# --- emoflow.landmarks ---------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def shard(
    inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict, list[str]]]:
    """One non-strict shard over good and bad inputs: (file, summary, warnings logged)."""
    out = tmp_path_factory.mktemp("shard") / "landmarks_0.parquet"
    names = ["face", "gap", "blank", "truncated", "garbage", "zero", "missing", "frames"]
    names.append("truncated_avi")
    handler = _Records()
    logger = logging.getLogger("emoflow.landmarks")
    logger.addHandler(handler)
    try:
        summary = extract_videos([(name, str(inputs[name])) for name in names], out)
    finally:
        logger.removeHandler(handler)
    yield out, summary, handler.messages


@pytest.mark.slow
def test_shard_schema_and_polars_dtype(shard: tuple[Path, dict, list[str]]) -> None:
    out, _, _ = shard
    schema = pq.read_schema(out)
    assert schema.equals(LANDMARK_SCHEMA)
    metadata = {key.decode(): value.decode() for key, value in schema.metadata.items()}
    assert metadata["emoflow.extractor"] == "mediapipe.face_mesh"
    assert metadata["emoflow.model"] == "face_mesh refine_landmarks=True"
    assert metadata["emoflow.mediapipe_version"] == "0.10.21"
    frame = pl.read_parquet(out)
    assert frame.schema["landmarks"] == pl.Array(pl.Float32, shape=(N_LANDMARKS, 3))
    assert frame.schema["frame"] == pl.Int32
    assert pq.ParquetFile(out).metadata.row_group(0).column(0).compression == "ZSTD"


@pytest.mark.slow
def test_shard_rows_and_faces(shard: tuple[Path, dict, list[str]]) -> None:
    out, summary, _ = shard
    frame = read_landmarks(out)
    assert set(frame["video_id"].unique()) == {"face", "gap", "frames", "truncated_avi"}
    face = frame.filter(pl.col("video_id") == "face").sort("frame")
    assert face["frame"].to_list() == list(range(N_FACE_FRAMES))
    assert np.allclose(face["timestamp_s"].to_numpy(), np.arange(N_FACE_FRAMES) / FPS)
    assert face["face_found"].all()
    assert summary["face"] == {"frames": N_FACE_FRAMES, "faces_found": N_FACE_FRAMES, "error": None}
    landmarks, found_mask = landmarks_array(frame, "face")
    assert landmarks.shape == (N_FACE_FRAMES, N_LANDMARKS, 3) and landmarks.dtype == np.float32
    assert found_mask.all() and np.isfinite(landmarks).all()
    assert 0 < landmarks[..., 0].min() and landmarks[..., :2].max() < 1
    folder = frame.filter(pl.col("video_id") == "frames")
    assert folder.height == N_FOLDER_FRAMES and folder["face_found"].all()


@pytest.mark.slow
def test_face_leaves_and_returns(shard: tuple[Path, dict, list[str]]) -> None:
    out, summary, _ = shard
    frame = read_landmarks(out)
    gap = frame.filter(pl.col("video_id") == "gap").sort("frame")
    expected = [i not in GAP for i in range(N_FACE_FRAMES)]
    assert gap["face_found"].to_list() == expected
    assert gap["landmarks"].is_null().to_list() == [not found for found in expected]
    assert summary["gap"]["faces_found"] == N_FACE_FRAMES - len(GAP)
    landmarks, found_mask = landmarks_array(frame, "gap")
    assert found_mask.tolist() == expected
    assert np.isnan(landmarks[~found_mask]).all()
    assert np.isfinite(landmarks[found_mask]).all()


@pytest.mark.slow
def test_bad_videos_are_recorded_not_fatal(
    shard: tuple[Path, dict, list[str]], inputs: dict[str, Path]
) -> None:
    out, summary, warnings = shard
    records = json.loads(pq.read_schema(out).metadata[b"emoflow.videos"])
    assert records == read_video_records(out)
    for name in ("blank", "truncated", "garbage", "zero", "missing"):
        error = summary[name]["error"]
        assert error is not None and inputs[name].name in error
        assert records[name]["error"] == error
        assert any(inputs[name].name in message for message in warnings)
    assert "no face" in summary["blank"]["error"]
    assert summary["blank"]["frames"] == 10 and records["blank"]["n_faces_found"] == 0
    assert "does not exist" in summary["missing"]["error"]
    assert records["face"] == {
        "path": str(inputs["face"]),
        "fps": FPS,
        "source_fps": FPS,
        "width": SIZE,
        "height": SIZE,
        "start_s": 0.0,
        "end_s": None,
        "n_frames": N_FACE_FRAMES,
        "n_faces_found": N_FACE_FRAMES,
        "n_faces_found_on_crop": 0,
        "landmarks_format": None,
        "meshed_frames": None,
        "n_frames_declared": N_FACE_FRAMES,
        "warnings": [],
        "error": None,
        "n_frames_several_faces": 0,
    }
    # the truncated AVI decodes partly: its rows are kept and a warning names it
    assert summary["truncated_avi"]["frames"] == records["truncated_avi"]["n_frames"] < 20
    assert any("truncated.avi" in m and "truncated" in m for m in warnings)


@pytest.mark.slow
def test_strict_raises_naming_the_file(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "strict.parquet"
    with pytest.raises(NoFaceError, match=r"blank\.mp4: no face"):
        extract_videos(
            [("face", str(inputs["face"])), ("blank", str(inputs["blank"]))], out, strict=True
        )
    with pytest.raises(InputError, match=r"garbage\.mp4"):
        extract_videos([("garbage", str(inputs["garbage"]))], out, strict=True)
    with pytest.raises(InputError, match=r"missing\.mp4"):
        extract_videos([("missing", str(inputs["missing"]))], out, strict=True)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no staging leftovers


@pytest.mark.slow
def test_extractor_single_video(inputs: dict[str, Path]) -> None:
    with FaceMeshExtractor(refine_landmarks=False, static_image_mode=True) as extractor:
        table = extractor.extract(inputs["frames"], "frames", fps=10)
        with pytest.raises(NoFaceError, match=r"blank\.mp4"):
            extractor.extract(inputs["blank"], "blank")
    assert table.schema.equals(LANDMARK_SCHEMA)
    assert table.schema.metadata[b"emoflow.model"] == b"face_mesh refine_landmarks=False"
    records = json.loads(table.schema.metadata[b"emoflow.videos"])
    assert records["frames"]["fps"] == 10 and records["frames"]["n_frames"] == N_FOLDER_FRAMES
    assert table["timestamp_s"].to_pylist()[1] == pytest.approx(0.1)
    landmarks, found_mask = landmarks_array(pl.DataFrame(table), "frames")
    assert found_mask.all()
    assert np.isfinite(landmarks[:, :468]).all() and np.isnan(landmarks[:, 468:]).all()


@pytest.mark.slow
def test_videos_do_not_depend_on_the_previous_one(inputs: dict[str, Path]) -> None:
    with FaceMeshExtractor() as fresh:
        alone = fresh.extract(inputs["face"], "face")
    with FaceMeshExtractor() as reused:
        reused.extract(inputs["gap"], "gap")  # ends with a tracked face
        after = reused.extract(inputs["face"], "face")
    assert after["landmarks"].equals(alone["landmarks"])


def test_empty_shard_is_valid(inputs: dict[str, Path], tmp_path: Path) -> None:
    empty = tmp_path / "empty.parquet"
    assert extract_videos([], empty) == {}
    bad = tmp_path / "bad.parquet"
    summary = extract_videos([("garbage", str(inputs["garbage"]))], bad)
    assert summary["garbage"]["frames"] == 0 and "garbage.mp4" in summary["garbage"]["error"]
    for file in (empty, bad):
        assert pq.read_schema(file).equals(LANDMARK_SCHEMA)
        frame = read_landmarks(file)
        assert frame.height == 0
        assert frame.schema["landmarks"] == pl.Array(pl.Float32, shape=(N_LANDMARKS, 3))
    assert read_video_records([empty, bad])["garbage"]["n_frames"] == 0


def test_extract_videos_rejects_duplicate_ids(inputs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"duplicate video_id.*twice"):
        extract_videos([("twice", "a.mp4"), ("twice", "b.mp4")], tmp_path / "x.parquet")


@pytest.mark.slow
def test_extract_shard_selects_rows_and_reads_back(inputs: dict[str, Path], tmp_path: Path) -> None:
    # one real frame folder per shard, the rest missing files (cheap: no decoding)
    video_ids = [f"v{index}" for index in range(7)]
    paths = [
        str(inputs["frames"]) if index < 2 else str(tmp_path / f"v{index}.mp4")
        for index in range(7)
    ]
    manifest = tmp_path / "manifest" / "manifest.parquet"
    manifest.parent.mkdir()
    pl.DataFrame({"video_id": video_ids, "path": paths}).write_parquet(manifest)
    shards = tmp_path / "shards"
    outputs = [shards / f"shard_{shard}.parquet" for shard in range(3)]
    for shard, out in enumerate(outputs):
        summary = extract_shard(manifest, out, shard=shard, n_shards=3, fps=20)
        assert list(summary) == video_ids[shard::3]
    assert read_video_records(outputs).keys() == set(video_ids)
    frame = read_landmarks(str(shards / "shard_*.parquet"))
    assert sorted(frame["video_id"].unique()) == ["v0", "v1"]
    assert frame.height == 2 * N_FOLDER_FRAMES
    assert read_landmarks(outputs).height == read_landmarks(shards).height == frame.height
    with pytest.raises(ConfigError, match="shard"):
        extract_shard(manifest, tmp_path / "x.parquet", shard=3, n_shards=3)


def test_read_landmarks_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="matches no landmark file"):
        read_landmarks(str(tmp_path / "*.parquet"))
    with pytest.raises(InputError, match=r"nope\.parquet: does not exist"):
        read_landmarks(tmp_path / "nope.parquet")
    other = tmp_path / "other.parquet"
    pl.DataFrame({"video_id": ["a"]}).write_parquet(other)
    with pytest.raises(InputError, match=r"other\.parquet.*'frame' is missing"):
        read_landmarks(other)
    text = tmp_path / "text.parquet"
    text.write_text("not parquet")
    with pytest.raises(InputError, match=r"text\.parquet: not a readable Parquet file"):
        read_landmarks(text)


def test_landmarks_array_unknown_video(tmp_path: Path) -> None:
    empty = tmp_path / "empty.parquet"
    extract_videos([], empty)
    with pytest.raises(DataError, match="'absent'"):
        landmarks_array(read_landmarks(empty), "absent")


# --- time windows --------------------------------------------------------------------------


def test_open_frames_time_window(inputs: dict[str, Path]) -> None:
    whole = list(open_frames(inputs["face"])[1])
    info, frames = open_frames(inputs["face"], start_s=0.2, end_s=0.5)  # frames 6 … 14
    window = list(frames)
    assert (info.first_frame, info.start_s, info.end_s) == (6, pytest.approx(0.2), 0.5)
    assert len(window) == 9
    assert all(np.array_equal(a, b) for a, b in zip(window, whole[6:15], strict=True))
    info, frames = open_frames(inputs["face"], start_s=0.5, fps=15)  # 15 … 23, every other
    assert info.start_s == pytest.approx(0.5) and len(list(frames)) == 5
    assert len(list(open_frames(inputs["face"], end_s=0.1)[1])) == 3
    nan = float("nan")
    assert len(list(open_frames(inputs["face"], start_s=nan, end_s=nan)[1])) == N_FACE_FRAMES
    info, frames = open_frames(inputs["frames"], fps=10, start_s=0.2, end_s=0.45)
    assert (info.first_frame, len(list(frames))) == (2, 3)


def test_open_frames_window_seeks_to_the_same_frames(
    inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    grabbed = list(open_frames(inputs["face"], start_s=0.6)[1])
    monkeypatch.setattr("emoflow.video.decode.SEEK_MIN_FRAMES", 1)
    sought = list(open_frames(inputs["face"], start_s=0.6)[1])
    assert len(sought) == len(grabbed) == N_FACE_FRAMES - 18
    assert all(np.array_equal(a, b) for a, b in zip(sought, grabbed, strict=True))


def test_open_frames_window_errors(inputs: dict[str, Path]) -> None:
    with pytest.raises(InputError, match=r"face\.mp4: no frame in the time window \[5, end\) s"):
        open_frames(inputs["face"], start_s=5)
    with pytest.raises(InputError, match=r"frames: no frame in the time window \[0.005, 0.01\) s"):
        open_frames(inputs["frames"], start_s=0.005, end_s=0.01)
    with pytest.raises(ConfigError, match=r"end_s .* must be after start_s"):
        open_frames(inputs["face"], start_s=2, end_s=1)
    with pytest.raises(ConfigError, match="start_s must be a non-negative"):
        open_frames(inputs["face"], start_s=-1)


@pytest.mark.slow
def test_extract_shard_honours_manifest_windows(inputs: dict[str, Path], tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.parquet"
    pl.DataFrame(
        {
            "video_id": ["early", "late", "whole", "outside"],
            "path": [str(inputs["face"])] * 3 + [str(inputs["face"])],
            "start_s": [None, 0.4, None, 9.0],
            "end_s": [0.2, None, None, None],
        }
    ).write_parquet(manifest)
    summary = extract_shard(manifest, tmp_path / "s.parquet", shard=0, n_shards=1)
    assert summary["early"]["frames"] == 6 and summary["late"]["frames"] == N_FACE_FRAMES - 12
    assert "no frame in the time window" in summary["outside"]["error"]
    frame = read_landmarks(tmp_path / "s.parquet")
    late = frame.filter(pl.col("video_id") == "late").sort("frame")
    assert late["frame"][0] == 0 and late["timestamp_s"][0] == pytest.approx(0.4)
    whole, _ = landmarks_array(frame, "whole")
    early, _ = landmarks_array(frame, "early")
    assert np.array_equal(early, whole[:6])  # same frames, same tracking from a fresh start
    records = read_video_records(tmp_path / "s.parquet")
    assert records["late"]["start_s"] == pytest.approx(0.4) and records["early"]["end_s"] == 0.2


# --- faces: confidence, several faces, small faces ------------------------------------------


@pytest.mark.slow
def test_face_columns_and_faithfulness_to_mediapipe(
    inputs: dict[str, Path], shard: tuple[Path, dict, list[str]]
) -> None:
    """emoflow's graph calls give MediaPipe FaceMesh's landmarks bit for bit."""
    from mediapipe.python.solutions import face_mesh

    out, _, _ = shard
    frame = read_landmarks(out)
    gap = frame.filter(pl.col("video_id") == "gap").sort("frame")
    assert gap["n_faces"].to_list() == [0 if i in GAP else 1 for i in range(N_FACE_FRAMES)]
    assert gap.filter(~pl.col("face_found"))["detection_score"].is_null().all()
    scores = gap.filter(pl.col("face_found"))["detection_score"].to_numpy()
    assert ((scores > 0.5) & (scores <= 1)).all()
    metadata = pq.read_schema(out).metadata
    assert json.loads(metadata[b"emoflow.faces"]) == {
        "max_num_faces": 1,
        "face_policy": "tracked",
        "find_small_faces": True,
    }
    expected = []
    with face_mesh.FaceMesh(refine_landmarks=True) as mesh:
        for image in open_frames(inputs["face"])[1]:
            face = mesh.process(image).multi_face_landmarks[0]
            expected.append([(point.x, point.y, point.z) for point in face.landmark])
    landmarks, _ = landmarks_array(frame, "face")
    assert np.array_equal(landmarks, np.array(expected, dtype=np.float32))


def two_faces_video(path: Path) -> Path:
    """640×360: a constant 170-px face on the left, a face growing from 120 to 228 px right."""
    crop = skimage.data.astronaut()[30:230, 125:325]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (640, 360))
    for index in range(10):
        frame = np.full((360, 640, 3), 90, dtype=np.uint8)
        frame[95:265, 40:210] = cv2.resize(crop, (170, 170))
        size = 120 + 12 * index
        top, left = 180 - size // 2, 420 - size // 2
        frame[top : top + size, left : left + size] = cv2.resize(crop, (size, size))
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.mark.slow
def test_face_policies_with_several_faces(tmp_path: Path) -> None:
    video = two_faces_video(tmp_path / "two.mp4")
    centres = {}
    for policy in ("largest", "central", "tracked"):
        with FaceMeshExtractor(max_num_faces=2, face_policy=policy) as extractor:
            table = extractor.extract(video, "two")
        frame = pl.DataFrame(table)
        assert frame["face_found"].all()
        assert frame["n_faces"].max() == 2
        landmarks, _ = landmarks_array(frame, "two")
        centres[policy] = landmarks[:, :468, 0].mean(axis=1) * 640
    left = lambda xs: (np.abs(xs - 125) < 20).tolist()  # noqa: E731
    assert all(left(centres["tracked"]))  # stays with the face it started on
    assert not any(left(centres["central"][4:]))  # the right face is nearer the centre
    largest = left(centres["largest"])
    assert largest[0] and not largest[-1]  # switches when the right face grows larger
    with pytest.raises(ConfigError, match="face_policy must be one of largest, central"):
        FaceMeshExtractor(face_policy="loudest")
    with pytest.raises(ConfigError, match="max_num_faces"):
        FaceMeshExtractor(max_num_faces=0)


@pytest.mark.slow
def test_small_face_in_a_large_frame(tmp_path: Path) -> None:
    """A 180-px face in 1920×1080: missed by Face Mesh alone, found on crops, mapped back."""
    face = cv2.resize(skimage.data.astronaut()[30:230, 125:325], (180, 180))
    video = tmp_path / "small.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (1920, 1080))
    lefts = [1500, 1490, 1480, 1470]
    for left in lefts:
        frame = np.full((1080, 1920, 3), 90, dtype=np.uint8)
        frame[700:880, left : left + 180] = face
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    with FaceMeshExtractor(find_small_faces=False) as plain:
        _, record = plain.extract_with_record(video, "small")
    assert record["n_faces_found"] == 0
    with FaceMeshExtractor() as extractor:
        table, record = extractor.extract_with_record(video, "small")
    assert record["n_faces_found"] == record["n_faces_found_on_crop"] == len(lefts)
    frame = pl.DataFrame(table)
    assert frame["n_faces"].to_list() == [1] * len(lefts)
    assert frame["detection_score"].min() > 0.5
    # the same face alone, large enough for Face Mesh, gives the reference landmarks
    reference_image = np.full((540, 540, 3), 90, dtype=np.uint8)
    reference_image[180:360, 180:360] = face
    from mediapipe.python.solutions import face_mesh

    with face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as reference:
        points = reference.process(reference_image).multi_face_landmarks[0].landmark
    expected = np.array([(point.x, point.y, point.z) for point in points])
    landmarks, _ = landmarks_array(frame, "small")
    for index, left in enumerate(lefts):
        pixels = landmarks[index, :, :2] * [1920, 1080] - [left, 700]
        assert np.abs(pixels - (expected[:, :2] * 540 - 180)).mean() < 1.5
        depth = landmarks[index, :, 2] * 1920
        assert np.abs(depth - expected[:, 2] * 540).mean() < 1.5


# --- shard writing -------------------------------------------------------------------------


@pytest.mark.slow
def test_shard_staged_in_row_groups_equals_in_memory(
    inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    videos = [("frames", str(inputs["frames"])), ("face", str(inputs["face"]))]
    extract_videos(videos, tmp_path / "memory.parquet")
    monkeypatch.setattr("emoflow.storage.landmark_table.writer.ROW_GROUP_ROWS", 5)
    extract_videos(videos, tmp_path / "staged.parquet")
    assert read_landmarks(tmp_path / "staged.parquet").equals(
        read_landmarks(tmp_path / "memory.parquet")
    )
    assert pq.ParquetFile(tmp_path / "staged.parquet").metadata.num_row_groups > 1
    assert read_video_records(tmp_path / "staged.parquet") == read_video_records(
        tmp_path / "memory.parquet"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["memory.parquet", "staged.parquet"]

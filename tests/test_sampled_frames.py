"""Sampled-frame extraction (``landmarks.frames: sampled``): Face Mesh runs only on the frames
the features read, every frame of a video where one of them shows no face, and the table's
metadata says which frames were meshed.

The frames come from one function, :func:`emoflow.video.resampled_frames`, which both the
extractor and :func:`emoflow.features.normalise.resample_frames` use; the fast tests check that
it names exactly the frames the features depend on, the slow ones (MediaPipe) that sampled and
all-frame extraction give the same features: exactly in static-image mode (every frame meshed
on its own), and in video mode within the difference static-image mode already makes (Face Mesh
tracks the face from the previous meshed frame, which lies further back when frames are
skipped).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from emoflow.errors import ConfigError, DataError
from emoflow.features import FeatureSettings, features_from_landmarks
from emoflow.features.normalise import normalise_sequence, resample_frames
from emoflow.landmarks import extract_videos, extraction_settings, read_landmarks
from emoflow.landmarks.extract import frame_selection
from emoflow.video import (
    expected_frames,
    open_frame_slots,
    open_frames,
    resampled_frames,
    resampling_weights,
)

N_FRAMES = 29  # features of 8 frames read 8 of them; of 6 frames, 10
FEATURE_FRAMES = 6
SIZE = 192


# --- which frames the features read ------------------------------------------------------


@pytest.mark.parametrize("n_out", [2, 3, 5, 8, 13])
def test_resampling_reads_exactly_the_resampled_frames(n_out: int) -> None:
    rng = np.random.default_rng(n_out)
    for n_in in range(1, 70):
        sequence = rng.normal(size=(n_in, 4, 3))
        read = resampled_frames(n_in, n_out)
        assert len(read) <= max(1, 2 * n_out - 2)
        assert read[0] == 0 and read[-1] == n_in - 1
        expected = resample_frames(sequence, n_out)
        poisoned = np.full_like(sequence, np.nan)
        poisoned[read] = sequence[read]
        np.testing.assert_array_equal(resample_frames(poisoned, n_out), expected)
        for frame in read:  # and every one of them counts
            one_less = poisoned.copy()
            one_less[frame] = np.nan
            assert np.isnan(resample_frames(one_less, n_out)).any(), (n_in, n_out, frame)


def test_resampling_weights_never_read_a_frame_with_weight_zero() -> None:
    lower, upper, weight = resampling_weights(29, 8)  # positions 0, 4, 8, … 28: on frames
    assert (weight == 0).all() and (upper == lower).all()
    assert resampled_frames(29, 8).tolist() == [0, 4, 8, 12, 16, 20, 24, 28]
    assert resampled_frames(105, 8).size == 14  # the design note's 2N − 2
    with pytest.raises(ConfigError):
        resampling_weights(0, 8)


@pytest.mark.parametrize("align", ["first_frame", "canonical", "none"])
@pytest.mark.parametrize("center", ["mean", "nose"])
def test_features_depend_only_on_the_frames_read(align: str, center: str) -> None:
    """Features of a sequence whose other frames are unknown (not meshed) are those of the
    whole sequence, bit for bit."""
    settings = FeatureSettings(n_frames=8, align=align, center=center)
    rng = np.random.default_rng(1)
    landmarks = (0.5 + 0.05 * rng.normal(size=(N_FRAMES + 8, 478, 3))).astype(np.float32)
    found = np.ones(len(landmarks), dtype=bool)
    read = settings.frames_read(len(landmarks))
    meshed = np.zeros(len(landmarks), dtype=bool)
    meshed[read] = True
    sparse = np.where(meshed[:, None, None], landmarks, np.nan).astype(np.float32)
    full = normalise_sequence(landmarks, found, settings, width=640, height=360)
    sampled = normalise_sequence(sparse, meshed, settings, width=640, height=360)
    np.testing.assert_array_equal(sampled, full)


def test_frame_selection_and_workflow_parameters() -> None:
    assert frame_selection("all", None) is None
    select = frame_selection("sampled", 8)
    assert select is not None and list(select(105)) == resampled_frames(105, 8).tolist()
    with pytest.raises(ConfigError, match="feature_frames"):
        frame_selection("sampled", None)
    with pytest.raises(ConfigError, match="frames must be one of"):
        frame_selection("some", 8)
    # the extraction rule's parameters: features.n_frames is one in sampled mode only
    sampled = {"n_shards": 4, "frames": "sampled", "fps": None}
    assert extraction_settings(sampled, 8) != extraction_settings(sampled, 5)
    assert extraction_settings(sampled, 8)["feature_frames"] == 8
    every = {"n_shards": 4, "frames": "all", "fps": None}
    assert (
        extraction_settings(every, 8)
        == extraction_settings(every, 5)
        == {
            "frames": "all",
            "fps": None,
        }
    )


# --- videos ------------------------------------------------------------------------------


def write_video(path: Path, frames: list[np.ndarray]) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (width, height))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A demo-rendered face clip, the same with blank frames on a frame the features read
    ("hole") and on frames they do not read ("unread_gap"), and a frame folder of it whose
    unread images are damaged."""
    from emoflow.demo.render import render_video
    from emoflow.demo.spec import DemoSpec
    from emoflow.demo.subjects import make_subject

    folder = tmp_path_factory.mktemp("clips")
    spec = DemoSpec(n_frames=N_FRAMES, size=SIZE, fps=30.0)
    face = folder / "face.mp4"
    render_video(face, make_subject(0, spec), "surprise", 1, spec)
    frames = list(open_frames(face)[1])
    read = set(resampled_frames(N_FRAMES, FEATURE_FRAMES).tolist())
    blank = np.full_like(frames[0], 110)
    hole = sorted(read)[3]
    unread = [frame for frame in range(N_FRAMES) if frame not in read][2:4]
    paths = {"face": face}
    paths["hole"] = write_video(
        folder / "hole.mp4", [blank if i in (hole, hole + 1) else f for i, f in enumerate(frames)]
    )
    paths["unread_gap"] = write_video(
        folder / "unread_gap.mp4", [blank if i in unread else f for i, f in enumerate(frames)]
    )
    images = folder / "images"
    images.mkdir()
    for index, frame in enumerate(frames):
        file = images / f"f{index:03d}.png"
        if index in read:
            cv2.imwrite(str(file), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        else:
            file.write_bytes(b"not an image: a sampled extraction never reads it")
    paths["images"] = images
    return paths


def test_frame_slots_read_only_what_is_called(clips: dict[str, Path]) -> None:
    info, slots = open_frame_slots(clips["images"])
    assert expected_frames(info) == N_FRAMES
    read = set(resampled_frames(N_FRAMES, FEATURE_FRAMES).tolist())
    taken = [slot() for index, slot in enumerate(slots) if index in read]
    assert len(taken) == len(read)
    info, slots = open_frame_slots(clips["face"], fps=15)
    assert expected_frames(info, 15) == len(list(slots))


def _extract(clips: dict[str, Path], out: Path, **options: object) -> Path:
    videos = [(name, str(clips[name])) for name in ("face", "hole", "unread_gap")]
    extract_videos(videos, out, strict=True, **options)  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def tables(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tables")
    sampled = {"frames": "sampled", "feature_frames": FEATURE_FRAMES}
    return {
        "all": _extract(clips, folder / "all.parquet"),
        "sampled": _extract(clips, folder / "sampled.parquet", **sampled),
        "static_all": _extract(clips, folder / "static_all.parquet", static_image_mode=True),
        "static_sampled": _extract(
            clips, folder / "static_sampled.parquet", static_image_mode=True, **sampled
        ),
    }


@pytest.mark.slow
def test_metadata_names_the_meshed_frames(tables: dict[str, Path]) -> None:
    metadata = pq.read_schema(tables["sampled"]).metadata
    assert json.loads(metadata[b"emoflow.frames"]) == {
        "mode": "sampled",
        "feature_frames": FEATURE_FRAMES,
    }
    assert json.loads(pq.read_schema(tables["all"]).metadata[b"emoflow.frames"]) == {
        "mode": "all",
        "feature_frames": None,
    }
    records = json.loads(metadata[b"emoflow.videos"])
    read = resampled_frames(N_FRAMES, FEATURE_FRAMES).tolist()
    rows = read_landmarks(tables["sampled"])
    for video_id in ("face", "unread_gap"):
        assert records[video_id]["meshed_frames"] == read
        assert records[video_id]["n_frames"] == N_FRAMES
        frames = rows.filter(rows["video_id"] == video_id)["frame"].to_list()
        assert frames == read
    # the blank frames of unread_gap were never meshed: every meshed frame has its face
    assert records["unread_gap"]["n_faces_found"] == len(read)


@pytest.mark.slow
def test_a_read_frame_without_a_face_meshes_every_frame(tables: dict[str, Path]) -> None:
    records = json.loads(pq.read_schema(tables["sampled"]).metadata[b"emoflow.videos"])
    assert records["hole"]["meshed_frames"] is None
    assert records["hole"]["n_faces_found"] == N_FRAMES - 2
    rows = read_landmarks(tables["sampled"])
    hole = rows.filter(rows["video_id"] == "hole")
    assert hole["frame"].to_list() == list(range(N_FRAMES))
    # the fallback is the all-frame extraction of that video, bit for bit
    every = read_landmarks(tables["all"])
    assert hole.equals(every.filter(every["video_id"] == "hole"))


@pytest.mark.slow
def test_sampled_features_equal_all_frame_features(tables: dict[str, Path]) -> None:
    settings = FeatureSettings(n_frames=FEATURE_FRAMES)
    features = {name: features_from_landmarks(path, settings) for name, path in tables.items()}
    for name, (values, kept, dropped) in features.items():
        assert kept == ["face", "hole", "unread_gap"] and not dropped, name
        assert np.isfinite(values).all()
    # static-image mode meshes each frame on its own: the same frames give the same features
    np.testing.assert_array_equal(features["static_sampled"][0], features["static_all"][0])
    # video mode: the face is tracked from the previous meshed frame, further back when frames
    # are skipped; the features differ by less than static-image mode already makes them
    sampled, every, static = features["sampled"][0], features["all"][0], features["static_all"][0]
    np.testing.assert_array_equal(sampled[1], every[1])  # "hole": every frame meshed
    tracking = np.abs(sampled - every).mean()
    assert 0 < tracking <= np.abs(static - every).mean()


@pytest.mark.slow
def test_other_feature_frames_need_re_extraction(tables: dict[str, Path]) -> None:
    with pytest.raises(DataError, match=r"'face'.*features.n_frames = 8.*re-extract"):
        features_from_landmarks(tables["sampled"], FeatureSettings(n_frames=8))
    # frames all: any n_frames
    values, kept, _ = features_from_landmarks(tables["all"], FeatureSettings(n_frames=8))
    assert values.shape[1] == 8 and len(kept) == 3


@pytest.mark.slow
def test_a_wrong_container_count_meshes_every_frame(
    clips: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emoflow.video.decode as video

    listed = video.VideoDecoder._plan

    def four_short(self: video.VideoDecoder) -> video._Plan | None:
        """The container lists 4 frames fewer than decoding gives."""
        plan = listed(self)
        assert plan is not None
        return video._Plan(plan.pts[:-4], plan.keyframe[:-4], plan.times[:-4], plan.from_pts)

    monkeypatch.setattr(video.VideoDecoder, "_plan", four_short)
    out = tmp_path / "wrong.parquet"
    extract_videos(
        [("face", str(clips["face"]))], out, frames="sampled", feature_frames=FEATURE_FRAMES
    )
    record = json.loads(pq.read_schema(out).metadata[b"emoflow.videos"])["face"]
    assert record["meshed_frames"] is None and record["n_frames"] == N_FRAMES


@pytest.mark.slow
def test_a_frame_folder_reads_only_the_sampled_images(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    videos = [("images", str(clips["images"]))]
    out = tmp_path / "images.parquet"
    summary = extract_videos(
        videos, out, strict=True, frames="sampled", feature_frames=FEATURE_FRAMES
    )
    assert summary["images"]["faces_found"] == len(resampled_frames(N_FRAMES, FEATURE_FRAMES))
    with pytest.raises(Exception, match="unreadable"):  # every image: the damaged ones too
        extract_videos(videos, tmp_path / "every.parquet", strict=True)

"""Real frame times, header checks, decoding only what is meshed, and the extraction's guards.

Videos are written here with PyAV, with explicit presentation times where the frame rate
varies (as phones record). The stored times are checked against ffprobe's (the test skips
where ffprobe is absent). MediaPipe runs only in the tests marked ``slow``.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
import skimage.data

from emoflow.errors import InputError
from emoflow.features import FeatureSettings, features_from_landmarks
from emoflow.features.normalise import normalise_sequence
from emoflow.landmarks import decoding_summary, extract_videos, extraction_mem_mb, read_landmarks
from emoflow.storage.landmark_table.reader import read_video_records
from emoflow.storage.landmark_table.schema import decoding_problems
from emoflow.video import (
    even_times,
    frame_positions,
    open_frame_slots,
    open_frames,
    resampled_frames,
    resampling_weights,
)

SIZE = 160
N_FRAMES = 30
FEATURE_FRAMES = 6
# a phone's variable frame rate (milliseconds between frames): about 30 fps, then about 15 fps
# in low light, with jitter
INTERVALS_MS = [33, 33, 20, 50, 33, 33, 25, 33, 33, 40, 20, 33, 33, 33, 33]
INTERVALS_MS += [66, 70, 60, 66, 90, 66, 66, 50, 66, 66, 66, 80, 66, 66, 66]


def vfr_times() -> list[float]:
    """Seconds of the VFR clip's frames."""
    return [sum(INTERVALS_MS[:index]) / 1000 for index in range(N_FRAMES)]


def face_frame(index: int, size: int = SIZE) -> np.ndarray:
    """The astronaut's face, turned and moved a little with ``index``, RGB."""
    face = cv2.resize(skimage.data.astronaut()[30:230, 125:325], (size, size))
    warp = cv2.getRotationMatrix2D((size / 2, size / 2), 6 * np.sin(index / 4), 1.0)
    warp[:, 2] += (5 * np.sin(index / 3), 3 * np.cos(index / 5))
    return cv2.warpAffine(face, warp, (size, size), borderMode=cv2.BORDER_REFLECT)


def write_video(
    path: Path,
    frames: list[np.ndarray],
    times: list[float] | None = None,
    *,
    codec: str = "mpeg4",
    options: dict[str, str] | None = None,
    codec_options: dict[str, str] | None = None,
    last_duration_s: float | None = None,
) -> Path:
    """Encode RGB ``frames`` with PyAV at presentation ``times`` (seconds; default 30 fps).
    ``last_duration_s`` makes the last frame last that long (the header's duration)."""
    # milliseconds for given times; a constant 30 fps counts in 1/30 s
    time_base = Fraction(1, 1000) if times is not None else Fraction(1, 30)
    ticks = [round(t / time_base) for t in times] if times is not None else range(len(frames))
    with av.open(str(path), "w", options=options or {}) as out:
        stream = out.add_stream(codec, rate=30, options=codec_options or {})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = time_base
        packets = []
        for image, tick in zip(frames, ticks, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = int(tick)
            frame.time_base = time_base
            packets += stream.encode(frame)
        packets += stream.encode()
        if last_duration_s is not None:
            last = max(packets, key=lambda packet: packet.pts)
            last.duration = round(last_duration_s / last.time_base)
        for packet in packets:
            out.mux(packet)
    return path


def ffprobe_times(path: Path) -> np.ndarray:
    """ffprobe's presentation time of every frame, from the stream's start."""
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe is not installed (apt-get install ffmpeg)")
    shown = subprocess.run(
        [
            *("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries"),
            *("frame=pts_time:stream=start_time", "-of", "json", str(path)),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    probe = json.loads(shown.stdout)
    start = float(probe["streams"][0]["start_time"])
    return np.array([float(frame["pts_time"]) for frame in probe["frames"]]) - start


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("frame_times")
    frames = [face_frame(index) for index in range(N_FRAMES)]
    return {
        "vfr": write_video(folder / "vfr.mp4", frames, vfr_times()),
        "cfr": write_video(folder / "cfr.mp4", frames),
        # the header declares 10 hours over 30 frames shown at 30 fps
        "ten_hours": write_video(folder / "ten_hours.mp4", frames, last_duration_s=36000.0),
    }


# --- times ------------------------------------------------------------------------------------


def test_vfr_frame_times_are_the_presentation_times(videos: dict[str, Path]) -> None:
    probed = ffprobe_times(videos["vfr"])
    assert len(probed) == N_FRAMES
    info, frames = open_frame_slots(videos["vfr"])
    decoded = [frame.time_s for frame in frames]
    assert info.frame_times is not None
    np.testing.assert_allclose(info.frame_times, probed, rtol=0, atol=1e-3)
    np.testing.assert_allclose(decoded, probed, rtol=0, atol=1e-3)
    assert not even_times(info.frame_times) and not info.warnings
    # a time window takes the frames whose presentation time falls inside it
    start, end = 0.3, 0.75
    inside = np.flatnonzero((probed >= start) & (probed < end))
    info, frames = open_frame_slots(videos["vfr"], start_s=start, end_s=end)
    window = list(frames)
    assert [frame.time_s for frame in window] == pytest.approx(probed[inside], abs=1e-3)
    assert info.first_frame == inside[0] and info.start_s == pytest.approx(probed[inside[0]])


def test_constant_rate_times_are_frame_over_fps_exactly(videos: dict[str, Path]) -> None:
    info, frames = open_frame_slots(videos["cfr"])
    times = [frame.time_s for frame in frames]
    assert times == [index / 30 for index in range(N_FRAMES)]  # bit for bit
    assert info.source_fps == 30 and even_times(np.array(times))


def test_a_header_of_ten_hours_over_thirty_frames_is_reported(videos: dict[str, Path]) -> None:
    info, frames = open_frame_slots(videos["ten_hours"])
    assert info.source_fps == pytest.approx(30, rel=1e-3)  # the frames', not 30 / 36000 s
    assert [frame.time_s for frame in frames] == pytest.approx(
        [index / 30 for index in range(N_FRAMES)], abs=1e-3
    )
    assert any("declares a duration of 36001" in warning for warning in info.warnings)
    assert any("declares 0.0008" in warning for warning in info.warnings)
    # frames 20 minutes apart are no video: placed at the header's rate, or 30 fps
    far = write_video(
        videos["ten_hours"].with_name("far.mp4"),
        [face_frame(index) for index in range(4)],
        [1200.0 * index for index in range(4)],
    )
    info, frames = open_frame_slots(far)
    assert [frame.time_s for frame in frames] == pytest.approx([0, 1 / 30, 2 / 30, 3 / 30])
    assert any("implausible frame times" in warning for warning in info.warnings)


def test_resampling_by_time_where_the_rate_varies() -> None:
    n_in, n_out = 40, 8
    even = np.arange(n_in) / 30.0
    # a constant rate: frame positions, bit for bit as without times (the demo's features)
    np.testing.assert_array_equal(frame_positions(n_in, n_out, even), np.linspace(0, 39, 8))
    rounded = np.round(even, 3)  # millisecond time stamps (WebM, Matroska) are a constant rate
    assert even_times(rounded)
    for got, want in zip(
        resampling_weights(n_in, n_out, rounded), resampling_weights(n_in, n_out), strict=True
    ):
        np.testing.assert_array_equal(got, want)
    # a varying rate: each output instant between the frames around it, in proportion of time
    times = np.cumsum(np.r_[0.0, np.tile([0.02, 0.05], n_in // 2)[: n_in - 1]])
    positions = frame_positions(n_in, n_out, times)
    instants = np.linspace(times[0], times[-1], n_out)
    lower = np.floor(positions).astype(int)
    upper = np.minimum(lower + 1, n_in - 1)
    fraction = positions - lower
    np.testing.assert_allclose(
        times[lower] + fraction * (times[upper] - times[lower]), instants, atol=1e-12
    )
    # frames not meshed (NaN times) do not move the positions, nor which frames are read
    read = resampled_frames(n_in, n_out, times)
    sparse = np.full(n_in, np.nan)
    sparse[read] = times[read]
    np.testing.assert_array_equal(resampled_frames(n_in, n_out, sparse), read)
    np.testing.assert_allclose(frame_positions(n_in, n_out, sparse), positions, atol=1e-12)


def test_features_follow_the_frame_times() -> None:
    """Features of a VFR sequence depend on its frames' times, and only on the frames read at
    those times (the frames sampled extraction meshes)."""
    settings = FeatureSettings(n_frames=FEATURE_FRAMES)
    rng = np.random.default_rng(3)
    landmarks = (0.5 + 0.05 * rng.normal(size=(N_FRAMES, 478, 3))).astype(np.float32)
    found = np.ones(N_FRAMES, dtype=bool)
    times = np.array(vfr_times())
    full = normalise_sequence(landmarks, found, settings, width=640, height=360, timestamps=times)
    by_index = normalise_sequence(landmarks, found, settings, width=640, height=360)
    assert np.abs(full - by_index).max() > 1e-3  # the times are used
    read = settings.frames_read(N_FRAMES, times)
    sparse = np.full_like(landmarks, np.nan)
    sparse[read] = landmarks[read]
    meshed = np.zeros(N_FRAMES, dtype=bool)
    meshed[read] = True
    known = np.full(N_FRAMES, np.nan)
    known[read] = times[read]
    sampled = normalise_sequence(sparse, meshed, settings, width=640, height=360, timestamps=known)
    np.testing.assert_array_equal(sampled, full)
    # a constant rate gives the features without times, bit for bit
    even = np.arange(N_FRAMES) / 30.0
    np.testing.assert_array_equal(
        normalise_sequence(landmarks, found, settings, width=640, height=360, timestamps=even),
        by_index,
    )


# --- decoding only what is meshed ---------------------------------------------------------


@pytest.fixture(scope="module")
def h264(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An H.264 clip with B-frames (some not referenced) and a key frame every 12 frames."""
    if "libx264" not in av.codecs_available:
        pytest.skip("this PyAV has no H.264 encoder")
    frames = [face_frame(index, 128) for index in range(60)]
    return write_video(
        tmp_path_factory.mktemp("h264") / "clip.mp4",
        frames,
        codec="libx264",
        codec_options={"x264-params": "keyint=12:min-keyint=12:scenecut=0:bframes=3"},
    )


def test_selected_frames_decode_exactly_and_skip_work(
    h264: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emoflow.video.decode as video

    every = [frame() for frame in open_frame_slots(h264, threads=1)[1]]
    counted = {"decoded": 0, "seeks": 0}
    decode, seek = video.VideoDecoder._decoded, video.VideoDecoder._seek

    def counting_decode(self, packets, errors):  # type: ignore[no-untyped-def]
        for frame in decode(self, packets, errors):
            counted["decoded"] += 1
            yield frame

    def counting_seek(self, index):  # type: ignore[no-untyped-def]
        counted["seeks"] += 1
        return seek(self, index)

    monkeypatch.setattr(video.VideoDecoder, "_decoded", counting_decode)
    monkeypatch.setattr(video.VideoDecoder, "_seek", counting_seek)
    for wanted, threads in (([0, 1, 2, 29, 30, 58, 59], 1), ([0, 25, 50, 59], 0)):
        counted.update(decoded=0, seeks=0)
        _, frames = open_frame_slots(h264, select=lambda times, w=wanted: w, threads=threads)
        selected = list(frames)
        assert [frame.index for frame in selected] == wanted
        for frame in selected:
            np.testing.assert_array_equal(frame(), every[frame.index])
        assert frames.complete and frames.n_frames == 60
        assert counted["decoded"] < 45  # non-reference frames skipped, key frames sought
        assert counted["seeks"] >= 1


def test_selected_frames_of_a_window_decode_nothing_after_it(
    h264: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emoflow.video.decode as video

    every = [frame() for frame in open_frame_slots(h264, threads=1)[1]]
    decode = video.VideoDecoder._decoded
    counted = {"decoded": 0}

    def counting_decode(self, packets, errors):  # type: ignore[no-untyped-def]
        for frame in decode(self, packets, errors):
            counted["decoded"] += 1
            yield frame

    monkeypatch.setattr(video.VideoDecoder, "_decoded", counting_decode)
    decoded = {}
    for end_s in (None, 1.0):
        counted["decoded"] = 0
        info, frames = open_frame_slots(
            h264, end_s=end_s, select=lambda times: [0, 10, 20], threads=1
        )
        selected = list(frames)
        assert info.frame_times is not None and frames.complete
        assert frames.n_frames == len(info.frame_times) == (60 if end_s is None else 30)
        for frame in selected:
            np.testing.assert_array_equal(frame(), every[frame.index])
        decoded[end_s] = counted["decoded"]
    # after frame 20, the frames of the window are decoded (or skipped), not the 30 after it
    assert decoded[1.0] < decoded[None] - 10


# --- the extraction's guards and records ----------------------------------------------------


def test_frame_size_guard_drops_the_video_with_its_reason(tmp_path: Path) -> None:
    wide = write_video(tmp_path / "wide.mp4", [np.zeros((64, 4112, 3), np.uint8)])
    tiny = write_video(tmp_path / "tiny.mp4", [np.zeros((48, 48, 3), np.uint8)])
    small = write_video(tmp_path / "small.mp4", [face_frame(0, 96)])
    out = tmp_path / "shard.parquet"
    summary = extract_videos(
        [("wide", str(wide)), ("tiny", str(tiny)), ("small", str(small))],
        out,
        min_frame_side=100,  # configurable: the 96-pixel video is refused too
    )
    assert "4112x64 pixels, larger than the 4096" in summary["wide"]["error"]
    assert "landmarks.max_frame_side" in summary["wide"]["error"]
    assert "48x48 pixels, smaller than the 100" in summary["tiny"]["error"]
    assert "96x96 pixels, smaller than the 100" in summary["small"]["error"]
    assert all(record["frames"] == 0 for record in summary.values())
    assert set(read_video_records(out)) == {"wide", "tiny", "small"}
    with pytest.raises(InputError, match=r"wide\.mp4: frames are 4112x64"):
        extract_videos([("wide", str(wide))], tmp_path / "strict.parquet", strict=True)


def test_running_out_of_memory_is_named_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, videos: dict[str, Path]
) -> None:
    import emoflow.video.decode as video

    def exhausted(self, packets, errors):  # type: ignore[no-untyped-def]
        raise av.error.MemoryError(12, "Cannot allocate memory")
        yield  # a generator, as the decoder is

    monkeypatch.setattr(video.VideoDecoder, "_decoded", exhausted)
    out = tmp_path / "shard.parquet"
    summary = extract_videos(
        [("big", str(videos["cfr"])), ("missing", str(tmp_path / "missing.mp4"))], out
    )
    error = summary["big"]["error"]
    assert "cfr.mp4: out of memory while decoding or meshing" in error
    assert f"{SIZE}x{SIZE} frames" in error and "mem_mb" in error
    assert "unreadable" not in error
    assert "does not exist" in summary["missing"]["error"]  # the shard went on
    assert read_video_records(out)["big"]["error"] == error


def test_a_truncated_mp4_is_recorded_and_listed(tmp_path: Path, caplog) -> None:
    whole = write_video(
        tmp_path / "whole.mp4",
        [face_frame(index) for index in range(N_FRAMES)],
        options={"movflags": "faststart"},  # the index first: a cut file still plays
    )
    with av.open(str(whole)) as container:
        ends = sorted(
            packet.pos + packet.size
            for packet in container.demux(container.streams.video[0])
            if packet.size
        )
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(whole.read_bytes()[: ends[12]])  # 13 of the 30 frames
    info, frames = open_frame_slots(truncated)
    assert len(list(frames)) == 13 and info.n_frames == N_FRAMES
    assert any("holds 13 of the 30 frames" in warning for warning in frames.warnings)
    # a shard records it (a video that cannot be decoded at all needs no Face Mesh here)
    records = {
        "truncated": {
            "n_frames": 13,
            "n_frames_declared": 30,
            "warnings": list(frames.warnings),
            "error": None,
        },
        "whole": {"n_frames": 30, "n_frames_declared": 30, "warnings": [], "error": None},
        "old": {"n_frames": 30, "error": None},  # a record of an earlier version
    }
    problems = decoding_problems(records)
    assert list(problems) == ["truncated"]
    assert problems["truncated"].startswith("13 of 30 declared frames; holds 13 of the 30")


@pytest.mark.slow
def test_a_truncated_mp4_in_a_shard_and_the_end_of_run_summary(tmp_path: Path) -> None:
    whole = write_video(
        tmp_path / "whole.mp4",
        [face_frame(index) for index in range(N_FRAMES)],
        options={"movflags": "faststart"},
    )
    data = whole.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) * 45 // 100])
    out = tmp_path / "shard.parquet"
    extract_videos([("cut", str(truncated)), ("whole", str(whole))], out, frames="all")
    record = read_video_records(out)["cut"]
    assert record["n_frames"] < record["n_frames_declared"] == N_FRAMES
    assert record["error"] is None and any("truncated" in w for w in record["warnings"])
    assert (
        read_landmarks(out).filter(read_landmarks(out)["video_id"] == "cut").height
        == (record["n_frames"])
    )
    summary = decoding_summary([out, tmp_path / "not_yet.parquet"])
    assert "1 video(s) decoded in part" in summary and "cut:" in summary
    assert "whole" not in summary
    assert decoding_summary([tmp_path / "not_yet.parquet"]) == ""


# --- extraction on a variable frame rate ------------------------------------------------------


@pytest.fixture(scope="module")
def vfr_tables(
    videos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("vfr_tables")
    items = [("vfr", str(videos["vfr"]))]
    sampled = {"frames": "sampled", "feature_frames": FEATURE_FRAMES}
    tables = {}
    for name, options in (
        ("all", {}),
        ("sampled", sampled),
        ("static_all", {"static_image_mode": True}),
        ("static_sampled", {"static_image_mode": True, **sampled}),
    ):
        tables[name] = folder / f"{name}.parquet"
        extract_videos(items, tables[name], strict=True, **options)  # type: ignore[arg-type]
    return tables


@pytest.mark.slow
def test_vfr_landmark_timestamps_match_ffprobe(
    videos: dict[str, Path], vfr_tables: dict[str, Path]
) -> None:
    probed = ffprobe_times(videos["vfr"])
    every = read_landmarks(vfr_tables["all"]).sort("frame")
    assert every["frame"].to_list() == list(range(N_FRAMES))
    np.testing.assert_allclose(every["timestamp_s"].to_numpy(), probed, rtol=0, atol=1e-3)
    # sampled: the frames read at the frames' times, with those times
    sampled = read_landmarks(vfr_tables["sampled"]).sort("frame")
    read = resampled_frames(N_FRAMES, FEATURE_FRAMES, probed)
    assert sampled["frame"].to_list() == read.tolist()
    assert read.tolist() != resampled_frames(N_FRAMES, FEATURE_FRAMES).tolist()
    np.testing.assert_allclose(sampled["timestamp_s"].to_numpy(), probed[read], atol=1e-3)
    record = json.loads(pq.read_schema(vfr_tables["sampled"]).metadata[b"emoflow.videos"])["vfr"]
    assert record["meshed_frames"] == read.tolist() and record["warnings"] == []


@pytest.mark.slow
def test_vfr_sampled_features_equal_all_frame_features(vfr_tables: dict[str, Path]) -> None:
    settings = FeatureSettings(n_frames=FEATURE_FRAMES)
    features = {
        name: features_from_landmarks(path, settings)[0] for name, path in vfr_tables.items()
    }
    np.testing.assert_array_equal(features["static_sampled"], features["static_all"])
    tracking = np.abs(features["sampled"] - features["all"]).mean()
    assert tracking <= np.abs(features["static_all"] - features["all"]).mean()


# --- memory of an extraction job -----------------------------------------------------------


def test_extraction_memory_follows_frame_size_and_shard(
    videos: dict[str, Path], tmp_path: Path
) -> None:
    small = [{"video_id": "a", "path": str(videos["cfr"])}]
    large = write_video(tmp_path / "large.mp4", [np.zeros((2160, 3840, 3), np.uint8)])
    base = extraction_mem_mb(small)
    assert 300 <= base <= 600
    assert extraction_mem_mb([*small, {"video_id": "b", "path": str(large)}]) >= base + 400
    # refused sizes cost nothing; the demo's videos, made later, count at the given size
    assert extraction_mem_mb([{"path": str(large)}], {"max_frame_side": 1920}) <= base
    made = [{"path": str(tmp_path / f"later_{i}.mp4")} for i in range(30)]
    assert extraction_mem_mb(made, default_size=(3840, 2160)) > extraction_mem_mb(
        made, default_size=(256, 256)
    )


def test_warnings_reach_the_log(videos: dict[str, Path], caplog) -> None:
    from emoflow.facemesh.tracker import FaceMeshTracker

    with caplog.at_level(logging.WARNING, logger="emoflow.landmarks"):
        tracker = FaceMeshTracker()
        try:
            tracker.track(videos["ten_hours"], select=lambda times: [])
        finally:
            tracker.close()
    assert any("ten_hours.mp4" in m and "declares a duration" in m for m in caplog.messages)


def test_open_frames_errors_name_the_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(InputError, match=r"garbage\.mp4: unreadable"):
        open_frames(garbage)

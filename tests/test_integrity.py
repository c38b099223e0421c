"""Stored data is verifiably intact and honest about what it holds (issue 13, points 8–10).

Flipped bytes in a landmark shard or any Parquet table emoflow writes are caught by page
checksums and named; tables written before checksums still read. The feature store opens in
xarray without a warning, every axis labelled, and records which videos became samples: a
one-frame clip is dropped with its reason, a clip with several faces is reported.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emoflow._tables import read_parquet, write_parquet
from emoflow.errors import DataError, InputError
from emoflow.facemesh.mesh import N_LANDMARKS
from emoflow.features import (
    FeatureSettings,
    build_features,
    features_from_landmarks,
    sample_summary,
)
from emoflow.features.normalise import normalise_sequence
from emoflow.landmarks import read_landmarks
from emoflow.storage.feature_store import read_sample_report
from emoflow.storage.landmark_table.reader import read_video_records
from emoflow.storage.landmark_table.schema import landmarks_table, video_record
from emoflow.storage.landmark_table.writer import write_shard
from emoflow.storage.manifest import read_manifest
from emoflow.storage.metrics import read_scores, write_scores
from emoflow.video import VideoInfo, VideoItem

N_FRAMES = 12
SETTINGS = FeatureSettings(n_frames=4)


def _face(rng: np.random.Generator, n_frames: int) -> np.ndarray:
    """A face that moves a little from frame to frame, in MediaPipe's normalised coordinates."""
    base = 0.3 + 0.4 * rng.random((1, N_LANDMARKS, 3))
    return (base + 0.01 * rng.standard_normal((n_frames, N_LANDMARKS, 3))).astype(np.float32)


def _video(video_id: str, n_frames: int, *, faces_seen: int = 1, seed: int = 0):
    """A reader result for one video: its table and record, every frame with a face."""
    rng = np.random.default_rng(seed)
    timestamps = np.arange(n_frames) / 15.0
    n_faces = pa.array([faces_seen if i % 2 else 1 for i in range(n_frames)], type=pa.int16())
    table = landmarks_table(
        video_id, timestamps, np.arange(n_frames), _face(rng, n_frames), n_faces=n_faces
    )
    info = VideoInfo(f"{video_id}.mp4", 15.0, 320, 240, n_frames, 15.0)
    return table, video_record(f"{video_id}.mp4", info, n_frames, n_frames, None)


VIDEOS = {
    "calm": (_video("calm", N_FRAMES, seed=1), "s1", "happiness"),
    "crowd": (_video("crowd", N_FRAMES, faces_seen=2, seed=2), "s2", "anger"),
    "single": (_video("single", 1, seed=3), "s1", "anger"),
    "still": (_video("still", N_FRAMES, seed=4), "s2", "happiness"),
}


def _shard(path: Path, video_ids: list[str]) -> Path:
    """A shard written by emoflow's shard writer."""
    write_shard(
        [VideoItem(video_id, f"{video_id}.mp4") for video_id in video_ids],
        path,
        lambda item: VIDEOS[item.video_id][0],
        refine_landmarks=True,
        faces={"max_num_faces": 2, "face_policy": "largest"},
        strict=False,
    )
    return path


def _flip_in_column(path: Path, column: str, out: Path) -> Path:
    """Copy ``path`` to ``out`` with one byte flipped in the middle of ``column``'s first data
    page (after its page header)."""
    metadata = pq.ParquetFile(path).metadata
    row_group = metadata.row_group(0)
    chunk = next(
        row_group.column(i)
        for i in range(row_group.num_columns)
        if row_group.column(i).path_in_schema.split(".")[0] == column
    )
    start = chunk.data_page_offset
    end = (chunk.dictionary_page_offset or start) + chunk.total_compressed_size
    data = bytearray(path.read_bytes())
    data[start + (end - start) // 2] ^= 0x10
    out.write_bytes(bytes(data))
    return out


# -- point 9: page checksums ---------------------------------------------------------------------
def test_a_flipped_byte_in_a_shard_data_page_is_named_with_the_rerun(tmp_path: Path) -> None:
    shard = _shard(tmp_path / "shard_0.parquet", ["calm", "still"])
    flipped = _flip_in_column(shard, "landmarks", tmp_path / "shard_1.parquet")
    # what the readers did before: the damaged page decodes to other numbers, without a word
    clean = pq.read_table(shard)["landmarks"].to_numpy(zero_copy_only=False)
    silent = pq.read_table(flipped, page_checksum_verification=False)["landmarks"]
    assert not silent.equals(pq.read_table(shard)["landmarks"]) and len(clean) == 2 * N_FRAMES
    with pytest.raises(InputError, match=r"shard_1\.parquet: corrupt .*CRC") as caught:
        read_landmarks(flipped)
    assert "snakemake --forcerun extract_landmarks" in str(caught.value)
    with pytest.raises(InputError, match=r"shard_1\.parquet: corrupt"):
        features_from_landmarks(flipped, SETTINGS)
    truncated = tmp_path / "shard_2.parquet"
    truncated.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    with pytest.raises(InputError, match=r"shard_2\.parquet: not a readable Parquet"):
        read_landmarks(truncated)
    assert read_landmarks(shard).height == 2 * N_FRAMES


def test_shards_written_before_page_checksums_still_read(tmp_path: Path) -> None:
    shard = _shard(tmp_path / "new.parquet", ["calm"])
    table = pq.read_table(shard)
    old = tmp_path / "old.parquet"
    pq.write_table(table, old, compression="zstd")  # no page checksums, as before
    assert read_landmarks(old).equals(read_landmarks(shard))
    assert read_video_records(old) == read_video_records(shard)


def test_every_emoflow_table_carries_verified_page_checksums(tmp_path: Path) -> None:
    manifest = pl.DataFrame(
        {
            "video_id": [f"v{i:03d}" for i in range(400)],
            "path": [f"videos/v{i:03d}.mp4" for i in range(400)],
            "subject": [f"s{i % 7}" for i in range(400)],
            "emotion": [("anger", "happiness")[i % 2] for i in range(400)],
        }
    )
    write_parquet(manifest, tmp_path / "manifest.parquet")
    assert read_manifest(tmp_path / "manifest.parquet").equals(manifest)
    damaged = _flip_in_column(tmp_path / "manifest.parquet", "path", tmp_path / "damaged.parquet")
    with pytest.raises(InputError, match=r"damaged\.parquet: corrupt .*CRC.*build_manifest"):
        read_manifest(damaged)
    n = 300
    write_scores(
        tmp_path / "scores.parquet",
        video_ids=np.array([f"v{i}" for i in range(n)]),
        subjects=np.array(["s"] * n),
        emotions=np.array(["anger"] * n),
        folds=np.zeros(n, dtype=np.int64),
        models=np.array(["anger"]),
        scores=np.linspace(-1, 1, n).reshape(n, 1),
        probabilities=np.linspace(0, 1, n).reshape(n, 1),
    )
    assert read_scores(tmp_path / "scores.parquet").height == n
    damaged = _flip_in_column(tmp_path / "scores.parquet", "score", tmp_path / "scores_bad.parquet")
    with pytest.raises(InputError, match=r"scores_bad\.parquet: corrupt .*CRC.*prune_chain"):
        read_scores(damaged)
    # a table written without checksums (an earlier emoflow) still reads
    manifest.write_parquet(tmp_path / "old_manifest.parquet")
    assert read_parquet(tmp_path / "old_manifest.parquet").equals(manifest)


# -- points 8 and 10: the feature store ------------------------------------------------------------
@pytest.fixture()
def feature_store(tmp_path: Path) -> Path:
    shard = _shard(tmp_path / "shard_0.parquet", list(VIDEOS))
    manifest = pl.DataFrame(
        {
            "video_id": list(VIDEOS),
            "path": [f"{video_id}.mp4" for video_id in VIDEOS],
            "subject": [subject for _, subject, _ in VIDEOS.values()],
            "emotion": [emotion for _, _, emotion in VIDEOS.values()],
        }
    )
    write_parquet(manifest, tmp_path / "manifest.parquet")
    build_features(tmp_path / "manifest.parquet", [shard], tmp_path / "features.zarr", SETTINGS)
    return tmp_path / "features.zarr"


def test_a_one_frame_clip_is_dropped_with_its_reason(feature_store: Path) -> None:
    report = read_sample_report(feature_store)
    assert list(report["dropped"]) == ["single"]
    assert "1 frame(s); a sample needs at least 2" in report["dropped"]["single"]
    assert report["counts"] == {"videos": 4, "kept": 3, "dropped": 1, "several_faces": 1}
    # predict's rule: a window of one frame makes no sample either
    one_frame = _face(np.random.default_rng(0), 1)
    with pytest.raises(DataError, match="at least 2"):
        normalise_sequence(one_frame, np.ones(1, bool), SETTINGS, width=320, height=240)


def test_a_feature_store_without_sample_counts_is_refused(feature_store: Path, tmp_path) -> None:
    """A store of an earlier emoflow (no ``counts`` attribute) is refused, naming the rebuild."""
    import shutil

    import zarr

    from emoflow._integrity import seal_store
    from emoflow._zarr import consolidate_zarr

    old = tmp_path / "old.zarr"
    shutil.copytree(feature_store, old)
    root = zarr.open_group(str(old), mode="r+")
    attrs = dict(root.attrs)
    del attrs["counts"]
    root.attrs.clear()
    root.attrs.update(attrs)
    (old / "emoflow_integrity.json").unlink()  # written again by seal_store, as the writer does
    consolidate_zarr(old)
    seal_store(old)
    with pytest.raises(InputError, match=r"old\.zarr: feature store of an earlier emoflow.*rerun"):
        read_sample_report(old)


def test_a_clip_with_several_faces_is_reported(feature_store: Path) -> None:
    shard = feature_store.parent / "shard_0.parquet"
    records = read_video_records(shard)
    assert records["crowd"]["n_frames_several_faces"] == N_FRAMES // 2
    assert records["calm"]["n_frames_several_faces"] == 0
    report = read_sample_report(feature_store)
    assert list(report["several_faces"]) == ["crowd"]
    assert "several faces in 6 of 12 frames" in report["several_faces"]["crowd"]
    summary = sample_summary(feature_store)
    assert "3 of 4 videos became training samples, 1 dropped" in summary
    assert "dropped single: 1 frame(s)" in summary and "several faces" in summary
    assert sample_summary(feature_store.parent / "absent.zarr") == ""


def test_the_report_lists_the_one_frame_and_several_face_clips(
    feature_store: Path, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from emoflow.report.data import load_data_quality
    from emoflow.report.pages import write_data_page

    folder = feature_store.parent
    data = load_data_quality(
        folder / "manifest.parquet", feature_store, [folder / "shard_0.parquet"]
    )
    assert data.several_faces == read_sample_report(feature_store)["several_faces"]
    assert data.numbers()["several_faces"] == data.several_faces
    page = tmp_path / "data_quality.html"
    write_data_page(SimpleNamespace(data=data, emotions=[], metrics=[{}]), page)  # type: ignore[arg-type]
    text = page.read_text()
    assert "Videos dropped or skipped (1)" in text and "<td>single</td>" in text
    assert "Videos showing several faces (1)" in text and "<td>crowd</td>" in text


def test_feature_store_opens_in_xarray_without_a_warning(feature_store: Path) -> None:
    import xarray as xr

    (feature_store / ".snakemake_timestamp").touch()  # Snakemake's marker in directory()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dataset = xr.open_zarr(feature_store)
    assert dataset["features"].dims == ("sample", "frame", "landmark", "coord")
    assert set(dataset.dims) <= set(dataset.coords)
    assert dataset["sample"].values.tolist() == ["calm", "crowd", "still"]
    assert dataset["frame"].values.tolist() == list(range(SETTINGS.n_frames))
    assert dataset["landmark"].values.tolist() == list(range(N_LANDMARKS))
    assert dataset["coord"].values.tolist() == ["x", "y", "z"]
    assert dataset["emotion"].values.tolist() == ["happiness", "anger", "happiness"]
    # JSON strings, so that to_netcdf writes them (issue 24)
    assert json.loads(dataset.attrs["dropped"]) == read_sample_report(feature_store)["dropped"]


def test_a_flipped_byte_in_a_feature_chunk_is_named_with_the_rerun(feature_store: Path) -> None:
    from emoflow.features import load_features

    assert load_features(feature_store).features.shape == (3, SETTINGS.n_frames, N_LANDMARKS, 3)
    chunk = next((feature_store / "features" / "c").rglob("*"))
    while chunk.is_dir():
        chunk = next(chunk.iterdir())
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x01
    chunk.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"features\.zarr: .*checksum.*--forcerun build_features"):
        load_features(feature_store)


@pytest.mark.slow
def test_two_people_are_reported_with_one_face_followed(demo_dir: Path, tmp_path: Path) -> None:
    """Face Mesh with ``max_num_faces = 1`` reports one face at most: the detector's count in
    the first, middle and last frames (those predict checks) says that two people were there."""
    import cv2

    from emoflow.landmarks import extract_videos

    left = cv2.VideoCapture(str(demo_dir / "videos" / "s01_happiness_r1.mp4"))
    right = cv2.VideoCapture(str(demo_dir / "videos" / "s02_sadness_r1.mp4"))
    pair = tmp_path / "pair.mp4"
    writer = cv2.VideoWriter(str(pair), cv2.VideoWriter.fourcc(*"mp4v"), 15.0, (512, 256))
    for _ in range(12):
        (_, a), (_, b) = left.read(), right.read()
        writer.write(np.concatenate([a, b], axis=1))
    writer.release()
    single = demo_dir / "videos" / "s03_anger_r1.mp4"
    shard = tmp_path / "shard_0.parquet"
    extract_videos([("pair", pair), ("single", single)], shard)
    records = read_video_records(shard)
    assert records["pair"]["n_frames_several_faces"] == 3  # the three checked frames
    assert records["pair"]["n_faces_found"] == 12  # one face followed in every frame
    assert records["single"]["n_frames_several_faces"] == 0
    manifest = pl.DataFrame(
        {
            "video_id": ["pair", "single"],
            "path": [str(pair), str(single)],
            "subject": ["a", "b"],
            "emotion": ["happiness", "anger"],
        }
    )
    write_parquet(manifest, tmp_path / "manifest.parquet")
    build_features(tmp_path / "manifest.parquet", [shard], tmp_path / "features.zarr", SETTINGS)
    report = read_sample_report(tmp_path / "features.zarr")
    assert list(report["several_faces"]) == ["pair"]
    assert report["counts"]["kept"] == 2

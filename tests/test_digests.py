"""Whole-file integrity (issue 22, point 1): a flipped bit anywhere in what describes the data
is caught, with the file named and the rerun to do, before any library parses it.

Before: a Parquet footer's key-value metadata (every video's record of a landmark shard) and a
Zarr store's metadata documents had no checksum; flipped bits there gave other records without
a word, a polars panic naming no file, or a raw ``JSONDecodeError``. Each test flips one bit
(a seeded random bit) at *every* byte of those regions.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emoflow._integrity import PARQUET_DIGEST_KEYS, STORE_RECORD
from emoflow._tables import read_parquet, write_parquet
from emoflow.attribution import AttributionSettings, attribute_emotion
from emoflow.errors import InputError
from emoflow.facemesh.mesh import N_LANDMARKS
from emoflow.features import (
    FeatureSettings,
    build_features,
    features_from_landmarks,
    load_features,
)
from emoflow.landmarks import read_landmarks
from emoflow.layout import ResultsLayout
from emoflow.storage.attribution_store import load_scores
from emoflow.storage.landmark_table.reader import read_video_records
from emoflow.storage.landmark_table.schema import landmarks_table, video_record
from emoflow.storage.landmark_table.writer import write_shard
from emoflow.storage.summary import selected_iterations
from emoflow.training import train_iteration
from emoflow.video import VideoInfo, VideoItem

N_FRAMES = 10


def _reader(video_id: str, seed: int):
    rng = np.random.default_rng(seed)
    base = 0.3 + 0.4 * rng.random((1, N_LANDMARKS, 3))
    faces = (base + 0.01 * rng.standard_normal((N_FRAMES, N_LANDMARKS, 3))).astype(np.float32)
    table = landmarks_table(video_id, np.arange(N_FRAMES) / 15.0, np.arange(N_FRAMES), faces)
    info = VideoInfo(f"{video_id}.mp4", 15.0, 256, 256, N_FRAMES, 15.0)
    return table, video_record(f"{video_id}.mp4", info, N_FRAMES, N_FRAMES, None)


VIDEOS = {"a1": ("s1", "anger"), "h1": ("s1", "happiness"), "a2": ("s2", "anger")}


def _shard(path: Path) -> Path:
    write_shard(
        [VideoItem(video_id, f"{video_id}.mp4") for video_id in VIDEOS],
        path,
        lambda item: _reader(item.video_id, seed=len(item.video_id) + ord(item.video_id[0])),
        refine_landmarks=True,
        faces={"max_num_faces": 1, "face_policy": "tracked"},
        strict=False,
    )
    return path


def _footer(path: Path) -> range:
    """Byte positions of a Parquet file's footer: its metadata, length and closing magic."""
    data = path.read_bytes()
    length = int.from_bytes(data[-8:-4], "little")
    return range(len(data) - 8 - length, len(data))


def _flip_each(
    file: Path, positions: range | list[int], read: Callable[[], object], named: str
) -> int:
    """Flip one seeded random bit at each position of ``file`` in turn (restoring it after),
    and check that ``read`` raises an InputError naming ``named``; the number of flips."""
    original = file.read_bytes()
    rng = random.Random(22)
    try:
        for position in positions:
            damaged = bytearray(original)
            damaged[position] ^= 1 << rng.randrange(8)
            file.write_bytes(bytes(damaged))
            with pytest.raises(InputError) as caught:
                read()
            message = str(caught.value)
            assert named in message and "\n" not in message, (position, message)
    finally:
        file.write_bytes(original)
    return len(positions)


def test_a_flipped_bit_anywhere_in_a_shard_footer_is_named_with_the_rerun(tmp_path: Path) -> None:
    shard = _shard(tmp_path / "shard_0.parquet")
    records = read_video_records(shard)
    assert {record["width"] for record in records.values()} == {256}
    table = read_landmarks(shard)
    flips = _flip_each(
        shard, _footer(shard), lambda: read_video_records(shard), "shard_0.parquet: corrupt"
    )
    assert flips > 4000  # every byte of the footer (its key-value metadata included)
    # the data readers check the same digests before parsing (a sample of positions suffices:
    # they share the check with read_video_records)
    footer = _footer(shard)
    _flip_each(
        shard, footer[:: max(1, len(footer) // 300)], lambda: read_landmarks(shard), "shard_0"
    )
    # the message tells what to do
    damaged = bytearray(shard.read_bytes())
    damaged[footer[len(footer) // 2]] ^= 0x04
    (tmp_path / "shard_1.parquet").write_bytes(bytes(damaged))
    with pytest.raises(InputError, match=r"shard_1\.parquet: corrupt Parquet file: its footer"):
        read_video_records(tmp_path / "shard_1.parquet")
    with pytest.raises(InputError, match=r"--forcerun extract_landmarks"):
        read_landmarks(tmp_path / "shard_1.parquet")
    # undamaged, the shard reads as before
    assert read_video_records(shard) == records and read_landmarks(shard).equals(table)


def test_the_width_of_a_video_flipped_in_the_metadata_is_not_used(tmp_path: Path) -> None:
    """The issue's case: one flipped bit changes a record's ``"width": 256`` (what the
    features scale by). Which flips do is found with plain pyarrow, which reads the records
    from the copy of the Arrow schema in the footer; emoflow's readers refuse every one."""
    shard = _shard(tmp_path / "shard_0.parquet")
    original = shard.read_bytes()
    changing = []
    for position in _footer(shard):
        for bit in range(8):
            damaged = bytearray(original)
            damaged[position] ^= 1 << bit
            try:
                metadata = pq.read_schema(pa.BufferReader(bytes(damaged))).metadata
                records = json.loads(metadata[b"emoflow.videos"])
                widths = {record["width"] for record in records.values()}
            except Exception:  # damaged beyond parsing: not the silent case
                continue
            if widths != {256}:
                changing.append((position, bit, widths))
    assert len(changing) >= 10  # flips that change a width without any error from pyarrow
    for position, bit, _ in changing:
        damaged = bytearray(original)
        damaged[position] ^= 1 << bit
        shard.write_bytes(bytes(damaged))
        with pytest.raises(InputError, match=r"shard_0\.parquet: corrupt Parquet file"):
            read_video_records(shard)
        with pytest.raises(InputError, match=r"shard_0\.parquet: corrupt Parquet file"):
            features_from_landmarks(shard, FeatureSettings(n_frames=4))


def test_every_parquet_table_emoflow_writes_is_sealed(tmp_path: Path) -> None:
    summary = pl.DataFrame(
        {
            "emotion": ["anger", "anger", "happiness", "happiness"],
            "iteration": [0, 1, 0, 1],
            "selected": [False, True, True, False],
        }
    )
    write_parquet(summary, tmp_path / "summary.parquet")
    metadata = pq.read_metadata(tmp_path / "summary.parquet").metadata
    assert all(key.encode() in metadata for key in PARQUET_DIGEST_KEYS)
    assert selected_iterations(tmp_path / "summary.parquet") == {"anger": 1, "happiness": 0}
    summary_file = tmp_path / "summary.parquet"
    flips = _flip_each(
        summary_file,
        range(summary_file.stat().st_size),  # every byte of the file, data pages included
        lambda: selected_iterations(summary_file),
        "summary.parquet",
    )
    assert flips == summary_file.stat().st_size
    # a table written by another tool (no digest) reads as before; so does a copy that pyarrow
    # wrote from emoflow's table and metadata (its digests unsealed)
    summary.write_parquet(tmp_path / "plain.parquet")
    assert read_parquet(tmp_path / "plain.parquet").equals(summary)
    pq.write_table(pq.read_table(summary_file), tmp_path / "copy.parquet")
    assert read_parquet(tmp_path / "copy.parquet").equals(summary)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A feature store built from a shard, and an attribution store of a model trained on it."""
    out = tmp_path_factory.mktemp("stores")
    rng = np.random.default_rng(0)
    ids = [
        f"{emotion[0]}{subject}{r}"
        for subject in range(4)
        for emotion in ("anger", "happiness")
        for r in range(2)
    ]
    videos = {
        video_id: (f"s{video_id[1]}", "anger" if video_id[0] == "a" else "happiness")
        for video_id in ids
    }
    write_shard(
        [VideoItem(video_id, f"{video_id}.mp4") for video_id in videos],
        out / "shard_0.parquet",
        lambda item: _reader(item.video_id, seed=int(rng.integers(1000))),
        refine_landmarks=True,
        faces={"max_num_faces": 1, "face_policy": "tracked"},
        strict=False,
    )
    write_parquet(
        pl.DataFrame(
            {
                "video_id": list(videos),
                "path": [f"{video_id}.mp4" for video_id in videos],
                "subject": [subject for subject, _ in videos.values()],
                "emotion": [emotion for _, emotion in videos.values()],
            }
        ),
        out / "manifest.parquet",
    )
    features = out / "features.zarr"
    build_features(
        out / "manifest.parquet", [out / "shard_0.parquet"], features, FeatureSettings(n_frames=4)
    )
    from emoflow._atomic import write_json

    subset = list(range(0, N_LANDMARKS, 3))
    write_json(out / "landmarks.json", {"emotions": {"anger": subset, "happiness": subset}})
    train_iteration(
        features, out / "landmarks.json", out, network={"width": 16}, n_folds=2, device="cpu"
    )
    layout = ResultsLayout(out)
    attributions = layout.attributions(0, "anger")
    attribute_emotion(
        features,
        layout.landmark_sets(0, "anger"),
        layout.model(0, "anger"),
        attributions,
        emotion="anger",
        settings=AttributionSettings(n_steps=4, n_baselines=2),
        device="cpu",
    )
    return {"features": features, "attributions": attributions}


def _metadata_documents(store: Path) -> list[Path]:
    return [*sorted(store.rglob("zarr.json")), store / STORE_RECORD]


STORE_FLIPS = 1500
"""Flips per store: a dense sample (seeded) of the ~25,000 bytes of its metadata documents;
every byte takes ~4 ms to check, ~100 s per store."""


@pytest.mark.parametrize(
    ("kind", "read", "rerun"),
    [
        ("features", load_features, "--forcerun build_features"),
        ("attributions", load_scores, "--forcerun start_chains prune_chain"),
    ],
)
def test_a_flipped_bit_anywhere_in_a_store_metadata_document_is_named(
    stores: dict[str, Path], tmp_path: Path, kind: str, read: Callable, rerun: str
) -> None:
    store = tmp_path / f"{kind}.zarr"
    shutil.copytree(stores[kind], store)
    before = read(store)
    documents = _metadata_documents(store)
    every_byte = [(doc, i) for doc in documents for i in range(doc.stat().st_size)]
    assert len(every_byte) > 10_000
    sample = random.Random(22).sample(every_byte, STORE_FLIPS)
    for document in documents:
        positions = sorted(i for doc, i in sample if doc == document)
        _flip_each(document, positions, lambda: read(store), store.name)
    # the message names the document and the rerun
    root = store / "zarr.json"
    text = root.read_bytes()
    root.write_bytes(text.replace(b'"emotions"', b'"emotionz"', 1))
    with pytest.raises(
        InputError,
        match=rf"{kind}\.zarr: damaged Zarr store: metadata document zarr\.json .*{rerun}",
    ):
        read(store)
    root.write_bytes(text)
    # a missing chunk (which zarr would read as fill values) is named too
    chunk = next(path for path in store.rglob("c/*") if path.is_file())
    chunk.rename(tmp_path / "aside")
    with pytest.raises(InputError, match=r"chunk file .* is missing"):
        read(store)
    (tmp_path / "aside").rename(chunk)
    after = read(store)
    if kind == "features":
        assert np.array_equal(after.features, before.features)
    else:
        assert np.array_equal(after[1], before[1], equal_nan=True)


def test_stores_written_before_integrity_records_still_read(
    stores: dict[str, Path], tmp_path: Path
) -> None:
    store = tmp_path / "features.zarr"
    shutil.copytree(stores["features"], store)
    (store / STORE_RECORD).unlink()
    assert load_features(store).features.shape[1:] == (4, N_LANDMARKS, 3)
    # an attribution store's damaged root document is named (before: a raw JSONDecodeError)
    attributions = tmp_path / "attributions.zarr"
    shutil.copytree(stores["attributions"], attributions)
    (attributions / STORE_RECORD).unlink()
    (attributions / "zarr.json").write_text("{not json")
    with pytest.raises(InputError, match=r"attributions\.zarr: not a readable Zarr store"):
        load_scores(attributions)

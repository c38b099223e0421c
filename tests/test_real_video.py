"""Landmark extraction, ``predict`` and ``explain`` on real talking faces.

Six CREMA-D clips of one actor (anger, disgust, fear, happiness, neutral, sadness; 480×360,
56–70 frames at 30 fps), fetched once into a cache (``tests/real_data.py``). The known answers
are what any face tracker must get right on them: one face in every frame, near the middle of
the picture, and a mouth that opens and closes as the actor speaks. ``predict`` and ``explain``
then run on them with models trained on the synthetic demo, whose faces never speak: the
scores must be well-formed and the synthetic origin stated, but no emotion is expected to be
recognised (the models have never seen a real face move).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from real_data import EMOTION_CODES, crema_d_clips  # tests/real_data.py

from emoflow._atomic import write_json
from emoflow.cli import main
from emoflow.facemesh.mesh import N_LANDMARKS
from emoflow.features import FeatureSettings, build_features
from emoflow.landmarks import extract_shard, landmarks_array, read_landmarks
from emoflow.pruning import summarise_iterations
from emoflow.storage.landmark_table.reader import read_video_records
from emoflow.training import train_iteration

pytestmark = pytest.mark.slow

UPPER_INNER_LIP, LOWER_INNER_LIP, FOREHEAD, CHIN = 13, 14, 10, 152
"""Face Mesh ids: inner lips (mouth opening), top of the forehead and chin (face height)."""


@pytest.fixture(scope="module")
def clips() -> Path:
    try:
        return crema_d_clips()
    except RuntimeError as error:
        if os.environ.get("CI"):
            raise  # CI reaches the package registry: the clips must be there
        pytest.skip(f"CREMA-D clips not available here: {error}")


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def shard(clips: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("crema")
    rows = [
        {
            "video_id": path.stem,
            "path": str(path),
            "subject": "1001",
            "emotion": EMOTION_CODES[path.stem.split("_")[2]],
        }
        for path in sorted(clips.glob("*.flv"))
    ]
    pl.DataFrame(rows).write_parquet(base / "manifest.parquet")
    extract_shard(base / "manifest.parquet", base / "shard_0.parquet", shard=0, n_shards=1)
    return base / "shard_0.parquet"


def test_landmarks_of_real_talking_faces(shard: Path) -> None:
    records = read_video_records(shard)
    table = read_landmarks(shard)
    assert sorted(records) == sorted(f"1001_DFA_{code}_XX" for code in EMOTION_CODES)
    for video_id, record in records.items():
        assert record["error"] is None, video_id
        assert (record["width"], record["height"]) == (480, 360)
        landmarks, found = landmarks_array(table, video_id)
        assert len(found) == record["n_frames"] >= 56, video_id
        assert found.all(), f"{video_id}: a frame without the face"
        assert landmarks.shape == (len(found), N_LANDMARKS, 3)
        # the face sits in the middle of the picture (normalised coordinates)
        assert 0.25 < landmarks[..., 0].min() and landmarks[..., 0].max() < 0.65, video_id
        assert 0.15 < landmarks[..., 1].min() and landmarks[..., 1].max() < 0.7, video_id
        # speech: the mouth is closed in some frames and open by a tenth of the face in others
        height = landmarks[:, CHIN, 1] - landmarks[:, FOREHEAD, 1]
        opening = (landmarks[:, LOWER_INNER_LIP, 1] - landmarks[:, UPPER_INNER_LIP, 1]) / height
        assert opening.min() < 0.01, (video_id, opening.min())
        assert opening.max() > 0.1, (video_id, opening.max())


@pytest.fixture(scope="module")
def demo_run(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Models of every demo emotion (all landmarks), trained on the small demo set."""
    root = tmp_path_factory.mktemp("demo_run")
    manifest = (
        pl.read_csv(demo_dir / "labels.csv")
        .with_columns((pl.lit(str(demo_dir) + "/") + pl.col("path")).alias("path"))
        .select("video_id", "path", "subject", "emotion")
        .sort("video_id")
    )
    manifest.write_parquet(root / "manifest.parquet")
    shard = root / "landmarks" / "shard_0.parquet"
    extract_shard(root / "manifest.parquet", shard, shard=0, n_shards=1)
    build_features(root / "manifest.parquet", [shard], root / "features.zarr", FeatureSettings())
    emotions = sorted(manifest["emotion"].unique().to_list())
    everything = list(range(N_LANDMARKS))
    write_json(
        root / "iter_0" / "landmarks.json",
        {"iteration": 0, "emotions": {emotion: everything for emotion in emotions}},
    )
    train_iteration(
        root / "features.zarr",
        root / "iter_0" / "landmarks.json",
        root,
        network={"width": 64},
        n_folds=4,
        device="cpu",
    )
    summarise_iterations([root / "iter_0" / "metrics.json"], root / "summary.parquet")
    return root


def test_predict_and_explain_on_real_clips(
    clips: Path, demo_run: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(clips), "--results", str(demo_run), "-o", str(out)]) == 0
    table = pl.read_csv(out)
    emotions = sorted(pl.read_parquet(demo_run / "summary.parquet")["emotion"].unique())
    assert table.height == 6 * len(emotions)
    assert table["error"].null_count() == table.height
    assert sorted(table["video_id"].unique()) == sorted(f"1001_DFA_{c}_XX" for c in EMOTION_CODES)
    probabilities = table["probability"].to_numpy()
    assert np.isfinite(table["score"].to_numpy()).all()
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert set(table["label"].unique()) <= set(emotions)
    capsys.readouterr()

    video = clips / "1001_DFA_HAP_XX.flv"
    image, relevance = tmp_path / "face.png", tmp_path / "relevance.csv"
    code = main(
        [
            *("explain", str(video), "--results", str(demo_run), "--image", str(image)),
            *("--table", str(relevance), "--steps", "8"),
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["label"] in emotions
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ranked = pl.read_csv(relevance)
    assert sorted(ranked["emotion"].unique()) == emotions
    assert (ranked["relevance"].to_numpy() >= 0).all()

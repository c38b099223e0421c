"""The report's data and quality section from a real manifest, landmark shard and feature store:
every video dropped or skipped is listed with its reason, and the counts add up."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from emoflow.facemesh import reference_face
from emoflow.features import FeatureSettings, build_features
from emoflow.landmarks import import_landmarks
from emoflow.report import load_data_quality
from emoflow.report.pages import selection_by_region, write_data_page


def _landmark_csv(path: Path, n_frames: int, missing: int = 0, seed: int = 0) -> None:
    """A CSV of one video's 478 landmarks; the last ``missing`` frames have no face."""
    rng = np.random.default_rng(seed)
    face = reference_face()
    columns: dict[str, list[float]] = {"frame": list(range(n_frames))}
    frames = [face + 0.002 * rng.standard_normal(face.shape) for _ in range(n_frames)]
    for axis, name in enumerate("xyz"):
        for landmark in range(len(face)):
            columns[f"{name}_{landmark}"] = [
                float("nan") if f >= n_frames - missing else float(frames[f][landmark, axis])
                for f in range(n_frames)
            ]
    pl.DataFrame(columns).write_csv(path)


@pytest.fixture(scope="module")
def data_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("data")
    sources = root / "landmarks"
    sources.mkdir()
    videos = {  # video → (subject, emotion)
        "a_happy": ("s1", "happiness"),
        "b_happy": ("s2", "happiness"),
        "a_sad": ("s1", "sadness"),
        "b_sad": ("s2", "sadness"),
        "c_sad": ("s3", "sadness"),
    }
    _landmark_csv(sources / "a_happy.csv", 8, seed=1)
    _landmark_csv(sources / "b_happy.csv", 8, seed=2)
    _landmark_csv(sources / "a_sad.csv", 8, seed=3)
    _landmark_csv(sources / "b_sad.csv", 8, missing=6, seed=4)  # 75 % without a face
    (sources / "c_sad.csv").write_text("frame,note\n0,no coordinates here\n")  # unusable
    shard = root / "shard_0.parquet"
    import_landmarks(sorted(sources.glob("*.csv")), shard, format="csv")
    manifest = root / "manifest.parquet"
    pl.DataFrame(
        {
            "video_id": list(videos),
            "path": [str(sources / f"{v}.csv") for v in videos],
            "subject": [s for s, _ in videos.values()],
            "emotion": [e for _, e in videos.values()],
        }
    ).write_parquet(manifest)
    features = root / "features.zarr"
    build_features(manifest, [shard], features, FeatureSettings(n_frames=4, max_missing=0.2))
    return {"root": root, "manifest": manifest, "shard": shard, "features": features}


def test_every_video_not_kept_is_listed_with_its_reason(data_run: dict[str, Path]) -> None:
    data = load_data_quality(data_run["manifest"], data_run["features"], [data_run["shard"]])
    status = dict(zip(data.videos["video_id"], data.videos["status"], strict=True))
    assert status == {
        "a_happy": "kept",
        "a_sad": "kept",
        "b_happy": "kept",
        "b_sad": "dropped",
        "c_sad": "skipped",
    }
    reasons = dict(zip(data.not_kept["video_id"], data.not_kept["reason"], strict=True))
    assert "without a face" in reasons["b_sad"] or "missing" in reasons["b_sad"]
    assert reasons["c_sad"].startswith("extraction:")
    numbers = data.numbers()
    assert (numbers["n_videos"], numbers["n_kept"], numbers["n_dropped"], numbers["n_skipped"]) == (
        5,
        3,
        1,
        1,
    )
    assert numbers["n_subjects"] == 3
    assert numbers["videos_per_emotion"] == {"happiness": 2, "sadness": 3}
    # 8 + 8 + 8 frames with a face, 2 of b_sad's 8; c_sad has no frame
    assert numbers["n_frames_with_face"] == 26
    assert numbers["detection_rate"] == pytest.approx(26 / numbers["n_frames"])
    assert set(numbers["not_kept"]) == {"b_sad", "c_sad"}
    json.dumps(numbers)  # report.json can hold it


def test_data_page_lists_the_dropped_videos(data_run: dict[str, Path], tmp_path: Path) -> None:
    from types import SimpleNamespace

    data = load_data_quality(data_run["manifest"], data_run["features"], [data_run["shard"]])
    inputs = SimpleNamespace(data=data, emotions=[], metrics=[{}])
    page = tmp_path / "data_quality.html"
    write_data_page(inputs, page)  # type: ignore[arg-type]
    text = page.read_text()
    assert "Videos dropped or skipped (2)" in text
    for video in ("b_sad", "c_sad"):
        assert f"<td>{video}</td>" in text
    assert "<td>dropped</td>" in text and "<td>skipped</td>" in text
    assert "None (train.test_subjects is 0)" in text
    assert "Videos with frames without a face (1)" in text  # c_sad has no frame at all
    assert "<td>25.0 %</td>" in text  # b_sad: 2 of its 8 frames


def test_selection_by_region_lists_every_kept_id_once_per_region() -> None:
    from emoflow.facemesh import regions

    lips = regions()["lips"][:3]
    groups = dict(selection_by_region([*lips, 477]))
    assert groups["mouth"] == sorted(lips)  # the face regions partition the mesh (issue 24)
    assert groups["left eye"] == [477]  # an iris point: no longer "in no named region"
    listed = [i for ids in groups.values() for i in ids]
    assert sorted(listed) == sorted({*lips, 477})

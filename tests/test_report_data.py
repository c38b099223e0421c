"""The report's data and quality section from a real manifest, landmark shard and feature store:
every video dropped or skipped is listed with its reason, and the counts add up."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from emoflow.facemesh.mesh import reference_face
from emoflow.features import FeatureSettings, build_features
from emoflow.landmarks import import_landmarks
from emoflow.report.data import load_data_quality
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
    # imported CSVs without a tracker column: never called MediaPipe's (issue 24)
    assert "<td>tracker</td><td>unknown tracker (imported) (version not recorded)</td>" in text
    assert "mediapipe.face_mesh" not in text


def test_selection_by_region_lists_every_kept_id_once_per_region() -> None:
    from emoflow.facemesh.mesh import regions

    lips = regions()["lips"][:3]
    groups = dict(selection_by_region([*lips, 477]))
    assert groups["mouth"] == sorted(lips)  # the face regions partition the mesh (issue 24)
    assert groups["left eye"] == [477]  # an iris point: no longer "in no named region"
    listed = [i for ids in groups.values() for i in ids]
    assert sorted(listed) == sorted({*lips, 477})


def test_data_page_lists_videos_decoded_in_part(data_run: dict[str, Path], tmp_path: Path) -> None:
    from types import SimpleNamespace

    data = load_data_quality(data_run["manifest"], data_run["features"], [data_run["shard"]])
    assert data.decoding == {}  # imported landmarks: nothing decoded
    found = (
        "13 of 30 declared frames; holds 13 of the 30 frames its header declares: the file may "
        "be truncated"
    )
    data.decoding = {"a_happy": found}
    assert data.numbers()["decoding"] == {"a_happy": found}
    page = tmp_path / "data_quality.html"
    write_data_page(SimpleNamespace(data=data, emotions=[], metrics=[{}]), page)  # type: ignore[arg-type]
    text = page.read_text()
    assert "Videos decoded in part or with a contradicted header (1)" in text
    assert "<td>a_happy</td>" in text and "13 of 30 declared frames" in text


# -- every figure of the data page, on hand-made landmark tables (issue 24) --------------------
def _hand_made_run(root: Path, mode: str) -> tuple[Path, Path, Path]:
    """A manifest, a landmark shard written by the shard writer from hand-made tables, and the
    feature store built from them (features of 4 frames).

    ``mode`` ``sampled``: a video whose read frames all show a face has rows for those frames
    only (its record lists them as ``meshed_frames``), one with a read frame without a face
    every frame (as extraction does); ``all``: every video has every frame.

    Videos (subject, emotion, frames, frames without a face):
    ``v1`` (s1, happiness, 12, none); ``v2`` (s2, happiness, 12, frames 1 and 3);
    ``v3`` (s1, sadness, 10, none); ``v4`` (s2, sadness, 10, six: 60 %, dropped);
    ``v5`` (s3, sadness): extraction failed (skipped).
    """
    from emoflow.storage.landmark_table.schema import landmarks_table, video_record
    from emoflow.storage.landmark_table.writer import write_shard
    from emoflow.video import VideoItem

    settings = FeatureSettings(n_frames=4, max_missing=0.2)
    rng = np.random.default_rng(5)
    face = reference_face().astype(np.float32)
    videos = {
        "v1": ("s1", "happiness", 12, []),
        "v2": ("s2", "happiness", 12, [1, 3]),
        "v3": ("s1", "sadness", 10, []),
        "v4": ("s2", "sadness", 10, [0, 2, 4, 5, 7, 8]),
    }

    def read(item: VideoItem):
        if item.video_id == "v5":
            from emoflow.errors import InputError

            raise InputError(item.path, "cannot be decoded")
        _, _, n_frames, missing = videos[item.video_id]
        read_frames = settings.frames_read(n_frames)
        sampled = mode == "sampled" and not set(missing) & set(read_frames.tolist())
        rows = read_frames if sampled else np.arange(n_frames)
        found = [r for r, frame in enumerate(rows) if frame not in missing]
        faces = [face + 0.001 * rng.standard_normal(face.shape).astype(np.float32) for _ in found]
        table = landmarks_table(
            item.video_id,
            rows / 25.0,
            found,
            faces,
            frame_numbers=rows.astype(np.int32),
        )
        record = video_record(
            item.path,
            None,
            n_frames,
            len(found),
            None,
            meshed_frames=rows.tolist() if sampled else None,
        )
        record.update(fps=25.0, width=640, height=480)
        return table, record

    items = [VideoItem(v, f"/videos/{v}.mp4") for v in [*videos, "v5"]]
    shard = root / "shard_0.parquet"
    frames = {"mode": mode, "feature_frames": 4 if mode == "sampled" else None}
    write_shard(items, shard, read, refine_landmarks=True, faces={}, strict=False, frames=frames)
    manifest = root / "manifest.parquet"
    labels = {**{v: (s, e) for v, (s, e, _, _) in videos.items()}, "v5": ("s3", "sadness")}
    pl.DataFrame(
        {
            "video_id": list(labels),
            "path": [f"/videos/{v}.mp4" for v in labels],
            "subject": [s for s, _ in labels.values()],
            "emotion": [e for _, e in labels.values()],
        }
    ).write_parquet(manifest)
    features = root / "features.zarr"
    build_features(manifest, [shard], features, settings)
    return manifest, shard, features


@pytest.mark.parametrize("mode", ["sampled", "all"])
def test_every_figure_of_the_data_page_on_hand_made_tables(mode: str, tmp_path: Path) -> None:
    """Face detection counts the meshed frames only: with landmarks.frames: sampled, a video
    whose read frames all show a face is 100 %, however many frames it has (the page said
    'face detected in 46.7 % of 2880 frames' for the demo, whose every meshed frame has a
    face)."""
    from types import SimpleNamespace

    manifest, shard, features = _hand_made_run(tmp_path, mode)
    data = load_data_quality(manifest, features, [shard])
    rows = {row["video_id"]: row for row in data.videos.iter_rows(named=True)}
    sampled = mode == "sampled"
    # v1 and v3: only the 6 and 4 frames the features read when sampled
    meshed = {"v1": 6 if sampled else 12, "v2": 12, "v3": 4 if sampled else 10, "v4": 10}
    faces = {"v1": meshed["v1"], "v2": 10, "v3": meshed["v3"], "v4": 4}
    for video in meshed:
        assert rows[video]["n_meshed"] == meshed[video], video
        assert rows[video]["n_faces_found"] == faces[video], video
        assert rows[video]["detection_rate"] == pytest.approx(faces[video] / meshed[video])
    assert rows["v1"]["detection_rate"] == rows["v3"]["detection_rate"] == 1.0
    assert [rows[v]["status"] for v in sorted(rows)] == [
        "kept",
        "kept",
        "kept",
        "dropped",
        "skipped",
    ]
    assert rows["v5"]["n_meshed"] == 0 and rows["v5"]["detection_rate"] is None
    numbers = data.numbers()
    n_meshed, n_faces = sum(meshed.values()), sum(faces.values())
    assert numbers["n_frames"] == 44  # decoded: 12 + 12 + 10 + 10, none of v5
    assert numbers["n_frames_meshed"] == n_meshed
    assert numbers["n_frames_with_face"] == n_faces
    assert numbers["detection_rate"] == pytest.approx(n_faces / n_meshed)
    per_emotion = {row["emotion"]: row for row in data.per_emotion().iter_rows(named=True)}
    assert per_emotion["happiness"]["mean_detection_rate"] == pytest.approx((1 + 10 / 12) / 2)
    assert per_emotion["sadness"]["mean_detection_rate"] == pytest.approx((1 + 0.4) / 2)

    page = tmp_path / "data_quality.html"
    write_data_page(SimpleNamespace(data=data, emotions=[], metrics=[{}]), page)  # type: ignore[arg-type]
    text = page.read_text()
    facts = [
        ("videos in the manifest", "5"),
        ("subjects", "3"),
        ("kept (samples of the feature store)", "3"),
        ("dropped after extraction", "1"),
        ("skipped at extraction", "1"),
        (
            "frames",
            f"44, of which {n_meshed} meshed (landmarks.frames: sampled: Face Mesh ran on the "
            "frames the features read)"
            if sampled
            else "44 (every frame meshed)",
        ),
        (
            "face found in",
            f"{100 * n_faces / n_meshed:.1f} % of the {n_meshed} meshed frames "
            "(lowest video: 40.0 %)",
        ),
    ]
    for label, value in facts:
        assert f"<td>{label}</td><td>{value}</td>" in text, label
    happiness = f"{100 * (1 + 10 / 12) / 2:.1f} %"
    assert (
        '<tr><td>happiness</td><td class="num">2</td><td class="num">2</td><td class="num">2'
        f'</td><td class="num">0</td><td class="num">0</td><td>{happiness}</td></tr>'
    ) in text
    assert (
        '<tr><td>sadness</td><td class="num">3</td><td class="num">3</td><td class="num">1'
        '</td><td class="num">1</td><td class="num">1</td><td>70.0 %</td></tr>'
    ) in text
    assert "Videos dropped or skipped (2)" in text
    assert "Videos with frames without a face (2)" in text  # v2 and v4, never v1 or v3
    assert (
        '<tr><td>v4</td><td>s2</td><td>sadness</td><td class="num">10</td><td class="num">10'
        '</td><td class="num">4</td><td>40.0 %</td><td>dropped</td></tr>'
    ) in text
    assert (
        '<tr><td>v2</td><td>s2</td><td>happiness</td><td class="num">12</td><td class="num">12'
        f'</td><td class="num">10</td><td>{100 * 10 / 12:.1f} %</td><td>kept</td></tr>'
    ) in text
    from emoflow.facemesh._graph import mediapipe_version

    assert numbers["landmarks"]["scheme"] == "mediapipe_478"
    assert "<td>scheme</td><td>mediapipe_478: MediaPipe Face Mesh, 468 mesh points" in text
    assert f"<td>tracker</td><td>mediapipe.face_mesh {mediapipe_version()}</td>" in text
    assert "<td>coordinates</td><td>x, y and depth z</td>" in text
    assert "<td>v1</td><td>s1</td><td>happiness</td>" not in text
    assert "<td>v3</td><td>s1</td><td>sadness</td>" not in text

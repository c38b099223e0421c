"""Adding a landmark scheme is one object and one registration: a 5-point toy scheme, defined
here and registered once, flows through what emoflow asks of a scheme (import of a CSV of its
points, landmark tables, features with every normalisation, the feature store, symmetric
pruning, points from a Face Mesh video, regions and drawing) with no other change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from emoflow.errors import DataError
from emoflow.features import FeatureSettings, build_features, load_features
from emoflow.landmarks import import_landmarks, landmarks_array, read_landmarks
from emoflow.pruning import PruneSettings, initial_landmark_set
from emoflow.pruning.pruner import LandmarkPruner
from emoflow.schemes import (
    SCHEMES,
    LandmarkScheme,
    get_scheme,
    mirror_partners,
    register,
    scheme_for_points,
    supported,
)
from emoflow.storage.landmark_table.reader import landmark_scheme

TOY = LandmarkScheme(
    "toy_5",
    5,
    "toy: the outer eye corners, the nose tip and the mouth corners",
    rigid=(0, 1, 2),
    nose_tip=2,
    eye_corners=(0, 1),
    face_region_ids=(("right_eye", (0,)), ("left_eye", (1,)), ("nose", (2,)), ("mouth", (3, 4))),
    mediapipe_ids=(33, 263, 1, 61, 291),
    region_ids=(("eyes", (0, 1)), ("nose", (2,)), ("lips", (3, 4))),
    mirror=mirror_partners(5, [(0, 1), (3, 4)]),
    outline=((0, 2), (1, 2), (3, 4)),
)


@pytest.fixture
def toy() -> Iterator[LandmarkScheme]:
    register(TOY)  # the one line that adds a scheme
    yield TOY
    del SCHEMES[TOY.name]


def test_a_registered_scheme_is_known_by_name_and_point_count(toy: LandmarkScheme) -> None:
    assert get_scheme("toy_5") is toy and scheme_for_points(5) is toy
    assert "toy_5 (5 points)" in supported()
    assert toy.reference_face().shape == (5, 3)
    assert np.array_equal(toy.mirror_pairs(), [1, 0, 2, 4, 3])
    with pytest.raises(DataError, match="clashes with toy_5"):
        register(toy)


def test_a_scheme_registered_nowhere_is_not_known() -> None:
    with pytest.raises(DataError, match="unknown landmark scheme 'toy_5'"):
        get_scheme("toy_5")


def _toy_csv(path: Path, n_frames: int, emotion_shift: float) -> Path:
    """A wide CSV of the toy's 5 points (normalised x, y) moving over ``n_frames`` frames."""
    xy = TOY.reference_face()[:, :2]
    frames = np.repeat(xy[None], n_frames, axis=0)
    frames[:, 3:, 1] += np.linspace(0, emotion_shift, n_frames)[:, None]  # the mouth moves
    columns = {f"{a}_{i}": frames[:, i, k] for i in range(5) for k, a in enumerate("xy")}
    pl.DataFrame({"frame": list(range(n_frames)), **columns}).write_csv(path)
    return path


def test_toy_tracks_flow_to_features_pruning_and_drawing(
    toy: LandmarkScheme, tmp_path: Path
) -> None:
    from emoflow.inference.videos import VideoLandmarks
    from emoflow.report._drawing import draw_mesh, face_scheme, face_xy, new_figure, plotting
    from emoflow.video import VideoItem

    tracks = tmp_path / "tracks"
    tracks.mkdir()
    rows = []
    for subject in range(4):
        for emotion, shift in (("happiness", -0.05), ("surprise", 0.05)):
            video = f"s{subject}_{emotion}"
            _toy_csv(tracks / f"{video}.csv", 10, shift * (1 + subject / 10))
            rows.append({"video_id": video, "subject": f"s{subject}", "emotion": emotion})
    import_landmarks(tracks, tmp_path / "lm.parquet", width=640, height=480, strict=True)
    assert landmark_scheme(tmp_path / "lm.parquet") == "toy_5"
    landmarks, found = landmarks_array(read_landmarks(tmp_path / "lm.parquet"), "s0_happiness")
    assert landmarks.shape == (10, 5, 3) and found.all()

    pl.DataFrame(rows).write_parquet(tmp_path / "manifest.parquet")
    settings = FeatureSettings(n_frames=6, align="canonical", center="nose")
    build_features(
        tmp_path / "manifest.parquet", [tmp_path / "lm.parquet"], tmp_path / "f.zarr", settings
    )
    features = load_features(tmp_path / "f.zarr")
    assert features.scheme == "toy_5" and features.features.shape == (8, 6, 5, 3)
    assert np.all(features.features[..., 2] == 0.0)  # 2-D points: no z
    mouth = np.linalg.norm(features.features[:, -1, 3:], axis=-1).mean(axis=1)
    nose = np.linalg.norm(features.features[:, -1, 2], axis=-1)
    assert mouth.min() > 0.01 and nose.max() < 1e-6  # the mouth moved; the nose is the centre

    record = initial_landmark_set(tmp_path / "f.zarr", tmp_path / "landmarks.json")
    assert record["scheme"] == "toy_5" and record["emotions"]["happiness"] == [0, 1, 2, 3, 4]
    pruner = LandmarkPruner(PruneSettings(symmetric=True, fraction=0.5, min_landmarks=1))
    keep = pruner.fit(np.array([0.1, 0.2, 0.3, 0.9, 0.0]), np.arange(5), "toy_5").keep_mask_
    assert keep.tolist() == [False, False, True, True, True]  # the mouth corners stay together

    mesh_points = np.random.default_rng(0).random((3, 478, 3))
    video = VideoLandmarks(
        VideoItem("clip", "clip.mp4"),
        mesh_points,
        np.ones(3, bool),
        np.arange(3) / 30,
        64,
        48,
        30,
    )
    toy_video = video.in_scheme("toy_5")
    assert toy_video.scheme == "toy_5"
    assert np.array_equal(toy_video.landmarks, mesh_points[:, [33, 263, 1, 61, 291]])
    assert toy.approximated_by_face_mesh
    assert np.array_equal(toy.picture_edges(), [[0, 2], [1, 2], [3, 4]])

    assert face_scheme(5) is toy
    assert toy.face_region_counts([3, 4, 2]) == {"nose": 1, "mouth": 2}
    assert toy.region_of([0, 3]) == {"eyes": 1, "nose": 0, "lips": 1}
    with plotting():
        figure = new_figure(2, 2)
        ax = figure.subplots()
        draw_mesh(ax, face_xy(5))
        assert len(ax.collections) == 2  # no tesselation, the outline
        assert len(ax.collections[1].get_segments()) == 3

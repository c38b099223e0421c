from __future__ import annotations

import numpy as np
import pytest

from emoflow.errors import ConfigError, InputError
from emoflow.facemesh.mesh import N_LANDMARKS, reference_face
from emoflow.features import FeatureSettings, load_features
from emoflow.features.normalise import normalise_sequence, resample_frames
from emoflow.storage.feature_store import write_feature_store


def _sequence(n_frames: int = 10) -> tuple[np.ndarray, np.ndarray]:
    face = reference_face().astype(np.float32)
    landmarks = np.repeat(face[None], n_frames, axis=0)
    return landmarks, np.ones(n_frames, dtype=bool)


def test_static_face_gives_zero_displacement() -> None:
    landmarks, found = _sequence()
    sample = normalise_sequence(
        landmarks, found, FeatureSettings(n_frames=5), width=256, height=256
    )
    assert sample.shape == (5, N_LANDMARKS, 3)
    np.testing.assert_allclose(sample, 0.0, atol=1e-5)


def test_head_pose_and_scale_are_removed_but_expression_kept() -> None:
    landmarks, found = _sequence(6)
    moved = landmarks.copy().astype(np.float64)
    angle = np.deg2rad(8)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    centre = moved[0].mean(axis=0)
    moved[-1] = (moved[-1] - centre) @ rotation.T * 1.1 + centre + 0.02  # head moved, no expression
    moved[-1, 61, 1] -= 0.01  # and one mouth corner raised
    settings = FeatureSettings(n_frames=6, align="first_frame")
    sample = normalise_sequence(moved.astype(np.float32), found, settings, width=256, height=256)
    motion = np.linalg.norm(sample[-1], axis=1)
    assert motion.argmax() == 61
    assert np.median(motion) < 0.1 * motion[61]


def test_missing_frames_are_interpolated() -> None:
    landmarks, found = _sequence(5)
    landmarks = landmarks.copy()
    landmarks[2] = np.nan
    found[2] = False
    sample = normalise_sequence(
        landmarks, found, FeatureSettings(n_frames=5), width=100, height=100
    )
    assert np.isfinite(sample).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_missing_frames_are_filled_exactly_as_np_interp_per_coordinate(dtype: type) -> None:
    from emoflow.features.normalise import _interpolate_missing

    rng = np.random.default_rng(1)
    for _ in range(300):
        n_frames = int(rng.integers(1, 30))
        landmarks = (rng.normal(size=(n_frames, 5, 3)) * 10 ** rng.uniform(-3, 3)).astype(dtype)
        found = rng.random(n_frames) < rng.uniform(0.05, 1.0)
        found[rng.integers(n_frames)] = True
        landmarks[~found] = np.nan
        frames = np.arange(n_frames)
        expected = np.stack(
            [
                np.interp(frames, frames[found], column[found])
                for column in landmarks.reshape(n_frames, -1).T
            ],
            axis=1,
        ).astype(dtype)
        filled = _interpolate_missing(landmarks, found)
        assert filled.dtype == landmarks.dtype
        assert np.array_equal(filled.reshape(n_frames, -1), expected)  # bit for bit


def test_resample_keeps_endpoints() -> None:
    sequence = np.arange(10, dtype=np.float64).reshape(10, 1)
    resampled = resample_frames(sequence, 4)
    np.testing.assert_allclose(resampled[:, 0], [0, 3, 6, 9])


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="n_frames"):
        FeatureSettings(n_frames=1)
    with pytest.raises(ConfigError, match="center"):
        FeatureSettings(center="chin")  # type: ignore[arg-type]


def test_store_round_trip(tmp_path) -> None:
    features = np.random.default_rng(0).normal(size=(4, 3, N_LANDMARKS, 3)).astype(np.float32)
    path = tmp_path / "f.zarr"
    write_feature_store(
        path,
        features=features,
        video_ids=np.array(["a", "b", "c", "d"]),
        subjects=np.array(["s1", "s1", "s2", "s2"]),
        emotions=np.array(["x", "y", "x", "y"]),
        emotion_names=["x", "y"],
        settings={"n_frames": 3},
    )
    loaded = load_features(path)
    np.testing.assert_array_equal(loaded.features, features)
    assert loaded.video_ids.tolist() == ["a", "b", "c", "d"]
    assert loaded.labels_for("y").tolist() == [0, 1, 0, 1]
    import zarr

    assert zarr.open_group(str(path))["features"].metadata.dimension_names == (
        "sample",
        "frame",
        "landmark",
        "coord",
    )


def test_missing_store_names_the_path(tmp_path) -> None:
    with pytest.raises(InputError, match=r"nowhere\.zarr"):
        load_features(tmp_path / "nowhere.zarr")


def _posed(face: np.ndarray, degrees: float, scale: float, shift: float) -> np.ndarray:
    angle = np.deg2rad(degrees)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    centre = face.mean(axis=0)
    return (face - centre) @ rotation.T * scale + centre + shift


def test_align_accepts_names_and_refuses_the_old_booleans() -> None:
    with pytest.raises(ConfigError, match="align"):
        FeatureSettings(align=True)  # type: ignore[arg-type]
    assert FeatureSettings(align="canonical").align == "canonical"
    with pytest.raises(ConfigError, match="align"):
        FeatureSettings(align="mirror")  # type: ignore[arg-type]


def test_canonical_alignment_removes_the_pose_of_the_whole_video() -> None:
    face = reference_face()
    settings = FeatureSettings(n_frames=3, align="canonical", displacement=False)
    samples = []
    for degrees, scale, shift in ((0.0, 1.0, 0.0), (12.0, 0.8, 0.05)):
        sequence = np.stack([_posed(face, degrees, scale, shift)] * 3).astype(np.float32)
        samples.append(
            normalise_sequence(sequence, np.ones(3, bool), settings, width=256, height=256)
        )
    np.testing.assert_allclose(samples[0], samples[1], atol=1e-4)
    # aligning to the first frame keeps the video's pose, so the two differ
    first = FeatureSettings(n_frames=3, align="first_frame", displacement=False)
    kept = [
        normalise_sequence(
            np.stack([_posed(face, d, s, t)] * 3).astype(np.float32),
            np.ones(3, bool),
            first,
            width=256,
            height=256,
        )
        for d, s, t in ((0.0, 1.0, 0.0), (12.0, 0.8, 0.05))
    ]
    assert np.abs(kept[0] - kept[1]).max() > 0.05


def test_select_indexes_landmarks_by_id(rng) -> None:
    from emoflow.errors import DataError
    from emoflow.features import FeatureSet

    features = rng.normal(size=(3, 2, 10, 3)).astype(np.float32)
    feature_set = FeatureSet(
        features=features,
        video_ids=np.array(["a", "b", "c"]),
        subjects=np.array(["s1", "s1", "s2"]),
        emotions=np.array(["x", "y", "x"]),
        emotion_names=["x", "y"],
    )
    subset = feature_set.select([7, 2, 5])
    np.testing.assert_array_equal(subset.features, features[:, :, [7, 2, 5], :])
    assert subset.landmark_ids.tolist() == [7, 2, 5]
    again = subset.select([5, 7])  # ids, not positions
    np.testing.assert_array_equal(again.features, features[:, :, [5, 7], :])
    assert feature_set.select(range(10)).features is features  # the whole set: no copy
    with pytest.raises(DataError, match=r"\[3\]"):
        subset.select([3])
    with pytest.raises(DataError, match="repeats"):
        feature_set.select([1, 1])

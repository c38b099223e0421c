"""The built-in synthetic demo data set (emoflow.demo)."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from emoflow.demo import DemoSpec, make_demo
from emoflow.demo.render import expected_landmarks
from emoflow.demo.spec import LABEL_COLUMNS, video_id
from emoflow.demo.truth import ground_truth
from emoflow.errors import ConfigError
from emoflow.facemesh.mesh import N_LANDMARKS, regions

TINY = DemoSpec(
    n_subjects=2,
    emotions=("happiness", "surprise", "anger"),
    repetitions=1,
    n_frames=12,
    size=192,
    seed=3,
)


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny demo set, generated once for the module; returns its folder."""
    out_dir = tmp_path_factory.mktemp("demo")
    labels_path = make_demo(out_dir, TINY)
    assert labels_path == out_dir / "labels.csv"
    return out_dir


def read_labels(out_dir: Path) -> list[dict[str, str]]:
    with (out_dir / "labels.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def read_frames(path: Path) -> np.ndarray:
    """All frames of a video as RGB, shape ``(n_frames, height, width, 3)``."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return np.stack(frames)


def similarity_aligned(moving: np.ndarray, target: np.ndarray, use: np.ndarray) -> np.ndarray:
    """``moving`` (n × 2) mapped onto ``target`` by the similarity transform fitted on ``use``."""
    moving_centre, target_centre = moving[use].mean(axis=0), target[use].mean(axis=0)
    source, destination = moving[use] - moving_centre, target[use] - target_centre
    u, singular, vt = np.linalg.svd(destination.T @ source)
    reflection = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ reflection @ vt
    scale = (singular * np.diag(reflection)).sum() / (source**2).sum()
    return scale * (moving - moving_centre) @ rotation.T + target_centre


def test_labels_and_videos(tiny_demo: Path) -> None:
    rows = read_labels(tiny_demo)
    assert list(rows[0]) == list(LABEL_COLUMNS)
    expected_ids = [
        video_id(f"s{subject:02d}", emotion, 1) for subject in (1, 2) for emotion in TINY.emotions
    ]
    assert [row["video_id"] for row in rows] == expected_ids
    assert expected_ids[0] == "s01_happiness_r1"
    low, high = TINY.intensity_range
    for row in rows:
        assert row["path"] == f"videos/{row['video_id']}.mp4"
        assert row["video_id"] == f"{row['subject']}_{row['emotion']}_r{row['repetition']}"
        assert 0.9 * low <= float(row["intensity"]) <= 1.1 * high
        frames = read_frames(tiny_demo / row["path"])
        assert frames.shape == (TINY.n_frames, TINY.size, TINY.size, 3)
        # the face moves: the last frame differs from the first
        assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 1.0
    # atomic writes leave no temporary files behind
    leftovers = [path.name for path in tiny_demo.rglob(".*")]
    assert leftovers == []


def test_ground_truth(tiny_demo: Path) -> None:
    truth = json.loads((tiny_demo / "ground_truth.json").read_text())
    assert truth == json.loads(json.dumps(ground_truth(TINY)))
    assert list(truth["emotions"]) == list(TINY.emotions)
    region_names = set(regions())
    landmark_sets = {}
    for emotion, entry in truth["emotions"].items():
        landmarks = entry["landmarks"]
        assert landmarks, emotion
        assert landmarks == sorted(set(landmarks))
        assert 0 <= landmarks[0] and landmarks[-1] < N_LANDMARKS
        assert set(entry["regions"]) <= region_names
        assert len(entry["peak_displacement"]) == N_LANDMARKS
        magnitude = np.asarray(entry["peak_displacement"])
        assert set(np.flatnonzero(magnitude > truth["threshold_face_widths"])) == set(landmarks)
        landmark_sets[emotion] = frozenset(landmarks)
    assert len(set(landmark_sets.values())) == len(landmark_sets)
    # brows move in surprise and anger, not in happiness
    brows = set(regions()["left_eyebrow"]) | set(regions()["right_eyebrow"])
    assert brows <= landmark_sets["surprise"]
    assert brows <= landmark_sets["anger"]
    assert not brows & landmark_sets["happiness"]
    assert truth["nuisance"]["blink"]["landmarks"]
    assert truth["spec"]["emotions"] == list(TINY.emotions)
    assert DemoSpec(**truth["spec"]) == TINY


@pytest.mark.parametrize("workers", [1, 3])
def test_same_spec_gives_same_files(tiny_demo: Path, tmp_path: Path, workers: int) -> None:
    """Whatever the number of rendering threads (the module's set was rendered with one)."""
    make_demo(tmp_path, TINY, workers=workers)
    for name in ("labels.csv", "ground_truth.json"):
        assert (tmp_path / name).read_bytes() == (tiny_demo / name).read_bytes(), name
    for row in read_labels(tiny_demo):
        assert (tmp_path / row["path"]).read_bytes() == (tiny_demo / row["path"]).read_bytes()


def test_other_seed_gives_other_videos(tiny_demo: Path, tmp_path: Path) -> None:
    spec = DemoSpec(
        n_subjects=1, emotions=("happiness",), repetitions=1, n_frames=4, size=192, seed=4
    )
    make_demo(tmp_path, spec)
    path = "videos/s01_happiness_r1.mp4"
    assert (tmp_path / path).read_bytes() != (tiny_demo / path).read_bytes()


def test_spec_validation() -> None:
    with pytest.raises(ConfigError, match="unknown emotions"):
        DemoSpec(emotions=("happiness", "boredom"))
    with pytest.raises(ConfigError, match="n_frames"):
        DemoSpec(n_frames=1)
    from_yaml = DemoSpec(emotions=["fear", "anger"], intensity_range=[0.5, 1])  # type: ignore[arg-type]
    assert from_yaml.emotions == ("fear", "anger")
    assert from_yaml.intensity_range == (0.5, 1.0)
    hash(from_yaml)


@pytest.mark.slow
def test_mediapipe_sees_the_faces_and_the_expressions(tiny_demo: Path) -> None:
    import mediapipe as mp

    truth = json.loads((tiny_demo / "ground_truth.json").read_text())
    n_frames = n_found = 0
    ratios = {}
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False, refine_landmarks=True, max_num_faces=1
    ) as face_mesh:
        for row in read_labels(tiny_demo):
            face_mesh.reset()
            tracked = []
            for frame in read_frames(tiny_demo / row["path"]):
                n_frames += 1
                result = face_mesh.process(frame)
                if not result.multi_face_landmarks:
                    tracked.append(None)
                    continue
                n_found += 1
                points = result.multi_face_landmarks[0].landmark
                tracked.append(np.array([[p.x, p.y] for p in points]) * TINY.size)
            first, last = tracked[0], tracked[-1]
            assert first is not None and last is not None, row["video_id"]

            # MediaPipe agrees with where the renderer put the landmarks.
            subject_index = int(row["subject"][1:]) - 1
            truth_track = expected_landmarks(TINY, subject_index, row["emotion"], 1)
            error = np.linalg.norm(last - truth_track[-1], axis=1).mean()
            assert error < 0.03 * TINY.size, (row["video_id"], error)

            # The emotion's landmarks move more than the others (head motion removed by a
            # similarity fit on the landmarks that should stay still).
            moved = np.zeros(N_LANDMARKS, dtype=bool)
            moved[truth["emotions"][row["emotion"]]["landmarks"]] = True
            motion = np.linalg.norm(similarity_aligned(last, first, ~moved) - first, axis=1)
            ratios.setdefault(row["emotion"], []).append(
                motion[moved].mean() / motion[~moved].mean()
            )
    assert n_found / n_frames >= 0.95
    for emotion, values in ratios.items():
        assert np.mean(values) > 1.3, (emotion, values)


def test_talking_and_tics_are_extra_streams_unrelated_to_the_label() -> None:
    """Talking moves lips and jaw in most videos of every emotion, each subject keeps one tic
    side, and everything else of the plan is the default spec's (its files do not change)."""
    from emoflow.demo.subjects import make_subject, plan_video

    hard = DemoSpec(**{**TINY.as_section(), "talking": 1.0, "idiosyncrasy": 1.0})
    speaking: dict[str, int] = {}
    for emotion in TINY.emotions:
        for index in range(TINY.n_subjects):
            subject = make_subject(index, TINY)
            plain = plan_video(subject, emotion, 1, TINY)
            rich = plan_video(make_subject(index, hard), emotion, 1, hard)
            assert set(plain.nuisance) == {
                "blink",
                "left_brow_twitch",
                "right_brow_twitch",
                "mouth_shift",
                "jaw_motion",
            }
            for name, signal in plain.nuisance.items():
                np.testing.assert_array_equal(rich.nuisance[name], signal)
            np.testing.assert_array_equal(rich.expression, plain.expression)
            extra = set(rich.nuisance) - set(plain.nuisance)
            assert {"talk_jaw", "talk_lips"} < extra and len(extra) == 3
            speaking[emotion] = speaking.get(emotion, 0) + int(rich.nuisance["talk_jaw"].any())
            tic = (extra - {"talk_jaw", "talk_lips"}).pop()
            assert tic == next(
                iter(
                    set(plan_video(subject, "fear", 2, hard).nuisance)
                    - set(plain.nuisance)
                    - {"talk_jaw", "talk_lips"}
                )
            )
    assert sum(speaking.values()) >= 3  # speech in videos of several emotions
    truth = ground_truth(hard)
    assert {"talk_jaw", "talk_lips", "left_oval_tic", "right_oval_tic"} <= set(truth["nuisance"])
    assert truth["spec"]["talking"] == 1.0
    # the side of the face contour: only happiness's cheek raise reaches it
    for side in ("left_oval_tic", "right_oval_tic"):
        tics = set(truth["nuisance"][side]["landmarks"])
        touched = [e for e in TINY.emotions if tics & set(truth["emotions"][e]["landmarks"])]
        assert tics and touched == ["happiness"]
    plain_truth = ground_truth(TINY)
    assert "talk_jaw" not in plain_truth["nuisance"] and "talking" not in plain_truth["spec"]


def test_ground_truth_lists_the_same_landmarks_at_any_expression_scale() -> None:
    """Subtler expressions (the hard preset) move the same landmarks, by less."""
    full, subtle = (
        ground_truth(TINY),
        ground_truth(dataclasses.replace(TINY, expression_scale=0.45)),
    )
    for emotion in TINY.emotions:
        assert subtle["emotions"][emotion]["landmarks"] == full["emotions"][emotion]["landmarks"]
        np.testing.assert_allclose(
            subtle["emotions"][emotion]["peak_displacement"],
            0.45 * np.asarray(full["emotions"][emotion]["peak_displacement"]),
            atol=1e-4,
        )

"""Synthetic landmark features with a known answer, for tests and benchmarks.

Each emotion moves its own *planted* landmarks from neutral to peak; every sample also carries
small jitter on all landmarks and strong, label-independent motion on *distractor* landmarks,
so a method that finds the planted landmarks is doing real work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoflow.facemesh import N_LANDMARKS


@dataclass
class PlantedData:
    """Features, labels and the planted answer.

    Attributes
    ----------
    features
        Shape ``(n_samples, n_frames, n_landmarks, 3)``, float32.
    emotions, subjects, video_ids
        One entry per sample.
    planted
        Emotion → the landmark ids that carry it.
    distractors
        Landmarks with strong label-independent motion.
    """

    features: np.ndarray
    emotions: np.ndarray
    subjects: np.ndarray
    video_ids: np.ndarray
    planted: dict[str, list[int]]
    distractors: list[int]


def planted_features(
    *,
    emotions: tuple[str, ...] = ("happiness", "sadness", "surprise"),
    n_subjects: int = 6,
    repetitions: int = 3,
    n_frames: int = 6,
    n_landmarks: int = N_LANDMARKS,
    n_planted: int = 8,
    n_distractors: int = 16,
    signal: float = 1.0,
    jitter: float = 0.05,
    distractor_scale: float = 1.5,
    seed: int = 0,
) -> PlantedData:
    """Make displacement features where only planted landmarks carry each emotion."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(n_landmarks, size=n_planted * len(emotions) + n_distractors, replace=False)
    planted = {
        emotion: sorted(chosen[i * n_planted : (i + 1) * n_planted].tolist())
        for i, emotion in enumerate(emotions)
    }
    distractors = sorted(chosen[n_planted * len(emotions) :].tolist())
    directions = {e: rng.normal(size=(n_planted, 3)) for e in emotions}
    ramp = np.linspace(0.0, 1.0, n_frames)[:, None, None]  # neutral → peak
    samples, labels, subjects, ids = [], [], [], []
    for s in range(n_subjects):
        intensity = rng.uniform(0.7, 1.3)
        for emotion in emotions:
            for r in range(repetitions):
                sample = rng.normal(scale=jitter, size=(n_frames, n_landmarks, 3))
                sample[:, planted[emotion], :] += signal * intensity * ramp * directions[emotion]
                distractor_motion = rng.normal(scale=distractor_scale, size=(n_distractors, 3))
                sample[:, distractors, :] += ramp * distractor_motion
                sample -= sample[:1]
                samples.append(sample)
                labels.append(emotion)
                subjects.append(f"s{s:02d}")
                ids.append(f"s{s:02d}_{emotion}_r{r}")
    return PlantedData(
        features=np.stack(samples).astype(np.float32),
        emotions=np.array(labels),
        subjects=np.array(subjects),
        video_ids=np.array(ids),
        planted=planted,
        distractors=distractors,
    )

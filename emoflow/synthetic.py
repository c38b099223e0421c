"""Synthetic landmark features with a known answer, for tests and benchmarks.

Each emotion moves its own *planted* landmarks from neutral to peak; every sample also carries
small jitter on all landmarks, strong label-independent neutral-to-peak motion on *distractor*
landmarks (like a blink or a twitch) and, optionally, strong frame-to-frame noise on *noisy*
landmarks, so a method that finds the planted landmarks is doing real work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emoflow.facemesh.mesh import N_LANDMARKS


@dataclass
class PlantedData:
    """Features, labels and the planted answer.

    Attributes
    ----------
    features, emotions, subjects, video_ids
        As in :class:`~emoflow.storage.feature_store.FeatureSet`.
    planted
        Emotion → the landmark ids that carry it.
    distractors
        Landmarks with strong label-independent motion.
    noisy
        Landmarks with strong label-independent frame-to-frame noise (empty by default).
    """

    features: np.ndarray
    emotions: np.ndarray
    subjects: np.ndarray
    video_ids: np.ndarray
    planted: dict[str, list[int]]
    distractors: list[int]
    noisy: list[int] = field(default_factory=list)

    def write_store(self, path: str | Path, *, settings: dict[str, Any] | None = None) -> Path:
        """Write these features as an emoflow feature store (Zarr) at ``path``."""
        from emoflow.storage.feature_store import write_feature_store

        write_feature_store(
            path,
            features=self.features,
            video_ids=self.video_ids,
            subjects=self.subjects,
            emotions=self.emotions,
            emotion_names=sorted(set(self.emotions.tolist())),
            settings=settings if settings is not None else {"n_frames": self.features.shape[1]},
        )
        return Path(path)


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
    equal_strength: bool = False,
    n_noisy: int = 0,
    noise_scale: float = 1.0,
    neutral: bool = False,
    seed: int = 0,
) -> PlantedData:
    """Make displacement features where only planted landmarks carry each emotion.

    Parameters
    ----------
    signal
        Peak displacement of a planted landmark (times the subject's intensity, 0.7–1.3); with
        ``equal_strength=False`` each landmark's direction is a standard normal 3-vector, so
        some planted landmarks barely move.
    jitter
        Standard deviation of the per-frame noise on every landmark.
    distractor_scale
        Standard deviation, per coordinate, of the random peak displacement of a distractor
        landmark (drawn anew for every sample, independent of the label).
    equal_strength
        Give every planted direction unit length, so that every planted landmark moves by
        ``signal × intensity`` at the peak (distractors at the default scale then move
        about 2.4× as far as a planted landmark).
    n_noisy, noise_scale
        Landmarks with label-independent Gaussian noise of this standard deviation in every
        frame (after the first).
    neutral
        Also give every subject ``repetitions`` samples labelled ``"neutral"``: no planted
        motion, only jitter, distractors and noise. They are negatives for every emotion, so a
        one-vs-rest model cannot tell an emotion by the stillness of the other emotions'
        landmarks alone (with few emotions and no neutral class it can, and then those
        landmarks matter to the model too).

    The defaults keep the data of earlier versions.
    """
    rng = np.random.default_rng(seed)
    n_chosen = n_planted * len(emotions) + n_distractors
    chosen = rng.choice(n_landmarks, size=n_chosen + n_noisy, replace=False)
    planted = {
        emotion: sorted(chosen[i * n_planted : (i + 1) * n_planted].tolist())
        for i, emotion in enumerate(emotions)
    }
    distractors = sorted(chosen[n_planted * len(emotions) : n_chosen].tolist())
    noisy = sorted(chosen[n_chosen:].tolist())
    directions = {e: rng.normal(size=(n_planted, 3)) for e in emotions}
    if equal_strength:
        directions = {
            e: d / np.linalg.norm(d, axis=1, keepdims=True) for e, d in directions.items()
        }
    ramp = np.linspace(0.0, 1.0, n_frames)[:, None, None]  # neutral → peak
    samples, labels, subjects, ids = [], [], [], []
    classes = (*emotions, "neutral") if neutral else emotions
    for s in range(n_subjects):
        intensity = rng.uniform(0.7, 1.3)
        for emotion in classes:
            for r in range(repetitions):
                sample = rng.normal(scale=jitter, size=(n_frames, n_landmarks, 3))
                if emotion in planted:
                    motion = signal * intensity * ramp * directions[emotion]
                    sample[:, planted[emotion], :] += motion
                distractor_motion = rng.normal(scale=distractor_scale, size=(n_distractors, 3))
                sample[:, distractors, :] += ramp * distractor_motion
                if n_noisy:
                    sample[1:, noisy, :] += rng.normal(
                        scale=noise_scale, size=(n_frames - 1, n_noisy, 3)
                    )
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
        noisy=noisy,
    )

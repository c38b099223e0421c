"""The pruning baselines' rankings: random sets, an explanation-free motion statistic, and
vanilla Integrated Gradients (the all-zero baseline).

Each ranking sees only the samples it is given; :func:`emoflow.comparison.compare_pruning`
gives it the development samples (the held-out test subjects never reach it), as the IG chain's
attribution does (:func:`emoflow.attribution.attribute_iteration`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from emoflow.errors import DataError

Landmarks = Sequence[int] | npt.NDArray[np.integer]
"""Landmark ids: a list or an integer array."""

__all__ = [
    "RANKINGS",
    "mean_difference_scores",
    "motion_energy",
    "motion_scores",
    "nested_top_sets",
    "random_sets",
    "zero_baseline_relevance",
]

RANKINGS: tuple[str, ...] = ("random", "motion", "mean_difference", "vanilla_ig")
"""The baselines of ``prune.compare`` (the schema's enum is the configuration's copy)."""

_RANDOM_STREAM = 16
"""Second entry of the random sets' seed sequence (a stream of its own)."""


def random_sets(start: Landmarks, counts: Sequence[int], seed: int) -> list[np.ndarray]:
    """Nested random landmark sets: the first ``count`` of one seeded permutation of
    ``start``, for each count (so each iteration's set is a subset of the previous one, as
    the pruning chain's are)."""
    order = np.random.default_rng([seed, _RANDOM_STREAM]).permutation(np.asarray(start))
    return [np.sort(order[: int(count)]) for count in counts]


def nested_top_sets(
    start: Landmarks, scores: np.ndarray, counts: Sequence[int]
) -> list[np.ndarray]:
    """The ``count`` highest-scoring landmarks of ``start`` (``scores`` aligned with it), for
    each count; ties keep the lower landmark id first."""
    ids = np.asarray(start, dtype=np.int64)
    values = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    if values.shape != ids.shape:
        raise DataError(f"{len(values)} scores for {len(ids)} landmarks")
    order = ids[np.argsort(-values, kind="stable")]
    return [np.sort(order[: int(count)]) for count in counts]


def motion_energy(features: np.ndarray, landmarks: Landmarks | None = None) -> np.ndarray:
    """Per sample and landmark, the mean frame-to-frame displacement magnitude,
    ``(n_samples, n_landmarks)``; ``features`` is ``(sample, frame, landmark, coord)``."""
    values = np.asarray(features, dtype=np.float64)
    if landmarks is not None:
        values = values[:, :, np.asarray(landmarks, dtype=np.int64), :]
    if values.shape[1] < 2:
        raise DataError("motion energy needs at least two frames per sample")
    return np.linalg.norm(np.diff(values, axis=1), axis=-1).mean(axis=1)


def motion_scores(
    features: np.ndarray, labels: np.ndarray, landmarks: Landmarks | None = None
) -> np.ndarray:
    """Explanation-free relevance of each landmark for one emotion: how well its motion
    energy (:func:`motion_energy`) separates the emotion's samples from the others, as the
    absolute standardised mean difference (Cohen's d) of the two groups."""
    energy = motion_energy(features, landmarks)
    positive = np.asarray(labels).astype(bool)
    if positive.all() or not positive.any():
        raise DataError("the motion ranking needs samples of the emotion and of the others")
    inside, outside = energy[positive], energy[~positive]
    pooled = np.sqrt(0.5 * (inside.var(axis=0) + outside.var(axis=0)))
    return np.abs(inside.mean(axis=0) - outside.mean(axis=0)) / (pooled + 1e-12)


def mean_difference_scores(
    features: np.ndarray, labels: np.ndarray, landmarks: Landmarks | None = None
) -> np.ndarray:
    """Model-free relevance of each landmark for one emotion: the magnitude of the difference
    between the class means of its features (the emotion's samples against the others),
    ``‖mean₊ − mean₋‖`` over frames and coordinates. On displacement features this is the
    difference of the class-mean displacements. Computed from the samples given (the
    comparison gives a fold's training subjects only); no model, no explanation."""
    values = np.asarray(features, dtype=np.float64)
    if landmarks is not None:
        values = values[:, :, np.asarray(landmarks, dtype=np.int64), :]
    positive = np.asarray(labels).astype(bool)
    if positive.all() or not positive.any():
        raise DataError("the mean_difference ranking needs samples of the emotion and of others")
    difference = values[positive].mean(axis=0) - values[~positive].mean(axis=0)
    # (frame, landmark, coord) -> one magnitude per landmark
    return np.sqrt(np.square(difference).sum(axis=(0, 2)))


def zero_baseline_relevance(
    model: Any,
    features: np.ndarray,
    labels: np.ndarray,
    landmarks: Landmarks,
    attribution: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, Any]:
    """Vanilla IG of one model: the run's attribution settings with the ``zero`` baseline
    (one reference), through :func:`emoflow.attribution.dataset_relevance`. Returns the
    relevance of ``landmarks`` and the settings used."""
    from emoflow.attribution import AttributionSettings, dataset_relevance

    settings = AttributionSettings.from_section(dict(attribution or {}))
    settings = dataclasses.replace(settings, baseline="zero", n_baselines=1)
    result = dataset_relevance(
        model,
        np.asarray(features, dtype=np.float32),
        np.asarray(labels),
        settings,
        landmarks=np.asarray(landmarks, dtype=np.int64),
    )
    return np.asarray(result["scores"], dtype=np.float64), settings

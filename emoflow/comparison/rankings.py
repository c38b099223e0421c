"""The pruning baselines' rankings: random sets, two model-free statistics (motion energy,
class-mean difference), and vanilla Integrated Gradients (the all-zero baseline).

How each ranking prunes:

- ``random``: nested random sets (the first *n* of one seeded permutation of the start set);
- ``motion`` and ``mean_difference`` (model-free, :data:`MODEL_FREE_RANKINGS`): the start set
  is ranked **once**, and the set kept at each count is its top *n* (nested by construction).
  Neither depends on a model, so re-ranking a pruned set would rank its landmarks in the same
  order: ranking once and ranking iteratively give the same sets;
- ``vanilla_ig``: iterative, like the IG-guided chain: train on the current set, attribute,
  keep the top *n* of the next count.

Each ranking sees only the samples it is given: the caller gives it the training subjects
(:func:`emoflow.comparison.compare_pruning` gives the development samples: the held-out test
subjects never reach it), as the IG chain's attribution does
(:func:`emoflow.attribution.attribute_emotion`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from emoflow.errors import DataError

Landmarks = Sequence[int] | npt.NDArray[np.integer]
"""Landmark ids: a list or an integer array."""

__all__ = [
    "MODEL_FREE_RANKINGS",
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
    positive = _labelled(labels, len(energy), "motion")
    inside, outside = energy[positive], energy[~positive]
    pooled = np.sqrt(0.5 * (inside.var(axis=0) + outside.var(axis=0)))
    return np.abs(inside.mean(axis=0) - outside.mean(axis=0)) / (pooled + 1e-12)


def _labelled(labels: np.ndarray, n_samples: int, ranking: str) -> np.ndarray:
    positive = np.asarray(labels).astype(bool)
    if positive.shape != (n_samples,):
        raise DataError(f"{positive.shape[0]} labels for {n_samples} samples")
    if positive.all() or not positive.any():
        raise DataError(f"the {ranking} ranking needs samples of the emotion and of the others")
    return positive


def mean_difference_scores(
    features: np.ndarray, labels: np.ndarray, landmarks: Landmarks | None = None
) -> np.ndarray:
    """Model-free relevance of each landmark for one emotion: how far apart the emotion's mean
    movement and the other samples' mean movement are.

    For landmark ``l``, the Euclidean norm over frames and coordinates of the difference of
    the two class means of the features (displacements from the first frame, by default)::

        R_l = ‖ mean_{x ∈ emotion} x[:, l, :] − mean_{x ∉ emotion} x[:, l, :] ‖₂

    Label-independent motion (blinks, talking, head turns) has the same mean in both groups
    and cancels; only consistent, emotion-specific movement stays. It is the model-free
    counterpart of the IG relevance, which attributes the mean score gap between the emotion's
    samples and the references.

    Parameters
    ----------
    features
        ``(n_samples, n_frames, n_landmarks, 3)``: the samples to rank from (give the training
        subjects only).
    labels
        ``(n_samples,)``: 1 for the emotion, 0 for the others.
    landmarks
        The landmarks to score (all when ``None``), in the order of the result.

    Returns
    -------
    numpy.ndarray
        ``(n_landmarks,)`` non-negative scores.
    """
    values = np.asarray(features, dtype=np.float64)
    if values.ndim != 4:
        raise DataError(f"features must be (sample, frame, landmark, coord), got {values.shape}")
    if landmarks is not None:
        values = values[:, :, np.asarray(landmarks, dtype=np.int64), :]
    positive = _labelled(labels, len(values), "mean_difference")
    difference = values[positive].mean(axis=0) - values[~positive].mean(axis=0)
    return np.sqrt(np.square(difference).sum(axis=(0, 2)))  # (frame, landmark, coord) → landmark


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


MODEL_FREE_RANKINGS: dict[str, Callable[..., np.ndarray]] = {
    "motion": motion_scores,
    "mean_difference": mean_difference_scores,
}
"""The rankings that need no model: ``name → scores(features, labels, landmarks)``; each ranks
the start set once (see the module's notes)."""

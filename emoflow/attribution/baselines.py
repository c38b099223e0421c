"""Reference inputs ("baselines") for Integrated Gradients and occlusion.

Each kind of baseline is one small function in :data:`BASELINE_KINDS`; adding a kind is one
function and one registry line (plus its schema enum and config comment). Every function gets
a :class:`BaselineRequest` and returns ``(baselines, indices)``: the references
``(k', n_frames, n_kept_landmarks, n_coords)`` float32, ``1 ≤ k' ≤ k``, and the sample index
of each, −1 where a reference is not a sample.

- ``negative_centroids`` — centroids of ``k``-means clusters of the other emotions' samples;
- ``negative_medoids`` — ``k``-medoids of those samples;
- ``neutral`` — medoids of the samples labelled neutral, else of the samples' first (neutral)
  frames held still for all frames;
- ``mean`` — the data set's mean sample; ``zero`` — the all-zero input (vanilla IG).

Candidates are at most :data:`MAX_BASELINE_CANDIDATES` samples (a seeded random subset beyond
it), so choosing costs bounded memory and time however large the data set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from emoflow.errors import ConfigError, DataError

MAX_BASELINE_CANDIDATES = 1000
"""Baselines are chosen among at most this many samples (a seeded random subset beyond it),
so choosing them costs bounded memory and time however large the data set."""


# -- clustering ------------------------------------------------------------------------------
def _squared_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """``(n, m)`` squared Euclidean distances, by the Gram identity (no ``(n, m, d)`` array)."""
    squared = (points**2).sum(axis=1)[:, None] + (centres**2).sum(axis=1)[None, :]
    return np.maximum(squared - 2.0 * points @ centres.T, 0.0)


def _plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """k-means++ seeding: indices of ``k`` spread-out points (duplicates allowed when fewer)."""
    chosen = [int(rng.integers(len(points)))]
    nearest = _squared_distances(points, points[chosen]).min(axis=1)
    for _ in range(k - 1):
        total = nearest.sum()
        if total <= 0:  # every point coincides with a chosen one
            break
        chosen.append(int(rng.choice(len(points), p=nearest / total)))
        nearest = np.minimum(nearest, _squared_distances(points, points[chosen[-1:]])[:, 0])
    return chosen


def k_medoids(points: np.ndarray, k: int, *, seed: int = 0, n_iter: int = 20) -> np.ndarray:
    """Indices of ``k`` medoids of ``points`` ``(n, d)`` (k-means++ start, Voronoi iteration).

    Fewer than ``k`` come back when the points have fewer than ``k`` distinct values.
    """
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    if k >= n:
        return np.arange(n)
    distances = np.sqrt(_squared_distances(points, points))
    medoid_array = np.array(sorted(set(_plus_plus(points, k, np.random.default_rng(seed)))))
    for _ in range(n_iter):
        assignment = np.argmin(distances[:, medoid_array], axis=1)
        updated = medoid_array.copy()
        for cluster in range(len(medoid_array)):
            members = np.flatnonzero(assignment == cluster)
            if len(members):
                within = distances[np.ix_(members, members)].sum(axis=1)
                updated[cluster] = members[np.argmin(within)]
        if np.array_equal(np.sort(updated), np.sort(medoid_array)):
            break
        medoid_array = updated
    return np.unique(medoid_array)


def k_means(points: np.ndarray, k: int, *, seed: int = 0, n_iter: int = 50) -> np.ndarray:
    """Centroids ``(k', d)`` of ``k``-means (Lloyd, k-means++ start), ``k' ≤ k``.

    Empty clusters are dropped, so fewer than ``k`` centroids come back when the points have
    fewer than ``k`` distinct values.
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) == 0:
        raise DataError("k-means needs at least one point")
    centroids = points[_plus_plus(points, min(k, len(points)), np.random.default_rng(seed))]
    for _ in range(n_iter):
        assignment = np.argmin(_squared_distances(points, centroids), axis=1)
        kept = [j for j in range(len(centroids)) if np.any(assignment == j)]
        updated = np.stack([points[assignment == j].mean(axis=0) for j in kept])
        if updated.shape == centroids.shape and np.allclose(updated, centroids):
            break
        centroids = updated
    return centroids


# -- the kinds -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BaselineRequest:
    """What a baseline kind chooses from.

    Attributes
    ----------
    inputs
        ``(n_samples, n_frames, n_landmarks, n_coords)`` (any array sliceable by rows).
    labels
        0/1 labels of the emotion being explained.
    columns
        Landmark positions to keep (the model's subset), or ``slice(None)``.
    shape
        One reference's shape ``(n_frames, n_kept_landmarks, n_coords)``.
    k, seed
        Number of references wanted and seed of the choice.
    neutral_mask
        Samples labelled neutral, if the data set has them.
    """

    inputs: Any
    labels: np.ndarray
    columns: Any
    shape: tuple[int, ...]
    k: int
    seed: int
    neutral_mask: np.ndarray | None

    def candidates(self, mask: np.ndarray) -> np.ndarray:
        """Indices where ``mask`` holds, at most :data:`MAX_BASELINE_CANDIDATES` (seeded)."""
        candidates = np.flatnonzero(mask)
        if len(candidates) > MAX_BASELINE_CANDIDATES:
            rng = np.random.default_rng(self.seed)
            candidates = np.sort(rng.choice(candidates, MAX_BASELINE_CANDIDATES, replace=False))
        return candidates

    def flat_candidates(self, mask: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Candidate indices among ``mask`` and their kept columns, flattened ``(m, d)``."""
        if not mask.any():
            raise DataError(f"no samples to choose {kind} baselines from")
        candidates = self.candidates(mask)
        flat = self.inputs[candidates][:, :, self.columns].reshape(len(candidates), -1)
        return candidates, flat

    def medoid_samples(self, mask: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """``k``-medoids among the distinct samples of ``mask``: real samples as references."""
        candidates, flat = self.flat_candidates(mask, kind)
        _, unique_rows = np.unique(flat, axis=0, return_index=True)
        unique_rows = np.sort(unique_rows)
        chosen = unique_rows[k_medoids(flat[unique_rows], self.k, seed=self.seed)]
        indices = candidates[np.sort(chosen)]
        return self.inputs[indices][:, :, self.columns].astype(np.float32), indices


def _zero(request: BaselineRequest) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((1, *request.shape), dtype=np.float32), np.array([-1])


def _mean(request: BaselineRequest) -> tuple[np.ndarray, np.ndarray]:
    inputs, columns = request.inputs, request.columns
    total = np.zeros(request.shape, dtype=np.float64)
    for begin in range(0, len(inputs), 256):  # a running sum: no float64 copy of the data
        total += inputs[begin : begin + 256][:, :, columns].sum(axis=0, dtype=np.float64)
    return (total / len(inputs))[None].astype(np.float32), np.array([-1])


def _neutral(request: BaselineRequest) -> tuple[np.ndarray, np.ndarray]:
    mask = request.neutral_mask
    if mask is not None and np.any(mask):
        return request.medoid_samples(np.asarray(mask, dtype=bool), "neutral")
    first = request.inputs[:, :1][:, :, request.columns]  # every sample's first (neutral) frame
    candidates = request.candidates(np.ones(len(request.inputs), dtype=bool))
    flat = np.unique(first[candidates].reshape(len(candidates), -1), axis=0)
    chosen = k_medoids(flat, request.k, seed=request.seed)
    shape = request.shape
    still = np.repeat(flat[chosen].reshape(len(chosen), 1, *shape[1:]), shape[0], axis=1)
    return still.astype(np.float32), np.full(len(chosen), -1)


def _negative_medoids(request: BaselineRequest) -> tuple[np.ndarray, np.ndarray]:
    return request.medoid_samples(request.labels == 0, "negative_medoids")


def _negative_centroids(request: BaselineRequest) -> tuple[np.ndarray, np.ndarray]:
    _, flat = request.flat_candidates(request.labels == 0, "negative_centroids")
    centroids = k_means(flat, request.k, seed=request.seed)
    baselines = centroids.reshape(len(centroids), *request.shape).astype(np.float32)
    return baselines, np.full(len(centroids), -1)


BASELINE_KINDS: dict[str, Callable[[BaselineRequest], tuple[np.ndarray, np.ndarray]]] = {
    "negative_centroids": _negative_centroids,
    "negative_medoids": _negative_medoids,
    "neutral": _neutral,
    "mean": _mean,
    "zero": _zero,
}
"""Baseline kind (``attribution.baseline``) → the function that chooses its references."""


def choose_baselines(
    inputs: np.ndarray,
    labels: np.ndarray,
    *,
    kind: str = "negative_centroids",
    k: int = 5,
    seed: int = 0,
    neutral_mask: np.ndarray | None = None,
    landmarks: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Reference inputs for IG and, where they are samples, their indices.

    Parameters
    ----------
    inputs
        Shape ``(n_samples, n_frames, n_landmarks, n_coords)``.
    labels
        0/1 labels of the emotion being explained.
    kind
        A key of :data:`BASELINE_KINDS` (see the module docstring).
    k
        Number of baselines (fewer come back when the candidates have fewer distinct values).
    neutral_mask
        Samples labelled neutral, if the data set has them (used by ``neutral``).
    landmarks
        Landmark positions to keep (the model's subset); all when ``None``. Only the chosen
        candidates are copied, so memory stays bounded.

    Returns
    -------
    baselines
        ``(k', n_frames, n_kept_landmarks, n_coords)`` float32, ``1 ≤ k' ≤ k``.
    indices
        ``(k',)`` sample index of each baseline, −1 where a baseline is not a sample.
    """
    choose = BASELINE_KINDS.get(kind)
    if choose is None:
        raise ConfigError(f"attribution.baseline must be one of {', '.join(BASELINE_KINDS)}")
    columns = slice(None) if landmarks is None else np.asarray(landmarks)
    shape = (*inputs.shape[1:2], *inputs[:1, :, columns].shape[2:])
    request = BaselineRequest(
        inputs=inputs,
        labels=np.asarray(labels),
        columns=columns,
        shape=shape,
        k=k,
        seed=seed,
        neutral_mask=neutral_mask,
    )
    return choose(request)

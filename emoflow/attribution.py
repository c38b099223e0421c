r"""Dataset-level Integrated Gradients with several typical baselines (Captum), stored in Zarr.

The improved IG of Di Luzio, Rosato & Panella (arXiv 2407.14865) replaces IG's single all-zero
reference with several *typical* samples and aggregates attributions over the whole data set.
For the binary model :math:`F_e` of emotion :math:`e`, a sample :math:`x` and baselines
:math:`b_1, …, b_K`, this module computes

.. math::

    A_e(x) = \frac{1}{K} \sum_{k=1}^{K} (x - b_k) \odot
             \sum_{j=1}^{m} w_j\, \nabla F_e\big(b_k + \alpha_j (x - b_k)\big),

the path integral :math:`\int_0^1 \nabla F_e(b_k + \alpha (x - b_k))\, d\alpha` taken by
Gauss–Legendre quadrature with :math:`m` = ``n_steps`` nodes :math:`\alpha_j` and weights
:math:`w_j` on [0, 1] (Captum's ``IntegratedGradients``; ``quadrature: riemann_trapezoid`` is
the trapezoid rule). :math:`A_e(x)` has the shape of :math:`x`: frames :math:`t`, landmarks
:math:`l`, coordinates :math:`c`. With :math:`S` the samples that count (``samples``: the
emotion's positive samples, or all), the relevance of landmark :math:`l` for emotion :math:`e`
(``aggregate``) is

.. math::

    \text{abs\_mean:}\quad R_{e,l} &= \sum_{t,c} \Big| \frac{1}{|S|}
        \sum_{x \in S} A_e(x)_{t,l,c} \Big| \\
    \text{mean\_abs:}\quad R_{e,l} &= \frac{1}{|S|} \sum_{x \in S} \sum_{t,c}
        \big| A_e(x)_{t,l,c} \big| \\
    \text{signed\_mean:}\quad R_{e,l} &= \frac{1}{|S|} \sum_{x \in S} \sum_{t,c}
        A_e(x)_{t,l,c} \\
    \text{l2:}\quad R_{e,l} &= \frac{1}{|S|} \sum_{x \in S}
        \Big( \sum_{t,c} A_e(x)_{t,l,c}^2 \Big)^{1/2}

``abs_mean`` (the default) is the IG of the *data set*: by completeness,
:math:`\sum_{t,l,c} \frac{1}{|S|}\sum_{x} A_e(x)_{t,l,c} = \overline{F_e(x)}_S -
\frac{1}{K}\sum_k F_e(b_k)` (up to the quadrature error), so it splits the mean score gap
between the samples and the references over the inputs, and motion that is unrelated to the
emotion (blinks, twitches, noise) — whose attributions change sign from sample to sample —
averages out before the magnitude is taken. The per-sample magnitudes (``mean_abs``, ``l2``)
instead accumulate such noise, and a model fitted on few samples uses noisy inputs a little,
so noisy landmarks then outrank weak true ones.

The completeness gap :math:`\frac1K \sum_k |\sum_{t,l,c} A_{e,k}(x) - (F_e(x) - F_e(b_k))|`
of each sample (:math:`A_{e,k}` the attribution against baseline :math:`k` alone) is recorded
as its convergence delta (for occlusion, which is not complete, it measures how far the
landmarks' effects are from adding up).

Baselines (``baseline``; :math:`K` = ``n_baselines``, chosen among at most
:data:`MAX_BASELINE_CANDIDATES` samples):

- ``negative_centroids`` (default) — the centroids of :math:`K`-means clusters of the samples
  of the other emotions: several *typical* non-:math:`e` references, each the average of a
  group of similar samples, so the references carry the other emotions' motion but not one
  sample's own nuisance;
- ``negative_medoids`` — :math:`K`-medoids of those samples (real samples, nuisance included:
  a medoid's own blink is attributed to the eyelids of every sample explained against it);
- ``neutral`` — ``k`` typical neutral faces: medoids of the samples labelled ``neutral`` when
  the data set has them, else medoids of the samples' first (neutral) frames held still for
  all frames — for displacement features this is the zero input;
- ``mean`` — the data set's mean sample; ``zero`` — the all-zero input (vanilla IG).

References drawn from the other emotions explain "why :math:`e` rather than the others": a
one-vs-rest model also uses the *stillness* of the other emotions' landmarks, and these
baselines credit it; neutral references explain "why :math:`e` rather than no expression".

For comparison, ``method`` can be ``smoothgrad_ig`` (IG under Captum's NoiseTunnel, 8 noisy
copies with standard deviation 0.1 × the batch's), ``gradient_shap`` (Captum's GradientShap
with the baselines as reference distribution and ``n_steps`` random draws) or
``feature_ablation``: landmark-level occlusion through Captum's ``feature_mask`` — every
landmark (all its frames and coordinates together) is set to each baseline's values and the
drop of the score is its attribution, spread evenly over the landmark's entries so that the
same aggregations apply. Gradient methods take no ``feature_mask``: IG is attributed per input
entry and summed per landmark afterwards, which loses nothing, since IG is additive — the
landmark's summed attribution is exactly its share of the completeness identity — whereas
occlusion of a whole landmark needs one forward pass per landmark and is not additive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from emoflow._atomic import atomic_path
from emoflow.errors import ConfigError, DataError, InputError
from emoflow.features import load_features
from emoflow.training import read_landmark_sets

log = logging.getLogger(__name__)

ATTRIBUTION_DIMS = ("emotion", "sample", "frame", "landmark", "coord")
SCORE_DIMS = ("emotion", "landmark")
COORD_NAMES = ("x", "y", "z")
LANDMARK_CHUNK = 64
"""Landmarks per chunk of the attribution array: a per-landmark read touches one chunk column."""
MAX_BASELINE_CANDIDATES = 1000
"""Baselines are chosen among at most this many samples (a seeded random subset beyond it),
so choosing them costs bounded memory and time however large the data set."""

Baseline = Literal["negative_centroids", "negative_medoids", "neutral", "mean", "zero"]
Method = Literal["integrated_gradients", "smoothgrad_ig", "gradient_shap", "feature_ablation"]
Aggregate = Literal["abs_mean", "mean_abs", "signed_mean", "l2"]
BASELINES: tuple[str, ...] = ("negative_centroids", "negative_medoids", "neutral", "mean", "zero")
METHODS: tuple[str, ...] = (
    "integrated_gradients",
    "smoothgrad_ig",
    "gradient_shap",
    "feature_ablation",
)
AGGREGATES: tuple[str, ...] = ("abs_mean", "mean_abs", "signed_mean", "l2")


@dataclass(frozen=True)
class AttributionSettings:
    """Settings of the attribution stage (see the module docstring for the formula).

    Parameters
    ----------
    method
        ``integrated_gradients`` (the improved IG), ``smoothgrad_ig``, ``gradient_shap`` or
        ``feature_ablation``.
    baseline, n_baselines
        Kind and number ``K`` of the references.
    n_steps, quadrature
        Nodes and rule of the path integral.
    aggregate
        How attributions become one relevance per landmark.
    samples
        ``positive`` (the emotion's samples) or ``all``: the set :math:`S` of the formula.
    batch_size
        Samples attributed at once (and samples per chunk of the store).
    internal_batch_size
        Rows (sample × baseline × step) per forward/backward pass: bounds memory.
    seed
        Seed of the baseline choice.
    dask_scheduler
        Address of a ``dask.distributed`` scheduler (e.g. ``tcp://10.0.0.5:8786``) that
        aggregates the stored attributions; ``None`` uses dask's local threads.
    """

    method: Method = "integrated_gradients"
    baseline: Baseline = "negative_centroids"
    n_baselines: int = 5
    n_steps: int = 32
    quadrature: Literal["gausslegendre", "riemann_trapezoid"] = "gausslegendre"
    aggregate: Aggregate = "abs_mean"
    samples: Literal["positive", "all"] = "positive"
    batch_size: int = 64
    internal_batch_size: int = 1024
    seed: int = 0
    dask_scheduler: str | None = None

    def __post_init__(self) -> None:
        allowed = {
            "method": METHODS,
            "baseline": BASELINES,
            "aggregate": AGGREGATES,
            "samples": ("all", "positive"),
            "quadrature": ("gausslegendre", "riemann_trapezoid"),
        }
        for key, values in allowed.items():
            if getattr(self, key) not in values:
                raise ConfigError(
                    f"attribution.{key} must be one of {', '.join(values)}, "
                    f"got {getattr(self, key)!r}"
                )
        for key in ("n_baselines", "n_steps", "batch_size", "internal_batch_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"attribution.{key} must be ≥ 1, got {getattr(self, key)}")


# -- baselines -------------------------------------------------------------------------------
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


def _candidates(mask: np.ndarray, seed: int) -> np.ndarray:
    """Indices where ``mask`` holds, at most :data:`MAX_BASELINE_CANDIDATES` (seeded subset)."""
    candidates = np.flatnonzero(mask)
    if len(candidates) > MAX_BASELINE_CANDIDATES:
        rng = np.random.default_rng(seed)
        candidates = np.sort(rng.choice(candidates, MAX_BASELINE_CANDIDATES, replace=False))
    return candidates


def choose_baselines(
    inputs: np.ndarray,
    labels: np.ndarray,
    *,
    kind: Baseline = "negative_centroids",
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
        See the module docstring.
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
    columns = slice(None) if landmarks is None else np.asarray(landmarks)
    shape = (*inputs.shape[1:2], *inputs[:1, :, columns].shape[2:])
    labels = np.asarray(labels)
    if kind == "zero":
        return np.zeros((1, *shape), dtype=np.float32), np.array([-1])
    if kind == "mean":
        total = np.zeros(shape, dtype=np.float64)
        for begin in range(0, len(inputs), 256):  # a running sum: no float64 copy of the data
            total += inputs[begin : begin + 256][:, :, columns].sum(axis=0, dtype=np.float64)
        return (total / len(inputs))[None].astype(np.float32), np.array([-1])
    if kind == "neutral" and (neutral_mask is None or not np.any(neutral_mask)):
        first = inputs[:, :1][:, :, columns]  # every sample's first (neutral) frame
        candidates = _candidates(np.ones(len(inputs), dtype=bool), seed)
        flat = np.unique(first[candidates].reshape(len(candidates), -1), axis=0)
        chosen = k_medoids(flat, k, seed=seed)
        still = np.repeat(flat[chosen].reshape(len(chosen), 1, *shape[1:]), shape[0], axis=1)
        return still.astype(np.float32), np.full(len(chosen), -1)
    if kind == "neutral":
        mask = np.asarray(neutral_mask, dtype=bool)
    elif kind in ("negative_medoids", "negative_centroids"):
        mask = labels == 0
    else:
        raise ConfigError(f"attribution.baseline must be one of {', '.join(BASELINES)}")
    if not mask.any():
        raise DataError(f"no samples to choose {kind} baselines from")
    candidates = _candidates(mask, seed)
    flat = inputs[candidates][:, :, columns].reshape(len(candidates), -1)
    if kind == "negative_centroids":
        centroids = k_means(flat, k, seed=seed)
        return centroids.reshape(len(centroids), *shape).astype(np.float32), np.full(
            len(centroids), -1
        )
    _, unique_rows = np.unique(flat, axis=0, return_index=True)
    unique_rows = np.sort(unique_rows)
    chosen = unique_rows[k_medoids(flat[unique_rows], k, seed=seed)]
    indices = candidates[np.sort(chosen)]
    return inputs[indices][:, :, columns].astype(np.float32), indices


def select_baselines(
    inputs: np.ndarray,
    labels: np.ndarray,
    *,
    kind: Baseline = "negative_centroids",
    k: int = 5,
    seed: int = 0,
    neutral_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Reference inputs for IG, shape ``(k', *sample_shape)`` with ``k' ≤ k``.

    See :func:`choose_baselines`, which also says which samples were chosen.
    """
    baselines, _ = choose_baselines(
        inputs, labels, kind=kind, k=k, seed=seed, neutral_mask=neutral_mask
    )
    return baselines


# -- attribution -----------------------------------------------------------------------------
def _landmark_mask(sample_shape: tuple[int, ...], device: Any) -> Any:
    """Captum ``feature_mask`` ``(1, T, L, C)``: one group per landmark (its frames, coords)."""
    import torch

    n_frames, n_landmarks, n_coords = sample_shape
    groups = torch.arange(n_landmarks, device=device).view(1, 1, n_landmarks, 1)
    return groups.expand(1, n_frames, n_landmarks, n_coords).contiguous()


def attribute_samples(
    model: Any,
    inputs: Any,
    baselines: Any,
    settings: AttributionSettings,
) -> tuple[Any, Any]:
    """Attributions of ``inputs`` averaged over ``baselines``, and convergence deltas.

    All (sample, baseline) pairs go through Captum in one call, cut into passes of at most
    ``settings.internal_batch_size`` rows, so memory is bounded by the batch and that size.

    Parameters
    ----------
    model
        A differentiable scorer: tensor ``(n, *sample_shape)`` → ``(n,)``.
    inputs
        Tensor ``(n, *sample_shape)``.
    baselines
        Tensor ``(k, *sample_shape)``.

    Returns
    -------
    attributions
        Tensor ``(n, *sample_shape)``.
    deltas
        Tensor ``(n,)``: mean over baselines of the completeness gap ``|Σ A − ΔF|``.
    """
    import torch
    from captum.attr import (
        FeatureAblation,
        GradientShap,
        IntegratedGradients,
        NoiseTunnel,
    )

    n, k = len(inputs), len(baselines)
    if settings.method == "gradient_shap":
        explainer = GradientShap(model)
        attributions, deltas = explainer.attribute(
            inputs,
            baselines=baselines,
            n_samples=settings.n_steps,
            stdevs=0.0,
            return_convergence_delta=True,
        )
        # one delta per (sample, draw): average the draws of each sample
        return attributions.detach(), deltas.reshape(n, -1).abs().mean(dim=1).detach()
    # row r = (baseline r // n, sample r % n)
    repeated = inputs.repeat(k, *([1] * (inputs.ndim - 1)))
    references = baselines.repeat_interleave(n, dim=0)
    if settings.method == "feature_ablation":
        mask = _landmark_mask(tuple(inputs.shape[1:]), inputs.device)
        per_pass = max(1, settings.internal_batch_size // len(repeated))
        raw = FeatureAblation(model).attribute(
            repeated,
            baselines=references,
            feature_mask=mask,
            perturbations_per_eval=per_pass,
        )
        attributions = raw.detach() / (inputs.shape[1] * inputs.shape[3])
        gap = None
    else:
        # Captum runs at least one step of all its examples per pass: hand it at most
        # internal_batch_size examples (÷ 8 noisy copies for SmoothGrad) at a time.
        copies = 8 if settings.method == "smoothgrad_ig" else 1
        group = max(1, settings.internal_batch_size // copies)
        parts, gaps = [], []
        for lo in range(0, len(repeated), group):
            rows, refs = repeated[lo : lo + group], references[lo : lo + group]
            if settings.method == "smoothgrad_ig":
                part = NoiseTunnel(IntegratedGradients(model)).attribute(
                    rows,
                    nt_type="smoothgrad",
                    nt_samples=copies,
                    stdevs=float(inputs.std()) * 0.1,
                    baselines=refs,
                    n_steps=settings.n_steps,
                    method=settings.quadrature,
                    internal_batch_size=settings.internal_batch_size,
                )
            else:
                part, part_gap = IntegratedGradients(model).attribute(
                    rows,
                    baselines=refs,
                    n_steps=settings.n_steps,
                    method=settings.quadrature,
                    internal_batch_size=settings.internal_batch_size,
                    return_convergence_delta=True,
                )
                gaps.append(part_gap.detach())
            parts.append(part.detach())
        attributions = torch.cat(parts)
        gap = torch.cat(gaps) if gaps else None
    if gap is None:  # completeness gap of methods that do not report one
        with torch.no_grad():
            gap = attributions.reshape(len(repeated), -1).sum(1) - (
                model(repeated) - model(references)
            )
    delta = gap.abs().to(inputs.dtype).reshape(k, n).mean(dim=0)
    return attributions.reshape(k, *inputs.shape).mean(dim=0), delta


def iter_attributions(
    model: Any,
    inputs: Any,
    baselines: np.ndarray,
    settings: AttributionSettings,
    *,
    landmarks: np.ndarray | None = None,
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """Attribute ``inputs`` batch by batch: yields ``(begin, end, attributions, deltas)``.

    Only one batch of ``settings.batch_size`` samples (and Captum's passes of at most
    ``settings.internal_batch_size`` rows) is in flight at a time, so memory does not grow
    with the number of samples.

    Parameters
    ----------
    model
        A differentiable scorer on the device it runs on (its ``device`` attribute, else CPU).
    inputs
        ``(n_samples, n_frames, n_landmarks, n_coords)``; a NumPy array or anything sliceable
        along the first axis that gives one (e.g. a Zarr array).
    baselines
        ``(k, n_frames, n_kept, n_coords)``, already restricted to ``landmarks``.
    landmarks
        Landmark positions the model sees; all when ``None``.
    """
    import torch

    device = getattr(model, "device", torch.device("cpu"))
    baselines_t = torch.as_tensor(np.asarray(baselines), dtype=torch.float32, device=device)
    for begin in range(0, len(inputs), settings.batch_size):
        end = min(begin + settings.batch_size, len(inputs))
        batch_np = np.asarray(inputs[begin:end], dtype=np.float32)
        if landmarks is not None:
            batch_np = batch_np[:, :, landmarks, :]
        batch = torch.as_tensor(batch_np, device=device)
        attributions, deltas = attribute_samples(model, batch, baselines_t, settings)
        yield begin, end, attributions.cpu().numpy(), deltas.cpu().numpy()


def dataset_relevance(
    model: Any,
    inputs: np.ndarray,
    labels: np.ndarray,
    settings: AttributionSettings | None = None,
    *,
    neutral_mask: np.ndarray | None = None,
    landmarks: np.ndarray | None = None,
) -> dict[str, Any]:
    """Improved IG of one model over a data set in memory, aggregated on the fly.

    The samples of :math:`S` are attributed batch by batch and folded into running sums, so
    neither the attributions nor more than one batch are held: memory is bounded by the batch,
    not by the number of samples.

    Returns
    -------
    dict
        ``scores`` ``(n_landmarks,)`` (:math:`R_{e,l}`), ``deltas`` ``(|S|,)``, ``baselines``
        (the references), ``n_samples`` (``|S|``) and ``seconds``.
    """
    settings = settings or AttributionSettings()
    labels = np.asarray(labels)
    chosen = labels.astype(bool) if settings.samples == "positive" else np.ones(len(labels), bool)
    baselines, _ = choose_baselines(
        inputs,
        labels,
        kind=settings.baseline,
        k=settings.n_baselines,
        seed=settings.seed,
        neutral_mask=neutral_mask,
        landmarks=landmarks,
    )
    index = np.flatnonzero(chosen)
    subset = _Rows(inputs, index)
    total: np.ndarray | None = None
    deltas = np.zeros(len(index), dtype=np.float64)
    start = time.perf_counter()
    for begin, end, attributions, batch_deltas in iter_attributions(
        model, subset, baselines, settings, landmarks=landmarks
    ):
        values = attributions.astype(np.float64)
        if settings.aggregate == "abs_mean":
            part = values.sum(axis=0)  # (frames, landmarks, coords)
        else:
            part = reduce_to_landmarks(values, settings.aggregate).sum(axis=0)
        total = part if total is None else total + part
        deltas[begin:end] = batch_deltas
    seconds = time.perf_counter() - start
    if total is None:
        raise DataError("no samples to attribute")
    mean = total / len(index)
    scores = np.abs(mean).sum(axis=(0, 2)) if settings.aggregate == "abs_mean" else mean
    return {
        "scores": scores,
        "deltas": deltas,
        "baselines": baselines,
        "n_samples": len(index),
        "seconds": seconds,
    }


class _Rows:
    """Rows ``index`` of an array, sliced lazily (so a subset is never copied whole)."""

    def __init__(self, array: Any, index: np.ndarray) -> None:
        self.array, self.index = array, index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, rows: slice) -> np.ndarray:
        return np.asarray(self.array[self.index[rows]])


def reduce_to_landmarks(attributions: np.ndarray, aggregate: Aggregate) -> np.ndarray:
    """Per-sample landmark scores ``(n, n_landmarks)`` from ``(n, frames, landmarks, coords)``.

    ``abs_mean`` of a single sample is its ``mean_abs``; over several samples use
    :func:`landmark_scores`, which averages before taking magnitudes.
    """
    if aggregate in ("mean_abs", "abs_mean"):
        return np.abs(attributions).sum(axis=(1, 3))
    if aggregate == "signed_mean":
        return attributions.sum(axis=(1, 3))
    return np.sqrt((attributions**2).sum(axis=(1, 3)))


def landmark_scores(
    attributions: np.ndarray, aggregate: Aggregate, sample_mask: np.ndarray | None = None
) -> np.ndarray:
    """Relevance ``(n_landmarks,)`` of one emotion from ``(n, frames, landmarks, coords)``.

    The in-memory twin of :func:`landmark_scores_from_store` (see the module docstring).
    """
    values = np.asarray(attributions, dtype=np.float64)
    if sample_mask is not None:
        values = values[np.asarray(sample_mask, dtype=bool)]
    if aggregate == "abs_mean":
        return np.abs(values.mean(axis=0)).sum(axis=(0, 2))
    return reduce_to_landmarks(values, aggregate).mean(axis=0)


def landmark_scores_from_store(
    store_path: str | Path,
    aggregate: Aggregate,
    sample_masks: np.ndarray | None = None,
    *,
    scheduler: str | None = None,
    connect_timeout_s: float = 30.0,
) -> np.ndarray:
    """Aggregate a stored attribution array to ``(emotion, landmark)`` scores with dask.

    The ``attributions`` array ``(emotion, sample, frame, landmark, coord)`` is read chunk by
    chunk, so the store may be larger than memory. Landmarks outside an emotion's set (NaN in
    the store) get NaN.

    Parameters
    ----------
    sample_masks
        Optional ``(emotion, sample)`` booleans: which samples count for each emotion.
    scheduler
        Address of a ``dask.distributed`` scheduler to compute on; ``None``: local threads.
        Its workers must see ``store_path`` (a shared file system).
    connect_timeout_s
        How long to try to reach the scheduler.
    """
    import dask.array as da
    import zarr

    array = zarr.open_array(str(Path(store_path) / "attributions"), mode="r")
    attributions = da.from_zarr(array)
    n_emotions, n_samples = attributions.shape[:2]
    excluded = da.isnan(attributions).all(axis=(1, 2, 4))  # (emotion, landmark)
    filled = da.nan_to_num(attributions).astype(np.float64)
    if sample_masks is None:
        sample_masks = np.ones((n_emotions, n_samples), dtype=bool)
    weights_np = np.asarray(sample_masks, dtype=np.float64)
    if weights_np.shape != (n_emotions, n_samples):
        raise DataError(
            f"sample masks of shape {weights_np.shape} do not match the store's "
            f"{(n_emotions, n_samples)}"
        )
    counts = np.maximum(weights_np.sum(axis=1), 1.0)
    weights = da.from_array(weights_np, chunks=(1, attributions.chunks[1]))
    if aggregate == "abs_mean":
        mean = (filled * weights[:, :, None, None, None]).sum(axis=1)  # (emotion, t, l, c)
        scores = da.abs(mean / counts[:, None, None, None]).sum(axis=(1, 3))
    else:
        if aggregate == "mean_abs":
            per_sample = da.abs(filled).sum(axis=(2, 4))
        elif aggregate == "signed_mean":
            per_sample = filled.sum(axis=(2, 4))
        else:
            per_sample = da.sqrt((filled**2).sum(axis=(2, 4)))  # (emotion, sample, landmark)
        scores = (per_sample * weights[:, :, None]).sum(axis=1) / counts[:, None]
    scores = da.where(excluded, np.nan, scores)
    if scheduler is None:
        return np.asarray(scores.compute(), dtype=np.float64)
    from dask.distributed import Client

    try:
        client = Client(scheduler, timeout=f"{connect_timeout_s}s", set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise ConfigError(
            f"attribution.dask_scheduler {scheduler!r} cannot be reached ({err})"
        ) from err
    with client:
        return np.asarray(client.compute(scores).result(), dtype=np.float64)


def _named_array(root: Any, name: str, values: np.ndarray, dims: tuple[str, ...]) -> Any:
    """Write a small array with ``dimension_names`` and a ``dims`` attribute."""
    dtype = str if values.dtype.kind in "US" else values.dtype
    array = root.create_array(name, shape=values.shape, dtype=dtype, dimension_names=dims)
    array[...] = values
    array.attrs["dims"] = list(dims)
    return array


def attribute_iteration(
    features_path: str | Path,
    landmark_set_path: str | Path,
    model_dir: str | Path,
    out_path: str | Path,
    *,
    settings: AttributionSettings | None = None,
    device: str = "auto",
    iteration: int = 0,
    metrics_path: str | Path | None = None,
) -> dict[str, Any]:
    """Attribute every emotion's model over the whole data set and write the Zarr store.

    When the iteration's ``metrics_path`` records held-out test subjects
    (``train.test_subjects``), their samples are left out: relevance, and so pruning, is
    computed from the development subjects only.

    The store (Zarr v3; every array names its dimensions in ``dimension_names`` and in a
    ``dims`` attribute, and the root's ``dims`` attribute maps array → dimensions) holds

    - ``attributions`` ``(emotion, sample, frame, landmark, coord)`` float32, NaN for
      landmarks outside an emotion's set, chunked ``(1, batch_size, all frames,``
      :data:`LANDMARK_CHUNK` ``, all coords)``: one emotion or a few landmarks are read
      without the rest;
    - ``scores`` ``(emotion, landmark)``: the relevance :math:`R_{e,l}`;
    - ``deltas`` ``(emotion, sample)``: convergence deltas;
    - ``used`` ``(emotion, sample)``: the samples :math:`S` that count for each emotion;
    - ``baselines`` ``(emotion, baseline)``: sample index of each baseline, −1 where a
      baseline is not a sample (centroids, means, still faces, zero) or not used;
    - ``baseline_values`` ``(emotion, baseline, frame, landmark, coord)``: the references
      themselves (NaN outside the emotion's landmarks and for unused baseline slots), so a
      later explanation can use exactly the same ones;
    - coordinate arrays ``emotion``, ``sample`` (= ``video_id``), ``frame``, ``landmark``,
      ``coord``, so ``xarray.open_zarr`` labels every axis;

    and, in the root attributes, the settings, the formula's aggregation, timings and the
    mean delta per emotion.
    """
    import zarr

    from emoflow.models import load_model

    settings = settings or AttributionSettings()
    feature_set = load_features(features_path)
    if metrics_path is not None:
        from emoflow._atomic import read_json

        held_out = read_json(metrics_path).get("split", {}).get("test_subjects", [])
        feature_set = feature_set.samples(~np.isin(feature_set.subjects, held_out))
    emotions = feature_set.emotion_names
    landmark_sets = read_landmark_sets(landmark_set_path, emotions)
    features = feature_set.features
    n_samples, n_frames, n_landmarks, n_coords = features.shape
    neutral_mask = feature_set.emotions == "neutral"
    sample_chunk = max(1, min(n_samples, settings.batch_size))
    timings: dict[str, float] = {}
    per_sample: dict[str, float] = {}
    used_device = device
    with atomic_path(out_path, directory=True) as staged:
        root = zarr.open_group(str(staged), mode="w")
        attributions_array = root.create_array(
            "attributions",
            shape=(len(emotions), n_samples, n_frames, n_landmarks, n_coords),
            dtype="float32",
            chunks=(1, sample_chunk, n_frames, min(n_landmarks, LANDMARK_CHUNK), n_coords),
            fill_value=np.nan,
            dimension_names=ATTRIBUTION_DIMS,
        )
        attributions_array.attrs["dims"] = list(ATTRIBUTION_DIMS)
        deltas = np.zeros((len(emotions), n_samples), dtype=np.float32)
        baseline_ids = np.full((len(emotions), settings.n_baselines), -1, dtype=np.int64)
        baseline_values = root.create_array(
            "baseline_values",
            shape=(len(emotions), settings.n_baselines, n_frames, n_landmarks, n_coords),
            dtype="float32",
            chunks=(1, settings.n_baselines, n_frames, min(n_landmarks, LANDMARK_CHUNK), n_coords),
            fill_value=np.nan,
            dimension_names=("emotion", "baseline", "frame", "landmark", "coord"),
        )
        baseline_values.attrs["dims"] = ["emotion", "baseline", "frame", "landmark", "coord"]
        used = np.zeros((len(emotions), n_samples), dtype=bool)
        for e, emotion in enumerate(emotions):
            model_path = Path(model_dir) / f"{emotion}.pt"
            model, metadata = load_model(model_path, device=device)
            keep = landmark_sets[emotion]
            if list(metadata["landmarks"]) != keep.tolist():
                raise InputError(
                    model_path, "model landmarks do not match the iteration's landmark set"
                )
            model.eval()
            used_device = str(model.device)
            labels = feature_set.labels_for(emotion)
            used[e] = labels.astype(bool) if settings.samples == "positive" else True
            baselines, chosen = choose_baselines(
                features,
                labels,
                kind=settings.baseline,
                k=settings.n_baselines,
                seed=settings.seed,
                neutral_mask=neutral_mask,
                landmarks=keep,
            )
            baseline_ids[e, : len(chosen)] = chosen[: settings.n_baselines]
            values = np.full((len(baselines), n_frames, n_landmarks, n_coords), np.nan, np.float32)
            values[:, :, keep, :] = baselines
            baseline_values[e, : len(baselines)] = values
            start = time.perf_counter()
            for begin, end, batch_attr, batch_delta in iter_attributions(
                model, features, baselines, settings, landmarks=keep
            ):
                full = np.full((end - begin, n_frames, n_landmarks, n_coords), np.nan, np.float32)
                full[:, :, keep, :] = batch_attr
                attributions_array[e, begin:end] = full
                deltas[e, begin:end] = batch_delta
            timings[emotion] = time.perf_counter() - start
            per_sample[emotion] = timings[emotion] / max(n_samples, 1)
            log.info(
                "attributed %s over %d samples against %d baseline(s) in %.1f s",
                emotion,
                n_samples,
                len(baselines),
                timings[emotion],
            )
        scores = landmark_scores_from_store(
            staged, settings.aggregate, used, scheduler=settings.dask_scheduler
        )
        _named_array(root, "scores", scores.astype(np.float32), SCORE_DIMS)
        _named_array(root, "deltas", deltas, ("emotion", "sample"))
        _named_array(root, "used", used, ("emotion", "sample"))
        _named_array(root, "baselines", baseline_ids, ("emotion", "baseline"))
        _named_array(root, "emotion", np.asarray(emotions, dtype=str), ("emotion",))
        _named_array(root, "video_id", np.asarray(feature_set.video_ids, dtype=str), ("sample",))
        _named_array(root, "sample", np.asarray(feature_set.video_ids, dtype=str), ("sample",))
        _named_array(root, "frame", np.arange(n_frames, dtype=np.int64), ("frame",))
        _named_array(root, "landmark", np.arange(n_landmarks, dtype=np.int64), ("landmark",))
        _named_array(root, "coord", np.asarray(COORD_NAMES[:n_coords], dtype=str), ("coord",))
        root.attrs.update(
            {
                "emoflow_store": "attributions",
                "iteration": iteration,
                "emotions": emotions,
                "dims": {
                    "attributions": list(ATTRIBUTION_DIMS),
                    "scores": list(SCORE_DIMS),
                    "deltas": ["emotion", "sample"],
                    "used": ["emotion", "sample"],
                    "baselines": ["emotion", "baseline"],
                    "baseline_values": ["emotion", "baseline", "frame", "landmark", "coord"],
                    "video_id": ["sample"],
                    "emotion": ["emotion"],
                    "sample": ["sample"],
                    "frame": ["frame"],
                    "landmark": ["landmark"],
                    "coord": ["coord"],
                },
                "settings": asdict(settings),
                "device": used_device,
                "seconds_per_emotion": timings,
                "seconds_per_sample": per_sample,
                "mean_abs_delta": {e: float(deltas[i].mean()) for i, e in enumerate(emotions)},
            }
        )
    return {"seconds_per_emotion": timings, "seconds_per_sample": per_sample}


def load_scores(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Emotion names and per-landmark scores ``(emotion, landmark)`` of an attribution store."""
    import zarr

    if not Path(path).exists():
        raise InputError(path, "attribution store does not exist")
    root: Any = zarr.open_group(str(path), mode="r")
    if root.attrs.get("emoflow_store") != "attributions":
        raise InputError(path, "not an emoflow attribution store")
    return list(root.attrs["emotions"]), np.asarray(root["scores"][...], dtype=np.float64)


def read_attributions(
    path: str | Path,
    *,
    emotion: str | None = None,
    landmarks: np.ndarray | list[int] | None = None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Read (part of) a store's ``attributions`` and the names of the returned dimensions.

    Parameters
    ----------
    emotion
        One emotion's slice (its dimension is dropped); all emotions when ``None``.
    landmarks
        Landmark ids to read (a chunk column each); all when ``None``.
    """
    import zarr

    if not Path(path).exists():
        raise InputError(path, "attribution store does not exist")
    root: Any = zarr.open_group(str(path), mode="r")
    if root.attrs.get("emoflow_store") != "attributions":
        raise InputError(path, "not an emoflow attribution store")
    array = root["attributions"]
    dims = tuple(root.attrs["dims"]["attributions"])
    emotion_index: Any = slice(None)
    if emotion is not None:
        names = list(root.attrs["emotions"])
        if emotion not in names:
            raise DataError(f"{path}: no emotion {emotion!r} (has {names})")
        emotion_index = names.index(emotion)
        dims = dims[1:]
    if landmarks is None:
        return np.asarray(array[emotion_index]), dims
    ids = np.asarray(landmarks, dtype=np.int64)
    selection = (emotion_index, slice(None), slice(None), ids, slice(None))
    return np.asarray(array.oindex[selection]), dims

r"""Dataset-level Integrated Gradients with several typical baselines (Captum), stored in Zarr.

The improved IG of Di Luzio, Rosato & Panella (arXiv 2407.14865) replaces IG's single all-zero
reference with several *typical* samples and aggregates attributions over the whole data set.
For the binary model :math:`F_e` of emotion :math:`e`, a sample :math:`x` and baselines
:math:`b_1, …, b_K`:

.. math::

    A_e(x) = \frac{1}{K} \sum_{k=1}^{K} (x - b_k) \odot
             \int_0^1 \nabla F_e\big(b_k + \alpha (x - b_k)\big)\, d\alpha,

the integral taken by Gauss–Legendre quadrature with ``n_steps`` nodes (Captum's
``IntegratedGradients``). The relevance of landmark :math:`l` for emotion :math:`e` is

.. math::

    R_{e,l} = \frac{1}{|S|} \sum_{x \in S} \sum_{t,c} \phi\big(A_e(x)_{t,l,c}\big),

with :math:`S` the whole data set (or its positive samples), :math:`t` frames, :math:`c`
coordinates and :math:`\phi = |\cdot|` (``mean_abs``), the identity (``signed_mean``), or the
root of the sum of squares over :math:`t, c` (``l2``). The completeness gap
:math:`|\sum A_e(x) - (F_e(x) - \frac1K\sum_k F_e(b_k))|` is recorded per sample as the
convergence delta.

Baselines (``baseline``): ``negative_medoids`` — k-medoids of the samples of the other
emotions (the "typical" non-:math:`e` samples, the default); ``neutral`` — the k samples with
the least motion (or of a ``neutral`` label when present); ``mean`` — the data set's mean
sample; ``zero`` — the all-zero input (vanilla IG). For comparison, ``method`` can also be
``smoothgrad_ig`` (IG under Captum's NoiseTunnel) or ``gradient_shap``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from emoflow._atomic import atomic_path
from emoflow.errors import ConfigError, InputError
from emoflow.features import load_features
from emoflow.training import read_landmark_sets

log = logging.getLogger(__name__)

ATTRIBUTION_DIMS = ("emotion", "sample", "frame", "landmark", "coord")
SCORE_DIMS = ("emotion", "landmark")
Baseline = Literal["negative_medoids", "neutral", "mean", "zero"]
Method = Literal["integrated_gradients", "smoothgrad_ig", "gradient_shap"]
Aggregate = Literal["mean_abs", "signed_mean", "l2"]


@dataclass(frozen=True)
class AttributionSettings:
    """Settings of the attribution stage (see the module docstring for the formula)."""

    method: Method = "integrated_gradients"
    baseline: Baseline = "negative_medoids"
    n_baselines: int = 5
    n_steps: int = 32
    quadrature: Literal["gausslegendre", "riemann_trapezoid"] = "gausslegendre"
    aggregate: Aggregate = "mean_abs"
    samples: Literal["positive", "all"] = "positive"
    batch_size: int = 64
    internal_batch_size: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        allowed = {
            "method": ("integrated_gradients", "smoothgrad_ig", "gradient_shap"),
            "baseline": ("negative_medoids", "neutral", "mean", "zero"),
            "aggregate": ("mean_abs", "signed_mean", "l2"),
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
def k_medoids(points: np.ndarray, k: int, *, seed: int = 0, n_iter: int = 20) -> np.ndarray:
    """Indices of ``k`` medoids of ``points`` ``(n, d)`` (k-means++ start, Voronoi iteration)."""
    n = len(points)
    if k >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    squared = (points**2).sum(axis=1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2 * points @ points.T, 0))
    medoids = [int(rng.integers(n))]
    for _ in range(k - 1):
        nearest = distances[:, medoids].min(axis=1)
        weights = nearest**2
        medoids.append(int(rng.choice(n, p=weights / weights.sum())))
    medoid_array = np.array(medoids)
    for _ in range(n_iter):
        assignment = np.argmin(distances[:, medoid_array], axis=1)
        updated = medoid_array.copy()
        for cluster in range(k):
            members = np.flatnonzero(assignment == cluster)
            if len(members):
                within = distances[np.ix_(members, members)].sum(axis=1)
                updated[cluster] = members[np.argmin(within)]
        if np.array_equal(np.sort(updated), np.sort(medoid_array)):
            break
        medoid_array = updated
    return np.sort(medoid_array)


def select_baselines(
    inputs: np.ndarray,
    labels: np.ndarray,
    *,
    kind: Baseline = "negative_medoids",
    k: int = 5,
    seed: int = 0,
    neutral_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Reference inputs for IG, shape ``(k', *sample_shape)`` with ``k' ≤ k``.

    Parameters
    ----------
    inputs
        Shape ``(n_samples, *sample_shape)``.
    labels
        0/1 labels of the emotion being explained.
    kind
        See the module docstring.
    k
        Number of baselines.
    neutral_mask
        Samples labelled neutral, if the data set has them (used by ``neutral``).
    """
    if kind == "zero":
        return np.zeros((1, *inputs.shape[1:]), dtype=inputs.dtype)
    if kind == "mean":
        return inputs.mean(axis=0, keepdims=True)
    flat = inputs.reshape(len(inputs), -1).astype(np.float64)
    if kind == "negative_medoids":
        candidates = np.flatnonzero(np.asarray(labels) == 0)
        chosen = candidates[k_medoids(flat[candidates], k, seed=seed)]
    else:  # neutral
        if neutral_mask is not None and neutral_mask.any():
            candidates = np.flatnonzero(neutral_mask)
            chosen = candidates[k_medoids(flat[candidates], k, seed=seed)]
        else:
            chosen = np.argsort(np.linalg.norm(flat, axis=1), kind="stable")[:k]
    return inputs[np.sort(chosen)]


# -- attribution -----------------------------------------------------------------------------
def attribute_samples(
    model: Any,
    inputs: Any,
    baselines: Any,
    settings: AttributionSettings,
) -> tuple[Any, Any]:
    """Attributions of ``inputs`` averaged over ``baselines``, and convergence deltas.

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
    from captum.attr import GradientShap, IntegratedGradients, NoiseTunnel

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
        return attributions, deltas.reshape(len(inputs), -1).abs().mean(dim=1)
    ig = IntegratedGradients(model)
    total = torch.zeros_like(inputs)
    delta_total = torch.zeros(len(inputs), dtype=inputs.dtype, device=inputs.device)
    for baseline in baselines:
        reference = baseline.unsqueeze(0)  # (1, *sample_shape), broadcast over the batch
        if settings.method == "smoothgrad_ig":
            tunnel = NoiseTunnel(ig)
            attributions = tunnel.attribute(
                inputs,
                nt_type="smoothgrad",
                nt_samples=8,
                stdevs=float(inputs.std()) * 0.1,
                baselines=reference,
                n_steps=settings.n_steps,
                method=settings.quadrature,
                internal_batch_size=settings.internal_batch_size,
            )
            with torch.no_grad():
                gap = attributions.reshape(len(inputs), -1).sum(1) - (
                    model(inputs) - model(reference).expand(len(inputs))
                )
        else:
            attributions, gap = ig.attribute(
                inputs,
                baselines=reference,
                n_steps=settings.n_steps,
                method=settings.quadrature,
                internal_batch_size=settings.internal_batch_size,
                return_convergence_delta=True,
            )
        total += attributions.detach()
        delta_total += gap.detach().abs().to(inputs.dtype)
    return total / len(baselines), delta_total / len(baselines)


def reduce_to_landmarks(attributions: np.ndarray, aggregate: Aggregate) -> np.ndarray:
    """Per-sample landmark scores ``(n, n_landmarks)`` from ``(n, frames, landmarks, coords)``."""
    if aggregate == "mean_abs":
        return np.abs(attributions).sum(axis=(1, 3))
    if aggregate == "signed_mean":
        return attributions.sum(axis=(1, 3))
    return np.sqrt((attributions**2).sum(axis=(1, 3)))


def landmark_scores_from_store(
    store_path: str | Path, aggregate: Aggregate, sample_masks: np.ndarray | None = None
) -> np.ndarray:
    """Aggregate a stored attribution array to ``(emotion, landmark)`` scores with dask.

    The ``attributions`` array ``(emotion, sample, frame, landmark, coord)`` is read chunk by
    chunk, so the store may be larger than memory. Landmarks outside an emotion's set (NaN in
    the store) get NaN.

    Parameters
    ----------
    sample_masks
        Optional ``(emotion, sample)`` booleans: which samples count for each emotion.
    """
    import dask.array as da
    import zarr

    array = zarr.open_array(str(Path(store_path) / "attributions"), mode="r")
    attributions = da.from_zarr(array)
    excluded = da.isnan(attributions).all(axis=(1, 2, 4))  # (emotion, landmark)
    filled = da.nan_to_num(attributions)
    if aggregate == "mean_abs":
        per_sample = da.abs(filled).sum(axis=(2, 4))
    elif aggregate == "signed_mean":
        per_sample = filled.sum(axis=(2, 4))
    else:
        per_sample = da.sqrt((filled**2).sum(axis=(2, 4)))  # (emotion, sample, landmark)
    if sample_masks is None:
        scores = per_sample.mean(axis=1)
    else:
        weights = da.from_array(sample_masks.astype(np.float64))[:, :, None]
        scores = (per_sample * weights).sum(axis=1) / weights.sum(axis=1)
    scores = da.where(excluded, np.nan, scores)
    return np.asarray(scores.compute(), dtype=np.float64)


def attribute_iteration(
    features_path: str | Path,
    landmark_set_path: str | Path,
    model_dir: str | Path,
    out_path: str | Path,
    *,
    settings: AttributionSettings | None = None,
    device: str = "auto",
    iteration: int = 0,
) -> dict[str, Any]:
    """Attribute every emotion's model over the whole data set and write the Zarr store.

    The store holds ``attributions`` ``(emotion, sample, frame, landmark, coord)`` (NaN for
    landmarks outside an emotion's set), ``scores`` ``(emotion, landmark)``, ``deltas``
    ``(emotion, sample)``, ``baselines`` (indices of the samples used, ``(emotion, k)``, −1 where
    a baseline is not a sample), the sample ids, and the settings in the root attributes.
    """
    import torch
    import zarr

    from emoflow.models import load_model

    settings = settings or AttributionSettings()
    feature_set = load_features(features_path)
    emotions = feature_set.emotion_names
    landmark_sets = read_landmark_sets(landmark_set_path, emotions)
    n_samples, n_frames, n_landmarks, n_coords = feature_set.features.shape
    neutral_mask = feature_set.emotions == "neutral"
    timings: dict[str, float] = {}
    with atomic_path(out_path, directory=True) as staged:
        root = zarr.open_group(str(staged), mode="w")
        attributions_array = root.create_array(
            "attributions",
            shape=(len(emotions), n_samples, n_frames, n_landmarks, n_coords),
            dtype="float32",
            chunks=(1, min(n_samples, settings.batch_size), n_frames, n_landmarks, n_coords),
            fill_value=np.nan,
            dimension_names=ATTRIBUTION_DIMS,
        )
        attributions_array.attrs["dims"] = list(ATTRIBUTION_DIMS)
        deltas = np.zeros((len(emotions), n_samples), dtype=np.float32)
        baseline_ids = np.full((len(emotions), settings.n_baselines), -1, dtype=np.int64)
        for e, emotion in enumerate(emotions):
            model_path = Path(model_dir) / f"{emotion}.pt"
            model, metadata = load_model(model_path, device=device)
            keep = landmark_sets[emotion]
            if list(metadata["landmarks"]) != keep.tolist():
                raise InputError(
                    model_path, "model landmarks do not match the iteration's landmark set"
                )
            model.eval()
            inputs = feature_set.features[:, :, keep, :]
            labels = feature_set.labels_for(emotion)
            baselines = select_baselines(
                inputs,
                labels,
                kind=settings.baseline,
                k=settings.n_baselines,
                seed=settings.seed,
                neutral_mask=neutral_mask,
            )
            matches = [
                np.flatnonzero((inputs == b).all(axis=tuple(range(1, inputs.ndim))))
                for b in baselines
            ]
            for slot, match in enumerate(matches[: settings.n_baselines]):
                baseline_ids[e, slot] = int(match[0]) if len(match) else -1
            baselines_t = torch.as_tensor(baselines, dtype=torch.float32, device=model.device)
            start = time.perf_counter()
            for begin in range(0, n_samples, settings.batch_size):
                end = min(begin + settings.batch_size, n_samples)
                batch = torch.as_tensor(inputs[begin:end], dtype=torch.float32, device=model.device)
                batch_attr, batch_delta = attribute_samples(model, batch, baselines_t, settings)
                full = np.full((end - begin, n_frames, n_landmarks, n_coords), np.nan, np.float32)
                full[:, :, keep, :] = batch_attr.cpu().numpy()
                attributions_array[e, begin:end] = full
                deltas[e, begin:end] = batch_delta.cpu().numpy()
            timings[emotion] = time.perf_counter() - start
            log.info(
                "attributed %s over %d samples in %.1f s", emotion, n_samples, timings[emotion]
            )
        sample_masks = None
        if settings.samples == "positive":
            sample_masks = np.stack([feature_set.labels_for(e).astype(bool) for e in emotions])
        scores = landmark_scores_from_store(staged, settings.aggregate, sample_masks)
        score_array = root.create_array(
            "scores", shape=scores.shape, dtype="float32", dimension_names=SCORE_DIMS
        )
        score_array[...] = scores.astype(np.float32)
        score_array.attrs["dims"] = list(SCORE_DIMS)
        delta_array = root.create_array(
            "deltas", shape=deltas.shape, dtype="float32", dimension_names=("emotion", "sample")
        )
        delta_array[...] = deltas
        delta_array.attrs["dims"] = ["emotion", "sample"]
        baseline_array = root.create_array(
            "baselines",
            shape=baseline_ids.shape,
            dtype="int64",
            dimension_names=("emotion", "baseline"),
        )
        baseline_array[...] = baseline_ids
        baseline_array.attrs["dims"] = ["emotion", "baseline"]
        ids = root.create_array(
            "video_id", shape=(n_samples,), dtype=str, dimension_names=("sample",)
        )
        ids[...] = feature_set.video_ids
        ids.attrs["dims"] = ["sample"]
        root.attrs.update(
            {
                "emoflow_store": "attributions",
                "iteration": iteration,
                "emotions": emotions,
                "dims": {
                    "attributions": list(ATTRIBUTION_DIMS),
                    "scores": list(SCORE_DIMS),
                    "deltas": ["emotion", "sample"],
                    "baselines": ["emotion", "baseline"],
                    "video_id": ["sample"],
                },
                "settings": asdict(settings),
                "seconds_per_emotion": timings,
                "mean_abs_delta": {e: float(deltas[i].mean()) for i, e in enumerate(emotions)},
            }
        )
    return {"seconds_per_emotion": timings}


def load_scores(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Emotion names and per-landmark scores ``(emotion, landmark)`` of an attribution store."""
    import zarr

    if not Path(path).exists():
        raise InputError(path, "attribution store does not exist")
    root = zarr.open_group(str(path), mode="r")
    if root.attrs.get("emoflow_store") != "attributions":
        raise InputError(path, "not an emoflow attribution store")
    return list(root.attrs["emotions"]), np.asarray(root["scores"][...], dtype=np.float64)

"""Attribution of a model over many samples: batch by batch, with bounded memory."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from emoflow.attribution.baselines import choose_baselines
from emoflow.attribution.methods import ATTRIBUTION_METHODS
from emoflow.attribution.relevance import aggregation
from emoflow.attribution.settings import AttributionSettings
from emoflow.errors import DataError


def settings_baselines(
    inputs: Any,
    labels: np.ndarray,
    settings: AttributionSettings,
    neutral_mask: np.ndarray | None,
    landmarks: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~emoflow.attribution.baselines.choose_baselines` with the kind, number and seed of
    ``settings``."""
    return choose_baselines(
        inputs,
        labels,
        kind=settings.baseline,
        k=settings.n_baselines,
        seed=settings.seed,
        neutral_mask=neutral_mask,
        landmarks=landmarks,
    )


def attribute_samples(
    model: Any,
    inputs: Any,
    baselines: Any,
    settings: AttributionSettings,
) -> tuple[Any, Any]:
    """Attributions ``(n, *sample_shape)`` of ``inputs`` averaged over ``baselines``, and
    convergence deltas ``(n,)``, by the method of ``settings.method``.

    See :meth:`emoflow.attribution.AttributionMethod.attribute` (every (sample, baseline) pair,
    in passes of at most ``settings.internal_batch_size`` rows, so memory is bounded).
    """
    method = ATTRIBUTION_METHODS[settings.method](
        model,
        n_steps=settings.n_steps,
        quadrature=settings.quadrature,
        internal_batch_size=settings.internal_batch_size,
    )
    return method.attribute(inputs, baselines)


def iter_attributions(
    model: Any,
    inputs: Any,
    baselines: np.ndarray,
    settings: AttributionSettings,
    *,
    landmarks: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """Attribute ``inputs`` batch by batch: yields ``(begin, end, attributions, deltas)``,
    ``begin:end`` counting the attributed samples (the positions ``rows[begin:end]``).

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
    rows
        Positions of the samples to attribute (read lazily, a batch at a time); all when
        ``None``.
    """
    import torch

    if rows is not None:
        inputs = _Rows(inputs, np.asarray(rows, dtype=np.int64))

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
    formula = aggregation(settings.aggregate)
    labels = np.asarray(labels)
    chosen = labels.astype(bool) if settings.samples == "positive" else np.ones(len(labels), bool)
    baselines, _ = settings_baselines(inputs, labels, settings, neutral_mask, landmarks)
    index = np.flatnonzero(chosen)
    total: np.ndarray | None = None
    deltas = np.zeros(len(index), dtype=np.float64)
    start = time.perf_counter()
    for begin, end, attributions, batch_deltas in iter_attributions(
        model, inputs, baselines, settings, landmarks=landmarks, rows=index
    ):
        part = formula.per_sample(attributions.astype(np.float64)).sum(axis=0)
        total = part if total is None else total + part
        deltas[begin:end] = batch_deltas
    seconds = time.perf_counter() - start
    if total is None:
        raise DataError("no samples to attribute")
    return {
        "scores": formula.finish(total / len(index)),
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

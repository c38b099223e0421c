r"""The relevance formula: attributions → one score per landmark (and emotion).

Every aggregation is written once, as two steps around the mean over the samples :math:`S`:

.. math::

    R_{e,l} = \mathrm{finish}\Big( \frac{1}{|S|} \sum_{x \in S} \mathrm{per\_sample}(A_e(x))
    \Big)_l

- ``abs_mean``: ``per_sample`` keeps :math:`A`, ``finish`` takes :math:`\sum_{t,c} |\cdot|`;
- ``mean_abs``: ``per_sample`` takes :math:`\sum_{t,c} |A|`, ``finish`` keeps;
- ``signed_mean``: ``per_sample`` takes :math:`\sum_{t,c} A`, ``finish`` keeps;
- ``l2``: ``per_sample`` takes :math:`(\sum_{t,c} A^2)^{1/2}`, ``finish`` keeps.

Both steps reduce the frame and coordinate axes counted from the end (``-3`` and ``-1``), so
the same two functions serve NumPy arrays ``(n, frame, landmark, coord)``, the running sums of
:func:`emoflow.attribution.dataset_relevance` and the dask arrays ``(emotion, sample, frame,
landmark, coord)`` of the attribution store. Adding an aggregation is one registry line in
:data:`AGGREGATIONS` (plus its schema enum and config comment).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from emoflow.errors import ConfigError

_FRAME_AND_COORD = (-3, -1)
"""Axes of frames and coordinates, counted from the end of ``(…, frame, landmark, coord)``."""


def _keep(values: Any) -> Any:
    return values


def _abs_sum(values: Any) -> Any:
    return np.abs(values).sum(axis=_FRAME_AND_COORD)


def _sum(values: Any) -> Any:
    return values.sum(axis=_FRAME_AND_COORD)


def _l2(values: Any) -> Any:
    return np.sqrt((values**2).sum(axis=_FRAME_AND_COORD))


@dataclass(frozen=True)
class Aggregation:
    """One relevance formula: ``finish(mean over samples of per_sample(A))``.

    ``per_sample`` and ``finish`` take NumPy or dask arrays whose last three axes are
    ``(frame, landmark, coord)``; each either keeps its input or reduces frames and coordinates.
    """

    per_sample: Callable[[Any], Any]
    finish: Callable[[Any], Any]

    def landmarks(self, values: Any) -> Any:
        """One sample's (or each sample's) landmark scores: ``finish(per_sample(A))``."""
        return self.finish(self.per_sample(values))


AGGREGATIONS: dict[str, Aggregation] = {
    "abs_mean": Aggregation(per_sample=_keep, finish=_abs_sum),
    "mean_abs": Aggregation(per_sample=_abs_sum, finish=_keep),
    "signed_mean": Aggregation(per_sample=_sum, finish=_keep),
    "l2": Aggregation(per_sample=_l2, finish=_keep),
}
"""Aggregation name (``attribution.aggregate``) → its formula."""


def aggregation(name: str) -> Aggregation:
    """The registered aggregation ``name`` (a :class:`ConfigError` names the allowed ones)."""
    try:
        return AGGREGATIONS[name]
    except KeyError:
        raise ConfigError(
            f"attribution.aggregate must be one of {', '.join(AGGREGATIONS)}, got {name!r}"
        ) from None


def reduce_to_landmarks(attributions: np.ndarray, aggregate: str) -> np.ndarray:
    """Per-sample landmark scores ``(n, n_landmarks)`` from ``(n, frames, landmarks, coords)``.

    ``abs_mean`` of a single sample is its ``mean_abs``; over several samples use
    :func:`landmark_scores`, which averages before taking magnitudes.
    """
    return aggregation(aggregate).landmarks(attributions)


def landmark_scores(
    attributions: np.ndarray, aggregate: str, sample_mask: np.ndarray | None = None
) -> np.ndarray:
    """Relevance ``(n_landmarks,)`` of one emotion from ``(n, frames, landmarks, coords)``.

    The in-memory twin of :func:`emoflow.attribution.run.landmark_scores_from_store`.
    """
    formula = aggregation(aggregate)
    values = np.asarray(attributions, dtype=np.float64)
    if sample_mask is not None:
        values = values[np.asarray(sample_mask, dtype=bool)]
    return formula.finish(formula.per_sample(values).mean(axis=0))


def weighted_landmark_scores(
    attributions: Any, weights: Any, counts: np.ndarray, aggregate: str
) -> Any:
    """Relevance ``(emotion, landmark)`` from ``(emotion, sample, frame, landmark, coord)``.

    Parameters
    ----------
    attributions
        NumPy or dask array, no NaN.
    weights
        ``(emotion, sample)``: 1 for the samples that count for the emotion, else 0.
    counts
        ``(emotion,)``: how many samples count (at least 1).
    """
    formula = aggregation(aggregate)
    per_sample = formula.per_sample(attributions)  # (emotion, sample, [frame,] landmark[, coord])
    trailing = (None,) * (per_sample.ndim - 2)
    total = (per_sample * weights[(slice(None), slice(None), *trailing)]).sum(axis=1)
    return formula.finish(total / counts[(slice(None), *trailing)])

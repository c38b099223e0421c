"""Timing a model (:func:`time_inference`). Folds and metrics live in :mod:`emoflow.metrics`
(light: no torch, so the gather and the report use them too); :mod:`emoflow.models` exports
them beside this."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from emoflow.models._base import BaseModel

__all__ = ["TIMING_SAMPLES", "time_inference"]


TIMING_SAMPLES = 256
"""Samples :func:`time_inference` times a model on (the first ones; all where fewer): a fixed
batch, so the cost per sample is the model's, not the data set's size, and timing a model of
a large training job costs six passes over 256 samples, not over every development sample."""


def time_inference(model: BaseModel, inputs: np.ndarray, *, repeats: int = 5) -> float:
    """Seconds per sample of ``model.decision_function`` on the first :data:`TIMING_SAMPLES`
    samples of ``inputs``: the fastest of ``repeats`` runs.

    The minimum, not the median, because other processes on a shared machine only ever add
    time; the fastest run is the model's own cost. Five runs after a warm-up: on the demo's
    models the minimum of five was within 2 % of the minimum of fifteen in 15 of 18 trials
    (at most 10 % above, for the smallest model), and the ten runs saved are ~4 % of the CPU
    of a demo training job, which times its model once.
    """
    batch = inputs[:TIMING_SAMPLES]
    model.decision_function(batch)  # warm-up: first-call allocations are not the model's cost
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.decision_function(batch)
        timings.append(time.perf_counter() - start)
    return float(np.min(timings)) / max(len(batch), 1)

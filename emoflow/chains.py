"""One step of an emotion's pruning chain: train its model on its landmark set, then attribute it.

The workflow runs one job per emotion and iteration (``train_models``). Training and
attribution share the job because each job pays for starting Python and importing torch
(2–4 s of CPU here, as much as the work of a small data set): one job per step instead of two
halves that cost (measured on the demo, issue 12). Their outputs stay separate files, each
written by its owner (:mod:`emoflow.training`, :mod:`emoflow.attribution`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emoflow.attribution import attribute_emotion
from emoflow.training import train_emotion

__all__ = ["train_and_attribute"]


def train_and_attribute(
    features_path: str | Path,
    landmark_set_path: str | Path,
    emotion: str,
    *,
    model_path: str | Path,
    metrics_path: str | Path,
    scores_path: str | Path,
    attributions_path: str | Path,
    train: Mapping[str, Any] | None = None,
    attribution: Mapping[str, Any] | None = None,
    runtime: Any = None,
    iteration: int = 0,
    threads: int | None = None,
) -> dict[str, Any]:
    """Train one emotion's model of one iteration and write its attribution store.

    Parameters
    ----------
    train
        The ``train`` config section (:func:`emoflow.training.train_emotion`); its ``device``
        is the attribution's too.
    attribution, runtime
        The ``attribution`` section without its run-time knobs, and where those are
        (:func:`emoflow.attribution.attribute_emotion`).

    Returns
    -------
    dict
        The emotion's metrics record.
    """
    metrics = train_emotion(
        features_path,
        landmark_set_path,
        emotion,
        model_path,
        metrics_path,
        scores_path,
        train=train,
        iteration=iteration,
        threads=threads,
    )
    attribute_emotion(
        features_path,
        landmark_set_path,
        model_path,
        attributions_path,
        emotion=emotion,
        settings=attribution,
        runtime=runtime,
        device=str((train or {}).get("device", "auto")),
        iteration=iteration,
        metrics_path=metrics_path,
    )
    return metrics

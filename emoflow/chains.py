"""One step of an emotion's pruning chain: train its model on its landmark set, then attribute it.

The workflow runs one job per emotion and iteration (``train_models``). Training and
attribution share the job because each job pays for starting Python and importing torch
(2–4 s of CPU here, as much as the work of a small data set): one job per step instead of two
halves that cost (measured on the demo, issue 12). Their outputs stay separate files, each
written by its owner (:mod:`emoflow.training`, :mod:`emoflow.attribution`).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emoflow._atomic import atomic_path
from emoflow.attribution import attribute_emotion
from emoflow.landmark_sets import read_landmark_record
from emoflow.training import read_metrics, train_emotion, write_metrics

__all__ = ["PREVIOUS_OUTPUTS", "train_and_attribute"]

log = logging.getLogger(__name__)

PREVIOUS_OUTPUTS = ("model", "metrics", "scores", "attributions")
"""The outputs of an emotion's previous iteration that a stopped chain carries forward."""


def _carry_forward(
    previous: Mapping[str, str | Path], outputs: Mapping[str, str | Path], iteration: int
) -> dict[str, Any]:
    """Copy the previous iteration's outputs (its metrics re-labelled with ``iteration``)."""
    metrics = read_metrics(previous["metrics"])
    metrics["iteration"] = iteration
    for name in ("model", "scores"):
        with atomic_path(outputs[name]) as staged:
            shutil.copyfile(previous[name], staged)
    with atomic_path(outputs["attributions"], directory=True) as staged:
        shutil.copytree(previous["attributions"], staged, dirs_exist_ok=True)
    write_metrics(outputs["metrics"], metrics)
    return metrics


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
    previous: Mapping[str, str | Path] | None = None,
) -> dict[str, Any]:
    """Train one emotion's model of one iteration and write its attribution store.

    An emotion whose pruning has stopped (``prune.stop_tolerance``: its ``landmarks.json``
    says ``stopped``) keeps the previous iteration's set, so its chain ends: given the
    ``previous`` iteration's outputs (:data:`PREVIOUS_OUTPUTS`), they are carried forward
    instead of trained again (the same numbers, without the work).

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
    stopped = read_landmark_record(landmark_set_path).get("stopped", {}).get(emotion, False)
    if stopped and previous:
        log.info(
            "%s: pruning stopped; iteration %d carries the last model forward", emotion, iteration
        )
        outputs = {
            "model": model_path,
            "metrics": metrics_path,
            "scores": scores_path,
            "attributions": attributions_path,
        }
        return _carry_forward(previous, outputs, iteration)
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

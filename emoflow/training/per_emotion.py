"""The training of one emotion of one iteration (:func:`train_emotion`), and of every emotion
as a loop over it (:func:`train_iteration`).

The workflow runs one emotion per job, so the emotions' pruning chains run side by side, and
combines each iteration's emotions with :func:`~emoflow.training.gather_iteration`;
:func:`train_iteration` does the same in one process and writes the same files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emoflow.devices import limit_threads
from emoflow.errors import DataError
from emoflow.layout import ResultsLayout
from emoflow.storage.landmark_sets import (
    read_landmark_record,
    read_landmark_sets,
    write_landmark_sets,
)
from emoflow.storage.metrics import write_metrics, write_scores
from emoflow.training.gather import gather_results
from emoflow.training.iteration import Protocol, fit_emotion, training_protocol

__all__ = ["train_emotion", "train_iteration"]


def train_emotion(
    features_path: str | Path,
    landmark_set_path: str | Path,
    emotion: str,
    model_path: str | Path,
    metrics_path: str | Path,
    scores_path: str | Path,
    *,
    train: Mapping[str, Any] | None = None,
    iteration: int = 0,
    threads: int | None = None,
    protocol: Protocol | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Train one emotion of one iteration (:func:`~emoflow.training.fit_emotion`) and write
    its model, metrics and scores.

    The emotion's ``metrics.json`` has the iteration's header and one emotion under
    ``emotions``; its ``scores.parquet`` holds the out-of-fold scores of the development
    samples (``fold`` ≥ 0) and the held-out test samples' scores (``fold`` −1).
    :func:`~emoflow.training.gather_iteration` combines every emotion into the iteration's
    files.

    Parameters
    ----------
    landmark_set_path
        The emotion's ``landmarks.json`` of this iteration.
    model_path
        The model file to write.
    train
        The whole ``train`` config section (as the workflow passes it); ``options`` (the
        keywords of :func:`~emoflow.training.training_protocol`) override its values.
    threads
        Torch threads of the job (:func:`emoflow.devices.limit_threads`).
    protocol
        The split's protocol (:func:`~emoflow.training.training_protocol`, built from the
        same store and settings), shared by the job's emotions and iterations; ``None``
        builds it here.
    """
    limit_threads(threads)
    if protocol is None:
        protocol = training_protocol(features_path, train, iteration=iteration, **options)
    else:
        protocol = dataclasses.replace(protocol, iteration=iteration)
    if emotion not in protocol.development.emotion_names:
        raise DataError(
            f"{features_path}: no emotion {emotion!r} (the store has "
            f"{', '.join(protocol.development.emotion_names)})"
        )
    keep = np.asarray(read_landmark_sets(landmark_set_path, [emotion])[emotion], dtype=np.int64)
    result = fit_emotion(protocol, emotion, keep, model_path)
    metrics = {**protocol.header(), "emotions": {emotion: result.record}}
    split = protocol.split()
    if split is not None:
        metrics["split"] = split
    development, test_set = protocol.development, protocol.test_set
    empty = np.zeros(0)
    write_scores(
        scores_path,
        video_ids=np.concatenate([development.video_ids, test_set.video_ids]),
        subjects=np.concatenate([development.subjects, test_set.subjects]),
        emotions=np.concatenate([development.emotions, test_set.emotions]),
        folds=np.concatenate([protocol.fold_of_sample, np.full(len(test_set.video_ids), -1)]),
        models=np.asarray([emotion]),
        scores=np.concatenate(
            [result.oof_scores, empty if result.test_scores is None else result.test_scores]
        )[:, None],
        probabilities=np.concatenate(
            [
                result.oof_probabilities,
                empty if result.test_probabilities is None else result.test_probabilities,
            ]
        )[:, None],
    )
    write_metrics(metrics_path, metrics)
    return metrics


def train_iteration(
    features_path: str | Path,
    landmark_set_path: str | Path,
    results: str | Path,
    *,
    iteration: int = 0,
    **options: Any,
) -> dict[str, Any]:
    """Train every emotion of one iteration in one process into the results folder
    ``results`` as the workflow lays it out (:class:`~emoflow.layout.ResultsLayout`): each
    emotion's ``landmarks.json`` (its ids in ``landmark_set_path``), ``model.pt``,
    ``metrics.json`` and ``scores.parquet`` in ``iter_{i}/{emotion}/`` (:func:`train_emotion`),
    gathered into ``iter_{i}/`` (:func:`~emoflow.training.gather_iteration`, whose metrics it
    returns). ``options`` are the keywords of :func:`~emoflow.training.training_protocol`
    (``network``, ``n_folds``, ``seed``, ``device``, ``backprop``, ``selection``,
    ``calibration``, ``test_subjects``).
    """
    layout = ResultsLayout(Path(results))
    protocol = training_protocol(features_path, iteration=iteration, **options)
    emotions = protocol.development.emotion_names
    read_landmark_sets(landmark_set_path, emotions)  # every emotion's set, before any training
    record = read_landmark_record(landmark_set_path)
    for emotion in emotions:
        # the emotion's own record, as its chain writes it
        own = {
            key: {e: v for e, v in value.items() if e == emotion}
            if isinstance(value, dict)
            else value
            for key, value in record.items()
        }
        write_landmark_sets(layout.landmark_sets(iteration, emotion), own.pop("emotions"), **own)
        train_emotion(
            features_path,
            layout.landmark_sets(iteration, emotion),
            emotion,
            layout.model(iteration, emotion),
            layout.metrics(iteration, emotion),
            layout.scores(iteration, emotion),
            iteration=iteration,
            protocol=protocol,
        )
    return gather_results(layout, iteration, emotions)

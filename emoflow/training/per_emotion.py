"""One emotion of one iteration per job, and the gather that combines them.

The workflow runs the protocol of :func:`~emoflow.training.train_iteration` one emotion per
job (:func:`train_emotion`), so the emotions' pruning chains run side by side, and combines
each iteration's emotions with :func:`gather_iteration`; the files are identical to
:func:`~emoflow.training.train_iteration`'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emoflow.devices import limit_threads
from emoflow.errors import ConfigError, DataError
from emoflow.landmark_sets import read_landmark_sets
from emoflow.training.iteration import _Protocol, _protocol, _train_emotion
from emoflow.training.outputs import write_metrics, write_scores

__all__ = ["section_options", "train_emotion", "training_protocol"]


_SECTION_OPTIONS = {
    "model": "network",
    "n_folds": "n_folds",
    "test_subjects": "test_subjects",
    "seed": "seed",
    "device": "device",
    "backprop": "backprop",
    "selection": "selection",
    "calibration": "calibration",
}
"""``train`` config section key → keyword of :func:`train_iteration` / :func:`train_emotion`."""


def section_options(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keywords of :func:`train_emotion` from the whole ``train`` config section."""
    section = dict(section or {})
    if unknown := sorted(set(section) - set(_SECTION_OPTIONS)):
        raise ConfigError(
            f"train: unknown key(s) {', '.join(unknown)}; allowed keys here: "
            f"{', '.join(_SECTION_OPTIONS)}"
        )
    return {_SECTION_OPTIONS[key]: value for key, value in section.items()}


def protocol_settings(train: Mapping[str, Any] | None, **options: Any) -> dict[str, Any]:
    """The keywords of :func:`train_iteration` from the ``train`` config section (its
    defaults where the section is silent), ``options`` overriding them."""
    return {
        "network": None,
        "n_folds": 4,
        "seed": 0,
        "device": "auto",
        "backprop": None,
        "selection": None,
        "calibration": "platt",
        "test_subjects": 0,
        **section_options(train),
        **options,
    }


def training_protocol(
    features_path: str | Path,
    train: Mapping[str, Any] | None = None,
    *,
    iteration: int = 0,
    **options: Any,
) -> _Protocol:
    """The protocol of one split (:func:`train_emotion`'s ``protocol``): the feature store
    read once, its development and test samples, folds and settings.

    A job that trains several emotions or iterations of one split builds it once and passes
    it to every :func:`train_emotion`: the store is read once, and emotions trained on the same
    landmarks share the development kernel (:class:`emoflow.models.SharedProducts`).
    ``options`` (e.g. ``outer_fold``) override the ``train`` section's values.
    """
    return _protocol(features_path, iteration=iteration, **protocol_settings(train, **options))


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
    protocol: _Protocol | None = None,
    **options: Any,
) -> dict[str, Any]:
    """One emotion's share of :func:`train_iteration`: its model, metrics and scores.

    The emotion's ``metrics.json`` has the iteration's header and one emotion under
    ``emotions``; its ``scores.parquet`` holds the out-of-fold scores of the development
    samples (``fold`` ≥ 0) and the held-out test samples' scores (``fold`` −1).
    :func:`gather_iteration` combines every emotion into the iteration's files.

    Parameters
    ----------
    landmark_set_path
        The emotion's ``landmarks.json`` of this iteration.
    model_path
        The model file to write.
    train
        The whole ``train`` config section (as the workflow passes it); ``options`` (the
        keywords of :func:`train_iteration`) override its values.
    threads
        Torch threads of the job (:func:`emoflow.devices.limit_threads`).
    protocol
        The split's protocol (:func:`training_protocol`, built from the same store and
        settings), shared by the job's emotions and iterations; ``None`` builds it here.
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
    result = _train_emotion(protocol, emotion, keep, Path(model_path))
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

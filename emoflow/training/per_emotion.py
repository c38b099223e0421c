"""One emotion of one iteration per job, and the gather that combines them.

The workflow runs the protocol of :func:`~emoflow.training.train_iteration` one emotion per
job (:func:`train_emotion`), so the emotions' pruning chains run side by side, and combines
each iteration's emotions with :func:`gather_iteration`; the files are identical to
:func:`~emoflow.training.train_iteration`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow.devices import limit_threads
from emoflow.errors import ConfigError, DataError
from emoflow.landmark_sets import gather_landmark_sets, read_landmark_sets
from emoflow.training.iteration import _combine, _EmotionResult, _protocol, _train_emotion
from emoflow.training.outputs import read_metrics, read_scores, write_metrics, write_scores

__all__ = ["gather_iteration", "section_options", "train_emotion"]


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
    """
    limit_threads(threads)
    settings = {
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
    protocol = _protocol(features_path, iteration=iteration, **settings)
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


def gather_iteration(
    metrics_paths: Sequence[str | Path],
    scores_paths: Sequence[str | Path],
    metrics_path: str | Path,
    scores_path: str | Path,
    *,
    landmark_set_paths: Sequence[str | Path] = (),
    landmark_sets_path: str | Path | None = None,
) -> dict[str, Any]:
    """Combine the emotions of one iteration (:func:`train_emotion`) into its own files.

    Writes the iteration's ``metrics.json`` (every emotion, the calibrated combined prediction
    and its confusion matrices, validation and held-out test) and ``scores.parquet``, exactly
    as :func:`train_iteration` writes them.

    Parameters
    ----------
    metrics_paths, scores_paths
        Each emotion's ``metrics.json`` and ``scores.parquet``, in the order of the emotions.
    metrics_path, scores_path
        The iteration's files to write.
    landmark_set_paths, landmark_sets_path
        Each emotion's ``landmarks.json`` and the iteration's gathered one to write
        (:func:`emoflow.landmark_sets.gather_landmark_sets`); nothing when not given.
    """
    if len(metrics_paths) != len(scores_paths) or not metrics_paths:
        raise DataError(
            f"gather needs one metrics and one scores file per emotion, got "
            f"{len(metrics_paths)} and {len(scores_paths)}"
        )
    header: dict[str, Any] | None = None
    split: dict[str, Any] | None = None
    results: dict[str, _EmotionResult] = {}
    development = test = None
    for metrics_file, scores_file in zip(metrics_paths, scores_paths, strict=True):
        record = read_metrics(metrics_file)
        ((emotion, emotion_record),) = record["emotions"].items()
        own_header = {key: record[key] for key in record if key not in ("emotions", "split")}
        if header is None:
            header, split = own_header, record.get("split")
        elif own_header != header or record.get("split") != split:
            raise DataError(
                f"{metrics_file}: trained with other settings or samples than "
                f"{metrics_paths[0]}; re-run the iteration's training"
            )
        table = read_scores(scores_file)
        dev_rows, test_rows = table.filter(pl.col("fold") >= 0), table.filter(pl.col("fold") < 0)
        if development is None:
            development, test = dev_rows, test_rows
        elif not (
            development["video_id"].equals(dev_rows["video_id"])
            and test is not None
            and test["video_id"].equals(test_rows["video_id"])
        ):
            raise DataError(f"{scores_file}: other samples than {scores_paths[0]}")
        results[emotion] = _EmotionResult(
            emotion_record,
            dev_rows["score"].to_numpy(),
            dev_rows["probability"].to_numpy(),
            test_rows["score"].to_numpy() if split else None,
            test_rows["probability"].to_numpy() if split else None,
        )
    assert header is not None and development is not None and test is not None
    emotions = sorted(results)  # the feature store's order, as train_iteration writes them
    metrics, score_matrix, probability_matrix = _combine(
        header,
        split,
        emotions,
        results,
        development["emotion"].to_numpy(),
        test["emotion"].to_numpy(),
    )
    write_scores(
        scores_path,
        video_ids=development["video_id"].to_numpy(),
        subjects=development["subject"].to_numpy(),
        emotions=development["emotion"].to_numpy(),
        folds=development["fold"].to_numpy(),
        models=np.asarray(emotions),
        scores=score_matrix,
        probabilities=probability_matrix,
    )
    if landmark_sets_path is not None:
        gather_landmark_sets(landmark_set_paths, landmark_sets_path)
    write_metrics(metrics_path, metrics)
    return metrics

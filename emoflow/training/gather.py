"""The gather of an iteration: every emotion's metrics and scores → the iteration's files.

Light on purpose (no torch): the workflow's ``gather_iteration`` jobs only move JSON and
tables. :func:`~emoflow.training.train_iteration` combines its emotions with it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow.errors import DataError
from emoflow.layout import ResultsLayout
from emoflow.metrics import confusion_matrix, multiclass_metrics
from emoflow.storage.landmark_sets import gather_landmark_sets
from emoflow.storage.metrics import read_metrics, read_scores, write_metrics, write_scores

__all__ = ["confusion_matrix", "gather_iteration", "gather_results"]


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
    and its confusion matrices, validation and held-out test) and ``scores.parquet``.

    Parameters
    ----------
    metrics_paths, scores_paths
        Each emotion's ``metrics.json`` and ``scores.parquet``, in the order of the emotions.
    metrics_path, scores_path
        The iteration's files to write.
    landmark_set_paths, landmark_sets_path
        Each emotion's ``landmarks.json`` and the iteration's gathered one to write
        (:func:`emoflow.storage.landmark_sets.gather_landmark_sets`); nothing when not given.
    """
    if len(metrics_paths) != len(scores_paths) or not metrics_paths:
        raise DataError(
            f"gather needs one metrics and one scores file per emotion, got "
            f"{len(metrics_paths)} and {len(scores_paths)}"
        )
    header: dict[str, Any] | None = None
    split: dict[str, Any] | None = None
    records: dict[str, dict[str, Any]] = {}
    tables: dict[str, tuple[pl.DataFrame, pl.DataFrame]] = {}
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
        records[emotion], tables[emotion] = emotion_record, (dev_rows, test_rows)
    assert header is not None and development is not None and test is not None
    emotions = sorted(records)  # the feature store's order
    metrics: dict[str, Any] = {**header, "emotions": {e: records[e] for e in emotions}}
    names = np.asarray(emotions)
    score_matrix = np.column_stack([tables[e][0]["score"].to_numpy() for e in emotions])
    probability_matrix = np.column_stack([tables[e][0]["probability"].to_numpy() for e in emotions])
    raw_predicted = names[np.argmax(score_matrix, axis=1)]
    calibrated_predicted = names[np.argmax(probability_matrix, axis=1)]
    if header["calibration"] == "platt":
        rule = (
            "argmax of the binary models' Platt-calibrated out-of-fold scores; each fold's "
            "calibrators are fitted on inner-fold out-of-fold scores of its training subjects"
        )
        predicted = calibrated_predicted
    else:
        rule = "argmax of the binary models' out-of-fold scores"
        predicted = raw_predicted
    development_emotions = development["emotion"].to_numpy()
    if split is not None:
        metrics["split"] = split
        test_matrix = np.column_stack([tables[e][1]["probability"].to_numpy() for e in emotions])
        combined_test = multiclass_metrics(
            test["emotion"].to_numpy(), names[np.argmax(test_matrix, axis=1)], emotions
        )
    metrics["combined"] = {
        "rule": rule,
        "labels": emotions,
        **multiclass_metrics(development_emotions, predicted, emotions),
        "uncalibrated": multiclass_metrics(development_emotions, raw_predicted, emotions),
    }
    if split is not None:
        metrics["combined"]["test"] = combined_test
    write_scores(
        scores_path,
        video_ids=development["video_id"].to_numpy(),
        subjects=development["subject"].to_numpy(),
        emotions=development_emotions,
        folds=development["fold"].to_numpy(),
        models=names,
        scores=score_matrix,
        probabilities=probability_matrix,
    )
    if landmark_sets_path is not None:
        gather_landmark_sets(landmark_set_paths, landmark_sets_path)
    write_metrics(metrics_path, metrics)
    return metrics


def gather_results(
    layout: ResultsLayout, iteration: int, emotions: Sequence[str]
) -> dict[str, Any]:
    """:func:`gather_iteration` of one iteration of the deployed chain of a results folder:
    each emotion's files in ``iter_{i}/{e}/`` combined into ``iter_{i}/``, landmark sets too."""
    return gather_iteration(
        [layout.metrics(iteration, e) for e in emotions],
        [layout.scores(iteration, e) for e in emotions],
        layout.metrics(iteration),
        layout.scores(iteration),
        landmark_set_paths=[layout.landmark_sets(iteration, e) for e in emotions],
        landmark_sets_path=layout.landmark_sets(iteration),
    )

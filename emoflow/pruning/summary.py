"""The summary over iterations and the selected model of each emotion.

The table is built here from every iteration's metrics, the selection made by the pruning's
rule (:func:`emoflow.pruning.choose_iteration`); the file, ``summary.parquet``, is written and
read by its owner, :mod:`emoflow.storage.summary`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from emoflow.errors import DataError
from emoflow.pruning.pruner import choose_iteration
from emoflow.pruning.settings import ChainSettings
from emoflow.storage.metrics import read_metrics
from emoflow.storage.summary import SUMMARY_SCHEMA, write_summary


def summarise_iterations(
    metrics_paths: Sequence[str | Path],
    out_path: str | Path,
    *,
    tolerance: float = ChainSettings.tolerance,
) -> pl.DataFrame:
    """Collect every iteration's metrics into ``summary.parquet`` and mark the selected model.

    The selected iteration of an emotion has the best mean (validation) balanced accuracy;
    iterations within ``tolerance`` of the best count as ties, and ties go to fewer landmarks
    (:func:`emoflow.pruning.choose_iteration`).
    ``test_*`` columns hold the held-out subjects' scores (NaN without ``train.test_subjects``);
    they never influence the selection.
    """
    rows = []
    for path in metrics_paths:
        metrics = read_metrics(path)  # undefined scores (null in the file) as NaN
        for emotion, record in metrics["emotions"].items():
            parameters = record["n_parameters"]
            rows.append(
                {
                    "emotion": emotion,
                    "iteration": int(metrics["iteration"]),
                    "n_landmarks": int(record["n_landmarks"]),
                    "balanced_accuracy_mean": record["mean"]["balanced_accuracy"],
                    "balanced_accuracy_std": record["std"]["balanced_accuracy"],
                    "accuracy_mean": record["mean"]["accuracy"],
                    "accuracy_std": record["std"]["accuracy"],
                    "f1_mean": record["mean"]["f1"],
                    "roc_auc_mean": record["mean"]["roc_auc"],
                    "train_time_s": record["mean"]["train_time_s"],
                    "inference_time_ms": record["inference_time_ms_per_sample"],
                    "n_parameters": int(parameters["random"] + parameters["trained"]),
                    "test_balanced_accuracy": record.get("test", {}).get(
                        "balanced_accuracy", float("nan")
                    ),
                    "test_accuracy": record.get("test", {}).get("accuracy", float("nan")),
                }
            )
    if not rows:
        raise DataError("no iteration metrics to summarise")
    columns = {name: kind for name, kind in SUMMARY_SCHEMA.items() if name != "selected"}
    summary = pl.DataFrame(rows, schema=columns).sort("emotion", "iteration")
    selected = np.zeros(summary.height, dtype=bool)
    emotions = summary["emotion"].to_numpy()
    for emotion in dict.fromkeys(emotions):
        rows_of = np.flatnonzero(emotions == emotion)
        chosen = choose_iteration(
            summary["balanced_accuracy_mean"].to_numpy()[rows_of],
            summary["n_landmarks"].to_numpy()[rows_of],
            tolerance=tolerance,
        )
        selected[rows_of[chosen]] = True
    summary = summary.with_columns(pl.Series("selected", selected))
    write_summary(summary, out_path)
    return summary

"""Validation against held-out test: per emotion, per iteration's combined classifier, and the
combined classifier of each emotion's *selected* model (the one ``emoflow predict`` applies).

Validation is subject-independent cross-validation on the development subjects (per-fold
balanced accuracy in ``metrics.json``, out-of-fold scores in ``scores.parquet``); the test is
the subjects held out of everything (``train.test_subjects``), scored once per iteration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

GAP_WARNING = 0.1
"""A test balanced accuracy this far below validation is flagged in the report."""


def fold_scores(metrics: Mapping[str, Any], emotion: str) -> list[float]:
    """An emotion's balanced accuracy on each cross-validation fold of one iteration."""
    record = metrics.get("emotions", {}).get(emotion, {})
    return [float(fold["balanced_accuracy"]) for fold in record.get("folds", [])]


def binary_confusion(table: pl.DataFrame, emotion: str) -> list[list[int]]:
    """2 × 2 counts of one binary model's decisions (``score > 0``): rows true (other,
    emotion), columns predicted (other, emotion)."""
    truth = (table["emotion"] == emotion).to_numpy()
    predicted = (table["score"] > 0).to_numpy()
    return [
        [int((~truth & ~predicted).sum()), int((~truth & predicted).sum())],
        [int((truth & ~predicted).sum()), int((truth & predicted).sum())],
    ]


def selected_confusions(
    tables: Mapping[str, pl.DataFrame], iterations: Mapping[str, int]
) -> dict[str, dict[str, Any]]:
    """Per emotion, its selected model's 2 × 2 confusion matrices (:func:`binary_confusion`):
    ``validation`` (out-of-fold, pooled over folds) and ``test`` (``None`` without held-out
    rows), with balanced accuracies and the ``iteration``."""
    result: dict[str, dict[str, Any]] = {}
    for emotion, table in tables.items():
        entry: dict[str, Any] = {"iteration": int(iterations[emotion])}
        for name, rows in (("validation", pl.col("fold") >= 0), ("test", pl.col("fold") < 0)):
            part = table.filter(rows)
            matrix = np.asarray(binary_confusion(part, emotion)) if part.height else None
            entry[name] = None if matrix is None else matrix.tolist()
            entry[f"{name}_balanced_accuracy"] = (
                None if matrix is None else _balanced_accuracy(matrix)
            )
        result[emotion] = entry
    return result


def _balanced_accuracy(matrix: np.ndarray) -> float | None:
    """Mean recall over the classes with a true sample (rows of ``matrix``); undefined
    (``None``) with fewer than two: a test set of one emotion's negatives only has a
    specificity, not a balanced accuracy (:mod:`emoflow.metrics`)."""
    totals = matrix.sum(axis=1)
    if (totals > 0).sum() < 2:
        return None
    return float(np.mean(np.diag(matrix)[totals > 0] / totals[totals > 0]))


def multiclass_record(truth: np.ndarray, predicted: np.ndarray, labels: list[str]) -> dict:
    """Accuracy, balanced accuracy and confusion matrix (rows true, columns predicted), by
    :func:`emoflow.metrics.multiclass_metrics`; undefined scores are ``None``."""
    from emoflow.metrics import is_defined, multiclass_metrics

    record = multiclass_metrics(
        np.asarray(truth).astype(str), np.asarray(predicted).astype(str), list(labels)
    )
    return {
        "labels": list(labels),
        "n_samples": int(np.sum(record["confusion_matrix"])),
        "accuracy": record["accuracy"] if is_defined(record["accuracy"]) else None,
        "balanced_accuracy": (
            record["balanced_accuracy"] if is_defined(record["balanced_accuracy"]) else None
        ),
        "confusion_matrix": record["confusion_matrix"],
    }


def combined_of_selected(
    tables: Mapping[str, pl.DataFrame], labels: Sequence[str]
) -> dict[str, dict | None]:
    """The combined prediction of each emotion's selected model: argmax of the calibrated
    probabilities (raw scores where a model has none), as ``emoflow predict`` decides.

    ``tables`` maps each emotion to its selected iteration's scores (``scores.parquet``; fold
    < 0 marks the held-out test). Returns ``{"validation": record, "test": record or None}``.
    """
    emotions = [e for e in labels if e in tables]
    result: dict[str, dict | None] = {"validation": None, "test": None}
    if not emotions:
        return result
    for name, rows in (("validation", pl.col("fold") >= 0), ("test", pl.col("fold") < 0)):
        parts = [tables[e].filter(rows).sort("video_id") for e in emotions]
        if not parts[0].height:
            continue
        ids = parts[0]["video_id"]
        if any(not part["video_id"].equals(ids) for part in parts[1:]):
            continue  # selected iterations scored other samples: no joint prediction
        use_probability = all(part["probability"].null_count() == 0 for part in parts)
        column = "probability" if use_probability else "score"
        matrix = np.column_stack([part[column].to_numpy() for part in parts])
        predicted = np.asarray(emotions)[np.argmax(matrix, axis=1)]
        result[name] = multiclass_record(parts[0]["emotion"].to_numpy(), predicted, emotions)
    return result


def validation_and_test(
    summary: pl.DataFrame,
    emotions: Sequence[str],
    metrics: Sequence[Mapping[str, Any]],
    iterations: Sequence[int],
) -> pl.DataFrame:
    """Per emotion, the all-landmark and the selected iteration: validation (mean, std and
    each fold) next to held-out test balanced accuracy, and the gap (test − validation)."""
    from emoflow.report.inputs import full_and_selected

    rows = []
    for emotion in emotions:
        full, selected = full_and_selected(summary, emotion)
        for which, row in (("all landmarks", full), ("selected", selected)):
            position = list(iterations).index(int(row["iteration"]))
            test = row.get("test_balanced_accuracy")
            test = None if test is None or not np.isfinite(test) else float(test)
            mean = float(row["balanced_accuracy_mean"])
            rows.append(
                {
                    "emotion": emotion,
                    "model": which,
                    "iteration": int(row["iteration"]),
                    "n_landmarks": int(row["n_landmarks"]),
                    "validation_mean": mean,
                    "validation_std": float(np.nan_to_num(row["balanced_accuracy_std"])),
                    "validation_folds": fold_scores(metrics[position], emotion),
                    "test": test,
                    "gap": None if test is None else test - mean,
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "emotion": pl.String,
            "model": pl.String,
            "iteration": pl.Int64,
            "n_landmarks": pl.Int64,
            "validation_mean": pl.Float64,
            "validation_std": pl.Float64,
            "validation_folds": pl.List(pl.Float64),
            "test": pl.Float64,
            "gap": pl.Float64,
        },
    )


def combined_per_iteration(
    metrics: Sequence[Mapping[str, Any]], iterations: Sequence[int]
) -> list[dict[str, Any]]:
    """Each iteration's combined classifier: validation and test accuracy and balanced accuracy."""
    rows = []
    for iteration, record in zip(iterations, metrics, strict=True):
        combined = record.get("combined", {}) or {}
        test = combined.get("test") or {}
        rows.append(
            {
                "iteration": int(iteration),
                "validation_accuracy": combined.get("accuracy"),
                "validation_balanced_accuracy": combined.get("balanced_accuracy"),
                "test_accuracy": test.get("accuracy"),
                "test_balanced_accuracy": test.get("balanced_accuracy"),
            }
        )
    return rows


def warnings_of(table: pl.DataFrame, limit: float = GAP_WARNING) -> list[str]:
    """One sentence per selected model whose held-out test falls ``limit`` below validation."""
    flagged = table.filter(
        (pl.col("model") == "selected") & pl.col("gap").is_not_null() & (pl.col("gap") < -limit)
    )
    return [
        f"{row['emotion']}: balanced accuracy {row['test']:.2f} on the held-out subjects "
        f"against {row['validation_mean']:.2f} in validation (iteration {row['iteration']}, "
        f"{row['n_landmarks']} landmarks)"
        for row in flagged.iter_rows(named=True)
    ]


__all__ = [
    "GAP_WARNING",
    "binary_confusion",
    "combined_of_selected",
    "combined_per_iteration",
    "fold_scores",
    "multiclass_record",
    "selected_confusions",
    "validation_and_test",
    "warnings_of",
]

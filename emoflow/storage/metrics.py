"""The owner of a training iteration's ``metrics.json`` and ``scores.parquet``.

Light on purpose (no torch, polars imported when a table is read or written): pruning, the
report and attribution read these files through here without paying for the models.

``metrics.json``
    ``iteration``, sample and subject counts, ``n_folds``, ``seed``, ``device``,
    ``model_kind``, the model (``network``), ``selection`` and ``calibration`` settings;
    ``emotions``: per emotion its folds, ``mean``/``std`` of :data:`METRIC_NAMES` and times
    (over the folds where they are defined; ``n_undefined`` counts the others),
    the final model's choice, times and parameter counts, and ``test`` when subjects were held
    out; ``combined``: the multi-class prediction (rule, labels, accuracy, balanced accuracy,
    confusion matrix, ``uncalibrated``, ``test``); ``split`` names the held-out subjects.
``scores.parquet``
    One row per sample and binary model (:data:`SCORE_COLUMNS`): the out-of-fold raw score
    and calibrated probability.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emoflow._atomic import read_json, write_json
from emoflow._tables import read_parquet, write_parquet
from emoflow.errors import InputError

if TYPE_CHECKING:
    import polars as pl

RERUN_TRAINING = (
    "delete it and rerun the job that wrote it "
    "(snakemake --forcerun start_chains prune_chain gather_iteration)"
)
"""What to do about a damaged scores table."""

__all__ = [
    "METRIC_NAMES",
    "SCORE_COLUMNS",
    "held_out_subjects",
    "read_metrics",
    "read_scores",
    "scores_schema",
    "write_metrics",
    "write_scores",
]

METRIC_NAMES = ("accuracy", "balanced_accuracy", "f1", "roc_auc", "recall", "specificity")
"""Binary metrics recorded per fold, averaged per emotion over the folds that define them
(:func:`emoflow.metrics.binary_metrics`; ``n_undefined`` counts the others)."""
SCORE_COLUMNS = ("video_id", "subject", "emotion", "fold", "model", "score", "probability")
"""Columns of ``scores.parquet``."""


def scores_schema() -> dict[str, Any]:
    """The Polars schema of ``scores.parquet``, in :data:`SCORE_COLUMNS` order (built on call:
    polars is imported lazily)."""
    import polars as pl

    types = (pl.String, pl.String, pl.String, pl.Int64, pl.String, pl.Float64, pl.Float64)
    return dict(zip(SCORE_COLUMNS, types, strict=True))


def write_metrics(path: str | Path, metrics: dict[str, Any]) -> None:
    """Write an iteration's metrics record (atomically); an undefined score (NaN) is written
    as ``null``."""
    write_json(path, metrics)


_SCORES = frozenset(
    (*METRIC_NAMES, "score", "train_time_s", "selection_time_s", "final_train_time_s")
)
"""Keys whose ``null`` in ``metrics.json`` is an undefined number (NaN once read)."""


def _undefined_as_nan(node: Any) -> Any:
    """``node`` with each ``null`` under a score's key (:data:`_SCORES`) read back as NaN."""
    if isinstance(node, dict):
        return {
            key: float("nan") if value is None and key in _SCORES else _undefined_as_nan(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_undefined_as_nan(value) for value in node]
    return node


def read_metrics(path: str | Path) -> dict[str, Any]:
    """An iteration's metrics record, as :func:`write_metrics` wrote it; an undefined score
    (``null`` in the file) is NaN."""
    record = read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("emotions"), dict):
        raise InputError(path, "not an emoflow metrics file (no per-emotion record)")
    return _undefined_as_nan(record)


def held_out_subjects(path: str | Path) -> list[str]:
    """The subjects an iteration's training never saw (empty when none): its test subjects
    (the held-out ones, or an outer fold's own) and, for an outer fold of the nested
    evaluation, the held-out test subjects it excludes as well."""
    split = read_json(path).get("split", {})
    return sorted({*split.get("test_subjects", []), *split.get("excluded_subjects", [])})


def write_scores(
    path: str | Path,
    *,
    video_ids: np.ndarray,
    subjects: np.ndarray,
    emotions: np.ndarray,
    folds: np.ndarray,
    models: np.ndarray,
    scores: np.ndarray,
    probabilities: np.ndarray,
) -> None:
    """Write out-of-fold scores (atomically), one row per sample and model.

    Parameters
    ----------
    video_ids, subjects, emotions
        The scored samples, ``(n_samples,)`` each.
    folds
        The outer fold that scored each sample, ``(n_samples,)`` (−1: a held-out test sample).
    models
        The binary models' emotions, ``(n_models,)``.
    scores, probabilities
        Raw scores and calibrated probabilities, ``(n_samples, n_models)``.
    """
    import polars as pl

    n_models = len(models)
    table = pl.DataFrame(
        {
            "video_id": np.repeat(video_ids, n_models),
            "subject": np.repeat(subjects, n_models),
            "emotion": np.repeat(emotions, n_models),
            "fold": np.repeat(folds, n_models),
            "model": np.tile(models, len(video_ids)),
            "score": scores.reshape(-1),
            "probability": probabilities.reshape(-1),
        },
        schema=scores_schema(),
    )
    write_parquet(table, path)


def read_scores(path: str | Path) -> pl.DataFrame:
    """The out-of-fold scores table of :func:`write_scores`."""

    table = read_parquet(path, what="scores table", remedy=RERUN_TRAINING)
    if missing := sorted(set(SCORE_COLUMNS) - set(table.columns)):
        raise InputError(path, f"scores table lacks column(s) {', '.join(missing)}")
    return table

"""The training protocol: nested subject-independent cross-validation, one model per emotion.

* :mod:`~emoflow.training.cross_validation`: the inner-fold search
  (:class:`SelectionSettings`, :func:`select_hyperparameters`), calibration and the outer folds
  of one emotion (:func:`evaluate_emotion`);
* :mod:`~emoflow.training.iteration`: the protocol of one split (:func:`training_protocol`:
  samples, folds, held-out test) and the training of one emotion on it;
* :mod:`~emoflow.training.per_emotion`: one emotion's files per job (:func:`train_emotion`),
  gathered by :func:`gather_iteration`, or every emotion in one process
  (:func:`train_iteration`, a loop over them);
* :mod:`~emoflow.training.outputs`: the owner of ``metrics.json`` and ``scores.parquet``
  (light: importing it, or this package, does not import torch).

The torch-backed names are imported when first used, so readers of the metrics stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emoflow._lazy import lazy_names
from emoflow.landmark_sets import read_landmark_sets  # alias: landmarks.json has its own owner
from emoflow.training.outputs import (
    METRIC_NAMES,
    SCORE_COLUMNS,
    held_out_subjects,
    read_metrics,
    read_scores,
    write_metrics,
    write_scores,
)

if TYPE_CHECKING:
    from emoflow.training.cross_validation import (
        CALIBRATIONS,
        EmotionEvaluation,
        Selection,
        SelectionSettings,
        evaluate_emotion,
        fit_calibrator,
        select_hyperparameters,
    )
    from emoflow.training.gather import confusion_matrix, gather_iteration
    from emoflow.training.iteration import held_out_mask, section_options, training_protocol
    from emoflow.training.per_emotion import train_emotion, train_iteration

_LAZY = {
    "CALIBRATIONS": "cross_validation",
    "EmotionEvaluation": "cross_validation",
    "Selection": "cross_validation",
    "SelectionSettings": "cross_validation",
    "evaluate_emotion": "cross_validation",
    "fit_calibrator": "cross_validation",
    "select_hyperparameters": "cross_validation",
    "confusion_matrix": "gather",
    "held_out_mask": "iteration",
    "train_iteration": "per_emotion",
    "train_emotion": "per_emotion",
    "training_protocol": "iteration",
    "gather_iteration": "gather",
    "section_options": "iteration",
}

__all__ = [
    "CALIBRATIONS",
    "METRIC_NAMES",
    "SCORE_COLUMNS",
    "EmotionEvaluation",
    "Selection",
    "SelectionSettings",
    "confusion_matrix",
    "evaluate_emotion",
    "fit_calibrator",
    "gather_iteration",
    "held_out_mask",
    "held_out_subjects",
    "read_landmark_sets",
    "read_metrics",
    "read_scores",
    "section_options",
    "select_hyperparameters",
    "train_emotion",
    "train_iteration",
    "training_protocol",
    "write_metrics",
    "write_scores",
]

__getattr__ = lazy_names(__name__, _LAZY)

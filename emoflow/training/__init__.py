"""The training protocol: nested subject-independent cross-validation, one model per emotion.

* :mod:`~emoflow.training.cross_validation`: the inner-fold search
  (:class:`SelectionSettings`, :func:`select_hyperparameters`), calibration and the outer folds
  of one emotion (:func:`~emoflow.training.cross_validation.evaluate_emotion`);
* :mod:`~emoflow.training.iteration`: the protocol of one split
  (:func:`~emoflow.training.iteration.training_protocol`: samples, folds, held-out test) and
  the training of one emotion on it;
* :mod:`~emoflow.training.per_emotion`: one emotion's files per job (:func:`train_emotion`),
  gathered by :func:`gather_iteration`, or every emotion in one process
  (:func:`train_iteration`, a loop over them);
* the files it writes, ``metrics.json`` and ``scores.parquet``, are
  :mod:`emoflow.storage.metrics`'s (light: importing it, or this package, does not import
  torch).

The torch-backed names are imported when first used, so readers of the metrics stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emoflow._lazy import lazy_names

if TYPE_CHECKING:
    from emoflow.training.cross_validation import SelectionSettings, select_hyperparameters
    from emoflow.training.gather import gather_iteration
    from emoflow.training.per_emotion import train_emotion, train_iteration

_LAZY = {
    "SelectionSettings": "cross_validation",
    "select_hyperparameters": "cross_validation",
    "train_iteration": "per_emotion",
    "train_emotion": "per_emotion",
    "gather_iteration": "gather",
}

__all__ = [
    "SelectionSettings",
    "gather_iteration",
    "select_hyperparameters",
    "train_emotion",
    "train_iteration",
]

__getattr__ = lazy_names(__name__, _LAZY)

r"""Checks that a landmark ranking finds what matters: planted truth, deletion, remove-and-retrain.

A *ranking* orders landmark ids from most to least relevant (e.g. one row of the attribution
store's ``scores``, through :func:`ranking_from_scores`). Three checks are offered:

- :func:`emoflow.metrics.precision_at_k` — the share of the top ``k`` that are
  known-relevant landmarks (planted signal; chance level is ``|truth| / n_landmarks``).
- :func:`deletion_curve` — a *fixed* model re-evaluated while the landmarks are removed in
  rank order (set to a fill value: zero, i.e. no motion for displacement features, or the data
  set's mean); a ranking that puts the landmarks the model uses first makes the curve fall
  fast, so a **lower** area is better.
- :func:`remove_and_retrain` (ROAR, Hooker et al. 2019) — the model is *retrained* without the
  removed landmarks and evaluated by subject-independent cross-validation, so the check does
  not confuse "the model was never shown this input" with "this input matters": if the removed
  landmarks carried the signal, accuracy falls. Lower area is better. With
  ``order="least_relevant_first"`` (keep-and-retrain) the curve shows how well the ranking
  prunes: higher is better.

:func:`area_under_curve` integrates a curve over the removed fraction by the trapezoid rule,
normalised to the fraction range, so a curve that stays at 1 has area 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from emoflow.errors import ConfigError, DataError

Metric = Literal["balanced_accuracy", "roc_auc", "score_gap"]
Order = Literal["most_relevant_first", "least_relevant_first"]
DEFAULT_FRACTIONS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


def ranking_from_scores(scores: np.ndarray) -> np.ndarray:
    """Landmark ids, most relevant first; NaN scores (landmarks not scored) go last."""
    scores = np.asarray(scores, dtype=np.float64)
    valid = np.flatnonzero(np.isfinite(scores))
    invalid = np.flatnonzero(~np.isfinite(scores))
    return np.concatenate([valid[np.argsort(-scores[valid], kind="stable")], invalid])


def random_ranking(n_landmarks: int, *, seed: int = 0) -> np.ndarray:
    """A uniformly random ranking of ``n_landmarks`` landmarks (the chance reference)."""
    return np.random.default_rng(seed).permutation(n_landmarks)


def area_under_curve(
    fractions: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray
) -> float:
    """Trapezoid area under ``values`` over ``fractions``, divided by the fraction range."""
    x = np.asarray(fractions, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if x.shape != y.shape or len(x) < 2:
        raise DataError("a curve needs at least two points and as many values as fractions")
    if np.any(np.diff(x) <= 0):
        raise DataError("curve fractions must increase")
    area = float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)
    return area / float(x[-1] - x[0])


def _removed(ranking: np.ndarray, fraction: float, order: Order) -> np.ndarray:
    n_remove = round(float(fraction) * len(ranking))
    ordered = ranking if order == "most_relevant_first" else ranking[::-1]
    return np.asarray(ordered[:n_remove], dtype=np.int64)


def _evaluate(labels: np.ndarray, scores: np.ndarray, metric: Metric) -> float:
    from emoflow.metrics import binary_metrics

    if metric == "score_gap":
        positive = labels.astype(bool)
        return float(scores[positive].mean() - scores[~positive].mean())
    return float(binary_metrics(labels, scores)[metric])


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    array = np.asarray(fractions, dtype=np.float64)
    if array.ndim != 1 or len(array) < 2 or array.min() < 0 or array.max() > 1:
        raise ConfigError(f"fractions must be at least two values in [0, 1], got {fractions}")
    if np.any(np.diff(array) <= 0):
        raise ConfigError(f"fractions must increase, got {fractions}")
    return array


def _checked(
    fractions: Sequence[float], inputs: np.ndarray, labels: np.ndarray, ranking: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fractions, inputs (float32), labels and ranking (int64), checked to fit together."""
    fractions_array = _check_fractions(fractions)
    inputs = np.asarray(inputs, dtype=np.float32)
    ranking = np.asarray(ranking, dtype=np.int64)
    if inputs.ndim != 4 or len(ranking) != inputs.shape[2]:
        raise DataError(
            f"inputs of shape {inputs.shape} do not match a ranking of {len(ranking)} landmarks"
        )
    return fractions_array, inputs, np.asarray(labels), ranking


def deletion_curve(
    model: Any,
    inputs: np.ndarray,
    labels: np.ndarray,
    ranking: np.ndarray,
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    fill: Literal["zero", "mean"] | np.ndarray = "zero",
    metric: Metric = "balanced_accuracy",
    order: Order = "most_relevant_first",
    normalise: bool = False,
) -> dict[str, Any]:
    """Re-evaluate a fixed model as landmarks are removed in rank order.

    Parameters
    ----------
    model
        An object with ``decision_function(inputs) → scores`` (positive: the emotion), or a
        callable doing the same.
    inputs
        ``(n_samples, n_frames, n_landmarks, n_coords)``, the landmarks the model was fitted on,
        in the order of ``ranking``'s ids.
    labels
        0/1 labels of the model's emotion.
    ranking
        Landmark positions (indices into the landmark axis), most relevant first.
    fractions
        Shares of the landmarks removed, increasing, in [0, 1].
    fill
        What a removed landmark is set to: ``zero`` (no motion), ``mean`` (the data set's
        mean of that landmark) or an array of one sample's shape.
    metric
        ``balanced_accuracy`` or ``roc_auc`` of the scores, or ``score_gap`` (mean score of the
        positives minus that of the negatives).
    order
        ``most_relevant_first`` (deletion) or ``least_relevant_first`` (insertion-style check
        of what pruning would keep).
    normalise
        Divide the values by the value with nothing removed.

    Returns
    -------
    dict
        ``fractions``, ``values`` and ``area`` (:func:`area_under_curve`).
    """
    fractions_array, inputs, labels, ranking = _checked(fractions, inputs, labels, ranking)
    if isinstance(fill, str):
        if fill not in ("zero", "mean"):
            raise ConfigError(f"fill must be zero, mean or an array, got {fill!r}")
        fill_value = np.zeros(inputs.shape[1:], np.float32)
        if fill == "mean":
            fill_value = inputs.mean(axis=0)
    else:
        fill_value = np.broadcast_to(np.asarray(fill, np.float32), inputs.shape[1:])
    score_fn = model.decision_function if hasattr(model, "decision_function") else model
    values = []
    for fraction in fractions_array:
        removed = _removed(ranking, fraction, order)
        masked = inputs.copy()
        masked[:, :, removed, :] = fill_value[None, :, removed, :]
        values.append(_evaluate(labels, np.asarray(score_fn(masked)), metric))
    values_array = np.asarray(values)
    if normalise and values_array[0] != 0:
        values_array = values_array / values_array[0]
    return {
        "fractions": fractions_array.tolist(),
        "values": values_array.tolist(),
        "area": area_under_curve(fractions_array, values_array),
    }


def remove_and_retrain(
    inputs: np.ndarray,
    labels: np.ndarray,
    subjects: np.ndarray,
    ranking: np.ndarray,
    *,
    make_model: Callable[[], Any] | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    n_folds: int = 4,
    seed: int = 0,
    metric: Metric = "balanced_accuracy",
    order: Order = "most_relevant_first",
) -> dict[str, Any]:
    """ROAR: retrain without the top-ranked landmarks and cross-validate by subject.

    Removed landmarks are dropped from the input (as pruning does), the model is refitted on
    the training subjects of every fold and scored on the held-out ones; the value at each
    fraction is the metric of the pooled out-of-fold scores.

    Parameters
    ----------
    inputs, labels, ranking, fractions, metric, order
        As for :func:`deletion_curve`; at least one landmark is always kept.
    subjects
        Subject of every sample: no subject is in both the training and test part of a fold.
    make_model
        Returns a fresh, unfitted model with ``fit(inputs, labels)`` and ``decision_function``;
        default: :class:`emoflow.models.RandomizedDeepNetwork` with default settings on CPU.
    n_folds, seed
        Subject-independent folds (:func:`emoflow.metrics.subject_folds`).

    Returns
    -------
    dict
        ``fractions``, ``values``, ``n_kept`` and ``area``.
    """
    from emoflow.metrics import subject_folds
    from emoflow.models import NetworkSettings, RandomizedDeepNetwork

    fractions_array, inputs, labels, ranking = _checked(fractions, inputs, labels, ranking)
    factory = make_model or (lambda: RandomizedDeepNetwork(NetworkSettings(), device="cpu"))
    folds = subject_folds(np.asarray(subjects), n_folds, labels=labels, seed=seed)
    values, n_kept = [], []
    for fraction in fractions_array:
        removed = _removed(ranking, fraction, order)[: len(ranking) - 1]
        keep = np.setdiff1d(np.arange(inputs.shape[2]), removed)
        subset = inputs[:, :, keep, :]
        scores = np.full(len(labels), np.nan)
        for test in folds:
            train = np.ones(len(labels), dtype=bool)
            train[test] = False
            model = factory().fit(subset[train], labels[train])
            scores[test] = model.decision_function(subset[test])
        values.append(_evaluate(labels, scores, metric))
        n_kept.append(len(keep))
    return {
        "fractions": fractions_array.tolist(),
        "values": values,
        "n_kept": n_kept,
        "area": area_under_curve(fractions_array, values),
    }

"""Subject folds and the scores of predictions: what training, comparison and report share.

Light (numpy only, never torch), so the modules that only gather or report results use the
same definitions as training. Folds are scikit-learn's ``StratifiedGroupKFold`` and the
metrics are ``sklearn.metrics``' ``balanced_accuracy_score``, ``roc_auc_score`` and
``confusion_matrix``, reproduced here in numpy and checked equal to scikit-learn's own, fold
for fold and digit for digit, on random and edge cases (``tests/test_metrics.py``; the
evaluation job checks its estimates against scikit-learn again at run time). Importing
scikit-learn costs a process about 1 s of CPU (it pulls scipy.stats and pandas in): every
chain job would pay it for a few dozen metric calls. A score that its data cannot define is
*undefined* — ``NaN``
here, ``null`` in JSON files, "n/a" when printed (:func:`format_score`) — never a stand-in
such as 0.5:

* balanced accuracy, recall and F1 need a positive sample; balanced accuracy and specificity
  need a negative one; ROC-AUC needs both. A test set of negatives only reports its
  ``specificity`` (the share of negatives called negative) under that name, and balanced
  accuracy as undefined: the two are different quantities, and a model that always says "no"
  would score a perfect specificity.
* Aggregations (:func:`summarise_values`) skip undefined values and count them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from emoflow.errors import ConfigError, DataError

UNDEFINED = "n/a"
"""How an undefined score is printed."""

BINARY_METRICS = ("accuracy", "balanced_accuracy", "f1", "roc_auc", "recall", "specificity")
"""The scores :func:`binary_metrics` returns (beside the class counts)."""


def subject_folds(
    subjects: np.ndarray,
    n_folds: int,
    *,
    labels: np.ndarray | None = None,
    seed: int = 0,
) -> list[np.ndarray]:
    """Split samples into ``n_folds`` test folds by subject (no subject in two folds).

    scikit-learn's ``StratifiedGroupKFold`` (shuffled, ``random_state=seed``): whole subjects
    go to folds so that each fold's share of every label is as close as the subjects allow to
    the whole data's. Without ``labels`` every sample counts as one class, and the folds are
    balanced by size only.

    Parameters
    ----------
    subjects
        Subject id of each sample, ``(n_samples,)``.
    n_folds
        Folds (at least 2, at most the number of subjects).
    labels
        What to stratify by, ``(n_samples,)``: the emotion names for the outer folds (which
        stratifies every one-vs-rest label at once), an emotion's 0/1 labels for its inner
        folds.
    seed
        The fold assignment's seed.

    Returns
    -------
    list of numpy.ndarray
        The (sorted) test indices of each fold; the training indices are the rest. Every
        fold holds at least one subject.
    """
    subjects = np.asarray(subjects)
    unique = np.unique(subjects)
    if n_folds < 2:
        raise ConfigError(f"cross-validation needs at least 2 folds, got {n_folds}")
    if len(unique) < n_folds:
        raise DataError(
            f"{len(unique)} subjects cannot make {n_folds} subject-independent folds; "
            "lower train.n_folds"
        )
    strata = np.zeros(len(subjects), dtype=np.int64) if labels is None else np.asarray(labels)
    if strata.shape != subjects.shape:
        raise DataError(f"{len(strata)} labels for {len(subjects)} samples")
    folds = stratified_group_folds(strata, subjects, n_folds, seed=seed)
    if any(len(fold) == 0 for fold in folds):  # not seen; StratifiedGroupKFold does not promise
        raise DataError(
            f"{len(unique)} subjects could not fill {n_folds} subject-independent folds; "
            "lower train.n_folds"
        )
    return folds


def held_out_mask(subjects: np.ndarray, n_subjects: int, *, seed: int = 0) -> np.ndarray:
    """Samples of ``n_subjects`` subjects drawn (by ``seed``) for a final test, as a mask."""
    unique = np.unique(subjects)
    if n_subjects < 0 or n_subjects >= len(unique):
        raise ConfigError(
            f"train.test_subjects must be between 0 and {len(unique) - 1} "
            f"(the data set has {len(unique)} subjects), got {n_subjects}"
        )
    held_out = np.random.default_rng([seed, 7]).choice(unique, size=n_subjects, replace=False)
    return np.isin(subjects, held_out)


def protocol_training_parts(
    subjects: np.ndarray, emotions: np.ndarray, *, n_folds: int, test_subjects: int, seed: int = 0
) -> list[tuple[str, np.ndarray]]:
    """Every training part the nested protocol fits models on, as (name, sample mask): the
    development subjects (the deployed models), each outer fold's training subjects (the
    deployed chain's cross-validation and the nested evaluation's chains, the same folds), and
    the inner folds those are cross-validated on in turn (as :mod:`emoflow.training` makes
    them). A binary model needs both classes in each."""
    subjects, emotions = np.asarray(subjects), np.asarray(emotions)
    development = np.flatnonzero(~held_out_mask(subjects, test_subjects, seed=seed))
    parts = [("the development subjects", np.isin(np.arange(len(subjects)), development))]
    outer = subject_folds(subjects[development], n_folds, labels=emotions[development], seed=seed)
    for k, test in enumerate(outer):
        train = np.setdiff1d(np.arange(len(development)), test)
        parts.append((f"outer fold {k}", np.isin(np.arange(len(subjects)), development[train])))
        inner_subjects = subjects[development[train]]
        n_inner = min(n_folds, len(np.unique(inner_subjects)))
        if n_inner < 2:
            continue
        for j, inner_test in enumerate(
            subject_folds(inner_subjects, n_inner, labels=emotions[development[train]], seed=seed)
        ):
            inner_train = np.setdiff1d(np.arange(len(train)), inner_test)
            parts.append(
                (
                    f"inner fold {j} of outer fold {k}",
                    np.isin(np.arange(len(subjects)), development[train[inner_train]]),
                )
            )
    return parts


def stratified_group_folds(
    strata: np.ndarray, groups: np.ndarray, n_folds: int, *, seed: int
) -> list[np.ndarray]:
    """scikit-learn's ``StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)``, its
    test indices fold by fold: the groups, shuffled by ``numpy.random.RandomState(seed)`` and
    sorted (stably) by the spread of their class counts, go one by one to the fold whose class
    shares stay closest to the whole data's (the least populated fold on a tie). The same
    algorithm, step for step, so the same folds (``tests/test_metrics.py``)."""
    _, class_of_sample, class_counts = np.unique(strata, return_inverse=True, return_counts=True)
    _, group_of_sample, group_sizes = np.unique(groups, return_inverse=True, return_counts=True)
    class_of_sample, group_of_sample = class_of_sample.reshape(-1), group_of_sample.reshape(-1)
    counts = np.zeros((len(group_sizes), len(class_counts)))
    np.add.at(counts, (group_of_sample, class_of_sample), 1)
    order = np.arange(len(group_sizes))
    np.random.RandomState(seed).shuffle(order)
    counts = counts[order]
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    group_of_sample = position[group_of_sample]
    per_fold = np.zeros((n_folds, len(class_counts)))
    fold_of_group = np.empty(len(group_sizes), dtype=np.int64)
    for group in np.argsort(-np.std(counts, axis=1), kind="stable"):
        best, best_spread, best_size = 0, math.inf, math.inf
        for fold in range(n_folds):
            per_fold[fold] += counts[group]
            spread = float(np.mean(np.std(per_fold / class_counts.reshape(1, -1), axis=0)))
            per_fold[fold] -= counts[group]
            size = float(per_fold[fold].sum())
            if spread < best_spread or (np.isclose(spread, best_spread) and size < best_size):
                best, best_spread, best_size = fold, spread, size
        per_fold[best] += counts[group]
        fold_of_group[group] = best
    fold_of_sample = fold_of_group[group_of_sample]
    return [np.flatnonzero(fold_of_sample == fold) for fold in range(n_folds)]


def _ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; undefined (NaN) when the denominator is 0."""
    return float(numerator) / float(denominator) if denominator else math.nan


def binary_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Scores of one binary model, its decision ``scores > 0`` against the 0/1 ``labels``.

    As ``sklearn.metrics`` computes them: the confusion matrix (``confusion_matrix``),
    balanced accuracy (``balanced_accuracy_score``) and ROC-AUC (``roc_auc_score``, ties
    count half).

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy`` (mean of recall and specificity), ``f1`` (of the
        positive class), ``roc_auc``, ``recall`` (sensitivity), ``specificity`` (recall of the
        negatives), and the counts ``n_positive``, ``n_negative``. A score its data cannot
        define is NaN (never 0.5): without positives, balanced accuracy, recall, F1 and
        ROC-AUC; without negatives, balanced accuracy, specificity and ROC-AUC; with no sample,
        every score.
    """
    truth = np.asarray(labels).astype(bool)
    values = np.asarray(scores, dtype=np.float64)
    if truth.shape != values.shape or truth.ndim != 1:
        raise DataError(f"{truth.shape} labels for {values.shape} scores")
    predicted = values > 0
    n_positive, n_negative = int(truth.sum()), int((~truth).sum())
    if len(truth) == 0:
        return {**dict.fromkeys(BINARY_METRICS, math.nan), "n_positive": 0, "n_negative": 0}
    tp = int(np.sum(predicted & truth))
    tn = int(np.sum(~predicted & ~truth))
    fp, fn = n_negative - tn, n_positive - tp
    balanced = 0.5 * (tp / n_positive + tn / n_negative) if n_positive and n_negative else math.nan
    return {
        "accuracy": (tp + tn) / len(truth),
        "balanced_accuracy": balanced,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn) if n_positive else math.nan,
        "roc_auc": roc_auc(truth, values),
        "recall": _ratio(tp, n_positive),
        "specificity": _ratio(tn, n_negative),
        "n_positive": n_positive,
        "n_negative": n_negative,
    }


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC as ``sklearn.metrics.roc_auc_score`` (the rank statistic, ties count half); NaN
    with one class only."""
    truth = np.asarray(labels).astype(bool)
    if truth.all() or not truth.any():
        return math.nan
    values = np.asarray(scores, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts - 1) / 2.0 + 1.0, counts)  # average ranks
    n_positive, n_negative = int(truth.sum()), int((~truth).sum())
    return float(
        (ranks[truth].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)
    )


def multiclass_metrics(
    truth: Sequence[Any] | np.ndarray, predicted: Sequence[Any] | np.ndarray, names: Sequence[Any]
) -> dict[str, Any]:
    """Scores of a multi-class prediction (the combined argmax of the binary models).

    Returns
    -------
    dict
        ``accuracy``; ``balanced_accuracy``: the mean recall over the classes present in
        ``truth`` (as ``sklearn.metrics.balanced_accuracy_score``: a class without a true
        sample, a row of zeros in the matrix, has no recall and is left out of the mean),
        undefined (NaN) with fewer than two classes present; ``confusion_matrix`` (as
        ``sklearn.metrics.confusion_matrix``: rows true, columns predicted, in the order of
        ``names``).
    """
    truth = np.asarray(truth)
    predicted = np.asarray(predicted)
    matrix = np.asarray(confusion_matrix(truth, predicted, names))
    totals = matrix.sum(axis=1)
    present = totals > 0
    if present.sum() >= 2:
        balanced = float(np.mean(np.diag(matrix)[present] / totals[present]))
    else:
        balanced = math.nan
    return {
        "accuracy": float(np.mean(predicted == truth)) if len(truth) else math.nan,
        "balanced_accuracy": balanced,
        "confusion_matrix": matrix.tolist(),
    }


def confusion_matrix(
    truth: Sequence[Any] | np.ndarray, predicted: Sequence[Any] | np.ndarray, names: Sequence[Any]
) -> list[list[int]]:
    """Counts of (true, predicted) classes: rows true, columns predicted, in the order of
    ``names`` (as ``sklearn.metrics.confusion_matrix``); a class outside ``names`` is an
    error."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    if truth.shape != predicted.shape:
        raise DataError(f"{len(truth)} true classes for {len(predicted)} predictions")
    if unknown := sorted((set(truth.tolist()) | set(predicted.tolist())) - set(names)):
        raise DataError(f"class(es) {unknown} are not among {list(names)}")
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    if len(truth):
        rows = np.array([index[name] for name in truth.tolist()])
        columns = np.array([index[name] for name in predicted.tolist()])
        np.add.at(matrix, (rows, columns), 1)
    return matrix.tolist()


def is_defined(value: Any) -> bool:
    """Whether a score is defined: a finite number (not NaN, ``None`` or infinite)."""
    return isinstance(value, int | float | np.integer | np.floating) and math.isfinite(value)


def format_score(value: Any, digits: int = 3) -> str:
    """A score as printed: ``digits`` decimals, or ``"n/a"`` when it is undefined."""
    return f"{value:.{digits}f}" if is_defined(value) else UNDEFINED


def summarise_values(values: Iterable[Any]) -> dict[str, float | int]:
    """Mean and standard deviation (``ddof=0``) of the defined values; undefined ones (NaN,
    ``None``) are skipped and counted.

    Returns
    -------
    dict
        ``mean``, ``std`` (NaN when no value is defined), ``n`` (defined values) and
        ``n_undefined``.
    """
    numbers = np.array([v if is_defined(v) else np.nan for v in values], dtype=np.float64)
    finite = numbers[np.isfinite(numbers)]
    return {
        "mean": float(finite.mean()) if len(finite) else math.nan,
        "std": float(finite.std()) if len(finite) else math.nan,
        "n": len(finite),
        "n_undefined": len(numbers) - len(finite),
    }


def summarise_folds(
    fold_metrics: Sequence[Mapping[str, Any]], names: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Per name, the mean and std over folds of the defined values (:func:`summarise_values`).

    Returns
    -------
    dict
        ``{"mean": {name: …}, "std": {name: …}, "n_undefined": {name: folds without a defined
        value}}``; a fold lacking the name counts as undefined.
    """
    summary: dict[str, dict[str, Any]] = {"mean": {}, "std": {}, "n_undefined": {}}
    for name in names:
        values = summarise_values(m.get(name) for m in fold_metrics)
        summary["mean"][name] = values["mean"]
        summary["std"][name] = values["std"]
        summary["n_undefined"][name] = values["n_undefined"]
    return summary


def precision_at_k(ranking: np.ndarray, truth: Sequence[int], k: int | None = None) -> float:
    """Share of the first ``k`` ranked landmarks (default ``len(truth)``) that are in ``truth``."""
    truth_set = {int(i) for i in truth}
    k = len(truth_set) if k is None else int(k)
    if k < 1:
        raise ConfigError(f"precision@k needs k ≥ 1, got {k}")
    top = np.asarray(ranking)[:k]
    return float(sum(int(i) in truth_set for i in top)) / k


__all__ = [
    "BINARY_METRICS",
    "UNDEFINED",
    "binary_metrics",
    "confusion_matrix",
    "format_score",
    "is_defined",
    "multiclass_metrics",
    "precision_at_k",
    "roc_auc",
    "subject_folds",
    "summarise_folds",
    "summarise_values",
]

"""The report's numbers (``report.json``): per emotion the selected and the all-landmark
iteration, the most relevant landmarks and their face regions, precision@k against ground
truth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from emoflow.metrics import precision_at_k
from emoflow.report._drawing import FIGURES
from emoflow.report.inputs import ReportInputs, full_and_selected
from emoflow.report.settings import ReportSettings


def top_landmarks(scores: np.ndarray, k: int) -> np.ndarray:
    """Ids of the ``k`` most relevant landmarks (NaN scores never count), most relevant first."""
    scores = np.asarray(scores, dtype=np.float64)
    valid = np.flatnonzero(np.isfinite(scores))
    order = valid[np.argsort(-scores[valid], kind="stable")]
    return order[: max(int(k), 0)]


def ground_truth_precision(scores: np.ndarray, truth: Sequence[int], top_k: int) -> dict[str, Any]:
    """How many of the most relevant landmarks are ground-truth landmarks.

    Parameters
    ----------
    scores
        Relevance of every landmark, shape ``(n_landmarks,)``; NaN for landmarks not scored.
    truth
        Ground-truth landmark ids.
    top_k
        Upper bound on ``k``; ``k = min(top_k, len(truth))``.

    Returns
    -------
    dict
        ``k``, ``precision_at_k`` (share of the top ``k`` that are ground truth,
        :func:`emoflow.metrics.precision_at_k`), ``chance_level``
        (``len(truth) / n_scored``: the expected precision of a random ranking),
        ``n_ground_truth``, ``n_scored`` and ``hits`` (the ground-truth ids found).
    """
    truth_set = {int(i) for i in truth}
    n_scored = int(np.isfinite(np.asarray(scores, dtype=np.float64)).sum())
    k = min(int(top_k), len(truth_set))
    top = top_landmarks(scores, k)
    hits = sorted(int(i) for i in top if int(i) in truth_set)
    return {
        "k": k,
        "precision_at_k": precision_at_k(top, truth, k) if k else None,
        "chance_level": len(truth_set) / n_scored if n_scored else None,
        "n_ground_truth": len(truth_set),
        "n_scored": n_scored,
        "hits": hits,
    }


def _finite(value: Any) -> Any:
    """JSON-safe scalar: NaN and infinities become ``None``, NumPy scalars plain Python."""
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def report_numbers(inputs: ReportInputs, top_k: int = ReportSettings.top_k) -> dict[str, Any]:
    """The numbers of ``report.json``.

    Per emotion: the selected iteration; landmark count, validation balanced accuracy (mean
    and std), held-out test balanced accuracy, inference and training time and parameter
    count of the all-landmark and of the selected iteration; the
    ``top_k`` most relevant landmarks of iteration 0 and how many fall in each face region
    (regions may overlap); with ground truth, :func:`ground_truth_precision` and its chance level.
    """
    from emoflow.report._drawing import face_scheme

    region_of = face_scheme(int(inputs.scores.shape[1])).region_of
    emotions: dict[str, Any] = {}
    for e, emotion in enumerate(inputs.emotions):
        full, selected = full_and_selected(inputs.summary, emotion)
        top = top_landmarks(inputs.scores[e], top_k)
        entry: dict[str, Any] = {
            "selected_iteration": int(selected["iteration"]),
            "full_iteration": int(full["iteration"]),
        }
        for name in (
            "n_landmarks",
            "balanced_accuracy_mean",
            "balanced_accuracy_std",
            "test_balanced_accuracy",
            "inference_time_ms",
            "train_time_s",
            "n_parameters",
        ):
            short = name.removesuffix("_mean")
            entry[f"{short}_full"] = _finite(full.get(name, float("nan")))
            entry[f"{short}_selected"] = _finite(selected.get(name, float("nan")))
        entry["top_k"] = len(top)
        entry["top_k_landmarks"] = [int(i) for i in top]
        entry["top_k_regions"] = region_of(top)
        if inputs.ground_truth is not None:
            truth = inputs.ground_truth.get(emotion)
            if truth:
                entry.update(ground_truth_precision(inputs.scores[e], truth, top_k))
            else:
                entry.update({"k": 0, "precision_at_k": None, "chance_level": None})
        emotions[emotion] = entry
    first, last = inputs.metrics[0], inputs.metrics[-1]
    first_test = first.get("combined", {}).get("test") or {}
    last_test = last.get("combined", {}).get("test") or {}
    return {
        "iterations": inputs.iterations,
        "top_k": int(top_k),
        "ground_truth": inputs.ground_truth is not None,
        "combined_accuracy": {
            "first_iteration": inputs.iterations[0],
            "first": _finite(first.get("combined", {}).get("accuracy", float("nan"))),
            "first_test": _finite(first_test.get("accuracy", float("nan"))),
            "last_iteration": inputs.iterations[-1],
            "last": _finite(last.get("combined", {}).get("accuracy", float("nan"))),
            "last_test": _finite(last_test.get("accuracy", float("nan"))),
        },
        "figures": dict(FIGURES),
        "emotions": emotions,
    }


__all__ = ["full_and_selected", "ground_truth_precision", "report_numbers", "top_landmarks"]

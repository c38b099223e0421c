"""Platt calibration of a binary model's scores into probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np

from emoflow.errors import DataError


class PlattCalibrator:
    """Platt scaling: ``P(y = 1 | s) = 1 / (1 + exp(−(slope · s + intercept)))``.

    Fitted by Newton's method with a backtracking line search on Platt's smoothed targets
    ``(N₊ + 1) / (N₊ + 2)`` and ``1 / (N₋ + 2)``, which keep the fit finite on separable scores
    (Platt 1999; Lin, Lin & Weng 2007).

    Attributes
    ----------
    slope_, intercept_ : float
        The fitted map from scores to log-odds.
    """

    def __init__(self, *, max_iter: int = 100, tolerance: float = 1e-10) -> None:
        self.max_iter = max_iter
        self.tolerance = tolerance
        self.slope_: float | None = None
        self.intercept_: float | None = None

    def fit(self, scores: np.ndarray, labels: np.ndarray) -> PlattCalibrator:
        """Fit on finite ``scores`` with 0/1 ``labels`` of both classes."""
        scores = np.asarray(scores, dtype=np.float64)
        labels = np.asarray(labels).astype(bool)
        if scores.shape != labels.shape or not np.isfinite(scores).all():
            raise DataError("Platt calibration needs one finite score per label")
        n_positive, n_negative = int(labels.sum()), int((~labels).sum())
        if n_positive == 0 or n_negative == 0:
            raise DataError("Platt calibration needs scores of both classes")
        targets = np.where(
            labels, (n_positive + 1.0) / (n_positive + 2.0), 1.0 / (n_negative + 2.0)
        )
        design = np.column_stack([scores, np.ones_like(scores)])

        def loss(params: np.ndarray) -> float:
            logits = design @ params
            return float(np.sum(np.logaddexp(0.0, logits) - targets * logits))

        params = np.array([1.0, np.log((n_positive + 1.0) / (n_negative + 1.0))])
        current = loss(params)
        for _ in range(self.max_iter):
            probabilities = 1.0 / (1.0 + np.exp(-(design @ params)))
            gradient = design.T @ (probabilities - targets)
            curvature = probabilities * (1.0 - probabilities)
            hessian = design.T @ (design * curvature[:, None]) + 1e-12 * np.eye(2)
            step = np.linalg.solve(hessian, gradient)
            size = 1.0
            while size > 1e-10:
                candidate = params - size * step
                candidate_loss = loss(candidate)
                if candidate_loss <= current + 1e-4 * size * float(gradient @ -step):
                    break
                size /= 2.0
            else:
                break
            improvement = current - candidate_loss
            params, current = candidate, candidate_loss
            if abs(improvement) < self.tolerance * max(1.0, abs(current)):
                break
        self.slope_, self.intercept_ = float(params[0]), float(params[1])
        return self

    def predict_proba(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of the positive class, same shape as ``scores``."""
        if self.slope_ is None or self.intercept_ is None:
            raise DataError("the calibrator is not fitted yet")
        logits = self.slope_ * np.asarray(scores, dtype=np.float64) + self.intercept_
        return 1.0 / (1.0 + np.exp(-logits))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record, as stored in metrics and model metadata."""
        return {"method": "platt", "slope": self.slope_, "intercept": self.intercept_}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> PlattCalibrator:
        """The calibrator of a :meth:`to_dict` record."""
        if record.get("method") != "platt":
            raise DataError(f"not a Platt calibration record: {record}")
        calibrator = cls()
        calibrator.slope_ = float(record["slope"])
        calibrator.intercept_ = float(record["intercept"])
        return calibrator

"""Weighted ridge regression in closed form, for the randomized network's read-outs.

``β = argmin Σ w_i (y_i − D_i β)² + λ‖β‖²`` is taken in its primal or dual shape, whichever
matrix is smaller, in float64 with ``torch.linalg`` on CPU or CUDA; :func:`weighted_ridge_path`
solves many λ from one eigendecomposition.
"""

from __future__ import annotations

import numpy as np
import torch

from emoflow.models._inputs import sample_weights


def ridge_targets(
    labels: np.ndarray, class_weight: str, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets ``±1`` and sample weights, float64 on ``device``."""
    targets = torch.as_tensor(2.0 * labels - 1.0, dtype=torch.float64, device=device)
    weights = torch.as_tensor(
        sample_weights(labels, class_weight), dtype=torch.float64, device=device
    )
    return targets, weights


def weighted_ridge(
    design: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, ridge: float
) -> torch.Tensor:
    """Solve ``min Σ w_i (y_i − D_i β)² + λ‖β‖²`` in primal or dual form (float64)."""
    n_samples, n_features = design.shape
    root_w = weights.sqrt()
    weighted_design = design * root_w[:, None]
    weighted_targets = targets * root_w
    if n_features <= n_samples:
        gram = weighted_design.T @ weighted_design
        gram.diagonal().add_(ridge)
        return torch.linalg.solve(gram, weighted_design.T @ weighted_targets)
    kernel = weighted_design @ weighted_design.T
    kernel.diagonal().add_(ridge)
    return weighted_design.T @ torch.linalg.solve(kernel, weighted_targets)


def weighted_ridge_path(
    design: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, ridges: torch.Tensor
) -> torch.Tensor:
    """:func:`weighted_ridge` for many λ at once, ``(n_features, n_ridges)``.

    One symmetric eigendecomposition of the smaller of ``DᵀWD`` and ``W½DDᵀW½`` serves every λ:
    ``β(λ) = V (S + λ)⁻¹ Vᵀ DᵀWy`` (primal) or ``DᵀW½ U (S + λ)⁻¹ Uᵀ W½y`` (dual).
    """
    n_samples, n_features = design.shape
    root_w = weights.sqrt()
    weighted_design = design * root_w[:, None]
    weighted_targets = targets * root_w
    if n_features <= n_samples:
        eigenvalues, eigenvectors = torch.linalg.eigh(weighted_design.T @ weighted_design)
        projected = eigenvectors.T @ (weighted_design.T @ weighted_targets)
        return eigenvectors @ (projected[:, None] / (eigenvalues[:, None] + ridges[None, :]))
    eigenvalues, eigenvectors = torch.linalg.eigh(weighted_design @ weighted_design.T)
    projected = eigenvectors.T @ weighted_targets
    duals = eigenvectors @ (projected[:, None] / (eigenvalues[:, None] + ridges[None, :]))
    return weighted_design.T @ duals

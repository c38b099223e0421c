"""Weighted ridge regression in closed form, for the randomized network's read-outs.

``β = argmin Σ w_i (y_i − D_i β)² + λ‖β‖²`` is taken in its primal or dual shape, whichever
matrix is smaller, in float64 with ``torch.linalg`` on CPU or CUDA; :func:`weighted_ridge_path`
solves many λ from one eigendecomposition.

The design ``D`` (``n × d``; ``d`` is about 12k at 478 landmarks with direct links) is never
held whole in float64: a :class:`DesignRows` hands out row blocks of samples in float32, the
Gram matrix ``DᵀWD`` (primal) or kernel ``W½DDᵀW½`` (dual) is accumulated from them in
float64, and ``β = DᵀW½α`` of the dual is gathered block by block too. Memory is the ``d × d``
or ``n × n`` matrix plus one block, whichever shape is smaller.

On the CPU the primal Gram matrix is symmetric positive definite and held in LAPACK's
*rectangular full packed* format (``dpftrf``/``dpftrs``): its lower triangle only, half the
memory of the full matrix, factorised by Cholesky with level-3 BLAS. At 16k samples of 478
landmarks (a design of ~12k columns) that is 0.58 GB instead of 1.15 GB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from emoflow.models._inputs import sample_weights

_BLOCK_BYTES = 32 * 2**20
"""Float64 bytes of one row block of the design."""


@dataclass(frozen=True)
class DesignRows:
    """A design ``D`` given by blocks: ``rows(start, stop)`` is ``D[start:stop]`` and
    ``columns(start, stop)`` is ``D[:, start:stop]``.

    Blocks may be float32; they are weighted and accumulated in float64.
    """

    n_samples: int
    n_features: int
    rows: Callable[[int, int], torch.Tensor]
    columns: Callable[[int, int], torch.Tensor]

    @classmethod
    def of(cls, design: torch.Tensor) -> DesignRows:
        """A design held whole (small problems, tests)."""
        return cls(
            len(design),
            design.shape[1],
            lambda start, stop: design[start:stop],
            lambda start, stop: design[:, start:stop],
        )

    def blocks(self) -> Iterator[tuple[int, int]]:
        """``(start, stop)`` of the row blocks, each about :data:`_BLOCK_BYTES` in float64."""
        size = max(64, _BLOCK_BYTES // (8 * max(self.n_features, 1)))
        for start in range(0, self.n_samples, size):
            yield start, min(start + size, self.n_samples)

    def weighted(self, start: int, stop: int, root_w: torch.Tensor) -> torch.Tensor:
        """``W½ D[start:stop]`` in float64."""
        return self.rows(start, stop).double() * root_w[start:stop, None]


def ridge_targets(
    labels: np.ndarray, class_weight: str, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets ``±1`` and sample weights, float64 on ``device``."""
    targets = torch.as_tensor(2.0 * labels - 1.0, dtype=torch.float64, device=device)
    weights = torch.as_tensor(
        sample_weights(labels, class_weight), dtype=torch.float64, device=device
    )
    return targets, weights


def _as_rows(design: torch.Tensor | DesignRows) -> DesignRows:
    return design if isinstance(design, DesignRows) else DesignRows.of(design)


def _gram(
    design: DesignRows, root_w: torch.Tensor, weighted_targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``DᵀWD`` and ``DᵀW½(W½y)``, accumulated over row blocks (float64, ``d × d``)."""
    device = root_w.device
    gram = torch.zeros(design.n_features, design.n_features, dtype=torch.float64, device=device)
    rhs = torch.zeros(design.n_features, dtype=torch.float64, device=device)
    for start, stop in design.blocks():
        block = design.weighted(start, stop, root_w)
        gram.addmm_(block.T, block)
        rhs.addmv_(block.T, weighted_targets[start:stop])
    return gram, rhs


def _kernel(design: DesignRows, root_w: torch.Tensor) -> torch.Tensor:
    """``W½DDᵀW½``, accumulated over column blocks of the design (float64, ``n × n``)."""
    n = design.n_samples
    kernel = torch.zeros(n, n, dtype=torch.float64, device=root_w.device)
    size = max(64, _BLOCK_BYTES // (8 * max(n, 1)))
    for start in range(0, design.n_features, size):
        block = design.columns(start, min(start + size, design.n_features))
        weighted = block.double() * root_w[:, None]
        kernel.addmm_(weighted, weighted.T)
    return kernel


def _transpose_times(design: DesignRows, root_w: torch.Tensor, duals: torch.Tensor) -> torch.Tensor:
    """``DᵀW½ duals`` over row blocks; ``duals`` is ``(n,)`` or ``(n, k)``."""
    shape = (design.n_features, *duals.shape[1:])
    total = torch.zeros(shape, dtype=torch.float64, device=root_w.device)
    for start, stop in design.blocks():
        total += design.weighted(start, stop, root_w).T @ duals[start:stop]
    return total


def _solve_in_place(matrix: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """``matrix⁻¹ rhs`` by LU (as ``torch.linalg.solve``) for a symmetric ``matrix``,
    factorised over its own storage.

    LAPACK works on column-major matrices; the transposed view of a row-major symmetric matrix
    is column-major and the same matrix, so no copy is made (``torch.linalg.solve`` copies).
    """
    lu = matrix.mT
    pivots = torch.empty(len(matrix), dtype=torch.int32, device=matrix.device)
    info = torch.empty((), dtype=torch.int32, device=matrix.device)
    torch.linalg.lu_factor_ex(lu, out=(lu, pivots, info))
    return torch.linalg.lu_solve(lu, pivots, rhs[:, None])[:, 0]


def _packed_gram_solve(
    design: DesignRows, root_w: torch.Tensor, weighted_targets: torch.Tensor, ridge: float
) -> torch.Tensor:
    """``(DᵀWD + λI)⁻¹ DᵀW½(W½y)`` with the Gram matrix in rectangular full packed format.

    With ``N`` even (one zero column is appended when ``d`` is odd) and ``k = N/2``, the
    format (``transr='N'``, ``uplo='L'``) stores the lower triangle of the ``N × N`` matrix
    ``G`` in ``(N + 1) × k`` numbers; viewed row-major as ``A`` of shape ``k × (N + 1)``:
    ``A[j, 1 + i] = G[j, i]`` for ``j ≤ i`` (the first ``k`` rows' upper parts) and
    ``A[j, i] = G[k + j, k + i]`` for ``i ≤ j`` (the last ``k`` rows' lower parts). Both are
    summed over the design's row blocks, tile by tile of ``k`` rows, so no ``N × N`` matrix is
    ever held.
    """
    from scipy.linalg import lapack

    n_features = design.n_features
    size = n_features + n_features % 2
    half = size // 2
    packed = np.zeros((half, size + 1), dtype=np.float64)
    upper = torch.from_numpy(packed)  # shares the memory
    rhs = torch.zeros(size, dtype=torch.float64)
    tile = 256
    for start, stop in design.blocks():
        block = design.weighted(start, stop, root_w)
        if size != n_features:
            block = torch.nn.functional.pad(block, (0, 1))
        rhs.addmv_(block.T, weighted_targets[start:stop])
        for first in range(0, half, tile):
            last = min(first + tile, half)
            rows = block[:, first:last].T
            upper[first:last, 1 + last :].addmm_(rows, block[:, last:])
            upper[first:last, 1 + first : 1 + last] += torch.triu(rows @ block[:, first:last])
            lower_rows = block[:, half + first : half + last].T
            upper[first:last, :first].addmm_(lower_rows, block[:, half : half + first])
            upper[first:last, first:last] += torch.tril(
                lower_rows @ block[:, half + first : half + last]
            )
    diagonal = np.arange(half)
    packed[diagonal, 1 + diagonal] += ridge
    packed[diagonal, diagonal] += ridge
    if size != n_features:  # the appended column: G = 1 + λ there, its right-hand side 0
        packed[half - 1, half - 1] = 1.0 + ridge
    flat = packed.reshape(-1)
    factor, info = lapack.dpftrf(size, flat, transr="N", uplo="L", overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky of the ridge Gram matrix failed (info {info})")
    solution, info = lapack.dpftrs(
        size, factor, rhs.numpy()[:, None], transr="N", uplo="L", overwrite_b=1
    )
    if info != 0:
        raise np.linalg.LinAlgError(f"solving the ridge system failed (info {info})")
    return torch.from_numpy(np.ascontiguousarray(solution[:n_features, 0]))


def weighted_ridge(
    design: torch.Tensor | DesignRows, targets: torch.Tensor, weights: torch.Tensor, ridge: float
) -> torch.Tensor:
    """Solve ``min Σ w_i (y_i − D_i β)² + λ‖β‖²`` in primal or dual form (float64)."""
    rows = _as_rows(design)
    root_w = weights.sqrt()
    weighted_targets = targets * root_w
    if rows.n_features <= rows.n_samples:
        if root_w.device.type == "cpu":
            return _packed_gram_solve(rows, root_w, weighted_targets, ridge)
        gram, rhs = _gram(rows, root_w, weighted_targets)
        gram.diagonal().add_(ridge)
        return _solve_in_place(gram, rhs)
    kernel = _kernel(rows, root_w)
    kernel.diagonal().add_(ridge)
    duals = _solve_in_place(kernel, weighted_targets)
    del kernel
    return _transpose_times(rows, root_w, duals)


def weighted_ridge_path(
    design: torch.Tensor | DesignRows,
    targets: torch.Tensor,
    weights: torch.Tensor,
    ridges: torch.Tensor,
) -> torch.Tensor:
    """:func:`weighted_ridge` for many λ at once, ``(n_features, n_ridges)``.

    One symmetric eigendecomposition of the smaller of ``DᵀWD`` and ``W½DDᵀW½`` serves every λ:
    ``β(λ) = V (S + λ)⁻¹ Vᵀ DᵀWy`` (primal) or ``DᵀW½ U (S + λ)⁻¹ Uᵀ W½y`` (dual).
    """
    rows = _as_rows(design)
    root_w = weights.sqrt()
    weighted_targets = targets * root_w
    if rows.n_features <= rows.n_samples:
        gram, rhs = _gram(rows, root_w, weighted_targets)
        eigenvalues, eigenvectors = torch.linalg.eigh(gram)
        del gram
        projected = eigenvectors.T @ rhs
        return eigenvectors @ (projected[:, None] / (eigenvalues[:, None] + ridges[None, :]))
    eigenvalues, eigenvectors = torch.linalg.eigh(_kernel(rows, root_w))
    projected = eigenvectors.T @ weighted_targets
    duals = eigenvectors @ (projected[:, None] / (eigenvalues[:, None] + ridges[None, :]))
    del eigenvectors
    return _transpose_times(rows, root_w, duals)

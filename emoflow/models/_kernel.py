r"""What every fit of one training job shares: the development kernel, built once and sliced.

A training job fits the randomized network many times on subsets of the same development
samples: three inner folds and a fit in each outer fold, three inner folds and the final fit
on all of them, for every λ of the grid — sixteen designs of up to ``n × d`` (``d`` ≈ 12k at
478 landmarks) and, where ``d`` exceeds the subset's size (the dual form), sixteen ``m × m``
kernels of ``O(m² d)`` each. With one scale for all inputs (``standardise: global``) every one
of those kernels is a slice of two products of the raw inputs ``X`` (``n × p``, float32),
computed once per job and landmark set in float64:

.. math::

    G = X X^\top, \qquad P = X W_1^\top \quad (\text{per drawn first layer } W_1).

For the subset ``S`` (``m`` samples) with mean :math:`\mu = \frac1m \sum_{j \in S} x_j` and
scale ``s``, the standardised inputs :math:`H_0 = (X_S - 1\mu^\top)/s` give

.. math::

    H_0 H_0^\top = \big(G_{SS} - a 1^\top - 1 a^\top + \bar g\big) / s^2, \quad
    a_i = \tfrac1m \textstyle\sum_{j \in S} G_{ij}, \quad \bar g = \tfrac1{m^2} 1^\top G_{SS} 1,

    s^2 = \big(\textstyle\sum_{i \in S} G_{ii} - m \bar g\big) / (m p - 1),

and the first hidden layer :math:`H_1 = g\big((P_S - 1 \bar P_S^\top)/s + b_1\big)`; the other
layers are ``width``-sized. So a fold's kernel :math:`K = D D^\top` (direct links: ``H₀H₀ᵀ``
plus every hidden block's, plus the bias column's ones) costs ``O(m² · width)`` instead of
``O(m² d)``, its scores on the fold's other samples (``G_ES``) likewise, and the standardisation
(mean and scale) is learnt from the fold's own samples only: nothing leaks across folds. The
weighted ridge read-out is then solved in the dual. A ridge path takes one decomposition: a
float32 Cholesky factorisation of ``K + λ_min I`` (half the time of a float64 one) preconditions
conjugate gradients in float64 on every ``K + λI`` at once, each step one pass over ``K`` for
all λ, to a backward error of :data:`CG_TOLERANCE` (an ``m × m`` Cholesky costs a twentieth
of the symmetric eigendecomposition that would also serve every λ); a λ not solved in
:data:`CG_STEPS` steps gets a float32 factorisation of its own (a fit, one λ, starts there),
and one not solved then a float64 Cholesky factorisation, as before. The read-out weights of
a model are gathered as :math:`\beta = D^\top W^{1/2} \alpha` in one pass over ``X_S``.

Against fitting each subset from scratch (:meth:`RandomizedDeepNetwork.fit`,
:func:`~emoflow.models.rvfl.ridge_path_scores`) the results differ only by rounding: the products
are float64 sums of the float32 inputs (where a fit from scratch rounds the standardised inputs
to float32 first), the mean is the exact float64 mean (stored as float32, as a fit stores it),
and the λ-path is solved by preconditioned conjugate gradients instead of an eigendecomposition
(``tests/test_training_kernel.py`` holds the decision functions within
:data:`SCORE_TOLERANCE`).

Where the products do not apply — another model kind, ``standardise: feature`` (a scale per
input cannot be taken out of ``G``), or a subset at least as large as the design is wide (the
primal form, whose ``d × d`` Gram matrix is not a slice of anything) — the caller fits from
scratch (:meth:`SharedProducts.covers`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from emoflow.errors import ConfigError, DataError
from emoflow.models._base import BaseModel, InputRows
from emoflow.models._inputs import as_float_array, resolve_device
from emoflow.models._ridge import ridge_targets
from emoflow.models.rvfl import NetworkSettings, RandomizedDeepNetwork

SCORE_TOLERANCE = 1e-5
"""Largest difference of a decision function from the same fit from scratch, relative to the
largest score magnitude (the tests' bar; float32 rounding of the scores is ~1e-7)."""
CG_TOLERANCE = 1e-13
"""Normwise backward error to which the conjugate gradients of a ridge path solve each λ
(:func:`_preconditioned_path`); a float64 Cholesky solve reaches about 1e-16."""
CG_STEPS = 10
"""Conjugate-gradient steps per preconditioner of a ridge path (about one float64 Cholesky
factorisation's time): the λ not solved by then get a factorisation of their own."""
_CHUNK_BYTES = 64 * 2**20
"""Float64 bytes of one chunk of the inputs converted at a time."""


@dataclass
class _Subset:
    """A training subset's standardisation and hidden layers, as a fit would learn them."""

    rows: torch.Tensor
    """Indices of the subset's samples among the products' rows."""
    mean_kernel: torch.Tensor
    """``a``: the mean of ``G`` over the subset's columns, for every product row (n,)."""
    grand_mean: float
    """``ḡ``: the mean of ``G_SS``."""
    scale: float
    """The standardisation's one scale (float32-representable)."""
    first_means: list[torch.Tensor]
    """Per member, the subset's mean of ``P`` (the mean input times ``W₁ᵀ``)."""
    network: RandomizedDeepNetwork
    """The network with its drawn layers (read-out not fitted)."""


class SharedProducts:
    """The development inputs of a training job and the products every fit on them shares.

    Parameters
    ----------
    inputs
        ``(n_samples, *sample_shape)``: every sample any fit of the job trains on or scores
        (the development samples), on one landmark set. Kept, not copied (float32).
    device
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.

    Attributes
    ----------
    seconds : float
        Wall time spent building the shared products so far.

    Examples
    --------
    >>> products = SharedProducts(inputs)
    >>> scores = products.path_scores(settings, train, labels, test, [0.1, 1.0, 10.0])
    >>> model = products.fit(settings, train, labels)   # a fitted RandomizedDeepNetwork
    """

    def __init__(self, inputs: np.ndarray, *, device: str = "auto") -> None:
        self.array = as_float_array(inputs)
        if self.array.ndim < 2:
            raise DataError(f"inputs of shape {self.array.shape} have no sample axis")
        self.device = resolve_device(device)
        self.input_shape = tuple(int(n) for n in self.array.shape[1:])
        self.n_inputs = int(np.prod(self.input_shape))
        self._flat = torch.as_tensor(
            self.array.reshape(len(self.array), self.n_inputs), device=self.device
        )
        self._gram: torch.Tensor | None = None
        self._first: dict[tuple[Any, ...], list[torch.Tensor]] = {}
        self.seconds = 0.0

    def __len__(self) -> int:
        return len(self.array)

    # -- what applies --------------------------------------------------------------------------
    @staticmethod
    def applies(model_class: type, settings: Any) -> bool:
        """Whether fits of ``model_class`` with ``settings`` can use shared products."""
        return (
            issubclass(model_class, RandomizedDeepNetwork)
            and isinstance(settings, NetworkSettings)
            and settings.standardise == "global"
        )

    def covers(self, settings: Any, n_train: int) -> bool:
        """Whether a fit on ``n_train`` samples is taken from the products: the dual form
        (the design is wider than the subset is long), as :func:`weighted_ridge` chooses."""
        if not self.applies(RandomizedDeepNetwork, settings):
            return False
        network = RandomizedDeepNetwork(settings)
        network.input_shape_ = self.input_shape
        return network.n_head_features() > n_train

    # -- the products --------------------------------------------------------------------------
    def _chunks(self) -> list[tuple[int, int]]:
        size = max(256, _CHUNK_BYTES // (8 * max(len(self), 1)))
        return [(c, min(c + size, self.n_inputs)) for c in range(0, self.n_inputs, size)]

    def gram(self) -> torch.Tensor:
        """``G = X Xᵀ`` of every product row, float64 ``(n, n)``, computed once.

        Summed over chunks of input columns, each converted to float64 once; of each chunk's
        product only the lower block triangle is formed (a symmetric rank-k update by row
        blocks, about 56 % of a full product), then mirrored.
        """
        if self._gram is None:
            start = time.perf_counter()
            n = len(self)
            gram = torch.zeros(n, n, dtype=torch.float64, device=self.device)
            blocks = _row_blocks(n)
            for first, last in self._chunks():
                chunk = self._flat[:, first:last].double()
                for low, high in blocks:
                    gram[low:high, :high].addmm_(chunk[low:high], chunk[:high].T)
                del chunk
            for low, high in blocks:  # the upper block triangle from the lower one
                gram[:low, low:high] = gram[low:high, :low].T
            self._gram = gram
            self.seconds += time.perf_counter() - start
        return self._gram

    def _first_layers(self, network: RandomizedDeepNetwork) -> list[torch.Tensor]:
        """``P = X W₁ᵀ`` of every member's drawn first layer, float64 ``(n, width)``."""
        settings = network.settings
        key = (
            settings.width,
            settings.n_layers,
            settings.n_members,
            settings.weight_scale,
            settings.seed,
        )
        if key not in self._first:
            start = time.perf_counter()
            weights = [_layers(stack)[0].weight for stack in network.hidden_]
            products = [
                torch.zeros(len(self), settings.width, dtype=torch.float64, device=self.device)
                for _ in weights
            ]
            for first, last in self._chunks():
                chunk = self._flat[:, first:last].double()
                for product, weight in zip(products, weights, strict=True):
                    product.addmm_(chunk, weight[:, first:last].double().T)
                del chunk
            self._first = {key: products}  # one draw at a time: a new width replaces the last
            self.seconds += time.perf_counter() - start
        return self._first[key]

    # -- one subset ----------------------------------------------------------------------------
    def _rows(self, index: np.ndarray | Sequence[int]) -> torch.Tensor:
        rows = np.asarray(index, dtype=np.int64).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise DataError(f"sample indices outside the {len(self)} shared samples")
        return torch.as_tensor(rows, device=self.device)

    def _subset(
        self,
        settings: NetworkSettings,
        train: np.ndarray,
        network: RandomizedDeepNetwork | None = None,
    ) -> _Subset:
        rows = self._rows(train)
        m = len(rows)
        if m < 2:
            raise DataError(f"a fit needs at least 2 samples, got {m}")
        gram = self.gram()
        indicator = torch.zeros(len(self), dtype=torch.float64, device=self.device)
        indicator[rows] = 1.0 / m
        mean_kernel = gram @ indicator  # a, for every row
        grand_mean = float(mean_kernel[rows].mean())
        spread = float(gram.diagonal()[rows].sum()) - m * grand_mean
        # the one scale, as a float32 number (the model stores it as one)
        variance = max(spread, 0.0) / max(m * self.n_inputs - 1, 1)
        scale = float(np.float32(max(np.sqrt(variance), 1e-6)))
        if network is None:
            network = RandomizedDeepNetwork(settings, device=str(self.device))
        network._build(self.input_shape, self.device)
        first = self._first_layers(network)
        first_means = [product.index_select(0, rows).mean(dim=0) for product in first]
        return _Subset(rows, mean_kernel, grand_mean, scale, first_means, network)

    def _hidden(self, subset: _Subset, rows: torch.Tensor) -> list[tuple[bool, list[torch.Tensor]]]:
        """Per read-out of the network: whether it sees the inputs, and its hidden blocks for
        ``rows`` (float64), as :meth:`RandomizedDeepNetwork._hidden_heads` gives them."""
        network = subset.network
        heads: list[tuple[bool, list[torch.Tensor]]] = []
        first = self._first_layers(network)
        for stack, product, mean in zip(network.hidden_, first, subset.first_means, strict=True):
            layers = _layers(stack)
            bias = layers[0].bias.double()
            hidden = network._activation(
                (product.index_select(0, rows) - mean) / subset.scale + bias
            )
            activations = [hidden]
            for layer in layers[1:]:
                hidden = network._activation(
                    torch.addmm(layer.bias.double(), hidden, layer.weight.double().T)
                )
                activations.append(hidden)
            heads.extend(network._read_outs(activations))
        return heads

    def _direct_kernel(
        self, subset: _Subset, left: torch.Tensor, right: torch.Tensor
    ) -> torch.Tensor:
        """``H₀[left] H₀[right]ᵀ`` of the subset's standardisation, float64."""
        block = self.gram()[left[:, None], right[None, :]]
        block.sub_(subset.mean_kernel[left][:, None]).sub_(subset.mean_kernel[right][None, :])
        block.add_(subset.grand_mean).div_(subset.scale**2)
        return block

    def _kernel(
        self,
        subset: _Subset,
        head: tuple[bool, list[torch.Tensor]],
        left: torch.Tensor,
        right: tuple[torch.Tensor, tuple[bool, list[torch.Tensor]]] | None = None,
    ) -> torch.Tensor:
        """One read-out's kernel ``D[left] D[right]ᵀ`` (``right`` ``None``: ``left``), from
        its hidden blocks of ``left`` (and of ``right``: ``(rows, head)``), float64.

        The symmetric kernel of ``left`` with itself takes the hidden blocks' products of its
        lower block triangle only (about 56 % of the full products) and mirrors them.
        """
        right_rows, right_head = (left, head) if right is None else right
        sees_inputs, blocks = head
        if sees_inputs:
            kernel = self._direct_kernel(subset, left, right_rows)
        else:
            kernel = torch.zeros(
                len(left), len(right_rows), dtype=torch.float64, device=self.device
            )
        if right is not None:
            for block, block_right in zip(blocks, right_head[1], strict=True):
                kernel.addmm_(block, block_right.T)
            return kernel.add_(1.0)  # the bias column
        bounds = _row_blocks(len(left))
        for low, high in bounds:
            for block in blocks:
                kernel[low:high, :high].addmm_(block[low:high], block[:high].T)
        for low, high in bounds:  # the upper block triangle from the lower one
            kernel[:low, low:high] = kernel[low:high, :low].T
        return kernel.add_(1.0)  # the bias column

    # -- fits ----------------------------------------------------------------------------------
    def path_scores(
        self,
        settings: NetworkSettings,
        train: np.ndarray,
        labels: np.ndarray,
        evaluate: np.ndarray,
        ridges: Sequence[float],
    ) -> np.ndarray:
        """Scores of the samples ``evaluate`` under the network fitted on the samples
        ``train`` (0/1 ``labels``) with each ridge λ of ``ridges``, ``(len(ridges),
        len(evaluate))``: :func:`~emoflow.models.rvfl.ridge_path_scores` from the shared products
        (``settings.ridge`` is ignored)."""
        ridge_values = [float(r) for r in ridges]
        if not ridge_values or min(ridge_values) <= 0:
            raise ConfigError(f"ridge values must be > 0, got {ridge_values}")
        subset = self._subset(settings, train)
        targets, weights = ridge_targets(np.asarray(labels), settings.class_weight, self.device)
        root_w = weights.sqrt()
        weighted_targets = targets * root_w
        eval_rows = self._rows(evaluate)
        with torch.no_grad():
            heads = self._hidden(subset, subset.rows)
            eval_heads = self._hidden(subset, eval_rows)
            total = torch.zeros(len(ridge_values), len(eval_rows), dtype=torch.float64)
            for head, eval_head in zip(heads, eval_heads, strict=True):
                kernel = self._kernel(subset, head, subset.rows)
                kernel.mul_(root_w[:, None]).mul_(root_w[None, :])
                duals = _dual_path(kernel, weighted_targets, ridge_values)  # (m, n_ridges)
                del kernel
                cross = self._kernel(subset, eval_head, eval_rows, (subset.rows, head))
                assert duals is not None
                total += (cross @ (duals * root_w[:, None])).T.cpu()
        return (total / len(heads)).numpy()

    def rows(self, index: np.ndarray | Sequence[int]) -> SharedRows:
        """The samples ``index`` (positions) as training inputs of
        :meth:`~emoflow.models.BaseModel.fit`: ``model.fit(products.rows(train), labels)``."""
        return SharedRows(self, np.asarray(index, dtype=np.int64).reshape(-1))

    def fit(
        self,
        settings: NetworkSettings,
        train: np.ndarray,
        labels: np.ndarray,
        *,
        into: RandomizedDeepNetwork | None = None,
    ) -> RandomizedDeepNetwork:
        """The network fitted on the samples ``train`` (positions) with 0/1 ``labels``, as
        ``RandomizedDeepNetwork(settings).fit(inputs[train], labels)`` fits it (the same
        standardisation, drawn layers and read-outs, to rounding); ``into``: the network to
        fit (built anew, as its ``fit`` builds it), else a new one."""
        labels_np = np.asarray(labels).astype(np.int64)
        if labels_np.shape != (len(np.asarray(train).reshape(-1)),):
            raise DataError("one label per training sample is needed")
        if labels_np.min() == labels_np.max():
            raise DataError(
                f"training labels hold {int(labels_np.sum())} positive of {len(labels_np)} "
                "samples: a binary model needs both classes"
            )
        subset = self._subset(settings, train, into)
        network = subset.network
        targets, weights = ridge_targets(labels_np, settings.class_weight, self.device)
        root_w = weights.sqrt()
        with torch.no_grad():
            heads = self._hidden(subset, subset.rows)
            duals = []
            for head in heads:
                kernel = self._kernel(subset, head, subset.rows)
                kernel.mul_(root_w[:, None]).mul_(root_w[None, :])
                weighted_targets = targets * root_w
                path, converged = _preconditioned_path(kernel, weighted_targets, [settings.ridge])
                solved: torch.Tensor | None = path
                if not bool(converged[0]):  # a float64 factorisation, in K itself
                    solved = _dual_path(kernel, weighted_targets, [settings.ridge], in_place=True)
                del kernel
                if solved is None:  # not positive definite to rounding: LU on it again
                    kernel = self._kernel(subset, head, subset.rows)
                    kernel.mul_(root_w[:, None]).mul_(root_w[None, :])
                    kernel.diagonal().add_(settings.ridge)
                    solved = torch.linalg.solve(kernel, (targets * root_w)[:, None])
                    del kernel
                duals.append(solved[:, 0] * root_w)
            # Xᵀ of the subset times [1/m, duals…]: the mean input and the direct links' β
            m = len(subset.rows)
            ones = torch.full((m,), 1.0 / m, dtype=torch.float64, device=self.device)
            totals = self._transpose_times(subset.rows, torch.stack([ones, *duals], 1))
            mean = totals[:, 0]
            network.input_mean_.copy_(mean)
            network.input_scale_.fill_(subset.scale)
            for k, ((sees_inputs, blocks), dual) in enumerate(zip(heads, duals, strict=True)):
                parts = []
                if sees_inputs:
                    parts.append((totals[:, 1 + k] - mean * dual.sum()) / subset.scale)
                parts.extend(block.T @ dual for block in blocks)
                parts.append(dual.sum().reshape(1))
                network.readout_[k].copy_(torch.cat(parts))
        return network

    def _transpose_times(self, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """``X[rows]ᵀ columns`` in float64, ``(n_inputs, k)``, over blocks of rows."""
        total = torch.zeros(
            self.n_inputs, columns.shape[1], dtype=torch.float64, device=self.device
        )
        size = max(64, _CHUNK_BYTES // (8 * self.n_inputs))
        for start in range(0, len(rows), size):
            part = rows[start : start + size]
            total.addmm_(self._flat.index_select(0, part).double().T, columns[start : start + size])
        return total


def _row_blocks(n: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of the row blocks of a symmetric ``n × n`` product formed by its lower
    block triangle: eight blocks, of at least 256 rows."""
    size = max(256, -(-n // 8))
    return [(r, min(r + size, n)) for r in range(0, n, size)]


def _layers(stack: nn.Module) -> list[nn.Linear]:
    """The layers of one member's hidden stack."""
    return cast(list[nn.Linear], list(cast(nn.ModuleList, stack)))


class SharedRows(InputRows):
    """Some samples of :class:`SharedProducts`, as training inputs of a model's ``fit``
    (:meth:`SharedProducts.rows`): a randomized network with settings the products cover is
    fitted from them (:meth:`SharedProducts.fit`)."""

    def __init__(self, products: SharedProducts, positions: np.ndarray) -> None:
        self.products, self.positions = products, positions

    def __len__(self) -> int:
        return len(self.positions)

    def fit_model(self, model: BaseModel, labels: np.ndarray) -> None:
        """Fit ``model`` (a :class:`RandomizedDeepNetwork`) on these rows, in place."""
        if not isinstance(model, RandomizedDeepNetwork) or not self.products.covers(
            model.settings, len(self.positions)
        ):
            raise ConfigError(
                f"a {type(model).__name__} with {model.settings} cannot be fitted from the "
                f"shared products of {len(self.products)} samples"
            )
        self.products.fit(model.settings, self.positions, labels, into=model)


def _dual_path(
    kernel: torch.Tensor,
    weighted_targets: torch.Tensor,
    ridges: Sequence[float],
    *,
    in_place: bool = False,
) -> torch.Tensor | None:
    """``(K + λI)⁻¹ W½y`` for each λ, ``(m, len(ridges))``, for a weighted kernel ``K``.

    Without ``in_place`` (``K`` kept), float32 factorisations precondition conjugate gradients
    on every λ (:func:`_preconditioned_path`: one for the whole path where it suffices); a λ
    they do not solve to :data:`CG_TOLERANCE` gets a float64 Cholesky factorisation of
    ``K + λI``, in one working copy of ``K`` (with ``in_place``, in ``K`` itself, which is
    then lost: one λ only, and no float32 step). The factorisation works on the column-major
    view of the row-major (symmetric) matrix, so LAPACK factors it where it lies, and the
    solves are two triangular ones (``cholesky_solve`` and a row-major factor each copy the
    matrix). A factorisation that fails (``K + λI`` not positive definite to rounding) is
    solved by LU on ``K + λI``; with ``in_place``, ``None`` is returned instead (rebuild
    ``K``).
    """
    m = len(kernel)
    rhs = weighted_targets[:, None]
    if in_place and len(ridges) != 1:
        raise ValueError("an in-place factorisation serves one λ")
    solutions = torch.empty(m, len(ridges), dtype=kernel.dtype, device=kernel.device)
    todo = list(range(len(ridges)))
    if not in_place:
        path, converged = _preconditioned_path(kernel, weighted_targets, ridges)
        solutions.copy_(path)
        todo = [j for j in todo if not bool(converged[j])]
        if not todo:
            return solutions
    info = torch.empty((), dtype=torch.int32, device=kernel.device)
    work = kernel if in_place else torch.empty_like(kernel)
    for j in todo:
        ridge = ridges[j]
        if not in_place:
            work.copy_(kernel)
        work.diagonal().add_(ridge)
        factor = work.mT  # column-major: the same matrix, factored in its own storage
        torch.linalg.cholesky_ex(factor, out=(factor, info))
        if int(info) == 0:
            half = torch.linalg.solve_triangular(factor, rhs, upper=False)
            solutions[:, j] = torch.linalg.solve_triangular(factor.mT, half, upper=True)[:, 0]
        elif in_place:
            return None
        else:
            work.copy_(kernel)
            work.diagonal().add_(ridge)
            solutions[:, j] = torch.linalg.solve(work, rhs)[:, 0]
    return solutions


def _preconditioned_path(
    kernel: torch.Tensor, weighted_targets: torch.Tensor, ridges: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(K + λI)⁻¹ W½y`` for every λ by conjugate gradients in float64, preconditioned by
    float32 Cholesky factorisations (half the time of a float64 one).

    First one factorisation of ``K + λ₀I`` (``λ₀`` the smallest λ) serves every λ, all of them
    at once (each step one pass over ``K`` and the factor for every λ together): the
    preconditioned matrix has eigenvalues ``(σ + λ)/(σ + λ₀)`` for the eigenvalues ``σ`` of
    ``K``, so λ near ``λ₀``, or small against ``K``'s smallest eigenvalues, converge in a few
    steps. A λ not solved in :data:`CG_STEPS` steps then gets a float32 factorisation of its
    own ``K + λI``, which leaves only float32 rounding to correct (a few steps more), one λ
    at a time (memory: ``K`` and one float32 factor, less than ``K`` and the float64 working
    copy of a factorisation per λ).

    Returns the solutions ``(m, len(ridges))`` and which of them converged: the residual
    ``‖W½y − (K + λI)x‖`` (recomputed from ``x``, not the recurrence's) at most
    :data:`CG_TOLERANCE` times ``‖K + λI‖ ‖x‖ + ‖W½y‖`` (``‖K + λI‖`` bounded below by the
    largest diagonal entry), a normwise backward error as a float64 factorisation gives to
    within a few hundred roundings; the others are left to a float64 factorisation.
    """
    k = len(ridges)
    ridge_t = torch.as_tensor(ridges, dtype=kernel.dtype, device=kernel.device)
    solutions = torch.zeros(len(kernel), k, dtype=kernel.dtype, device=kernel.device)
    converged = torch.zeros(k, dtype=torch.bool, device=kernel.device)
    shared = _float32_factor(kernel, min(ridges))
    if shared is not None:
        converged = _conjugate_gradients(kernel, weighted_targets, ridge_t, solutions, shared)
        del shared
    for j in range(k):  # one at a time: one factor held at a time
        if bool(converged[j]) or (own := _float32_factor(kernel, ridges[j])) is None:
            continue
        part = solutions[:, j : j + 1]  # a view: updated in place
        converged[j] = _conjugate_gradients(
            kernel, weighted_targets, ridge_t[j : j + 1], part, own
        )[0]
        del own
    return solutions, converged


def _float32_factor(kernel: torch.Tensor, ridge: float) -> torch.Tensor | None:
    """The float32 Cholesky factor of ``K + λI`` (lower, column-major), or ``None`` where
    ``K + λI`` is not positive definite in float32."""
    factor = kernel.to(torch.float32)  # a copy, row-major; its transpose is column-major
    factor.diagonal().add_(ridge)
    lower = factor.mT
    info = torch.empty((), dtype=torch.int32, device=kernel.device)
    torch.linalg.cholesky_ex(lower, out=(lower, info))
    return lower if int(info) == 0 else None


def _conjugate_gradients(
    kernel: torch.Tensor,
    weighted_targets: torch.Tensor,
    ridges: torch.Tensor,
    solutions: torch.Tensor,
    lower: torch.Tensor,
) -> torch.Tensor:
    """At most :data:`CG_STEPS` steps of preconditioned conjugate gradients on
    ``(K + λ_j I) x_j = W½y`` for each column ``j`` of ``solutions`` (updated in place, the
    starting point), preconditioned by the float32 Cholesky factor ``lower`` (of ``K + λ₀I``,
    :func:`_float32_factor`); which columns converged (:func:`_preconditioned_path`)."""
    size = float(kernel.diagonal().max()) + ridges  # ≤ ‖K + λI‖₂ (K is semi-definite)
    target_norm = float(weighted_targets.norm())

    def residual_of(x: torch.Tensor) -> torch.Tensor:
        return weighted_targets[:, None] - torch.addmm(x * ridges, kernel, x)

    def small(residual: torch.Tensor) -> torch.Tensor:
        bound = CG_TOLERANCE * (size * solutions.norm(dim=0) + target_norm)
        return residual.norm(dim=0) <= bound

    def precondition(residual: torch.Tensor) -> torch.Tensor:
        half = torch.linalg.solve_triangular(lower, residual.to(torch.float32), upper=False)
        return torch.linalg.solve_triangular(lower.mT, half, upper=True).to(residual.dtype)

    residual = residual_of(solutions)
    converged = small(residual)
    direction = precondition(residual)
    product = (residual * direction).sum(0)
    for _ in range(CG_STEPS):
        if bool(converged.all()):
            break
        image = torch.addmm(direction * ridges, kernel, direction)
        step = torch.where(converged, 0.0, product / (direction * image).sum(0))
        solutions.add_(direction * step)
        residual.sub_(image * step)
        converged |= small(residual)
        preconditioned = precondition(residual)
        new_product = (residual * preconditioned).sum(0)
        ratio = torch.where(converged, 0.0, new_product / product)
        direction = preconditioned + direction * ratio
        product = new_product
    return small(residual_of(solutions))  # the true residuals: the recurrence drifts

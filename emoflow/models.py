"""Randomized deep networks for one-vs-rest emotion detection, trained in closed form.

:class:`RandomizedDeepNetwork` follows the deep RVFL / ELM family (Huang et al. 2006; Katuwal &
Suganthan 2019, edRVFL): ``n_layers`` hidden layers whose weights are drawn at random and frozen,

.. math::

    H_0 = \\operatorname{standardise}(x), \\qquad H_l = g(H_{l-1} W_l + b_l),

and a linear read-out on ``D = [H_0, H_1, …, H_L, 1]`` (direct links, deep RVFL) or on
``D = [H_L, 1]`` (ELM), solved by weighted ridge regression

.. math::

    \\beta = \\arg\\min_\\beta \\sum_i w_i (y_i - D_i \\beta)^2 + \\lambda \\lVert \\beta \\rVert^2,

with targets ``y ∈ {-1, +1}`` and class weights ``w`` that balance positives and negatives.
The closed form is taken in its primal or dual shape, whichever matrix is smaller, with
``torch.linalg`` on CPU or CUDA. Two ensembles are offered: ``"layers"`` (edRVFL) gives every
hidden layer its own read-out on ``D_l = [H_0, H_l, 1]`` (``[H_l, 1]`` without direct links) and
averages their outputs; ``"seeds"`` draws ``n_estimators`` networks and averages their outputs.
The forward pass is plain differentiable PyTorch, so Captum attributes it.

The module also holds what every binary model shares: model files (:func:`save_model`,
:func:`load_model`, :func:`apply_model` for new landmark tables), subject-independent folds,
metrics, and Platt calibration of scores. The backprop baselines live in
:mod:`emoflow.baselines` and follow the same estimator API.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, cast

import numpy as np
import torch
from torch import nn

from emoflow import __version__
from emoflow._atomic import atomic_path
from emoflow.errors import ConfigError, DataError, EmoflowError, InputError

if TYPE_CHECKING:
    import polars as pl

    from emoflow.features import FeatureSet

log = logging.getLogger(__name__)

Activation = Literal["tanh", "sigmoid", "relu", "gelu"]
_ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}
ModelKind = Literal["rvfl", "mlp", "temporal"]
MODEL_KINDS: tuple[str, ...] = ("rvfl", "mlp", "temporal")
"""Values of the ``model.kind`` setting: the randomized network and the two backprop baselines."""


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"``: a free visible CUDA device, else the CPU; see :mod:`emoflow.devices`.

    Respects ``CUDA_VISIBLE_DEVICES``; concurrent jobs on one node get different GPUs, and a
    process keeps the device it got (repeated calls return it).
    """
    from emoflow.devices import select_device

    return select_device(device)


@dataclass(frozen=True)
class NetworkSettings:
    """Hyper-parameters of :class:`RandomizedDeepNetwork`.

    Parameters
    ----------
    n_layers
        Random, frozen hidden layers.
    width
        Units per hidden layer.
    activation
        ``tanh``, ``sigmoid``, ``relu`` or ``gelu``.
    ridge
        Ridge λ of the closed-form read-out.
    direct_link
        The read-out also sees the standardised input (and, without an ensemble, every hidden
        layer): deep RVFL. ``False`` gives an ELM read-out on the last layer.
    class_weight
        ``balanced`` weighs each class to the same total in the ridge fit; ``none`` does not.
    weight_scale
        Hidden weights are drawn from ``N(0, weight_scale² / fan_in)``.
    standardise
        ``global`` (one scale for all inputs, keeping relative motion) or ``feature``.
    seed
        Seed of the random hidden weights.
    ensemble
        ``none``; ``layers`` (edRVFL: one read-out per hidden layer, outputs averaged);
        ``seeds`` (``n_estimators`` networks drawn in turn from ``seed``, outputs averaged).
    n_estimators
        Networks of the ``seeds`` ensemble.
    """

    n_layers: int = 2
    width: int = 256
    activation: Activation = "tanh"
    ridge: float = 1.0
    direct_link: bool = True
    class_weight: Literal["balanced", "none"] = "balanced"
    weight_scale: float = 1.0
    standardise: Literal["global", "feature"] = "global"
    seed: int = 0
    ensemble: Literal["none", "layers", "seeds"] = "none"
    n_estimators: int = 5

    def __post_init__(self) -> None:
        if self.n_layers < 1:
            raise ConfigError(f"model.n_layers must be ≥ 1, got {self.n_layers}")
        if self.width < 1:
            raise ConfigError(f"model.width must be ≥ 1, got {self.width}")
        if self.activation not in ("tanh", "sigmoid", "relu", "gelu"):
            raise ConfigError(
                f"model.activation must be tanh, sigmoid, relu or gelu, got {self.activation!r}"
            )
        if not self.ridge > 0:
            raise ConfigError(f"model.ridge must be > 0, got {self.ridge}")
        if self.standardise not in ("global", "feature"):
            raise ConfigError(
                f"model.standardise must be global or feature, got {self.standardise!r}"
            )
        if self.class_weight not in ("balanced", "none"):
            raise ConfigError(
                f"model.class_weight must be balanced or none, got {self.class_weight!r}"
            )
        if not self.weight_scale > 0:
            raise ConfigError(f"model.weight_scale must be > 0, got {self.weight_scale}")
        if self.ensemble not in ("none", "layers", "seeds"):
            raise ConfigError(
                f"model.ensemble must be none, layers or seeds, got {self.ensemble!r}"
            )
        if self.n_estimators < 1:
            raise ConfigError(f"model.n_estimators must be ≥ 1, got {self.n_estimators}")

    @property
    def n_members(self) -> int:
        """Independently drawn hidden stacks (``n_estimators`` for ``seeds``, else 1)."""
        return self.n_estimators if self.ensemble == "seeds" else 1

    @property
    def n_heads(self) -> int:
        """Read-outs whose outputs are averaged."""
        if self.ensemble == "layers":
            return self.n_layers
        return self.n_members


class BinaryModel(Protocol):
    """What the protocol needs of a binary model (randomized network or backprop baseline)."""

    kind: ClassVar[str]
    settings: Any
    input_shape_: tuple[int, ...] | None

    def fit(
        self,
        inputs: np.ndarray | torch.Tensor,
        labels: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> BinaryModel: ...

    def decision_function(self, inputs: np.ndarray | torch.Tensor) -> np.ndarray: ...

    def predict(self, inputs: np.ndarray | torch.Tensor) -> np.ndarray: ...

    def n_parameters(self) -> dict[str, int]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def _build(self, input_shape: tuple[int, ...], device: torch.device) -> None: ...


class RandomizedDeepNetwork(nn.Module):
    """A deep randomized network (deep RVFL / ELM / edRVFL) with ridge-solved read-outs.

    Parameters
    ----------
    settings
        Depth, width, activation, ridge λ, direct links, class weighting, ensemble, seed.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.

    Attributes
    ----------
    input_shape_ : tuple of int
        Shape of one sample, e.g. ``(n_frames, n_landmarks, 3)``; set by :meth:`fit`.
    hidden_ : nn.ModuleList
        The frozen random layers: one stack (``nn.ModuleList``) per ensemble member.
    readout_ : torch.Tensor
        Output weights ``β``, shape ``(n_heads, n_head_features)``; one row per read-out.
    input_mean_, input_scale_ : torch.Tensor
        The standardisation learnt from the training inputs.

    Examples
    --------
    >>> net = RandomizedDeepNetwork(NetworkSettings(width=64)).fit(x_train, y_train)
    >>> scores = net.decision_function(x_test)   # > 0 means "this emotion"
    """

    kind: ClassVar[str] = "rvfl"
    input_mean_: torch.Tensor
    input_scale_: torch.Tensor
    readout_: torch.Tensor

    def __init__(self, settings: NetworkSettings | None = None, *, device: str = "auto") -> None:
        super().__init__()
        self.settings = settings or NetworkSettings()
        self.device_name = device
        self.input_shape_: tuple[int, ...] | None = None
        self.hidden_ = nn.ModuleList()

    # -- structure ---------------------------------------------------------------------------
    def _build(self, input_shape: tuple[int, ...], device: torch.device) -> None:
        """Draw the random hidden layers for inputs of ``input_shape`` (deterministic in seed).

        The weights are drawn on the CPU from one generator seeded with ``settings.seed``, so a
        seed gives the same network on every device; members of a ``seeds`` ensemble are drawn
        in turn from it (member 0 is the network without ensemble).
        """
        settings = self.settings
        self.input_shape_ = tuple(int(n) for n in input_shape)
        n_inputs = int(np.prod(self.input_shape_))
        draws = _random_weights(
            n_inputs,
            settings.width,
            settings.n_layers,
            settings.n_members,
            settings.weight_scale,
            settings.seed,
        )
        members = []
        for member_draws in draws:
            layers = []
            for weight, bias in member_draws:
                layer = nn.utils.skip_init(nn.Linear, weight.shape[1], weight.shape[0])
                # the frozen draw itself, not a copy: nothing ever writes to these tensors
                # (load_model gives its layers their own copies before loading weights)
                layer.weight = nn.Parameter(weight, requires_grad=False)
                layer.bias = nn.Parameter(bias, requires_grad=False)
                layers.append(layer)
            members.append(nn.ModuleList(layers))
        self.hidden_ = nn.ModuleList(members).to(device)
        self.register_buffer("input_mean_", torch.zeros(n_inputs, device=device))
        self.register_buffer("input_scale_", torch.ones(n_inputs, device=device))
        self.register_buffer(
            "readout_", torch.zeros(settings.n_heads, self.n_head_features(), device=device)
        )

    def n_head_features(self) -> int:
        """Columns of one read-out's design ``D`` (inputs, hidden units, bias)."""
        if self.input_shape_ is None:
            raise DataError("the model is not fitted yet")
        settings = self.settings
        n_inputs = int(np.prod(self.input_shape_))
        if not settings.direct_link:
            return settings.width + 1
        if settings.ensemble == "layers":
            return n_inputs + settings.width + 1
        return n_inputs + settings.width * settings.n_layers + 1

    def _activation(self, values: torch.Tensor) -> torch.Tensor:
        if self.settings.activation == "gelu":
            return nn.functional.gelu(values)
        return _ACTIVATIONS[self.settings.activation](values)

    def _head_blocks(self, inputs: torch.Tensor) -> list[list[torch.Tensor]]:
        """Per read-out, the blocks of its design ``D`` before the bias column."""
        standardised = (inputs.reshape(len(inputs), -1) - self.input_mean_) / self.input_scale_
        settings = self.settings
        heads: list[list[torch.Tensor]] = []
        for stack in self.hidden_:
            hidden = standardised
            activations = []
            for layer in cast(nn.ModuleList, stack):
                hidden = self._activation(layer(hidden))
                activations.append(hidden)
            if settings.ensemble == "layers":
                direct = [standardised] if settings.direct_link else []
                heads.extend([*direct, layer_output] for layer_output in activations)
            elif settings.direct_link:
                heads.append([standardised, *activations])
            else:
                heads.append([activations[-1]])
        return heads

    def head_features(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """The design ``D`` of every read-out, each ``(n_samples, n_head_features)``."""
        designs = []
        for blocks in self._head_blocks(inputs):
            ones = torch.ones(len(inputs), 1, dtype=blocks[0].dtype, device=blocks[0].device)
            designs.append(torch.cat([*blocks, ones], dim=1))
        return designs

    def readout_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """The read-out's design ``D``, ``(n_samples, n_head_features)``, of a one-head model.

        Ensembles have one design per read-out: use :meth:`head_features`.
        """
        designs = self.head_features(inputs)
        if len(designs) != 1:
            raise DataError(
                f"an ensemble of {len(designs)} read-outs has no single design; use head_features()"
            )
        return designs[0]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Scores, shape ``(n_samples,)``, from inputs ``(n_samples, *input_shape_)``.

        The mean of the read-outs' outputs ``D_k β_k`` (one read-out without an ensemble),
        computed block by block without building ``D``.
        """
        outputs = []
        for head, blocks in enumerate(self._head_blocks(inputs)):
            readout = self.readout_[head]
            output = readout[-1].expand(len(inputs))
            offset = 0
            for block in blocks:
                width = block.shape[1]
                output = output + block @ readout[offset : offset + width]
                offset += width
            outputs.append(output)
        if len(outputs) == 1:
            return outputs[0]
        return torch.stack(outputs).mean(dim=0)

    # -- estimator API -----------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.readout_.device if self.input_shape_ is not None else torch.device("cpu")

    def _prepare(
        self, inputs: np.ndarray | torch.Tensor, labels: np.ndarray
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Check the data, draw the network and fit the standardisation; inputs on device."""
        device = resolve_device(self.device_name)
        inputs_np = as_float_array(inputs)
        labels_np = check_training_data(inputs_np, labels)
        self._build(tuple(inputs_np.shape[1:]), device)
        inputs_t = torch.as_tensor(inputs_np, device=device)
        flat = inputs_t.reshape(len(inputs_t), -1)
        self.input_mean_.copy_(flat.mean(dim=0))
        if self.settings.standardise == "feature":
            self.input_scale_.copy_(flat.std(dim=0).clamp_min(1e-6))
        else:  # one scale for all inputs keeps the landmarks' relative motion
            self.input_scale_.fill_(float((flat - self.input_mean_).std().clamp_min(1e-6)))
        return inputs_t, labels_np

    def fit(
        self,
        inputs: np.ndarray | torch.Tensor,
        labels: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> RandomizedDeepNetwork:
        """Draw the hidden layers and solve every read-out on ``inputs`` with 0/1 ``labels``.

        Parameters
        ----------
        inputs
            Shape ``(n_samples, *sample_shape)``, finite.
        labels
            Shape ``(n_samples,)``, 1 for the emotion, 0 for the rest; both classes present.
        groups
            Subjects of the samples; unused (the closed form needs no validation split), taken
            for the same API as the backprop baselines.
        """
        inputs_t, labels_np = self._prepare(inputs, labels)
        with torch.no_grad():
            targets, weights = _ridge_targets(labels_np, self.settings.class_weight, self.device)
            for k, design in enumerate(self.head_features(inputs_t)):
                self.readout_[k].copy_(
                    _weighted_ridge(design.double(), targets, weights, self.settings.ridge)
                )
        return self

    def decision_function(self, inputs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Scores, shape ``(n_samples,)``; positive means the emotion is present."""
        inputs_t = checked_inputs(self, inputs)
        with torch.no_grad():
            return self(inputs_t).cpu().numpy().astype(np.float64)

    def predict(self, inputs: np.ndarray | torch.Tensor) -> np.ndarray:
        """0/1 predictions, shape ``(n_samples,)``."""
        return (self.decision_function(inputs) > 0).astype(np.int64)

    def n_parameters(self) -> dict[str, int]:
        """Parameter counts: ``random`` (frozen hidden weights), ``trained`` (read-outs)."""
        random_count = sum(p.numel() for p in self.hidden_.parameters())
        return {"random": int(random_count), "trained": int(self.readout_.numel())}


@functools.lru_cache(maxsize=2)
def _random_weights(
    n_inputs: int, width: int, n_layers: int, n_members: int, weight_scale: float, seed: int
) -> tuple[tuple[tuple[torch.Tensor, torch.Tensor], ...], ...]:
    """The hidden weights and biases of every member, drawn on the CPU from ``seed``.

    ``W_l ~ N(0, weight_scale² / fan_in)`` keeps pre-activations at unit variance for
    standardised inputs; ``b_l ~ N(0, 0.1²)``. Members are drawn in turn from one generator.
    Cached (the draw is a pure function of its arguments), so the many fits of an inner-fold
    search draw once; callers copy the tensors, never change them.
    """
    generator = torch.Generator().manual_seed(seed)
    members = []
    for _ in range(n_members):
        layers = []
        fan_in = n_inputs
        for _ in range(n_layers):
            std = weight_scale / np.sqrt(fan_in)
            weight = torch.randn(width, fan_in, generator=generator).mul_(std)
            bias = torch.randn(width, generator=generator).mul_(0.1)
            layers.append((weight, bias))
            fan_in = width
        members.append(tuple(layers))
    return tuple(members)


def clear_random_weight_cache() -> None:
    """Forget cached hidden-weight draws, so the next fit draws its weights anew.

    Timed fits call this first: a training time then includes drawing the random layers.
    """
    _random_weights.cache_clear()


def as_float_array(inputs: np.ndarray | torch.Tensor) -> np.ndarray:
    """Inputs as a float32 NumPy array (tensors are moved to the CPU)."""
    if isinstance(inputs, torch.Tensor):
        return inputs.detach().cpu().numpy().astype(np.float32, copy=False)
    return np.asarray(inputs, dtype=np.float32)


def check_training_data(inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Refuse unusable training data; returns the labels as int64 0/1.

    Raises
    ------
    DataError
        Shapes disagree, inputs hold NaN or infinite values, labels are not 0/1, or one class
        is missing.
    """
    labels_np = np.asarray(labels)
    if inputs.ndim < 2 or labels_np.shape != (len(inputs),):
        raise DataError(
            f"inputs of shape {tuple(inputs.shape)} do not match labels of shape {labels_np.shape}"
        )
    if not np.isfinite(inputs).all():
        raise DataError("inputs contain NaN or infinite values")
    if not np.isin(labels_np, (0, 1)).all():
        raise DataError(f"labels must be 0 or 1, got {np.unique(labels_np)[:5].tolist()}")
    labels_np = labels_np.astype(np.int64)
    n_positive = int(labels_np.sum())
    if n_positive == 0 or n_positive == len(labels_np):
        raise DataError(
            f"training labels hold {n_positive} positive of {len(labels_np)} samples: "
            "a binary model needs both classes"
        )
    return labels_np


def checked_inputs(model: Any, inputs: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Inputs for scoring by a fitted ``model``: finite, of its sample shape, on its device."""
    if model.input_shape_ is None:
        raise DataError("the model is not fitted yet")
    inputs_np = as_float_array(inputs)
    if tuple(inputs_np.shape[1:]) != model.input_shape_:
        raise DataError(
            f"inputs have sample shape {tuple(inputs_np.shape[1:])}, "
            f"the model was fitted on {model.input_shape_}"
        )
    if not np.isfinite(inputs_np).all():
        raise DataError("inputs contain NaN or infinite values")
    return torch.as_tensor(inputs_np, device=model.device)


def sample_weights(labels: np.ndarray, class_weight: str) -> np.ndarray:
    """Per-sample weights; ``balanced`` gives each class the same total weight."""
    if class_weight == "none":
        return np.ones(len(labels))
    counts = np.bincount(labels, minlength=2).astype(np.float64)
    return (len(labels) / (2.0 * np.maximum(counts, 1.0)))[labels]


def _ridge_targets(
    labels: np.ndarray, class_weight: str, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets ``±1`` and sample weights, float64 on ``device``."""
    targets = torch.as_tensor(2.0 * labels - 1.0, dtype=torch.float64, device=device)
    weights = torch.as_tensor(
        sample_weights(labels, class_weight), dtype=torch.float64, device=device
    )
    return targets, weights


def _weighted_ridge(
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


def _weighted_ridge_path(
    design: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, ridges: torch.Tensor
) -> torch.Tensor:
    """:func:`_weighted_ridge` for many λ at once, ``(n_features, n_ridges)``.

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


def ridge_path_scores(
    settings: NetworkSettings,
    train_inputs: np.ndarray,
    train_labels: np.ndarray,
    eval_inputs: np.ndarray,
    ridges: Sequence[float],
    *,
    device: str = "auto",
) -> np.ndarray:
    """Scores of ``eval_inputs`` under a network fitted with each ridge λ of ``ridges``.

    The same as fitting ``RandomizedDeepNetwork(replace(settings, ridge=λ))`` once per λ
    (``settings.ridge`` is ignored), but the hidden layers are drawn, and the read-out designs
    built and decomposed, once: this makes the inner-fold search over λ nearly free.

    Returns
    -------
    np.ndarray
        Shape ``(len(ridges), len(eval_inputs))``.
    """
    ridge_values = [float(r) for r in ridges]
    if not ridge_values or min(ridge_values) <= 0:
        raise ConfigError(f"ridge values must be > 0, got {ridge_values}")
    network = RandomizedDeepNetwork(settings, device=device)
    inputs_t, labels_np = network._prepare(train_inputs, train_labels)
    eval_t = checked_inputs(network, eval_inputs)
    with torch.no_grad():
        targets, weights = _ridge_targets(labels_np, settings.class_weight, network.device)
        ridge_t = torch.as_tensor(ridge_values, dtype=torch.float64, device=network.device)
        total = torch.zeros(len(ridge_values), len(eval_t), dtype=torch.float64)
        designs = network.head_features(inputs_t)
        eval_designs = network.head_features(eval_t)
        for design, eval_design in zip(designs, eval_designs, strict=True):
            betas = _weighted_ridge_path(design.double(), targets, weights, ridge_t)
            # the read-out is stored as float32 by fit(); score with the same precision
            total += (eval_design @ betas.float()).T.double().cpu()
    return (total / len(designs)).numpy()


# -- calibration -----------------------------------------------------------------------------
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


# -- model kinds -----------------------------------------------------------------------------
def model_class(kind: str) -> type[Any]:
    """The estimator class of a ``model.kind`` (``rvfl``, ``mlp`` or ``temporal``)."""
    if kind == "rvfl":
        return RandomizedDeepNetwork
    if kind in ("mlp", "temporal"):
        from emoflow.baselines import MLPNetwork, TemporalConvNetwork

        return MLPNetwork if kind == "mlp" else TemporalConvNetwork
    raise ConfigError(f"model.kind must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")


def settings_class(kind: str) -> type[Any]:
    """The settings dataclass of a ``model.kind``."""
    if kind == "rvfl":
        return NetworkSettings
    model_class(kind)  # validates the kind
    from emoflow.baselines import BackpropSettings

    return BackpropSettings


def make_settings(kind: str, values: dict[str, Any] | None = None) -> Any:
    """Settings of a ``model.kind`` from a config mapping, naming unknown keys."""
    cls = settings_class(kind)
    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) {unknown} for model kind {kind!r}")
    return cls(**values)


def make_model(kind: str, settings: Any = None, *, device: str = "auto") -> BinaryModel:
    """An unfitted estimator of ``kind`` with ``settings`` (a dataclass, a mapping or None)."""
    if settings is None or isinstance(settings, dict):
        settings = make_settings(kind, settings)
    model: BinaryModel = model_class(kind)(settings, device=device)
    return model


# -- model files -----------------------------------------------------------------------------
MODEL_FORMAT = 2
"""Version of the model file layout; files of other versions are refused (retrain)."""


def save_model(model: BinaryModel, path: str | Path, *, metadata: dict[str, Any]) -> None:
    """Write weights and a metadata record (atomically).

    Parameters
    ----------
    model
        A fitted :class:`RandomizedDeepNetwork` or baseline of :mod:`emoflow.baselines`.
    path
        The ``.pt`` file to write.
    metadata
        JSON-ready facts to keep with the model: emotion, landmark ids, feature settings,
        seed, calibration, …; ``emoflow_version`` and ``kind`` are added.
    """
    if model.input_shape_ is None:
        raise DataError(f"{path}: cannot save a model that is not fitted")
    record = {
        "format": MODEL_FORMAT,
        "emoflow_version": __version__,
        "kind": model.kind,
        "settings": asdict(model.settings),
        "input_shape": list(model.input_shape_),
        "metadata": {"emoflow_version": __version__, "kind": model.kind, **metadata},
        "state_dict": {name: tensor.cpu() for name, tensor in model.state_dict().items()},
    }
    with atomic_path(path) as staged:
        torch.save(record, staged)


def load_model(path: str | Path, *, device: str = "auto") -> tuple[Any, dict[str, Any]]:
    """Reload a model written by :func:`save_model`; returns the model and its metadata.

    The model is in evaluation mode on ``device``. Its metadata holds at least
    ``emoflow_version`` and ``kind``, plus what :func:`save_model` was given.

    Raises
    ------
    InputError
        The file is missing, unreadable, of another format version or inconsistent.
    """
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise InputError(path, "model file does not exist") from err
    except Exception as err:  # torch raises many kinds on a broken file
        raise InputError(path, f"not a readable emoflow model file ({err})") from err
    if not isinstance(record, dict) or "format" not in record:
        raise InputError(path, "not an emoflow model file")
    if record["format"] != MODEL_FORMAT:
        raise InputError(
            path,
            f"model file format {record['format']} (emoflow "
            f"{record.get('emoflow_version', '?')}) is not format {MODEL_FORMAT} of emoflow "
            f"{__version__}; retrain the model with this emoflow",
        )
    kind = record.get("kind")
    if kind not in MODEL_KINDS:
        raise InputError(path, f"unknown model kind {kind!r}")
    target = resolve_device(device)
    try:
        settings = make_settings(kind, record["settings"])
        model = model_class(kind)(settings, device=device)
        model._build(tuple(record["input_shape"]), target)
        with torch.no_grad():  # own copies: the built layers may share the cached random draw
            for parameter in model.parameters():
                parameter.data = parameter.data.clone()
        model.load_state_dict(record["state_dict"])
    except (EmoflowError, KeyError, RuntimeError, TypeError) as err:
        raise InputError(path, f"model file does not match its settings ({err})") from err
    model.to(target)
    model.eval()
    metadata = {
        "emoflow_version": record.get("emoflow_version"),
        "kind": kind,
        **dict(record["metadata"]),
    }
    return model, metadata


def _feature_settings_key(settings: dict[str, Any]) -> str:
    from emoflow.features import FeatureSettings

    return json.dumps(asdict(FeatureSettings(**settings)), sort_keys=True)


def _features_for(
    source: FeatureSet | str | Path | Sequence[str | Path],
    feature_settings: dict[str, Any],
    origin: str | Path,
) -> FeatureSet:
    """The features of ``source`` as a model with ``feature_settings`` needs them."""
    from emoflow.features import FeatureSet, FeatureSettings, features_from_landmarks, load_features

    if isinstance(source, str | Path) and str(source).rstrip("/").endswith(".zarr"):
        source = load_features(source)
    if isinstance(source, FeatureSet):
        if _feature_settings_key(source.settings) != _feature_settings_key(feature_settings):
            raise DataError(
                f"{origin}: the model was trained on features built with {feature_settings}, "
                f"the given features with {source.settings}; build them from the landmark "
                "tables with the model's settings (pass the tables instead)"
            )
        return source
    settings = FeatureSettings(**feature_settings)
    features, kept, dropped = features_from_landmarks(source, settings)
    if not kept:
        raise DataError(f"no usable video in {source}: {dropped}")
    n = len(kept)
    return FeatureSet(
        features=features,
        video_ids=np.asarray(kept, dtype=str),
        subjects=np.full(n, "", dtype=str),
        emotions=np.full(n, "", dtype=str),
        emotion_names=[],
        settings=asdict(settings),
    )


def apply_models(
    model_paths: str | Path | Sequence[str | Path],
    source: FeatureSet | str | Path | Sequence[str | Path],
    *,
    device: str = "auto",
) -> pl.DataFrame:
    """Score videos with saved models, outside the workflow.

    Features are built from ``source`` with each model's stored feature settings (once per
    distinct setting), the model's stored landmark subset is selected, and the model scores
    them; with several models the emotion of highest calibrated probability is predicted.

    Parameters
    ----------
    model_paths
        ``.pt`` files of :func:`save_model`, or a folder of them (e.g. ``iter_2/models``).
    source
        Landmark tables (a Parquet file, folder, glob or a sequence of them), a feature store
        (``*.zarr``) or a :class:`~emoflow.features.FeatureSet` built with the models' settings.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.

    Returns
    -------
    polars.DataFrame
        One row per video: ``video_id``, and per model emotion ``e`` the columns ``score_e``
        (raw score, > 0 means the emotion), ``probability_e`` (Platt-calibrated, null when the
        model has no calibration); plus ``emotion`` (argmax of the probabilities, or of the
        scores when a model lacks calibration).
    """
    import polars as pl

    if isinstance(model_paths, str | Path):
        folder = Path(model_paths)
        paths = sorted(folder.glob("*.pt")) if folder.is_dir() else [folder]
    else:
        paths = [Path(p) for p in model_paths]
    if not paths:
        raise InputError(str(model_paths), "no model file (*.pt)")
    cache: dict[str, FeatureSet] = {}
    columns: dict[str, np.ndarray] = {}
    video_ids: np.ndarray | None = None
    emotions: list[str] = []
    ranking: list[np.ndarray | None] = []
    for path in paths:
        model, metadata = load_model(path, device=device)
        if not isinstance(metadata.get("feature_settings"), dict):
            raise InputError(path, "model metadata lacks its feature settings; retrain the model")
        feature_settings = dict(metadata["feature_settings"])
        try:
            key = _feature_settings_key(feature_settings)
        except (TypeError, EmoflowError) as err:
            raise InputError(
                path, f"feature settings {feature_settings} are not understood ({err})"
            ) from err
        if key not in cache:
            cache[key] = _features_for(source, feature_settings, path)
        feature_set = cache[key]
        if video_ids is None:
            video_ids = feature_set.video_ids
        elif not np.array_equal(video_ids, feature_set.video_ids):
            raise DataError(f"{path}: its feature settings keep other videos than earlier models")
        try:
            selected = feature_set.select(metadata["landmarks"])
            scores = model.decision_function(selected.features)
        except KeyError as err:
            raise InputError(path, "model metadata lacks its landmark ids") from err
        except DataError as err:
            raise InputError(
                path,
                f"landmark set does not match the features ({err}); retrain the model or "
                "build the features with all landmarks",
            ) from err
        emotion = str(metadata.get("emotion", Path(path).stem))
        if emotion in emotions:
            raise InputError(
                path, f"holds emotion {emotion!r} like an earlier model; give one each"
            )
        emotions.append(emotion)
        columns[f"score_{emotion}"] = scores
        calibration = metadata.get("calibration")
        if calibration:
            probabilities = PlattCalibrator.from_dict(calibration).predict_proba(scores)
            columns[f"probability_{emotion}"] = probabilities
            ranking.append(probabilities)
        else:
            columns[f"probability_{emotion}"] = np.full(len(scores), np.nan)
            ranking.append(None)
    assert video_ids is not None
    calibrated = [r for r in ranking if r is not None]
    if len(calibrated) == len(ranking):
        matrix = np.column_stack(calibrated)
    else:
        matrix = np.column_stack([columns[f"score_{e}"] for e in emotions])
    table = pl.DataFrame({"video_id": video_ids.astype(str), **columns})
    table = table.with_columns(
        pl.Series("emotion", np.asarray(emotions)[np.argmax(matrix, axis=1)]),
        *[pl.col(f"probability_{e}").fill_nan(None) for e in emotions],
    )
    return table


def apply_model(
    model_path: str | Path,
    source: FeatureSet | str | Path | Sequence[str | Path],
    *,
    device: str = "auto",
) -> pl.DataFrame:
    """Score videos with one saved model (see :func:`apply_models`).

    Returns
    -------
    polars.DataFrame
        ``video_id``, ``emotion`` (the model's), ``score``, ``probability`` (calibrated, null
        without calibration) and ``present`` (``score > 0``, the model's own decision).
    """
    import polars as pl

    wide = apply_models([model_path], source, device=device)
    emotion = wide.columns[1].removeprefix("score_")
    return wide.select(
        "video_id",
        pl.lit(emotion).alias("emotion"),
        pl.col(f"score_{emotion}").alias("score"),
        pl.col(f"probability_{emotion}").alias("probability"),
        (pl.col(f"score_{emotion}") > 0).alias("present"),
    )


# -- evaluation ------------------------------------------------------------------------------
def subject_folds(subjects: np.ndarray, n_folds: int, *, seed: int = 0) -> list[np.ndarray]:
    """Split samples into ``n_folds`` test folds by subject (no subject in two folds).

    Returns the test indices of each fold; the training indices are the rest.
    """
    unique = np.unique(subjects)
    if n_folds < 2:
        raise ConfigError(f"cross-validation needs at least 2 folds, got {n_folds}")
    if len(unique) < n_folds:
        raise DataError(
            f"{len(unique)} subjects cannot make {n_folds} subject-independent folds; "
            "lower train.n_folds"
        )
    order = np.random.default_rng(seed).permutation(unique)
    fold_of_subject = {subject: index % n_folds for index, subject in enumerate(order)}
    fold_ids = np.array([fold_of_subject[s] for s in subjects])
    return [np.flatnonzero(fold_ids == fold) for fold in range(n_folds)]


def binary_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, F1 and ROC-AUC of scores thresholded at 0."""
    labels = np.asarray(labels).astype(bool)
    predicted = np.asarray(scores) > 0
    tp = float(np.sum(predicted & labels))
    tn = float(np.sum(~predicted & ~labels))
    fp = float(np.sum(predicted & ~labels))
    fn = float(np.sum(~predicted & labels))
    recall = tp / max(tp + fn, 1.0)
    specificity = tn / max(tn + fp, 1.0)
    precision = tp / max(tp + fp, 1.0)
    return {
        "accuracy": (tp + tn) / max(len(labels), 1),
        "balanced_accuracy": 0.5 * (recall + specificity),
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "roc_auc": roc_auc(labels, scores),
    }


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC by the rank statistic (ties count half); NaN with one class only."""
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = np.asarray(scores)[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def time_inference(model: BinaryModel, inputs: np.ndarray, *, repeats: int = 15) -> float:
    """Seconds per sample of ``model.decision_function``: the fastest of ``repeats`` runs.

    The minimum, not the median, because other processes on a shared machine only ever add
    time; the fastest run is the model's own cost.
    """
    model.decision_function(inputs)  # warm-up: first-call allocations are not the model's cost
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.decision_function(inputs)
        timings.append(time.perf_counter() - start)
    return float(np.min(timings)) / max(len(inputs), 1)

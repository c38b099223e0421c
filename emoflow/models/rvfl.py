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
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, cast

import numpy as np
import torch
from torch import nn

from emoflow.config import SectionSettings, setting
from emoflow.errors import ConfigError, DataError
from emoflow.models._base import BaseModel
from emoflow.models._inputs import checked_inputs
from emoflow.models._paths import path_integral
from emoflow.models._ridge import (
    DesignRows,
    ridge_targets,
    weighted_ridge,
    weighted_ridge_path,
)

Activation = str
"""A value of ``train.model.activation`` (:attr:`NetworkSettings.activation` declares them)."""
_ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}


@dataclass(frozen=True)
class NetworkSettings(SectionSettings):
    """Hyper-parameters of :class:`RandomizedDeepNetwork`: the ``train.model`` config section.

    The section's ``kind`` is not a field: it chooses the class (:data:`emoflow.models.
    MODEL_KINDS`), so :meth:`from_section` validates it and passes it over. The fields
    declare the section's other keys (the configuration schema is generated from them).

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

    SECTION = "train.model"
    OTHER_KEYS: ClassVar[Mapping[str, str]] = {
        "kind": "the model registry (emoflow.models.MODEL_KINDS), to pick the class"
    }

    n_layers: int = setting(2, minimum=1)
    width: int = setting(256, minimum=1)
    activation: Activation = setting("tanh", enum=("tanh", "sigmoid", "relu", "gelu"))
    ridge: float = setting(1.0, exclusive_minimum=0)
    direct_link: bool = True
    class_weight: str = setting("balanced", enum=("balanced", "none"))
    weight_scale: float = setting(1.0, exclusive_minimum=0)
    standardise: str = setting("global", enum=("global", "feature"))
    seed: int = setting(0, minimum=0)
    ensemble: str = setting("none", enum=("none", "layers", "seeds"))
    n_estimators: int = setting(5, minimum=1)

    def __post_init__(self) -> None:
        self.check()

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


class RandomizedDeepNetwork(BaseModel):
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
    settings_class: ClassVar[type[NetworkSettings]] = NetworkSettings
    settings_section: ClassVar[str] = "model"
    search_grids: ClassVar[dict[str, str]] = {"width": "width_grid", "ridge": "ridge_grid"}
    closed_form_ridge: ClassVar[bool] = True
    settings: NetworkSettings
    readout_: torch.Tensor

    def __init__(self, settings: NetworkSettings | None = None, *, device: str = "auto") -> None:
        super().__init__(settings, device=device)
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
            # the frozen draw itself, not a copy: nothing ever writes to these tensors
            layers = [_FrozenLinear(weight, bias) for weight, bias in member_draws]
            members.append(nn.ModuleList(layers))
        self.hidden_ = nn.ModuleList(members).to(device)
        self._init_standardisation(n_inputs, device)
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

    def _hidden_heads(self, standardised: torch.Tensor) -> list[tuple[bool, list[torch.Tensor]]]:
        """Per read-out: whether it sees the standardised input, and its hidden-layer blocks."""
        heads: list[tuple[bool, list[torch.Tensor]]] = []
        for stack in self.hidden_:
            hidden = standardised
            activations = []
            for layer in cast(nn.ModuleList, stack):
                hidden = self._activation(layer(hidden))
                activations.append(hidden)
            heads.extend(self._read_outs(activations))
        return heads

    def _read_outs(self, activations: list[torch.Tensor]) -> list[tuple[bool, list[torch.Tensor]]]:
        """The read-outs one hidden stack's layer outputs feed (``ensemble``, ``direct_link``):
        whether each sees the standardised input, and its hidden blocks."""
        settings = self.settings
        if settings.ensemble == "layers":
            return [(settings.direct_link, [output]) for output in activations]
        if settings.direct_link:
            return [(True, activations)]
        return [(False, [activations[-1]])]

    def _head_blocks(self, inputs: torch.Tensor) -> list[list[torch.Tensor]]:
        """Per read-out, the blocks of its design ``D`` before the bias column."""
        standardised = self.standardise(inputs)
        return [
            [standardised, *hidden] if direct else hidden
            for direct, hidden in self._hidden_heads(standardised)
        ]

    def _head_designs(self, inputs: torch.Tensor) -> list[DesignRows]:
        """Per read-out, its design ``D`` as float32 row blocks, never held whole.

        The hidden layers' outputs (``n × width`` each) are kept; the direct-link columns are
        standardised again block by block from ``inputs`` (the same float32 values as
        :meth:`head_features`).
        """
        # as standardise(), dividing in place: one n × n_inputs temporary instead of two
        standardised = inputs.reshape(len(inputs), -1) - self.input_mean_
        heads = self._hidden_heads(standardised.div_(self.input_scale_))
        del standardised
        flat = inputs.reshape(len(inputs), -1)
        ones = torch.ones(len(inputs), 1, dtype=flat.dtype, device=flat.device)

        def direct_part(start: int, stop: int) -> torch.Tensor:
            return (flat[:, start:stop] - self.input_mean_[start:stop]) / self.input_scale_[
                start:stop
            ]

        def design(direct: bool, hidden: list[torch.Tensor]) -> DesignRows:
            parts: list[tuple[int, Callable[[int, int], torch.Tensor]]] = [
                (block.shape[1], functools.partial(_columns_of, block)) for block in [*hidden, ones]
            ]
            if direct:
                parts.insert(0, (flat.shape[1], direct_part))

            def rows(start: int, stop: int) -> torch.Tensor:
                blocks = [block[start:stop] for block in hidden]
                if direct:
                    blocks.insert(0, self.standardise(inputs[start:stop]))
                return torch.cat([*blocks, ones[start:stop]], dim=1)

            return DesignRows(
                len(inputs),
                sum(width for width, _ in parts),
                rows,
                functools.partial(_column_block, parts),
            )

        return [design(direct, hidden) for direct, hidden in heads]

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
    def _fit(self, inputs: torch.Tensor, labels: np.ndarray, groups: np.ndarray | None) -> None:
        """Solve every read-out in closed form; ``groups`` are unused (no validation split)."""
        self._fit_standardisation(inputs.reshape(len(inputs), -1))
        with torch.no_grad():
            targets, weights = ridge_targets(labels, self.settings.class_weight, self.device)
            for k, design in enumerate(self._head_designs(inputs)):
                self.readout_[k].copy_(
                    weighted_ridge(design, targets, weights, self.settings.ridge)
                )

    # -- attribution -------------------------------------------------------------------------
    def path_integral(
        self,
        inputs: torch.Tensor,
        references: torch.Tensor,
        alphas: torch.Tensor,
        weights: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The quadrature of the gradient along the straight path from each reference to its
        input (what Integrated Gradients integrates), exactly and without running the input
        layer at every node.

        Parameters
        ----------
        inputs, references
            Paired rows ``(m, *input_shape_)``: row ``r`` of ``inputs`` against row ``r`` of
            ``references``.
        alphas, weights
            Nodes ``α_j`` in [0, 1] and weights ``w_j`` of the quadrature.

        Returns
        -------
        gradients
            ``Σ_j w_j ∇F(b + α_j (x − b))``, shape ``(m, *input_shape_)``; times ``x − b`` it
            is the IG attribution.
        score_change
            ``F(x) − F(b)``, shape ``(m,)``, for the completeness gap.

        See :mod:`emoflow.models._paths` for how the first layer's linearity is used.
        """
        return path_integral(self, inputs, references, alphas, weights)

    def _random_tensors(self) -> Iterable[torch.Tensor]:
        return self.hidden_.parameters()  # the frozen hidden weights

    def _trained_tensors(self) -> Iterable[torch.Tensor]:
        return [self.readout_] if self.input_shape_ is not None else []

    def _redrawn_state(self) -> list[str]:
        return [name for name in self.state_dict() if name.startswith("hidden_.")]


class _FrozenLinear(nn.Linear):
    """A :class:`torch.nn.Linear` made from given weights, never initialised at random first.

    ``nn.Linear(...)`` would draw weights only to have them replaced, and
    ``nn.utils.skip_init`` avoids that through the meta device, which imports sympy (a third of
    a second and 24 MB per process). The tensors are used as they are, frozen.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        nn.Module.__init__(self)  # not nn.Linear.__init__: it allocates and draws weights
        self.out_features, self.in_features = (int(n) for n in weight.shape)
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = nn.Parameter(bias, requires_grad=False)


def _columns_of(block: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    return block[:, start:stop]


def _column_block(
    parts: Sequence[tuple[int, Callable[[int, int], torch.Tensor]]], start: int, stop: int
) -> torch.Tensor:
    """Columns ``start:stop`` of the concatenation of ``parts`` (width, column getter)."""
    pieces = []
    offset = 0
    for width, columns in parts:
        low, high = max(start, offset), min(stop, offset + width)
        if low < high:
            pieces.append(columns(low - offset, high - offset))
        offset += width
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)


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
    network._fit_standardisation(inputs_t.reshape(len(inputs_t), -1))
    eval_t = checked_inputs(network, eval_inputs)
    with torch.no_grad():
        targets, weights = ridge_targets(labels_np, settings.class_weight, network.device)
        ridge_t = torch.as_tensor(ridge_values, dtype=torch.float64, device=network.device)
        total = torch.zeros(len(ridge_values), len(eval_t), dtype=torch.float64)
        designs = network._head_designs(inputs_t)
        eval_designs = network.head_features(eval_t)
        for design, eval_design in zip(designs, eval_designs, strict=True):
            betas = weighted_ridge_path(design, targets, weights, ridge_t)
            # the read-out is stored as float32 by fit(); score with the same precision
            total += (eval_design @ betas.float()).T.double().cpu()
    return (total / len(designs)).numpy()

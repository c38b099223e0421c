r"""Exact path integrals of the randomized network's gradient (fast Integrated Gradients).

Along the straight path :math:`p(\alpha) = b + \alpha (x - b)` from a reference :math:`b` to
an input :math:`x`, the network's first pre-activation is affine in :math:`\alpha` (the
standardisation is folded into the first layer: :math:`W' = W_1 / s`,
:math:`c' = c_1 - W' \mu`):

.. math::

    a_1(\alpha) = (W' b + c') + \alpha\, W' (x - b),

so the two large products with :math:`W'` are taken once per (input, reference) pair, the
rest of the network (width-sized) once per node :math:`\alpha_j`, and the weighted gradient
:math:`\sum_j w_j \partial F / \partial a_1(\alpha_j)` goes back through :math:`W'^\top` once.
The direct links add a constant gradient. The result is the quadrature of Captum's
``IntegratedGradients`` with the same nodes and weights, to float rounding, at a fraction of
its cost (Captum runs the whole network, input layer included, forward and backward at every
node).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

Network = Any
"""A fitted :class:`~emoflow.models.RandomizedDeepNetwork` (not imported: it imports this)."""


class FoldedInput(NamedTuple):
    """The standardisation folded into the first layers, and the direct links' gradient."""

    weights: list[torch.Tensor]
    """Per hidden stack, :math:`W' = W_1 / s`, ``(width, n_inputs)``."""
    biases: list[torch.Tensor]
    """Per hidden stack, :math:`c' = c_1 - W' \\mu`, ``(width,)``."""
    direct: torch.Tensor
    """Gradient of the score through the direct links (w.r.t. raw inputs), ``(n_inputs,)``."""


def _state_key(net: Network) -> tuple[tuple[int, int], ...]:
    """Storage and version of every tensor the folding reads: a new fit, a loaded state or a
    move to another device changes it."""
    tensors = [net.input_mean_, net.input_scale_, net.readout_]
    for stack in net.hidden_:
        first = stack[0]
        tensors += [first.weight, first.bias]
    return tuple((t.data_ptr(), t._version) for t in tensors)


def folded_input(net: Network) -> FoldedInput:
    """The first layers with the standardisation folded in, computed once per model state."""
    key = _state_key(net)
    cached = net.__dict__.get("_folded_input")
    if cached is not None and cached[0] == key:
        return cached[1]
    settings = net.settings
    n_inputs = net.input_mean_.shape[0]
    with torch.no_grad():
        scale, mean = net.input_scale_, net.input_mean_
        weights, biases = [], []
        for stack in net.hidden_:
            first = stack[0]
            weight = first.weight / scale
            weights.append(weight)
            biases.append(first.bias - weight @ mean)
        direct = torch.zeros_like(mean)
        if settings.direct_link:  # every read-out starts with the standardised input
            direct = net.readout_[:, :n_inputs].sum(dim=0) / (settings.n_heads * scale)
    folded = FoldedInput(weights, biases, direct)
    net.__dict__["_folded_input"] = (key, folded)
    return folded


def _hidden_terms(net: Network) -> list[list[tuple[int, int, int]]]:
    """Per hidden stack, ``(layer, read-out, first column)`` of each hidden block the read-outs
    see (the layout of :meth:`RandomizedDeepNetwork.head_features`)."""
    settings = net.settings
    n_inputs = net.input_mean_.shape[0]
    lead = n_inputs if settings.direct_link else 0
    layers = range(settings.n_layers)
    terms, head = [], 0
    for _ in net.hidden_:
        if settings.ensemble == "layers":
            terms.append([(layer, head + layer, lead) for layer in layers])
            head += settings.n_layers
        elif settings.direct_link:
            width = settings.width
            terms.append([(layer, head, lead + k * width) for k, layer in enumerate(layers)])
            head += 1
        else:
            terms.append([(settings.n_layers - 1, head, 0)])
            head += 1
    return terms


def path_integral(
    net: Network,
    inputs: torch.Tensor,
    references: torch.Tensor,
    alphas: torch.Tensor,
    weights: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:math:`\\sum_j w_j \\nabla F(b + \\alpha_j (x - b))` of paired rows, and
    :math:`F(x) - F(b)`: see :meth:`RandomizedDeepNetwork.path_integral`."""
    n_rows = len(inputs)
    x = inputs.reshape(n_rows, -1)
    base = references.reshape(n_rows, -1)
    step = x - base
    folded = folded_input(net)
    dtype, device = x.dtype, x.device
    weights = weights.to(dtype=dtype, device=device)
    # the nodes, then both ends of the path (for F(x) - F(b), no weight in the gradient)
    ends = torch.tensor([0.0, 1.0], dtype=dtype, device=device)
    nodes = torch.cat([alphas.to(dtype=dtype, device=device), ends])
    n_nodes = len(weights)
    n_heads = net.settings.n_heads
    gradient = weights.sum() * folded.direct.to(dtype).expand(n_rows, -1)
    change = step @ folded.direct.to(dtype)  # the direct links' share of F(x) - F(b)
    for stack, weight, bias, terms in zip(
        net.hidden_, folded.weights, folded.biases, _hidden_terms(net), strict=True
    ):
        layers = list(stack)
        with torch.no_grad():
            slope = step @ weight.T  # (rows, width)
            start = base @ weight.T + bias  # (rows, width)
        with torch.enable_grad():
            first = torch.addcmul(start[:, None, :], nodes[None, :, None], slope[:, None, :])
            first.requires_grad_(True)  # (rows, nodes + 2, width)
            hidden = net._activation(first)
            activations = [hidden]
            for layer in layers[1:]:
                hidden = net._activation(layer(hidden))
                activations.append(hidden)
            output = sum(
                activations[layer] @ net.readout_[head, offset : offset + net.settings.width]
                for layer, head, offset in terms
            )
            output = torch.as_tensor(output) / n_heads  # (rows, nodes + 2)
            (first_gradient,) = torch.autograd.grad((output[:, :n_nodes] * weights).sum(), first)
        gradient = gradient + first_gradient[:, :n_nodes].sum(dim=1) @ weight
        change = change + (output[:, -1] - output[:, -2]).detach()
    return gradient.reshape(inputs.shape), change

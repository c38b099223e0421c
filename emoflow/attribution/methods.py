"""Attribution methods: one small class each on a shared base, in :data:`ATTRIBUTION_METHODS`.

:class:`AttributionMethod` runs the fixed sequence once for every method: pair each sample
with each reference (row ``r`` = baseline ``r // n``, sample ``r % n``), cut the pairs into
calls of at most a method's :meth:`~AttributionMethod.rows_per_call` rows, compute, and record
per sample the completeness gap :math:`\\frac1K \\sum_k |\\sum A_{k}(x) - (F(x) - F(b_k))|`
(from Captum where the method reports it, else from the model's scores). A method only says
how one call is computed (:meth:`~AttributionMethod.compute`).

Adding a method is one class and one registry line (plus the schema enum and config comment)::

    class Saliency(AttributionMethod):
        def compute(self, rows, references, batch):
            from captum.attr import Saliency as CaptumSaliency

            return CaptumSaliency(self.model).attribute(rows), None

    ATTRIBUTION_METHODS["saliency"] = Saliency
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, cast, runtime_checkable

import numpy as np

from emoflow.errors import ConfigError


class AttributionMethod:
    """Attributions of samples against reference inputs (Captum underneath).

    Parameters
    ----------
    model
        A differentiable scorer: tensor ``(n, *sample_shape)`` → ``(n,)``.
    n_steps
        Path-integral nodes (IG, SmoothGrad-IG) or random draws (GradientShap).
    quadrature
        Rule of the path integral (``gausslegendre`` or ``riemann_trapezoid``).
    internal_batch_size
        Rows (sample × baseline × step) per forward/backward pass: bounds memory.
    """

    pairs_references: ClassVar[bool] = True
    """Whether every sample is attributed against every reference (else the references are a
    distribution the method draws from, and the gap comes per sample and draw)."""

    def __init__(
        self,
        model: Any,
        *,
        n_steps: int = 32,
        quadrature: str = "gausslegendre",
        internal_batch_size: int = 1024,
    ) -> None:
        self.model = model
        self.n_steps = n_steps
        self.quadrature = quadrature
        self.internal_batch_size = internal_batch_size

    def rows_per_call(self, n_rows: int) -> int:
        """How many (sample, reference) rows go into one :meth:`compute` call."""
        return n_rows

    def compute(self, rows: Any, references: Any, batch: Any) -> tuple[Any, Any | None]:
        """Attributions of ``rows`` against ``references`` and their gaps, or ``None``.

        ``batch`` is the batch of samples the rows come from ``(n, *sample_shape)``.
        """
        raise NotImplementedError

    def attribute(self, inputs: Any, baselines: Any) -> tuple[Any, Any]:
        """Attributions of ``inputs`` averaged over ``baselines``, and convergence deltas.

        Parameters
        ----------
        inputs
            Tensor ``(n, *sample_shape)``.
        baselines
            Tensor ``(k, *sample_shape)``.

        Returns
        -------
        attributions
            Tensor ``(n, *sample_shape)``.
        deltas
            Tensor ``(n,)``: mean over baselines of the completeness gap ``|Σ A − ΔF|``.
        """
        import torch

        n, k = len(inputs), len(baselines)
        if not self.pairs_references:
            attributions, draw_gaps = self.compute(inputs, baselines, inputs)
            # one gap per (sample, draw): average the draws of each sample
            return attributions.detach(), cast(Any, draw_gaps).reshape(n, -1).abs().mean(
                dim=1
            ).detach()
        rows = inputs.repeat(k, *([1] * (inputs.ndim - 1)))  # (k·n, *sample_shape)
        references = baselines.repeat_interleave(n, dim=0)
        step = max(1, self.rows_per_call(len(rows)))
        parts, gaps = [], []
        for lo in range(0, len(rows), step):
            part, part_gap = self.compute(rows[lo : lo + step], references[lo : lo + step], inputs)
            parts.append(part.detach())
            if part_gap is not None:
                gaps.append(part_gap.detach())
        attributions = torch.cat(parts)
        if gaps:
            gap = torch.cat(gaps)
        else:  # completeness gap of methods that do not report one
            with torch.no_grad():
                gap = attributions.reshape(len(rows), -1).sum(1) - (
                    self.model(rows) - self.model(references)
                )
        delta = gap.abs().to(inputs.dtype).reshape(k, n).mean(dim=0)
        return attributions.reshape(k, *inputs.shape).mean(dim=0), delta


class CaptumIntegratedGradients(AttributionMethod):
    """Integrated Gradients (Sundararajan et al. 2017) against each reference in turn, by
    Captum's ``IntegratedGradients``: any differentiable model, the whole model run forward
    and backward at every node of the path."""

    def rows_per_call(self, n_rows: int) -> int:
        # Captum runs at least one step of all its examples per pass: hand it at most
        # internal_batch_size examples at a time
        return self.internal_batch_size

    def compute(self, rows: Any, references: Any, batch: Any) -> tuple[Any, Any | None]:
        from captum import attr

        return attr.IntegratedGradients(self.model).attribute(
            rows,
            baselines=references,
            n_steps=self.n_steps,
            method=self.quadrature,
            internal_batch_size=self.internal_batch_size,
            return_convergence_delta=True,
        )


@runtime_checkable
class PathIntegrable(Protocol):
    """A model that integrates its own gradient along straight paths, exactly (e.g.
    :meth:`emoflow.models.RandomizedDeepNetwork.path_integral`)."""

    def path_integral(
        self, inputs: Any, references: Any, alphas: Any, weights: Any
    ) -> tuple[Any, Any]: ...


def quadrature(n_steps: int, method: str) -> tuple[list[float], list[float]]:
    """Nodes ``α_j`` and weights ``w_j`` of the path integral: the very numbers Captum's
    ``gausslegendre`` and ``riemann_trapezoid`` use (computed the same way here, so the exact
    path needs no Captum import: 0.9 s of CPU per job)."""
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)
        return (0.5 * (nodes + 1)).tolist(), (0.5 * weights).tolist()
    if method == "riemann_trapezoid":
        if n_steps < 2:
            raise ConfigError("attribution.n_steps must be ≥ 2 for riemann_trapezoid")
        import torch

        deltas = [1 / n_steps] * n_steps
        deltas[0] /= 2
        deltas[-1] /= 2
        return torch.linspace(0, 1, n_steps).tolist(), deltas
    raise ConfigError(f"unknown quadrature {method!r}; known: gausslegendre, riemann_trapezoid")


class IntegratedGradients(CaptumIntegratedGradients):
    """Integrated Gradients: the model's own exact path integral where it has one
    (:class:`PathIntegrable`: the randomized network), else Captum's.

    Both compute :math:`(x - b) \\odot \\sum_j w_j \\nabla F(b + \\alpha_j (x - b))` with
    Captum's nodes and weights, so they agree to float rounding; the network's path integral
    runs its large input layer twice per (sample, reference) pair instead of twice per node.
    """

    def _fast(self) -> bool:
        return isinstance(self.model, PathIntegrable)

    def rows_per_call(self, n_rows: int) -> int:
        if self._fast():
            # a pair holds a few input-sized vectors and width-sized activations at its nodes,
            # about as much as 2-4 of Captum's path rows: this stays within Captum's memory,
            # in calls large enough that threads pay off
            return max(1, self.internal_batch_size // 8)
        return super().rows_per_call(n_rows)

    def compute(self, rows: Any, references: Any, batch: Any) -> tuple[Any, Any | None]:
        if not self._fast():
            return super().compute(rows, references, batch)
        import torch

        alphas, weights = quadrature(self.n_steps, self.quadrature)
        gradients, change = cast(PathIntegrable, self.model).path_integral(
            rows,
            references,
            torch.tensor(alphas, dtype=rows.dtype, device=rows.device),
            torch.tensor(weights, dtype=rows.dtype, device=rows.device),
        )
        attributions = (rows - references) * gradients
        gap = attributions.reshape(len(rows), -1).sum(dim=1) - change
        return attributions, gap


class SmoothGradIG(AttributionMethod):
    """IG under Captum's NoiseTunnel: 8 noisy copies, standard deviation 0.1 × the batch's."""

    copies: ClassVar[int] = 8

    def rows_per_call(self, n_rows: int) -> int:
        return self.internal_batch_size // self.copies

    def compute(self, rows: Any, references: Any, batch: Any) -> tuple[Any, Any | None]:
        from captum import attr

        attributions = attr.NoiseTunnel(attr.IntegratedGradients(self.model)).attribute(
            rows,
            nt_type="smoothgrad",
            nt_samples=self.copies,
            stdevs=float(batch.std()) * 0.1,
            baselines=references,
            n_steps=self.n_steps,
            method=self.quadrature,
            internal_batch_size=self.internal_batch_size,
        )
        return attributions, None


class GradientShap(AttributionMethod):
    """Captum's GradientShap: the references as a distribution, ``n_steps`` random draws."""

    pairs_references = False

    def compute(self, rows: Any, references: Any, batch: Any) -> tuple[Any, Any]:
        from captum import attr

        return attr.GradientShap(self.model).attribute(
            rows,
            baselines=references,
            n_samples=self.n_steps,
            stdevs=0.0,
            return_convergence_delta=True,
        )


class LandmarkOcclusion(AttributionMethod):
    """Landmark-level occlusion (Captum's FeatureAblation with one group per landmark).

    Each landmark (all its frames and coordinates together) is set to the reference's values;
    the drop of the score is its attribution, spread evenly over the landmark's entries.
    """

    def compute(self, rows: Any, references: Any, batch: Any) -> tuple[Any, Any | None]:
        import torch
        from captum import attr

        n_frames, n_landmarks, n_coords = tuple(batch.shape[1:])
        groups = torch.arange(n_landmarks, device=batch.device).view(1, 1, n_landmarks, 1)
        mask = groups.expand(1, n_frames, n_landmarks, n_coords).contiguous()  # (1, T, L, C)
        raw = attr.FeatureAblation(self.model).attribute(
            rows,
            baselines=references,
            feature_mask=mask,
            perturbations_per_eval=max(1, self.internal_batch_size // len(rows)),
        )
        return raw.detach() / (n_frames * n_coords), None


ATTRIBUTION_METHODS: dict[str, type[AttributionMethod]] = {
    "integrated_gradients": IntegratedGradients,
    "integrated_gradients_captum": CaptumIntegratedGradients,
    "smoothgrad_ig": SmoothGradIG,
    "gradient_shap": GradientShap,
    "feature_ablation": LandmarkOcclusion,
}
"""Method name (``attribution.method``) → its class."""

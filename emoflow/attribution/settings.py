"""Settings of the attribution stage; the allowed names come from the registries."""

from __future__ import annotations

from dataclasses import dataclass

from emoflow.attribution.baselines import BASELINE_KINDS
from emoflow.attribution.methods import ATTRIBUTION_METHODS
from emoflow.attribution.relevance import AGGREGATIONS
from emoflow.errors import ConfigError

Baseline = str
"""A key of :data:`emoflow.attribution.baselines.BASELINE_KINDS`."""
Method = str
"""A key of :data:`emoflow.attribution.methods.ATTRIBUTION_METHODS`."""
Aggregate = str
"""A key of :data:`emoflow.attribution.relevance.AGGREGATIONS`."""

BASELINES: tuple[str, ...] = tuple(BASELINE_KINDS)
METHODS: tuple[str, ...] = tuple(ATTRIBUTION_METHODS)
AGGREGATES: tuple[str, ...] = tuple(AGGREGATIONS)
QUADRATURES: tuple[str, ...] = ("gausslegendre", "riemann_trapezoid")
SAMPLE_SETS: tuple[str, ...] = ("all", "positive")


@dataclass(frozen=True)
class AttributionSettings:
    """Settings of the attribution stage (see :mod:`emoflow.attribution` for the formula).

    Parameters
    ----------
    method
        ``integrated_gradients`` (the improved IG), ``smoothgrad_ig``, ``gradient_shap`` or
        ``feature_ablation``: a key of :data:`~emoflow.attribution.ATTRIBUTION_METHODS`.
    baseline, n_baselines
        Kind (a key of :data:`~emoflow.attribution.BASELINE_KINDS`) and number ``K`` of the
        references.
    n_steps, quadrature
        Nodes and rule of the path integral.
    aggregate
        How attributions become one relevance per landmark (a key of
        :data:`~emoflow.attribution.AGGREGATIONS`).
    samples
        ``positive`` (the emotion's samples) or ``all``: the set :math:`S` of the formula.
    batch_size
        Samples attributed at once (and samples per chunk of the store).
    internal_batch_size
        Rows (sample × baseline × step) per forward/backward pass: bounds memory.
    seed
        Seed of the baseline choice.
    dask_scheduler
        Address of a ``dask.distributed`` scheduler (e.g. ``tcp://10.0.0.5:8786``) that
        aggregates the stored attributions; ``None`` uses dask's local threads.
    """

    method: Method = "integrated_gradients"
    baseline: Baseline = "negative_centroids"
    n_baselines: int = 5
    n_steps: int = 32
    quadrature: str = "gausslegendre"
    aggregate: Aggregate = "abs_mean"
    samples: str = "positive"
    batch_size: int = 64
    internal_batch_size: int = 1024
    seed: int = 0
    dask_scheduler: str | None = None

    def __post_init__(self) -> None:
        allowed = {
            "method": tuple(ATTRIBUTION_METHODS),
            "baseline": tuple(BASELINE_KINDS),
            "aggregate": tuple(AGGREGATIONS),
            "samples": SAMPLE_SETS,
            "quadrature": QUADRATURES,
        }
        for key, values in allowed.items():
            if getattr(self, key) not in values:
                raise ConfigError(
                    f"attribution.{key} must be one of {', '.join(values)}, "
                    f"got {getattr(self, key)!r}"
                )
        for key in ("n_baselines", "n_steps", "batch_size", "internal_batch_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"attribution.{key} must be ≥ 1, got {getattr(self, key)}")

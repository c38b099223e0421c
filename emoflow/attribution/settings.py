"""Settings of the attribution stage: the ``attribution`` config section.

Allowed values and ranges come from the configuration schema, except the names of methods,
baselines and aggregations: in Python those are the keys of their registries (the schema's
enums are the configuration's copy; ``tests/test_settings.py`` checks that they agree).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from emoflow.attribution.baselines import BASELINE_KINDS
from emoflow.attribution.methods import ATTRIBUTION_METHODS
from emoflow.attribution.relevance import AGGREGATIONS
from emoflow.config import SectionSettings, allowed_values

Baseline = str
"""A key of :data:`emoflow.attribution.baselines.BASELINE_KINDS`."""
Method = str
"""A key of :data:`emoflow.attribution.methods.ATTRIBUTION_METHODS`."""
Aggregate = str
"""A key of :data:`emoflow.attribution.relevance.AGGREGATIONS`."""

QUADRATURES: tuple[str, ...] = allowed_values("attribution.quadrature")
SAMPLE_SETS: tuple[str, ...] = allowed_values("attribution.samples")


@dataclass(frozen=True)
class AttributionSettings(SectionSettings):
    """Settings of the attribution stage (see :mod:`emoflow.attribution` for the formula).

    Parameters
    ----------
    method
        ``integrated_gradients`` (the improved IG; exact fast path for the randomized
        network), ``integrated_gradients_captum`` (the same by Captum, for any model),
        ``smoothgrad_ig``, ``gradient_shap`` or ``feature_ablation``: a key of
        :data:`~emoflow.attribution.ATTRIBUTION_METHODS`.
    baseline, n_baselines
        Kind (a key of :data:`~emoflow.attribution.baselines.BASELINE_KINDS`) and number
        ``K`` of the references.
    n_steps, quadrature
        Nodes and rule of the path integral.
    aggregate
        How attributions become one relevance per landmark (a key of
        :data:`~emoflow.attribution.relevance.AGGREGATIONS`).
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

    SECTION = "attribution"
    REGISTRIES: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "method": ATTRIBUTION_METHODS,
        "baseline": BASELINE_KINDS,
        "aggregate": AGGREGATIONS,
    }

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
        self.check()


RUNTIME_KEYS = ("batch_size", "internal_batch_size", "dask_scheduler")
"""Attribution settings that change how a job runs (memory, where dask computes), not what it
computes: the workflow hands them to the job as resources (``attribution_<key>``), so that
changing one re-runs nothing."""


def runtime_settings(section: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split an ``attribution`` config section into the settings that decide the result and
    the run-time knobs of :data:`RUNTIME_KEYS`, as ``attribution_<key>`` resources (a
    missing scheduler as ``""``)."""
    result = {key: value for key, value in section.items() if key not in RUNTIME_KEYS}
    runtime = {
        f"attribution_{key}": "" if section[key] is None else section[key]
        for key in RUNTIME_KEYS
        if key in section
    }
    return result, runtime

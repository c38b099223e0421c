"""Settings of the attribution stage: the ``attribution`` config section.

The class declares the section's keys (types, defaults, ranges, allowed values: the
configuration schema is generated from it); the names of methods, baselines and aggregations
are the keys of their registries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emoflow.attribution.baselines import BASELINE_KINDS
from emoflow.attribution.methods import ATTRIBUTION_METHODS
from emoflow.attribution.relevance import AGGREGATIONS
from emoflow.config import SectionSettings, setting

Baseline = str
"""A key of :data:`emoflow.attribution.baselines.BASELINE_KINDS`."""
Method = str
"""A key of :data:`emoflow.attribution.methods.ATTRIBUTION_METHODS`."""
Aggregate = str
"""A key of :data:`emoflow.attribution.relevance.AGGREGATIONS`."""

QUADRATURES: tuple[str, ...] = ("gausslegendre", "riemann_trapezoid")
"""Values of :attr:`AttributionSettings.quadrature`: the rules of the path integral."""
SAMPLE_SETS: tuple[str, ...] = ("positive", "all")
"""Values of :attr:`AttributionSettings.samples`: the samples averaged into relevance."""


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

    method: Method = setting("integrated_gradients", enum=ATTRIBUTION_METHODS)
    baseline: Baseline = setting("negative_centroids", enum=BASELINE_KINDS)
    n_baselines: int = setting(5, minimum=1)
    n_steps: int = setting(32, minimum=1)
    quadrature: str = setting("gausslegendre", enum=QUADRATURES)
    aggregate: Aggregate = setting("abs_mean", enum=AGGREGATIONS)
    samples: str = setting("positive", enum=SAMPLE_SETS)
    batch_size: int = setting(64, minimum=1, runtime=True)
    internal_batch_size: int = setting(1024, minimum=1, runtime=True)
    seed: int = setting(0, minimum=0)
    dask_scheduler: str | None = setting(None, runtime=True)

    def __post_init__(self) -> None:
        self.check()

    def baseline_options(self) -> dict[str, Any]:
        """The keywords of :func:`~emoflow.attribution.choose_baselines` these settings give:
        the baseline ``kind``, their number ``k`` and ``seed``."""
        return {"kind": self.baseline, "k": self.n_baselines, "seed": self.seed}


RUNTIME_KEYS = AttributionSettings.runtime_keys()
"""Attribution settings that change how a job runs (memory, where dask computes), not what it
computes (declared ``runtime=True``): the workflow hands them to the job as resources
(``attribution_<key>``), so that changing one re-runs nothing."""


def runtime_settings(section: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split an ``attribution`` config section into the settings that decide the result and
    the run-time knobs of :data:`RUNTIME_KEYS`, as ``attribution_<key>`` resources (a
    missing scheduler as ``""``)."""
    return AttributionSettings.split_runtime(section)

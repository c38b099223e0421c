"""Progressive landmark pruning, iteration by iteration, and the summary over iterations.

- :mod:`~emoflow.pruning.policies` — how many landmarks an iteration keeps, one small class
  per policy in :data:`PRUNING_POLICIES`;
- :mod:`~emoflow.pruning.settings` — :class:`PruneSettings` and :class:`ChainSettings`, built
  from the ``prune`` config section (unknown keys rejected);
- :mod:`~emoflow.pruning.pruner` — :class:`~emoflow.pruning.pruner.LandmarkPruner` (mirror pairs,
  floor) and the iteration functions that write ``landmarks.json`` through
  :mod:`emoflow.storage.landmark_sets`;
- :mod:`~emoflow.pruning.summary` — ``summary.parquet`` (to move to the report); its names
  are imported when first used, so pruning does not import polars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emoflow._lazy import lazy_names
from emoflow.pruning.policies import PRUNING_POLICIES, PruningPolicy
from emoflow.pruning.pruner import choose_iteration, initial_landmark_set
from emoflow.pruning.settings import ChainSettings, PruneSettings

if TYPE_CHECKING:
    from emoflow.pruning.summary import summarise_iterations

_LAZY = {"summarise_iterations": "summary"}

__all__ = [
    "PRUNING_POLICIES",
    "ChainSettings",
    "PruneSettings",
    "PruningPolicy",
    "choose_iteration",
    "initial_landmark_set",
    "summarise_iterations",
]

__getattr__ = lazy_names(__name__, _LAZY)

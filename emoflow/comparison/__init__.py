"""Does the explanation help? Pruning baselines run beside the IG-guided chain (issue 16).

At the landmark counts the IG chain kept at each iteration, each baseline keeps its own
landmarks and is trained and scored by the same protocol (:mod:`emoflow.training`):

- :mod:`~emoflow.comparison.rankings` — random nested sets, two model-free statistics
  (motion energy, class-mean difference), vanilla IG (zero baseline);
- :mod:`~emoflow.comparison.run` — one baseline of one emotion (rule ``compare_pruning``);
- :mod:`~emoflow.comparison.table` — the comparison tables (the one module that writes and
  reads them), the gather and :func:`verdicts`;
- :mod:`~emoflow.comparison.figure` — accuracy against landmarks kept, every ranking;
- :mod:`~emoflow.comparison.settings` — :class:`CompareSettings` (``prune.compare``,
  ``prune.compare_seeds``).

Importing this package does not import torch or matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emoflow._lazy import lazy_names
from emoflow.comparison.rankings import (
    MODEL_FREE_RANKINGS,
    RANKINGS,
    mean_difference_scores,
    motion_energy,
    motion_scores,
    nested_top_sets,
    random_sets,
    zero_baseline_relevance,
)
from emoflow.comparison.settings import CompareSettings
from emoflow.comparison.table import (
    CHAIN,
    COMPARISON_SCHEMA,
    comparison_frame,
    deltas_by_iteration,
    gather_comparison,
    read_comparison,
    verdicts,
    write_comparison,
)

if TYPE_CHECKING:
    from emoflow.comparison.figure import plot_comparison
    from emoflow.comparison.run import chain_counts, compare_pruning

_LAZY = {"plot_comparison": "figure", "compare_pruning": "run", "chain_counts": "run"}

__all__ = [
    "CHAIN",
    "COMPARISON_SCHEMA",
    "MODEL_FREE_RANKINGS",
    "RANKINGS",
    "CompareSettings",
    "chain_counts",
    "compare_pruning",
    "comparison_frame",
    "deltas_by_iteration",
    "gather_comparison",
    "mean_difference_scores",
    "motion_energy",
    "motion_scores",
    "nested_top_sets",
    "plot_comparison",
    "random_sets",
    "read_comparison",
    "verdicts",
    "write_comparison",
    "zero_baseline_relevance",
]

__getattr__ = lazy_names(__name__, _LAZY)

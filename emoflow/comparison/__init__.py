"""Does the explanation help? Pruning baselines run through the same nesting as the
IG-guided chain.

In each outer fold of the nested evaluation, at the landmark counts the fold's IG chain kept
at each iteration, each baseline keeps its own landmarks (ranked from the fold's training
subjects only) and is trained and scored by the same protocol (:mod:`emoflow.training`); the
evaluation (:mod:`emoflow.evaluation`) chooses each baseline's own count on its inner folds.

- :mod:`~emoflow.comparison.rankings` — random nested sets, the explanation-free motion and
  class-mean-difference statistics, vanilla IG (zero baseline);
- :mod:`~emoflow.comparison.run` — the baselines of one emotion in one outer fold (rule
  ``compare_pruning``);
- :mod:`~emoflow.comparison.table` — the comparison tables (the one module that writes and
  reads them);
- :mod:`~emoflow.comparison.settings` — :class:`CompareSettings` (``prune.compare``,
  ``prune.compare_seeds``).

Importing this package does not import torch or matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emoflow._lazy import lazy_names
from emoflow.comparison.settings import CompareSettings

if TYPE_CHECKING:
    from emoflow.comparison.run import compare_pruning

_LAZY = {"compare_pruning": "run"}

__all__ = ["CompareSettings", "compare_pruning"]

__getattr__ = lazy_names(__name__, _LAZY)

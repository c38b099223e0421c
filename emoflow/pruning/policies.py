"""Pruning policies: how many of the ranked landmarks (or mirror pairs) an iteration keeps.

Each policy is a small estimator in :data:`PRUNING_POLICIES` (scikit-learn conventions: its
one setting in ``__init__``, :meth:`~PruningPolicy.fit` computes, the learned count ends in
``_``). The pruner ranks the units (landmarks, or mirror pairs) and applies the floor itself,
so a policy only says how many of the ranked units to keep.

Adding a policy is one class and one registry line, plus a :class:`PruneSettings` field named
after its :attr:`~PruningPolicy.parameter` (checked when :mod:`emoflow.pruning.settings` is
imported), its schema entry (the policy name in ``prune.policy``'s enum, the setting with its
range) and config comment::

    class TopK(PruningPolicy):
        parameter = "top_k"

        def fit(self, ranked_scores, ranked_sizes):
            self.n_units_ = int(np.searchsorted(np.cumsum(ranked_sizes), self.top_k) + 1)
            return self
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from emoflow.errors import ConfigError


class PruningPolicy:
    """How many ranked units to keep.

    Attributes
    ----------
    n_units_ : int
        Units to keep, most relevant first (before the pruner's floor).
    """

    parameter: ClassVar[str]
    """The policy's one setting: the keyword of ``__init__`` and the name of the
    :class:`~emoflow.pruning.PruneSettings` field (and config key) that holds it."""

    def __init__(self, **settings: Any) -> None:
        if set(settings) != {self.parameter}:
            raise ConfigError(
                f"pruning policy {type(self).__name__} takes {self.parameter}, "
                f"got {', '.join(sorted(settings)) or 'nothing'}"
            )
        setattr(self, self.parameter, settings[self.parameter])

    def fit(self, ranked_scores: np.ndarray, ranked_sizes: np.ndarray) -> PruningPolicy:
        """Decide from the units' relevance and sizes, both ordered most relevant first."""
        raise NotImplementedError


class FractionPolicy(PruningPolicy):
    """Drop ``fraction`` of the current landmarks."""

    parameter = "fraction"
    fraction: float

    def fit(self, ranked_scores: np.ndarray, ranked_sizes: np.ndarray) -> FractionPolicy:
        target = int(np.ceil(int(ranked_sizes.sum()) * (1.0 - self.fraction)))
        self.n_units_ = int(np.searchsorted(np.cumsum(ranked_sizes), target) + 1)
        return self


class ThresholdPolicy(PruningPolicy):
    """Drop the units whose relevance is below ``threshold`` × the largest relevance."""

    parameter = "threshold"
    threshold: float

    def fit(self, ranked_scores: np.ndarray, ranked_sizes: np.ndarray) -> ThresholdPolicy:
        self.n_units_ = int(np.sum(ranked_scores >= self.threshold * ranked_scores.max()))
        return self


class SharePolicy(PruningPolicy):
    """Keep the smallest set holding ``share`` of the total relevance."""

    parameter = "share"
    share: float

    def fit(self, ranked_scores: np.ndarray, ranked_sizes: np.ndarray) -> SharePolicy:
        relevance = np.cumsum(ranked_scores * ranked_sizes)
        total = relevance[-1]
        share = relevance / total if total > 0 else np.ones(len(ranked_scores))
        self.n_units_ = int(np.searchsorted(share, self.share - 1e-12) + 1)
        return self


PRUNING_POLICIES: dict[str, type[PruningPolicy]] = {
    "fraction": FractionPolicy,
    "threshold": ThresholdPolicy,
    "share": SharePolicy,
}
"""Policy name (``prune.policy``) → its class."""

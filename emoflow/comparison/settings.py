"""Settings of the pruning comparison: the ``compare`` and ``compare_seeds`` keys of the
``prune`` config section (the other keys are the chain's: :class:`~emoflow.pruning.PruneSettings`
and the workflow)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from emoflow.comparison.rankings import RANKINGS
from emoflow.config import SectionSettings, section_schema, setting
from emoflow.errors import ConfigError

_OWN = ("compare", "compare_seeds")


@dataclass(frozen=True)
class CompareSettings(SectionSettings):
    """Which pruning baselines run beside the IG chain.

    Parameters
    ----------
    compare
        Baseline rankings (keys of :data:`~emoflow.comparison.rankings.RANKINGS`): ``random``,
        ``motion``, ``mean_difference``, ``vanilla_ig``; empty: no comparison (the default).
    compare_seeds
        Random landmark sets per iteration (the spread of the ``random`` baseline).
    """

    SECTION = "prune"
    OTHER_KEYS: ClassVar[Mapping[str, str]] = {
        key: "the pruning chain (PruneSettings, the workflow)"
        for key in section_schema("prune")["properties"]
        if key not in _OWN
    }

    compare: tuple[str, ...] = setting((), items={"enum": list(RANKINGS)}, unique_items=True)
    compare_seeds: int = setting(5, minimum=1, maximum=100)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compare", tuple(self.compare))
        self.check()
        if unknown := [name for name in self.compare if name not in RANKINGS]:
            raise ConfigError(f"prune.compare: unknown ranking(s) {unknown}; allowed: {RANKINGS}")

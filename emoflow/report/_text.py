"""The report's words: signed numbers, and the evaluation's procedures by name."""

from __future__ import annotations

from emoflow.evaluation import CHAIN, FULL

_PROCEDURE_NAMES = {
    FULL: "all landmarks",
    CHAIN: "IG-guided pruning",
    "vanilla_ig": "vanilla IG pruning",
    "mean_difference": "class-mean difference (model-free)",
    "motion": "motion statistic (model-free)",
    "random": "random landmarks",
}


def signed(value: float) -> str:
    """``+0.033``, ``-0.004``; a zero is ``+0.000``, never ``-0.000``."""
    return f"{round(value, 3) + 0.0:+.3f}"


def procedure_name(procedure: str) -> str:
    """A procedure (a ``ranking`` of the evaluation) in words; an unknown one as it is."""
    return _PROCEDURE_NAMES.get(procedure, procedure)

"""The nested evaluation: what a reader is told about the procedure.

For each outer (subject-independent) fold of the development subjects, every emotion's chain
is trained, attributed, pruned and its landmark count chosen on inner folds, all from the
fold's training subjects only (:mod:`emoflow.chains` with ``outer_fold``); the chosen model is
scored once on the fold's own subjects. Every baseline of ``prune.compare`` goes through the
same nesting (:mod:`emoflow.comparison`). This package turns those scores into estimates:

- :mod:`~emoflow.evaluation.outer` — every procedure's outer-fold predictions, counts chosen
  from inner-fold scores alone;
- :mod:`~emoflow.evaluation.estimates` — estimates, differences and matched-count curves,
  with the subject-level bootstrap of :mod:`emoflow.uncertainty`;
- :mod:`~emoflow.evaluation.tables` — the tables' owner (``results/evaluation/``);
- :mod:`~emoflow.evaluation.run` — the workflow's ``evaluate_nested`` job.
"""

from __future__ import annotations

from emoflow.evaluation.estimates import COMBINED, FULL, EvidenceSettings, estimate_all
from emoflow.evaluation.outer import CHAIN
from emoflow.evaluation.run import evaluate_nested, run_procedure
from emoflow.evaluation.tables import read_runs

__all__ = [
    "CHAIN",
    "COMBINED",
    "FULL",
    "EvidenceSettings",
    "estimate_all",
    "evaluate_nested",
    "read_runs",
    "run_procedure",
]

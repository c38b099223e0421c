"""One pruning baseline of one emotion, run beside the IG-guided chain (rule
``compare_pruning``).

The baseline keeps, at every iteration, as many landmarks as the IG chain's ``landmarks.json``
of that iteration, chosen by its own ranking (:mod:`emoflow.comparison.rankings`), and trains
and scores them exactly as the chain does: the same protocol object of
:mod:`emoflow.training` (folds, inner search, calibration, held-out test subjects, seeds) and
its ``_train_emotion``, so the numbers are comparable with the chain's ``metrics.json``.

- ``random``: ``prune.compare_seeds`` nested sets per emotion, each the first ``count`` of one
  seeded permutation of the start set;
- ``motion``, ``mean_difference`` (model-free): one ranking of the start set, from the
  development samples, by :func:`~emoflow.comparison.rankings.motion_scores` or
  :func:`~emoflow.comparison.rankings.mean_difference_scores`; each count keeps the top of
  that one ranking (nested by construction; a model-free score does not change when other
  landmarks are dropped, so ranking again each iteration would give the same sets);
- ``vanilla_ig``: iterative like the chain: train on the current set, attribute it with the
  zero baseline, keep the top ``count`` of the next iteration.

Iteration 0 (every landmark) is the chain's own, so rows start at iteration 1 (the gather adds
the chain's iteration 0 to the comparison table).
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emoflow.comparison.rankings import (
    MODEL_FREE_RANKINGS,
    RANKINGS,
    nested_top_sets,
    random_sets,
    zero_baseline_relevance,
)
from emoflow.comparison.table import comparison_frame, comparison_row, write_comparison
from emoflow.errors import ConfigError, DataError
from emoflow.landmark_sets import read_landmark_sets

__all__ = ["chain_counts", "compare_pruning"]

log = logging.getLogger(__name__)


def chain_counts(landmark_set_paths: Sequence[str | Path], emotion: str) -> list[np.ndarray]:
    """The IG chain's landmark sets of one emotion, one per iteration, in order."""
    if not landmark_set_paths:
        raise DataError("no landmark-set file of the IG chain given")
    return [
        np.asarray(read_landmark_sets(path, [emotion])[emotion], dtype=np.int64)
        for path in landmark_set_paths
    ]


def compare_pruning(
    features_path: str | Path,
    landmark_set_paths: Sequence[str | Path],
    emotion: str,
    ranking: str,
    out_path: str | Path,
    *,
    train: Mapping[str, Any] | None = None,
    attribution: Mapping[str, Any] | None = None,
    seeds: int = 5,
    threads: int | None = None,
) -> Any:
    """Run one baseline ranking of one emotion at the IG chain's counts; write its table.

    Parameters
    ----------
    landmark_set_paths
        The emotion's ``landmarks.json`` of every iteration of the IG chain, in order (their
        sizes are the counts; iteration 0's set is the start).
    ranking
        ``random``, ``motion``, ``mean_difference`` or ``vanilla_ig`` (:data:`RANKINGS`).
    train, attribution
        The ``train`` section (as for :func:`emoflow.training.train_emotion`) and the
        ``attribution`` section (vanilla IG keeps its method, steps and aggregation and
        replaces the baseline by ``zero``).
    seeds
        ``prune.compare_seeds``: random sets per iteration (``random`` only).

    Returns
    -------
    polars.DataFrame
        The rows written (:data:`~emoflow.comparison.COMPARISON_SCHEMA`).
    """
    from emoflow.devices import limit_threads
    from emoflow.training.iteration import _protocol, _train_emotion
    from emoflow.training.per_emotion import protocol_settings

    if ranking not in RANKINGS:
        raise ConfigError(f"prune.compare must list some of {', '.join(RANKINGS)}, got {ranking!r}")
    limit_threads(threads)
    sets = chain_counts(landmark_set_paths, emotion)
    start, counts = sets[0], [len(keep) for keep in sets]
    settings = protocol_settings(train)
    protocol = _protocol(features_path, iteration=0, **settings)
    if emotion not in protocol.development.emotion_names:
        raise DataError(f"{features_path}: no emotion {emotion!r}")
    # every ranking sees the development samples only (the held-out test subjects never)
    development = protocol.development
    labels = development.labels_for(emotion)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="emoflow-compare-") as scratch:
        model_path = Path(scratch) / "model.pt"

        def fit(iteration: int, keep: np.ndarray) -> dict[str, Any]:
            step = dataclasses.replace(protocol, iteration=iteration)
            return _train_emotion(step, emotion, keep, model_path).record

        if ranking == "random":
            for seed in range(seeds):
                for iteration, keep in enumerate(random_sets(start, counts, seed)):
                    if iteration:
                        rows.append(
                            comparison_row(
                                emotion, ranking, seed, iteration, keep, fit(iteration, keep)
                            )
                        )
        elif ranking in MODEL_FREE_RANKINGS:  # ranked once, from the start set
            scores = MODEL_FREE_RANKINGS[ranking](development.features, labels, start)
            for iteration, keep in enumerate(nested_top_sets(start, scores, counts)):
                if iteration:
                    rows.append(
                        comparison_row(
                            emotion, ranking, None, iteration, keep, fit(iteration, keep)
                        )
                    )
        else:
            from emoflow.models import load_model

            keep = start
            for iteration in range(len(counts)):
                record = fit(iteration, keep)
                if iteration:
                    rows.append(comparison_row(emotion, ranking, None, iteration, keep, record))
                if iteration + 1 < len(counts):
                    model, _ = load_model(model_path, device=protocol.device)
                    model.eval()
                    relevance, _ = zero_baseline_relevance(
                        model, development.features, labels, keep, attribution
                    )
                    keep = nested_top_sets(keep, relevance, [counts[iteration + 1]])[0]
    table = comparison_frame(rows)
    write_comparison(out_path, table)
    log.info("%s, %s: %d rows", emotion, ranking, table.height)
    return table

"""The pruning baselines of one emotion in one outer fold of the nested evaluation (rule
``compare_pruning``).

Every baseline goes through the same nesting as the IG-guided chain: in outer fold ``k`` it
sees the fold's training subjects only. At each iteration it keeps as many landmarks as the
fold's IG chain kept (matched counts), chosen by its own ranking, and is trained and scored
exactly as the chain's step: the same protocol object of :mod:`emoflow.training` (inner folds
of the training subjects for validation, inner search, calibration) and its
:func:`~emoflow.training.iteration.fit_emotion`, which also scores the outer fold's subjects
once. The evaluation (:mod:`emoflow.evaluation`) then chooses each baseline's own count on its
inner-fold scores, as it does for the chain.

- ``random``: ``prune.compare_seeds`` nested sets, each the first ``count`` of one seeded
  permutation of the start set;
- ``motion`` and ``mean_difference`` (model-free, :data:`MODEL_FREE_RANKINGS`): one ranking
  of the start set each, computed once from the training subjects, each count keeping the top
  of that ranking (nested by construction: a model-free score does not change when other
  landmarks are dropped, so ranking again each iteration would give the same sets);
- ``vanilla_ig``: iterative like the chain: train on the current set, attribute it with the
  zero baseline over the training subjects, keep the top ``count`` of the next iteration.

Iteration 0 (every landmark) is the chain's own, so rows start at iteration 1 (the
evaluation gives every baseline the chain's iteration 0).
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
from emoflow.storage.landmark_sets import read_landmark_sets

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
    out_path: str | Path,
    *,
    rankings: Sequence[str],
    outer_fold: int,
    train: Mapping[str, Any] | None = None,
    attribution: Mapping[str, Any] | None = None,
    seeds: int = 5,
    threads: int | None = None,
) -> Any:
    """Run the baseline ``rankings`` of one emotion in one outer fold at the fold's IG chain's
    counts; write their table (:data:`~emoflow.comparison.table.COMPARISON_SCHEMA`).

    Parameters
    ----------
    landmark_set_paths
        The emotion's ``landmarks.json`` of every iteration of outer fold ``outer_fold``'s IG
        chain, in order (their sizes are the counts; iteration 0's set is the start).
    rankings
        Some of :data:`RANKINGS`: ``random``, ``motion``, ``mean_difference``,
        ``vanilla_ig``.
    outer_fold
        The outer fold: its training subjects alone are ranked, trained on and attributed;
        its own subjects are scored once per iteration.
    train, attribution
        The ``train`` section (as for :func:`emoflow.training.train_emotion`) and the
        ``attribution`` section (vanilla IG keeps its method, steps and aggregation and
        replaces the baseline by ``zero``).
    seeds
        ``prune.compare_seeds``: random sets per iteration (``random`` only).

    Returns
    -------
    polars.DataFrame
        The rows written.
    """
    from emoflow.devices import limit_threads
    from emoflow.training.iteration import fit_emotion, training_protocol

    if unknown := [name for name in rankings if name not in RANKINGS]:
        raise ConfigError(f"prune.compare must list some of {', '.join(RANKINGS)}, got {unknown}")
    limit_threads(threads)
    sets = chain_counts(landmark_set_paths, emotion)
    start, counts = sets[0], [len(keep) for keep in sets]
    protocol = training_protocol(features_path, train, outer_fold=outer_fold)
    if emotion not in protocol.development.emotion_names:
        raise DataError(f"{features_path}: no emotion {emotion!r}")
    # every ranking sees the fold's training subjects only (its own and the held-out test
    # subjects never)
    development = protocol.development
    labels = development.labels_for(emotion)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="emoflow-compare-") as scratch:
        model_path = Path(scratch) / "model.pt"

        def fit(ranking: str, seed: int | None, iteration: int, keep: np.ndarray) -> None:
            step = dataclasses.replace(protocol, iteration=iteration)
            result = fit_emotion(step, emotion, keep, model_path)
            if iteration:
                rows.append(
                    comparison_row(
                        emotion, ranking, seed, outer_fold, iteration, keep, result, protocol
                    )
                )

        for ranking in rankings:
            if ranking == "random":
                for seed in range(seeds):
                    for iteration, keep in enumerate(random_sets(start, counts, seed)):
                        if iteration:
                            fit(ranking, seed, iteration, keep)
            elif ranking in MODEL_FREE_RANKINGS:  # ranked once, from the start set
                scores = MODEL_FREE_RANKINGS[ranking](development.features, labels, start)
                for iteration, keep in enumerate(nested_top_sets(start, scores, counts)):
                    if iteration:
                        fit(ranking, None, iteration, keep)
            else:
                from emoflow.models import load_model

                keep = start
                for iteration in range(len(counts)):
                    fit(ranking, None, iteration, keep)
                    if iteration + 1 < len(counts):
                        model, _ = load_model(model_path, device=protocol.device)
                        model.eval()
                        relevance, _ = zero_baseline_relevance(
                            model, development.features, labels, keep, attribution
                        )
                        keep = nested_top_sets(keep, relevance, [counts[iteration + 1]])[0]
    table = comparison_frame(rows)
    write_comparison(out_path, table)
    log.info("%s, outer fold %d: %d rows", emotion, outer_fold, table.height)
    return table

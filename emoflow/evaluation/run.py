"""The workflow's ``evaluate_nested`` job: every outer fold's chains and baselines → the
evaluation's tables."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from emoflow.evaluation.estimates import (
    EvidenceSettings,
    deployed_rows,
    estimate_all,
)
from emoflow.evaluation.outer import outer_predictions
from emoflow.evaluation.tables import write_evaluation
from emoflow.pruning import ChainSettings

__all__ = ["evaluate_nested", "run_procedure"]

log = logging.getLogger(__name__)

Steps = Sequence[Mapping[str, str | Path]]


def evaluate_nested(
    chains: Mapping[str, Mapping[Any, Steps]],
    outputs: Mapping[str, str | Path],
    *,
    comparisons: Sequence[str | Path] = (),
    deployed: Mapping[str, Steps] | None = None,
    summary_path: str | Path | None = None,
    tolerance: float = ChainSettings.tolerance,
    settings: Mapping[str, Any] | EvidenceSettings | None = None,
) -> dict[str, pl.DataFrame]:
    """Write the nested evaluation's tables (:mod:`emoflow.evaluation.tables`).

    Parameters
    ----------
    chains
        Emotion → outer fold → its chain's steps (``metrics`` and ``scores`` paths) in
        iteration order.
    outputs
        Where to write ``predictions``, ``estimates``, ``differences`` and ``curves``.
    comparisons
        The baselines' tables of every emotion and outer fold (``prune.compare``).
    deployed, summary_path
        The deployed chain's steps per emotion and its summary (each emotion's selected
        iteration): the held-out test and validation scopes.
    tolerance
        ``prune.tolerance``: the count choice's tie tolerance, as in the summary.
    settings
        :class:`EvidenceSettings` or the ``evaluation`` config section.
    """
    if not isinstance(settings, EvidenceSettings):
        settings = EvidenceSettings.from_section(settings)
    folds = {e: {int(k): steps for k, steps in chain.items()} for e, chain in chains.items()}
    predictions = outer_predictions(folds, comparisons, tolerance=tolerance)
    held_out = None
    if deployed and summary_path is not None:
        from emoflow.storage.summary import selected_iterations

        held_out = deployed_rows(deployed, selected_iterations(summary_path))
    estimates, differences, curves = estimate_all(predictions, deployed=held_out, settings=settings)
    tables = {
        "predictions": predictions,
        "estimates": estimates,
        "differences": differences,
        "curves": curves,
    }
    for kind, table in tables.items():
        write_evaluation(kind, table, outputs[kind])
    for row in estimates.filter(pl.col("scope") == "nested").iter_rows(named=True):
        log.info(
            "%s, %s: %.3f [%.3f, %.3f] (%d subjects, %d samples)",
            row["emotion"],
            row["procedure"],
            row["estimate"],
            row["ci_low"],
            row["ci_high"],
            row["n_subjects"],
            row["n_samples"],
        )
    return tables


def run_procedure(
    features_path: str | Path,
    results: str | Path,
    *,
    train: Mapping[str, Any] | None = None,
    attribution: Mapping[str, Any] | None = None,
    prune: Mapping[str, Any] | None = None,
    evidence: Mapping[str, Any] | EvidenceSettings | None = None,
    deployed: bool = True,
    threads: int | None = None,
) -> dict[str, pl.DataFrame]:
    """The whole procedure and its nested evaluation in this process, as the workflow runs it
    job by job: every emotion's chain on each outer fold's training subjects (and, with
    ``deployed``, on all development subjects), the baselines of ``prune.compare`` in each
    outer fold, the deployed chain's gather and summary, then :func:`evaluate_nested`. Files
    are written under ``results`` in the workflow's layout (:class:`emoflow.layout.ResultsLayout`).

    Parameters
    ----------
    train, attribution, prune
        The config sections (``prune.iterations``, ``start``, ``compare``,
        ``compare_seeds``, ``tolerance`` and the policy are read from ``prune``).
    evidence
        The ``evaluation`` section (:class:`EvidenceSettings`).

    Returns
    -------
    dict
        The evaluation's tables by name.
    """
    from emoflow.chains import run_chain, start_chains
    from emoflow.comparison import compare_pruning
    from emoflow.layout import ResultsLayout
    from emoflow.pruning import PruneSettings, summarise_iterations
    from emoflow.storage.feature_store import read_store_attributes
    from emoflow.training.gather import gather_results

    layout = ResultsLayout(Path(results))
    prune = dict(prune or {})
    n_iterations = int(prune.pop("iterations", 4))
    start = str(prune.pop("start", "all"))
    rankings = list(prune.pop("compare", []) or [])
    seeds = int(prune.pop("compare_seeds", 5))
    tolerance = float(prune.get("tolerance", 0.0))
    prune_section = PruneSettings.rule_params(prune)
    n_folds = int((train or {}).get("n_folds", 4))
    emotions = [str(e) for e in read_store_attributes(features_path)["emotions"]]
    folds: list[int | None] = [*([None] if deployed else []), *range(n_folds)]
    iterations = range(n_iterations + 1)
    options: dict[str, Any] = {"train": train, "attribution": attribution, "threads": threads}
    for fold in folds:
        start_chains(
            features_path,
            {e: layout.step(0, e, fold) for e in emotions},
            start=start,
            outer_fold=fold,
            **options,
        )
        for emotion in emotions:
            run_chain(
                features_path,
                emotion,
                [layout.step(i, emotion, fold) for i in iterations],
                prune=prune_section,
                outer_fold=fold,
                **options,
            )
    comparisons = []
    for fold in range(n_folds) if rankings else ():
        for emotion in emotions:
            path = layout.comparison(emotion, fold)
            compare_pruning(
                features_path,
                [layout.landmark_sets(i, emotion, fold) for i in iterations],
                emotion,
                path,
                rankings=rankings,
                outer_fold=fold,
                train=train,
                attribution=attribution,
                seeds=seeds,
                threads=threads,
            )
            comparisons.append(path)
    chains = {
        e: {k: [layout.step(i, e, k) for i in iterations] for k in range(n_folds)} for e in emotions
    }
    summary = None
    if deployed:
        for i in iterations:
            gather_results(layout, i, emotions)
        summary = layout.summary
        summarise_iterations([layout.metrics(i) for i in iterations], summary, tolerance=tolerance)
    return evaluate_nested(
        chains,
        {
            "predictions": layout.evaluation_predictions,
            "estimates": layout.evaluation_estimates,
            "differences": layout.evaluation_differences,
            "curves": layout.evaluation_curves,
        },
        comparisons=comparisons,
        deployed={e: [layout.step(i, e) for i in iterations] for e in emotions}
        if deployed
        else None,
        summary_path=summary,
        tolerance=tolerance,
        settings=evidence,
    )

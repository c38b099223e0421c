"""Every procedure's outer-fold predictions: the nested evaluation's raw material.

For each emotion and outer fold, the IG-guided chain of that fold (trained, attributed and
pruned on the fold's training subjects only) has, at every iteration, a validation score from
inner folds of those training subjects and the scores of its model on the fold's own subjects.
Each baseline of ``prune.compare`` has the same at the chain's counts
(:mod:`emoflow.comparison`). The count a procedure uses in a fold is chosen here, from the
inner-fold scores alone (:func:`emoflow.pruning.choose_iteration`, the rule of the deployed
chain's summary); the outer scores of the chosen iteration are the procedure's predictions.
The full landmark set (iteration 0) is its own procedure, ``full``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from emoflow.comparison.table import read_comparison
from emoflow.errors import InputError
from emoflow.pruning import ChainSettings, choose_iteration
from emoflow.storage.metrics import read_metrics, read_scores

__all__ = ["CHAIN", "PREDICTION_SCHEMA", "outer_predictions", "select_counts"]

CHAIN = "ig_guided"
"""The ``ranking`` of the IG-guided chain's rows."""

PREDICTION_SCHEMA: dict[str, Any] = {
    "ranking": pl.String,
    "seed": pl.Int64,
    "emotion": pl.String,
    "outer_fold": pl.Int64,
    "iteration": pl.Int64,
    "n_landmarks": pl.Int64,
    "validation": pl.Float64,
    "selected": pl.Boolean,
    "video_id": pl.String,
    "subject": pl.String,
    "true_emotion": pl.String,
    "score": pl.Float64,
    "probability": pl.Float64,
}
"""One row per procedure (ranking, seed), binary model (``emotion``), outer fold, iteration
and outer sample: ``validation`` is the inner-fold balanced accuracy the count is chosen on,
``selected`` marks the chosen iteration of the procedure in the fold, ``score`` and
``probability`` the model's raw score and calibrated probability of the outer sample."""

_PROCEDURE = ("ranking", "seed", "emotion", "outer_fold")


def _chain_rows(
    emotion: str, fold: int, steps: Sequence[Mapping[str, str | Path]]
) -> list[pl.DataFrame]:
    parts = []
    for iteration, step in enumerate(steps):
        metrics = read_metrics(step["metrics"])
        record = metrics["emotions"].get(emotion)
        if record is None:
            raise InputError(step["metrics"], f"no metrics of emotion {emotion!r}")
        if metrics.get("outer_fold") != fold:
            raise InputError(
                step["metrics"], f"is not outer fold {fold}'s (it says {metrics.get('outer_fold')})"
            )
        outer = read_scores(step["scores"]).filter(
            (pl.col("fold") < 0) & (pl.col("model") == emotion)
        )
        if outer.is_empty():
            raise InputError(step["scores"], "holds no outer-fold scores")
        parts.append(
            outer.select(
                pl.lit(CHAIN).alias("ranking"),
                pl.lit(None, pl.Int64).alias("seed"),
                pl.lit(emotion).alias("emotion"),
                pl.lit(fold, pl.Int64).alias("outer_fold"),
                pl.lit(iteration, pl.Int64).alias("iteration"),
                pl.lit(int(record["n_landmarks"]), pl.Int64).alias("n_landmarks"),
                pl.lit(record["mean"]["balanced_accuracy"], pl.Float64).alias("validation"),
                pl.lit(False).alias("selected"),
                "video_id",
                "subject",
                pl.col("emotion").alias("true_emotion"),
                "score",
                "probability",
            )
        )
    return parts


def _baseline_rows(path: str | Path, samples: pl.DataFrame) -> pl.DataFrame:
    """A comparison table's rows, one per outer sample, with the samples' subject and true
    emotion (from the chain's rows of the same fold)."""
    table = read_comparison(path)
    long = table.explode("video_id", "score", "probability").select(
        "ranking",
        "seed",
        "emotion",
        "outer_fold",
        "iteration",
        "n_landmarks",
        pl.col("val_balanced_accuracy_mean").alias("validation"),
        pl.lit(False).alias("selected"),
        "video_id",
        "score",
        "probability",
    )
    joined = long.join(
        samples, on=["emotion", "outer_fold", "video_id"], how="left", maintain_order="left"
    )
    if joined["subject"].null_count():
        raise InputError(path, "scores samples that the IG chain's outer fold does not hold")
    return joined.select(list(PREDICTION_SCHEMA))


def select_counts(
    predictions: pl.DataFrame, *, tolerance: float = ChainSettings.tolerance
) -> pl.DataFrame:
    """Mark each procedure's chosen iteration in each outer fold (``selected``), from its
    inner-fold ``validation`` scores and landmark counts alone."""
    steps = predictions.select(*_PROCEDURE, "iteration", "n_landmarks", "validation").unique(
        maintain_order=True
    )
    chosen = []
    for key, group in steps.group_by(_PROCEDURE, maintain_order=True):
        group = group.sort("iteration")
        index = choose_iteration(
            group["validation"].to_numpy(), group["n_landmarks"].to_numpy(), tolerance=tolerance
        )
        chosen.append((*key, int(group["iteration"][index])))
    marks = pl.DataFrame(
        chosen,
        schema={**{name: PREDICTION_SCHEMA[name] for name in _PROCEDURE}, "_chosen": pl.Int64},
        orient="row",
    )
    return (
        predictions.drop("selected")
        .join(marks, on=list(_PROCEDURE), how="left", nulls_equal=True, maintain_order="left")
        .with_columns(selected=pl.col("iteration") == pl.col("_chosen"))
        .drop("_chosen")
        .select(list(PREDICTION_SCHEMA))
    )


def outer_predictions(
    chains: Mapping[str, Mapping[int, Sequence[Mapping[str, str | Path]]]],
    comparison_paths: Sequence[str | Path] = (),
    *,
    tolerance: float = ChainSettings.tolerance,
) -> pl.DataFrame:
    """Every procedure's outer-fold predictions (:data:`PREDICTION_SCHEMA`), counts chosen.

    Parameters
    ----------
    chains
        Emotion → outer fold → the fold chain's steps in iteration order, each with its
        ``metrics`` (``metrics.json``) and ``scores`` (``scores.parquet``) paths.
    comparison_paths
        The baselines' tables (``compare/fold_{k}/{emotion}.parquet``); each baseline starts
        from the chain's iteration 0 of its fold (the same full set and model).
    tolerance
        ``prune.tolerance`` of the count choice.
    """
    parts = [
        part
        for emotion, folds in chains.items()
        for fold, steps in folds.items()
        for part in _chain_rows(emotion, int(fold), steps)
    ]
    if not parts:
        raise InputError("nested evaluation", "no outer-fold chain was given")
    chain = pl.concat(parts, how="vertical").cast(PREDICTION_SCHEMA)  # type: ignore[arg-type]
    samples = chain.filter(pl.col("iteration") == 0).select(
        "emotion", "outer_fold", "video_id", "subject", "true_emotion"
    )
    baselines = [_baseline_rows(path, samples) for path in comparison_paths]
    start = chain.filter(pl.col("iteration") == 0)
    for ranking, seed in (
        pl.concat(baselines).select("ranking", "seed").unique().sort("ranking", "seed").iter_rows()
        if baselines
        else []
    ):
        baselines.append(start.with_columns(ranking=pl.lit(ranking), seed=pl.lit(seed, pl.Int64)))
    table = pl.concat([chain, *baselines], how="vertical") if baselines else chain
    table = table.sort(*_PROCEDURE, "iteration", "video_id", nulls_last=False)
    return select_counts(table, tolerance=tolerance)


def procedure_rows(predictions: pl.DataFrame, ranking: str) -> pl.DataFrame:
    """The rows a procedure predicts with: ``full`` (iteration 0 of the IG chain), or the
    chosen iteration of a ranking (every seed of it)."""
    if ranking == "full":
        return predictions.filter((pl.col("ranking") == CHAIN) & (pl.col("iteration") == 0))
    return predictions.filter((pl.col("ranking") == ranking) & pl.col("selected"))


def chosen_counts(predictions: pl.DataFrame, ranking: str, emotion: str) -> list[int]:
    """The landmark count a procedure chose in each outer fold (every seed), in fold order."""
    rows = (
        procedure_rows(predictions, ranking)
        .filter(pl.col("emotion") == emotion)
        .select("seed", "outer_fold", "n_landmarks")
        .unique()
        .sort("seed", "outer_fold", nulls_last=False)
    )
    return [int(v) for v in rows["n_landmarks"].to_numpy()]

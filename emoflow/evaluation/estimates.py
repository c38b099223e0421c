"""Estimates with intervals, paired differences with verdicts, and matched-count curves.

The estimate a reader is told is the outer-fold balanced accuracy of *the procedure* (train →
attribute → prune → choose the count on inner folds), pooled over the outer folds' samples,
with a subject-level bootstrap 95 % interval (:mod:`emoflow.uncertainty`) and the
subjects and samples behind it. Differences (pruned − full; IG-guided − each baseline) are
resampled paired: the same subjects drawn for both. A difference is a ``win`` or a ``loss``
only when its interval excludes 0; otherwise "no difference shown". Several runs (repeated
data seeds) pool into one estimate, their subjects resampled within each run.

``random`` has several seeds; its estimate (and its side of a difference) is the mean over its
seeds of each seed's balanced accuracy, under the same resampled subjects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow.config import SectionSettings, setting
from emoflow.errors import DataError
from emoflow.evaluation.outer import CHAIN, chosen_counts, procedure_rows
from emoflow.uncertainty import Interval, balanced_accuracy, interval_of, resample_weights, verdict

__all__ = [
    "CURVE_SCHEMA",
    "DIFFERENCE_SCHEMA",
    "ESTIMATE_SCHEMA",
    "EvidenceSettings",
    "check_with_scikit_learn",
    "deployed_rows",
    "estimate_all",
]

COMBINED = "combined"
"""The ``emotion`` of the multi-class (argmax) classifier's rows."""
FULL = "full"
"""The procedure that keeps every landmark (iteration 0)."""

_WHERE: dict[str, Any] = {"emotion": pl.String, "scope": pl.String, "procedure": pl.String}
_INTERVAL: dict[str, Any] = {
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "n_subjects": pl.Int64,
    "n_samples": pl.Int64,
    "n_runs": pl.Int64,
    "n_undefined": pl.Int64,
}
"""The columns of both tables of intervals: which estimate, and its interval."""

ESTIMATE_SCHEMA: dict[str, Any] = {
    **_WHERE,
    "estimate": pl.Float64,
    **_INTERVAL,
    "n_landmarks": pl.List(pl.Int64),
}
"""Balanced accuracy of one procedure: ``scope`` is ``nested`` (outer folds of the
development subjects), ``test`` (the deployed model on the held-out test subjects) or
``validation`` (the deployed chain's cross-validation, on which its count was chosen:
optimistic); ``n_landmarks`` the count chosen in each outer fold (nested) or the deployed
model's."""

DIFFERENCE_SCHEMA: dict[str, Any] = {
    **_WHERE,
    "baseline": pl.String,
    "difference": pl.Float64,
    **_INTERVAL,
    "verdict": pl.String,
}
"""``procedure`` − ``baseline`` in balanced accuracy, resampled paired, and its verdict."""

CURVE_SCHEMA: dict[str, Any] = {
    "emotion": pl.String,
    "ranking": pl.String,
    "iteration": pl.Int64,
    "n_landmarks": pl.Float64,
    "estimate": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "n_subjects": pl.Int64,
}
"""Outer-fold balanced accuracy of each ranking at every iteration (matched counts), not
chosen: the curve the count is chosen along, scored honestly."""


@dataclass(frozen=True)
class EvidenceSettings(SectionSettings):
    """How intervals are computed: the ``evaluation`` config section. ``n_resamples``
    subject-level bootstrap resamples, ``confidence`` of the percentile interval, the
    resampling ``seed``."""

    SECTION = "evaluation"

    n_resamples: int = setting(2000, minimum=100, maximum=100000)
    confidence: float = setting(0.95, exclusive_minimum=0.5, exclusive_maximum=1)
    seed: int = setting(0, minimum=0)

    def __post_init__(self) -> None:
        self.check()


@dataclass
class _Samples:
    """The samples of one scope in a fixed order (by run, then video), with each run's
    bootstrap weights: row 0 the data itself, rows 1 … the resamples of the run's subjects
    (:func:`emoflow.uncertainty.resample_weights`, the draws :func:`pooled_interval` makes)."""

    keys: pl.DataFrame  # run, video_id (the order)
    subjects: np.ndarray
    truth: np.ndarray
    runs: np.ndarray
    weights: dict[str, np.ndarray]  # run → (1 + n_resamples, the run's samples)

    @classmethod
    def of(cls, rows: pl.DataFrame, settings: EvidenceSettings) -> _Samples:
        ordered = (
            rows.select("run", "video_id", "subject", "true_emotion")
            .unique()
            .sort("run", "video_id")
        )
        if ordered.select("run", "video_id").is_duplicated().any():
            raise DataError("a sample has two subjects or true emotions in the predictions")
        runs = ordered["run"].to_numpy().astype(str)
        subjects = ordered["subject"].to_numpy().astype(str)
        weights = {}
        for index, run in enumerate(dict.fromkeys(runs)):
            resampled = resample_weights(
                subjects[runs == run], settings.n_resamples, seed=settings.seed, dataset=index
            )
            weights[run] = np.vstack([np.ones((1, resampled.shape[1])), resampled])
        return cls(
            ordered.select("run", "video_id"),
            subjects,
            ordered["true_emotion"].to_numpy().astype(str),
            runs,
            weights,
        )

    @property
    def n_subjects(self) -> int:
        return len(np.unique(np.char.add(self.runs, self.subjects)))

    @property
    def fewest_subjects(self) -> int:
        """The subjects of the smallest run (each run is resampled on its own)."""
        return min(len(np.unique(self.subjects[self.runs == run])) for run in self.weights)

    def statistic(self, truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """Balanced accuracy of ``predicted`` (in this order) under every resample, the mean
        over the runs (each run's own subjects resampled; NaN where a run's is undefined)."""
        values = [
            balanced_accuracy(truth[self.runs == run], predicted[self.runs == run], weights)
            for run, weights in self.weights.items()
        ]
        return np.mean(values, axis=0)

    def interval(
        self, values: np.ndarray, settings: EvidenceSettings, *, difference: bool = False
    ) -> Interval:
        return interval_of(
            values[0],
            values[1:],
            level=settings.confidence,
            n_subjects=self.n_subjects,
            n_samples=len(self.subjects),
            fewest_subjects=self.fewest_subjects,
            n_datasets=len(self.weights),
            difference=difference,
        )

    def aligned(self, rows: pl.DataFrame, column: str) -> np.ndarray:
        """``column`` of ``rows`` (one per sample) in this order; DataError when the rows do
        not hold exactly these samples."""
        joined = self.keys.join(
            rows.select("run", "video_id", column), on=["run", "video_id"], maintain_order="left"
        )
        if joined.height != self.keys.height or rows.height != self.keys.height:
            raise DataError(
                f"{rows.height} predictions for {self.keys.height} samples: the procedures "
                "were not scored on the same samples"
            )
        return joined[column].to_numpy()


def _seed_values(
    samples: _Samples, rows: pl.DataFrame, emotion: str, statistic: str = "binary"
) -> np.ndarray:
    """The statistic of ``rows`` under every resample, averaged over the rows' seeds."""
    values = []
    for _, own in rows.group_by("seed", maintain_order=True):
        scores = samples.aligned(own, "score")
        values.append(samples.statistic(samples.truth == emotion, scores > 0))
    if not values:
        raise DataError(f"no predictions of {emotion!r}")
    with np.errstate(invalid="ignore"):
        return np.mean(values, axis=0)


def _combined_values(samples: _Samples, rows: pl.DataFrame, emotions: Sequence[str]) -> np.ndarray:
    """Multi-class balanced accuracy of the argmax of the emotions' probabilities."""
    probabilities = np.column_stack(
        [samples.aligned(rows.filter(pl.col("emotion") == e), "probability") for e in emotions]
    )
    predicted = np.asarray(emotions)[np.argmax(probabilities, axis=1)]
    return samples.statistic(samples.truth, predicted)


def _interval_values(found: Interval, samples: _Samples) -> dict[str, Any]:
    """A row's :data:`_INTERVAL` columns."""
    return {
        "ci_low": found.low,
        "ci_high": found.high,
        "n_subjects": samples.n_subjects,
        "n_samples": len(samples.subjects),
        "n_runs": found.n_datasets,
        "n_undefined": found.n_undefined,
    }


def _estimate_row(
    emotion: str,
    scope: str,
    procedure: str,
    found: Interval,
    samples: _Samples,
    counts: Sequence[int],
) -> dict[str, Any]:
    return {
        "emotion": emotion,
        "scope": scope,
        "procedure": procedure,
        "estimate": found.estimate,
        **_interval_values(found, samples),
        "n_landmarks": [int(c) for c in counts],
    }


def _difference_row(
    emotion: str,
    scope: str,
    procedure: str,
    baseline: str,
    found: Interval,
    samples: _Samples,
) -> dict[str, Any]:
    return {
        "emotion": emotion,
        "scope": scope,
        "procedure": procedure,
        "baseline": baseline,
        "difference": found.estimate,
        **_interval_values(found, samples),
        "verdict": verdict(found),
    }


def _with_run(table: pl.DataFrame) -> pl.DataFrame:
    if "run" in table.columns:
        return table.with_columns(pl.col("run").cast(pl.String))
    return table.with_columns(run=pl.lit("0"))


def _scope_rows(
    scope: str,
    rows_of: Mapping[str, pl.DataFrame],
    counts_of: Mapping[tuple[str, str], Sequence[int]],
    emotions: Sequence[str],
    settings: EvidenceSettings,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Estimates and differences of one scope: procedure name → its prediction rows."""
    every = pl.concat(list(rows_of.values()), how="vertical")
    samples = _Samples.of(every, settings)
    estimates: list[dict[str, Any]] = []
    differences: list[dict[str, Any]] = []
    procedures = list(rows_of)
    for emotion in emotions:
        values = {
            name: _seed_values(samples, rows.filter(pl.col("emotion") == emotion), emotion)
            for name, rows in rows_of.items()
        }
        for name in procedures:
            estimates.append(
                _estimate_row(
                    emotion,
                    scope,
                    name,
                    samples.interval(values[name], settings),
                    samples,
                    counts_of.get((name, emotion), ()),
                )
            )
        own = CHAIN if CHAIN in values else None
        if own is None:
            continue
        for baseline in procedures:
            if baseline == own:
                continue
            found = samples.interval(values[own] - values[baseline], settings, difference=True)
            differences.append(_difference_row(emotion, scope, own, baseline, found, samples))
    # the combined (argmax) classifier of the full and of the pruned models
    single_seed = [
        name
        for name, rows in rows_of.items()
        if rows["seed"].n_unique() == 1 and name in (FULL, CHAIN)
    ]
    combined = {name: _combined_values(samples, rows_of[name], emotions) for name in single_seed}
    for name, found_values in combined.items():
        estimates.append(
            _estimate_row(
                COMBINED, scope, name, samples.interval(found_values, settings), samples, ()
            )
        )
    if FULL in combined and CHAIN in combined:
        found = samples.interval(combined[CHAIN] - combined[FULL], settings, difference=True)
        differences.append(_difference_row(COMBINED, scope, CHAIN, FULL, found, samples))
    return estimates, differences


def _curves(
    predictions: pl.DataFrame, emotions: Sequence[str], settings: EvidenceSettings
) -> list[dict[str, Any]]:
    samples = _Samples.of(predictions.filter(pl.col("iteration") == 0), settings)
    rows = []
    for (ranking, emotion, iteration), group in predictions.group_by(
        "ranking", "emotion", "iteration", maintain_order=True
    ):
        if emotion not in emotions:
            continue
        found = samples.interval(_seed_values(samples, group, str(emotion)), settings)
        rows.append(
            {
                "emotion": emotion,
                "ranking": ranking,
                "iteration": iteration,
                "n_landmarks": float(
                    np.mean(
                        group.select("seed", "outer_fold", "n_landmarks")
                        .unique()["n_landmarks"]
                        .to_numpy()
                    )
                ),
                "estimate": found.estimate,
                "ci_low": found.low,
                "ci_high": found.high,
                "n_subjects": samples.n_subjects,
            }
        )
    return rows


def estimate_all(
    predictions: pl.DataFrame,
    *,
    deployed: pl.DataFrame | None = None,
    settings: EvidenceSettings | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Estimates, differences and curves from every procedure's outer-fold predictions.

    Parameters
    ----------
    predictions
        :data:`~emoflow.evaluation.outer.PREDICTION_SCHEMA` rows, counts chosen; with a
        ``run`` column, several runs (data seeds) pooled, subjects resampled within each.
    deployed
        The deployed chain's rows (:func:`deployed_rows`): ``test`` and ``validation`` scopes
        of its full and selected models.

    Returns
    -------
    estimates, differences, curves : polars.DataFrame
        Of :data:`ESTIMATE_SCHEMA`, :data:`DIFFERENCE_SCHEMA` and :data:`CURVE_SCHEMA`.
    """
    settings = settings or EvidenceSettings()
    predictions = _with_run(predictions)
    emotions = sorted(predictions["emotion"].unique().to_list())
    rankings = [CHAIN, *sorted(set(predictions["ranking"].unique().to_list()) - {CHAIN})]
    rows_of = {FULL: procedure_rows(predictions, FULL)}
    rows_of.update({ranking: procedure_rows(predictions, ranking) for ranking in rankings})
    counts_of = {
        (name, emotion): chosen_counts(predictions, name, emotion)
        for name in rows_of
        for emotion in emotions
    }
    estimates, differences = _scope_rows("nested", rows_of, counts_of, emotions, settings)
    if deployed is not None and not deployed.is_empty():
        deployed = _with_run(deployed)
        for scope in ("test", "validation"):
            own = deployed.filter(pl.col("scope") == scope)
            if own.is_empty():
                continue
            scope_rows = {name: own.filter(pl.col("procedure") == name) for name in (FULL, CHAIN)}
            scope_counts = {
                (name, emotion): sorted(
                    set(
                        scope_rows[name]
                        .filter(pl.col("emotion") == emotion)["n_landmarks"]
                        .to_list()
                    )
                )
                for name in scope_rows
                for emotion in emotions
            }
            more_estimates, more_differences = _scope_rows(
                scope, scope_rows, scope_counts, emotions, settings
            )
            estimates += more_estimates
            differences += more_differences
    return (
        pl.DataFrame(estimates, schema=ESTIMATE_SCHEMA, orient="row"),
        pl.DataFrame(differences, schema=DIFFERENCE_SCHEMA, orient="row"),
        pl.DataFrame(_curves(predictions, emotions, settings), schema=CURVE_SCHEMA, orient="row"),
    )


def deployed_rows(
    steps: Mapping[str, Sequence[Mapping[str, str | Path]]], selected: Mapping[str, int]
) -> pl.DataFrame:
    """The deployed chain's scored samples, as rows for :func:`estimate_all`: ``scope``
    ``test`` (the held-out test subjects) and ``validation`` (its out-of-fold scores of the
    development subjects), ``procedure`` ``full`` (iteration 0) or ``ig_guided`` (the
    summary's selected iteration ``selected[emotion]``)."""
    from emoflow.storage.metrics import read_metrics, read_scores

    parts = []
    for emotion, emotion_steps in steps.items():
        for procedure, iteration in ((FULL, 0), (CHAIN, selected[emotion])):
            step = emotion_steps[iteration]
            n_landmarks = int(read_metrics(step["metrics"])["emotions"][emotion]["n_landmarks"])
            table = read_scores(step["scores"]).filter(pl.col("model") == emotion)
            parts.append(
                table.select(
                    pl.when(pl.col("fold") < 0)
                    .then(pl.lit("test"))
                    .otherwise(pl.lit("validation"))
                    .alias("scope"),
                    pl.lit(procedure).alias("procedure"),
                    pl.lit(None, pl.Int64).alias("seed"),
                    pl.lit(emotion).alias("emotion"),
                    pl.lit(n_landmarks, pl.Int64).alias("n_landmarks"),
                    "video_id",
                    "subject",
                    pl.col("emotion").alias("true_emotion"),
                    "score",
                    "probability",
                )
            )
    return pl.concat(parts, how="vertical")


def check_with_scikit_learn(
    estimates: pl.DataFrame, predictions: pl.DataFrame, deployed: pl.DataFrame | None = None
) -> int:
    """Recompute every estimate with ``sklearn.metrics.balanced_accuracy_score`` from the rows
    it came from (one run only), and raise if any differs: the numbers a reader is told are
    scikit-learn's. Returns how many were checked."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    predictions = _with_run(predictions)
    if predictions["run"].n_unique() > 1:
        return 0  # pooled runs average per run; each run was checked when it was made
    sources = {
        "nested": {name: procedure_rows(predictions, name) for name in _procedures(predictions)}
    }
    if deployed is not None and not deployed.is_empty():
        for scope in ("test", "validation"):
            own = deployed.filter(pl.col("scope") == scope)
            if not own.is_empty():
                sources[scope] = {
                    name: own.filter(pl.col("procedure") == name) for name in (FULL, CHAIN)
                }
    checked = 0
    for row in estimates.iter_rows(named=True):
        rows = sources.get(row["scope"], {}).get(row["procedure"])
        if rows is None or rows.is_empty():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if row["emotion"] == COMBINED:
                wide = rows.pivot(
                    on="emotion", index=["video_id", "true_emotion"], values="probability"
                )
                names = sorted(set(rows["emotion"].to_list()))
                predicted = np.asarray(names)[wide.select(names).to_numpy().argmax(axis=1)]
                truth = wide["true_emotion"].to_numpy()
                if len(set(truth.tolist())) < 2:
                    continue
                expected = float(balanced_accuracy_score(truth, predicted))
            else:
                own = rows.filter(pl.col("emotion") == row["emotion"])
                values = []
                for _, seed_rows in own.group_by("seed", maintain_order=True):
                    truth = seed_rows["true_emotion"].to_numpy() == row["emotion"]
                    if truth.all() or not truth.any():
                        values.append(np.nan)
                        continue
                    values.append(balanced_accuracy_score(truth, seed_rows["score"].to_numpy() > 0))
                expected = float(np.mean(values))
        found = row["estimate"]
        if not (np.isnan(expected) and np.isnan(found)) and abs(found - expected) > 1e-9:
            raise DataError(
                f"{row['scope']} {row['emotion']} {row['procedure']}: balanced accuracy "
                f"{found} differs from scikit-learn's {expected}"
            )
        checked += 1
    return checked


def _procedures(predictions: pl.DataFrame) -> list[str]:
    return [FULL, *sorted(set(predictions["ranking"].unique().to_list()))]

"""The one place that knows where each artifact lives under a run's results folder.

Rules (through ``common.smk``) and Python code (``predict``, ``explain``, the report) ask a
:class:`ResultsLayout` for paths instead of spelling ``iter_{i}/{emotion}/model.pt``
themselves, so the layout can change in one file.

Each emotion prunes its own landmark set, so each has its own chain of iterations
(``{i}`` is the pruning iteration, ``{e}`` the emotion, ``{k}`` the landmark shard)::

    manifest.parquet                  data-set manifest (emoflow.manifest)
    landmarks/shard_{k}.parquet       landmark tables (emoflow.landmarks)
    features.zarr                     feature store (emoflow.features)
    iter_{i}/{e}/landmarks.json       the landmarks emotion e keeps (emoflow.storage.landmark_sets)
    iter_{i}/{e}/model.pt             its model file (emoflow.models)
    iter_{i}/{e}/metrics.json         its fold metrics (emoflow.training)
    iter_{i}/{e}/scores.parquet       its out-of-fold and held-out scores (emoflow.training)
    iter_{i}/{e}/attributions.zarr    its attribution store (emoflow.attribution)
    nested/fold_{k}/iter_{i}/{e}/…    the same chain run on outer fold k's training subjects
                                      only and scored on fold k's subjects (nested evaluation)
    iter_{i}/landmarks.json           every emotion's set, gathered (emoflow.storage.landmark_sets)
    iter_{i}/metrics.json             every emotion + the combined prediction (emoflow.training)
    iter_{i}/scores.parquet           every emotion's out-of-fold scores (emoflow.training)
    summary.parquet                   per emotion and iteration (emoflow.storage.summary)
    compare/fold_{k}/{e}.parquet      the pruning baselines of emotion e in outer fold k
                                      (emoflow.comparison)
    evaluation/predictions.parquet    every procedure's outer-fold scores per sample
    evaluation/estimates.parquet      estimates with subject-bootstrap intervals
    evaluation/differences.parquet    paired differences with intervals and verdicts
    evaluation/curves.parquet         outer-fold accuracy at every iteration (matched counts)
                                      (emoflow.evaluation)
    compare/accuracy_vs_landmarks.png its figure (emoflow.comparison)
    compare/verdicts.html             does IG-guided pruning win? (emoflow.comparison)
    report/                           report figures and tables (emoflow.report)
    provenance.json                   configuration, seeds, versions (emoflow.provenance)
    published.json                    what predict/explain read, with digests (emoflow.published)
    .emoflow.lock                     held by the run writing the folder (emoflow.runlock)
    logs/{rule}/…, benchmarks/{rule}/…  each job's log and Snakemake benchmark

Results of emoflow before the per-emotion chains (``iter_{i}/models/{e}.pt``, one
``iter_{i}/attributions.zarr``) are refused (:meth:`ResultsLayout.refuse_earlier_shape`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emoflow.errors import InputError

__all__ = ["SPLIT_WILDCARD", "ResultsLayout"]

SPLIT_WILDCARD = "{split}"
"""The workflow's wildcard for a chain's split prefix (:meth:`ResultsLayout.split`)."""


class _Below:
    """A fixed path below the layout's root, read as a property (``layout.summary``)."""

    def __init__(self, *parts: str, doc: str | None = None) -> None:
        self.parts = parts
        self.__doc__ = doc

    def __get__(self, layout: Any, owner: type | None = None) -> Path:
        if layout is None:
            return Path(*self.parts)  # on the class: the path relative to the root
        return Path(layout.root, *self.parts)


@dataclass(frozen=True)
class ResultsLayout:
    """Paths of every artifact of a run under ``root`` (default ``results``)."""

    root: Path = Path("results")

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # -- data stages -----------------------------------------------------------------------
    manifest = _Below("manifest.parquet")

    def landmark_shard(self, shard: int | str) -> Path:
        return self.root / "landmarks" / f"shard_{shard}.parquet"

    features = _Below("features.zarr")

    # -- pruning iterations ----------------------------------------------------------------
    def iteration(self, iteration: int | str) -> Path:
        return self.root / f"iter_{iteration}"

    @staticmethod
    def split(fold: int | str | None) -> str:
        """The folder of a split below the root, as a prefix: ``""`` for the deployed chain
        (``fold=None``), ``"nested/fold_{k}/"`` for outer fold ``k``. The Snakemake wildcard
        ``"{split}"`` stands for the whole prefix, so that one rule makes both (another
        wildcard, such as ``"{fold}"``, stands for the fold number)."""
        if fold is None:
            return ""
        if fold == SPLIT_WILDCARD:
            return fold
        return f"nested/fold_{fold}/"

    @staticmethod
    def fold_of(split: str) -> int | None:
        """The outer fold of a :meth:`split` prefix (``None``: the deployed chain)."""
        if not split:
            return None
        return int(split.rstrip("/").rsplit("_", 1)[-1])

    def outer_fold(self, fold: int | str) -> Path:
        """The folder of outer fold ``fold``'s chains (nested evaluation)."""
        return self.root / "nested" / f"fold_{fold}"

    def chain(self, iteration: int | str, emotion: str, fold: int | str | None = None) -> Path:
        """The folder of one emotion's iteration: of the deployed chain (``fold=None``, all
        development subjects) or of outer fold ``fold``'s chain."""
        return self.root / f"{self.split(fold)}iter_{iteration}" / emotion

    def _gathered_or_chain(
        self, iteration: int | str, emotion: str | None, fold: int | str | None
    ) -> Path:
        """The iteration's folder (``emotion=None``: its gathered files) or an emotion's chain
        folder in it."""
        return (
            self.iteration(iteration) if emotion is None else self.chain(iteration, emotion, fold)
        )

    def landmark_sets(
        self, iteration: int | str, emotion: str | None = None, fold: int | str | None = None
    ) -> Path:
        """An emotion's landmark set, or (``emotion=None``) the iteration's gathered sets."""
        return self._gathered_or_chain(iteration, emotion, fold) / "landmarks.json"

    def model(self, iteration: int | str, emotion: str, fold: int | str | None = None) -> Path:
        return self.chain(iteration, emotion, fold) / "model.pt"

    def model_files(self, iteration: int | str) -> list[Path]:
        """The model files of an iteration on disk, by emotion name."""
        self.refuse_earlier_shape(iteration)
        return sorted(self.iteration(iteration).glob("*/model.pt"))

    def metrics(
        self, iteration: int | str, emotion: str | None = None, fold: int | str | None = None
    ) -> Path:
        """An emotion's metrics, or (``emotion=None``) the iteration's gathered metrics."""
        return self._gathered_or_chain(iteration, emotion, fold) / "metrics.json"

    def scores(
        self, iteration: int | str, emotion: str | None = None, fold: int | str | None = None
    ) -> Path:
        """An emotion's scores, or (``emotion=None``) the iteration's gathered scores."""
        return self._gathered_or_chain(iteration, emotion, fold) / "scores.parquet"

    def attributions(
        self, iteration: int | str, emotion: str, fold: int | str | None = None
    ) -> Path:
        return self.chain(iteration, emotion, fold) / "attributions.zarr"

    def step(self, iteration: int | str, emotion: str, fold: int | str | None = None) -> dict:
        """Every output of one step of a chain, by name (the files :mod:`emoflow.chains`
        writes): ``landmarks``, ``model``, ``metrics``, ``scores``, ``attributions``."""
        return {
            "landmarks": self.landmark_sets(iteration, emotion, fold),
            "model": self.model(iteration, emotion, fold),
            "metrics": self.metrics(iteration, emotion, fold),
            "scores": self.scores(iteration, emotion, fold),
            "attributions": self.attributions(iteration, emotion, fold),
        }

    def attribution_stores(self, iteration: int | str) -> list[Path]:
        """The attribution stores of an iteration on disk, by emotion name."""
        self.refuse_earlier_shape(iteration)
        return sorted(self.iteration(iteration).glob("*/attributions.zarr"))

    def refuse_earlier_shape(self, iteration: int | str) -> None:
        """Raise an :class:`~emoflow.errors.InputError` naming the iteration's folder when it
        holds results of an emoflow before the per-emotion chains (``iter_{i}/models/`` or one
        ``iter_{i}/attributions.zarr``), which are no longer read."""
        folder = self.iteration(iteration)
        if (folder / "models").is_dir() or (folder / "attributions.zarr").exists():
            raise InputError(
                folder,
                "results of an earlier emoflow (models/{emotion}.pt, one attributions.zarr per "
                "iteration) are no longer read; re-run the workflow on this results folder",
            )

    def iterations(self) -> list[int]:
        """The iterations present on disk, in order (folders ``iter_{i}`` with an integer i)."""
        found = []
        for entry in self.root.glob("iter_*"):
            suffix = entry.name.removeprefix("iter_")
            if entry.is_dir() and suffix.isdigit():
                found.append(int(suffix))
        return sorted(found)

    # -- gathered outputs ------------------------------------------------------------------
    summary = _Below("summary.parquet")

    def comparison(self, emotion: str, fold: int | str) -> Path:
        """The pruning baselines of one emotion in one outer fold (``prune.compare``)."""
        return self.root / "compare" / f"fold_{fold}" / f"{emotion}.parquet"

    evaluation = _Below(
        "evaluation", doc="The folder of the nested evaluation's tables (emoflow.evaluation)."
    )
    evaluation_predictions = _Below("evaluation", "predictions.parquet")
    evaluation_estimates = _Below("evaluation", "estimates.parquet")
    evaluation_differences = _Below("evaluation", "differences.parquet")
    evaluation_curves = _Below("evaluation", "curves.parquet")
    report = _Below("report")
    provenance = _Below("provenance.json")
    published = _Below(
        "published.json",
        doc="What ``predict``/``explain`` read of the last finished run (emoflow.published).",
    )
    lock = _Below(".emoflow.lock", doc="The lock of the run writing this folder (emoflow.runlock).")

    def log(self, rule: str, name: str) -> Path:
        """A job's log file."""
        return self.root / "logs" / rule / f"{name}.log"

    def benchmark(self, rule: str, name: str) -> Path:
        """A job's Snakemake benchmark file."""
        return self.root / "benchmarks" / rule / f"{name}.tsv"

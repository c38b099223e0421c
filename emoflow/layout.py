"""The one place that knows where each artifact lives under a run's results folder.

Rules (through ``common.smk``) and Python code (``predict``, ``explain``, the report) ask a
:class:`ResultsLayout` for paths instead of spelling ``iter_{i}/{emotion}/model.pt``
themselves, so the layout can change in one file.

Each emotion prunes its own landmark set, so each has its own chain of iterations
(``{i}`` is the pruning iteration, ``{e}`` the emotion, ``{k}`` the landmark shard)::

    manifest.parquet                  data-set manifest (emoflow.manifest)
    landmarks/shard_{k}.parquet       landmark tables (emoflow.landmarks)
    features.zarr                     feature store (emoflow.features)
    iter_{i}/{e}/landmarks.json       the landmarks emotion e keeps (emoflow.landmark_sets)
    iter_{i}/{e}/model.pt             its model file (emoflow.models)
    iter_{i}/{e}/metrics.json         its fold metrics (emoflow.training)
    iter_{i}/{e}/scores.parquet       its out-of-fold and held-out scores (emoflow.training)
    iter_{i}/{e}/attributions.zarr    its attribution store (emoflow.attribution)
    iter_{i}/landmarks.json           every emotion's set, gathered (emoflow.landmark_sets)
    iter_{i}/metrics.json             every emotion + the combined prediction (emoflow.training)
    iter_{i}/scores.parquet           every emotion's out-of-fold scores (emoflow.training)
    summary.parquet                   per emotion and iteration (emoflow.summary)
    compare/{e}/{ranking}.parquet     a pruning baseline of emotion e (emoflow.comparison)
    compare/summary.parquet           every baseline beside the IG chain (emoflow.comparison)
    compare/accuracy_vs_landmarks.png its figure (emoflow.comparison)
    compare/verdicts.html             does IG-guided pruning win? (emoflow.comparison)
    report/                           report figures and tables (emoflow.report)
    provenance.json                   configuration, seeds, versions (emoflow.provenance)
    published.json                    what predict/explain read, with digests (emoflow.published)
    .emoflow.lock                     held by the run writing the folder (emoflow.runlock)
    logs/{rule}/…, benchmarks/{rule}/…  each job's log and Snakemake benchmark

Results of emoflow before the per-emotion chains (``iter_{i}/models/{e}.pt`` and one
``iter_{i}/attributions.zarr`` for all emotions) are still found by :meth:`model`,
:meth:`model_files`, :meth:`attributions` and :meth:`attribution_stores`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ResultsLayout"]


@dataclass(frozen=True)
class ResultsLayout:
    """Paths of every artifact of a run under ``root`` (default ``results``)."""

    root: Path = Path("results")

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # -- data stages -----------------------------------------------------------------------
    @property
    def manifest(self) -> Path:
        return self.root / "manifest.parquet"

    def landmark_shard(self, shard: int | str) -> Path:
        return self.root / "landmarks" / f"shard_{shard}.parquet"

    @property
    def features(self) -> Path:
        return self.root / "features.zarr"

    # -- pruning iterations ----------------------------------------------------------------
    def iteration(self, iteration: int | str) -> Path:
        return self.root / f"iter_{iteration}"

    def chain(self, iteration: int | str, emotion: str) -> Path:
        """The folder of one emotion's iteration."""
        return self.iteration(iteration) / emotion

    def landmark_sets(self, iteration: int | str, emotion: str | None = None) -> Path:
        """An emotion's landmark set, or (``emotion=None``) the iteration's gathered sets."""
        folder = self.iteration(iteration) if emotion is None else self.chain(iteration, emotion)
        return folder / "landmarks.json"

    def model(self, iteration: int | str, emotion: str) -> Path:
        path = self.chain(iteration, emotion) / "model.pt"
        legacy = self.iteration(iteration) / "models" / f"{emotion}.pt"
        return legacy if not path.exists() and legacy.exists() else path

    def model_files(self, iteration: int | str) -> list[Path]:
        """The model files of an iteration on disk, by emotion name."""
        found = sorted(self.iteration(iteration).glob("*/model.pt"))
        return found or sorted((self.iteration(iteration) / "models").glob("*.pt"))

    def metrics(self, iteration: int | str, emotion: str | None = None) -> Path:
        """An emotion's metrics, or (``emotion=None``) the iteration's gathered metrics."""
        folder = self.iteration(iteration) if emotion is None else self.chain(iteration, emotion)
        return folder / "metrics.json"

    def scores(self, iteration: int | str, emotion: str | None = None) -> Path:
        """An emotion's scores, or (``emotion=None``) the iteration's gathered scores."""
        folder = self.iteration(iteration) if emotion is None else self.chain(iteration, emotion)
        return folder / "scores.parquet"

    def attributions(self, iteration: int | str, emotion: str) -> Path:
        path = self.chain(iteration, emotion) / "attributions.zarr"
        legacy = self.iteration(iteration) / "attributions.zarr"
        return legacy if not path.exists() and legacy.exists() else path

    def attribution_stores(self, iteration: int | str) -> list[Path]:
        """The attribution stores of an iteration on disk, by emotion name."""
        found = sorted(self.iteration(iteration).glob("*/attributions.zarr"))
        legacy = self.iteration(iteration) / "attributions.zarr"
        return found or ([legacy] if legacy.exists() else [])

    def iterations(self) -> list[int]:
        """The iterations present on disk, in order (folders ``iter_{i}`` with an integer i)."""
        found = []
        for entry in self.root.glob("iter_*"):
            suffix = entry.name.removeprefix("iter_")
            if entry.is_dir() and suffix.isdigit():
                found.append(int(suffix))
        return sorted(found)

    # -- gathered outputs ------------------------------------------------------------------
    @property
    def summary(self) -> Path:
        return self.root / "summary.parquet"

    def comparison(self, emotion: str, ranking: str) -> Path:
        """One pruning baseline's table of one emotion (``prune.compare``)."""
        return self.root / "compare" / emotion / f"{ranking}.parquet"

    @property
    def comparison_summary(self) -> Path:
        """Every baseline beside the IG chain, with the chain's selection."""
        return self.root / "compare" / "summary.parquet"

    @property
    def comparison_figure(self) -> Path:
        return self.root / "compare" / "accuracy_vs_landmarks.png"

    @property
    def comparison_page(self) -> Path:
        """The verdicts per emotion and baseline, an HTML page of the report."""
        return self.root / "compare" / "verdicts.html"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def provenance(self) -> Path:
        return self.root / "provenance.json"

    @property
    def published(self) -> Path:
        """What ``predict``/``explain`` read of the last finished run (emoflow.published)."""
        return self.root / "published.json"

    @property
    def lock(self) -> Path:
        """The lock of the run writing this folder (emoflow.runlock)."""
        return self.root / ".emoflow.lock"

    def log(self, rule: str, name: str) -> Path:
        """A job's log file."""
        return self.root / "logs" / rule / f"{name}.log"

    def benchmark(self, rule: str, name: str) -> Path:
        """A job's Snakemake benchmark file."""
        return self.root / "benchmarks" / rule / f"{name}.tsv"

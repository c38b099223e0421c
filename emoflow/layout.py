"""The one place that knows where each artifact lives under a run's results folder.

Rules (through ``common.smk``) and Python code (``predict``, ``explain``, the report) ask a
:class:`ResultsLayout` for paths instead of spelling ``iter_{i}/models`` themselves, so the
layout can change in one file.

Layout (``{i}`` is the pruning iteration, ``{k}`` the landmark shard)::

    manifest.parquet                  data-set manifest (emoflow.manifest)
    landmarks/shard_{k}.parquet       landmark tables (emoflow.landmarks)
    features.zarr                     feature store (emoflow.features)
    iter_{i}/landmarks.json           kept landmarks per emotion (emoflow.landmark_sets)
    iter_{i}/models/{emotion}.pt      model files (emoflow.models)
    iter_{i}/metrics.json             fold metrics (emoflow.training)
    iter_{i}/scores.parquet           out-of-fold scores (emoflow.training)
    iter_{i}/attributions.zarr        attribution store (emoflow.attribution)
    summary.parquet                   per emotion and iteration (emoflow.report)
    report/                           report figures and tables (emoflow.report)
    provenance.json                   configuration, seeds, versions (emoflow.provenance)
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

    def landmark_sets(self, iteration: int | str) -> Path:
        return self.iteration(iteration) / "landmarks.json"

    def models(self, iteration: int | str) -> Path:
        return self.iteration(iteration) / "models"

    def model(self, iteration: int | str, emotion: str) -> Path:
        return self.models(iteration) / f"{emotion}.pt"

    def metrics(self, iteration: int | str) -> Path:
        return self.iteration(iteration) / "metrics.json"

    def scores(self, iteration: int | str) -> Path:
        return self.iteration(iteration) / "scores.parquet"

    def attributions(self, iteration: int | str) -> Path:
        return self.iteration(iteration) / "attributions.zarr"

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

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def provenance(self) -> Path:
        return self.root / "provenance.json"

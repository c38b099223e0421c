"""Consistent reads of a results folder (issue 22, point 2): models loaded while a run
rewrites the folder are all the old run's, all the new run's, or a clear error.

Before: ``emoflow predict`` during a re-run took the selection from the summary and each
emotion's model file as it found it: 25 of 55 predictions matched neither run.

The re-run is stepped through deterministically: an audit hook runs the next few writes of the
re-run (seeded) before every file the reader opens, so each trial is one interleaving of the
reader's opens with the re-run's writes, in the order Snakemake makes them (a job's old outputs
removed, then its new ones moved into place; the emotions' chains side by side, the summary,
then the published record last).
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emoflow._tables import write_parquet
from emoflow.errors import InputError
from emoflow.features import FeatureSettings
from emoflow.inference.loading import load_models, model_paths
from emoflow.layout import ResultsLayout
from emoflow.models import NetworkSettings, RandomizedDeepNetwork, save_model
from emoflow.published import ResultsChangedError, publish_run

EMOTIONS = ("anger", "happiness")
ITERATIONS = (0, 1)
LANDMARKS = list(range(0, 40, 2))
SETTINGS = FeatureSettings(n_frames=4)
SELECTED = {"old": {"anger": 1, "happiness": 0}, "new": {"anger": 0, "happiness": 1}}
"""Each run selects other iterations: a reader mixing summary and models is caught too."""


def _run(root: Path, name: str, seed: int) -> None:
    """A finished run's files: every emotion's model of every iteration, the summary, the
    published record (as the workflow writes them)."""
    import polars as pl

    rng = np.random.default_rng(seed)
    layout = ResultsLayout(root)
    x = rng.standard_normal((24, SETTINGS.n_frames, len(LANDMARKS), 3)).astype(np.float32)
    for emotion in EMOTIONS:
        y = (rng.random(24) > 0.5).astype(np.int64)
        for iteration in ITERATIONS:
            model = RandomizedDeepNetwork(NetworkSettings(width=8, seed=seed + iteration))
            model.fit(x, y)
            save_model(
                model,
                layout.model(iteration, emotion),
                metadata={
                    "emotion": emotion,
                    "iteration": iteration,
                    "landmarks": LANDMARKS,
                    "feature_settings": asdict(SETTINGS),
                    "run": name,
                },
            )
    rows = [
        {"emotion": e, "iteration": i, "selected": SELECTED[name][e] == i}
        for e in EMOTIONS
        for i in ITERATIONS
    ]
    write_parquet(pl.DataFrame(rows), layout.summary)
    publish_run(
        layout.published,
        selected=SELECTED[name],
        summary=layout.summary,
        models=[layout.model(i, e) for i in ITERATIONS for e in EMOTIONS],
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("runs")
    _run(base / "old", "old", seed=0)
    _run(base / "new", "new", seed=7)
    return {"old": base / "old", "new": base / "new"}


def _rerun_steps(new: Path, root: Path, rng: random.Random) -> list[tuple[str, Path, Path]]:
    """The re-run's writes, in one order Snakemake could make them: ``(kind, target,
    source)``, kind ``remove`` (a job's old output, before the job runs) or ``write`` (its new
    output moved into place)."""
    chains = {
        emotion: [root / f"iter_{i}" / emotion / "model.pt" for i in ITERATIONS]
        for emotion in EMOTIONS
    }
    jobs: list[Path] = []
    while any(chains.values()):
        emotion = rng.choice([e for e, left in chains.items() if left])
        jobs.append(chains[emotion].pop(0))
    jobs += [root / "summary.parquet", root / "published.json"]
    steps = []
    for target in jobs:
        steps += [("remove", target, target), ("write", target, new / target.relative_to(root))]
    return steps


def _apply(step: tuple[str, Path, Path]) -> None:
    kind, target, source = step
    if kind == "remove":
        target.unlink(missing_ok=True)
    else:
        staged = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(source, staged)
        os.replace(staged, target)  # atomic, as emoflow._atomic writes


class _Interleaver:
    """Before each file the reader opens under ``root``, run up to a few of the re-run's
    steps (seeded); an audit hook, so it sees every open, whichever code makes it."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Path, Path]] = []
        self.root: str | None = None
        self.rng = random.Random(0)
        self.busy = False
        sys.addaudithook(self.hook)

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event != "open" or self.root is None or self.busy or not self.steps:
            return
        if not str(args[0]).startswith(self.root):
            return
        self.busy = True
        try:
            for _ in range(self.rng.choice((0, 0, 1, 1, 2, 3))):
                if self.steps:
                    _apply(self.steps.pop(0))
        finally:
            self.busy = False


INTERLEAVER = _Interleaver()


def _read(root: Path) -> list[Any]:
    """What predict does first: choose the models of a results folder, load them."""
    return load_models(model_paths(root), device="cpu")


def _which_run(loaded: list[Any]) -> str:
    runs = {model.metadata["run"] for model in loaded}
    if len(runs) != 1:
        return "mixed runs " + str(sorted(runs))
    run = runs.pop()
    iterations = {model.emotion: model.iteration for model in loaded}
    return run if iterations == SELECTED[run] else f"{run} models of other iterations"


def test_reads_during_a_rerun_get_one_whole_run_or_a_clear_error(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    outcomes: dict[str, int] = {}
    for trial in range(150):
        root = tmp_path / f"trial_{trial}"
        shutil.copytree(runs["old"], root)
        rng = random.Random(trial)
        steps = _rerun_steps(runs["new"], root, rng)
        # the re-run so far, before the reader starts: a third of the trials start with it
        done = rng.randrange(len(steps)) if trial % 3 else 0
        for step in steps[:done]:
            _apply(step)
        INTERLEAVER.rng, INTERLEAVER.steps, INTERLEAVER.root = rng, steps[done:], str(root)
        try:
            outcome = _which_run(_read(root))
        except ResultsChangedError as err:
            assert "results are being rewritten (run in progress?)" in str(err)
            assert str(root) in str(err) and "\n" not in str(err)
            outcome = "being rewritten"
        except InputError as err:  # any other error: not the clear one
            outcome = f"other error: {err}"
        finally:
            INTERLEAVER.root = None
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert set(outcomes) <= {"old", "new", "being rewritten"}, outcomes
    assert all(outcomes.get(kind, 0) > 5 for kind in ("old", "new", "being rewritten")), outcomes


def test_a_finished_run_reads_whole_and_iteration_choice_too(runs: dict[str, Path]) -> None:
    assert _which_run(_read(runs["old"])) == "old"
    assert _which_run(_read(runs["new"])) == "new"
    loaded = load_models(model_paths(runs["new"], iteration=0), device="cpu")
    assert [m.iteration for m in loaded] == [0, 0]
    assert {m.metadata["run"] for m in loaded} == {"new"}


def test_a_model_changed_after_publishing_is_named(runs: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "results"
    shutil.copytree(runs["old"], root)
    shutil.copyfile(runs["new"] / "iter_1" / "anger" / "model.pt", root / "iter_1/anger/model.pt")
    with pytest.raises(ResultsChangedError, match=r"iter_1/anger/model\.pt: differs from"):
        _read(root)
    # the models given as files are checked against their folder's record too
    from emoflow.models import apply_models

    with pytest.raises(ResultsChangedError, match=r"being rewritten"):
        apply_models([root / "iter_1/anger/model.pt"], np.zeros(1))  # refused before scoring


def test_an_unpublished_folder_that_a_run_writes_is_refused(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """Results without a record (an earlier emoflow, or a first run still going) read as
    before, unless a live run holds the folder's lock."""
    from emoflow.runlock import ResultsLock

    root = tmp_path / "results"
    shutil.copytree(runs["old"], root)
    (root / "published.json").unlink()
    assert _which_run(_read(root)) == "old"
    lock = ResultsLock(root)
    lock.acquire()
    try:
        with pytest.raises(ResultsChangedError, match=r"being rewritten \(a run is writing it"):
            _read(root)
    finally:
        lock.release()

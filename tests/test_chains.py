"""Per-emotion training jobs, gathered, give exactly what one all-emotion job gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from emoflow.layout import ResultsLayout
from emoflow.models import load_model
from emoflow.synthetic import planted_features
from emoflow.training import gather_iteration, train_emotion, train_iteration

EMOTIONS = ("happiness", "sadness", "surprise")  # planted_features' default emotions
TIMES = {"train_time_s", "selection_time_s", "final_train_time_s", "inference_time_ms_per_sample"}


def _store(tmp_path: Path) -> Path:
    data = planted_features(
        emotions=EMOTIONS,
        n_subjects=7,
        repetitions=2,
        n_frames=4,
        n_landmarks=20,
        n_planted=4,
        n_distractors=4,
        seed=3,
    )
    return data.write_store(tmp_path / "features.zarr")


def _without_times(value):
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


@pytest.mark.parametrize("test_subjects", [0, 2])
def test_per_emotion_jobs_gather_to_the_all_emotion_result(tmp_path, test_subjects) -> None:
    store = _store(tmp_path)
    names = list(EMOTIONS)
    sets = {e: list(range(0, 20, 1 + i % 2)) for i, e in enumerate(names)}
    (tmp_path / "landmarks.json").write_text(json.dumps({"emotions": sets}))
    options = {"n_folds": 3, "device": "cpu", "test_subjects": test_subjects, "iteration": 2}
    whole = train_iteration(store, tmp_path / "landmarks.json", tmp_path / "whole", **options)
    written_by_whole = ResultsLayout(tmp_path / "whole")
    metrics_paths, scores_paths = [], []
    for emotion in names:
        folder = tmp_path / "chains" / emotion
        folder.mkdir(parents=True)
        (folder / "landmarks.json").write_text(json.dumps({"emotions": {emotion: sets[emotion]}}))
        train_emotion(
            store,
            folder / "landmarks.json",
            emotion,
            folder / "model.pt",
            folder / "metrics.json",
            folder / "scores.parquet",
            **options,
        )
        metrics_paths.append(folder / "metrics.json")
        scores_paths.append(folder / "scores.parquet")
        _, one = load_model(folder / "model.pt")
        _, reference = load_model(written_by_whole.model(2, emotion))
        assert one["landmarks"] == reference["landmarks"] == sets[emotion]
    gathered = gather_iteration(
        metrics_paths, scores_paths, tmp_path / "gathered.json", tmp_path / "gathered.parquet"
    )
    assert gathered["emotions"].keys() == whole["emotions"].keys()
    written = json.loads(written_by_whole.metrics(2).read_text())
    gathered_written = json.loads((tmp_path / "gathered.json").read_text())
    assert _without_times(gathered_written) == _without_times(written)
    assert list(gathered_written) == list(written)  # same keys in the same order
    assert pl.read_parquet(tmp_path / "gathered.parquet").equals(
        pl.read_parquet(written_by_whole.scores(2))
    )
    if test_subjects:
        assert (
            np.sum(gathered["combined"]["test"]["confusion_matrix"]) == gathered["split"]["n_test"]
        )


def test_gather_refuses_emotions_trained_on_other_samples(tmp_path) -> None:
    from emoflow.errors import DataError

    store = _store(tmp_path)
    names = EMOTIONS[:2]
    paths = []
    for emotion, test_subjects in zip(names, (0, 2), strict=True):
        folder = tmp_path / emotion
        folder.mkdir()
        (folder / "landmarks.json").write_text(json.dumps({"emotions": {emotion: [0, 1, 2]}}))
        train_emotion(
            store,
            folder / "landmarks.json",
            emotion,
            folder / "model.pt",
            folder / "metrics.json",
            folder / "scores.parquet",
            n_folds=3,
            device="cpu",
            test_subjects=test_subjects,
        )
        paths.append(folder)
    with pytest.raises(DataError, match="other settings or samples"):
        gather_iteration(
            [p / "metrics.json" for p in paths],
            [p / "scores.parquet" for p in paths],
            tmp_path / "m.json",
            tmp_path / "s.parquet",
        )


def test_layout_finds_per_emotion_results_and_refuses_earlier_ones(tmp_path) -> None:
    from emoflow.errors import InputError

    layout = ResultsLayout(tmp_path / "new")
    for emotion in ("anger", "happiness"):
        layout.model(1, emotion).parent.mkdir(parents=True)
        layout.model(1, emotion).write_bytes(b"")
        layout.attributions(1, emotion).mkdir()
    assert layout.model_files(1) == [
        layout.chain(1, "anger") / "model.pt",
        layout.chain(1, "happiness") / "model.pt",
    ]
    assert [p.parent.name for p in layout.attribution_stores(1)] == ["anger", "happiness"]
    assert layout.iterations() == [1]

    earlier = ResultsLayout(tmp_path / "old")  # iter_{i}/models/{e}.pt, one store per iteration
    (earlier.iteration(0) / "models").mkdir(parents=True)
    (earlier.iteration(0) / "models" / "anger.pt").write_bytes(b"")
    (earlier.iteration(0) / "attributions.zarr").mkdir()
    assert earlier.model(0, "anger") == earlier.chain(0, "anger") / "model.pt"
    assert earlier.attributions(0, "anger") == earlier.chain(0, "anger") / "attributions.zarr"
    for found in (earlier.model_files, earlier.attribution_stores):
        with pytest.raises(InputError, match="re-run the workflow") as refused:
            found(0)
        assert refused.value.path == str(earlier.iteration(0))
        assert "earlier emoflow" in refused.value.problem


def test_a_stopped_chain_carries_its_last_iteration_forward(tmp_path) -> None:
    from emoflow.chains import train_and_attribute
    from emoflow.storage.attribution_store import load_scores

    store = _store(tmp_path)
    emotion = EMOTIONS[0]
    outputs = {}
    for iteration, stopped in ((0, False), (1, True)):
        folder = tmp_path / f"iter_{iteration}"
        folder.mkdir()
        record = {"iteration": iteration, "emotions": {emotion: list(range(20))}}
        if iteration:
            record["stopped"] = {emotion: stopped}
        (folder / "landmarks.json").write_text(json.dumps(record))
        outputs[iteration] = {
            "model": folder / "model.pt",
            "metrics": folder / "metrics.json",
            "scores": folder / "scores.parquet",
            "attributions": folder / "attributions.zarr",
        }
        train_and_attribute(
            store,
            emotion,
            {"landmarks": folder / "landmarks.json", **outputs[iteration]},
            train={"n_folds": 3, "device": "cpu"},
            attribution={"n_steps": 4, "n_baselines": 2},
            iteration=iteration,
            previous=outputs.get(iteration - 1),
        )
    first, second = outputs[0], outputs[1]
    assert second["model"].read_bytes() == first["model"].read_bytes()
    assert pl.read_parquet(second["scores"]).equals(pl.read_parquet(first["scores"]))
    np.testing.assert_array_equal(
        load_scores(second["attributions"])[1], load_scores(first["attributions"])[1]
    )
    metrics = [json.loads(outputs[i]["metrics"].read_text()) for i in (0, 1)]
    assert metrics[1]["iteration"] == 1 and metrics[0]["iteration"] == 0
    assert metrics[1]["emotions"] == metrics[0]["emotions"]


def test_a_chain_step_writes_its_landmark_set_then_trains_on_it(tmp_path) -> None:
    """chain_step = initial_landmark_set / prune_iteration, then train_and_attribute."""
    from emoflow.chains import chain_step, train_and_attribute
    from emoflow.errors import ConfigError
    from emoflow.pruning import PruneSettings
    from emoflow.pruning.pruner import prune_iteration
    from emoflow.storage.attribution_store import load_scores

    store = _store(tmp_path)
    emotion = EMOTIONS[1]
    settings = {"train": {"n_folds": 3, "device": "cpu"}, "attribution": {"n_steps": 4}}
    prune = {"policy": "fraction", "fraction": 0.5, "min_landmarks": 4}
    steps = []
    for iteration in (0, 1):
        folder = tmp_path / f"iter_{iteration}"
        folder.mkdir()
        steps.append(
            {
                "landmarks": folder / "landmarks.json",
                "model": folder / "model.pt",
                "metrics": folder / "metrics.json",
                "scores": folder / "scores.parquet",
                "attributions": folder / "attributions.zarr",
            }
        )
        chain_step(
            store,
            emotion,
            steps[-1],
            iteration=iteration,
            prune=prune if iteration else None,
            previous=steps[0] if iteration else None,
            earlier_metrics=[steps[0]["metrics"]] if iteration else (),
            **settings,
        )
    first = json.loads(steps[0]["landmarks"].read_text())
    assert first["emotions"] == {emotion: list(range(20))} and first["start"] == "all"
    # iteration 1 by hand: the same pruning of iteration 0's relevance, the same training
    by_hand = tmp_path / "by_hand"
    by_hand.mkdir()
    prune_iteration(
        steps[0]["attributions"],
        steps[0]["landmarks"],
        by_hand / "landmarks.json",
        settings=PruneSettings.from_section(prune),
        iteration=1,
        metrics_paths=[steps[0]["metrics"]],
    )
    assert json.loads((by_hand / "landmarks.json").read_text()) == json.loads(
        steps[1]["landmarks"].read_text()
    )
    assert len(json.loads(steps[1]["landmarks"].read_text())["emotions"][emotion]) == 10
    train_and_attribute(
        store,
        emotion,
        {
            "landmarks": by_hand / "landmarks.json",
            "model": by_hand / "model.pt",
            "metrics": by_hand / "metrics.json",
            "scores": by_hand / "scores.parquet",
            "attributions": by_hand / "attributions.zarr",
        },
        iteration=1,
        **settings,
    )
    assert pl.read_parquet(by_hand / "scores.parquet").equals(pl.read_parquet(steps[1]["scores"]))
    np.testing.assert_array_equal(
        load_scores(by_hand / "attributions.zarr")[1], load_scores(steps[1]["attributions"])[1]
    )
    with pytest.raises(ConfigError, match="previous iteration's landmarks and attributions"):
        chain_step(
            store,
            emotion,
            {
                "landmarks": tmp_path / "never.json",
                "model": tmp_path / "never.pt",
                "metrics": tmp_path / "never_metrics.json",
                "scores": tmp_path / "never.parquet",
                "attributions": tmp_path / "never.zarr",
            },
            iteration=2,
        )
    assert not (tmp_path / "never.json").exists()


def test_chain_files_pair_each_emotion_with_its_own_steps() -> None:
    """A prune_chain job's files (lists by name, emotion after emotion) become each emotion's
    iterations 0 … N; a single path stands for a list of one; counts that do not add up fail."""
    from emoflow.chains import STEP_OUTPUTS, chain_files
    from emoflow.errors import ConfigError

    start = {name: [f"0/{e}/{name}" for e in ("a", "b")] for name in STEP_OUTPUTS}
    later = {name: [f"{i}/{e}/{name}" for e in ("a", "b") for i in (1, 2)] for name in STEP_OUTPUTS}
    chains = chain_files(["a", "b"], start, later)
    assert list(chains) == ["a", "b"]
    for emotion, steps in chains.items():
        assert [step["model"] for step in steps] == [f"{i}/{emotion}/model" for i in (0, 1, 2)]
        assert all(set(step) == set(STEP_OUTPUTS) for step in steps)
    one = chain_files(
        ["a"],
        {name: f"0/a/{name}" for name in STEP_OUTPUTS},
        {name: f"1/a/{name}" for name in STEP_OUTPUTS},
    )
    assert [step["landmarks"] for step in one["a"]] == ["0/a/landmarks", "1/a/landmarks"]
    short = {name: paths[:-1] for name, paths in later.items()}
    with pytest.raises(ConfigError, match="2 emotions' chains do not match"):
        chain_files(["a", "b"], start, short)


def test_start_files_pair_each_split_and_emotion_with_its_step() -> None:
    from emoflow.chains import STEP_OUTPUTS, start_files
    from emoflow.errors import ConfigError

    folds, emotions = [None, 0, 1], ["a", "b"]
    outputs = {
        name: [f"{fold}/{e}/{name}" for fold in folds for e in emotions] for name in STEP_OUTPUTS
    }
    splits = start_files(folds, emotions, outputs)
    assert list(splits) == folds
    for fold, steps in splits.items():
        assert list(steps) == emotions
        for emotion, step in steps.items():
            assert step == {name: f"{fold}/{emotion}/{name}" for name in STEP_OUTPUTS}
    one = start_files([2], ["a"], {name: f"x/{name}" for name in STEP_OUTPUTS})
    assert one == {2: {"a": {name: f"x/{name}" for name in STEP_OUTPUTS}}}
    with pytest.raises(ConfigError, match="3 splits × 2 emotions do not match"):
        start_files(folds, emotions, {name: paths[:-1] for name, paths in outputs.items()})


def test_forked_pieces_run_side_by_side_and_come_back_in_order() -> None:
    """run_forked: each piece in a process of its own (up to `workers` at once), results in
    the order given, a piece's error raised here; one worker runs them in this process. (In
    a fresh process, as a workflow job calls it: polars' thread pool, which this test
    process has started, does not survive a fork.)"""
    import os

    from emoflow._forked import can_fork, run_forked

    pieces = [lambda i=i: (i, os.getpid()) for i in range(3)]
    assert run_forked(pieces, 1) == [(i, os.getpid()) for i in range(3)]
    if not can_fork():
        pytest.skip("no fork here: the pieces run one after another")
    code = """
import os, json
from emoflow._forked import run_forked
pieces = [lambda i=i: (i, os.getpid()) for i in range(3)]  # closures: nothing is pickled
forked = run_forked(pieces, 2)
def fails():
    raise ValueError("piece 1 failed")
try:
    run_forked([pieces[0], fails], 2)
except ValueError as error:
    failed = str(error)
class Unsendable(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a} and {b}")  # pickled with the message alone: cannot be rebuilt
def unsendable():
    raise Unsendable("one", "two")
try:
    run_forked([pieces[0], unsendable], 2)
except RuntimeError as error:
    unsent = str(error)
def killed():
    os.kill(os.getpid(), 9)  # as the out-of-memory killer ends a process
try:
    run_forked([pieces[0], killed], 2)
except RuntimeError as error:
    lost = str(error)
answer = {"parent": os.getpid(), "forked": forked, "failed": failed, "lost": lost}
print(json.dumps({**answer, "unsent": unsent}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert [i for i, _ in answer["forked"]] == [0, 1, 2]
    assert answer["parent"] not in {pid for _, pid in answer["forked"]}
    assert answer["failed"] == "piece 1 failed"
    assert "a signal ended one of the 2 processes" in answer["lost"]
    assert "before it finished" in answer["lost"]
    assert answer["unsent"].startswith("Unsendable: one and two\n")
    assert "Traceback" in answer["unsent"]


def test_input_errors_cross_a_process_boundary_whole() -> None:
    import pickle

    from emoflow.errors import InputError, NoFaceError

    for error in (InputError("features.zarr", "is missing"), NoFaceError("a.mp4", "no face")):
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error)
        assert (back.path, back.problem, str(back)) == (error.path, error.problem, str(error))


def test_splits_started_side_by_side_write_what_one_after_another_writes(tmp_path) -> None:
    """start_splits with two workers (each split in a process forked from a fresh job-like
    process, as the workflow's start_chains job runs it) writes every split's landmark sets,
    models, scores and attribution stores exactly as one process does."""
    import torch

    from emoflow.chains import STEP_OUTPUTS, start_splits
    from emoflow.storage.attribution_store import load_scores
    from emoflow.storage.model_file import read_model_record

    store = _store(tmp_path)
    suffixes = {"landmarks": ".json", "model": ".pt", "metrics": ".json", "scores": ".parquet"}
    suffixes["attributions"] = ".zarr"
    assert set(suffixes) == set(STEP_OUTPUTS)

    def splits(folder: Path) -> dict:
        chosen: dict = {}
        for fold in (None, 0, 1):
            chosen[fold] = {}
            for emotion in EMOTIONS[:2]:
                step = folder / str(fold) / emotion
                step.mkdir(parents=True)
                chosen[fold][emotion] = {
                    name: str(step / f"{name}{suffixes[name]}") for name in suffixes
                }
        return chosen

    options = {"train": {"n_folds": 3, "device": "cpu"}, "attribution": {"n_steps": 4}}
    one, two = splits(tmp_path / "one"), splits(tmp_path / "two")
    records_one = start_splits(store, one, workers=1, threads=1, **options)  # a worker's one
    code = """
import json, os, sys
import emoflow.chains
from emoflow.chains import start_splits
store, splits, options = json.loads(sys.argv[1])
splits = {None if fold == "null" else int(fold): steps for fold, steps in splits.items()}
started = emoflow.chains.start_chains
def start_chains(*args, **kwargs):  # the same, saying which process ran it
    return {"pid": os.getpid(), "records": started(*args, **kwargs)}
emoflow.chains.start_chains = start_chains
records = start_splits(store, splits, workers=2, threads=2, **options)
pids = {fold: record["pid"] for fold, record in records.items()}
print(json.dumps([os.getpid(), list(pids.values())]))
print(json.dumps([[fold, record["records"]] for fold, record in records.items()]))
"""
    by_name = {("null" if fold is None else fold): steps for fold, steps in two.items()}
    wire = json.dumps([str(store), by_name, options])
    done = subprocess.run(
        [sys.executable, "-c", code, wire], capture_output=True, text=True, check=True
    )
    records_two = json.loads(done.stdout.strip().splitlines()[-1])
    job, pids = json.loads(done.stdout.strip().splitlines()[-2])
    assert job not in pids and len(set(pids)) == 2  # the splits ran in 2 forked processes
    assert [fold for fold, _ in records_two] == [None, 0, 1]
    assert _without_times(json.loads(json.dumps(list(records_one.items())))) == _without_times(
        records_two
    )
    for fold, steps in one.items():
        for emotion, names in steps.items():
            paths = {name: Path(path) for name, path in names.items()}
            other = {name: Path(path) for name, path in two[fold][emotion].items()}
            assert paths["landmarks"].read_bytes() == other["landmarks"].read_bytes()
            assert pl.read_parquet(paths["scores"]).equals(pl.read_parquet(other["scores"]))
            weights = read_model_record(paths["model"])["state_dict"]
            for name, tensor in read_model_record(other["model"])["state_dict"].items():
                assert torch.equal(tensor, weights[name]), (fold, emotion, name)
            np.testing.assert_array_equal(
                load_scores(paths["attributions"])[1], load_scores(other["attributions"])[1]
            )

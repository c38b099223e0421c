"""Training, attribution and pruning on synthetic features with planted landmarks.

The attribution stage itself (planted truth, faithfulness, the store) is tested in
``test_attribution.py``.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from results_folder import attribute_results  # tests/results_folder.py

from emoflow.attribution import AttributionSettings
from emoflow.errors import DataError
from emoflow.layout import ResultsLayout
from emoflow.pruning import PruneSettings, initial_landmark_set, summarise_iterations
from emoflow.pruning.pruner import LandmarkPruner, prune_iteration
from emoflow.storage.summary import SUMMARY_SCHEMA, selected_iterations, write_summary
from emoflow.training import train_iteration


@pytest.fixture(scope="module")
def iteration_zero(tmp_path_factory, planted_store):
    out = tmp_path_factory.mktemp("iter0")
    initial_landmark_set(planted_store, out / "landmarks.json")
    metrics = train_iteration(
        planted_store,
        out / "landmarks.json",
        out,
        network={"width": 128, "ridge": 10.0},
        n_folds=3,
        device="cpu",
    )
    attribute_results(
        planted_store,
        out,
        settings=AttributionSettings(n_steps=16, n_baselines=3, batch_size=16),
        device="cpu",
    )
    return out, metrics


def test_training_writes_models_metrics_and_scores(iteration_zero, planted) -> None:
    out, metrics = iteration_zero
    emotions = sorted(set(planted.emotions.tolist()))
    layout = ResultsLayout(out)
    assert [p.parent.name for p in layout.model_files(0)] == emotions
    for emotion in emotions:
        record = metrics["emotions"][emotion]
        assert len(record["folds"]) == 3
        assert record["mean"]["balanced_accuracy"] > 0.9
        assert record["n_parameters"]["trained"] > 0
    assert np.array(metrics["combined"]["confusion_matrix"]).sum() == len(planted.video_ids)
    scores = pl.read_parquet(layout.scores(0))
    assert scores.height == len(planted.video_ids) * len(emotions)
    assert json.loads(layout.metrics(0).read_text())["n_folds"] == 3


def test_prune_and_summarise(iteration_zero, planted_store, tmp_path) -> None:
    out, _ = iteration_zero
    settings = PruneSettings(policy="fraction", fraction=0.5, min_landmarks=10)
    layout = ResultsLayout(out)
    record = prune_iteration(
        layout.attribution_stores(0),  # every emotion's store
        layout.landmark_sets(0),
        tmp_path / "landmarks.json",
        settings=settings,
    )
    for emotion, kept in record["emotions"].items():
        assert len(kept) == 239  # ceil(478 / 2)
        assert not set(kept) & set(record["dropped"][emotion])
    train_iteration(
        planted_store,
        tmp_path / "landmarks.json",
        tmp_path,
        network={"width": 128, "ridge": 10.0},
        n_folds=3,
        device="cpu",
        iteration=1,
    )
    summary = summarise_iterations(
        [layout.metrics(0), ResultsLayout(tmp_path).metrics(1)], tmp_path / "summary.parquet"
    )
    assert summary.height == 6
    assert (
        summary.group_by("emotion").agg(pl.col("selected").sum())["selected"].to_list() == [1] * 3
    )
    # the file is the summary module's: written with its schema, read back the same
    assert pl.read_parquet(tmp_path / "summary.parquet").schema == pl.Schema(SUMMARY_SCHEMA)
    assert selected_iterations(tmp_path / "summary.parquet") == {
        row["emotion"]: row["iteration"] for row in summary.filter("selected").iter_rows(named=True)
    }


def test_a_summary_of_other_columns_is_not_written(tmp_path) -> None:
    table = pl.DataFrame({"emotion": ["anger"], "iteration": [0]})
    with pytest.raises(DataError, match="n_landmarks"):
        write_summary(table, tmp_path / "summary.parquet")
    assert not (tmp_path / "summary.parquet").exists()


def test_pruner_policies() -> None:
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    keep = LandmarkPruner(PruneSettings(fraction=0.5, min_landmarks=1)).fit(scores).keep_mask_
    assert keep.tolist() == [True, True, True, False, False, False]
    keep = (
        LandmarkPruner(PruneSettings(policy="threshold", threshold=0.5, min_landmarks=1))
        .fit(scores)
        .keep_mask_
    )
    assert keep.sum() == 3
    keep = (
        LandmarkPruner(PruneSettings(policy="share", share=0.6, min_landmarks=1))
        .fit(scores)
        .keep_mask_
    )
    assert keep.tolist() == [True, True, False, False, False, False]
    keep = LandmarkPruner(PruneSettings(fraction=0.9, min_landmarks=4)).fit(scores).keep_mask_
    assert keep.sum() == 4

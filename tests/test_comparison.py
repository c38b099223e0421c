"""Pruning baselines through the nested evaluation (issues 16 and 21): rankings, the runner's
protocol in an outer fold and its freedom from leakage of the fold's own and the held-out
subjects, and the comparison table."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from emoflow.comparison import CompareSettings, compare_pruning
from emoflow.comparison.rankings import (
    RANKINGS,
    mean_difference_scores,
    motion_scores,
    nested_top_sets,
    random_sets,
    zero_baseline_relevance,
)
from emoflow.comparison.table import (
    COMPARISON_SCHEMA,
    comparison_frame,
    read_comparison,
    write_comparison,
)
from emoflow.config import allowed_values, section_schema
from emoflow.errors import ConfigError, InputError
from emoflow.metrics import held_out_mask
from emoflow.storage.landmark_sets import write_landmark_sets
from emoflow.synthetic import PlantedData, planted_features
from emoflow.training import train_emotion
from emoflow.training.iteration import outer_folds

TRAIN = {
    "n_folds": 2,
    "test_subjects": 2,
    "device": "cpu",
    "model": {"width": 32, "n_layers": 1},
    "selection": {"ridge_grid": [1.0, 100.0], "n_inner_folds": 2},
}
ATTRIBUTION = {"n_steps": 8, "batch_size": 32}
EMOTION = "happiness"
FOLD = 0


@pytest.fixture(scope="module")
def small() -> PlantedData:
    """Planted data on 60 landmarks (the runner trains 22 models: keep each one small); 8
    subjects: 2 held out, 6 in 2 outer folds of 3."""
    return planted_features(n_subjects=8, repetitions=2, n_frames=6, n_landmarks=60, seed=2)


@pytest.fixture(scope="module")
def small_store(tmp_path_factory, small: PlantedData) -> Path:
    return small.write_store(tmp_path_factory.mktemp("small") / "features.zarr")


# -- rankings ----------------------------------------------------------------------------------
def test_random_sets_are_nested_and_spread_over_seeds() -> None:
    start, counts = list(range(100)), [100, 60, 30, 12]
    draws = [random_sets(start, counts, seed) for seed in range(5)]
    for sets in draws:
        assert [len(keep) for keep in sets] == counts
        for bigger, smaller in itertools.pairwise(sets):
            assert set(smaller) <= set(bigger)
    smallest = {tuple(sets[-1]) for sets in draws}
    assert len(smallest) == 5  # five seeds, five different sets
    assert [tuple(s) for s in random_sets(start, counts, 3)] == [tuple(s) for s in draws[3]]


def test_motion_ranking_finds_a_planted_moving_landmark(rng) -> None:
    n, frames, landmarks = 60, 6, 20
    features = 0.05 * rng.standard_normal((n, frames, landmarks, 3))
    labels = np.arange(n) % 3 == 0
    ramp = np.linspace(0, 1, frames)[:, None]
    features[labels, :, 7, :] += ramp * np.array([0.0, 1.0, 0.0])  # moves with the emotion
    features[:, :, 3, :] += 2.0 * rng.standard_normal((n, frames, 3))  # moves in every class
    scores = motion_scores(features, labels.astype(int))
    assert int(np.argmax(scores)) == 7
    assert scores[3] < scores[7] / 5
    ids = np.arange(100, 120)
    assert nested_top_sets(ids, scores, [20, 1])[1].tolist() == [107]


def test_mean_difference_ranking_finds_the_planted_landmarks(rng, small: PlantedData) -> None:
    n, frames, landmarks = 90, 6, 20
    features = 0.05 * rng.standard_normal((n, frames, landmarks, 3))
    labels = np.arange(n) % 3 == 0
    ramp = np.linspace(0, 1, frames)[:, None]
    features[labels, :, 7, :] += ramp * np.array([0.0, 0.5, 0.0])  # moves with the emotion
    features[:, :, 3, :] += ramp * np.array([2.0, 0.0, 0.0])  # the same motion in every class
    scores = mean_difference_scores(features, labels.astype(int))
    assert int(np.argmax(scores)) == 7
    assert scores[3] < scores[7] / 5
    # on planted data: most of the emotion's planted landmarks rank first (chance: ~1 of 8)
    planted_labels = (small.emotions == EMOTION).astype(np.int64)
    planted_scores = mean_difference_scores(small.features, planted_labels)
    top = np.argsort(-planted_scores)[:8]
    assert len(set(top.tolist()) & set(small.planted[EMOTION])) >= 5
    keep = np.arange(10, 40)
    assert mean_difference_scores(small.features, planted_labels, keep) == pytest.approx(
        planted_scores[keep]
    )
    with pytest.raises(Exception, match="needs samples of the emotion and of the others"):
        mean_difference_scores(features, np.ones(n))


def test_vanilla_ig_uses_the_zero_baseline(monkeypatch, planted: PlantedData) -> None:
    import emoflow.attribution.dataset as dataset
    from emoflow.models import make_model

    kinds: list[str] = []
    original = dataset.choose_baselines

    def spy(inputs, labels, *, kind, **kwargs):
        kinds.append(kind)
        baselines, chosen = original(inputs, labels, kind=kind, **kwargs)
        assert not baselines.any()  # the all-zero reference
        return baselines, chosen

    monkeypatch.setattr(dataset, "choose_baselines", spy)
    keep = np.arange(40)
    labels = (planted.emotions == EMOTION).astype(np.int64)
    inputs = planted.features[:, :, keep, :]
    model = make_model("rvfl", {"width": 16, "n_layers": 1}, device="cpu").fit(inputs, labels)
    scores, settings = zero_baseline_relevance(model, planted.features, labels, keep, ATTRIBUTION)
    assert kinds == ["zero"]
    assert settings.baseline == "zero" and settings.n_steps == 8
    assert scores.shape == (40,) and np.isfinite(scores).all()


def test_settings_and_schema_agree() -> None:
    assert tuple(section_schema("prune.compare")["items"]["enum"]) == RANKINGS
    assert CompareSettings.from_section({"compare": ["motion"], "fraction": 0.2}) == (
        CompareSettings(compare=("motion",))
    )
    with pytest.raises(ConfigError, match=r"prune\.compare"):
        CompareSettings.from_section({"compare": ["saliency"]})
    with pytest.raises(ConfigError, match=r"prune\.compare_seeds"):
        CompareSettings(compare_seeds=0)
    assert allowed_values("prune.policy")  # the chain's keys stay the chain's


# -- the runner --------------------------------------------------------------------------------
def _chain_sets(folder: Path, planted: PlantedData) -> list[Path]:
    """A stand-in IG chain of one emotion: 60 → 24 → 10 landmarks (nested)."""
    ids = np.arange(planted.features.shape[2])
    order = [*planted.planted[EMOTION], *[i for i in ids if i not in planted.planted[EMOTION]]]
    paths = []
    for iteration, count in enumerate((len(ids), 24, 10)):
        path = folder / f"iter_{iteration}.json"
        write_landmark_sets(path, {EMOTION: sorted(order[:count])}, iteration=iteration)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def chain(tmp_path_factory, small_store: Path, small: PlantedData) -> dict:
    folder = tmp_path_factory.mktemp("chain")
    return {"sets": _chain_sets(folder, small)}


def _compare(store: Path, sets: list[Path], out: Path, rankings=RANKINGS) -> pl.DataFrame:
    return compare_pruning(
        store,
        sets,
        EMOTION,
        out,
        rankings=list(rankings),
        outer_fold=FOLD,
        train=TRAIN,
        attribution=ATTRIBUTION,
        seeds=3,
    )


@pytest.fixture(scope="module")
def compared(tmp_path_factory, small_store: Path, chain: dict) -> Path:
    out = tmp_path_factory.mktemp("compared") / "table.parquet"
    _compare(small_store, chain["sets"], out)
    return out


def _outer_subjects(small: PlantedData) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the held-out test subjects and of outer fold FOLD's subjects."""
    held_out = held_out_mask(small.subjects, TRAIN["test_subjects"], seed=0)
    development = np.flatnonzero(~held_out)
    folds = outer_folds(
        small.subjects[development], small.emotions[development], TRAIN["n_folds"], seed=0
    )
    outer = np.zeros(len(small.subjects), dtype=bool)
    outer[development[folds[FOLD]]] = True
    return held_out, outer


def test_each_ranking_keeps_the_chain_counts(compared: Path, small: PlantedData) -> None:
    table = read_comparison(compared)
    assert table.schema == pl.Schema(COMPARISON_SCHEMA)
    assert set(table["ranking"]) == set(RANKINGS)
    assert (table["outer_fold"] == FOLD).all()
    for ranking in RANKINGS:
        rows = table.filter(pl.col("ranking") == ranking)
        assert sorted(set(rows["n_landmarks"].to_list())) == [10, 24]
        assert (rows["landmarks"].list.len() == rows["n_landmarks"]).all()
    random = table.filter(pl.col("ranking") == "random")
    assert random.height == 3 * 2 and sorted(set(random["seed"].to_list())) == list(range(3))
    assert table.filter(pl.col("ranking") != "random")["seed"].is_null().all()
    # every row scores exactly the outer fold's samples, once
    _, outer = _outer_subjects(small)
    expected = sorted(small.video_ids[outer].tolist())
    for row in table.iter_rows(named=True):
        assert sorted(row["video_id"]) == expected
        assert len(row["score"]) == len(expected) and np.isfinite(row["score"]).all()


def test_baselines_are_scored_exactly_as_the_chain(
    compared: Path, small_store: Path, tmp_path: Path
) -> None:
    """The motion baseline's 10 landmarks, trained by the chain's own train_emotion in the same
    outer fold, give the very numbers of its row."""
    table = read_comparison(compared)
    row = table.filter((pl.col("ranking") == "motion") & (pl.col("iteration") == 2)).row(
        0, named=True
    )
    set_path = tmp_path / "landmarks.json"
    write_landmark_sets(set_path, {EMOTION: row["landmarks"]}, iteration=2)
    metrics = train_emotion(
        small_store,
        set_path,
        EMOTION,
        tmp_path / "model.pt",
        tmp_path / "metrics.json",
        tmp_path / "scores.parquet",
        train=TRAIN,
        iteration=2,
        outer_fold=FOLD,
    )
    record = metrics["emotions"][EMOTION]
    assert metrics["outer_fold"] == FOLD
    assert row["val_balanced_accuracy_mean"] == record["mean"]["balanced_accuracy"]
    assert row["val_balanced_accuracy_std"] == record["std"]["balanced_accuracy"]
    scores = pl.read_parquet(tmp_path / "scores.parquet").filter(pl.col("fold") < 0)
    assert scores["video_id"].to_list() == row["video_id"]
    assert scores["score"].to_list() == pytest.approx(row["score"])


def test_rankings_never_see_the_outer_fold_or_the_held_out_subjects(
    tmp_path: Path, small: PlantedData, chain: dict, compared: Path
) -> None:
    """Spy test: the features of the outer fold's and the held-out subjects changed beyond
    recognition change no ranking's landmark sets nor any inner-fold score (what the counts
    are chosen on); only the outer fold's own scores change."""
    held_out, outer = _outer_subjects(small)
    assert held_out.any() and outer.any() and not (held_out & outer).any()
    wild = small.features.copy()
    hidden = held_out | outer
    noise = np.random.default_rng(5).standard_normal(wild[hidden].shape)
    wild[hidden] = 50.0 * noise + 10.0
    store = dataclasses.replace(small, features=wild).write_store(tmp_path / "wild.zarr")
    rankings = ("motion", "mean_difference", "vanilla_ig")
    changed = _compare(store, chain["sets"], tmp_path / "wild.parquet", rankings)
    original = read_comparison(compared).filter(pl.col("ranking").is_in(rankings))
    assert changed["landmarks"].to_list() == original["landmarks"].to_list()
    assert changed["val_balanced_accuracy_mean"].to_list() == pytest.approx(
        original["val_balanced_accuracy_mean"].to_list()
    )
    assert changed["score"].to_list() != original["score"].to_list()


def test_an_unknown_ranking_is_refused(small_store: Path, chain: dict, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"prune\.compare"):
        compare_pruning(
            small_store,
            chain["sets"],
            EMOTION,
            tmp_path / "x.parquet",
            rankings=["saliency"],
            outer_fold=FOLD,
        )


# -- the table --------------------------------------------------------------------------------
def test_the_table_reader_names_bad_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_comparison(tmp_path / "none.parquet")
    bad = tmp_path / "bad.parquet"
    pl.DataFrame({"emotion": ["fear"], "seed": [1.5]}).write_parquet(bad)
    with pytest.raises(InputError, match=r"bad\.parquet.*seed"):
        read_comparison(bad)
    with pytest.raises(ValueError, match="COMPARISON_SCHEMA"):
        write_comparison(tmp_path / "x.parquet", pl.DataFrame({"emotion": ["fear"]}))
    empty = comparison_frame([])
    write_comparison(tmp_path / "empty.parquet", empty)
    assert read_comparison(tmp_path / "empty.parquet").schema == pl.Schema(COMPARISON_SCHEMA)

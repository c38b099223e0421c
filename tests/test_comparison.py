"""Pruning baselines beside the IG chain (issue 16): rankings, the runner's protocol and its
freedom from test leakage, the comparison table, the verdicts and the figure."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from emoflow.comparison import (
    CHAIN,
    COMPARISON_SCHEMA,
    RANKINGS,
    CompareSettings,
    compare_pruning,
    comparison_frame,
    deltas_by_iteration,
    gather_comparison,
    mean_difference_scores,
    motion_scores,
    nested_top_sets,
    plot_comparison,
    random_sets,
    read_comparison,
    verdicts,
    write_comparison,
    zero_baseline_relevance,
)
from emoflow.config import allowed_values, section_schema
from emoflow.errors import ConfigError, DataError, InputError
from emoflow.landmark_sets import write_landmark_sets
from emoflow.pruning import summarise_iterations
from emoflow.synthetic import PlantedData, planted_features
from emoflow.training import held_out_mask, read_metrics, train_emotion

TRAIN = {
    "n_folds": 2,
    "test_subjects": 2,
    "device": "cpu",
    "model": {"width": 32, "n_layers": 1},
    "selection": {"ridge_grid": [1.0, 100.0], "n_inner_folds": 2},
}
ATTRIBUTION = {"n_steps": 8, "batch_size": 32}
EMOTION = "happiness"


@pytest.fixture(scope="module")
def small() -> PlantedData:
    """Planted data on 60 landmarks (the runner trains 18 models: keep each one small)."""
    return planted_features(n_subjects=6, repetitions=3, n_frames=6, n_landmarks=60, seed=2)


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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_difference_ranks_the_planted_landmarks_first(seed: int) -> None:
    """Every emotion's planted landmarks are its top ones: the distractors, which move 2.4×
    as far as a planted landmark but alike in every class, cancel in the class means (with
    enough samples: 360 here; with 36 the difference of their noisy means still outranks
    some planted landmarks)."""
    data = planted_features(
        n_subjects=12, repetitions=10, n_frames=6, equal_strength=True, seed=seed
    )
    for emotion, planted in data.planted.items():
        labels = (data.emotions == emotion).astype(int)
        scores = mean_difference_scores(data.features, labels)
        assert scores.shape == (data.features.shape[2],) and (scores >= 0).all()
        order = np.argsort(-scores, kind="stable")
        assert sorted(order[: len(planted)].tolist()) == planted
        others = np.setdiff1d(np.arange(len(scores)), planted)
        assert scores[others].max() < 0.8 * scores[planted].min()
    ids = np.arange(478)[::-1]  # scores follow the order of the landmarks given
    some = mean_difference_scores(data.features, labels, ids)
    assert some == pytest.approx(scores[ids], rel=1e-12)


def test_mean_difference_is_the_norm_of_the_class_mean_difference(rng) -> None:
    features = rng.standard_normal((10, 3, 4, 3))
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    expected = [
        np.sqrt(np.sum((features[:3, :, k].mean(0) - features[3:, :, k].mean(0)) ** 2))
        for k in range(4)
    ]
    assert mean_difference_scores(features, labels) == pytest.approx(expected)
    with pytest.raises(DataError, match="mean_difference ranking needs samples of the emotion"):
        mean_difference_scores(features, np.zeros(10))
    with pytest.raises(DataError, match="labels"):
        mean_difference_scores(features, labels[:5])


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
    sets = _chain_sets(folder, small)
    metrics = []
    for iteration, set_path in enumerate(sets):
        out = folder / f"metrics_{iteration}.json"
        train_emotion(
            small_store,
            set_path,
            EMOTION,
            folder / f"model_{iteration}.pt",
            out,
            folder / f"scores_{iteration}.parquet",
            train=TRAIN,
            iteration=iteration,
        )
        metrics.append(out)
    summary = summarise_iterations(metrics, folder / "summary.parquet")
    return {
        "sets": sets,
        "metrics": metrics,
        "summary": folder / "summary.parquet",
        "rows": summary,
    }


@pytest.fixture(scope="module")
def compared(tmp_path_factory, small_store: Path, chain: dict) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("compared")
    tables = {}
    for ranking in RANKINGS:
        tables[ranking] = folder / f"{ranking}.parquet"
        compare_pruning(
            small_store,
            chain["sets"],
            EMOTION,
            ranking,
            tables[ranking],
            train=TRAIN,
            attribution=ATTRIBUTION,
            seeds=5,
        )
    return tables


def test_each_ranking_keeps_the_chain_counts(compared: dict[str, Path]) -> None:
    for ranking, path in compared.items():
        table = read_comparison(path)
        assert table.schema == pl.Schema(COMPARISON_SCHEMA)
        assert set(table["ranking"]) == {ranking}
        assert sorted(set(table["n_landmarks"].to_list())) == [10, 24]
        assert (table["landmarks"].list.len() == table["n_landmarks"]).all()
        assert table["test_balanced_accuracy"].is_not_null().all()  # 2 held-out subjects
    random = read_comparison(compared["random"])
    assert random.height == 5 * 2 and sorted(set(random["seed"].to_list())) == list(range(5))
    assert read_comparison(compared["motion"])["seed"].is_null().all()


def test_baselines_are_scored_exactly_as_the_chain(
    compared: dict[str, Path], small_store: Path, tmp_path: Path
) -> None:
    """The motion baseline's 10 landmarks, trained by the chain's own train_emotion, give the
    very numbers of its row."""
    row = read_comparison(compared["motion"]).filter(pl.col("iteration") == 2).row(0, named=True)
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
    )["emotions"][EMOTION]
    assert row["val_balanced_accuracy_mean"] == metrics["mean"]["balanced_accuracy"]
    assert row["val_balanced_accuracy_std"] == metrics["std"]["balanced_accuracy"]
    assert row["test_balanced_accuracy"] == metrics["test"]["balanced_accuracy"]


def test_rankings_never_see_the_held_out_test_subjects(
    tmp_path: Path, small: PlantedData, chain: dict, compared: dict[str, Path]
) -> None:
    """Spy test: the held-out subjects' features changed beyond recognition change no
    ranking's landmark sets (only their own test scores)."""
    held_out = held_out_mask(small.subjects, TRAIN["test_subjects"], seed=0)
    assert held_out.any()
    wild = small.features.copy()
    noise = np.random.default_rng(5).standard_normal(wild[held_out].shape)
    wild[held_out] = 50.0 * noise + 10.0
    store = dataclasses.replace(small, features=wild).write_store(tmp_path / "wild.zarr")
    for ranking in ("motion", "mean_difference", "vanilla_ig"):
        out = tmp_path / f"{ranking}.parquet"
        compare_pruning(
            store, chain["sets"], EMOTION, ranking, out, train=TRAIN, attribution=ATTRIBUTION
        )
        original, changed = read_comparison(compared[ranking]), read_comparison(out)
        assert changed["landmarks"].to_list() == original["landmarks"].to_list()
        assert changed["val_balanced_accuracy_mean"].to_list() == pytest.approx(
            original["val_balanced_accuracy_mean"].to_list()
        )
        assert (
            changed["test_balanced_accuracy"].to_list()
            != original["test_balanced_accuracy"].to_list()
        )


@pytest.mark.parametrize("ranking", ["motion", "mean_difference"])
def test_model_free_rankings_rank_the_start_set_once(
    ranking: str, small: PlantedData, chain: dict, compared: dict[str, Path]
) -> None:
    """Each count keeps the top of one ranking of the start set, computed on the development
    subjects: the sets are nested, the same as ranking each iteration's set again."""
    from emoflow.comparison import MODEL_FREE_RANKINGS

    development = ~held_out_mask(small.subjects, TRAIN["test_subjects"], seed=0)
    labels = (small.emotions[development] == EMOTION).astype(int)
    start = np.arange(small.features.shape[2])
    scores = MODEL_FREE_RANKINGS[ranking](small.features[development], labels, start)
    table = read_comparison(compared[ranking]).sort("iteration")
    kept = [np.asarray(keep) for keep in table["landmarks"].to_list()]
    expected = nested_top_sets(start, scores, table["n_landmarks"].to_list())
    assert [k.tolist() for k in kept] == [e.tolist() for e in expected]
    assert set(kept[1]) <= set(kept[0])
    again = MODEL_FREE_RANKINGS[ranking](small.features[development], labels, kept[0])
    assert nested_top_sets(kept[0], again, [len(kept[1])])[0].tolist() == kept[1].tolist()


def test_an_unknown_ranking_is_refused(small_store: Path, chain: dict, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"prune\.compare"):
        compare_pruning(small_store, chain["sets"], EMOTION, "saliency", tmp_path / "x.parquet")


# -- the table, the verdicts, the figure ---------------------------------------------------------
def test_gather_verdicts_and_figure(compared: dict[str, Path], chain: dict, tmp_path: Path) -> None:
    out, figure = tmp_path / "summary.parquet", tmp_path / "comparison.png"
    page = tmp_path / "verdicts.html"
    table = gather_comparison(
        list(compared.values()),
        {EMOTION: chain["metrics"]},
        {EMOTION: chain["sets"]},
        chain["summary"],
        out,
        figure_path=figure,
        page_path=page,
    )
    assert read_comparison(out).equals(table)
    own = table.filter(pl.col("ranking") == CHAIN)
    assert own["iteration"].to_list() == [0, 1, 2]
    expected = [
        read_metrics(p)["emotions"][EMOTION]["mean"]["balanced_accuracy"] for p in chain["metrics"]
    ]
    assert own["val_balanced_accuracy_mean"].to_list() == expected
    selected = chain["rows"].filter(pl.col("selected"))["iteration"].item()
    assert set(table.filter(pl.col("selected"))["iteration"]) == {selected}
    result = verdicts(table)
    if selected:  # at iteration 0 every ranking has the chain's own set: nothing to compare
        assert sorted(result["ranking"]) == sorted(RANKINGS)
        assert result.filter(pl.col("ranking") == "random")["n_runs"].item() == 5
        assert result["statement"].str.starts_with(f"{EMOTION}: IG-guided beats ").all()
    text = page.read_text()
    for statement in result["statement"]:  # every verdict, stated in the report's page
        assert f"<li>{statement}</li>" in text
    assert text.count("<tr") == result.height + 1  # one row per verdict, and the header
    assert figure.stat().st_size > 10_000


def test_verdicts_compare_at_the_selected_count() -> None:
    def row(ranking, seed, value, test, iteration=2):
        return {
            "emotion": "fear",
            "ranking": ranking,
            "seed": seed,
            "iteration": iteration,
            "n_landmarks": 40,
            "val_balanced_accuracy_mean": value,
            "val_balanced_accuracy_std": 0.01,
            "test_balanced_accuracy": test,
            "selected": iteration == 2,
            "landmarks": list(range(40)),
        }

    table = comparison_frame(
        [
            row(CHAIN, None, 0.80, 0.75),
            row("motion", None, 0.85, 0.70),
            *[row("random", seed, 0.60 + 0.02 * seed, 0.6) for seed in range(5)],
            row("vanilla_ig", None, 0.99, 0.99, iteration=3),  # another iteration
        ]
    )
    result = verdicts(table).sort("ranking")
    assert result["ranking"].to_list() == ["motion", "random"]
    motion, random = result.row(0, named=True), result.row(1, named=True)
    assert not motion["beats"] and motion["delta"] == pytest.approx(-0.05)
    assert motion["statement"] == (
        "fear: IG-guided beats motion at 40 landmarks: no (Δ -0.050 validation, +0.050 test)"
    )
    assert random["beats"] and random["val"] == pytest.approx(0.64)
    assert random["val_std"] == pytest.approx(np.std([0.60, 0.62, 0.64, 0.66, 0.68]))
    assert random["n_runs"] == 5
    assert random["n_undefined"] == 0 and random["n_test_undefined"] == 0


def test_verdicts_skip_and_count_undefined_scores() -> None:
    """A random seed whose test set scored NaN (no positive video) is left out of the mean
    over seeds, not averaged in as NaN (nor 0.5), and counted."""
    rows = [
        {
            "emotion": "fear",
            "ranking": ranking,
            "seed": seed,
            "iteration": 1,
            "n_landmarks": 40,
            "val_balanced_accuracy_mean": value,
            "val_balanced_accuracy_std": 0.01,
            "test_balanced_accuracy": test,
            "selected": True,
            "landmarks": list(range(40)),
        }
        for ranking, seed, value, test in [
            (CHAIN, None, 0.8, 0.7),
            ("random", 0, 0.6, 0.5),
            ("random", 1, 0.7, float("nan")),
            ("random", 2, 0.8, 0.7),
        ]
    ]
    random = verdicts(comparison_frame(rows)).row(0, named=True)
    assert random["val"] == pytest.approx(0.7) and random["test"] == pytest.approx(0.6)
    assert random["n_runs"] == 3 and random["n_test_undefined"] == 1
    assert random["n_undefined"] == 0
    assert random["test_delta"] == pytest.approx(0.1)


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


def test_plot_comparison_draws_one_panel_per_emotion(tmp_path: Path) -> None:
    rows = []
    for emotion in ("anger", "fear"):
        for ranking, seeds in ((CHAIN, [None]), ("random", [0, 1, 2])):
            for seed in seeds:
                for iteration, count in enumerate((478, 100, 30)):
                    if ranking != CHAIN and iteration == 0:
                        continue
                    rows.append(
                        {
                            "emotion": emotion,
                            "ranking": ranking,
                            "seed": seed,
                            "iteration": iteration,
                            "n_landmarks": count,
                            "val_balanced_accuracy_mean": 0.7 + 0.01 * iteration,
                            "val_balanced_accuracy_std": 0.02,
                            "test_balanced_accuracy": None,
                            "selected": iteration == 1,
                            "landmarks": list(range(count)),
                        }
                    )
    plot_comparison(comparison_frame(rows), tmp_path / "figure.png")
    assert (tmp_path / "figure.png").stat().st_size > 10_000


def test_a_full_set_selection_is_a_tie_and_every_iteration_has_its_delta() -> None:
    def row(ranking, seed, iteration, value):
        return {
            "emotion": "disgust",
            "ranking": ranking,
            "seed": seed,
            "iteration": iteration,
            "n_landmarks": (478, 100)[iteration],
            "val_balanced_accuracy_mean": value,
            "val_balanced_accuracy_std": 0.01,
            "test_balanced_accuracy": 0.8,
            "selected": iteration == 0,
            "landmarks": list(range((478, 100)[iteration])),
        }

    table = comparison_frame(
        [
            row(CHAIN, None, 0, 0.9),
            row(CHAIN, None, 1, 0.85),
            row("motion", None, 1, 0.7),
            *[row("random", seed, 1, 0.8 + 0.01 * seed) for seed in range(5)],
        ]
    )
    result = verdicts(table)
    assert result["n_landmarks"].to_list() == [478, 478]
    assert result["delta"].to_list() == [0.0, 0.0] and not result["beats"].any()
    assert result.filter(pl.col("ranking") == "random")["n_runs"].item() == 5
    steps = deltas_by_iteration(table)
    assert steps.height == 4  # two rankings × iterations 0 and 1
    later = steps.filter(pl.col("iteration") == 1).sort("ranking")
    assert later["delta"].to_list() == pytest.approx([0.15, 0.85 - 0.82])


def test_differences_read_without_a_negative_zero() -> None:
    from emoflow.comparison._text import signed

    assert [signed(v) for v in (-0.0, -1e-12, 0.0334, -0.0041)] == [
        "+0.000",
        "+0.000",
        "+0.033",
        "-0.004",
    ]

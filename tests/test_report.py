"""The report stage: figures and report.json from a tiny two-iteration run of the real stages."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from emoflow.attribution import AttributionSettings, attribute_iteration, load_scores
from emoflow.errors import DataError, InputError
from emoflow.facemesh import N_LANDMARKS, region_of
from emoflow.features import FeatureSettings
from emoflow.pruning import (
    PruneSettings,
    initial_landmark_set,
    prune_iteration,
    summarise_iterations,
)
from emoflow.report import FIGURES, REPORT_JSON, make_report, precision_at_k, top_landmarks
from emoflow.synthetic import planted_features
from emoflow.training import train_iteration

EMOTIONS = ("happiness", "sadness", "surprise")
TOP_K = 20


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Features, two training/attribution iterations, the summary and a ground-truth file."""
    root = tmp_path_factory.mktemp("run")
    data = planted_features(emotions=EMOTIONS, n_subjects=4, repetitions=2, n_frames=4, seed=3)
    features = data.write_store(
        root / "features.zarr", settings=asdict(FeatureSettings(n_frames=4))
    )
    initial_landmark_set(features, root / "iter_0" / "landmarks.json")
    paths: dict[str, list[Path]] = {"metrics": [], "attributions": [], "landmarks": []}
    for i in range(2):
        folder = root / f"iter_{i}"
        train_iteration(
            features,
            folder / "landmarks.json",
            folder / "models",
            folder / "metrics.json",
            folder / "scores.parquet",
            network=dict(width=32),
            n_folds=3,
            device="cpu",
            iteration=i,
        )
        attribute_iteration(
            features,
            folder / "landmarks.json",
            folder / "models",
            folder / "attributions.zarr",
            settings=AttributionSettings(n_steps=8, n_baselines=2),
            device="cpu",
            iteration=i,
        )
        if i == 0:
            prune_iteration(
                folder / "attributions.zarr",
                folder / "landmarks.json",
                root / "iter_1" / "landmarks.json",
                settings=PruneSettings(fraction=0.7),
                iteration=1,
            )
        paths["metrics"].append(folder / "metrics.json")
        paths["attributions"].append(folder / "attributions.zarr")
        paths["landmarks"].append(folder / "landmarks.json")
    summarise_iterations(paths["metrics"], root / "summary.parquet")
    truth = root / "ground_truth.json"
    truth.write_text(
        json.dumps(
            {
                "emotions": {
                    emotion: {"regions": ["synthetic"], "landmarks": ids}
                    for emotion, ids in data.planted.items()
                }
            }
        )
    )
    return {"root": root, "summary": root / "summary.parquet", "truth": truth, **paths}


@pytest.fixture(scope="module")
def report(run: dict) -> tuple[Path, dict]:
    out = run["root"] / "report"
    numbers = make_report(
        run["summary"],
        run["metrics"],
        run["attributions"],
        run["landmarks"],
        out,
        ground_truth_path=run["truth"],
        top_k=TOP_K,
    )
    return out, numbers


def _check_png(path: Path, min_side: int = 400) -> None:
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000
    pixels = imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) >= min_side
    assert pixels[..., :3].std() > 0.02  # something was drawn


def test_writes_every_figure_and_the_numbers(report: tuple[Path, dict]) -> None:
    out, numbers = report
    for name in FIGURES.values():
        _check_png(out / name)
    assert json.loads((out / REPORT_JSON).read_text()) == numbers
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging leftovers


def test_report_numbers_follow_the_summary(run: dict, report: tuple[Path, dict]) -> None:
    _, numbers = report
    summary = pl.read_parquet(run["summary"])
    assert numbers["iterations"] == [0, 1]
    assert set(numbers["emotions"]) == set(EMOTIONS)
    for emotion, entry in numbers["emotions"].items():
        rows = summary.filter(pl.col("emotion") == emotion)
        chosen = rows.filter(pl.col("selected")).row(0, named=True)
        full = rows.filter(pl.col("iteration") == 0).row(0, named=True)
        assert entry["selected_iteration"] == chosen["iteration"]
        assert entry["n_landmarks_full"] == N_LANDMARKS
        assert entry["n_landmarks_selected"] == chosen["n_landmarks"]
        assert entry["balanced_accuracy_full"] == pytest.approx(full["balanced_accuracy_mean"])
        assert entry["balanced_accuracy_selected"] == pytest.approx(
            chosen["balanced_accuracy_mean"]
        )
        assert len(entry["top_k_landmarks"]) == TOP_K == entry["top_k"]
        assert entry["top_k_regions"] == region_of(entry["top_k_landmarks"])
    combined = json.loads(run["metrics"][-1].read_text())["combined"]["accuracy"]
    assert numbers["combined_accuracy"]["last"] == pytest.approx(combined)


def test_precision_at_k_against_the_planted_landmarks(run: dict, report: tuple[Path, dict]) -> None:
    _, numbers = report
    emotions, scores = load_scores(run["attributions"][0])
    truth = json.loads(run["truth"].read_text())["emotions"]
    for e, emotion in enumerate(emotions):
        planted = set(truth[emotion]["landmarks"])
        k = min(TOP_K, len(planted))
        top = np.argsort(-scores[e], kind="stable")[:k]
        expected = len(planted.intersection(top.tolist())) / k
        entry = numbers["emotions"][emotion]
        assert entry["k"] == k
        assert entry["precision_at_k"] == pytest.approx(expected)
        assert entry["chance_level"] == pytest.approx(len(planted) / N_LANDMARKS)
        assert entry["n_ground_truth"] == len(planted)


def test_precision_at_k_by_hand() -> None:
    scores = np.array([0.9, np.nan, 0.1, 0.8, 0.5, 0.7])
    assert top_landmarks(scores, 3).tolist() == [0, 3, 5]
    result = precision_at_k(scores, [0, 1, 4], top_k=10)  # k = 3: top 0, 3, 5 → one hit
    assert result["k"] == 3
    assert result["precision_at_k"] == pytest.approx(1 / 3)
    assert result["chance_level"] == pytest.approx(3 / 5)  # NaN landmarks are not scored
    assert result["hits"] == [0]
    assert precision_at_k(scores, [0, 3], top_k=1)["precision_at_k"] == 1.0


def test_without_ground_truth_and_with_one_iteration(run: dict, tmp_path: Path) -> None:
    summary = tmp_path / "summary.parquet"
    summarise_iterations(run["metrics"][:1], summary)
    numbers = make_report(
        summary,
        run["metrics"][:1],
        run["attributions"][:1],
        run["landmarks"][:1],
        tmp_path / "report",
        top_k=10,
    )
    assert numbers["ground_truth"] is False
    for entry in numbers["emotions"].values():
        assert "precision_at_k" not in entry
        assert entry["selected_iteration"] == 0
        assert entry["n_landmarks_selected"] == entry["n_landmarks_full"]
    for name in FIGURES.values():
        _check_png(tmp_path / "report" / name)


def test_rejects_inconsistent_inputs(run: dict, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="per iteration"):
        make_report(
            run["summary"], run["metrics"], run["attributions"][:1], run["landmarks"], tmp_path
        )
    with pytest.raises(DataError, match="top_k"):
        make_report(
            run["summary"], run["metrics"], run["attributions"], run["landmarks"], tmp_path, top_k=0
        )
    bad_truth = tmp_path / "truth.json"
    bad_truth.write_text(json.dumps({"emotions": {"happiness": {"regions": []}}}))
    with pytest.raises(InputError, match="landmarks"):
        make_report(
            run["summary"],
            run["metrics"],
            run["attributions"],
            run["landmarks"],
            tmp_path,
            ground_truth_path=bad_truth,
        )
    with pytest.raises(InputError, match="does not exist"):
        make_report(
            tmp_path / "missing.parquet",
            run["metrics"],
            run["attributions"],
            run["landmarks"],
            tmp_path,
        )


def test_report_refuses_an_output_folder_that_is_an_input(tmp_path: Path) -> None:
    store = tmp_path / "attributions.zarr"
    store.mkdir()
    (store / "zarr.json").write_text("{}")
    # a metrics file named like the report's own report.json: out_dir=tmp_path would overwrite it
    inputs = {name: tmp_path / name for name in ("summary.parquet", "report.json", "l.json")}
    for path in inputs.values():
        path.write_text("input")
    for out_dir in (store, store / "report", tmp_path):
        with pytest.raises(InputError, match="input") as caught:
            make_report(
                inputs["summary.parquet"],
                [inputs["report.json"]],
                [store],
                [inputs["l.json"]],
                out_dir,
            )
        assert str(out_dir) in str(caught.value)
    assert sorted(p.name for p in store.iterdir()) == ["zarr.json"]
    assert all(path.read_text() == "input" for path in inputs.values())

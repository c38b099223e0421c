"""Improved Integrated Gradients: planted truth, faithfulness, the Zarr store, bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr

from emoflow._atomic import write_json
from emoflow.attribution import AttributionSettings, attribute_samples, dataset_relevance
from emoflow.attribution import baselines as attribution
from emoflow.attribution.baselines import choose_baselines, k_means, k_medoids
from emoflow.attribution.faithfulness import (
    area_under_curve,
    deletion_curve,
    random_ranking,
    ranking_from_scores,
    remove_and_retrain,
)
from emoflow.attribution.relevance import landmark_scores
from emoflow.attribution.run import attribute_models
from emoflow.errors import ConfigError, DataError, InputError
from emoflow.layout import ResultsLayout
from emoflow.metrics import precision_at_k
from emoflow.models import NetworkSettings, RandomizedDeepNetwork
from emoflow.storage.attribution_store import ATTRIBUTION_DIMS, load_scores, read_attributions
from emoflow.synthetic import PlantedData, planted_features
from emoflow.training import train_iteration

VANILLA = AttributionSettings(baseline="zero", aggregate="mean_abs")
"""Vanilla IG: one all-zero reference, per-sample magnitudes averaged."""


# -- planted signal --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hard() -> PlantedData:
    """8 planted landmarks per emotion among 478; 16 distractors moving ≈2.4× as far as a
    planted landmark, 16 landmarks whose noise in every frame is ≈1.6× the planted peak, and
    a neutral class."""
    return planted_features(
        n_subjects=10,
        repetitions=3,
        n_frames=5,
        equal_strength=True,
        n_noisy=16,
        noise_scale=1.0,
        neutral=True,
        seed=0,
    )


@pytest.fixture(scope="module")
def rankings(hard: PlantedData) -> dict[str, dict[str, object]]:
    """Per emotion: the default model, and the improved / vanilla / random rankings."""
    torch.manual_seed(0)
    out: dict[str, dict[str, object]] = {}
    for emotion in sorted(hard.planted):
        labels = (hard.emotions == emotion).astype(np.int64)
        model = RandomizedDeepNetwork(NetworkSettings(), device="cpu").fit(hard.features, labels)
        improved = dataset_relevance(model, hard.features, labels, AttributionSettings())
        vanilla = dataset_relevance(model, hard.features, labels, VANILLA)
        out[emotion] = {
            "model": model,
            "labels": labels,
            "improved": ranking_from_scores(improved["scores"]),
            "vanilla": ranking_from_scores(vanilla["scores"]),
            "random": random_ranking(hard.features.shape[2], seed=1),
            "deltas": improved["deltas"],
        }
    return out


def test_signal_strengths_are_as_documented(hard: PlantedData) -> None:
    peak = np.linalg.norm(hard.features[:, -1], axis=-1)  # (sample, landmark) at the peak
    for emotion, ids in hard.planted.items():
        mine = hard.emotions == emotion
        assert peak[np.ix_(mine, ids)].mean() == pytest.approx(1.0, abs=0.15)
        assert peak[np.ix_(~mine, ids)].mean() < 0.2
    planted_peak = 1.0
    assert peak[:, hard.distractors].mean() > 2 * planted_peak
    assert np.linalg.norm(hard.features[:, 1:, hard.noisy], axis=-1).mean() > 1.5 * planted_peak
    assert set(hard.emotions.tolist()) == {*hard.planted, "neutral"}


def test_improved_ig_recovers_the_planted_landmarks(hard, rankings) -> None:
    chance = 8 / hard.features.shape[2]
    for emotion, entry in rankings.items():
        truth = hard.planted[emotion]
        improved = precision_at_k(entry["improved"], truth)
        shuffled = precision_at_k(entry["random"], truth)
        assert improved >= 0.8, (emotion, improved)
        assert improved - shuffled >= 0.6 and improved > 20 * chance, (emotion, improved)
        assert improved >= precision_at_k(entry["vanilla"], truth) + 0.25
        assert np.all(entry["deltas"] < 1e-3)  # Gauss-Legendre IG is complete here


def test_improved_ig_is_at_least_as_faithful_as_vanilla(hard, rankings) -> None:
    fractions = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)
    areas: dict[str, list[float]] = {"improved": [], "vanilla": [], "random": []}
    roar: dict[str, list[float]] = {"improved": [], "vanilla": [], "random": []}
    for entry in rankings.values():
        for name in areas:
            curve = deletion_curve(
                entry["model"],
                hard.features,
                entry["labels"],
                entry[name],
                fractions=fractions,
                metric="roc_auc",
            )
            areas[name].append(curve["area"])
            retrained = remove_and_retrain(
                hard.features,
                entry["labels"],
                hard.subjects,
                entry[name],
                fractions=fractions[:4],
                n_folds=3,
                metric="roc_auc",
            )
            roar[name].append(retrained["area"])
    mean = {name: float(np.mean(values)) for name, values in areas.items()}
    roar_mean = {name: float(np.mean(values)) for name, values in roar.items()}
    # lower is better: removing what matters first makes the curve fall fast
    assert mean["improved"] <= mean["vanilla"] + 0.01, mean
    assert mean["improved"] < mean["random"] - 0.05, mean
    assert roar_mean["improved"] <= roar_mean["vanilla"] + 0.01, roar_mean
    assert roar_mean["improved"] < roar_mean["random"] - 0.1, roar_mean


# -- methods and baselines -------------------------------------------------------------------
class _Linear(torch.nn.Module):
    def __init__(self, weights: torch.Tensor) -> None:
        super().__init__()
        self.weights = weights

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return (inputs * self.weights).flatten(1).sum(1) + 0.5


def test_ig_and_landmark_occlusion_agree_on_a_linear_model(rng) -> None:
    weights = torch.as_tensor(rng.normal(size=(3, 7, 3)), dtype=torch.float32)
    model = _Linear(weights)
    inputs = torch.as_tensor(rng.normal(size=(5, 3, 7, 3)), dtype=torch.float32)
    baselines = torch.as_tensor(rng.normal(size=(2, 3, 7, 3)), dtype=torch.float32)
    expected = ((inputs[None] - baselines[:, None]) * weights).mean(0)
    results = {}
    for method in ("integrated_gradients", "feature_ablation"):
        settings = AttributionSettings(method=method, n_steps=4, internal_batch_size=7)
        attributions, deltas = attribute_samples(model, inputs, baselines, settings)
        results[method] = attributions.sum(dim=(1, 3))  # per landmark
        assert torch.all(deltas < 1e-4)
    torch.testing.assert_close(results["integrated_gradients"], expected.sum(dim=(1, 3)))
    torch.testing.assert_close(results["feature_ablation"], expected.sum(dim=(1, 3)))
    for method in ("smoothgrad_ig", "gradient_shap"):
        settings = AttributionSettings(method=method, n_steps=4)
        attributions, deltas = attribute_samples(model, inputs, baselines, settings)
        assert attributions.shape == inputs.shape and deltas.shape == (5,)


def test_aggregations(rng) -> None:
    values = rng.normal(size=(4, 2, 5, 3))
    values[:, :, 0] = np.array([1.0, -1.0, 1.0, -1.0])[:, None, None]  # cancels over samples
    assert landmark_scores(values, "abs_mean")[0] == pytest.approx(0.0)
    assert landmark_scores(values, "mean_abs")[0] == pytest.approx(6.0)
    mask = np.array([True, False, True, False])
    assert landmark_scores(values, "abs_mean", mask)[0] == pytest.approx(6.0)
    assert landmark_scores(values, "signed_mean").shape == (5,)
    with pytest.raises(ConfigError):
        AttributionSettings(aggregate="median")


def test_baselines(rng) -> None:
    points = np.concatenate([rng.normal(size=(20, 3)), rng.normal(size=(20, 3)) + 10])
    medoids = k_medoids(points, 2, seed=0)
    assert {int(m >= 20) for m in medoids} == {0, 1}
    centroids = k_means(points, 2, seed=0)
    assert sorted(np.round(centroids.mean(axis=1) / 10).tolist()) == [0.0, 1.0]
    assert len(k_means(np.zeros((6, 3)), 3)) == 1  # no distinct points, one centroid

    inputs = rng.normal(size=(10, 2, 4, 3)).astype(np.float32)
    inputs[:, 0] = 0.0  # displacement features: the first frame is the neutral face
    labels = np.array([1] * 3 + [0] * 7)
    chosen, indices = choose_baselines(inputs, labels, kind="negative_medoids", k=3)
    assert chosen.shape == (3, 2, 4, 3) and set(indices.tolist()) <= set(range(3, 10))
    np.testing.assert_array_equal(chosen, inputs[indices])
    centres, indices = choose_baselines(inputs, labels, kind="negative_centroids", k=3)
    assert len(centres) == 3 and np.all(indices == -1)
    assert np.allclose(centres.mean(axis=0), inputs[3:].mean(axis=0), atol=1.5)
    neutral, _ = choose_baselines(inputs, labels, kind="neutral", k=3)
    assert neutral.shape == (1, 2, 4, 3) and not neutral.any()  # one still, zero face
    moved = inputs + 1.0
    still, _ = choose_baselines(moved, labels, kind="neutral", k=3)
    assert still.shape == (1, 2, 4, 3) and np.allclose(still, 1.0)
    neutral_mask = np.zeros(10, dtype=bool)
    neutral_mask[[4, 5]] = True
    _, indices = choose_baselines(inputs, labels, kind="neutral", neutral_mask=neutral_mask)
    assert sorted(indices.tolist()) == [4, 5]
    kept, _ = choose_baselines(inputs, labels, kind="mean", landmarks=np.array([1, 3]))
    np.testing.assert_allclose(kept[0], inputs[:, :, [1, 3]].mean(axis=0), rtol=1e-5)
    zero, indices = choose_baselines(inputs, labels, kind="zero")
    assert zero.sum() == 0 and indices.tolist() == [-1]
    twins = np.repeat(inputs[3:4], 10, axis=0)
    assert len(choose_baselines(twins, labels, kind="negative_medoids", k=3)[0]) == 1
    with pytest.raises(DataError):
        choose_baselines(inputs, np.ones(10), kind="negative_centroids")


def test_baseline_choice_is_bounded(rng, monkeypatch) -> None:
    monkeypatch.setattr(attribution, "MAX_BASELINE_CANDIDATES", 8)
    inputs = rng.normal(size=(50, 2, 3, 3)).astype(np.float32)
    labels = np.zeros(50, dtype=np.int64)
    _, indices = choose_baselines(inputs, labels, kind="negative_medoids", k=3, seed=4)
    again = choose_baselines(inputs, labels, kind="negative_medoids", k=3, seed=4)[1]
    np.testing.assert_array_equal(indices, again)


# -- the store -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory, planted_store, planted) -> tuple[Path, dict, AttributionSettings]:
    """A trained iteration on the shared planted store; happiness keeps only 200 landmarks."""
    out = tmp_path_factory.mktemp("attribution")
    emotions = sorted(set(planted.emotions.tolist()))
    all_ids = list(range(planted.features.shape[2]))
    sets = {emotion: all_ids for emotion in emotions}
    sets["happiness"] = sorted(set(range(200)) | set(planted.planted["happiness"]))
    write_json(out / "landmarks.json", {"emotions": sets})
    train_iteration(
        planted_store,
        out / "landmarks.json",
        out,
        network={"width": 128, "ridge": 10.0},
        n_folds=3,
        device="cpu",
    )
    settings = AttributionSettings(n_steps=8, n_baselines=3, batch_size=16)
    attribute_models(  # one store of every emotion
        planted_store,
        out / "landmarks.json",
        {emotion: ResultsLayout(out).model(0, emotion) for emotion in emotions},
        out / "attributions.zarr",
        settings=settings,
        device="cpu",
    )
    return out / "attributions.zarr", sets, settings


def test_store_round_trips_through_plain_zarr(store, planted) -> None:
    path, sets, settings = store
    root = zarr.open(str(path), mode="r")
    assert isinstance(root, zarr.Group)
    # attributes that are not strings or numbers are JSON strings (netCDF holds them; issue 24)
    assert set(root.attrs["emoflow_json_attributes"].split()) >= {"emotions", "dims", "settings"}
    emotions = list(json.loads(root.attrs["emotions"]))
    n_samples, n_frames, n_landmarks, _ = planted.features.shape
    dims = json.loads(root.attrs["dims"])
    assert dims["attributions"] == list(ATTRIBUTION_DIMS)
    sizes: dict[str, int] = {}
    for name, names in dims.items():
        array = root[name]
        assert list(array.metadata.dimension_names) == names == json.loads(array.attrs["dims"])
        for dim, size in zip(names, array.shape, strict=True):
            assert sizes.setdefault(dim, size) == size, (name, dim)
    assert sizes == {
        "emotion": 3,
        "sample": n_samples,
        "frame": n_frames,
        "landmark": n_landmarks,
        "coord": 3,
        "baseline": 3,
    }
    # xarray-style coordinates: an array named after each labelled dimension
    assert [str(v) for v in root["emotion"][...]] == emotions
    assert [str(v) for v in root["sample"][...]] == planted.video_ids.tolist()
    assert [str(v) for v in root["coord"][...]] == ["x", "y", "z"]
    np.testing.assert_array_equal(root["landmark"][...], np.arange(n_landmarks))
    assert root["attributions"].chunks == (1, 16, n_frames, 64, 3)
    assert json.loads(root.attrs["settings"]) == asdict(settings)
    assert root.attrs["scheme"] == "mediapipe_478"  # the feature store's landmark scheme

    values = np.asarray(root["attributions"][...])
    used = np.asarray(root["used"][...])
    scores = np.asarray(root["relevance"][...])  # named scores before issue 24
    for e, emotion in enumerate(emotions):
        keep = np.asarray(sets[emotion])
        outside = np.setdiff1d(np.arange(n_landmarks), keep)
        assert np.isnan(values[e][:, :, outside]).all()
        assert np.isfinite(values[e][:, :, keep]).all()
        np.testing.assert_array_equal(used[e], planted.emotions == emotion)
        expected = landmark_scores(values[e][:, :, keep], settings.aggregate, used[e])
        np.testing.assert_allclose(scores[e, keep], expected, rtol=1e-4, atol=1e-6)
        assert np.isnan(scores[e, outside]).all()
    assert np.all(np.asarray(root["deltas"][...]) >= 0)
    # centroids are not samples (an index of -1 in the stores written before)
    assert np.all(np.asarray(root["baseline_video_id"][...]) == "")
    references = np.asarray(root["baseline_values"][...])
    for e, emotion in enumerate(emotions):
        keep = np.asarray(sets[emotion])
        labels = (planted.emotions == emotion).astype(np.int64)
        again, _ = choose_baselines(planted.features, labels, k=3, landmarks=keep)
        np.testing.assert_allclose(references[e][: len(again)][:, :, keep], again, rtol=1e-6)

    one, one_dims = read_attributions(path, emotion="sadness", landmarks=[5, 70, 300])
    assert one_dims == ATTRIBUTION_DIMS[1:]
    np.testing.assert_array_equal(one, values[emotions.index("sadness")][:, :, [5, 70, 300]])
    loaded_emotions, loaded = load_scores(path)
    assert loaded_emotions == emotions
    np.testing.assert_array_equal(loaded, scores.astype(np.float64))


def test_store_scores_find_the_planted_landmarks(store, planted) -> None:
    emotions, scores = load_scores(store[0])
    for e, emotion in enumerate(emotions):
        truth = planted.planted[emotion]
        precision = precision_at_k(ranking_from_scores(scores[e]), truth)
        assert precision >= 0.5 > 10 * len(truth) / scores.shape[1], (emotion, precision)


def test_aggregation_runs_on_a_dask_distributed_cluster(store) -> None:
    from dask.distributed import LocalCluster

    from emoflow.attribution.run import landmark_scores_from_store

    local = landmark_scores_from_store(store[0], "abs_mean")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster:
        remote = landmark_scores_from_store(
            store[0], "abs_mean", scheduler=cluster.scheduler_address
        )
    np.testing.assert_allclose(remote, local, equal_nan=True)
    with pytest.raises(ConfigError, match="dask_scheduler"):
        landmark_scores_from_store(
            store[0], "abs_mean", scheduler="tcp://127.0.0.1:1", connect_timeout_s=1
        )


# -- bounded memory --------------------------------------------------------------------------
MEMORY_PROBE = """
import json, re, sys
from pathlib import Path
import numpy as np
from emoflow.attribution import baselines as attribution
from emoflow.attribution import AttributionSettings, dataset_relevance
from emoflow.models import NetworkSettings, RandomizedDeepNetwork

# baselines are chosen among at most MAX_BASELINE_CANDIDATES samples (1000 by default); a small
# cap makes every run below reach it, so what is left to grow is the attribution itself
attribution.MAX_BASELINE_CANDIDATES = 32
rng = np.random.default_rng(0)
features = rng.normal(size=(256, 4, 478, 3)).astype(np.float32)
labels = (np.arange(256) % 2).astype(np.int64)
model = RandomizedDeepNetwork(NetworkSettings(width=128), device="cpu").fit(features, labels)

def status(field):
    return int(re.search(field + r":\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1))

def growth(batch_size, n):
    settings = AttributionSettings(n_steps=8, n_baselines=2, batch_size=batch_size,
                                   internal_batch_size=max(256, 16 * batch_size), samples="all")
    run = lambda: dataset_relevance(model, features[:n], labels[:n], settings)
    run()  # the first call sets up lazily allocated state: measure the steady state
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current size
    before = status("VmRSS")
    run()
    return status("VmHWM") - before

json.dump({"batched": [growth(16, 64), growth(16, 256)],
           "unbatched": [growth(256, 64), growth(256, 256)],
           "held": features.nbytes // 1024}, sys.stdout)
"""


@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc peak-memory reset"
)
def test_peak_memory_does_not_grow_with_the_number_of_samples() -> None:
    # a fresh process with a fixed malloc policy (no arena or mmap-threshold drift), so the
    # peak resident set (kiB) is what the attribution holds, not what the allocator kept
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_ARENA_MAX": "1"}
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    small, large = result["batched"]
    held = result["held"]  # what keeping the attributions of all 256 samples would add
    assert large - small < held / 2, result
    # the same measure sees the growth when the whole data set is one batch
    small, large = result["unbatched"]
    assert large - small > 4 * held, result


# -- faithfulness helpers --------------------------------------------------------------------
def test_faithfulness_helpers(rng) -> None:
    assert area_under_curve([0.0, 0.5, 1.0], [1.0, 1.0, 1.0]) == pytest.approx(1.0)
    assert area_under_curve([0.0, 0.2], [1.0, 0.0]) == pytest.approx(0.5)
    with pytest.raises(DataError):
        area_under_curve([0.0, 0.0], [1.0, 1.0])
    ranking = ranking_from_scores(np.array([0.1, np.nan, 3.0, 2.0]))
    assert ranking.tolist() == [2, 3, 0, 1]
    assert precision_at_k(ranking, [2, 0]) == pytest.approx(0.5)
    assert precision_at_k(ranking, [2, 0], k=3) == pytest.approx(2 / 3)

    weights = np.zeros((2, 10, 3), dtype=np.float32)
    weights[:, :3] = 1.0  # only landmarks 0-2 matter
    labels = np.arange(40) % 2
    inputs = rng.normal(size=(40, 2, 10, 3)).astype(np.float32)
    inputs[:, :, :3] += (2.0 * labels - 1.0)[:, None, None, None]

    def linear(x):
        return (x * weights).sum(axis=(1, 2, 3))

    fractions = (0.0, 0.1, 0.2, 0.3, 0.5)
    good = deletion_curve(linear, inputs, labels, np.arange(10), fractions=fractions)
    bad = deletion_curve(linear, inputs, labels, np.arange(10)[::-1], fractions=fractions)
    assert good["values"][0] == pytest.approx(1.0) and good["values"][-1] == pytest.approx(0.5)
    assert good["area"] < bad["area"] == pytest.approx(1.0)
    gap = deletion_curve(linear, inputs, labels, np.arange(10), metric="score_gap", normalise=True)
    assert gap["values"][0] == pytest.approx(1.0)
    with pytest.raises(ConfigError):
        deletion_curve(linear, inputs, labels, np.arange(10), fractions=(0.5, 0.2))

    subjects = np.repeat(np.arange(8), 5)
    roar = remove_and_retrain(
        inputs,
        labels,
        subjects,
        np.arange(10),
        make_model=lambda: RandomizedDeepNetwork(NetworkSettings(width=16), device="cpu"),
        fractions=(0.0, 0.3, 1.0),
        n_folds=2,
    )
    assert roar["n_kept"] == [10, 7, 1]
    assert roar["values"][0] > 0.8 > roar["values"][1]


def test_store_opens_in_xarray_without_a_warning_with_every_axis_labelled(store, planted) -> None:
    import xarray as xr

    path, _, settings = store
    (path / ".snakemake_timestamp").touch()  # what Snakemake leaves in a directory() output
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dataset = xr.open_zarr(path)
    assert set(dataset.dims) == {"emotion", "sample", "frame", "landmark", "coord", "baseline"}
    assert set(dataset.dims) <= set(dataset.coords)
    assert dataset["sample"].values.tolist() == planted.video_ids.tolist()
    assert dataset["coord"].values.tolist() == ["x", "y", "z"]
    assert dataset["baseline"].values.tolist() == list(range(settings.n_baselines))
    assert dataset["attributions"].dims == ATTRIBUTION_DIMS


def test_a_flipped_byte_in_an_attribution_chunk_is_named(store, tmp_path) -> None:
    import shutil

    path, _, _ = store
    damaged = tmp_path / "attributions.zarr"
    shutil.copytree(path, damaged)
    chunk = max((damaged / "attributions" / "c").rglob("*"), key=lambda p: p.stat().st_size)
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x01
    chunk.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"attributions\.zarr: damaged.*checksum.*prune_chain"):
        read_attributions(damaged)
    assert np.isfinite(read_attributions(path)[0]).any()  # the intact store still reads

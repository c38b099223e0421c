"""Reproducibility: same inputs and settings give byte-identical landmark tables and identical
model scores on CPU across runs; a run's provenance (config, seeds, versions) is recorded."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from emoflow.config import load_config
from emoflow.landmarks import extract_videos
from emoflow.provenance import find_seeds, write_provenance

ROOT = Path(__file__).resolve().parents[1]

SCORING_SCRIPT = """
import hashlib, sys, numpy as np, torch
torch.set_num_threads(1)
from emoflow.synthetic import planted_features
from emoflow.models import NetworkSettings, RandomizedDeepNetwork, save_model, load_model
data = planted_features(n_subjects=4, repetitions=2, n_frames=6, seed=3)
labels = (data.emotions == "happiness").astype(int)
train, test = data.subjects != "s03", data.subjects == "s03"
digest = hashlib.sha256()
for ensemble in ("none", "layers", "seeds"):
    settings = NetworkSettings(width=32, n_layers=2, ensemble=ensemble, n_estimators=2, seed=7)
    model = RandomizedDeepNetwork(settings, device="cpu").fit(data.features[train], labels[train])
    scores = model.decision_function(data.features[test])
    save_model(model, sys.argv[1], metadata={"emotion": "happiness"})
    reloaded = load_model(sys.argv[1], device="cpu")[0].decision_function(data.features[test])
    assert np.array_equal(scores, reloaded), "scores change through a model file"
    digest.update(scores.tobytes())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + tensor.numpy().tobytes())
print(digest.hexdigest())
"""


@pytest.mark.slow
def test_two_extractions_give_identical_bytes(tmp_path: Path, demo_dir: Path) -> None:
    video = demo_dir / "videos" / "s02_surprise_r1.mp4"
    first, second = tmp_path / "a" / "v.parquet", tmp_path / "b" / "v.parquet"
    extract_videos([("v", str(video))], first)
    extract_videos([("v", str(video))], second)
    assert first.read_bytes() == second.read_bytes()
    # nothing time- or host-dependent is recorded: only versions, settings and video facts
    metadata = pq.read_schema(first).metadata
    text = b" ".join(key + b"=" + value for key, value in metadata.items()).decode()
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}", text)
    assert pq.read_metadata(first).created_by.startswith("parquet-cpp-arrow version")


def test_model_scores_are_identical_across_runs(tmp_path: Path) -> None:
    """Two processes (different hash seeds) fit and score the same networks bit for bit."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SCORING_SCRIPT, str(tmp_path / f"model_{hash_seed}.pt")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"},
        )
        for hash_seed in ("1", "2")
    ]
    digests = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err[-2000:]
        digests.append(out.strip())
    assert digests[0] == digests[1] and len(digests[0]) == 64


def test_provenance_records_config_seeds_and_versions(tmp_path: Path) -> None:
    config = load_config(ROOT / "config" / "config.yaml")
    path = tmp_path / "results" / "provenance.json"
    record = write_provenance(path, config)
    assert json.loads(path.read_text()) == record
    for package in ("emoflow", "torch", "mediapipe", "numpy", "polars", "zarr", "captum"):
        assert package in record["packages"]
    assert record["packages"]["torch"] == importlib.metadata.version("torch")
    assert record["packages"]["snakemake"] == importlib.metadata.version("snakemake")
    assert record["platform"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert record["config"] == json.loads(json.dumps(config))
    assert record["seeds"]["train.seed"] == config["train"]["seed"]
    assert record["seeds"]["train.model.seed"] == config["train"]["model"]["seed"]
    assert record["seeds"]["attribution.seed"] == config["attribution"]["seed"]
    first = path.read_bytes()
    write_provenance(path, config)
    assert path.read_bytes() == first  # no time stamp: an unchanged run rewrites the same bytes


def test_provenance_records_the_exact_environment(tmp_path: Path) -> None:
    """Every installed distribution with its version, as pip freeze lists them."""
    record = write_provenance(tmp_path / "provenance.json", {"dataset": {"adapter": "demo"}})
    environment = record["environment"]
    names = [line.split("==")[0].lower().replace("_", "-") for line in environment]
    assert names == sorted(names)
    pinned = dict(line.split("==", 1) for line in environment)
    assert len(pinned) == len(environment)  # each distribution once
    for name in ("torch", "numpy", "scikit-learn", "snakemake", "pytest", "emoflow"):
        assert pinned[name] == importlib.metadata.version(name)
    installed = {d.metadata["Name"].lower() for d in importlib.metadata.distributions()}
    assert {name.lower() for name in pinned} == installed
    assert record["packages"]["scikit-learn"] == pinned["scikit-learn"]


def test_find_seeds() -> None:
    config = {"a": {"seed": 1, "b": [{"seed": 2}]}, "split_seed": 3, "c": {"d": 4}}
    assert find_seeds(config) == {"a.seed": 1, "a.b[0].seed": 2, "split_seed": 3}

"""The whole Snakemake workflow on a tiny demo, and its rerun boundaries read from dry runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

TINY_CONFIG = {
    "dataset": {
        "adapter": "demo",
        "source": "data/demo",
        "emotions": ["happiness", "surprise", "anger"],
    },
    "demo": {"n_subjects": 4, "repetitions": 1, "n_frames": 12, "size": 192, "seed": 3},
    "landmarks": {"n_shards": 2},
    "features": {"n_frames": 6},
    "train": {"n_folds": 2, "device": "cpu", "model": {"width": 32, "n_layers": 1}},
    "attribution": {"n_steps": 8, "n_baselines": 2},
    "prune": {"iterations": 1, "fraction": 0.5, "min_landmarks": 8},
    "report": {"top_k": 20},
}


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [SNAKEMAKE, "--cores", "2", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def _planned_jobs(output: str) -> dict[str, int]:
    """Rule → job count from the 'Job stats' table of a dry run."""
    planned: dict[str, int] = {}
    in_table = False
    for line in output.splitlines():
        if line.startswith("job ") and "count" in line:
            in_table = True
            continue
        if in_table:
            match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
            if match and match.group(1) != "total":
                planned[match.group(1)] = int(match.group(2))
            elif line.strip().startswith("total"):
                break
    return planned


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("workflow")
    shutil.copy(REPO / "Snakefile", workdir / "Snakefile")
    shutil.copytree(REPO / "workflow", workdir / "workflow")
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(TINY_CONFIG))
    result = _snakemake(workdir)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


@pytest.mark.slow
def test_workflow_produces_every_stage(finished_run: Path) -> None:
    results = finished_run / "results"
    assert (results / "manifest.parquet").exists()
    assert len(list((results / "landmarks").glob("shard_*.parquet"))) == 2
    for iteration in (0, 1):
        assert len(list((results / f"iter_{iteration}" / "models").glob("*.pt"))) == 3
        assert (results / f"iter_{iteration}" / "attributions.zarr").is_dir()
    summary = pl.read_parquet(results / "summary.parquet")
    assert summary.height == 6
    first = summary.filter(pl.col("iteration") == 0)["n_landmarks"].to_list()
    last = summary.filter(pl.col("iteration") == 1)["n_landmarks"].to_list()
    assert all(after < before for before, after in zip(first, last, strict=True))
    numbers = json.loads((results / "report" / "report.json").read_text())
    assert numbers
    for name in ("accuracy_vs_landmarks", "relevance_on_face", "selected_landmarks"):
        assert (results / "report" / f"{name}.png").stat().st_size > 10_000
    for rule in ("extract_landmarks", "train_models", "attribute_models"):
        assert any((finished_run / "logs" / rule).iterdir())
        assert any((finished_run / "benchmarks" / rule).iterdir())


@pytest.mark.slow
def test_second_run_has_nothing_to_do(finished_run: Path) -> None:
    result = _snakemake(finished_run, "-n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.slow
def test_changing_a_prune_setting_reruns_only_pruning_onward(finished_run: Path) -> None:
    result = _snakemake(finished_run, "-n", "--config", "prune={fraction: 0.4}")
    assert result.returncode == 0, result.stderr[-2000:]
    planned = _planned_jobs(result.stdout + result.stderr)
    assert planned.get("prune_landmarks") == 1
    assert set(planned) <= {
        "prune_landmarks",
        "train_models",
        "attribute_models",
        "summarise_iterations",
        "make_report",
        "write_provenance",
        "all",
    }, planned
    assert planned.get("train_models") == 1  # iteration 1 only


@pytest.mark.slow
def test_changing_a_feature_setting_never_reruns_landmarks(finished_run: Path) -> None:
    result = _snakemake(finished_run, "-n", "--config", "features={n_frames: 5}")
    assert result.returncode == 0, result.stderr[-2000:]
    planned = _planned_jobs(result.stdout + result.stderr)
    assert planned.get("build_features") == 1
    assert not {"make_demo", "build_manifest", "extract_landmarks"} & set(planned), planned


@pytest.mark.slow
def test_paper_preset_plans_on_a_ckplus_folder(tmp_path: Path) -> None:
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    shutil.copytree(REPO / "config", tmp_path / "config")
    ckplus = tmp_path / "CK+"
    (ckplus / "cohn-kanade-images" / "S005" / "001").mkdir(parents=True)
    (ckplus / "Emotion" / "S005" / "001").mkdir(parents=True)
    result = _snakemake(
        tmp_path,
        "-n",
        "--configfile",
        "config/paper.yaml",
        "--config",
        f"dataset={{source: {ckplus}}}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    planned = _planned_jobs(result.stdout + result.stderr)
    assert planned["build_manifest"] == 1
    assert planned["train_models"] == 9  # iterations 0 … 8
    assert planned["prune_landmarks"] == 8
    assert "make_demo" not in planned

"""Shared fixtures: small synthetic data with a known answer, made by emoflow itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emoflow.synthetic import PlantedData, planted_features


@pytest.fixture(scope="session")
def planted() -> PlantedData:
    return planted_features(n_subjects=6, repetitions=3, n_frames=6, seed=1)


@pytest.fixture(scope="session")
def planted_store(tmp_path_factory: pytest.TempPathFactory, planted: PlantedData) -> Path:
    return planted.write_store(tmp_path_factory.mktemp("planted") / "features.zarr")


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo data set made by emoflow: subjects s01–s04, six emotions, one video each."""
    from emoflow.demo import DemoSpec, make_demo

    out = tmp_path_factory.mktemp("demo")
    make_demo(out, DemoSpec(n_subjects=4, repetitions=1))
    return out


@pytest.fixture(scope="session")
def demo_video(demo_dir: Path) -> Path:
    """One demo video with a face (subject s01, happiness)."""
    return demo_dir / "videos" / "s01_happiness_r1.mp4"


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo, as `make demo` runs it: config/config.yaml untouched, 2 cores (the
    README's results and the report a reader opens in a browser)."""
    repo = Path(__file__).resolve().parents[1]
    workdir = tmp_path_factory.mktemp("default_demo")
    shutil.copy(repo / "Snakefile", workdir / "Snakefile")
    shutil.copytree(repo / "workflow", workdir / "workflow")
    shutil.copytree(repo / "config", workdir / "config")
    done = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "--cores", "2"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return workdir

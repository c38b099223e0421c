"""Shared fixtures: small synthetic data with a known answer, made by emoflow itself."""

from __future__ import annotations

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

"""The built wheel works on its own: it validates a configuration and draws the face mesh.

The schema (``emoflow/config/config.schema.yaml``) and the mesh (``emoflow/facemesh/
face_mesh.json``) are package data; a wheel that left them out would import, then fail on its
first ``load_config`` or drawing. The wheel is built from a copy of the package, installed into
a folder of its own, and used by a fresh interpreter that cannot see this source tree nor the
editable install of the virtual environment (``-S``: no ``.pth`` files are processed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DATA = ("emoflow/config/config.schema.yaml", "emoflow/facemesh/face_mesh.json")

# Run by the fresh interpreter: argv = site folder, repository, config file, output PNG.
_USE_WHEEL = """
import sys
from pathlib import Path

site, repo, config, png = (Path(arg) for arg in sys.argv[1:])
source = repo / "emoflow"  # the checkout's package (its virtual environment may sit beside it)

import numpy as np

import emoflow
from emoflow.config import SCHEMA_PATH, load_config
from emoflow.facemesh import reference_face
from emoflow.report import plot_relevance_on_face

assert Path(emoflow.__file__).resolve().is_relative_to(site), emoflow.__file__
assert SCHEMA_PATH.resolve().is_relative_to(site), SCHEMA_PATH

filled = load_config(config)
assert {"dataset", "train", "prune", "report"} <= set(filled), sorted(filled)

n_landmarks = len(reference_face())
scores = np.linspace(0.0, 1.0, n_landmarks)[None, :]
plot_relevance_on_face(["happiness"], scores, png, top_k=10)

from_repo = [
    name
    for name, module in list(sys.modules.items())
    if Path(getattr(module, "__file__", None) or "/").resolve().is_relative_to(source)
]
assert not from_repo, from_repo
print("landmarks", n_landmarks)
"""


def _copy_project(destination: Path) -> Path:
    """What the wheel is built from: pyproject, README and the package (no caches)."""
    destination.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, destination / name)
    for licence in REPO.glob("LICEN[CS]E*"):
        shutil.copy2(licence, destination / licence.name)
    shutil.copytree(
        REPO / "emoflow",
        destination / "emoflow",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return destination


def _pip(*args: str | Path, cwd: Path) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    done = subprocess.run(
        [*command, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_installed_wheel_validates_config_and_draws_face_mesh(tmp_path: Path) -> None:
    source = _copy_project(tmp_path / "source")
    wheels = tmp_path / "wheels"
    _pip(
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        source,
        "-w",
        wheels,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("emoflow-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert set(PACKAGE_DATA) <= names, sorted(n for n in names if not n.endswith(".py"))

    site = tmp_path / "site"
    _pip("install", "--no-deps", "--no-index", "--target", site, wheel, cwd=tmp_path)
    shutil.rmtree(source)  # nothing of the copy is left to find

    png = tmp_path / "face_mesh.png"
    dependencies = sysconfig.get_paths()["purelib"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), dependencies])
    done = subprocess.run(
        [sys.executable, "-S", "-c", _USE_WHEEL, site, REPO, REPO / "config" / "config.yaml", png],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "landmarks 478" in done.stdout

    from PIL import Image

    assert png.stat().st_size > 10_000
    pixels = np.asarray(Image.open(png).convert("L"))
    drawn = (pixels < 250).mean()
    assert 0.02 < drawn < 0.9, drawn  # the mesh and the points, on a mostly white figure

"""The built wheel works on its own, and the package's metadata says what the project ships.

The schema (``emoflow/config/config.schema.yaml``) and the mesh (``emoflow/facemesh/
face_mesh.json``) are package data; a wheel that left them out would import, then fail on its
first ``load_config`` or drawing. The wheel is built once from a copy of the package (offline,
with the virtual environment's setuptools), then

* installed into a folder of its own and used by a fresh interpreter that cannot see this
  source tree nor the editable install of the virtual environment (``-S``: no ``.pth`` files
  are processed);
* installed by pip into a fresh virtual environment whose only other packages are this
  environment's, MediaPipe left out, where its ``emoflow`` command runs what needs no
  MediaPipe and refuses the rest with the install command on one line (exit status 2).

The torch pin lives in the project's set-up (``requirements/constraints.txt``), the package
declares a range; ``LICENSE`` and ``CITATION.cff`` agree with ``pyproject.toml``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DATA = ("emoflow/config/config.schema.yaml", "emoflow/facemesh/face_mesh.json")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
MEDIAPIPE_INSTALL = (
    "pip install --no-deps mediapipe==0.10.21 absl-py 'protobuf>=4.25,<5' attrs "
    "'flatbuffers>=2.0' opencv-python-headless"
)
"""README's installation notes, as the command line must print them."""

# Run by the fresh interpreter: argv = site folder, repository, config file, output PNG.
_USE_WHEEL = """
import sys
from pathlib import Path

site, repo, config, png = (Path(arg) for arg in sys.argv[1:])
source = repo / "emoflow"  # the checkout's package (its virtual environment may sit beside it)

import numpy as np

import emoflow
from emoflow.config import SCHEMA_PATH, load_config
from emoflow.facemesh.mesh import reference_face
from emoflow.report.faces import plot_relevance_on_face

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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the project (no build isolation: offline)."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed, so the wheel cannot be built offline")
    root = tmp_path_factory.mktemp("wheel")
    source = _copy_project(root / "source")
    wheels = root / "wheels"
    _pip(
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        source,
        "-w",
        wheels,
        cwd=root,
    )
    shutil.rmtree(source)  # nothing of the copy is left to find
    (built,) = wheels.glob("emoflow-*.whl")
    return built


def test_wheel_holds_package_data_licence_and_a_torch_range(wheel: Path) -> None:
    """Everything read at run time is inside; the metadata declares torch as a range and
    neither MediaPipe (installed apart, --no-deps) nor anything of the repository's top level."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = (name for name in names if name.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
    assert set(PACKAGE_DATA) <= names, sorted(n for n in names if not n.endswith(".py"))
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), sorted(names)
    assert {name.split("/")[0] for name in names if "/" in name} == {
        "emoflow",
        wheel.name.split("-py3")[0] + ".dist-info",
    }, sorted(names)
    requires = re.findall(r"^Requires-Dist: (.+)$", text, flags=re.MULTILINE)
    (torch,) = (spec for spec in requires if re.match(r"torch\b", spec))
    assert "==" not in torch, torch
    assert not [spec for spec in requires if spec.startswith("mediapipe")], requires
    assert re.search(r"^License-Expression: MIT$", text, flags=re.MULTILINE), text[:600]


@pytest.mark.slow
def test_installed_wheel_validates_config_and_draws_face_mesh(tmp_path: Path, wheel: Path) -> None:
    site = tmp_path / "site"
    _pip("install", "--no-deps", "--no-index", "--target", site, wheel, cwd=tmp_path)

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


# -- the wheel in a fresh virtual environment, without MediaPipe --------------------------------
_HIDDEN = re.compile(r"^(mediapipe|emoflow|__editable__)|\.pth$", re.IGNORECASE)
"""Entries of this environment's site-packages the fresh environment must not see: MediaPipe
(the case under test), this checkout's editable emoflow, and .pth files."""


def _fresh_venv(root: Path) -> Path:
    """A virtual environment that sees this one's packages but MediaPipe's and emoflow's
    (through one folder of links, named in a .pth file). Returns its interpreter."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    view = root / "dependencies"
    view.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not _HIDDEN.search(entry.name):
            (view / entry.name).symlink_to(entry)
    (Path(site) / "emoflow_test_dependencies.pth").write_text(f"{view}\n")
    return python


def _clean_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.pop("VIRTUAL_ENV", None)
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _landmark_csv(path: Path) -> Path:
    """A short wide landmark CSV (emoflow's export columns, MediaPipe's 478 points)."""
    from emoflow.facemesh.mesh import reference_face

    face = reference_face()
    header = ["video_id", "frame", "timestamp_s", "face_found", "units"]
    header += [f"{axis}_{i}" for axis in "xyz" for i in range(len(face))]
    rows = []
    for frame in range(4):
        points = face * 0.3 + 0.5 + frame * 0.001
        values = [f"{v:.6f}" for v in np.concatenate([points[:, 0], points[:, 1], points[:, 2]])]
        rows.append(",".join(["clip", str(frame), str(frame / 30), "true", "normalised", *values]))
    path.write_text(",".join(header) + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_and_asks_for_mediapipe_on_one_line(
    tmp_path: Path, wheel: Path
) -> None:
    python = _fresh_venv(tmp_path)
    env = _clean_env()
    # pip resolves the declared dependencies against what the environment sees: every one
    # must already be there (--no-index), MediaPipe must not be asked for
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-index", wheel],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if "no such option: --python" in done.stderr:
        pytest.skip("this pip cannot install into another environment (--python)")
    assert done.returncode == 0, done.stdout + done.stderr
    emoflow = python.parent / "emoflow"
    work = tmp_path / "work"
    work.mkdir()

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [emoflow, *map(str, args)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    where = subprocess.run(
        [python, "-c", _WHERE],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.returncode == 0, where.stderr
    package, schema, mediapipe = where.stdout.split()
    assert Path(package).is_relative_to(python.parent.parent), package
    assert Path(schema).is_file() and Path(schema).is_relative_to(python.parent.parent)
    assert mediapipe == "None"

    shown = run("--help")
    assert shown.returncode == 0, shown.stderr
    for command in ("demo", "landmarks", "predict", "explain", "validate-config"):
        assert command in shown.stdout
    assert run("--version").stdout.strip() == f"emoflow {PYPROJECT['version']}"

    # what needs no MediaPipe: configurations, landmark tables
    checked = run("validate-config", REPO / "config" / "config.yaml")
    assert checked.returncode == 0 and "valid" in checked.stdout, checked.stderr
    (work / "bad.yaml").write_text("prune: {fraction: 2}\n")
    refused = run("validate-config", "bad.yaml")
    assert refused.returncode == 2 and "prune.fraction" in refused.stderr, refused.stderr
    csv = _landmark_csv(work / "clip.csv")
    imported = run("landmarks", csv, "-o", "clip.parquet")
    assert imported.returncode == 0, imported.stderr
    exported = run("landmarks", "clip.parquet", "-o", "back.csv")
    assert exported.returncode == 0, exported.stderr
    assert (work / "back.csv").read_text().count("\n") == 5  # header and the four frames

    # what runs Face Mesh: exit 2, the install command on one line, nothing written
    (work / "clip.mp4").write_bytes(b"not decoded: MediaPipe is missing first")
    before = sorted(work.iterdir())
    for args in (
        ("demo", "demo_out"),
        ("landmarks", "clip.mp4", "-o", "lm.parquet"),
        ("predict", "clip.mp4"),
        ("explain", "clip.mp4"),
    ):
        failed = run(*args)
        assert failed.returncode == 2, (args, failed.stdout, failed.stderr)
        assert failed.stdout == "", (args, failed.stdout)
        lines = failed.stderr.strip().splitlines()
        assert len(lines) == 1, (args, failed.stderr)
        assert lines[0].startswith("emoflow: error: "), lines
        assert MEDIAPIPE_INSTALL in lines[0], lines
    assert sorted(work.iterdir()) == before


_WHERE = """
import importlib.util

import emoflow
from emoflow.config import SCHEMA_PATH

print(emoflow.__file__, SCHEMA_PATH, importlib.util.find_spec("mediapipe"))
"""


# -- what the project pins, and what the package declares ----------------------------------------
def test_torch_is_a_range_in_the_package_and_pinned_by_the_set_up() -> None:
    """Users bring their own torch build (CUDA or CPU); ``make setup`` installs exactly the
    tested 2.13.0 through the constraints file, on every pip call that can install torch."""
    from packaging.requirements import Requirement

    (torch,) = (Requirement(spec) for spec in PYPROJECT["dependencies"] if spec.startswith("torch"))
    assert not [s for s in torch.specifier if s.operator in ("==", "===")], torch
    constraints = REPO / "requirements" / "constraints.txt"
    pins = [
        Requirement(line)
        for line in constraints.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert [str(pin) for pin in pins if pin.name == "torch"] == ["torch==2.13.0"]
    assert torch.specifier.contains("2.13.0"), torch  # the pin satisfies the package
    base = (REPO / "requirements" / "base.txt").read_text().splitlines()
    assert "-c constraints.txt" in base  # installing base.txt alone is constrained too
    torch_lines = [line for line in base if re.match(r"torch\b", line)]
    assert torch_lines == ["torch"], torch_lines  # the version is the constraint's alone
    setup = (REPO / "scripts" / "setup.sh").read_text()
    installs = [
        line for line in setup.splitlines() if re.search(r"pip install(?! -q --upgrade pip)", line)
    ]
    assert installs and all('"${CONSTRAINTS[@]}"' in line for line in installs), installs
    assert "CONSTRAINTS=(-c requirements/constraints.txt)" in setup
    installed = importlib.metadata.version("torch")
    assert installed.split("+")[0] == "2.13.0", installed  # what make setup installed here


def test_the_cluster_executors_are_an_optional_extra() -> None:
    """A run on one machine installs (and so loads) no cluster executor; ``make cluster-setup``
    adds both profiles' executors, constrained like every install, and ``make test`` runs it."""
    from packaging.requirements import Requirement

    def names(path: Path) -> set[str]:
        lines = path.read_text().splitlines()
        return {
            Requirement(line.split("#")[0]).name
            for line in lines
            if line.split("#")[0].strip() and not line.lstrip().startswith("-")
        }

    requirements = REPO / "requirements"
    executors = {"snakemake-executor-plugin-slurm", "snakemake-executor-plugin-cluster-generic"}
    assert not executors & names(requirements / "base.txt")
    assert names(requirements / "cluster.txt") == executors
    assert "-c constraints.txt" in (requirements / "cluster.txt").read_text().splitlines()
    setup = (REPO / "scripts" / "setup.sh").read_text()
    guarded = re.search(r'if \[ "\$CLUSTER" = yes \]; then\n(.*?)\nfi', setup, re.S)
    assert guarded and "-r requirements/cluster.txt" in guarded.group(1), setup
    assert "--cluster) CLUSTER=yes ;;" in setup
    refused = subprocess.run(
        ["bash", str(REPO / "scripts" / "setup.sh"), "--clusters"], capture_output=True, text=True
    )
    assert refused.returncode == 2 and "unknown argument '--clusters'" in refused.stderr
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test: setup cluster-setup$", makefile, re.M), makefile
    assert "bash scripts/setup.sh --cluster" in makefile


def test_license_file_matches_pyproject() -> None:
    licence = (REPO / "LICENSE").read_text()
    assert PYPROJECT["license"] == "MIT"
    assert PYPROJECT["license-files"] == ["LICENSE"]
    assert licence.splitlines()[0] == "MIT License"
    assert re.search(r"^Copyright \(c\) \d{4} the emoflow authors$", licence, flags=re.MULTILINE)
    assert "Permission is hereby granted, free of charge" in licence
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in licence


def test_citation_cff_cites_the_software_and_the_paper() -> None:
    """CITATION.cff is CFF 1.2.0 with its required keys; the version is pyproject's."""
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "version", "license"):
        assert citation.get(key), key
    assert citation["type"] == "software"
    assert str(citation["version"]) == PYPROJECT["version"]
    assert citation["license"] == PYPROJECT["license"]
    assert citation["authors"] == [{"name": "The emoflow authors"}]
    (paper,) = citation["references"]
    assert {"type", "title", "authors"} <= set(paper)
    assert paper["title"] == "An Explainable Fast Deep Neural Network for Emotion Recognition"
    assert [author["family-names"] for author in paper["authors"]] == [
        "Di Luzio",
        "Rosato",
        "Panella",
    ]
    assert paper["year"] == 2024
    identifiers = {item["type"]: item["value"] for item in paper["identifiers"]}
    assert identifiers["doi"] == "10.48550/arXiv.2407.14865"

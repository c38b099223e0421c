"""Jobs that only move JSON or tables pay no start-up for torch, Captum, MediaPipe, matplotlib
or scikit-learn."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "captum", "mediapipe", "matplotlib", "cv2", "dask", "sklearn")
LIGHT_SCRIPTS = (
    "build_manifest",
    "gather_iteration",
    "summarise_iterations",
    "write_provenance",
    "write_run_settings",
)


@pytest.mark.parametrize("script", LIGHT_SCRIPTS)
def test_light_workflow_scripts_import_no_heavy_package(script: str) -> None:
    source = (REPO / "workflow" / "scripts" / f"{script}.py").read_text()
    imports = re.findall(r"^(?:from \S+ import .+|import \S+)$", source, re.MULTILINE)
    assert imports, script
    probe = "\n".join([*imports, "import sys", f"print(sorted(set({HEAVY!r}) & set(sys.modules)))"])
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{script} imports {done.stdout.strip()}"

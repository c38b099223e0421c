"""Bounded inputs (issue 22, point 5): NaN, infinity and sizes no machine can hold are refused
before any job runs, each with the key and (for sizes) the memory a job would need.

Before: ``prune.fraction: .nan`` failed deep in a job, ``ridge_grid: [.inf]`` gave every model
0.500 with exit code 0, ``features.n_frames: 1e9`` took 7.45 GiB per extraction job,
``demo.n_subjects: 1e8`` had ``snakemake -n`` at 19 GB after 120 s, and
``attribution.n_steps: 1e8`` asked numpy for 71.1 PiB.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from emoflow.config import JOB_MEMORY, load_schema, memory_problems, validate_config
from emoflow.config._settings import section_schema
from emoflow.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULTS = yaml.safe_load((REPO / "config" / "config.yaml").read_text())

REFUSED: list[tuple[str, dict[str, Any], str]] = [
    (
        "prune.fraction NaN",
        {"prune": {"fraction": float("nan")}},
        r"prune\.fraction: nan is not a finite",
    ),
    (
        "ridge_grid inf",
        {"train": {"selection": {"ridge_grid": [0.1, float("inf")]}}},
        r"train\.selection\.ridge_grid\[1\]: inf is not a finite",
    ),
    (
        "n_frames 1e9",
        {"features": {"n_frames": 1_000_000_000}},
        r"extract_landmarks: at least .* TB per job .*features\.n_frames = 1000000000",
    ),
    (
        "n_subjects 1e8",
        {"demo": {"n_subjects": 100_000_000}},
        r"planning the run .* GB per job .*demo\.n_subjects = 100000000",
    ),
    (
        "n_steps 1e8",
        {"attribution": {"n_steps": 100_000_000}},
        r"prune_chain: at least .* PB per job .*attribution\.n_steps = 100000000",
    ),
]


def _merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.mark.parametrize(("case", "change", "message"), REFUSED, ids=[c for c, _, _ in REFUSED])
def test_validation_refuses_nan_infinity_and_sizes_beyond_the_machine(
    case: str, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_config(_merged(DEFAULTS, change))


def test_the_default_and_shipped_configurations_pass() -> None:
    for name in ("config.yaml", "hard_demo.yaml", "paper.yaml"):
        shipped = yaml.safe_load((REPO / "config" / name).read_text())
        validate_config(_merged(DEFAULTS, shipped))


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("prune: {fraction: .nan}", "prune.fraction"),
        ("train: {selection: {ridge_grid: [.inf]}}", "train.selection.ridge_grid[0]"),
        ("attribution: {n_steps: 100000000}", "attribution.n_steps"),
        ("demo: {n_subjects: 100000000}", "demo.n_subjects"),
        ("features: {n_frames: 1000000000}", "features.n_frames"),
    ],
)
def test_validate_config_command_refuses_them(tmp_path: Path, yaml_text: str, key: str) -> None:
    path = tmp_path / "my.yaml"
    # the defaults with the override, as YAML (NaN and infinity written .nan and .inf)
    path.write_text(yaml.safe_dump(_merged(DEFAULTS, yaml.safe_load(yaml_text))))
    assert yaml_text.split(":")[-1].strip(" [}]") in path.read_text()
    done = subprocess.run(
        [str(BIN / "emoflow"), "validate-config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert key in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("config_args", "key"),
    [
        # a NaN typed on the command line (coerced to the number the schema asks for)
        (["prune={fraction: nan}"], "prune.fraction"),
        # before: planning 1.2e9 videos, 19 GB after 120 s
        (["demo={n_subjects: 100000000}"], "demo.n_subjects"),
    ],
)
def test_a_dry_run_refuses_them_before_planning(
    tmp_path: Path, config_args: list[str], key: str
) -> None:
    done = subprocess.run(
        [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-n", "--config", *config_args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,  # before: demo.n_subjects 1e8 planned for minutes, at 19 GB
    )
    assert done.returncode != 0
    assert key in done.stdout + done.stderr


def test_max_job_memory_gb_moves_the_bound() -> None:
    big = _merged(DEFAULTS, {"features": {"n_frames": 20_000}})
    with pytest.raises(ConfigError, match=r"prune_chain: at least"):
        validate_config({**big, "max_job_memory_gb": 10})
    validate_config({**big, "max_job_memory_gb": 100_000})
    # the default data set itself is too big for a job of 1 MB
    problems = memory_problems(validate_config(DEFAULTS), budget=1_000_000)
    assert any(line.startswith("prune_chain") for line in problems)


def test_every_key_of_the_memory_table_is_a_schema_key() -> None:
    """The bounds are one table over the schema's keys (no key spelt wrong or gone)."""
    load_schema()
    for cost in JOB_MEMORY:
        for key in cost.keys:
            if key != "videos":
                section_schema(key)


def test_settings_classes_refuse_nan_too() -> None:
    from emoflow.attribution import AttributionSettings
    from emoflow.pruning import PruneSettings

    with pytest.raises(ConfigError, match=r"prune\.fraction: nan is not a finite"):
        PruneSettings.from_section({"fraction": float("nan")})
    with pytest.raises(ConfigError, match=r"attribution\.n_steps"):
        AttributionSettings(n_steps=float("inf"))  # type: ignore[arg-type]

"""The README's results come from runs: tools/demo_results_table.py writes them between marker
comments, --check finds a stale README, and the README's default-demo block is what the default
demo (config/config.yaml, 2 cores, as `make demo` runs it) produces."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "demo_results_table.py"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def _tool():
    spec = importlib.util.spec_from_file_location("demo_results_table", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(**changes) -> dict:
    """A report.json as make_report writes it, two emotions (one undefined test score)."""
    emotion = {
        "n_landmarks_full": 478,
        "n_landmarks_selected": 116,
        "balanced_accuracy_full": 0.9917,
        "balanced_accuracy_selected": 1.0,
        "test_balanced_accuracy_full": 1.0,
        "test_balanced_accuracy_selected": None,  # undefined: no positive test video
        "n_parameters_full": 100_000,
        "n_parameters_selected": 26_000,
        "inference_time_ms_full": 0.7,
        "inference_time_ms_selected": 0.1,
        "precision_at_k": 0.8,
        "chance_level": 0.4,
    }
    full = {
        **emotion,
        "n_landmarks_selected": 478,
        "n_parameters_selected": 100_000,
        "inference_time_ms_selected": 0.7,
        "test_balanced_accuracy_selected": 0.9,
        "precision_at_k": 0.9,
        "chance_level": 0.2,
    }
    report = {
        "top_k": 50,
        "ground_truth": True,
        "emotions": {"happiness": emotion, "sadness": full},
        "combined_accuracy": {
            "first_iteration": 0,
            "first": 0.95,
            "first_test": 0.9,
            "last_iteration": 4,
            "last": 0.97,
            "last_test": None,
        },
        "validation_vs_test": {
            "combined_selected": {
                "validation": {"accuracy": 0.986, "n_samples": 72},
                "test": {"accuracy": 0.958, "n_samples": 24},
            }
        },
        "data": {
            "n_videos": 96,
            "n_subjects": 8,
            "n_kept": 96,
            "n_dropped": 0,
            "n_skipped": 0,
            "test_subjects": ["s03", "s07"],
            "n_test": 24,
        },
    }
    report.update(changes)
    return report


def _evidence() -> dict:
    """An evidence.json as report_evidence writes it: happiness with intervals, sadness's
    held-out test undefined, the combined classifier."""

    def entry(estimate, low, high, counts, subjects=6, samples=72):
        return {
            "estimate": estimate,
            "ci": [low, high],
            "n_subjects": subjects,
            "n_samples": samples,
            "n_landmarks": counts,
        }

    test = {"n_subjects": 2, "n_samples": 24}
    return {
        "estimates": {
            "nested": {
                "happiness": {
                    "full": entry(0.95, 0.9, 0.99, [478, 478, 478]),
                    "ig_guided": entry(0.97, 0.93, 1.0, [335, 235, 116]),
                },
                "sadness": {
                    "full": entry(0.9, 0.8, 0.97, [478, 478, 478]),
                    "ig_guided": entry(0.88, 0.79, 0.96, [478, 335, 478]),
                },
                "combined": {
                    "full": entry(0.9, 0.85, 0.95, []),
                    "ig_guided": entry(0.91, 0.86, 0.96, []),
                },
            },
            "test": {
                "happiness": {
                    "full": {**entry(1.0, None, None, [478]), **test},
                    "ig_guided": {**entry(0.975, None, None, [116]), **test},
                },
                "sadness": {
                    "full": {**entry(None, None, None, [478]), **test},
                    "ig_guided": {**entry(0.9, None, None, [478]), **test},
                },
            },
        },
        "differences": {
            "nested": {
                "happiness": {
                    "full": {
                        "difference": 0.02,
                        "ci": [-0.01, 0.05],
                        "n_subjects": 6,
                        "verdict": "no difference shown",
                    }
                },
                "sadness": {
                    "full": {
                        "difference": -0.02,
                        "ci": [-0.04, -0.001],
                        "n_subjects": 6,
                        "verdict": "loss",
                    }
                },
            }
        },
        "conclusions": ["Pruning against all landmarks: better for 0 of 2 emotions, worse for 1."],
    }


README = """# title

intro

<!-- results:default-demo (written by the tool) -->
old table
<!-- /results:default-demo -->

between

<!-- results:hard-demo -->
hard
<!-- /results:hard-demo -->
end
"""


def test_the_block_shows_nested_estimates_with_intervals_and_undefined_scores_as_na() -> None:
    block = _tool().table(_report(), _evidence())
    rows = [line for line in block.splitlines() if line.startswith("| ")]
    assert rows[1] == (
        "| happiness | 335/235/116; 116 | 0.950 [0.900, 0.990] | 0.970 [0.930, 1.000] "
        "| +0.020 [-0.010, +0.050] no difference shown | 1.000 → 0.975 | 0.80 (0.40) |"
    )
    assert rows[2] == (
        "| sadness | 478/335/478; 478 | 0.900 [0.800, 0.970] | 0.880 [0.790, 0.960] "
        "| -0.020 [-0.040, -0.001] loss | n/a → 0.900 | 0.90 (0.20) |"
    )
    assert "Nested estimates: 6 development subjects, 72 videos" in block
    assert "0.900 [0.850, 0.950] with all landmarks, 0.910 [0.860, 0.960]" in block
    assert "Held-out test: 2 subjects, 24 videos, too few for an interval." in block
    assert "Pruning against all landmarks: better for 0 of 2 emotions, worse for 1." in block
    assert "faster" not in block  # no timings: they differ between runs
    assert "ground truth is 2.0–4.5× its chance level" in block
    assert "held out: s03, s07 (24 test samples)" in block
    assert "nan" not in block.lower()


def test_write_and_check_touch_only_their_block(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps(_report()))
    (tmp_path / "evidence.json").write_text(json.dumps(_evidence()))
    readme = tmp_path / "README.md"
    readme.write_text(README)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(TOOL), str(report), "--readme", str(readme), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    stale = run("--check")
    assert stale.returncode == 1
    assert "-old table" in stale.stdout and "--write" in stale.stderr
    assert readme.read_text() == README  # --check writes nothing
    assert run("--write").returncode == 0
    written = readme.read_text()
    block = _tool().table(_report(), _evidence())
    assert written == README.replace("old table", block)
    assert run("--check").returncode == 0
    assert run("--write").returncode == 0 and readme.read_text() == written  # idempotent
    readme.write_text(README.replace("<!-- /results:default-demo -->\n", ""))
    missing = run("--check")
    assert missing.returncode == 2 and "results:default-demo" in missing.stderr
    assert run("--write").returncode == 2


def test_printing_needs_a_report(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(TOOL), str(tmp_path / "none.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "no such report" in done.stderr


def test_the_readme_has_both_blocks() -> None:
    readme = (REPO / "README.md").read_text()
    tool = _tool()
    assert "| emotion | landmarks chosen (per outer fold; deployed)" in tool.readme_block(
        readme, "default-demo"
    )
    assert "| emotion | all landmarks | IG-guided |" in tool.readme_block(readme, "hard-demo")


@pytest.mark.slow
def test_the_readme_shows_what_the_default_demo_produces(default_demo: Path) -> None:
    report = default_demo / "results" / "report" / "report.json"
    done = subprocess.run(
        [sys.executable, str(TOOL), str(report), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_seed_study_says_plainly_where_ig_guided_pruning_did_not_win() -> None:
    """The hard-demo block ends with one line per compared procedure counting the emotions'
    verdicts (the combined row left out): a baseline never beaten is said to be not beaten."""
    import polars as pl

    spec = importlib.util.spec_from_file_location("seed_study", REPO / "tools" / "seed_study.py")
    assert spec is not None and spec.loader is not None
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    verdicts = pl.DataFrame(
        {
            "emotion": ["anger", "fear", "joy", "combined", "anger", "fear", "joy"],
            "baseline": ["full"] * 4 + ["mean_difference"] * 3,
            "verdict": [
                "win",
                "loss",
                "no difference shown",
                "win",
                *["no difference shown"] * 2,
                "loss",
            ],
        }
    )
    lines = study.tally(verdicts, ["full", "mean_difference"])
    assert lines == [
        "- Against all landmarks, IG-guided pruning beat it in 1 of 3 emotions: 1 win, 1 "
        "loss, 1 with no difference shown.",
        "- Against mean difference, IG-guided pruning did not beat it: 0 wins, 1 loss, 2 with "
        "no difference shown.",
    ]

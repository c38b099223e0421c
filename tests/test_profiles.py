"""Cluster profiles: they plan the workflow, and submit GPU jobs with the right options.

The submission tests run the real executor plugins against stand-in ``sbatch``/``qsub``
commands that record their arguments and refuse the job, so Snakemake stops right after
submitting: what is checked is exactly the command line a cluster would receive.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
PROFILES = ("default", "slurm", "generic")

TINY_CONFIG = {
    "dataset": {
        "adapter": "demo",
        "source": "resources/demo",
        "emotions": ["happiness", "surprise", "anger"],
    },
    "demo": {"n_subjects": 4, "repetitions": 1, "n_frames": 12, "size": 192, "seed": 3},
    "landmarks": {"n_shards": 2},
    "train": {"n_folds": 2, "model": {"width": 32, "n_layers": 1}},
    "prune": {"iterations": 1, "chain_jobs": "emotion"},  # a start_chains job per split
}

# Stand-ins for the cluster's commands: record the arguments, refuse the job.
FAKE_SUBMIT = """#!/bin/sh
printf '%s\\n' "$*" >> "$(dirname "$0")/$(basename "$0").calls"
echo "stand-in $(basename "$0"): job not submitted" >&2
exit 1
"""
FAKE_SACCTMGR = "#!/bin/sh\necho your_account\n"  # the account the profile names is valid
# What the workflow asks SLURM before submitting (emoflow.cluster): nodes that can run every job
# in the profile's placeholder partitions, and status commands that work.
FAKE_SLURM = {
    "sinfo": (
        "#!/bin/sh\nprintf 'n1|your_cpu_partition*|64|512000|(null)|infinite\\n"
        "g1|your_gpu_partition|64|512000|gpu:8|infinite\\n'\n"
    ),
    "sacct": "#!/bin/sh\nexit 0\n",
    "squeue": "#!/bin/sh\nexit 0\n",
    "scontrol": "#!/bin/sh\necho 'MinJobAge = 300 sec'\n",
}


def _workdir(root: Path) -> Path:
    """A copy of the workflow and its profiles, with the tiny demo configuration."""
    workdir = root / "workflow_copy"
    workdir.mkdir()
    shutil.copy(REPO / "Snakefile", workdir / "Snakefile")
    shutil.copytree(REPO / "workflow", workdir / "workflow")
    shutil.copytree(REPO / "profiles", workdir / "profiles")
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(TINY_CONFIG))
    return workdir


CLUSTER_EXECUTORS = {
    "profiles/slurm": "snakemake_executor_plugin_slurm",
    "profiles/generic": "snakemake_executor_plugin_cluster_generic",
}
"""The executor each cluster profile needs: an optional extra (requirements/cluster.txt)."""


def _require_executors(args: tuple[str, ...]) -> None:
    """Skip a test that runs a cluster profile whose executor is not installed (``make test``
    installs them: ``make cluster-setup``); on CI (``CI`` set) fail instead of skipping."""
    for profile, module in CLUSTER_EXECUTORS.items():
        if profile in args and importlib.util.find_spec(module) is None:
            message = f"{module} is not installed: make cluster-setup (requirements/cluster.txt)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)


def _snakemake(workdir: Path, *args: str, fake_bin: Path | None = None):
    _require_executors(args)
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLURM_")}
    env.pop("SNAKEMAKE_PROFILE", None)
    env["PYTHONWARNINGS"] = "ignore"
    if fake_bin is not None:
        env["PATH"] = f"{fake_bin}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        [SNAKEMAKE, *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _with_upstream_outputs(workdir: Path) -> Path:
    """Stand-in inputs of start_chains (iteration 0) and extract_landmarks; fake commands."""
    (workdir / "results" / "features.zarr").mkdir(parents=True)
    (workdir / "results" / "iter_0" / "happiness").mkdir(parents=True)
    (workdir / "results" / "iter_0" / "happiness" / "landmarks.json").write_text("{}")
    (workdir / "results" / "manifest.parquet").write_bytes(b"")
    (workdir / "resources" / "demo" / "videos").mkdir(parents=True)  # the demo's videos
    fake_bin = workdir / "fake_bin"
    fake_bin.mkdir()
    commands = {"sbatch": FAKE_SUBMIT, "qsub": FAKE_SUBMIT, "sacctmgr": FAKE_SACCTMGR, **FAKE_SLURM}
    for name, text in commands.items():
        (fake_bin / name).write_text(text)
        (fake_bin / name).chmod(0o755)
    return fake_bin


def _submissions(fake_bin: Path, command: str) -> dict[str, str]:
    """Rule name → the recorded argument line of its submission (of its group's: the rule
    of the group's first job)."""
    calls = (fake_bin / f"{command}.calls").read_text().splitlines()
    by_rule = {}
    for line in calls:
        match = re.search(r"--target-jobs '?(\w+):|emoflow\.(\w+)", line)
        assert match, line
        by_rule[match.group(1) or match.group(2)] = line
    return by_rule


SUBMIT_TARGETS = (
    "results/iter_0/happiness/metrics.json",
    "results/landmarks/shard_0.parquet",
    "--allowed-rules",
    "start_chains",
    "extract_landmarks",
    "--retries",
    "0",
)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _workdir(tmp_path_factory.mktemp("profiles"))


@pytest.mark.parametrize("profile", ["slurm", "generic"])
def test_cluster_profile_plans_the_demo_workflow(planned: Path, profile: str) -> None:
    result = _snakemake(planned, "--profile", f"profiles/{profile}", "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    # The workflow profile (profiles/default) is read next to the site profile.
    assert "workflow specific profile profiles/default" in result.stderr
    stanzas = re.split(r"\n\s*rule ", result.stdout)  # a group's jobs are indented
    train = next(stanza for stanza in stanzas if stanza.startswith("start_chains:"))
    resources = re.search(r"resources: (.*)", train)
    assert resources, train
    assert "gpu=1" in resources.group(1).split(", ")
    if profile == "slurm":
        assert "slurm_partition=your_gpu_partition" in resources.group(1)
    landmarks = next(stanza for stanza in stanzas if stanza.startswith("extract_landmarks:"))
    assert "gpu=1" not in landmarks


def test_default_profile_runs_locally(planned: Path) -> None:
    result = _snakemake(planned, "--cores", "2", "--resources", "gpu=2", "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "workflow specific profile profiles/default" in result.stderr


def test_slurm_submits_gpu_rule_with_gpu_request(tmp_path: Path) -> None:
    workdir = _workdir(tmp_path)
    fake_bin = _with_upstream_outputs(workdir)
    result = _snakemake(
        workdir,
        "--profile",
        "profiles/slurm",
        *SUBMIT_TARGETS,
        "--slurm-init-seconds-before-status-checks",
        "1",
        fake_bin=fake_bin,
    )
    assert result.returncode != 0  # the stand-in sbatch refused the jobs
    assert "SLURM sbatch failed" in result.stderr
    calls = _submissions(fake_bin, "sbatch")
    assert set(calls) == {"start_chains", "extract_landmarks"}

    train = calls["start_chains"]
    options = train.split(" --wrap=")[0].split()
    assert "--gpus=1" in options
    for flag, value in (("-A", "your_account"), ("-p", "your_gpu_partition"), ("-t", "60")):
        assert options[options.index(flag) + 1] == value, train
    assert options[options.index("--mem") + 1] == "16000"
    assert "--cpus-per-task=4" in options
    # The job runs the rule's own job on the node, with the same resource settings.
    job = shlex.split(train.split(" --wrap=", 1)[1])
    assert job[job.index("--target-jobs") + 1] == "start_chains:split="

    landmarks = calls["extract_landmarks"].split(" --wrap=")[0].split()
    assert not any(option.startswith(("--gpus", "--gres")) for option in landmarks)
    assert landmarks[landmarks.index("-p") + 1] == "your_cpu_partition"
    assert landmarks[landmarks.index("--mem") + 1] == "4000"
    assert landmarks[landmarks.index("-t") + 1] == "120"
    assert "--cpus-per-task=1" in landmarks


def test_generic_profile_fills_the_submit_command(tmp_path: Path) -> None:
    workdir = _workdir(tmp_path)
    fake_bin = _with_upstream_outputs(workdir)
    result = _snakemake(
        workdir,
        "--profile",
        "profiles/generic",
        *SUBMIT_TARGETS,
        "--seconds-between-status-checks",
        "1",
        fake_bin=fake_bin,
    )
    assert result.returncode != 0
    calls = _submissions(fake_bin, "qsub")
    train = calls["start_chains"].split()
    assert "select=1:ncpus=4:mem=16000mb:ngpus=1" in train
    assert "walltime=3600" in train
    assert train[train.index("-q") + 1] == "your_gpu_queue"
    assert train[-1].endswith(".sh")  # the job script Snakemake wrote
    landmarks = calls["extract_landmarks"].split()
    assert "select=1:ncpus=1:mem=4000mb:ngpus=0" in landmarks
    assert "walltime=7200" in landmarks


def _workflow_text() -> str:
    paths = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    return "\n".join(path.read_text() for path in paths)


def _rule_names() -> set[str]:
    return set(re.findall(r"^\s*rule (\w+):", _workflow_text(), re.MULTILINE)) | {"all"}


def _local_rules() -> set[str]:
    """The rules that run inside the submitting Snakemake (`localrules:` blocks)."""
    blocks = re.findall(r"^localrules:\n((?:[ \t]+\w+,?\n)+)", _workflow_text(), re.MULTILINE)
    return {name for block in blocks for name in re.findall(r"\w+", block)}


def _gpu_rules() -> set[str]:
    """The rules whose resources declare a GPU count (gpu=...)."""
    rules = re.split(r"^\s*rule (\w+):", _workflow_text(), flags=re.MULTILINE)
    return {
        name
        for name, body in zip(rules[1::2], rules[2::2], strict=True)
        if re.search(r"^\s*gpu=", body, re.MULTILINE)  # a resource line, not a comment
    }


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_name_only_existing_rules(profile: str) -> None:
    # Snakemake silently ignores set-resources/set-threads/groups of a rule that does not exist.
    settings = yaml.safe_load((REPO / "profiles" / profile / "config.yaml").read_text())
    named = (
        set(settings.get("set-resources", {}))
        | set(settings.get("set-threads", {}))
        | set(settings.get("groups", {}))
    )
    assert named <= _rule_names(), named - _rule_names()


@pytest.mark.parametrize("profile", ["slurm", "generic"])
def test_cluster_profiles_size_every_rule_that_runs_as_a_cluster_job(profile: str) -> None:
    # A rule left to its own threads (make_demo's 4) could ask more than a site's nodes have;
    # sizes live in the profile, where a site changes them (issue 25).
    settings = yaml.safe_load((REPO / "profiles" / profile / "config.yaml").read_text())
    submitted = _rule_names() - _local_rules() - {"all"}
    assert "make_demo" in submitted and "gather_iteration" not in submitted
    assert submitted <= set(settings["set-threads"]), submitted - set(settings["set-threads"])
    for rule in submitted:
        assert {"mem_mb", "runtime"} <= set(settings["set-resources"].get(rule, {})), rule


def test_slurm_profile_sends_every_gpu_rule_to_a_gpu_partition() -> None:
    settings = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    gpu_rules = _gpu_rules()
    assert {"start_chains", "prune_chain", "compare_pruning"} <= gpu_rules
    for rule in gpu_rules:
        assert settings["set-resources"][rule]["slurm_partition"] == "your_gpu_partition", rule


def test_rules_hold_no_site_values() -> None:
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        lines = path.read_text().splitlines()
        text = "\n".join(line.split("#", 1)[0] for line in lines)  # code, not comments
        for site_key in ("slurm_", "partition", "account", "qos", "queue", "gpu_model", "gres"):
            assert site_key not in text, f"{path.name} names {site_key}: set it in a profile"

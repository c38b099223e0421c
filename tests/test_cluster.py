"""emoflow.cluster: a SLURM run stops before submitting a job no node can run (issue 25).

The parsing and the check are tested on ``sinfo`` output and stand-in jobs; the workflow's
``onstart`` hook is tested by running Snakemake with profiles/slurm against stand-in ``sinfo``,
``sbatch``, ``sacct``, ``squeue`` and ``scontrol`` commands (tests/cluster/slurm_demo.sh does
the same on a real cluster).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from test_profiles import _snakemake, _workdir

from emoflow.cluster import (
    ClusterError,
    Request,
    check_submission,
    parse_gres,
    parse_minutes,
    parse_sinfo,
    request_of,
    status_problems,
    unfit,
)

# sinfo -N -h -o "%N|%P|%c|%m|%G|%l" of a small site: two CPU nodes, a GPU node with four
# A100s in two partitions (the gpu one limited to two days)
SINFO = """\
cpu01|cpu*|32|192000|(null)|infinite
cpu02|cpu*|64|384000|(null)|infinite
gpu01|gpu|16|256000|gpu:a100:4(S:0-1)|2-00:00:00
gpu01|debug|16|256000|gpu:a100:4(S:0-1)|30:00
"""


def test_sinfo_is_read_node_by_node() -> None:
    nodes = parse_sinfo(SINFO)
    assert [(n.name, n.partition, n.default) for n in nodes] == [
        ("cpu01", "cpu", True),
        ("cpu02", "cpu", True),
        ("gpu01", "gpu", False),
        ("gpu01", "debug", False),
    ]
    assert nodes[1].cpus == 64 and nodes[1].mem_mb == 384000 and nodes[1].gpu_count() == 0
    assert nodes[2].gpus == {"a100": 4} and nodes[2].max_minutes == 2880
    assert nodes[3].max_minutes == 30 and nodes[0].max_minutes is None


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("infinite", None),
        ("UNLIMITED", None),
        ("45", 45),
        ("30:00", 30),
        ("30:01", 31),
        ("2:00:00", 120),
        ("1-00:00:00", 1440),
        ("1-2", 1560),
        ("1-02:30", 1590),
    ],
)
def test_time_limits_in_minutes(text: str, minutes: int | None) -> None:
    assert parse_minutes(text) == minutes


@pytest.mark.parametrize(
    ("text", "gpus"),
    [
        ("(null)", {}),
        ("gpu:2", {"": 2}),
        ("gpu:a100:4(S:0-1)", {"a100": 4}),
        ("gpu:a100:2(S:0,1),gpu:v100:2,mps:200", {"a100": 2, "v100": 2}),
    ],
)
def test_gres_gpus_by_type(text: str, gpus: dict[str, int]) -> None:
    assert parse_gres(text) == gpus


def test_a_request_no_node_can_satisfy_is_one_line_naming_rule_request_and_largest_node() -> None:
    nodes = parse_sinfo(SINFO)
    too_many_cpus = Request("rule make_demo", None, cpus=128, mem_mb=2000, minutes=30)
    [line] = unfit([too_many_cpus], nodes)
    assert "\n" not in line
    assert line.startswith("emoflow: rule make_demo asks for 128 CPUs, 2000 MB, 30 min,")
    assert "partition 'cpu'" in line  # the default partition, where the job would go
    assert "the largest, cpu02: 64 CPUs, 384000 MB, no GPU, no time limit; short of CPUs" in line
    assert "set-threads, set-resources" in line


@pytest.mark.parametrize(
    ("request_", "short"),
    [
        (Request("rule a", "cpu", cpus=4, mem_mb=500000, minutes=60), "memory"),
        (Request("rule a", "cpu", cpus=4, mem_mb=1000, minutes=60, gpus=1), "GPUs"),
        (Request("rule a", "gpu", cpus=4, mem_mb=1000, minutes=3000, gpus=1), "time"),
        (Request("rule a", "gpu", 4, 1000, 60, gpus=1, gpu_model="h100"), "GPUs"),
        (Request("rule a", "debug", cpus=4, mem_mb=1000, minutes=60, gpus=8), "GPUs"),
    ],
)
def test_each_dimension_is_checked(request_: Request, short: str) -> None:
    [line] = unfit([request_], parse_sinfo(SINFO))
    assert f"short of {short}" in line


def test_requests_that_fit_pass_and_repeats_are_reported_once() -> None:
    nodes = parse_sinfo(SINFO)
    fits = [
        Request("rule a", None, cpus=64, mem_mb=384000, minutes=None),
        Request("rule b", "gpu", cpus=16, mem_mb=256000, minutes=2880, gpus=4, gpu_model="a100"),
        Request("rule c", "debug", cpus=1, mem_mb=1, minutes=30, gpus=1),
    ]
    assert unfit(fits, nodes) == []
    same = Request("rule train", "gpu", cpus=32, mem_mb=1000, minutes=60, gpus=1)
    assert len(unfit([same] * 30, nodes)) == 1


def test_a_partition_that_does_not_exist_is_named_with_those_that_do() -> None:
    request = Request("rule prune_chain", "your_gpu_partition", 4, 16000, 60, gpus=1)
    [line] = unfit([request], parse_sinfo(SINFO))
    assert "partition 'your_gpu_partition', which does not exist" in line
    assert "sinfo lists cpu, debug, gpu" in line


def test_a_job_given_several_partitions_fits_if_one_of_them_can_run_it() -> None:
    gpu_job = Request("rule prune_chain", "cpu,gpu", cpus=4, mem_mb=1000, minutes=60, gpus=1)
    assert unfit([gpu_job], parse_sinfo(SINFO)) == []
    assert unfit([gpu_job], []) == [
        "emoflow: sinfo lists no node: no SLURM job of this run could start"
    ]


def test_with_a_partition_config_any_partition_may_run_a_job() -> None:
    gpu_job = Request("rule prune_chain", None, cpus=4, mem_mb=1000, minutes=60, gpus=1)
    assert unfit([gpu_job], parse_sinfo(SINFO))  # the default partition has no GPU
    assert unfit([gpu_job], parse_sinfo(SINFO), any_partition=True) == []


class _Resources(dict):
    def __getattr__(self, name: str):
        return self[name]


def _job(rule: str, threads: int = 1, **resources) -> SimpleNamespace:
    return SimpleNamespace(
        rule=SimpleNamespace(name=rule),
        threads=threads,
        resources=_Resources(resources),
        is_group=lambda: False,
        is_local=False,
    )


def test_requests_follow_the_slurm_plugin() -> None:
    # threads -> --cpus-per-task, unless cpus_per_task is set
    assert request_of(_job("a", threads=4, mem_mb=8000, runtime=60)) == Request(
        "rule a", None, cpus=4, mem_mb=8000, minutes=60
    )
    assert request_of(_job("a", threads=4, cpus_per_task=2)).cpus == 2
    # --cpus-per-gpu for GPU jobs, memory per CPU
    gpu_job = request_of(_job("a", gpu=2, cpus_per_gpu=3, mem_mb_per_cpu=1000))
    assert (gpu_job.cpus, gpu_job.mem_mb, gpu_job.gpus) == (6, 6000, 2)
    # gres and gpu_model
    assert request_of(_job("a", gres="gpu:a100:2")).gpus == 2
    assert request_of(_job("a", gres="gpu:a100:2")).gpu_model == "a100"
    assert request_of(_job("a", gpu=1, gpu_model="v100")).gpu_model == "v100"
    # what Snakemake could not evaluate yet counts as nothing
    assert request_of(_job("a", mem_mb="<TBD>", slurm_partition="gpu")).mem_mb == 0
    assert request_of(_job("a", slurm_partition="gpu")).partition == "gpu"


def test_a_group_job_is_named_with_its_rules() -> None:
    members = [_job("prune_chain"), _job("prune_chain")]
    group = SimpleNamespace(
        groupid="chain",
        jobs=members,
        threads=4,
        resources=_Resources(gpu=1, mem_mb=16000, runtime=300),
        is_group=lambda: True,
        is_local=False,
    )
    request = request_of(group)
    assert request.job == "group chain (rule prune_chain)"
    assert (request.cpus, request.gpus, request.minutes) == (4, 1, 300)


def _commands(min_job_age: int, sacct_ok: bool):
    def run(command):
        if command[0] == "scontrol":
            return subprocess.CompletedProcess(command, 0, f"MinJobAge = {min_job_age} sec\n", "")
        if sacct_ok:
            return subprocess.CompletedProcess(command, 0, "", "")
        return subprocess.CompletedProcess(command, 1, "", "Slurm accounting storage is disabled")

    return run


def _which(name: str) -> str:
    return f"/usr/bin/{name}"


def test_a_sacct_that_fails_stops_the_run_and_names_the_fix() -> None:
    run = _commands(300, sacct_ok=False)
    [line] = status_problems(None, 40, run=run, which=_which)  # the plugin's default: sacct
    assert "Slurm accounting storage is disabled" in line
    assert "slurm-status-command: squeue" in line
    assert status_problems("sacct", 40, run=run, which=_which)
    # squeue works without accounting while MinJobAge covers three status intervals...
    assert status_problems("squeue", 40, run=run, which=_which) == []
    # ...under that, the plugin falls back to sacct
    [line] = status_problems("squeue", 200, run=run, which=_which)
    assert "MinJobAge 300 s is under 3 x 200 s" in line
    assert "set slurm-init-seconds-before-status-checks below 100" in line
    # with accounting, sacct is fine
    assert status_problems(None, 40, run=_commands(300, sacct_ok=True), which=_which) == []


def test_other_executors_and_machines_without_sinfo_are_not_checked() -> None:
    local = SimpleNamespace(executor_plugin=SimpleNamespace(name="local"))
    check_submission(local)  # no dag, no settings: never looked at
    slurm = SimpleNamespace(executor_plugin=SimpleNamespace(name="slurm"))
    check_submission(slurm, which=lambda name: None)


def test_a_workflow_whose_jobs_do_not_fit_raises_before_submitting(tmp_path: Path) -> None:
    fake_sinfo = tmp_path / "sinfo"
    fake_sinfo.write_text("#!/bin/sh\necho 'n1|cpu*|2|20000|gpu:2|infinite'\n")
    fake_sinfo.chmod(0o755)
    jobs = [_job("make_demo", threads=4, mem_mb=2000, runtime=30)]
    dag = SimpleNamespace(needrun_jobs=lambda: jobs, get_job_group=lambda job: None)
    workflow = SimpleNamespace(
        executor_plugin=SimpleNamespace(name="slurm"),
        executor_settings=SimpleNamespace(status_command="squeue"),
        dag=dag,
    )
    with pytest.raises(ClusterError, match=r"rule make_demo asks for 4 CPUs.*n1: 2 CPUs"):
        check_submission(workflow, sinfo=str(fake_sinfo), run=_commands(300, sacct_ok=True))


# --- the workflow's onstart hook, with stand-in SLURM commands -------------------------------

# one node of 2 CPUs and 20 GB with two GPUs, in a cpu (default) and a gpu partition
NODE = "n1|{}|2|20000|gpu:2|infinite"
STAND_INS = {
    "sinfo": f"#!/bin/sh\nprintf '{NODE.format('cpu*')}\\n{NODE.format('gpu')}\\n'\n",
    "sbatch": (
        '#!/bin/sh\nprintf \'%s\\n\' "$*" >> "$(dirname "$0")/sbatch.calls"\n'
        "echo 'stand-in sbatch: job not submitted' >&2\nexit 1\n"
    ),
    "sacct": "#!/bin/sh\necho 'Slurm accounting storage is disabled' >&2\nexit 1\n",
    "squeue": "#!/bin/sh\nexit 0\n",
    "scontrol": "#!/bin/sh\necho 'MinJobAge               = 300 sec'\n",
    "sacctmgr": "#!/bin/sh\nexit 0\n",
}


def _site(workdir: Path, **changes) -> Path:
    """A site profile for the stand-in node, as a user of it would write (README)."""
    site = {
        "slurm-no-account": True,
        "slurm-status-command": "squeue",
        "slurm-init-seconds-before-status-checks": 1,
        "retries": 0,
        "default-resources": {"slurm_partition": "cpu"},
        "set-threads": {"make_demo": 2, "build_features": 2, "prune_chain": 1},
        "set-resources": {"prune_chain": {"slurm_partition": "gpu", "mem_mb": 4000}},
    }
    site.update(changes)
    path = workdir / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    return path


@pytest.fixture()
def stand_ins(tmp_path: Path) -> tuple[Path, Path]:
    workdir = _workdir(tmp_path)
    fake_bin = workdir / "fake_bin"
    fake_bin.mkdir()
    for name, text in STAND_INS.items():
        (fake_bin / name).write_text(text)
        (fake_bin / name).chmod(0o755)
    return workdir, fake_bin


def _slurm_run(workdir: Path, fake_bin: Path, site: Path):
    started = time.monotonic()
    result = _snakemake(
        workdir, "--profile", "profiles/slurm", "--profile", str(site), fake_bin=fake_bin
    )
    return result, time.monotonic() - started


def test_a_request_no_node_can_satisfy_stops_the_run_before_submitting(stand_ins) -> None:
    workdir, fake_bin = stand_ins
    site = _site(workdir, **{"set-threads": {"make_demo": 4, "prune_chain": 1}})
    result, _ = _slurm_run(workdir, fake_bin, site)
    assert result.returncode != 0
    assert "emoflow: rule make_demo asks for 4 CPUs, 2000 MB, 30 min" in result.stderr
    assert (
        "the largest, n1: 2 CPUs, 20000 MB, 2 GPUs, no time limit; short of CPUs" in result.stderr
    )
    assert not (fake_bin / "sbatch.calls").exists()  # nothing was submitted


def test_the_shipped_placeholders_stop_the_run_naming_the_partition(stand_ins) -> None:
    workdir, fake_bin = stand_ins
    site = _site(workdir)
    text = yaml.safe_load(site.read_text())
    del text["default-resources"]  # the profile's placeholder partition stays
    site.write_text(yaml.safe_dump(text))
    result, _ = _slurm_run(workdir, fake_bin, site)
    assert "asks for SLURM partition 'your_cpu_partition', which does not exist" in result.stderr
    assert "sinfo lists cpu, gpu" in result.stderr
    assert not (fake_bin / "sbatch.calls").exists()


def test_sacct_without_accounting_stops_the_run_naming_squeue(stand_ins) -> None:
    workdir, fake_bin = stand_ins
    site = _site(workdir)
    text = yaml.safe_load(site.read_text())
    del text["slurm-status-command"]  # the plugin's default, sacct: it fails here
    site.write_text(yaml.safe_dump(text))
    result, _ = _slurm_run(workdir, fake_bin, site)
    assert result.returncode != 0
    assert "add 'slurm-status-command: squeue' to your site profile" in result.stderr
    assert not (fake_bin / "sbatch.calls").exists()


def test_requests_that_fit_are_submitted(stand_ins) -> None:
    workdir, fake_bin = stand_ins
    result, _ = _slurm_run(workdir, fake_bin, _site(workdir))
    assert "emoflow:" not in result.stderr
    assert "SLURM sbatch failed" in result.stderr  # the stand-in refused the first job
    assert "--cpus-per-task=2" in (fake_bin / "sbatch.calls").read_text()  # make_demo

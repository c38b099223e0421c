"""The checks and figures of tests/cluster/slurm_demo.sh (a real one-node SLURM cluster).

Subcommands:

``timed OUT -- COMMAND``
    Run COMMAND, write its wall time and the CPU time of its whole process tree to OUT (JSON).
``site-profile``
    Write the site profile a user of this cluster would write, read after profiles/slurm: the
    account and partitions, the shipped sizes capped to what the node has, the GPU partition
    for every rule whose jobs ask for a GPU (found in the workflow's plan, not named here),
    and ``slurm-status-command: squeue`` without accounting.
``unfit-args``
    Command-line arguments that make one rule ask for more CPUs than the node has.
``verify``
    After a run through SLURM: every job of every rule that asks for a GPU ran in a SLURM job
    that SLURM granted one (scontrol; sacct's AllocTRES with accounting), and jobs side by side
    got different GPUs; models, landmark sets, scores and landmark tables are byte-identical to
    the local run's; every rule's log and benchmark, and the executor's log of every SLURM job,
    are where the README says.
``table``
    Wall and CPU time of every run of the work folder, side by side.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# what must be byte-identical between the local and the cluster run
COMPARED = (
    "landmarks/shard_*.parquet",
    "iter_*/landmarks.json",
    "iter_*/scores.parquet",
    "iter_*/*/model.pt",
    "iter_*/*/landmarks.json",
    "iter_*/*/scores.parquet",
    "nested/fold_*/iter_*/*/model.pt",
    "nested/fold_*/iter_*/*/landmarks.json",
    "nested/fold_*/iter_*/*/scores.parquet",
    "evaluation/*.parquet",
)


def fail(message: str) -> None:
    print(f"FAILED: {message}", file=sys.stderr)
    raise SystemExit(1)


# --- timed ----------------------------------------------------------------------------------


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(out: Path, command: list[str]) -> int:
    cpu, wall = _children_cpu(), time.monotonic()
    status = subprocess.run(command).returncode
    figures = {"wall_s": time.monotonic() - wall, "cpu_s": _children_cpu() - cpu}
    out.write_text(json.dumps(figures))
    return status


# --- the plan -------------------------------------------------------------------------------

STANZA = re.compile(r"^\s*(?:local)?rule (\w+):\s*$")


def plan_jobs(text: str) -> list[dict]:
    """The jobs in Snakemake's printed plan or log: rule, wildcards, resources, log, ..."""
    jobs: list[dict] = []
    for line in text.splitlines():
        match = STANZA.match(line)
        if match:
            jobs.append({"rule": match.group(1)})
            continue
        if not jobs:
            continue
        field = re.match(r"^\s*(\w+): (.*)$", line)
        if field and field.group(1) in {"wildcards", "resources", "log", "benchmark", "jobid"}:
            jobs[-1].setdefault(field.group(1), field.group(2).strip())
    return jobs


def job_key(job: dict) -> str:
    return f"{job['rule']}[{job.get('wildcards', '')}]"


def resource_value(job: dict, name: str) -> str | None:
    for item in job.get("resources", "").split(", "):
        key, _, value = item.partition("=")
        if key == name:
            return value
    return None


def gpu_rules(plan: list[dict]) -> set[str]:
    """The rules whose jobs ask for a GPU (resource gpu > 0, or a gres naming one)."""
    rules = set()
    for job in plan:
        gpu = resource_value(job, "gpu")
        gres = resource_value(job, "gres") or ""
        if (gpu is not None and gpu.isdigit() and int(gpu) > 0) or "gpu" in gres:
            rules.add(job["rule"])
    return rules


def dry_run(workdir: Path, args: list[str]) -> str:
    workdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-n", "--forceall", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        fail(f"the dry run failed:\n{done.stderr[-3000:]}")
    return done.stdout + done.stderr


# --- site profile ---------------------------------------------------------------------------


def node_size() -> tuple[int, int]:
    """CPUs and memory (MB) of the largest node, from sinfo."""
    out = subprocess.run(
        ["sinfo", "-N", "-h", "-o", "%c|%m"], capture_output=True, text=True, check=True
    ).stdout
    sizes = [tuple(int(x) for x in line.split("|")) for line in out.split()]
    return max(size[0] for size in sizes), max(size[1] for size in sizes)


def site_profile(args: argparse.Namespace) -> None:
    shipped = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    ncpu, mem = node_size()
    plan = plan_jobs(dry_run(args.out.parent / "plan", ["--profile", str(REPO / "profiles/slurm")]))
    gpu = gpu_rules(plan)
    if not gpu:
        fail("the plan has no job that asks for a GPU: nothing to check on the GPU partition")
    site: dict = {"default-resources": {"slurm_partition": args.cpu_partition}}
    if args.accounting == "slurmdbd":
        site["default-resources"]["slurm_account"] = args.account
    else:
        # no accounting database: no accounts, and sacct cannot tell a job's state
        site["slurm-no-account"] = True
        site["slurm-status-command"] = "squeue"
    # threads as in the local reference run (a torch job with other threads sums in another
    # order: its scores would differ in the 7th digit), else the shipped ones; no more than
    # the node has
    local_threads = threads_of(args.local_log.read_text())
    site["set-threads"] = {
        rule: min(local_threads.get(rule, int(n)), ncpu)
        for rule, n in shipped["set-threads"].items()
    }
    # the shipped memory and time, memory capped so that two jobs fit the node side by side
    resources: dict = {}
    for rule, values in shipped["set-resources"].items():
        values = {key: value for key, value in values.items() if key != "slurm_partition"}
        if "mem_mb" in values:
            values["mem_mb"] = f"min({values['mem_mb']}, {mem // 2})"
        if rule in gpu:
            values["slurm_partition"] = args.gpu_partition
        resources[rule] = values
    for rule in sorted(gpu - set(resources)):
        resources[rule] = {"slurm_partition": args.gpu_partition}
    site["set-resources"] = resources
    header = (
        f"# This cluster's values (written by tests/cluster/slurm_demo.sh for a node of {ncpu} "
        f"CPUs and {mem} MB;\n# GPU rules found in the plan: {', '.join(sorted(gpu))}), read "
        "after profiles/slurm.\n"
    )
    args.out.write_text(header + yaml.safe_dump(site, sort_keys=False))


def threads_of(log_text: str) -> dict[str, int]:
    """Threads of each rule's jobs in a local run's log (Snakemake prints them when > 1)."""
    threads: dict[str, int] = {}
    rule = None
    for line in log_text.splitlines():
        match = STANZA.match(line)
        if match:
            rule = match.group(1)
            threads.setdefault(rule, 1)
        field = re.match(r"^\s*threads: (\d+)", line)
        if field and rule:
            threads[rule] = max(threads[rule], int(field.group(1)))
    return threads


def unfit_args(args: argparse.Namespace) -> None:
    site = yaml.safe_load(args.site.read_text())
    ncpu, _ = node_size()
    threads = dict(site["set-threads"])
    rule = "make_demo" if "make_demo" in threads else next(iter(threads))
    threads[rule] = ncpu + 1
    print("--set-threads " + " ".join(f"{name}={n}" for name, n in threads.items()))


# --- verify ---------------------------------------------------------------------------------


def digests(results: Path) -> dict[str, str]:
    found = {}
    for pattern in COMPARED:
        for path in results.glob(pattern):
            found[str(path.relative_to(results))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def submitted(log_text: str) -> dict[str, Path]:
    """SLURM job id → the executor's log of that job, from the run's own log."""
    return {
        jobid: Path(path)
        for jobid, path in re.findall(
            r"submitted with SLURM jobid (\d+) \(log: (.*?)\)\.?$", log_text, re.MULTILINE
        )
    }


def scontrol_job(jobid: str) -> dict[str, str]:
    out = subprocess.run(
        ["scontrol", "show", "job", "-d", "-o", jobid], capture_output=True, text=True
    ).stdout
    return dict(re.findall(r"(\S+?)=(\S*)", out))


def sacct_tres(jobids: list[str], since: str) -> dict[str, str]:
    out = subprocess.run(
        [
            "sacct",
            "-X",
            "-n",
            "-P",
            "-o",
            "JobIDRaw,AllocTRES",
            "-S",
            since,
            "-j",
            ",".join(jobids),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split("|", 1) for line in out.splitlines() if "|" in line)


def verify(args: argparse.Namespace) -> None:
    local, cluster = args.local.resolve(), args.cluster.resolve()
    log_text = (cluster.parent / f"{cluster.name}.log").read_text()
    report: dict = {"run": cluster.name}

    # 1. outputs byte-identical to the local run
    expected, got = digests(local / "results"), digests(cluster / "results")
    if not expected:
        fail(f"{local}/results holds none of {COMPARED}")
    differ = sorted(
        name for name in expected.keys() | got.keys() if expected.get(name) != got.get(name)
    )
    if differ:
        fail(f"{len(differ)} outputs differ from the local run's: {', '.join(differ[:8])}")
    report["identical_files"] = len(expected)
    print(
        f"outputs: {len(expected)} files byte-identical to the local run's ({', '.join(COMPARED)})"
    )

    # 2. the logs where the README says
    jobs = {job_key(job): job for job in plan_jobs(log_text) if "jobid" in job}
    missing = [
        job[kind]
        for job in jobs.values()
        for kind in ("log", "benchmark")
        if kind in job and not (cluster / job[kind]).is_file()
    ]
    if any("log" not in job for job in jobs.values() if job["rule"] != "all"):
        fail(
            "a job of the run has no log: "
            + ", ".join(k for k, j in jobs.items() if "log" not in j)
        )
    if missing:
        fail(f"logs or benchmarks missing: {', '.join(missing[:8])}")
    local_logs = {p.relative_to(local) for p in (local / "results" / "logs").rglob("*.log")}
    cluster_logs = {p.relative_to(cluster) for p in (cluster / "results" / "logs").rglob("*.log")}
    if local_logs != cluster_logs:
        fail(f"results/logs differ from the local run's: {sorted(local_logs ^ cluster_logs)[:8]}")
    slurm_jobs = submitted(log_text)
    if not slurm_jobs:
        fail("the run submitted no SLURM job")
    for jobid, path in slurm_jobs.items():
        if not path.is_file() or not path.is_relative_to(cluster / ".snakemake" / "slurm_logs"):
            fail(f"SLURM job {jobid}: its log {path} is not under .snakemake/slurm_logs/")
    print(
        f"logs: {len(local_logs)} rule logs under results/logs/ and every benchmark under "
        f"results/benchmarks/, as locally; the executor's log of each of the {len(slurm_jobs)} "
        "SLURM jobs under .snakemake/slurm_logs/"
    )
    report["slurm_jobs"] = len(slurm_jobs)

    # 3. every job of every GPU rule ran in a SLURM job granted a GPU
    gpu = gpu_rules(list(jobs.values()))
    if not gpu:
        fail("no job of the run asked for a GPU")
    ran_in: dict[str, str] = {}
    for jobid, path in slurm_jobs.items():
        for job in plan_jobs(path.read_text()):
            ran_in.setdefault(job_key(job), jobid)
    gpu_jobs = [key for key, job in jobs.items() if job["rule"] in gpu]
    info = {jobid: scontrol_job(jobid) for jobid in slurm_jobs}
    tres = sacct_tres(list(slurm_jobs), args.since) if args.accounting == "slurmdbd" else {}
    # the environment SLURM gave each task (the cluster's TaskProlog): job, step, GPUs
    task_env: dict[str, list[tuple[str, str]]] = {}
    for line in args.task_env.read_text().splitlines():
        jobid, step, devices = line.split()
        task_env.setdefault(jobid, []).append((step, devices))
    gpu_slurm_jobs: dict[str, list[str]] = {}
    for key in gpu_jobs:
        jobid = ran_in.get(key)
        if jobid is None:
            fail(f"{key}: in no SLURM job's log (was it run inside the submitting Snakemake?)")
        gpu_slurm_jobs.setdefault(jobid, []).append(key)
    for jobid, keys in gpu_slurm_jobs.items():
        fields = info[jobid]
        granted = re.search(r"gpu(?::[^:,(]+)?:(\d+)", fields.get("JOB_GRES", ""))
        if not granted or int(granted.group(1)) < 1:
            fail(f"{keys[0]} ran in SLURM job {jobid}, granted no GPU ({fields.get('JOB_GRES')})")
        if args.accounting == "slurmdbd" and "gres/gpu=" not in tres.get(jobid, ""):
            fail(
                f"SLURM job {jobid} ({keys[0]}): sacct's AllocTRES names no GPU: {tres.get(jobid)}"
            )
        # each rule job is one srun step of its SLURM job, and each step saw a GPU
        steps = [devices for step, devices in task_env.get(jobid, []) if step != "batch"]
        if len(steps) < len(keys) or "none" in steps:
            fail(
                f"SLURM job {jobid} ran {len(keys)} GPU jobs ({', '.join(keys)}) in steps that "
                f"saw CUDA_VISIBLE_DEVICES {steps}"
            )
    # jobs side by side hold different GPUs
    devices_of = {
        jobid: {devices for step, devices in task_env[jobid] if step != "batch"}
        for jobid in gpu_slurm_jobs
    }
    span = {jobid: (info[jobid]["StartTime"], info[jobid]["EndTime"]) for jobid in gpu_slurm_jobs}
    side_by_side = 0
    for a in gpu_slurm_jobs:
        for b in gpu_slurm_jobs:
            if a < b and span[a][0] < span[b][1] and span[b][0] < span[a][1]:
                side_by_side += 1
                shared = devices_of[a] & devices_of[b]
                if shared:
                    fail(f"SLURM jobs {a} and {b} ran side by side on GPU {shared}")
    used = sorted(set().union(*devices_of.values()))
    print(
        f"GPUs: all {len(gpu_jobs)} jobs of {', '.join(sorted(gpu))} ran in {len(gpu_slurm_jobs)} "
        f"SLURM jobs granted a GPU (scontrol JOB_GRES{', sacct AllocTRES' if tres else ''}), "
        f"each in a step with CUDA_VISIBLE_DEVICES set ({', '.join(used)}); {side_by_side} pairs "
        "ran side by side, never on one GPU"
    )
    report["gpu_jobs"] = len(gpu_jobs)
    report["gpu_slurm_jobs"] = len(gpu_slurm_jobs)

    # 4. figures: how long the cluster had no job of the run, CPU by accounting
    intervals = sorted(
        (_when(fields["StartTime"]), _when(fields["EndTime"]))
        for fields in info.values()
        if fields.get("StartTime", "Unknown") != "Unknown"
    )
    busy, end = 0.0, None
    for start, stop in intervals:
        if end is None or start > end:
            busy += stop - start
            end = stop
        elif stop > end:
            busy += stop - end
            end = stop
    report["busy_s"] = busy
    if args.accounting == "slurmdbd":
        report["sacct"] = sacct_cpu(list(slurm_jobs), args.since)
    args.out.write_text(json.dumps(report))


def _when(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _seconds(text: str) -> float:
    """sacct's [D-][HH:]MM:SS[.mmm]."""
    days = 0
    if "-" in text:
        day_text, text = text.split("-", 1)
        days = int(day_text)
    parts = [float(part) for part in text.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    return days * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]


def sacct_cpu(jobids: list[str], since: str) -> dict[str, float]:
    """TotalCPU (user + system of every process) of the jobs' batch steps (the Snakemake each
    SLURM job starts, and srun) and of their other steps (one per rule job: Snakemake again,
    then the rule's script), summed, and how many steps of each kind."""
    out = subprocess.run(
        ["sacct", "-n", "-P", "-o", "JobIDRaw,TotalCPU", "-S", since, "-j", ",".join(jobids)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = {"batch_s": 0.0, "batch_n": 0, "steps_s": 0.0, "steps_n": 0}
    for line in out.splitlines():
        jobid, _, cpu = line.partition("|")
        if "." not in jobid or not cpu:  # the allocation: the sum of its steps again
            continue
        kind = "batch" if jobid.endswith(".batch") else "steps"
        if jobid.endswith(".extern"):
            continue
        figures[f"{kind}_s"] += _seconds(cpu)
        figures[f"{kind}_n"] += 1
    return figures


# --- table ----------------------------------------------------------------------------------


def _cpu_file(path: Path) -> float:
    user, system = (float(x) for x in path.read_text().split())
    return user + system


def table(args: argparse.Namespace) -> None:
    work = args.work
    local = json.loads((work / "local.times.json").read_text())
    rows = [("local, snakemake --cores 2", local["wall_s"], local["cpu_s"], None, None, None, "-")]
    notes: list[str] = []
    for check in sorted(work.glob("slurm*.check.json")):
        name = check.name.removesuffix(".check.json")
        figures = json.loads(check.read_text())
        times = json.loads((work / f"{name}.times.json").read_text())
        inside = _cpu_file(work / f"{name}.jobs-cpu-after") - _cpu_file(
            work / f"{name}.jobs-cpu-before"
        )
        label = {
            "slurm": "SLURM, profiles/slurm (the chain jobs of prune.chain_jobs)",
            "slurm-ungrouped": "SLURM, no groups",
            "slurm-before": "SLURM, no groups, status checks from 40 s (as before)",
        }.get(name, name)
        sacct = figures.get("sacct")
        if sacct:
            notes.append(
                f"{label}: sacct TotalCPU {sacct['batch_s']:.0f} s in the {sacct['batch_n']} "
                f"batch steps (the Snakemake each SLURM job starts; "
                f"{sacct['batch_s'] / max(sacct['batch_n'], 1):.1f} s each) and "
                f"{sacct['steps_s']:.0f} s in the {sacct['steps_n']} srun steps (one per rule "
                f"job: Snakemake again, then the rule's script; "
                f"{sacct['steps_s'] / max(sacct['steps_n'], 1):.1f} s each)"
            )
        rows.append(
            (
                label,
                times["wall_s"],
                inside,
                sacct["batch_s"] + sacct["steps_s"] if sacct else None,
                times["cpu_s"],
                figures["slurm_jobs"],
                f"{times['wall_s'] - figures['busy_s']:.0f}",
            )
        )
    print()
    print(
        "| run | wall s | CPU in SLURM jobs s (x local) | sacct TotalCPU s | CPU of the "
        "submitting Snakemake s | SLURM jobs | s without a job running |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, wall, inside, sacct, submit, njobs, idle in rows:
        if njobs is None:
            print(f"| {label} | {wall:.0f} | {inside:.0f} (all of the run) | - | - | - | - |")
            continue
        sacct_text = "-" if sacct is None else f"{sacct:.0f}"
        print(
            f"| {label} | {wall:.0f} | {inside:.0f} ({inside / local['cpu_s']:.2f}x) | "
            f"{sacct_text} | {submit:.0f} | {njobs} | {idle} |"
        )
    print(
        "\nCPU in SLURM jobs: every process slurmd started for the run (the jobs and their step "
        "daemons), measured by tests/cluster/subreaper.py; local: the whole process tree."
    )
    for note in notes:
        print(note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("timed")
    p.add_argument("out", type=Path)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p = commands.add_parser("site-profile")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--accounting", choices=["none", "slurmdbd"], required=True)
    p.add_argument("--account", required=True)
    p.add_argument("--cpu-partition", required=True)
    p.add_argument("--gpu-partition", required=True)
    p.add_argument("--local-log", type=Path, required=True, help="the local run's output")
    p = commands.add_parser("unfit-args")
    p.add_argument("--site", type=Path, required=True)
    p = commands.add_parser("verify")
    p.add_argument("--local", type=Path, required=True)
    p.add_argument("--cluster", type=Path, required=True)
    p.add_argument("--accounting", choices=["none", "slurmdbd"], required=True)
    p.add_argument("--task-env", type=Path, required=True, help="the TaskProlog's record")
    p.add_argument("--since", required=True, help="when the run started (sacct -S)")
    p.add_argument("--out", type=Path, required=True)
    p = commands.add_parser("table")
    p.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "timed":
        command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        raise SystemExit(timed(args.out, command))
    {"site-profile": site_profile, "unfit-args": unfit_args, "verify": verify, "table": table}[
        args.command
    ](args)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()

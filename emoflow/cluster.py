"""What a SLURM cluster can run, checked before the workflow submits anything.

A SLURM job that asks for more than every node of its partition has (more CPUs, memory or
GPUs, or more time than the partition allows) pends for ever (reason ``PartitionConfig`` or
``Resources``), and Snakemake's SLURM executor waits with it and prints nothing. So does a run
whose status command cannot work: the executor asks ``sacct`` whenever the command exists, and
on a cluster without an accounting database ``sacct`` fails ("Slurm accounting storage is
disabled"), the executor loses track of its jobs and waits for ever.

Before a SLURM run submits its first job, :func:`check_submission` (called by the workflow's
``onstart`` handler) compares what each job will ask for, the way
``snakemake-executor-plugin-slurm`` builds its ``sbatch`` line (``--cpus-per-task`` from
``cpus_per_task`` or the threads, ``--mem`` from ``mem_mb`` or ``mem_mb_per_cpu``, ``-t`` from
``runtime``, ``--gpus``/``--gres`` from ``gpu``/``gpu_model``/``gres``, ``-p`` from
``slurm_partition`` or the default partition), with the nodes ``sinfo`` lists for that
partition, and checks that the status command answers. Anything that cannot run stops the
run at once with one line per problem, naming the rule (or job group), its request and the
largest node of the partition. Checked are each node's CPUs, memory and GPUs and the
partition's time limit; per-user limits, QOS and nodes that are down are not.

The functions below take plain values (:func:`parse_sinfo`, :func:`unfit`), or any object
shaped like a Snakemake job or workflow (:func:`request_of`, :func:`check_submission`), so they
are tested with stand-ins.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from emoflow.errors import EmoflowError

SINFO_FORMAT = "%N|%P|%c|%m|%G|%l"
"""One line per node and partition: name, partition (``*``: the default), CPUs, memory (MB),
generic resources (``gpu:a100:4(S:0-1)``, ``(null)``), the partition's time limit."""


class ClusterError(EmoflowError):
    """The cluster cannot run the workflow as asked; one line per problem."""


@dataclass(frozen=True)
class Node:
    """One node as one partition offers it (``sinfo -N``: a node in two partitions is two)."""

    name: str
    partition: str
    cpus: int
    mem_mb: int
    gpus: Mapping[str, int] = field(default_factory=dict)
    """GPUs by type (``""`` for GPUs declared without one)."""
    max_minutes: int | None = None
    """The partition's time limit in minutes; ``None``: unlimited."""
    default: bool = False
    """Whether this is the cluster's default partition."""

    def gpu_count(self, model: str | None = None) -> int:
        if model:
            return self.gpus.get(model, 0)
        return sum(self.gpus.values())

    def describe(self) -> str:
        gpus = self.gpu_count()
        gpu_text = "no GPU" if not gpus else f"{gpus} GPU" + ("s" if gpus > 1 else "")
        typed = sorted(kind for kind in self.gpus if kind)
        if typed:
            gpu_text += f" ({', '.join(typed)})"
        time_text = "no time limit" if self.max_minutes is None else f"{self.max_minutes} min"
        return f"{self.name}: {self.cpus} CPUs, {self.mem_mb} MB, {gpu_text}, {time_text}"


@dataclass(frozen=True)
class Request:
    """What one SLURM job asks for."""

    job: str
    """The rule or group, as a user names it: ``rule build_features``, ``group chain (rule
    train_models)``."""
    partition: str | None
    cpus: int
    mem_mb: int
    minutes: int | None
    gpus: int = 0
    gpu_model: str | None = None

    def describe(self) -> str:
        parts = [f"{self.cpus} CPU" + ("s" if self.cpus != 1 else "")]
        if self.mem_mb:
            parts.append(f"{self.mem_mb} MB")
        if self.minutes is not None:
            parts.append(f"{self.minutes} min")
        if self.gpus:
            model = f" {self.gpu_model}" if self.gpu_model else ""
            parts.append(f"{self.gpus}{model} GPU" + ("s" if self.gpus > 1 else ""))
        return ", ".join(parts)

    def shortfalls(self, node: Node) -> list[str]:
        """What ``node`` lacks to run this request (empty: it can)."""
        short = []
        if self.cpus > node.cpus:
            short.append("CPUs")
        if self.mem_mb > node.mem_mb:
            short.append("memory")
        if self.gpus > node.gpu_count(self.gpu_model):
            short.append("GPUs")
        if (
            self.minutes is not None
            and node.max_minutes is not None
            and self.minutes > node.max_minutes
        ):
            short.append("time")
        return short


# --- sinfo ----------------------------------------------------------------------------------


def parse_minutes(text: str) -> int | None:
    """A SLURM time limit in minutes (rounded up); ``None`` for no limit.

    Accepts what ``sinfo`` prints and ``sbatch -t`` takes: ``infinite``/``UNLIMITED``,
    ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``.
    """
    value = text.strip()
    if value.lower() in {"infinite", "unlimited", "n/a", ""}:
        return None
    days = 0
    if "-" in value:
        day_text, value = value.split("-", 1)
        days = int(day_text)
        fields = [int(part) for part in value.split(":")]
        hours, minutes, seconds = [*fields, 0, 0][:3]
    else:
        fields = [int(part) for part in value.split(":")]
        if len(fields) == 1:
            hours, minutes, seconds = 0, fields[0], 0
        elif len(fields) == 2:
            hours, (minutes, seconds) = 0, fields
        else:
            hours, minutes, seconds = fields[:3]
    return days * 1440 + hours * 60 + minutes + math.ceil(seconds / 60)


def parse_gres(text: str) -> dict[str, int]:
    """GPUs by type from a ``%G`` field: ``gpu:a100:4(S:0-1),gpu:2,mps:100`` → {"a100": 4,
    "": 2}."""
    gpus: dict[str, int] = {}
    # commas inside the socket lists "(S:0,1)" do not separate resources
    for item in re.split(r",(?![^(]*\))", text.strip()):
        item = re.sub(r"\(.*?\)", "", item).strip()
        parts = item.split(":")
        if parts[0] != "gpu" or len(parts) < 2:
            continue
        kind = parts[1] if len(parts) > 2 else ""
        count = re.match(r"\d+", parts[-1])
        if count:
            gpus[kind] = gpus.get(kind, 0) + int(count.group())
    return gpus


def parse_sinfo(text: str) -> list[Node]:
    """The nodes in the output of ``sinfo -N -h -o`` :data:`SINFO_FORMAT`."""
    nodes = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 6:
            raise ClusterError(f"sinfo: cannot read the line {line!r} (format {SINFO_FORMAT})")
        name, partition, cpus, mem, gres, limit = (part.strip() for part in fields)
        nodes.append(
            Node(
                name=name,
                partition=partition.rstrip("*"),
                cpus=int(re.match(r"\d+", cpus).group()),  # type: ignore[union-attr]
                mem_mb=int(re.match(r"\d+", mem).group()),  # type: ignore[union-attr]
                gpus=parse_gres(gres),
                max_minutes=parse_minutes(limit),
                default=partition.endswith("*"),
            )
        )
    return nodes


def read_nodes(sinfo: str = "sinfo") -> list[Node]:
    """Every node of every partition, from ``sinfo``."""
    try:
        done = subprocess.run(
            [sinfo, "-N", "-h", "-o", SINFO_FORMAT],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ClusterError(f"emoflow: sinfo did not answer ({error})") from error
    if done.returncode != 0:
        raise ClusterError(f"emoflow: sinfo failed: {done.stderr.strip() or done.returncode}")
    return parse_sinfo(done.stdout)


# --- the check ------------------------------------------------------------------------------


def unfit(
    requests: Iterable[Request], nodes: Sequence[Node], *, any_partition: bool = False
) -> list[str]:
    """One line for every distinct request that no node of its partition can run.

    A request without a partition goes to the default one (``any_partition``: to whichever
    can run it, as with the executor's ``slurm-partition-config``).
    """
    partitions = sorted({node.partition for node in nodes})
    default = next((node.partition for node in nodes if node.default), None)
    problems: list[str] = []
    for request in requests:
        partition = request.partition or (None if any_partition else default)
        # sbatch -p takes several partitions, separated by commas: any of them may run the job
        names = set(partition.split(",")) if partition else set(partitions)
        candidates = [node for node in nodes if node.partition in names]
        if not nodes:
            line = "emoflow: sinfo lists no node: no SLURM job of this run could start"
        elif not candidates:
            line = (
                f"emoflow: {request.job} asks for SLURM partition '{partition}', which does "
                f"not exist (sinfo lists {', '.join(partitions) or 'none'}): set slurm_partition "
                "in your site profile (README, 'Clusters and GPUs')"
            )
        elif any(not request.shortfalls(node) for node in candidates):
            continue
        else:
            largest = max(
                candidates,
                key=lambda node: (
                    -len(request.shortfalls(node)),
                    node.gpu_count(request.gpu_model),
                    node.cpus,
                    node.mem_mb,
                    node.max_minutes is None,
                    node.max_minutes or 0,
                ),
            )
            where = f"partition '{partition}'" if partition else "any partition"
            line = (
                f"emoflow: {request.job} asks for {request.describe()}, more than any node of "
                f"{where} has (the largest, {largest.describe()}; short of "
                f"{' and '.join(request.shortfalls(largest))}), so SLURM would keep it pending "
                "for ever: lower it in your site profile (set-threads, set-resources) or choose "
                "another partition (README, 'Clusters and GPUs')"
            )
        if line not in problems:
            problems.append(line)
    return problems


def _number(value: Any) -> int:
    """An integer resource value; 0 for what is not one (unset, ``<TBD>``, a string)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return math.ceil(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return 0


def _gres_gpus(gres: str) -> tuple[int, str | None]:
    """GPUs asked for by a ``gres`` resource: ``gpu:2`` → (2, None), ``gpu:a100:1`` →
    (1, "a100"), ``gpu`` → (1, None)."""
    for item in gres.split(","):
        parts = item.strip().split(":")
        if parts[0] != "gpu":
            continue
        if len(parts) == 1:
            return 1, None
        if len(parts) == 2:
            return (int(parts[1]), None) if parts[1].isdigit() else (1, parts[1])
        return _number(parts[2]) or 1, parts[1]
    return 0, None


def request_of(job: Any) -> Request:
    """What ``snakemake-executor-plugin-slurm`` will ask SLURM for to run ``job`` (a Snakemake
    job or group job: ``resources``, ``threads``, ``is_group()``)."""
    resources = job.resources
    get = resources.get
    gpus, model = _number(get("gpu")), get("gpu_model") or None
    gres = get("gres")
    if isinstance(gres, str) and "gpu" in gres:
        gpus, gres_model = _gres_gpus(gres)
        model = gres_model or model
    elif model and not gpus:
        gpus = 1  # the plugin's default count with gpu_model
    cpus_per_task = get("cpus_per_task")
    cpus_per_gpu = _number(get("cpus_per_gpu"))
    if cpus_per_task is not None and _number(cpus_per_task) != 0:
        cpus = max(1, _number(cpus_per_task))
    elif gpus and cpus_per_gpu > 0:
        cpus = cpus_per_gpu * gpus
    else:
        cpus = max(1, _number(job.threads))
    per_cpu = _number(get("mem_mb_per_cpu"))
    mem_mb = per_cpu * cpus if per_cpu else _number(get("mem_mb"))
    runtime = get("runtime")
    minutes = _number(runtime) if runtime is not None and _number(runtime) else None
    partition = get("slurm_partition")
    return Request(
        job=_job_label(job),
        partition=str(partition) if partition else None,
        cpus=cpus,
        mem_mb=mem_mb,
        minutes=minutes,
        gpus=gpus,
        gpu_model=str(model) if model else None,
    )


def _job_label(job: Any) -> str:
    if job.is_group():
        rules = sorted({member.rule.name for member in job.jobs})
        noun = "rule" if len(rules) == 1 else "rules"
        return f"group {job.groupid} ({noun} {', '.join(rules)})"
    return f"rule {job.rule.name}"


def submitted_jobs(dag: Any) -> list[Any]:
    """The jobs a cluster run will submit: one per job group, none for local rules."""
    jobs: list[Any] = []
    seen_groups: set[int] = set()
    for job in dag.needrun_jobs():
        group = dag.get_job_group(job)
        if group is not None:
            if id(group) in seen_groups:
                continue
            seen_groups.add(id(group))
            job = group
        if job.is_local:
            continue
        jobs.append(job)
    return jobs


# --- the status command ---------------------------------------------------------------------

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, timeout=60)


def min_job_age(run: Runner = _run) -> int | None:
    """SLURM's ``MinJobAge`` in seconds: how long ``squeue`` still shows a finished job."""
    try:
        done = run(["scontrol", "show", "config"])
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"^\s*MinJobAge\s*=\s*(\d+)", done.stdout or "", re.MULTILINE)
    return int(match.group(1)) if match else None


def status_problems(
    status_command: str | None,
    init_seconds: int,
    *,
    run: Runner = _run,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str]:
    """Why the executor's status checks would not see its jobs end (empty: they will).

    The executor uses ``sacct`` when it is installed (and falls back from ``squeue`` to it
    when ``MinJobAge`` is under three status intervals); ``sacct`` must then answer.
    """
    command = status_command or ("sacct" if which("sacct") else "squeue")
    age = min_job_age(run)
    fallback = (
        command == "squeue"
        and which("sacct") is not None
        and (age is None or age < 3 * init_seconds)
    )
    if command != "sacct" and not fallback:
        return []
    if which("sacct") is None:
        return []
    try:
        done = run(["sacct", "-X", "-n", "-P", "-o", "JobID", "-S", "now"])
    except (OSError, subprocess.TimeoutExpired) as error:
        answer, failed = str(error), True
    else:
        answer, failed = (done.stderr or done.stdout).strip(), done.returncode != 0
    if not failed:
        return []
    why = f"sacct fails here ('{answer.splitlines()[0] if answer else 'no answer'}')"
    if fallback:
        if age is None:
            because, fix = "SLURM's MinJobAge is unknown", "ask your admins for MinJobAge"
        else:
            because = f"MinJobAge {age} s is under 3 x {init_seconds} s"
            fix = f"set slurm-init-seconds-before-status-checks below {max(age // 3, 1)}"
        return [
            "emoflow: the SLURM executor would check its jobs with sacct (slurm-status-command "
            f"is squeue, but {because}, slurm-init-seconds-before-status-checks) and {why}, so "
            f"it would lose its jobs and wait for ever: {fix}"
        ]
    return [
        f"emoflow: the SLURM executor checks its jobs with sacct and {why}, so it would lose "
        "its jobs and wait for ever: add 'slurm-status-command: squeue' to your site profile "
        "(README, 'Clusters and GPUs')"
    ]


def check_submission(
    workflow: Any,
    *,
    sinfo: str = "sinfo",
    run: Runner = _run,
    which: Callable[[str], str | None] = shutil.which,
) -> None:
    """Raise :class:`ClusterError` (one line per problem) before a SLURM run submits a job
    that no node can run, or when its status command cannot work. Other executors, and
    machines without ``sinfo``, pass.
    """
    plugin = getattr(workflow, "executor_plugin", None)
    if getattr(plugin, "name", None) != "slurm" or which(sinfo) is None:
        return
    settings = workflow.executor_settings
    problems = status_problems(
        getattr(settings, "status_command", None),
        int(getattr(settings, "init_seconds_before_status_checks", None) or 40),
        run=run,
        which=which,
    )
    nodes = read_nodes(sinfo)
    requests = [request_of(job) for job in submitted_jobs(workflow.dag)]
    problems += unfit(
        requests, nodes, any_partition=bool(getattr(settings, "partition_config", None))
    )
    if problems:
        raise ClusterError("\n".join(problems))

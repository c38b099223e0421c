"""CPU time of every process of a run, each measured by itself at its exit (not sampled).

Snakemake's ``benchmark:`` files sample a job's processes every few seconds and miss what a
short job spends between samples and what its children spend. Here every Python process
started below the benchmark records its own CPU time when it exits, split into

- ``startup``: the interpreter's start until ``site`` imports ``sitecustomize`` (this hook);
- ``imports``: every ``import`` (and :func:`importlib.import_module`) that loads a module,
  measured on the importing thread's CPU clock (an outermost import counts its nested ones
  once), wherever in the program it happens (a lazy ``import torch`` in a function counts);
- ``work``: the rest of the process's CPU (all its threads) until its last exit handler runs,
  and that of the children it waited for that kept no record of their own: the processes a
  job forks for pieces of its work after its imports (:mod:`emoflow._forked`), which end
  without running exit handlers, or non-Python programs it runs. (The scheduler's children are
  the jobs, each with its record; the jobs' memory watchers outlive their job and are not
  waited for by it.)

The benchmark process becomes a *child subreaper* (``PR_SET_CHILD_SUBREAPER``), so processes
orphaned below it (the jobs' memory watchers) are reaped by it, and the CPU time of the whole
process tree is ``getrusage(RUSAGE_CHILDREN)``: what the records leave out of it (shells,
interpreter teardown after the last exit handler, non-Python processes) is ``unrecorded``.

Use::

    records_dir = Path(tempfile.mkdtemp())
    env = accounting_env(records_dir)          # PYTHONPATH and EMOFLOW_CPU_RECORDS added
    become_subreaper()
    before = tree_cpu()
    subprocess.run([...], env={**os.environ, **env})
    reap_orphans()
    total = tree_cpu() - before
    rows = summarise(read_records(records_dir), total)
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import resource
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HOOK = '''"""Written by emoflow's benchmarks/process_cpu.py: records this process's CPU at exit."""
import os as _os

if _os.environ.get("EMOFLOW_CPU_RECORDS"):
    import atexit as _atexit
    import builtins as _builtins
    import importlib as _importlib
    import json as _json
    import sys as _sys
    import threading as _threading
    import time as _time

    _startup = _time.process_time()
    _wall = _time.time()
    _state = _threading.local()
    _imports = [0.0]
    _real_import = _builtins.__import__
    _real_import_module = _importlib.import_module

    def _timed(function):
        def timed(*args, **kwargs):
            if getattr(_state, "depth", 0):
                return function(*args, **kwargs)
            _state.depth = 1
            begin = _time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                _imports[0] += _time.thread_time() - begin
                _state.depth = 0

        return timed

    _builtins.__import__ = _timed(_real_import)
    _importlib.import_module = _timed(_real_import_module)

    def _record():
        import resource as _resource

        pid = _os.getpid()
        reaped = _resource.getrusage(_resource.RUSAGE_CHILDREN)
        record = {
            "pid": pid,
            "ppid": _os.getppid(),
            "argv": list(_sys.argv),
            "startup": _startup,
            "imports": _imports[0],
            "total": _time.process_time(),
            "children": reaped.ru_utime + reaped.ru_stime,
            "wall": _time.time() - _wall,
            "begin": _wall,
        }
        folder = _os.environ["EMOFLOW_CPU_RECORDS"]
        with open(_os.path.join(folder, "%d.%d.json" % (pid, _time.time_ns())), "w") as out:
            _json.dump(record, out)

    _atexit.register(_record)  # registered first, so it runs last
'''

PR_SET_CHILD_SUBREAPER = 36
_SCRIPT = re.compile(r"\.snakemake[/\\]scripts[/\\]tmp[^/\\.]*\.(?P<script>[\w-]+)\.py$")


def accounting_env(folder: Path) -> dict[str, str]:
    """Write the hook into ``folder/site`` and return the environment that activates it
    (records go to ``folder/records``); ``PYTHONPATH`` keeps what it had after the hook."""
    site = folder / "site"
    records = folder / "records"
    site.mkdir(parents=True, exist_ok=True)
    records.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(HOOK)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "EMOFLOW_CPU_RECORDS": str(records)}


def become_subreaper() -> None:
    """Adopt every process orphaned below this one, so its CPU time reaches
    ``RUSAGE_CHILDREN`` when :func:`reap_orphans` waits for it (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_orphans(timeout_s: float = 10.0) -> None:
    """Wait for adopted orphans (e.g. the jobs' memory watchers, which end with their job)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)


def tree_cpu() -> float:
    """CPU seconds (user + system) of every process reaped below this one so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def read_records(folder: Path) -> list[dict[str, Any]]:
    """Every record written under ``folder/records``."""
    return [json.loads(path.read_text()) for path in sorted((folder / "records").glob("*.json"))]


def role(record: dict[str, Any]) -> str:
    """What a process was: a workflow script's rule (``start_chains``), ``snakemake`` (the
    scheduler), or the program's name."""
    argv = record.get("argv") or [""]
    for arg in argv:
        found = _SCRIPT.search(str(arg))
        if found:
            return found.group("script")
    name = Path(str(argv[0])).name
    if "snakemake" in " ".join(str(a) for a in argv[:2]):
        return "snakemake"
    return name or "python"


def process_totals(records: Iterable[dict[str, Any]]) -> dict[int, float]:
    """Each recorded process's CPU seconds (pid → seconds): its own, and that of the children
    it waited for when none of them kept a record (processes it forked for pieces of its
    work, non-Python programs); a process whose children kept records (the scheduler) counts
    its own alone, so nothing is counted twice."""
    records = list(records)
    with_records = {record.get("ppid") for record in records}  # parents of recorded processes
    return {
        record["pid"]: float(record["total"])
        + (0.0 if record["pid"] in with_records else float(record.get("children", 0.0)))
        for record in records
    }


def summarise(records: Iterable[dict[str, Any]], tree_total: float) -> dict[str, Any]:
    """Per role: processes, CPU at exit, start-up, imports and work; and the totals against the
    whole tree's CPU (``unrecorded``: shells, teardown, non-Python processes).

    ``pure_work`` is the work of the workflow's job processes (every role but the scheduler);
    ``overhead_ratio`` is the whole tree's CPU over it.
    """
    by_role: dict[str, dict[str, float]] = defaultdict(
        lambda: {"processes": 0, "total": 0.0, "startup": 0.0, "imports": 0.0, "work": 0.0}
    )
    records = list(records)
    totals = process_totals(records)
    for record in records:
        row = by_role[role(record)]
        total = totals[record["pid"]]
        startup, imports = float(record["startup"]), float(record["imports"])
        row["processes"] += 1
        row["total"] += total
        row["startup"] += startup
        row["imports"] += imports
        row["work"] += max(total - startup - imports, 0.0)
    recorded = sum(row["total"] for row in by_role.values())
    pure = sum(row["work"] for name, row in by_role.items() if name != "snakemake")
    return {
        "roles": dict(sorted(by_role.items(), key=lambda item: -item[1]["total"])),
        "recorded": recorded,
        "tree": tree_total,
        "unrecorded": tree_total - recorded,
        "pure_work": pure,
        "overhead_ratio": tree_total / pure if pure > 0 else float("nan"),
    }


def format_summary(summary: dict[str, Any], title: str) -> str:
    """A table of :func:`summarise`'s result."""
    lines = [
        f"{title}: CPU of every process, measured at its exit",
        f"  {'role':<22}{'procs':>6}{'CPU s':>9}{'start-up':>10}{'imports':>9}{'work':>9}",
    ]
    for name, row in summary["roles"].items():
        lines.append(
            f"  {name:<22}{int(row['processes']):>6}{row['total']:>9.2f}{row['startup']:>10.2f}"
            f"{row['imports']:>9.2f}{row['work']:>9.2f}"
        )
    lines.append(
        f"  whole tree {summary['tree']:.1f} s CPU = recorded {summary['recorded']:.1f} s"
        f" + unrecorded (shells, teardown) {summary['unrecorded']:.1f} s;"
        f" pure work of the jobs {summary['pure_work']:.1f} s;"
        f" CPU / pure work = {summary['overhead_ratio']:.2f}x"
    )
    return "\n".join(lines)


def format_timeline(records: Iterable[dict[str, Any]]) -> str:
    """Every recorded process in the order it began: its start and end (seconds after the
    first process began), wall and CPU seconds (:func:`process_totals`) and role: where a
    run leaves cores idle."""
    records = sorted(records, key=lambda record: float(record["begin"]))
    if not records:
        return "  (no processes recorded)"
    totals = process_totals(records)
    first = float(records[0]["begin"])
    lines = [f"  {'start s':>8}{'end s':>8}{'wall s':>8}{'CPU s':>8}  role"]
    for record in records:
        begin = float(record["begin"]) - first
        cpu = totals[record["pid"]]
        lines.append(
            f"  {begin:8.2f}{begin + float(record['wall']):8.2f}{float(record['wall']):8.2f}"
            f"{cpu:8.2f}  {role(record)}"
        )
    return "\n".join(lines)

"""Logging set-up shared by the workflow scripts and the command line.

MediaPipe's native (C++) code logs through glog/absl straight to file descriptor 2 ("INFO:
Created TensorFlow Lite XNNPACK delegate for CPU.", "W0000 … inference_feedback_manager.cc
…"); ``GLOG_minloglevel`` and ``TF_CPP_MIN_LOG_LEVEL`` do not silence MediaPipe 0.10.21
(tried). The workflow's jobs send descriptor 2 to their log (:func:`start_job`); the command
line keeps those lines off the terminal by pointing descriptor 2 elsewhere while Python's own
messages (logging, progress bars, errors) keep the terminal (:func:`console`).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import logging
import os
import re
import select
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_IMPORTED = time.time()
"""When this module was imported: in a workflow job, as its script began (the first import of
every script is :func:`start_job`), before the heavy imports the job's span must include."""


def start_job(log_path: str | Path, *, mem_mb: int | None = None, rule: str | None = None) -> None:
    """The first call of every workflow script: its log (:func:`log_to_file`), faults named as
    faults (:func:`watch_job`), and no cyclic garbage collection over what the job imported.

    ``mem_mb`` and ``rule`` (what the job's rule asks and its name, for the messages of a job
    that runs out of memory) are taken from the script's ``snakemake`` object when not given.

    A job is a short process that imports a lot (torch alone leaves ~170,000 objects for the
    collector to track, 0.08 s per full collection) and does little work on the demo. Python's
    collector would go over all of them in every full collection and again while the
    interpreter shuts down: ~0.3 s of CPU per job that imports torch (``python -c "import
    torch"``: 1.23 s of CPU, 0.97 s with a ``gc.freeze()`` at the end). ``gc.freeze()``
    moves the objects alive now, the imported modules and their tables, into the permanent
    generation that collections skip, and again at exit (``atexit`` runs before the
    interpreter's last collections). The job's own data is still collected while it runs, and
    every object is still freed by reference counting; only cycles left at exit are not
    broken, which the operating system does at once. The job's outputs are written and
    closed (atomically) before it ends, so nothing waits for a collection to be flushed.

    The log's ``started`` line bears the time the script began importing, so the job's span
    in its log includes its imports (~1 s of a demo ``prune_chain`` job).
    """
    log_to_file(log_path, started=_IMPORTED)
    watch_job(log_path, **_rule_facts(mem_mb, rule))
    gc.freeze()
    atexit.register(gc.freeze)


# -- faults named as faults ------------------------------------------------------------------
FAULT_LOGGER = "emoflow.job"
"""The logger of a job's span and faults; :func:`job_faults` reads its ERROR lines back."""
_MEMORY_WORDS = ("out of memory", "can't allocate memory", "unable to allocate", "cannot allocate")


def _rule_facts(mem_mb: int | None, rule: str | None) -> dict[str, Any]:
    """The rule's name and ``mem_mb``, from the arguments or the script's ``snakemake``."""
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    if rule is None:
        rule = getattr(job, "rule", None)
    if mem_mb is None:
        resources = getattr(job, "resources", None)
        mem_mb = getattr(resources, "mem_mb", None)
    return {"mem_mb": int(mem_mb) if isinstance(mem_mb, int | float) else None, "rule": rule}


def peak_rss_mb() -> float:
    """The most memory this process has held resident so far, in MB (MiB): ``VmHWM``, which
    starts afresh when the process execs. ``ru_maxrss`` does not: a job started from a large
    process (a test session, a Snakemake of many jobs) would report its parent's peak; it is
    the fallback where ``/proc`` cannot be read."""
    import resource

    found = _resident_peak_kb(os.getpid())
    if found:
        return found / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def memory_error(error: BaseException | None) -> BaseException | None:
    """The out-of-memory error in ``error`` or its causes (Python's ``MemoryError``, numpy's
    "Unable to allocate", torch's "can't allocate memory" or CUDA "out of memory"), if any."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        text = str(error).lower()
        if isinstance(error, MemoryError) or (
            isinstance(error, RuntimeError) and any(word in text for word in _MEMORY_WORDS)
        ):
            return error
        error = error.__cause__ or error.__context__
    return None


def _advice(rule: str | None, mem_mb: int | None) -> str:
    asked = f"the rule asks mem_mb={mem_mb}" if mem_mb else "the rule declares no mem_mb"
    name = rule or "RULE"
    return (
        f"{asked}; give the job more memory (snakemake --set-resources {name}:mem_mb=N, or a "
        "profile's set-resources) or lower the settings that size it"
    )


def memory_message(error: BaseException, *, rule: str | None, mem_mb: int | None) -> str:
    """The one line that names a job's memory failure: what failed, the peak resident memory
    seen, and the rule's ``mem_mb``."""
    what = f"{type(error).__name__}: {' '.join(str(error).split())}"[:300]
    job = f"rule {rule}" if rule else "the job"
    return (
        f"out of memory: {job} failed with {what}, at a peak of {peak_rss_mb():.0f} MB "
        f"resident; {_advice(rule, mem_mb)}"
    )


def cgroup_oom_kills() -> int | None:
    """The out-of-memory kills counted in this process's cgroup (v2), if it can be read."""
    try:
        for line in Path("/sys/fs/cgroup/memory.events").read_text().splitlines():
            name, _, count = line.partition(" ")
            if name == "oom_kill":
                return int(count)
    except (OSError, ValueError):
        pass
    return None


def oom_killed_since(before: int | None) -> bool:
    """Whether this process's cgroup counted an out-of-memory kill since it counted
    ``before`` (:func:`cgroup_oom_kills`; ``False`` where either count cannot be read)."""
    now = cgroup_oom_kills()
    return before is not None and now is not None and now > before


def _resident_peak_kb(pid: int) -> int:
    """Process ``pid``'s peak resident memory (``VmHWM``) in kB, 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def watch_job(log_path: str | Path, *, mem_mb: int | None, rule: str | None) -> None:
    """Name a job's faults in its log: an out-of-memory error (the exception, the peak
    resident memory, the rule's ``mem_mb``), and a process killed before it finished.

    A killed process (SIGKILL, as the out-of-memory killer sends) can say nothing itself, so a
    small watcher process forked here follows the job's peak resident memory (``VmHWM``, read
    four times a second) and, when the job ends without its normal exit, appends the line to
    the job's log (whether the kernel counted an out-of-memory kill in the job's cgroup, the
    peak it last saw, the rule's ``mem_mb``). ``onerror`` of the workflow prints these lines
    (:func:`job_faults`).
    """
    logger = logging.getLogger(FAULT_LOGGER)
    previous_hook = sys.excepthook

    def hook(kind: type[BaseException], error: BaseException, trace: Any) -> None:
        previous_hook(kind, error, trace)
        found = memory_error(error)
        if found is not None:
            logger.error(memory_message(found, rule=rule, mem_mb=mem_mb))

    sys.excepthook = hook
    if not hasattr(os, "fork") or not Path(f"/proc/{os.getpid()}/status").exists():
        return
    read_end, write_end = os.pipe()
    parent = os.getpid()
    oom_kills = cgroup_oom_kills()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:  # the watcher: never returns, never runs the parent's exit handlers
        try:
            _watch(parent, read_end, Path(log_path), rule, mem_mb, oom_kills)
        finally:
            os._exit(0)
    os.close(read_end)

    def finished() -> None:
        with contextlib.suppress(OSError):
            os.write(write_end, b"done")
            os.close(write_end)

    atexit.register(finished)


def _watch(
    parent: int,
    read_end: int,
    log_path: Path,
    rule: str | None,
    mem_mb: int | None,
    oom_kills: int | None,
) -> None:
    """The watcher process's loop (see :func:`watch_job`)."""
    null = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):  # hold none of the job's streams (Snakemake's pipes)
        os.dup2(null, descriptor)
    os.closerange(3, read_end)  # nor any other file of the job's
    os.closerange(read_end + 1, 4096)
    peak_kb = 0
    while True:
        peak_kb = max(peak_kb, _resident_peak_kb(parent))
        ready, _, _ = select.select([read_end], [], [], 0.25)
        if ready:
            if os.read(read_end, 16):
                return  # the job ended normally (its exit handlers ran)
            break  # the pipe closed without a word: the job's process is gone
        if os.getppid() != parent:  # gone, though a process it forked holds the pipe open
            break
    if oom_killed_since(oom_kills):
        how = "the kernel's out-of-memory killer killed it"
    else:
        how = "it was killed (SIGKILL, as the out-of-memory killer sends) or crashed"
    job = f"rule {rule}'s process {parent}" if rule else f"the job's process {parent}"
    line = (
        f"out of memory? {job} ended before it finished: {how}, at a peak of at least "
        f"{peak_kb / 1024:.0f} MB resident (the last seen); {_advice(rule, mem_mb)}"
    )
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(log_path, "a") as log:
        log.write(f"{stamp},000 ERROR {FAULT_LOGGER}: {line}\n")


def job_faults(snakemake_log: str | Path | list[str] | None) -> list[str]:
    """The fault lines (:func:`watch_job`) in the logs of the jobs a Snakemake run reports
    as failed (its ``Error in rule …`` blocks name each job's log), one per line with the
    log's path; empty when there are none or the run's log cannot be read.

    ``snakemake_log`` is what ``onerror`` gets as ``log``: the run's log file, or a list of
    them."""
    paths = snakemake_log if isinstance(snakemake_log, list | tuple) else [snakemake_log]
    text = ""
    for path in paths:
        with contextlib.suppress(OSError, TypeError):
            text += Path(str(path)).read_text(errors="replace")
    logs = dict.fromkeys(
        match.group(1).strip()
        for match in re.finditer(r"^\s*log: (.+?)(?: \(check log file\(s\).*)?$", text, re.M)
    )
    found = []
    for job_log in logs:
        try:
            lines = Path(job_log).read_text(errors="replace").splitlines()
        except OSError:
            continue
        marker = f" ERROR {FAULT_LOGGER}: "
        found += [f"{job_log}: {line.split(marker, 1)[1]}" for line in lines if marker in line]
    return found


def log_to_file(path: str | Path, *, started: float | None = None) -> None:
    """Send Python logging, warnings and native (C++) stderr output to ``path``.

    Called by :func:`start_job`, so a rule's log holds MediaPipe's and TensorFlow Lite's
    messages as well as emoflow's. The job's ``started`` line bears the time ``started``
    (seconds since the epoch; default: now), its ``finished`` line the time it ends.
    """
    log_path = Path(path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    stream = open(log_path, "a", buffering=1)  # kept open for the life of the process
    os.dup2(stream.fileno(), 2)
    sys.stderr = stream
    logging.basicConfig(
        stream=stream,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
    # the job's span, so overlapping jobs can be seen in their logs
    job = logging.getLogger("emoflow.job")
    record = job.makeRecord(
        job.name, logging.INFO, __file__, 0, "started (pid %d)", (os.getpid(),), None
    )
    if started is not None:
        record.created = started
        record.msecs = (started - int(started)) * 1000
    if job.isEnabledFor(logging.INFO):
        job.handle(record)
    atexit.register(job.info, "finished (pid %d)", os.getpid())


def _uses_descriptor_2(stream: object) -> bool:
    """Whether ``stream`` writes to file descriptor 2 (not, e.g., a test's capture)."""
    try:
        return stream is not None and stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def native_stderr_aside(keep: bool = False) -> Iterator[IO[bytes] | None]:
    """Keep native (C++) messages written to file descriptor 2 off the terminal.

    Descriptor 2 points at a temporary file for the block; ``sys.stderr`` (Python logging,
    progress bars, error lines) is moved to a copy of the original descriptor, so it still
    reaches the terminal. Yields the temporary file (``None`` with ``keep``, or without a
    descriptor 2: nothing is moved), so a caller can show its content when something went
    wrong.
    """
    try:
        saved = -1 if keep else os.dup(2)
    except OSError:  # no descriptor 2 at all: nothing to keep off
        saved = -1
    if saved < 0:
        yield None
        return
    original_stream = sys.stderr
    python_stream = None
    with tempfile.NamedTemporaryFile("w+b", prefix="emoflow-native-", suffix=".log") as sink:
        try:
            if _uses_descriptor_2(original_stream):
                original_stream.flush()
                python_stream = os.fdopen(
                    os.dup(2),
                    "w",
                    buffering=1,
                    encoding=getattr(original_stream, "encoding", None) or "utf-8",
                    errors="backslashreplace",
                )
                sys.stderr = python_stream
            os.dup2(sink.fileno(), 2)
            yield sink
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if python_stream is not None:
                sys.stderr = original_stream
                python_stream.close()


def native_messages(sink: IO[bytes] | None) -> str:
    """What native code wrote to the file of :func:`native_stderr_aside`."""
    if sink is None:
        return ""
    sink.flush()
    sink.seek(0)
    return sink.read().decode("utf-8", errors="backslashreplace")


@contextlib.contextmanager
def console_logging(verbose: bool = False, quiet: bool = False) -> Iterator[None]:
    """Plain logging to (the current) ``sys.stderr`` for one command of the command line:
    INFO and above; DEBUG with ``verbose``; only warnings and errors with ``quiet``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler.setLevel(level)
    previous = root.level
    root.setLevel(min(level, previous))
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)

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
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

_IMPORTED = time.time()
"""When this module was imported: in a workflow job, as its script began (the first import of
every script is :func:`start_job`), before the heavy imports the job's span must include."""


def start_job(log_path: str | Path) -> None:
    """The first call of every workflow script: its log (:func:`log_to_file`), and no cyclic
    garbage collection over what the job imported.

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
    in its log includes its imports (~1 s of a demo ``train_models`` job).
    """
    log_to_file(log_path, started=_IMPORTED)
    gc.freeze()
    atexit.register(gc.freeze)


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

"""Logging set-up shared by the workflow scripts and the command line."""

from __future__ import annotations

import atexit
import logging
import os
import sys
from pathlib import Path


def log_to_file(path: str | Path) -> None:
    """Send Python logging, warnings and native (C++) stderr output to ``path``.

    Used by every workflow script as its first call, so a rule's log holds MediaPipe's and
    TensorFlow Lite's messages as well as emoflow's.
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
    job.info("started (pid %d)", os.getpid())
    atexit.register(job.info, "finished (pid %d)", os.getpid())


def log_to_console(verbose: bool = False) -> None:
    """Plain logging to stderr for the command line."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )

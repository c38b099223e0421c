"""Run the ``emoflow`` command as a user does: in a pseudo-terminal, or with its output piped.

Used by the command-line tests (``from cli_runs import in_terminal, piped``): progress bars
must appear on a terminal and nowhere else, and MediaPipe's native log lines nowhere.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
NATIVE_MARKERS = ("XNNPACK", "W0000", "absl::InitializeLog", "inference_feedback_manager")
"""Pieces of MediaPipe's native (glog/absl) log lines."""
LIMIT_S = 600
"""A run that has not ended after this long is stopped (a hang, not a slow machine)."""


def _command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "emoflow.cli", *args]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPOSITORY), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("TERM", "xterm")
    return env


def in_terminal(args: list[str], columns: int = 120, lines: int = 30) -> tuple[int, str]:
    """Run ``emoflow ARGS`` with stdin, stdout and stderr on a pseudo-terminal of the given
    size; its exit status and everything it showed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    process = subprocess.Popen(
        _command(args),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=_environment(),
        close_fds=True,
    )
    os.close(follower)
    shown = bytearray()
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], LIMIT_S)
            if not ready:
                process.kill()
                raise RuntimeError(f"emoflow {' '.join(args)} did not end")
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the command ended and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
        process.wait()
    return process.returncode, shown.decode("utf-8", errors="replace")


def piped(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``emoflow ARGS`` with stdout and stderr piped (as in a script or a CI log)."""
    return subprocess.run(
        _command(args),
        capture_output=True,
        text=True,
        env=_environment(),
        stdin=subprocess.DEVNULL,
        timeout=LIMIT_S,
        check=False,
    )


def native_lines(text: str) -> list[str]:
    """The lines of ``text`` that MediaPipe's native code wrote."""
    return [line for line in text.splitlines() if any(m in line for m in NATIVE_MARKERS)]

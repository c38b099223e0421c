"""Run a command (slurmd) as a child subreaper and tell the CPU time of every process it reaps.

Usage::

    python tests/cluster/subreaper.py CPU_FILE -- /usr/sbin/slurmd -D

slurmd starts each job step's ``slurmstepd`` with a double fork, so those processes are not its
children and their CPU time would reach no one. Marked as a *child subreaper*
(``PR_SET_CHILD_SUBREAPER``), this process adopts every orphan below it: each ``slurmstepd``,
and with it (``getrusage(RUSAGE_CHILDREN)`` adds what a reaped process had itself reaped) every
process of every job. On ``SIGUSR1`` it writes the CPU seconds (user + system) of all processes
reaped so far to ``CPU_FILE`` (one line: ``user system``), so two snapshots taken around a
workflow run measure the CPU time spent inside its SLURM jobs, per process and exactly: the
jobs' own processes and SLURM's step daemons, not slurmd itself, which is still running. It
ends when the command ends and no adopted process is left.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def _write_cpu(path: Path) -> None:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    partial = path.with_name(path.name + ".part")
    partial.write_text(f"{usage.ru_utime:.3f} {usage.ru_stime:.3f}\n")
    partial.replace(path)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: subreaper.py CPU_FILE -- COMMAND [ARG ...]", file=sys.stderr)
        return 2
    cpu_file = Path(argv[0])
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(f"subreaper: prctl failed: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGUSR1, lambda *_: _write_cpu(cpu_file))
    # stop the command when asked to stop
    child = subprocess.Popen(argv[2:])
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: child.send_signal(number))
    status = 0
    while True:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:  # a signal handler ran
            continue
        except OSError as error:
            if error.errno == errno.EINTR:
                continue
            raise
        if pid == child.pid:
            status = os.waitstatus_to_exitcode(wait_status)
            child.returncode = status
    _write_cpu(cpu_file)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

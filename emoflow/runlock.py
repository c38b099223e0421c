"""One writer per results folder: a lock file inside the folder itself.

Snakemake's own lock covers its working folder (``.snakemake/``), and ``results:`` may point
anywhere, so two runs from two working folders could write one results folder at once (one
run's models beside the other's provenance). Every workflow run that executes jobs takes
:class:`ResultsLock` (``results/.emoflow.lock``) when it starts (the Snakefile's ``onstart``,
which dry runs, ``--report`` and Snakemake's own job processes do not run) and gives it back
when it ends (``onsuccess``/``onerror``). A run that finds the lock held by a live run is
refused with a message naming that run; a lock whose run is gone (same host, its process no
longer running) is stale and taken over with a warning.

The file holds the owner's host, process id (and the process's start time, so a reused id is
not taken for the owner), working folder, command line and start time, as JSON. It is created
whole or not at all (written aside, then hard-linked into place), so two runs starting at once
cannot both take it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from emoflow.errors import EmoflowError
from emoflow.layout import ResultsLayout

log = logging.getLogger(__name__)

LOCK_NAME = ".emoflow.lock"
"""The lock file's name in the results folder."""


class ResultsBusyError(EmoflowError):
    """Another run writes the results folder."""


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from ``/proc``), ``None`` where
    unknown; a process id reused by a later process has another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: fields after its last ")"
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, started: str | None) -> bool:
    """Whether process ``pid`` runs on this host and is the one that started at ``started``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    now = _process_start(pid)
    return started is None or now is None or now == started


@dataclass(frozen=True)
class Owner:
    """Who holds a results folder."""

    host: str
    pid: int
    process_start: str | None
    workdir: str
    command: str
    started: str

    @classmethod
    def this_process(cls) -> Owner:
        return cls(
            host=socket.gethostname(),
            pid=os.getpid(),
            process_start=_process_start(os.getpid()),
            workdir=os.getcwd(),
            command=" ".join(sys.argv),
            started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        )

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Owner:
        return cls(
            host=str(record["host"]),
            pid=int(record["pid"]),
            process_start=record.get("process_start"),
            workdir=str(record.get("workdir", "?")),
            command=str(record.get("command", "?")),
            started=str(record.get("started", "?")),
        )

    def describe(self) -> str:
        return (
            f"process {self.pid} on {self.host}, started {self.started} in {self.workdir} "
            f"({self.command})"
        )

    def same_as(self, other: Owner) -> bool:
        return (self.host, self.pid, self.process_start) == (
            other.host,
            other.pid,
            other.process_start,
        )

    def is_running(self) -> bool | None:
        """Whether the owner still runs: ``None`` when it cannot be told (another host)."""
        if self.host != socket.gethostname():
            return None
        return _alive(self.pid, self.process_start)


class ResultsLock:
    """The lock of one results folder (``results/.emoflow.lock``)."""

    def __init__(self, results: str | Path) -> None:
        self.results = Path(results)
        self.path = ResultsLayout(self.results).lock

    def holder(self) -> Owner | None:
        """Who holds the lock now (``None``: nobody; a damaged lock file counts as nobody's)."""
        try:
            return Owner.from_dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def live_holder(self) -> Owner | None:
        """The holder, unless the lock is stale (its run is gone)."""
        holder = self.holder()
        if holder is None or holder.is_running() is False:
            return None
        return holder

    def acquire(self) -> Owner:
        """Take the lock for this process.

        Raises
        ------
        ResultsBusyError
            Another run holds it: the message names that run and what to do.
        """
        me = Owner.this_process()
        self.results.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            if self._create(me):
                return me
            holder = self.holder()
            if holder is not None and holder.same_as(me):
                return me
            running = holder.is_running() if holder is not None else False
            if holder is not None and running is not False:
                raise ResultsBusyError(self.busy_message(holder, sure=running is True))
            self._remove_stale(holder)
        raise ResultsBusyError(f"{self.path}: cannot take the results folder's lock; try again")

    def _create(self, me: Owner) -> bool:
        """Create the lock file with ``me`` in it, whole, unless it exists."""
        aside = self.path.with_name(f"{LOCK_NAME}.{me.host}.{me.pid}.tmp")
        aside.write_text(json.dumps(asdict(me), indent=1) + "\n")
        try:
            os.link(aside, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            aside.unlink(missing_ok=True)

    def _remove_stale(self, holder: Owner | None) -> None:
        """Remove a stale lock, unless another run took it over meanwhile."""
        current = self.holder()
        if (current is None) != (holder is None) or (
            current is not None and holder is not None and not current.same_as(holder)
        ):
            return  # taken over by another run since it was read: acquire reads it again
        what = holder.describe() if holder is not None else "an unreadable lock"
        log.warning("%s: taking over the lock of a run that is gone (%s)", self.path, what)
        print(
            f"emoflow: {self.results}: the run that held it is gone ({what}); taking it over",
            file=sys.stderr,
        )
        self.path.unlink(missing_ok=True)

    def busy_message(self, holder: Owner, *, sure: bool = True) -> str:
        state = "is being written by" if sure else "is locked by"
        return (
            f"{self.results}: this results folder {state} another emoflow run "
            f"({holder.describe()}). Wait for it to finish, or give this run another results "
            f"folder (--config results=OTHER). If that run is gone, delete {self.path}"
        )

    def release(self) -> None:
        """Give the lock back, if this process holds it."""
        holder = self.holder()
        if holder is not None and holder.same_as(Owner.this_process()):
            self.path.unlink(missing_ok=True)


__all__ = ["LOCK_NAME", "Owner", "ResultsBusyError", "ResultsLock"]

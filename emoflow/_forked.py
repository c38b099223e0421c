"""Independent pieces of one job's work side by side, in processes forked from the job.

A workflow job that runs several independent pieces (the start of several splits' chains)
would leave all but one of its granted cores idle if it ran them one after another, and a
process per piece started afresh would pay again for importing torch (~1.8 s of CPU). A
process *forked* from the job after its imports shares them instead: it starts in
milliseconds, runs one piece and sends back what the piece returns.

The pieces must be independent of each other and of the process's state (every piece reads
its own inputs and writes its own files, as if it were a job of its own); their results come
back in the order given. A piece that raises fails the whole call with its error (an error
that cannot cross the process boundary as it is, as a :class:`RuntimeError` naming its type
and giving its message and trace); the pieces already running finish, those not yet started
are not. A process killed before its piece finished fails the call with a
:class:`RuntimeError` that says so (an out-of-memory error where this process's cgroup counted
an out-of-memory kill meanwhile, which the job's log then names as such). Where there is no ``fork``
(Windows, and macOS, where forking a process that loaded system frameworks is unsafe), or for
one worker or one piece, the pieces run one after another in this process, with the same
results.

Each forked process runs its pieces on one core: it lets torch use one thread before a
piece starts (a process forked after torch ran a parallel region on several OpenMP threads
hangs at its next parallel region if it asks for several again), and ends when this process
does, however it ends (Linux: the parent-death signal), so a killed job leaves no process
behind holding memory or a GPU slot. The forked processes do not run this process's exit
handlers (they end with ``os._exit``), so a job's log is closed, and its ``finished`` line
written, by the job alone.

The caller forks first thing, before the process does any work of its own, as the workflow's
``start_chains`` job does: polars' thread pool does not survive a fork (a forked process
hangs at its first polars operation if this one has run any), and CUDA must not be
initialised before it (the pieces choose their own device, as separate jobs would).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from emoflow._logging import cgroup_oom_kills, oom_killed_since

T = TypeVar("T")
PR_SET_PDEATHSIG = 1
_parent = 0
"""The process that forks (its pid, recorded before the fork)."""

_PIECES: Sequence[Callable[[], Any]] = ()
"""The pieces of the call in progress: forked processes inherit them (nothing is pickled
on the way in, so the pieces may hold what cannot be pickled, e.g. Snakemake's objects)."""


def can_fork() -> bool:
    """Whether this platform runs pieces in forked processes (Linux and other POSIX
    systems, not macOS or Windows)."""
    return sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()


def forks(n_pieces: int, workers: int) -> bool:
    """Whether :func:`run_forked` runs ``n_pieces`` pieces with ``workers`` in forked
    processes (more than one of each, and ``fork`` here), each on one thread."""
    return min(int(workers), n_pieces) > 1 and can_fork()


def _start_forked() -> None:
    """A forked process's first step: end with the process that forked it (Linux), and
    torch (where that process imported it) on one thread."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != _parent:  # the parent ended before the signal was asked for
            os._exit(1)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _run_piece(index: int) -> Any:
    try:
        return _PIECES[index]()
    except BaseException as error:
        try:  # what the process pool will do to send it back
            pickle.loads(pickle.dumps(error))
        except Exception:
            trace = "".join(traceback.format_exception(error))
            raise RuntimeError(f"{type(error).__name__}: {error}\n{trace}") from None
        raise


def run_forked(pieces: Sequence[Callable[[], T]], workers: int) -> list[T]:
    """What each of ``pieces`` returns, in order, running up to ``workers`` of them at once
    in processes forked from this one, one core each (one after another here where that is
    not possible or not asked for: ``workers`` ≤ 1, one piece, no ``fork``)."""
    global _PIECES, _parent
    if not forks(len(pieces), workers):
        return [piece() for piece in pieces]
    workers = min(int(workers), len(pieces))
    if _PIECES:
        raise RuntimeError("run_forked does not nest")
    _PIECES, _parent = pieces, os.getpid()
    oom_kills = cgroup_oom_kills()
    try:
        for stream in (sys.stdout, sys.stderr):  # or the forked processes write it again
            stream.flush()
        context = multiprocessing.get_context("fork")
        with warnings.catch_warnings():
            # Python ≥ 3.12 warns of forking a process with threads; this one's (polars'
            # allocator and spill cleaner, torch's) hold nothing the pieces need
            warnings.filterwarnings(
                "ignore", "This process .* is multi-threaded", DeprecationWarning
            )
            with ProcessPoolExecutor(
                workers, mp_context=context, initializer=_start_forked
            ) as pool:
                return list(pool.map(_run_piece, range(len(pieces))))
    except BrokenProcessPool as error:
        what = (
            "out of memory: the kernel's out-of-memory killer killed"
            if oom_killed_since(oom_kills)
            else "a signal ended"
        )
        raise RuntimeError(
            f"{what} one of the {workers} processes forked for this job's {len(pieces)} pieces "
            "of work before it finished (they share the job's memory)"
        ) from error
    finally:
        _PIECES = ()

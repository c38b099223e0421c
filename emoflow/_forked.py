"""Independent pieces of one job's work side by side, in processes forked from the job.

A workflow job that runs several independent pieces (the start of several splits' chains)
would leave all but one of its granted cores idle if it ran them one after another, and a
process per piece started afresh would pay again for importing torch (~1.8 s of CPU). A
process *forked* from the job after its imports shares them instead: it starts in
milliseconds, runs one piece and sends back what the piece returns.

The pieces must be independent of each other and of the process's state (every piece reads
its own inputs and writes its own files, as if it were a job of its own); their results come
back in the order given. A piece that raises fails the whole call with its error (the other
pieces still finish first); a process killed before its piece finished (the out-of-memory
killer) fails it with a :class:`RuntimeError` that says so. Where there is no ``fork``
(Windows, and macOS, where forking a process that loaded system frameworks is unsafe), or for
one worker or one piece, the pieces run one after another in this process, with the same
results.

Each forked process runs its pieces on one core: it lets torch use one thread before a
piece starts (a process forked after torch ran a parallel region on several OpenMP threads
hangs at its next parallel region if it asks for several again). The forked processes do
not run this process's exit handlers (they end with ``os._exit``), so a job's log is closed,
and its ``finished`` line written, by the job alone.

The caller forks first thing, before the process does any work of its own, as the workflow's
``start_chains`` job does: polars' thread pool does not survive a fork (a forked process
hangs at its first polars operation if this one has run any), and CUDA must not be
initialised before it (the pieces choose their own device, as separate jobs would).
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

_PIECES: Sequence[Callable[[], Any]] = ()
"""The pieces of the call in progress: forked processes inherit them (nothing is pickled
on the way in, so the pieces may hold what cannot be pickled, e.g. Snakemake's objects)."""


def can_fork() -> bool:
    """Whether this platform runs pieces in forked processes (Linux and other POSIX
    systems, not macOS or Windows)."""
    return sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()


def _one_thread() -> None:
    """A forked process's first step: torch (where this process imported it) on one thread."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _run_piece(index: int) -> Any:
    return _PIECES[index]()


def run_forked(pieces: Sequence[Callable[[], T]], workers: int) -> list[T]:
    """What each of ``pieces`` returns, in order, running up to ``workers`` of them at once
    in processes forked from this one, one core each (one after another here where that is
    not possible or not asked for: ``workers`` ≤ 1, one piece, no ``fork``)."""
    global _PIECES
    workers = min(int(workers), len(pieces))
    if workers <= 1 or not can_fork():
        return [piece() for piece in pieces]
    if _PIECES:
        raise RuntimeError("run_forked does not nest")
    _PIECES = pieces
    try:
        for stream in (sys.stdout, sys.stderr):  # or the forked processes write it again
            stream.flush()
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread) as pool:
            return list(pool.map(_run_piece, range(len(pieces))))
    except BrokenProcessPool as error:
        raise RuntimeError(
            f"one of the {workers} processes forked for this job's {len(pieces)} pieces of work "
            "ended before it finished (killed: by the out-of-memory killer if the job ran out "
            "of memory, which its processes share)"
        ) from error
    finally:
        _PIECES = ()

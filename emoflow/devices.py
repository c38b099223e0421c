"""Which device a training or attribution job runs on, and sharing GPUs between jobs.

The scheduler decides how many GPUs a job gets; this module decides *which* of the GPUs the
job can see it uses:

* A cluster job sees only its own GPUs: SLURM (``--gpus``/``--gres``) and most other
  schedulers set ``CUDA_VISIBLE_DEVICES``, and PyTorch numbers the visible devices from 0.
  :func:`select_device` never looks past them.
* Several jobs on one node that see the same GPUs (``snakemake --cores 8 --resources gpu=2``
  on a workstation, or two workflows started side by side) must not all land on ``cuda:0``.
  Each job takes an inter-process lock on one device (an ``fcntl.flock`` lock file per device
  and *slot*) and holds it for the life of the process; the operating system drops the lock
  when the process ends, however it ends, so there are no stale locks to clean up. Slot 0 of
  every device is tried before slot 1 of any, so ``k`` jobs on ``n`` devices spread out
  evenly: distinct devices while ``k <= n``, then shared as evenly as possible.

Lock files are named after the device's physical identity (its UUID from PyTorch where
available, else its ``CUDA_VISIBLE_DEVICES`` entry, else its index), so two processes that see
the same GPU under different indices still exclude each other, and processes given
different GPUs by the scheduler never wait on each other. They live in ``lock_dir``, by default
``$EMOFLOW_GPU_LOCK_DIR`` or ``<tmp>/emoflow-gpu-locks-<uid>`` (node-local, shared by all of
the user's jobs on the node). Where locking is impossible (no ``fcntl``, a read-only or
lock-less file system) the choice falls back to ``pid % n_devices`` with a warning.

``n_devices`` simulates a node with that many GPUs (``CUDA_VISIBLE_DEVICES`` still applies on
top of them), so the scheduling is testable on machines without CUDA.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from emoflow.errors import ConfigError

try:  # POSIX only; elsewhere devices are chosen without locks.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCK_DIR_ENV = "EMOFLOW_GPU_LOCK_DIR"
MAX_SLOTS = 64
"""Jobs per device tracked by locks; beyond this the choice falls back to ``pid % n``."""

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:[0-9]+)?)$")


@dataclass(frozen=True)
class DeviceLease:
    """A device this process uses, and the lock that tells other processes so."""

    device: torch.device
    key: str
    """The device's physical identity (UUID, ``CUDA_VISIBLE_DEVICES`` entry or index)."""
    slot: int | None
    """Which of the device's slots this process holds; ``None``: no lock (fallback)."""
    lock_path: Path | None
    _fd: int | None = None


_lock = threading.Lock()
_leases: dict[str, DeviceLease] = {}


def default_lock_dir() -> Path:
    """``$EMOFLOW_GPU_LOCK_DIR``, else ``<tmp>/emoflow-gpu-locks-<uid>``."""
    configured = os.environ.get(LOCK_DIR_ENV)
    if configured:
        return Path(configured)
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"emoflow-gpu-locks-{uid}"


def _visible_entries() -> list[str] | None:
    """The entries of ``CUDA_VISIBLE_DEVICES`` up to the first invalid one; ``None`` if unset."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    entries = []
    for entry in (part.strip() for part in value.split(",")):
        # CUDA stops at the first entry it cannot parse (e.g. "-1" hides every device).
        if not entry or entry.startswith("-"):
            break
        entries.append(entry)
    return entries


def visible_devices(n_devices: int | None = None) -> list[str]:
    """The physical identity of every device this process sees, in PyTorch's index order.

    Parameters
    ----------
    n_devices
        ``None``: the CUDA devices PyTorch sees (none without CUDA). An integer: a simulated
        node with devices ``0 … n_devices-1``, filtered by ``CUDA_VISIBLE_DEVICES`` as CUDA
        would filter them.
    """
    entries = _visible_entries()
    if n_devices is not None:
        if n_devices < 0:
            raise ConfigError(f"n_devices must be ≥ 0, got {n_devices}")
        if entries is None:
            return [str(index) for index in range(n_devices)]
        visible: list[str] = []
        for entry in entries:
            if entry.isdigit() and int(entry) >= n_devices:
                break  # CUDA also stops at the first ordinal that does not exist
            if entry not in visible:
                visible.append(entry)
        return visible
    if not torch.cuda.is_available():
        return []
    count = torch.cuda.device_count()
    keys = []
    for index in range(count):
        key = None
        try:
            key = f"GPU-{torch.cuda.get_device_properties(index).uuid}"
        except (AttributeError, RuntimeError, AssertionError):
            key = None
        if key is None and entries is not None and index < len(entries):
            key = entries[index]
        keys.append(key or str(index))
    return keys


def _lock_name(key: str, slot: int) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', key)}.slot{slot}.lock"


def _try_lock(path: Path) -> int | None:
    """An fd holding an exclusive lock on ``path``, or ``None`` if another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _acquire(keys: list[str], candidates: list[int], lock_dir: Path) -> DeviceLease | None:
    """Lock the first free (slot, device) pair, slot-major; ``None`` when all are taken."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(MAX_SLOTS):
        for index in candidates:
            path = lock_dir / _lock_name(keys[index], slot)
            fd = _try_lock(path)
            if fd is not None:
                return DeviceLease(torch.device("cuda", index), keys[index], slot, path, fd)
    return None


def _choose(requested: str, n_devices: int | None, lock_dir: Path | None) -> DeviceLease:
    keys = visible_devices(n_devices)
    if requested == "auto" and not keys:
        return DeviceLease(torch.device("cpu"), "cpu", None, None)
    if not keys:
        raise ConfigError(f"device {requested!r} asked for, but CUDA is not available")
    if requested in ("auto", "cuda"):
        candidates = list(range(len(keys)))
    else:
        index = torch.device(requested).index or 0
        if index >= len(keys):
            raise ConfigError(
                f"device {requested!r} asked for, but only {len(keys)} CUDA device(s) are "
                f"visible (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})"
            )
        candidates = [index]

    directory = lock_dir if lock_dir is not None else default_lock_dir()
    if fcntl is not None:
        try:
            lease = _acquire(keys, candidates, Path(directory))
        except OSError as err:
            log.warning("cannot lock GPUs in %s (%s); choosing without a lock", directory, err)
        else:
            if lease is not None:
                return lease
            log.warning("all %d slots of every GPU are taken; choosing without a lock", MAX_SLOTS)
    index = candidates[os.getpid() % len(candidates)]
    return DeviceLease(torch.device("cuda", index), keys[index], None, None)


def select_device(
    requested: str = "auto",
    *,
    n_devices: int | None = None,
    lock_dir: str | Path | None = None,
) -> torch.device:
    """The device this process should compute on, reserved for it until it ends.

    Parameters
    ----------
    requested
        ``"auto"``: a free visible CUDA device, else the CPU; ``"cuda"``: a free visible CUDA
        device (an error without one); ``"cuda:N"``: visible device ``N``; ``"cpu"``.
    n_devices
        Simulate a node with this many GPUs (see :func:`visible_devices`); the returned CUDA
        device is then not touched, so this works without CUDA.
    lock_dir
        Folder of the lock files; default :func:`default_lock_dir`.

    Returns
    -------
    torch.device
        ``cpu`` or ``cuda:K`` with ``K`` an index among the *visible* devices. The same
        request in the same process returns the same device without taking another slot.

    Raises
    ------
    ConfigError
        ``requested`` is malformed, or names CUDA devices the process cannot see.
    """
    if not isinstance(requested, str) or not _DEVICE_PATTERN.match(requested):
        raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {requested!r}")
    if requested == "cpu":
        return torch.device("cpu")
    cache_key = "any" if requested in ("auto", "cuda") else requested
    with _lock:
        lease = _leases.get(cache_key)
        if lease is None:
            lease = _choose(requested, n_devices, None if lock_dir is None else Path(lock_dir))
            if lease.device.type == "cuda":
                _leases[cache_key] = lease
                log.info(
                    "using %s (device %s, %s)",
                    lease.device,
                    lease.key,
                    f"slot {lease.slot}" if lease.slot is not None else "unlocked",
                )
                if n_devices is None:
                    torch.cuda.set_device(lease.device)
        return lease.device


def current_leases() -> list[DeviceLease]:
    """The devices this process holds (for logs and tests)."""
    with _lock:
        return list(_leases.values())


def release() -> None:
    """Give back every device this process holds, so other processes may take them."""
    with _lock:
        for lease in _leases.values():
            if lease._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(lease._fd)
        _leases.clear()


@contextlib.contextmanager
def device_lease(
    requested: str = "auto",
    *,
    n_devices: int | None = None,
    lock_dir: str | Path | None = None,
) -> Iterator[torch.device]:
    """:func:`select_device` for a ``with`` block; the device is released at its end."""
    try:
        yield select_device(requested, n_devices=n_devices, lock_dir=lock_dir)
    finally:
        release()


def limit_threads(threads: int | None) -> None:
    """Let torch use at most ``threads`` threads (a workflow job's share of the cores).

    Snakemake grants each job its ``threads``; without this, every torch job uses all the
    machine's cores and jobs running side by side oversubscribe it. Never more than the
    machine's cores; ``None`` changes nothing.
    """
    if threads is None:
        return
    import os

    import torch

    torch.set_num_threads(max(1, min(int(threads), os.cpu_count() or 1)))

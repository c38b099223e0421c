"""GPU scheduling: concurrent jobs on one node get distinct devices (simulated GPUs)."""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from pathlib import Path

import pytest
import torch

from emoflow import devices
from emoflow.devices import current_leases, device_lease, release, select_device, visible_devices
from emoflow.errors import ConfigError

# fork: the children share the parent's imported torch, so starting one costs milliseconds.
FORK = multiprocessing.get_context("fork")


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    release()
    yield
    release()


def _job(lock_dir: str, n_devices: int, env: dict[str, str], results, go_home) -> None:
    """One 'GPU job': pick a device, report it, hold it until the parent says stop."""
    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    os.environ.update(env)
    device = select_device("auto", n_devices=n_devices, lock_dir=lock_dir)
    (lease,) = current_leases()
    results.put((device.type, device.index, lease.key, lease.slot))
    go_home.wait(30)


def _run_jobs(
    tmp_path: Path, n_devices: int, envs: list[dict[str, str]], *, one_by_one: bool = False
) -> list[tuple]:
    """One process per env, all started at once (or each after the previous one has picked);
    each holds its device until all have reported. Returns (type, index, key, slot) each."""
    results = FORK.Queue()
    go_home = FORK.Event()
    jobs = [
        FORK.Process(target=_job, args=(str(tmp_path), n_devices, env, results, go_home))
        for env in envs
    ]
    picked = []
    try:
        for job in jobs:
            job.start()
            if one_by_one:
                picked.append(results.get(timeout=30))
        if not one_by_one:
            picked = [results.get(timeout=30) for _ in jobs]
    finally:
        go_home.set()
        for job in jobs:
            job.join(30)
    assert all(job.exitcode == 0 for job in jobs)
    return picked


def test_two_concurrent_jobs_get_distinct_devices(tmp_path: Path) -> None:
    picked = _run_jobs(tmp_path, n_devices=2, envs=[{}, {}])
    assert sorted(index for _, index, _, _ in picked) == [0, 1]
    assert {device_type for device_type, *_ in picked} == {"cuda"}
    assert {slot for *_, slot in picked} == {0}


def test_more_jobs_than_devices_share_them_evenly(tmp_path: Path) -> None:
    picked = _run_jobs(tmp_path, n_devices=2, envs=[{}, {}, {}, {}])
    assert Counter(index for _, index, _, _ in picked) == {0: 2, 1: 2}


def test_a_freed_device_is_taken_again(tmp_path: Path) -> None:
    first = _run_jobs(tmp_path, n_devices=2, envs=[{}])
    second = _run_jobs(tmp_path, n_devices=2, envs=[{}])
    assert first[0][1] == second[0][1] == 0  # the first job's lock died with it


def test_cuda_visible_devices_restricts_the_choice(tmp_path: Path) -> None:
    # A cluster job given physical GPU 1 sees it as cuda:0 and locks GPU 1, not GPU 0.
    picked = _run_jobs(
        tmp_path,
        n_devices=2,
        envs=[{"CUDA_VISIBLE_DEVICES": "1"}, {"CUDA_VISIBLE_DEVICES": "0"}],
    )
    assert sorted((index, key, slot) for _, index, key, slot in picked) == [
        (0, "0", 0),
        (0, "1", 0),
    ]


def test_same_physical_device_under_different_indices_is_not_shared(tmp_path: Path) -> None:
    # Job A sees only GPU 1 (as cuda:0). Job B sees "1,0": its cuda:0 is A's GPU, so it must
    # take cuda:1 (GPU 0); locks keyed by index would have put both on GPU 1.
    first, second = _run_jobs(
        tmp_path,
        n_devices=2,
        envs=[{"CUDA_VISIBLE_DEVICES": "1"}, {"CUDA_VISIBLE_DEVICES": "1,0"}],
        one_by_one=True,
    )
    assert first == ("cuda", 0, "1", 0)
    assert second == ("cuda", 1, "0", 0)


def test_visible_devices_follow_cuda_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    assert visible_devices(3) == ["0", "1", "2"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0")
    assert visible_devices(3) == ["2", "0"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,5,0")  # CUDA stops at the missing GPU 5
    assert visible_devices(3) == ["1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_devices(3) == []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert visible_devices(3) == []


def test_one_visible_device_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert select_device("auto", n_devices=4, lock_dir=tmp_path) == torch.device("cuda", 0)
    assert current_leases()[0].key == "3"


def test_no_visible_device_means_cpu_for_auto(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert select_device("auto", n_devices=2, lock_dir=tmp_path) == torch.device("cpu")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        select_device("cuda", n_devices=2, lock_dir=tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cpu_only_machine(tmp_path: Path) -> None:
    assert select_device("auto", lock_dir=tmp_path) == torch.device("cpu")
    assert select_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        select_device("cuda:0", lock_dir=tmp_path)
    assert not list(tmp_path.iterdir())  # no lock taken for the CPU


def test_same_process_keeps_its_device(tmp_path: Path) -> None:
    first = select_device("auto", n_devices=2, lock_dir=tmp_path)
    again = select_device("cuda", n_devices=2, lock_dir=tmp_path)
    assert first == again == torch.device("cuda", 0)
    assert len(current_leases()) == 1
    assert len(list(tmp_path.glob("*.lock"))) == 1


def test_explicit_index(tmp_path: Path) -> None:
    assert select_device("cuda:1", n_devices=2, lock_dir=tmp_path) == torch.device("cuda", 1)
    with pytest.raises(ConfigError, match="only 2 CUDA device"):
        select_device("cuda:2", n_devices=2, lock_dir=tmp_path)
    with pytest.raises(ConfigError, match="auto, cpu, cuda"):
        select_device("gpu", n_devices=2, lock_dir=tmp_path)


def test_context_manager_releases(tmp_path: Path) -> None:
    with device_lease("auto", n_devices=1, lock_dir=tmp_path) as device:
        assert device == torch.device("cuda", 0)
        assert current_leases()
    assert not current_leases()


def test_unusable_lock_dir_falls_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    device = select_device("auto", n_devices=2, lock_dir=blocker / "locks")
    assert device.type == "cuda" and device.index in (0, 1)
    assert current_leases()[0].slot is None
    assert "choosing without a lock" in caplog.text


def test_default_lock_dir_is_overridable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(devices.LOCK_DIR_ENV, str(tmp_path))
    assert devices.default_lock_dir() == tmp_path
    monkeypatch.delenv(devices.LOCK_DIR_ENV)
    assert devices.default_lock_dir().name.startswith("emoflow-gpu-locks-")

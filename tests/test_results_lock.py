"""One writer per results folder (issue 22, point 3): a run refuses a results folder that
another live run writes, whatever its working folder, and names that run.

Before: Snakemake's lock covers only its working folder, so a second run from another folder
wrote the same results folder (run B exited 0 with models of seed 7 beside run A's provenance
saying seed 0).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from emoflow.runlock import ResultsBusyError, ResultsLock

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
HOLD = """
import sys, time
from emoflow.runlock import ResultsLock
ResultsLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture()
def holder(tmp_path: Path):
    """Another process (a "run" in another working folder) holding ``tmp_path/results``."""
    workdir = tmp_path / "run_a"
    workdir.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "results")],
        cwd=workdir,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait()


def test_the_lock_names_the_run_that_holds_it(tmp_path: Path, holder: subprocess.Popen) -> None:
    lock = ResultsLock(tmp_path / "results")
    record = json.loads(lock.path.read_text())
    assert record["pid"] == holder.pid and record["workdir"].endswith("run_a")
    with pytest.raises(ResultsBusyError, match=rf"process {holder.pid} on .* in .*run_a"):
        lock.acquire()
    assert lock.live_holder() is not None and lock.live_holder().pid == holder.pid


def test_a_lock_whose_run_is_gone_is_taken_over(tmp_path: Path, holder: subprocess.Popen) -> None:
    holder.send_signal(signal.SIGKILL)  # the run dies without giving the lock back
    holder.wait()
    lock = ResultsLock(tmp_path / "results")
    assert lock.holder() is not None and lock.live_holder() is None
    me = lock.acquire()
    assert me.pid == os.getpid() and lock.holder().pid == os.getpid()
    lock.acquire()  # again: this process holds it already
    lock.release()
    assert not lock.path.exists()


def test_a_lock_is_taken_by_one_of_two_runs_starting_at_once(tmp_path: Path) -> None:
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time\n"
                "from emoflow.runlock import ResultsLock, ResultsBusyError\n"
                "time.sleep(float(sys.argv[2]) - time.time())\n"
                "try:\n    ResultsLock(sys.argv[1]).acquire(); print('took', flush=True)\n"
                "except ResultsBusyError:\n    print('refused', flush=True)\n"
                "time.sleep(2)\n",
                str(tmp_path / "results"),
                str(time.time() + 2.0),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = sorted(process.communicate(timeout=60)[0].strip() for process in racers)
    assert outcomes == ["refused", "refused", "refused", "took"]


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "my.yaml"
    config.write_text(
        yaml.safe_dump({"results": str(tmp_path / "results"), "demo": {"n_subjects": 5}})
    )
    return config


def _run(workdir: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    workdir.mkdir(exist_ok=True)
    target = str(Path(yaml.safe_load(config.read_text())["results"]) / "provenance.json")
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--configfile", str(config)]
    return subprocess.run(
        [*command, "--cores", "1", *args, target],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_second_run_on_the_same_results_folder_is_refused(
    tmp_path: Path, holder: subprocess.Popen
) -> None:
    """Run A (another working folder) holds the results folder; run B, from its own working
    folder, plans (a dry run is fine) but is refused before its first job, naming run A."""
    config = _config(tmp_path)
    provenance = tmp_path / "results" / "provenance.json"
    dry = _run(tmp_path / "run_b", config, "-n")
    assert dry.returncode == 0, dry.stderr[-2000:]
    refused = _run(tmp_path / "run_b", config)
    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    assert f"process {holder.pid} on" in output and "run_a" in output, output[-3000:]
    assert "being written by another emoflow run" in output
    assert not provenance.exists()
    # once run A is gone (killed: its lock stays behind), run B takes the folder over
    holder.kill()
    holder.wait()
    done = _run(tmp_path / "run_b", config)
    assert done.returncode == 0, done.stderr[-3000:]
    assert provenance.is_file()
    assert "taking it over" in done.stderr
    assert not ResultsLock(tmp_path / "results").path.exists()  # given back at the end

"""Faults named as faults (issue 22, point 6, the jobs' half): a workflow job that runs out of
memory says so, with its rule's ``mem_mb`` and the peak memory seen, in its log and at the end
of the run; so does a job killed before it finished (SIGKILL, as the out-of-memory killer
sends). Memory is limited per process (``RLIMIT_AS``), never on the whole machine.

Before: a job's ``MemoryError`` left a traceback without the rule's memory or the peak, and a
killed job left nothing in its log (its Snakemake error said only that the command failed).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
LIMIT = 1500 * 2**20
"""Address space of the jobs below: enough for Python and numpy, far less than they ask."""

ALLOCATES_TOO_MUCH = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}))
from emoflow._logging import start_job
start_job(sys.argv[1], mem_mb=1000, rule="train_models")
import numpy as np
kept = np.ones(200 * 2**20 // 8)  # 200 MB held
np.zeros((100_000_000, 478, 3)).sum()  # what attribution.n_steps: 1e8 asked: far too much
"""


def test_a_memory_error_is_named_with_mem_mb_and_the_peak(tmp_path: Path) -> None:
    log = tmp_path / "train_models.log"
    done = subprocess.run(
        [sys.executable, "-c", ALLOCATES_TOO_MUCH, str(log)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    text = log.read_text()
    assert "MemoryError" in text  # the traceback is kept
    line = next(line for line in text.splitlines() if "ERROR emoflow.job: out of memory:" in line)
    assert "rule train_models" in line and "mem_mb=1000" in line
    peak = float(re.search(r"at a peak of (\d+) MB resident", line).group(1))
    assert 200 <= peak < LIMIT / 2**20
    assert "--set-resources train_models:mem_mb=" in line


KILLED = """
import sys, time
from emoflow._logging import start_job
start_job(sys.argv[1], mem_mb=500, rule="extract_landmarks")
held = bytearray(400 * 2**20)
for i in range(0, len(held), 4096):
    held[i] = 1
print("ready", flush=True)
time.sleep(600)
"""


def test_a_killed_job_is_named_with_mem_mb_and_the_peak(tmp_path: Path) -> None:
    log = tmp_path / "extract_landmarks.log"
    job = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(log)], stdout=subprocess.PIPE, text=True
    )
    assert job.stdout is not None and job.stdout.readline().strip() == "ready"
    time.sleep(0.6)  # the watcher samples the peak four times a second
    job.send_signal(signal.SIGKILL)  # what the out-of-memory killer sends
    job.wait()
    for _ in range(50):  # the watcher writes as soon as the job's process is gone
        if "ended before it finished" in log.read_text():
            break
        time.sleep(0.1)
    line = next(line for line in log.read_text().splitlines() if "ended before" in line)
    assert f"process {job.pid}" in line and "rule extract_landmarks" in line
    assert "SIGKILL" in line or "out-of-memory killer killed it" in line
    assert "mem_mb=500" in line
    peak = float(re.search(r"at a peak of at least (\d+) MB", line).group(1))
    assert 400 <= peak < 1000


def test_a_job_that_ends_normally_leaves_no_fault(tmp_path: Path) -> None:
    log = tmp_path / "ok.log"
    code = (
        "import sys\nfrom emoflow._logging import start_job\nstart_job(sys.argv[1], mem_mb=100)\n"
    )
    for ending in ("", "raise SystemExit(3)\n", "raise ValueError('not memory')\n"):
        subprocess.run([sys.executable, "-c", code + ending, str(log)], timeout=60)
    time.sleep(0.5)
    assert "ERROR emoflow.job" not in log.read_text()
    assert log.read_text().count("finished (pid") == 3


SNAKEFILE = """
onerror:
    import sys
    from emoflow._logging import job_faults

    for fault in job_faults(log):
        print(f"emoflow: {fault}", file=sys.stderr)


rule hog:
    output:
        "out.txt",
    log:
        "logs/hog.log",
    resources:
        mem_mb=700,
    script:
        "hog.py"
"""

HOG = f"""
import resource
resource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}))
from emoflow._logging import start_job

start_job(snakemake.log[0])  # mem_mb and the rule from the job's snakemake object
import numpy as np

np.ones((40_000, 100_000))
"""


def test_the_run_names_the_job_that_ran_out_of_memory(tmp_path: Path) -> None:
    """A Snakemake run whose job runs out of memory ends with the job's fault line; the
    workflow's own ``onerror`` makes the same call."""
    source = (Path(__file__).resolve().parents[1] / "Snakefile").read_text()
    assert "for fault in job_faults(log):" in source.split("onerror:")[1]
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "hog.py").write_text(HOG)
    done = subprocess.run(
        [SNAKEMAKE, "--cores", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("emoflow: ")]
    assert lines, done.stderr[-3000:]
    assert "logs/hog.log: out of memory: rule hog failed with MemoryError" in lines[0]
    assert "mem_mb=700" in lines[0] and "MB resident" in lines[0]


def test_the_peak_is_the_jobs_own_not_its_parents() -> None:
    """A job started from a large process (a test session, Snakemake with many jobs) reports
    its own peak: ``ru_maxrss`` survives ``exec`` and read 1,511 MB in a 14 MB job."""
    held = bytearray(600 * 2**20)
    for i in range(0, len(held), 4096):
        held[i] = 1
    done = subprocess.run(
        [sys.executable, "-c", "from emoflow._logging import peak_rss_mb; print(peak_rss_mb())"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert float(done.stdout) < 300, done.stdout

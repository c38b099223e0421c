"""Crash safety: a landmark extraction killed with SIGKILL leaves no file a rerun would trust,
and the same command run again gives the table of an uninterrupted run, byte for byte."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from emoflow._atomic import atomic_path
from emoflow.errors import InputError
from emoflow.landmarks import extract_shard, read_landmarks

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 120


def _command(manifest: Path, out: Path) -> list[str]:
    """The command a workflow job runs for one shard (here through the command line)."""
    return [sys.executable, "-m", "emoflow.cli", "landmarks", str(manifest), "-o", str(out)]


def _run_until_killed(command: list[str], marker: str) -> None:
    """Start ``command``, SIGKILL it as soon as its log shows ``marker``."""
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stderr is not None
    seen = []
    try:
        for line in process.stderr:
            seen.append(line)
            if marker in line:
                os.kill(process.pid, signal.SIGKILL)
                break
    finally:
        process.stderr.close()
        process.wait(timeout=TIMEOUT_S)
    assert process.returncode == -signal.SIGKILL, "".join(seen[-20:])


@pytest.mark.slow
def test_killed_extraction_resumes_to_identical_table(tmp_path: Path, demo_dir: Path) -> None:
    videos = sorted((demo_dir / "videos").glob("s01_*_r1.mp4"))[:4]
    assert len(videos) == 4
    manifest = tmp_path / "manifest.parquet"
    pl.DataFrame(
        {"video_id": [video.stem for video in videos], "path": [str(v) for v in videos]}
    ).write_parquet(manifest)
    reference = tmp_path / "reference" / "shard_0.parquet"
    extract_shard(manifest, reference, shard=0, n_shards=1)  # uninterrupted

    out = tmp_path / "landmarks" / "shard_0.parquet"
    command = _command(manifest, out)
    _run_until_killed(command, f"[1/{len(videos)}]")  # killed while on the second video
    assert not out.exists()
    leftovers = list(out.parent.iterdir())
    assert leftovers, "the killed job was writing: its hidden staging folder stays"
    assert all(p.name.startswith(".shard_0.parquet.") and p.is_dir() for p in leftovers)
    with pytest.raises(InputError, match=r"holds no \.parquet landmark file"):
        read_landmarks(out.parent)  # what a later stage reads sees no half-written table

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert out.read_bytes() == reference.read_bytes()
    assert read_landmarks(out).equals(read_landmarks(reference))

    # a rerun killed while it rewrites the table leaves the complete table in place
    complete = out.read_bytes()
    _run_until_killed(command, "[1/")
    assert out.read_bytes() == complete


def test_atomic_path_keeps_the_old_output_when_the_writer_fails(tmp_path: Path) -> None:
    out = tmp_path / "table.csv"
    out.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_path(out) as staged:
        staged.write_text("half")
        raise RuntimeError("crash while writing")
    assert out.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [out]  # the staging folder is removed
    store = tmp_path / "store.zarr"
    with pytest.raises(RuntimeError), atomic_path(store, directory=True) as staged:
        staged.mkdir()
        (staged / "chunk").write_text("x")
        raise RuntimeError("crash while writing")
    assert not store.exists()

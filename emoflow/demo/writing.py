"""Writing the demo data set: videos, ``ground_truth.json`` and ``labels.csv``."""

from __future__ import annotations

import csv
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from emoflow._atomic import atomic_path, write_json
from emoflow.demo.render import render_video
from emoflow.demo.spec import DEFAULT_SPEC, LABEL_COLUMNS, DemoSpec, video_id
from emoflow.demo.subjects import Subject, make_subject
from emoflow.demo.truth import ground_truth


def make_demo(
    out_dir: str | Path,
    spec: DemoSpec = DEFAULT_SPEC,
    *,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
) -> Path:
    """Write the demo data set under ``out_dir`` and return the path of ``labels.csv``.

    Writes ``videos/{video_id}.mp4``, ``ground_truth.json`` and, last, ``labels.csv``
    (columns :data:`LABEL_COLUMNS`, paths relative to ``out_dir``). Every file is written
    atomically, and the same spec always gives the same files.

    Parameters
    ----------
    out_dir
        Folder to write into (created if needed).
    spec
        What to synthesise.
    progress
        Called with each video id once its video is written.
    workers
        Videos rendered at once, in threads (OpenCV's warps and encoder release the GIL).
        Every video draws from its own seeded generator, so the files do not depend on it.
    """
    out_dir = Path(out_dir)
    subjects = [make_subject(index, spec) for index in range(spec.n_subjects)]
    planned = [
        (subject, emotion, repetition, video_id(subject.name, emotion, repetition))
        for subject in subjects
        for emotion in spec.emotions
        for repetition in range(1, spec.repetitions + 1)
    ]

    def render(entry: tuple[Subject, str, int, str]) -> dict[str, object]:
        subject, emotion, repetition, name = entry
        relative = Path("videos") / f"{name}.mp4"
        intensity = render_video(out_dir / relative, subject, emotion, repetition, spec)
        if progress is not None:
            progress(name)
        return {
            "video_id": name,
            "path": relative.as_posix(),
            "subject": subject.name,
            "emotion": emotion,
            "repetition": repetition,
            "intensity": f"{intensity:.3f}",
        }

    with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
        rows = list(pool.map(render, planned))  # in the planned order, whatever finishes first
    write_json(out_dir / "ground_truth.json", ground_truth(spec))
    labels_path = out_dir / "labels.csv"
    with atomic_path(labels_path) as staged, staged.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return labels_path

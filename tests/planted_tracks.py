"""Landmark tracks in OpenFace 2.0's CSV layout where only known points move per emotion: the
test data of the 68-point (iBUG) scheme and the ``landmarks_csv`` adapter.

Only tests use it, so it lives here rather than in :mod:`emoflow.synthetic` (whose planted
features the benchmarks use too).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class PlantedTracks:
    """Landmark tracks written as tracker files, with the planted answer.

    Attributes
    ----------
    labels
        The label table of the ``landmarks_csv`` adapter (``video_id``, ``path``,
        ``subject``, ``emotion``).
    files
        The track file of each video id.
    planted
        Emotion → the point ids that move with it.
    distractors
        Points with strong label-independent motion.
    """

    labels: Path
    files: dict[str, Path]
    planted: dict[str, list[int]]
    distractors: list[int]


def planted_openface_tracks(
    folder: str | Path,
    *,
    emotions: tuple[str, ...] = ("happiness", "surprise", "anger"),
    n_subjects: int = 6,
    repetitions: int = 2,
    n_frames: int = 12,
    n_planted: int = 4,
    n_distractors: int = 6,
    signal: float = 0.12,
    distractor_scale: float = 0.12,
    jitter: float = 0.004,
    head_motion: float = 0.05,
    width: int = 640,
    height: int = 480,
    seed: int = 0,
) -> PlantedTracks:
    """Write 68-point (iBUG) tracks in OpenFace 2.0's CSV layout where only known points move
    per emotion (``folder/tracks/<video_id>.csv``), and their label table
    (``folder/labels.csv``).

    Each video is the ``ibug_68`` reference face (:mod:`emoflow.schemes`) in a
    ``width × height`` frame, under a random head pose that drifts over the clip (a similarity
    transform the features' alignment removes), with jitter on every point. The emotion's
    *planted* points move from neutral to peak along fixed directions (``signal`` face widths ×
    the subject's intensity, 0.7–1.3), *distractor* points by a random displacement in every
    video. Planted and distractor points are never rigid points (the alignment anchors). The
    files have OpenFace's columns: ``frame`` (1-based), ``timestamp``, ``confidence``,
    ``success``, gaze and pose columns, the 2-D ``x_0 … x_67``/``y_0 … y_67`` in pixels and the
    3-D ``X_0 … Z_67``, with OpenFace's leading spaces in the header.
    """
    from emoflow.schemes import get_scheme

    scheme = get_scheme("ibug_68")
    out = Path(folder)
    (out / "tracks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    movable = np.setdiff1d(np.arange(scheme.n_points), scheme.rigid)
    chosen = rng.choice(movable, size=n_planted * len(emotions) + n_distractors, replace=False)
    planted = {
        emotion: sorted(int(i) for i in chosen[e * n_planted : (e + 1) * n_planted])
        for e, emotion in enumerate(emotions)
    }
    distractors = sorted(int(i) for i in chosen[n_planted * len(emotions) :])
    directions = {e: rng.normal(size=(n_planted, 2)) for e in emotions}
    directions = {e: d / np.linalg.norm(d, axis=1, keepdims=True) for e, d in directions.items()}
    reference = scheme.reference_face()[:, :2]
    face = (reference - reference.mean(axis=0)) / np.ptp(reference[:, 0])  # unit face width
    ramp = np.linspace(0.0, 1.0, n_frames)[:, None, None]
    header = ["frame", "timestamp", "confidence", "success", "gaze_0_x", "pose_Rz"]
    header += [f"{axis}_{i}" for axis in ("x", "y") for i in range(scheme.n_points)]
    header += [f"{axis}_{i}" for axis in ("X", "Y", "Z") for i in range(scheme.n_points)]
    rows, files = [], {}
    for s in range(n_subjects):
        intensity = rng.uniform(0.7, 1.3)
        for emotion in emotions:
            for r in range(repetitions):
                video_id = f"s{s:02d}_{emotion}_r{r}"
                points = np.repeat(face[None], n_frames, axis=0)
                points = points + rng.normal(scale=jitter, size=points.shape)
                points[:, planted[emotion]] += signal * intensity * ramp * directions[emotion]
                points[:, distractors] += ramp * rng.normal(
                    scale=distractor_scale, size=(len(distractors), 2)
                )
                angle = rng.normal(scale=head_motion) + np.linspace(0, head_motion, n_frames)
                cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
                x = cos * points[..., 0] - sin * points[..., 1]
                y = sin * points[..., 0] + cos * points[..., 1]
                size = 0.4 * width * (1 + rng.normal(scale=head_motion))
                shift = np.array([width / 2, height / 2]) + rng.normal(scale=10.0, size=2)
                x, y = size * x + shift[0], size * y + shift[1]
                z = np.zeros_like(x)
                table = np.column_stack(
                    [
                        np.arange(1, n_frames + 1),
                        np.arange(n_frames) / 30.0,
                        np.full(n_frames, 0.98),
                        np.ones(n_frames),
                        np.zeros(n_frames),
                        angle,
                        x,
                        y,
                        x * 0.3,
                        y * 0.3,
                        z + 500.0,
                    ]
                )
                path = out / "tracks" / f"{video_id}.csv"
                lines = [", ".join(header)]
                for frame_row in table:
                    values = [f"{int(frame_row[0])}", *(f"{v:.4f}" for v in frame_row[1:])]
                    lines.append(", ".join(values))
                path.write_text("\n".join(lines) + "\n")
                files[video_id] = path
                rows.append(f"{video_id},{path},s{s:02d},{emotion}")
    labels = out / "labels.csv"
    labels.write_text("video_id,path,subject,label\n" + "\n".join(rows) + "\n")
    return PlantedTracks(labels=labels, files=files, planted=planted, distractors=distractors)

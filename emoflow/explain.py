"""Explain one video's scores: which landmarks drove each emotion's model (``emoflow explain``).

Each emotion's model is attributed on the video with Integrated Gradients over the run's
typical baselines (:mod:`emoflow.inference.relevance` gives the formula). Outputs: a table
(``emotion, landmark, relevance, signed_relevance, rank, score, probability, baseline,
trained_on``), a picture (the frame of strongest expression, one panel per emotion, each
model's landmarks coloured and sized by relevance) and, optionally, a short video with the
predicted emotion's relevance drawn on every frame. No output may be one of the inputs (the
video, the models). Models trained on the synthetic demo say so in the table's
``trained_on``, the picture's title, the annotated video, the printed summary and the log.

The video goes through the same :class:`~emoflow.inference.pipeline.Pipeline` as
``emoflow predict``; this module is the command (the attribution and the drawing live in
:mod:`emoflow.inference.relevance` and :mod:`emoflow.inference.drawing`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Unpack

import numpy as np
import polars as pl

from emoflow._outputs import check_writable, is_stdout
from emoflow._progress import Progress
from emoflow.errors import ConfigError, DataError, InputError
from emoflow.inference import check_suffix
from emoflow.inference.drawing import (
    IMAGE_SUFFIXES,
    VIDEO_WRITERS,
    peak_frame,
    picture_figure,
    read_frame,
    write_annotated_video,
)
from emoflow.inference.outputs import output_format, write_table
from emoflow.inference.pipeline import ModelOptions, Pipeline, check_face_mode
from emoflow.inference.relevance import attribute_video, predicted_label
from emoflow.inference.sources import find_videos
from emoflow.inference.windows import feature_samples
from emoflow.schemes import get_scheme


def explain(
    video: str | Path,
    *,
    image_path: str | Path,
    table_path: str | Path,
    video_path: str | Path | None = None,
    n_steps: int | None = None,
    top_k: int = 8,
    max_video_s: float = 10.0,
    progress: bool | None = None,
    **options: Unpack[ModelOptions],
) -> dict[str, Any]:
    """Explain the models' scores on one video; write the table, picture and (optionally) video.

    Parameters
    ----------
    video
        One video file or frame folder.
    image_path
        Picture (``.png``, ``.jpg``, ``.pdf``, ``.svg``).
    table_path
        Relevance table (``.csv`` or ``.parquet``; ``-``: CSV to standard output): one row per
        emotion and model landmark.
    video_path
        Optional annotated clip (``.mp4`` or ``.avi``) of the label's relevance, at most
        ``max_video_s`` seconds.
    n_steps
        Integration nodes (default: the run's ``attribution.n_steps``).
    top_k
        Most relevant landmarks numbered in each panel.
    progress
        Progress bars (the video's frames, then the emotions attributed) on stderr;
        ``None``: only when stderr is a terminal.
    **options
        Which models and how the video's landmarks are found, as in
        :func:`emoflow.predict.predict` (:class:`~emoflow.inference.pipeline.ModelOptions`:
        ``results``, ``iteration``, ``models``, ``fps``, ``refine_landmarks``,
        ``several_faces``, ``device``); ``results`` also provides the feature and attribution
        stores for the typical baselines.

    Returns
    -------
    dict
        Paths written, the label, and the scores per emotion.
    """
    if is_stdout(image_path) or is_stdout(video_path):
        raise ConfigError(
            "a picture or video cannot be written to standard output (-); give a file name "
            "(only the table may go to standard output: --table -)"
        )
    check_suffix(image_path, IMAGE_SUFFIXES, "picture")
    output_format(table_path)
    if video_path is not None:
        check_suffix(video_path, VIDEO_WRITERS, "annotated video")
    for output in (image_path, table_path, video_path):
        if output is not None:
            check_writable(output)
    check_face_mode(options.get("several_faces", "error"))
    sources = find_videos(video)
    if len(sources) != 1:
        raise ConfigError(f"{video}: explain takes one video, this names {len(sources)}")
    source = sources[0]
    pipeline = Pipeline(**options)
    pipeline.refuse_overwriting([table_path, image_path, video_path], sources, [video])
    with pipeline, Progress(1, enabled=progress) as bar:
        bar.start(source.video_id)
        landmarks = pipeline.landmarks(source, progress=bar.frames)
        bar.advance(1)
    everything = np.ones(len(landmarks.found), dtype=bool)
    try:
        samples = feature_samples(landmarks, everything, pipeline.models, pipeline.union)
    except DataError as err:
        raise InputError(source.path, str(err)) from err
    results = pipeline.results
    results_path = Path(results) if results is not None and Path(results).is_dir() else None
    with Progress(
        len(pipeline.models), label="emotions", enabled=progress, frame_bars=False
    ) as bar:
        table = attribute_video(
            pipeline.models,
            samples,
            pipeline.union,
            results=results_path,
            n_steps=n_steps,
            progress=bar,
            published=pipeline.published,
        )
    label = predicted_label(table)
    write_table(table, table_path)
    index = peak_frame(landmarks)
    frame = read_frame(landmarks, index, pipeline.fps)
    points = landmarks.landmarks[index, :, :2].astype(np.float64) * (
        landmarks.width,
        landmarks.height,
    )
    origins = sorted({m.trained_on for m in pipeline.models if m.trained_on is not None})
    title = f"{source.video_id}: frame {index} ({landmarks.timestamps[index]:.2f} s), label {label}"
    if "synthetic demo" in origins:
        title += "\nmodels trained on the synthetic demo, not on recordings of people"
    edges = get_scheme(landmarks.scheme).picture_edges()
    picture_figure(
        frame, points, table, label, top_k=top_k, title=title, edges=edges, path=image_path
    )
    summary: dict[str, Any] = {
        "video": source.path,
        "label": label,
        "scores": dict(
            table.group_by("emotion").agg(pl.first("score")).sort("emotion").iter_rows()
        ),
        "frame": index,
        "image": str(image_path),
        "table": str(table_path),
        "trained_on": ", ".join(origins) or None,
    }
    if video_path is not None:
        summary["video_out"] = str(video_path)
        summary["video_frames"] = write_annotated_video(
            video_path,
            landmarks,
            table,
            label,
            fps=pipeline.fps,
            max_seconds=max_video_s,
            note="synthetic demo model" if "synthetic demo" in origins else None,
        )
    return summary


__all__ = ["explain"]

"""Apply trained emotion models to new videos: ``emoflow predict``.

The models of a workflow run (by default each emotion's *selected* iteration in
``results/summary.parquet``, or every model of one iteration) score one video, a folder of
videos, or the videos of a manifest. Each video goes through the same steps as in the
workflow: Face Mesh landmarks (:class:`emoflow.landmarks.extract.FaceMeshExtractor`),
normalisation with each model's stored feature settings
(:func:`emoflow.features.normalise.normalise_sequence`), and the model's own landmark subset. The
normalisation (centre, Procrustes alignment, inter-ocular scale) is defined on the whole face, so it
sees every landmark; only the union of the models'
landmark sets is kept as features, and each model takes its subset of that union.

Output: one row per video (or time window) and emotion, with the raw ``score`` (> 0 means
the emotion is present), the calibrated ``probability`` (null without calibration) and the
combined ``label`` — the emotion with the highest probability (highest score when a model has
no calibration), the same rule as the workflow's combined prediction; ``trained_on`` says
``synthetic demo`` for models trained on the demo (also said on the console). A video that
cannot be scored has one row with its ``error`` and no scores; the other videos are
unaffected. With time windows, a window without enough face (too few frames, or more
face-less frames than the models' ``max_missing``) keeps its row, with its times and the
reason in ``error`` and no scores, while the video's other windows are scored: the video
fails only when none of its windows can be scored.

Input checks, each failing with the file named and the fix: frames smaller than
:data:`MIN_SIDE` or larger than :data:`MAX_SIDE` pixels are refused (downscale large videos
first: Face Mesh works on 192-pixel crops, so nothing is gained above 4K, and tiny frames
hold no usable face); several faces in a frame are refused unless a face policy is chosen;
a video without any face, or with too many face-less frames for the models' ``max_missing``,
is refused; an output path that is one of the inputs is refused.

The steps live in :mod:`emoflow.inference` (shared with ``emoflow explain``); this module is
the command.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow._outputs import check_writable
from emoflow._progress import Progress
from emoflow.errors import EmoflowError, InputError
from emoflow.inference.outputs import output_format, write_table
from emoflow.inference.pipeline import Pipeline, check_face_mode
from emoflow.inference.sources import check_unique, find_videos, names_one_video
from emoflow.inference.windows import score_windows, time_windows
from emoflow.schemes import get_scheme
from emoflow.video import VideoItem

log = logging.getLogger(__name__)

OUTPUT_SCHEMA = {
    "video_id": pl.String,
    "path": pl.String,
    "window": pl.Int32,
    "start_s": pl.Float64,
    "end_s": pl.Float64,
    "n_frames": pl.Int32,
    "emotion": pl.String,
    "score": pl.Float64,
    "probability": pl.Float64,
    "label": pl.String,
    "iteration": pl.Int32,
    "error": pl.String,
    "trained_on": pl.String,
}
"""Columns of the prediction table (``true_emotion`` follows when the input has labels).
``trained_on`` is what the row's model was trained on: ``synthetic demo``, a data-set
adapter's name, or null when its run does not record it
(:func:`emoflow.inference.loading.trained_on`)."""


def _error_row(source: VideoItem, message: str) -> dict[str, Any]:
    return {"video_id": source.video_id, "path": source.path, "error": message}


def failed_videos(table: pl.DataFrame) -> list[str]:
    """Videos of a prediction table without any scored row (whole-video errors, or every
    window without a face); windows without a face beside scored ones do not count."""
    scored = table.group_by("video_id", maintain_order=True).agg(
        pl.col("score").is_not_null().any().alias("scored")
    )
    return scored.filter(~pl.col("scored"))["video_id"].to_list()


def _score_video(
    pipeline: Pipeline,
    item: VideoItem,
    window_s: float | None,
    hop_s: float | None,
    bar: Progress,
) -> tuple[list[dict[str, Any]], int]:
    """The rows of one video and its frame count; EmoflowError when it cannot be scored."""
    video = pipeline.landmarks(item, progress=bar.frames)
    windows = time_windows(video.timestamps, video.end_s, window_s, hop_s)
    return score_windows(video, pipeline.models, windows), len(video.found)


def predict(
    source: str | Path | Sequence[VideoItem],
    out_path: str | Path | None = None,
    *,
    results: str | Path = "results",
    iteration: int | None = None,
    models: Sequence[str | Path] | None = None,
    window_s: float | None = None,
    hop_s: float | None = None,
    fps: float | None = None,
    refine_landmarks: bool | None = None,
    several_faces: str = "error",
    strict: bool | None = None,
    device: str = "cpu",
    progress: bool | None = None,
    **extractor_options: Any,
) -> pl.DataFrame:
    """Score videos with trained models; write the table if ``out_path`` is given.

    Parameters
    ----------
    source
        What :func:`find_videos` accepts, or a list of :class:`VideoItem`.
    out_path
        ``.csv`` or ``.parquet`` file, written atomically; ``-``: CSV to standard output.
    results, iteration, models
        Which models (:func:`model_paths`).
    window_s, hop_s
        Score windows of ``window_s`` seconds every ``hop_s`` seconds (see
        :func:`time_windows`); ``None`` scores each video whole.
    fps
        Resample videos to this frame rate before Face Mesh (as ``landmarks.fps`` in the
        workflow; use the run's value).
    refine_landmarks
        Face Mesh iris refinement; ``None``: as the models record, else on (the default of
        the workflow).
    several_faces
        ``error`` refuses a video whose first, middle or last frame shows several faces;
        ``largest``, ``central`` or ``tracked`` follows one face by that policy.
    strict
        Raise on the first video that cannot be scored; ``None``: strict for a single video,
        otherwise the video's row records the error and the others go on.
    device
        Torch device of the models (``cpu`` gives reproducible scores).
    progress
        Progress bars (videos, and each video's frames, with time estimates) on stderr;
        ``None``: only when stderr is a terminal.
    **extractor_options
        More :class:`emoflow.landmarks.extract.FaceMeshExtractor` options.

    Returns
    -------
    polars.DataFrame
        :data:`OUTPUT_SCHEMA` columns (plus ``true_emotion`` when the input has labels).

    Raises
    ------
    EmoflowError
        Unusable models or options, an output path that is a folder, cannot be written or
        is an input; with ``strict``, the first video that fails.
    """
    if out_path is not None:
        output_format(out_path)
        check_writable(out_path)
    check_face_mode(several_faces)
    time_windows(np.zeros(1), 1.0, window_s, hop_s)  # checks the window options early
    if isinstance(source, str | Path):
        sources = find_videos(source)
        single = names_one_video(Path(source))
        named: list[str | Path] = [source]
    else:
        sources = check_unique(list(source), "the video list", "give each video its own id")
        single = len(sources) == 1
        named = []
    strict = single if strict is None else strict
    pipeline = Pipeline(
        results=results,
        iteration=iteration,
        models=models,
        refine_landmarks=refine_landmarks,
        several_faces=several_faces,
        fps=fps,
        device=device,
        extractor_options=extractor_options,
    )
    pipeline.refuse_overwriting([out_path], sources, named)
    loaded = pipeline.models
    log.info(
        "%d models (%s), %d of %d landmarks as features; %d video(s)",
        len(loaded),
        ", ".join(f"{m.emotion}: iteration {m.iteration}" for m in loaded),
        len(pipeline.union),
        get_scheme(loaded[0].scheme).n_points,
        len(sources),
    )
    rows: list[dict[str, Any]] = []
    labels = {s.video_id: s.true_emotion for s in sources if s.true_emotion is not None}
    n_failed = 0
    with pipeline, Progress(len(sources), enabled=progress) as bar:
        for item in sources:
            bar.start(item.video_id)
            n_frames = 0
            try:
                video_rows, n_frames = _score_video(pipeline, item, window_s, hop_s, bar)
            except EmoflowError as err:
                if strict:
                    raise
                video_rows = [_error_row(item, str(err))]
            except Exception as err:  # a decoder or MediaPipe failure on one video
                if strict:
                    raise
                log.exception("unexpected failure on %s", item.path)
                video_rows = [_error_row(item, f"{item.path}: {type(err).__name__}: {err}")]
            errors = [row["error"] for row in video_rows if row.get("error")]
            scored = any(row.get("score") is not None for row in video_rows)
            if errors and scored:  # windows without a face beside scored ones: marked, kept
                log.warning(
                    "%s: %d of %d windows not scored (no face): %s",
                    item.video_id,
                    len({row["window"] for row in video_rows if row.get("error")}),
                    len({row["window"] for row in video_rows}),
                    errors[0],
                )
            failed = errors if not scored else []
            if failed:
                n_failed += 1
                for message in dict.fromkeys(failed):
                    log.warning("not scored: %s", message)
                if strict:
                    raise InputError(item.path, failed[0].removeprefix(f"{item.path}: "))
            rows.extend(video_rows)
            bar.advance(1, n_frames)
    table = pl.DataFrame(rows, schema=OUTPUT_SCHEMA)
    if labels:
        table = table.with_columns(
            pl.col("video_id").replace_strict(labels, default=None).alias("true_emotion")
        )
    if n_failed:
        log.warning(
            "%d of %d videos could not be scored (see the error column)", n_failed, len(sources)
        )
    if out_path is not None:
        write_table(table, out_path)
        log.info("wrote %s: %d rows", out_path, table.height)
    return table


__all__ = ["OUTPUT_SCHEMA", "failed_videos", "predict"]

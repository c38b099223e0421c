"""Feature samples of a video's time windows, and their scores.

A window's frames are normalised once per distinct feature setting among the models
(:func:`feature_samples`); each model takes its landmark columns of that sample
(:func:`model_inputs`) and scores it (:meth:`LoadedModel.score`). ``predict`` scores every
window this way; ``explain`` attributes the one window covering the whole video.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from emoflow.errors import ConfigError, DataError
from emoflow.inference.loading import LoadedModel, landmark_union
from emoflow.inference.videos import VideoLandmarks

_TIME_EPSILON = 1e-9


def time_windows(
    timestamps: np.ndarray, end_s: float, window_s: float | None, hop_s: float | None
) -> list[tuple[float, float]]:
    """``[start, end)`` windows over a video's frames.

    Without ``window_s`` one window covers the video. Otherwise windows of ``window_s``
    seconds start every ``hop_s`` seconds (default ``window_s``) from the first frame; when
    they leave a tail uncovered, one more window ends at the video's end. A video shorter
    than ``window_s`` gives one window over all of it.
    """
    start = float(timestamps[0]) if len(timestamps) else 0.0
    if window_s is None:
        return [(start, end_s)]
    if not (math.isfinite(window_s) and window_s > 0):
        raise ConfigError(f"window_s must be a positive number of seconds, got {window_s!r}")
    hop = window_s if hop_s is None else hop_s
    if not (math.isfinite(hop) and hop > 0):
        raise ConfigError(f"hop_s must be a positive number of seconds, got {hop_s!r}")
    if end_s - start <= window_s + _TIME_EPSILON:
        return [(start, end_s)]
    windows = []
    begin = start
    while begin + window_s <= end_s + _TIME_EPSILON:
        windows.append((begin, begin + window_s))
        begin = start + len(windows) * hop
    if windows[-1][1] < end_s - _TIME_EPSILON:
        windows.append((end_s - window_s, end_s))
    return windows


def window_features(
    video: VideoLandmarks,
    mask: np.ndarray,
    settings: Any,
    union: np.ndarray,
) -> np.ndarray:
    """The feature sample ``(n_frames, len(union), 3)`` of the frames in ``mask``.

    Raises
    ------
    DataError
        Too few frames, or too many without a face for ``settings.max_missing``.
    """
    from emoflow.features.normalise import MIN_SAMPLE_FRAMES, normalise_sequence

    n_frames = int(mask.sum())
    if n_frames < MIN_SAMPLE_FRAMES:  # the rule training applies to its samples
        raise DataError(
            f"{n_frames} frame(s) in the window; a sample needs at least {MIN_SAMPLE_FRAMES}"
        )
    found = video.found[mask]
    missing = 1.0 - float(found.mean())
    if not found.any() or missing > settings.max_missing:
        raise DataError(
            f"{missing:.0%} of the {n_frames} frames show no face; the models accept at most "
            f"{settings.max_missing:.0%} (feature setting max_missing)"
        )
    sample = normalise_sequence(
        video.landmarks[mask],
        found,
        settings,
        width=video.width,
        height=video.height,
        scheme=video.scheme,
        timestamps=video.timestamps[mask],
    )
    return sample[:, union, :]


def model_columns(models: Sequence[LoadedModel], union: np.ndarray) -> dict[str, np.ndarray]:
    """Each model's landmark columns in a sample over ``union``, by emotion."""
    position = {int(landmark): index for index, landmark in enumerate(union)}
    return {m.emotion: np.array([position[int(i)] for i in m.landmarks]) for m in models}


def feature_samples(
    video: VideoLandmarks, mask: np.ndarray, models: Sequence[LoadedModel], union: np.ndarray
) -> dict[Any, np.ndarray]:
    """One feature sample ``(n_frames, len(union), 3)`` per distinct feature setting of the
    models, keyed by the setting (:func:`window_features`; raises its DataError)."""
    samples: dict[Any, np.ndarray] = {}
    for model in models:
        if model.settings not in samples:
            samples[model.settings] = window_features(video, mask, model.settings, union)
    return samples


def model_inputs(
    model: LoadedModel, samples: dict[Any, np.ndarray], columns: dict[str, np.ndarray]
) -> np.ndarray:
    """The model's input ``(1, n_frames, len(model.landmarks), 3)`` from the samples."""
    return samples[model.settings][None, :, columns[model.emotion], :]


def window_mask(video: VideoLandmarks, start: float, end: float) -> np.ndarray:
    """Frames of ``video`` in ``[start, end)`` seconds."""
    return (video.timestamps >= start - _TIME_EPSILON) & (video.timestamps < end - _TIME_EPSILON)


def score_windows(
    video: VideoLandmarks,
    models: Sequence[LoadedModel],
    windows: Sequence[tuple[float, float]],
) -> list[dict[str, Any]]:
    """Score every window of a video with every model; rows of the prediction table."""
    union = landmark_union(models)
    columns = model_columns(models, union)
    origin = {m.emotion: m.trained_on for m in models}
    rows: list[dict[str, Any]] = []
    base = {"video_id": video.source.video_id, "path": video.source.path}
    for index, (start, end) in enumerate(windows):
        mask = window_mask(video, start, end)
        window = {
            **base,
            "window": index,
            "start_s": start,
            "end_s": end,
            "n_frames": int(mask.sum()),
        }
        try:
            samples = feature_samples(video, mask, models, union)
            scored = {
                m.emotion: (*m.score(model_inputs(m, samples, columns)), m.iteration)
                for m in models
            }
        except DataError as err:
            rows.append({**window, "error": f"{video.source.path}: {err}"})
            continue
        probabilities = {e: v[1] for e, v in scored.items() if v[1] is not None}
        calibrated = len(probabilities) == len(scored)
        ranking = probabilities if calibrated else {e: v[0] for e, v in scored.items()}
        label = max(sorted(ranking), key=lambda emotion: ranking[emotion])
        for emotion in sorted(scored):
            score, chance, iteration = scored[emotion]
            rows.append(
                {
                    **window,
                    "emotion": emotion,
                    "score": score,
                    "probability": chance,
                    "label": label,
                    "iteration": iteration,
                    "trained_on": origin[emotion],
                }
            )
    return rows


__all__ = [
    "feature_samples",
    "model_columns",
    "model_inputs",
    "score_windows",
    "time_windows",
    "window_features",
    "window_mask",
]

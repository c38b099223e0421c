"""Frame counts and resampling: how many frames a source yields, whether its frame times
are evenly spaced, and which source frames a resampling to another frame rate takes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from emoflow.errors import ConfigError
from emoflow.video.frames import TIME_EPSILON, VideoInfo, window_indices

EVEN_TIMES_TOLERANCE = 0.1
"""Frame times within this fraction of a frame interval of an even spacing count as a constant
frame rate (:func:`even_times`): millisecond-rounded times (WebM, Matroska) are even, a
phone's variable rate is not."""


def resampled_sources(times: np.ndarray, source_fps: float, target_fps: float) -> np.ndarray:
    """For each output frame of a resampling to ``target_fps``, the source frame (position in
    ``times``) nearest its time ``times[0] + k / target_fps`` (ties: the later). Evenly spaced
    frames use the rule by frame index, ``floor(k * source_fps / target_fps + 0.5)``, exactly
    as before frame times were read."""
    n = len(times)
    if even_times(times):
        return _by_index(n, source_fps / target_fps)
    positions = _positions_at(
        times, times[0] + np.arange(_output_count(times, target_fps)) / target_fps
    )
    return np.floor(positions + 0.5).astype(np.int64).clip(0, n - 1)


def _by_index(n: int, step: float) -> np.ndarray:
    """The source frames (of ``n``) that resampling by frame index takes: output ``k`` takes
    frame ``floor(k * step + 0.5)``, ``step`` being the source rate over the target rate."""
    chosen: list[int] = []
    while math.floor(len(chosen) * step + 0.5) <= n - 1:
        chosen.append(math.floor(len(chosen) * step + 0.5))
    return np.array(chosen, dtype=np.int64)


def _output_count(times: np.ndarray, target_fps: float) -> int:
    """Output frames of a resampling: up to half a frame interval past the last frame."""
    if len(times) < 2:
        return 1
    last_interval = float(times[-1] - times[-2])
    end = float(times[-1] - times[0]) + last_interval / 2
    return max(1, math.ceil(end * target_fps - TIME_EPSILON))


def expected_frames(info: VideoInfo, fps: float | None = None) -> int | None:
    """How many frames :func:`open_frames` will yield for ``info``: the frames its times list
    (:attr:`VideoInfo.frame_times`), or, when those are unknown, :func:`declared_frames`.
    Headers can be wrong: the frames yielded are the truth.

    ``fps`` is the rate asked of :func:`open_frames` (``None``: the source's).
    """
    if info.frame_times is not None:
        return len(info.frame_times)
    return declared_frames(info, fps)


def declared_frames(info: VideoInfo, fps: float | None = None) -> int | None:
    """The frames :func:`open_frames` would yield for ``info`` by the frame count the header
    declares (``None`` when it declares none), in the time window and at ``fps``."""
    if info.n_frames is None:
        return None
    _, stop = window_indices(info.source_fps, None, info.end_s)
    n_window = max(0, min(info.n_frames, stop or info.n_frames) - info.first_frame)
    if fps is None or fps == info.source_fps or Path(info.path).is_dir():
        return n_window
    return len(_by_index(n_window, info.source_fps / float(fps)))


def even_times(times: np.ndarray | None, n_out: int | None = None) -> bool:
    """Whether frame times keep a constant frame rate: within :data:`EVEN_TIMES_TOLERANCE` of a
    frame interval of the line from the first frame to the last. ``None`` (no times) counts
    as even.

    With ``n_out``, only the frames that resampling to ``n_out`` frames by frame number reads
    are judged (:func:`resampled_frames` without times), and an unknown time (NaN: a frame
    not meshed) among them makes the times uneven: the judgement is then the same whether a
    sequence has every frame's time or only those of the frames it was resampled from, so
    that sampled extraction and the features agree on which frames are read.
    """
    if times is None or len(times) < 3:
        return True
    times = np.asarray(times, dtype=np.float64)
    n = len(times)
    if not (np.isfinite(times[0]) and np.isfinite(times[-1])):
        return False
    judged = resampled_frames(n, n_out) if n_out is not None else np.arange(n)
    if n_out is None:
        judged = judged[np.isfinite(times)]
    elif not np.isfinite(times[judged]).all():
        return False
    interval = (times[-1] - times[0]) / (n - 1)
    if not interval > 0:
        return False
    line = times[0] + judged * interval
    return bool(np.abs(times[judged] - line).max() <= EVEN_TIMES_TOLERANCE * interval)


def _positions_at(times: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Fractional frame positions of the instants ``targets``: ``i + (t - times[i]) /
    (times[i+1] - times[i])`` between the frames around ``t``; past the last frame, on at its
    last interval."""
    n = len(times)
    frames = np.arange(n, dtype=np.float64)
    positions = np.interp(targets, times, frames)
    if n >= 2:
        beyond = targets > times[-1]
        last = times[-1] - times[-2]
        if last > 0:
            positions[beyond] = (n - 1) + (targets[beyond] - times[-1]) / last
    return positions


def filled_times(times: np.ndarray) -> np.ndarray:
    """Frame times with the unknown ones (NaN: frames not meshed) placed on the line between
    the known frames around them."""
    times = np.asarray(times, dtype=np.float64)
    known = np.flatnonzero(np.isfinite(times))
    if len(known) == len(times):
        return times
    if len(known) == 0:
        return np.arange(len(times), dtype=np.float64)
    return np.interp(np.arange(len(times)), known, times[known])


def frame_positions(n_in: int, n_out: int, times: np.ndarray | None = None) -> np.ndarray:
    """Fractional frame positions of ``n_out`` instants evenly spread from the first frame to
    the last.

    With evenly spaced ``times`` (:func:`even_times`; ``None``: the frames' own spacing) the
    positions are ``k * (n_in - 1) / (n_out - 1)``, by frame index, bit for bit as without
    times. Otherwise the instants are ``t_0 + k (t_last - t_0) / (n_out - 1)`` seconds and
    each position lies between the two frames around it in proportion to their times
    (unknown times, NaN, are first placed between their known neighbours).
    """
    if times is None or even_times(times, n_out):
        return np.linspace(0.0, n_in - 1, n_out)
    filled = filled_times(np.asarray(times, dtype=np.float64)[:n_in])
    targets = np.linspace(filled[0], filled[-1], n_out)
    positions = np.interp(targets, filled, np.arange(n_in, dtype=np.float64))
    # an instant on a frame's time is that frame (no neighbour read with weight 0)
    nearest = np.rint(positions)
    on_frame = np.isclose(targets, filled[nearest.astype(np.intp)], rtol=0, atol=1e-9)
    return np.where(on_frame, nearest, positions)


def resampling_weights(
    n_in: int, n_out: int, times: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear resampling of ``n_in`` frames to ``n_out`` over the same span.

    Output ``k`` is ``(1 - weight[k]) * frame[lower[k]] + weight[k] * frame[upper[k]]``, at
    the position :func:`frame_positions` gives (``k * (n_in - 1) / (n_out - 1)`` for frames
    at a constant rate; in proportion to the frame ``times`` otherwise). Where the position
    falls on a frame (``weight`` 0) ``upper`` is ``lower``, so no frame is read with weight 0.
    """
    if n_in < 1 or n_out < 1:
        raise ConfigError(f"cannot resample {n_in} frames to {n_out}")
    if n_in == 1:
        zeros = np.zeros(n_out, dtype=np.intp)
        return zeros, zeros, np.zeros(n_out)
    positions = frame_positions(n_in, n_out, times)
    lower = np.minimum(np.floor(positions).astype(np.intp), n_in - 1)
    weight = positions - lower
    upper = np.where(weight > 0, np.minimum(lower + 1, n_in - 1), lower)
    return lower, upper, weight


def resampled_frames(n_in: int, n_out: int, times: np.ndarray | None = None) -> np.ndarray:
    """The frames (sorted positions) that resampling ``n_in`` frames to ``n_out`` reads: at
    most ``2 * n_out - 2`` (see :func:`resampling_weights`; ``times``: the frames' times)."""
    lower, upper, _ = resampling_weights(n_in, n_out, times)
    return np.union1d(lower, upper)

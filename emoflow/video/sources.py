"""Opening a frame source by its path: a video file (through :mod:`emoflow.video.decode`) or a
folder of image frames (read here: its files in natural name order, as RGB arrays)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Unpack

import numpy as np

from emoflow.errors import ConfigError, InputError
from emoflow.video.decode import VideoDecoder
from emoflow.video.frames import (
    DEFAULT_FOLDER_FPS,
    FRAME_SUFFIXES,
    Frame,
    FrameStream,
    FrameWindow,
    VideoInfo,
    check_window_size,
    window_indices,
    window_text,
)


def _check_window(start_s: float | None, end_s: float | None) -> None:
    """Raise ConfigError unless the window bounds are finite, non-negative and ordered."""
    for name, value in (("start_s", start_s), ("end_s", end_s)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{name} must be a non-negative number of seconds, got {value!r}")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise ConfigError(f"end_s ({end_s}) must be after start_s ({start_s})")


def open_frames(
    source: str | Path,
    *,
    fps: float | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    threads: int = 0,
) -> tuple[VideoInfo, Iterator[np.ndarray]]:
    """Open a video file or frame folder and return its description and a frame iterator.

    The first frame is decoded at once, so that unreadable sources fail here; the remaining
    frames are decoded as the iterator is consumed.

    Parameters
    ----------
    source
        A video file or a folder of image frames.
    fps
        For a video: the frame rate to resample to (frames are dropped or repeated, each
        output time taking the nearest source frame); ``None`` keeps every frame. For a
        frame folder: the rate the frames were taken at (default 30); nothing is resampled.
    start_s, end_s
        Time window in seconds of the source: only frames at ``start_s <= t < end_s`` are
        yielded (``None``: from the start, to the end). ``NaN`` counts as ``None``, so the
        nullable time columns of a manifest can be passed as they are.
    threads
        Decoder threads (0: as many as FFmpeg sees fit; 1 spends the least CPU time).

    Returns
    -------
    info
        Frame rate, size, declared frame count and frame times.
    frames
        RGB ``uint8`` arrays of shape ``(height, width, 3)``, C-contiguous.

    Raises
    ------
    InputError
        The source does not exist, cannot be decoded, has no frames (or none in the time
        window), or (frame folder) holds frames of different sizes; the last is raised while
        iterating, naming the frame.
    ConfigError
        ``fps`` is not a positive finite number, or the window bounds are negative, not
        finite or out of order.
    """
    info, slots = open_frame_slots(source, fps=fps, start_s=start_s, end_s=end_s, threads=threads)
    return info, (slot() for slot in slots)


def open_frame_slots(
    source: str | Path,
    *,
    threads: int = 0,
    **window: Unpack[FrameWindow],
) -> tuple[VideoInfo, FrameStream]:
    """:func:`open_frames`, but each frame comes as a :class:`Frame` (its position, time and,
    called, its pixels): frames that are never called cost a video only their decoding (no
    colour conversion) and a frame folder nothing (the image is not read).

    Further parameters (:class:`FrameWindow`, all ``None`` by default)
    ------------------------------------------------------------------
    select
        Which frames to yield, given :attr:`VideoInfo.frame_times` (:data:`Selection`); the
        others are not yielded, and a video decodes only what the selected frames need (see
        the module notes). Ignored (every frame is yielded, and the stream is not
        :attr:`~FrameStream.complete`) when the frame times cannot be known beforehand.
    side_limits
        ``(min_side, max_side)``: refuse frames outside these pixels per side
        (:func:`check_frame_size`) before any frame is decoded; ``side_setting`` names the
        option that sets them, for the message.

    Same errors and frames as :func:`open_frames`; a refused frame size is an InputError.
    """
    unknown = sorted(set(window) - FrameWindow.__optional_keys__)
    if unknown:
        raise TypeError(f"open_frame_slots() got unexpected keyword argument(s) {unknown}")
    fps = window.get("fps")
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be a positive number, got {fps!r}")
    start_s, end_s = window.get("start_s"), window.get("end_s")
    window["start_s"] = None if start_s is None or math.isnan(start_s) else float(start_s)
    window["end_s"] = None if end_s is None or math.isnan(end_s) else float(end_s)
    _check_window(window["start_s"], window["end_s"])
    path = Path(source)
    if not path.exists():
        raise InputError(path, "does not exist")
    if path.is_dir():
        return open_folder(path, window)
    return VideoDecoder(path, threads).open(window)


def probe_video(path: str | Path) -> tuple[int, int, int | None] | None:
    """``(width, height, frames declared)`` from a video's header, in well under a millisecond
    (no frame decoded, the stream probe cut short); ``None`` when it is no readable video
    (a frame folder: its first image's size, the number of images)."""
    source = Path(path)
    if source.is_dir():
        files = frame_files(source)
        size = image_size(files[0]) if files else None
        return None if size is None else (size[0], size[1], len(files))
    import av

    try:
        with av.open(
            str(source),
            metadata_errors="ignore",
            options={"skip_frame": "all", "probesize": "32", "analyzeduration": "0"},
        ) as container:
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            frames = int(stream.frames) if stream.frames else None
    except Exception:  # not a readable video here: extraction reports it in its own words
        return None
    return (int(width), int(height), frames) if width and height else None


def natural_key(name: str) -> list[tuple[int, int | str]]:
    """Sort key that orders digit runs by value: ``f2.png`` < ``f10.png``."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)]


def frame_files(folder: str | Path) -> list[Path]:
    """Image files of a frame folder, in natural name order (hidden files skipped)."""
    files = [
        entry
        for entry in Path(folder).iterdir()
        if entry.is_file()
        and entry.suffix.lower() in FRAME_SUFFIXES
        and not entry.name.startswith(".")
    ]
    return sorted(files, key=lambda entry: natural_key(entry.name))


def _read_image_rgb(file: Path) -> np.ndarray:
    """Decode one image file to RGB ``uint8``, naming the file when it cannot be read."""
    import cv2

    bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(file, "image is unreadable or corrupt")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def image_size(file: Path) -> tuple[int, int] | None:
    """``(width, height)`` from an image file's header, without decoding it."""
    from PIL import Image

    try:
        with Image.open(file) as image:
            return int(image.size[0]), int(image.size[1])
    except Exception:  # unreadable here: reading it reports it with its own message
        return None


def open_folder(folder: Path, window: FrameWindow) -> tuple[VideoInfo, FrameStream]:
    fps = window.get("fps")
    fps = fps if fps is not None else DEFAULT_FOLDER_FPS
    start_s, end_s, select = window.get("start_s"), window.get("end_s"), window.get("select")
    all_files = frame_files(folder)
    if not all_files:
        suffixes = ", ".join(sorted(FRAME_SUFFIXES))
        raise InputError(folder, f"frame folder holds no image frames ({suffixes})")
    first_index, stop_index = window_indices(fps, start_s, end_s)
    files = all_files[first_index:stop_index]
    if not files:
        raise InputError(
            folder,
            f"no frame in the time window {window_text(start_s, end_s)}: the folder holds "
            f"{len(all_files)} frames ({len(all_files) / fps:g} s at {fps:g} fps)",
        )
    if window.get("side_limits") is not None and (size := image_size(files[0])) is not None:
        check_window_size(window, files[0], *size)
    start = first_index / fps
    times = start + np.arange(len(files)) / fps
    wanted = None if select is None else sorted({int(i) for i in select(times)})
    first = _read_image_rgb(files[wanted[0] if wanted else 0])
    height, width = first.shape[:2]
    check_window_size(window, folder, width, height)
    info = VideoInfo(
        path=str(folder),
        fps=float(fps),
        width=int(width),
        height=int(height),
        n_frames=len(all_files),
        source_fps=float(fps),
        first_frame=first_index,
        start_s=start,
        end_s=end_s,
        frame_times=times,
    )
    reference = files[wanted[0] if wanted else 0]

    def read(file: Path) -> np.ndarray:
        rgb = _read_image_rgb(file)
        if rgb.shape[:2] != (height, width):
            raise InputError(
                folder,
                f"frames have mixed sizes: {file.name} is {rgb.shape[1]}x{rgb.shape[0]}, "
                f"{reference.name} is {width}x{height}",
            )
        return rgb

    def frames(stream: FrameStream) -> Iterator[Frame]:
        stream.n_frames = len(files)
        for index in range(len(files)) if wanted is None else wanted:
            if index >= len(files):
                continue
            if files[index] == reference:
                yield Frame(index, float(times[index]), lambda: first)
            else:
                yield Frame(index, float(times[index]), partial(read, files[index]))

    return info, FrameStream(frames)

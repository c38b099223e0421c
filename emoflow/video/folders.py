"""Folders of image frames: their files in natural name order, read as RGB arrays."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np

from emoflow.errors import InputError
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

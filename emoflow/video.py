"""Frame sources: decode a video file or a folder of image frames into RGB arrays, lazily.

A source is either a video file (any container and codec OpenCV decodes) or a folder of image
frames (PNG, JPEG, BMP, TIFF, WebP), taken in natural name order (``frame2`` before
``frame10``; zero-padded names sort the same way either way).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emoflow.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

FRAME_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
"""File name endings (lower case) of the images read from a frame folder."""
DEFAULT_FOLDER_FPS = 30.0
"""Frame rate assumed for a frame folder when none is given."""
UNREADABLE = "unreadable, corrupt or empty: no frame could be decoded"


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a frame source before its frames are decoded.

    Attributes
    ----------
    path
        The source as given (video file or frame folder).
    fps
        Frame rate of the frames yielded: the requested rate when resampling, otherwise the
        rate the container reports (or the folder's given/default rate).
    width, height
        Frame size in pixels.
    n_frames
        Number of frames the container reports (before any resampling), or the number of
        images in a frame folder; ``None`` when the container does not say. Containers can
        be wrong: count the frames yielded when the exact number matters.
    source_fps
        Frame rate of the source itself, before resampling.
    """

    path: str
    fps: float
    width: int
    height: int
    n_frames: int | None
    source_fps: float


def open_frames(
    source: str | Path, *, fps: float | None = None
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

    Returns
    -------
    info
        Frame rate, size and reported frame count.
    frames
        RGB ``uint8`` arrays of shape ``(height, width, 3)``, C-contiguous.

    Raises
    ------
    InputError
        The source does not exist, cannot be decoded, has no frames, or (frame folder) holds
        frames of different sizes; the last is raised while iterating, naming the frame.
    ConfigError
        ``fps`` is not a positive finite number.
    """
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be a positive number, got {fps!r}")
    path = Path(source)
    if not path.exists():
        raise InputError(path, "does not exist")
    if path.is_dir():
        return _open_folder(path, fps if fps is not None else DEFAULT_FOLDER_FPS)
    return _open_video(path, fps)


def _natural_key(name: str) -> list[tuple[int, int | str]]:
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
    return sorted(files, key=lambda entry: _natural_key(entry.name))


def _read_image_rgb(file: Path) -> np.ndarray:
    """Decode one image file to RGB ``uint8``, naming the file when it cannot be read."""
    bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(file, "image is unreadable or corrupt")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _open_folder(folder: Path, fps: float) -> tuple[VideoInfo, Iterator[np.ndarray]]:
    files = frame_files(folder)
    if not files:
        suffixes = ", ".join(sorted(FRAME_SUFFIXES))
        raise InputError(folder, f"frame folder holds no image frames ({suffixes})")
    first = _read_image_rgb(files[0])
    height, width = first.shape[:2]
    info = VideoInfo(
        path=str(folder),
        fps=float(fps),
        width=int(width),
        height=int(height),
        n_frames=len(files),
        source_fps=float(fps),
    )

    def frames() -> Iterator[np.ndarray]:
        yield first
        for file in files[1:]:
            rgb = _read_image_rgb(file)
            if rgb.shape[:2] != (height, width):
                raise InputError(
                    folder,
                    f"frames have mixed sizes: {file.name} is {rgb.shape[1]}x{rgb.shape[0]}, "
                    f"{files[0].name} is {width}x{height}",
                )
            yield rgb

    return info, frames()


def _open_video(path: Path, fps: float | None) -> tuple[VideoInfo, Iterator[np.ndarray]]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise InputError(path, UNREADABLE)
    ok, first_bgr = capture.read()
    if not ok or first_bgr is None or first_bgr.size == 0:
        capture.release()
        raise InputError(path, UNREADABLE)
    height, width = first_bgr.shape[:2]
    reported_fps = capture.get(cv2.CAP_PROP_FPS)
    if math.isfinite(reported_fps) and reported_fps > 0:
        source_fps = float(reported_fps)
    else:
        logger.warning(
            "%s: container reports no frame rate; assuming %g fps", path, DEFAULT_FOLDER_FPS
        )
        source_fps = DEFAULT_FOLDER_FPS
    reported_count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    n_frames = int(reported_count) if math.isfinite(reported_count) and reported_count > 0 else None
    info = VideoInfo(
        path=str(path),
        fps=float(fps) if fps is not None else source_fps,
        width=int(width),
        height=int(height),
        n_frames=n_frames,
        source_fps=source_fps,
    )

    def decoded() -> Iterator[np.ndarray]:
        try:
            yield cv2.cvtColor(first_bgr, cv2.COLOR_BGR2RGB)
            while True:
                ok, bgr = capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()

    if fps is None or fps == source_fps:
        return info, decoded()
    return info, _resample(decoded(), source_fps, float(fps))


def _resample(
    frames: Iterator[np.ndarray], source_fps: float, target_fps: float
) -> Iterator[np.ndarray]:
    """Yield, for each output time ``k / target_fps``, the nearest source frame.

    Source frame ``i`` lies at ``i / source_fps``; output ``k`` takes source frame
    ``floor(k * source_fps / target_fps + 0.5)``. Frames are dropped when the target rate is
    lower and repeated when it is higher; output stops when the source ends.
    """
    step = source_fps / target_fps
    output_index = 0
    for source_index, frame in enumerate(frames):
        while math.floor(output_index * step + 0.5) <= source_index:
            yield frame
            output_index += 1

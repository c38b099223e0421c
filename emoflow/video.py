"""Frame sources: decode a video file or a folder of image frames into RGB arrays, lazily.

A source is either a video file (any container and codec OpenCV decodes) or a folder of image
frames (PNG, JPEG, BMP, TIFF, WebP), taken in natural name order (``frame2`` before
``frame10``; zero-padded names sort the same way either way). :class:`VideoItem` is the one
"video to process" type of the package (manifest rows, shard items, videos to score).
OpenCV is imported when the first source is opened.

Times: source frame ``i`` lies at ``i / source_fps`` seconds. A time window ``[start_s, end_s)``
keeps the source frames whose time falls inside it; resampling to another frame rate then
starts at the first kept frame.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from emoflow.errors import ConfigError, InputError

if TYPE_CHECKING:
    import cv2

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"}
)
"""File name endings (lower case) taken for video files when a folder is searched."""
FRAME_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
"""File name endings (lower case) of the images read from a frame folder."""
DEFAULT_FOLDER_FPS = 30.0
"""Frame rate assumed for a frame folder when none is given."""
UNREADABLE = "unreadable, corrupt or empty: no frame could be decoded"
SEEK_MIN_FRAMES = 120
"""A window starting this many frames or more into a video is reached by seeking (the decoder
jumps to the key frame before it) instead of decoding and dropping every frame before it."""
_TIME_EPSILON = 1e-9
"""Tolerance of window boundaries, so that ``start_s = 2/30`` includes frame 2 at 30 fps."""


LANDMARK_FORMATS: tuple[str, ...] = ("parquet", "csv")
"""Values of :attr:`VideoItem.landmarks_format`: formats of precomputed landmark files."""
COORDINATE_UNITS: tuple[str, ...] = ("normalised", "pixels")
"""Values of the ``units`` import option: CSV coordinates as fractions of the frame size, or
pixels."""


class VideoItem(NamedTuple):
    """One video to process: a manifest row, an item of a landmark shard, a video to score.

    A plain ``(video_id, path)`` pair is a valid item too.

    Attributes
    ----------
    video_id
        Value of the ``video_id`` column.
    path
        Video file or frame folder, or (``landmarks_format`` set) a precomputed landmark file.
    start_s, end_s
        Time window in seconds (``None``: whole video).
    landmarks_format
        ``None`` to extract with Face Mesh; one of :data:`LANDMARK_FORMATS` to import
        precomputed landmarks instead (see :func:`emoflow.landmarks.import_landmarks`).
    import_options
        For CSV imports: ``fps``, ``width``, ``height`` and ``units`` (see
        :func:`emoflow.landmarks.import_landmarks`).
    true_emotion
        The label, when the input lists one (manifests, labelled CSVs).
    """

    video_id: str
    path: str
    start_s: float | None = None
    end_s: float | None = None
    landmarks_format: str | None = None
    import_options: Mapping[str, Any] | None = None
    true_emotion: str | None = None


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
    first_frame
        Source frame index of the first frame yielded (0 without a time window).
    start_s
        Source time of the first frame yielded, ``first_frame / source_fps``; output frame
        ``k`` lies at ``start_s + k / fps``.
    end_s
        End of the requested time window (exclusive), or ``None`` for the end of the source.
    """

    path: str
    fps: float
    width: int
    height: int
    n_frames: int | None
    source_fps: float
    first_frame: int = 0
    start_s: float = 0.0
    end_s: float | None = None


def window_indices(
    source_fps: float, start_s: float | None, end_s: float | None
) -> tuple[int, int | None]:
    """Source frame range ``[first, stop)`` of a time window (``stop`` ``None``: to the end)."""
    first = 0 if start_s is None else max(0, math.ceil(start_s * source_fps - _TIME_EPSILON))
    stop = None if end_s is None else max(0, math.ceil(end_s * source_fps - _TIME_EPSILON))
    return first, stop


def _check_window(start_s: float | None, end_s: float | None) -> None:
    """Raise ConfigError unless the window bounds are finite, non-negative and ordered."""
    for name, value in (("start_s", start_s), ("end_s", end_s)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{name} must be a non-negative number of seconds, got {value!r}")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise ConfigError(f"end_s ({end_s}) must be after start_s ({start_s})")


def _window_text(start_s: float | None, end_s: float | None) -> str:
    start = f"{start_s:g}" if start_s is not None else "0"
    end = f"{end_s:g}" if end_s is not None else "end"
    return f"[{start}, {end}) s"


FrameSlot = Callable[[], np.ndarray]
"""One frame position of a source, decoded (video) or listed (frame folder) but not yet
converted: calling it gives the RGB frame. Valid only until the iterator moves on."""


def open_frames(
    source: str | Path,
    *,
    fps: float | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
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

    Returns
    -------
    info
        Frame rate, size and reported frame count.
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
    info, slots = open_frame_slots(source, fps=fps, start_s=start_s, end_s=end_s)
    return info, (slot() for slot in slots)


def open_frame_slots(
    source: str | Path,
    *,
    fps: float | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
) -> tuple[VideoInfo, Iterator[FrameSlot]]:
    """:func:`open_frames`, but each frame comes as a :data:`FrameSlot`: frames that are never
    called cost a video only their decoding (``grab``, no colour conversion) and a frame folder
    nothing (the image is not read). Same arguments, errors and frames as :func:`open_frames`.
    """
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be a positive number, got {fps!r}")
    start_s = None if start_s is None or math.isnan(start_s) else float(start_s)
    end_s = None if end_s is None or math.isnan(end_s) else float(end_s)
    _check_window(start_s, end_s)
    path = Path(source)
    if not path.exists():
        raise InputError(path, "does not exist")
    if path.is_dir():
        folder_fps = fps if fps is not None else DEFAULT_FOLDER_FPS
        return _open_folder(path, folder_fps, start_s, end_s)
    return _open_video(path, fps, start_s, end_s)


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


def _open_folder(
    folder: Path, fps: float, start_s: float | None, end_s: float | None
) -> tuple[VideoInfo, Iterator[FrameSlot]]:
    all_files = frame_files(folder)
    if not all_files:
        suffixes = ", ".join(sorted(FRAME_SUFFIXES))
        raise InputError(folder, f"frame folder holds no image frames ({suffixes})")
    first_index, stop_index = window_indices(fps, start_s, end_s)
    files = all_files[first_index:stop_index]
    if not files:
        raise InputError(
            folder,
            f"no frame in the time window {_window_text(start_s, end_s)}: the folder holds "
            f"{len(all_files)} frames ({len(all_files) / fps:g} s at {fps:g} fps)",
        )
    first = _read_image_rgb(files[0])
    height, width = first.shape[:2]
    info = VideoInfo(
        path=str(folder),
        fps=float(fps),
        width=int(width),
        height=int(height),
        n_frames=len(all_files),
        source_fps=float(fps),
        first_frame=first_index,
        start_s=first_index / fps,
        end_s=end_s,
    )

    def read(file: Path) -> np.ndarray:
        rgb = _read_image_rgb(file)
        if rgb.shape[:2] != (height, width):
            raise InputError(
                folder,
                f"frames have mixed sizes: {file.name} is {rgb.shape[1]}x{rgb.shape[0]}, "
                f"{files[0].name} is {width}x{height}",
            )
        return rgb

    def frames() -> Iterator[FrameSlot]:
        yield lambda: first
        for file in files[1:]:
            yield _cached(partial(read, file))

    return info, frames()


def _cached(make: FrameSlot) -> FrameSlot:
    """A slot that converts its frame once, however often it is called."""
    frame: list[np.ndarray] = []

    def slot() -> np.ndarray:
        if not frame:
            frame.append(make())
        return frame[0]

    return slot


def _skip_to(capture: cv2.VideoCapture, target: int, position: int) -> None:
    """Make source frame ``target`` the next frame ``capture`` reads; it is at ``position``.

    Far targets are sought (checked against the position the decoder then reports); near
    targets, and seeks the decoder does not honour, decode and drop the frames before it.
    """
    import cv2

    if target >= SEEK_MIN_FRAMES:
        capture.set(cv2.CAP_PROP_POS_FRAMES, target)
        if int(capture.get(cv2.CAP_PROP_POS_FRAMES)) == target:
            return
        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        position = 0
    for _ in range(target - position):
        if not capture.grab():
            return


def _open_video(
    path: Path, fps: float | None, start_s: float | None, end_s: float | None
) -> tuple[VideoInfo, Iterator[FrameSlot]]:
    import cv2

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
    first_index, stop_index = window_indices(source_fps, start_s, end_s)
    if first_index > 0 and (stop_index is None or stop_index > first_index):
        _skip_to(capture, first_index, position=1)  # frame 0 is read already
        ok, first_bgr = capture.read()
    if not ok or first_bgr is None or (stop_index is not None and stop_index <= first_index):
        capture.release()
        length = f"{n_frames} frames" if n_frames is not None else "an unknown number of frames"
        raise InputError(
            path,
            f"no frame in the time window {_window_text(start_s, end_s)}: the container "
            f"reports {length} at {source_fps:g} fps",
        )
    info = VideoInfo(
        path=str(path),
        fps=float(fps) if fps is not None else source_fps,
        width=int(width),
        height=int(height),
        n_frames=n_frames,
        source_fps=source_fps,
        first_frame=first_index,
        start_s=first_index / source_fps,
        end_s=end_s,
    )
    n_window = None if stop_index is None else stop_index - first_index

    def retrieve() -> np.ndarray:
        ok, bgr = capture.retrieve()
        if not ok or bgr is None:
            raise InputError(path, "a decoded frame could not be retrieved")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def decoded() -> Iterator[FrameSlot]:
        try:
            yield _cached(lambda: cv2.cvtColor(first_bgr, cv2.COLOR_BGR2RGB))
            n_yielded = 1
            while n_window is None or n_yielded < n_window:
                if not capture.grab():
                    return
                yield _cached(retrieve)
                n_yielded += 1
        finally:
            capture.release()

    if fps is None or fps == source_fps:
        return info, decoded()
    return info, _resample(decoded(), source_fps, float(fps))


def _resample(
    frames: Iterator[FrameSlot], source_fps: float, target_fps: float
) -> Iterator[FrameSlot]:
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


def expected_frames(info: VideoInfo, fps: float | None = None) -> int | None:
    """How many frames :func:`open_frames` will yield for ``info``, from the frame count the
    container reports (``None`` when it reports none). Containers can be wrong: this is a
    plan, the frames yielded are the truth.

    ``fps`` is the rate asked of :func:`open_frames` (``None``: the source's).
    """
    if info.n_frames is None:
        return None
    _, stop = window_indices(info.source_fps, None, info.end_s)
    n_window = max(0, min(info.n_frames, stop or info.n_frames) - info.first_frame)
    if fps is None or fps == info.source_fps or Path(info.path).is_dir():
        return n_window
    step = info.source_fps / float(fps)
    count = 0
    while math.floor(count * step + 0.5) <= n_window - 1:
        count += 1
    return count


def resampling_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear resampling of ``n_in`` frames to ``n_out`` over the same span.

    Output ``k`` is ``(1 - weight[k]) * frame[lower[k]] + weight[k] * frame[upper[k]]``, at
    position ``k * (n_in - 1) / (n_out - 1)``. Where the position falls on a frame
    (``weight`` 0) ``upper`` is ``lower``, so no frame is read with weight 0.
    """
    if n_in < 1 or n_out < 1:
        raise ConfigError(f"cannot resample {n_in} frames to {n_out}")
    if n_in == 1:
        zeros = np.zeros(n_out, dtype=np.intp)
        return zeros, zeros, np.zeros(n_out)
    positions = np.linspace(0.0, n_in - 1, n_out)
    lower = np.floor(positions).astype(np.intp)
    weight = positions - lower
    upper = np.where(weight > 0, np.minimum(lower + 1, n_in - 1), lower)
    return lower, upper, weight


def resampled_frames(n_in: int, n_out: int) -> np.ndarray:
    """The frames (sorted positions) that resampling ``n_in`` frames to ``n_out`` reads: at
    most ``2 * n_out - 2`` (see :func:`resampling_weights`)."""
    lower, upper, _ = resampling_weights(n_in, n_out)
    return np.union1d(lower, upper)

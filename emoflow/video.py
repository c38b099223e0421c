"""Frame sources: decode a video file or a folder of image frames into RGB arrays, lazily.

A source is either a video file (any container and codec FFmpeg decodes, read through PyAV) or
a folder of image frames (PNG, JPEG, BMP, TIFF, WebP), taken in natural name order (``frame2``
before ``frame10``; zero-padded names sort the same way either way). :class:`VideoItem` is the
one "video to process" type of the package (manifest rows, shard items, videos to score).
PyAV and OpenCV are imported when the first source is opened.

Times. A video frame's time is its presentation time (PTS) in the container, in seconds from
the video stream's start (its first frame, as ffprobe's ``pts_time`` minus the stream's
``start_time``): a variable-frame-rate recording (phones) keeps its real frame times. A
stream whose frames carry no presentation times (some AVI and raw streams) has frame ``i``
at ``i / source_fps``. Frame-folder image ``i`` lies at ``i / fps``. A time window
``[start_s, end_s)`` keeps the frames whose time falls inside it; resampling to another frame
rate then starts at the first kept frame, output ``k`` at ``start + k / fps`` taking the
nearest source frame.

Headers are checked against the frames (:attr:`FrameStream.warnings`, which the extraction
logs and records): fewer frames than the header declares (a truncated file), a declared
duration far longer than the frames span (e.g. 10 hours over 30 frames), a declared frame rate
the frames do not keep, and frame times no video has (under :data:`MIN_PLAUSIBLE_FPS` or over
:data:`MAX_PLAUSIBLE_FPS` on average; then frame ``i`` is placed at ``i / fps`` of the header's
frame rate, or of :data:`DEFAULT_FOLDER_FPS`).

Decoding only what is needed. With ``select`` (:func:`open_frame_slots`), only the selected
frames are yielded, and the decoder skips the work the others would cost where the codec
allows: a frame no other frame refers to is not decoded at all (FFmpeg's ``skip_frame``
``nonref`` for that packet; every unselected packet of an intra-only stream), and the decoder
seeks to the key frame before a selected frame when decoding up to it would cost
:data:`SEEK_MIN_FRAMES` frames or more. The selected frames are decoded exactly as a
sequential decode gives them (a frame skipped this way is one no other frame depends on).
"""

from __future__ import annotations

import bisect
import logging
import math
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

import numpy as np

from emoflow.errors import ConfigError, InputError

if TYPE_CHECKING:
    import av.container
    import av.video.stream

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"}
)
"""File name endings (lower case) taken for video files when a folder is searched."""
FRAME_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
"""File name endings (lower case) of the images read from a frame folder."""
DEFAULT_FOLDER_FPS = 30.0
"""Frame rate assumed for a frame folder when none is given (and for a video whose header
gives no plausible one)."""
UNREADABLE = "unreadable, corrupt or empty: no frame could be decoded"
SEEK_MIN_FRAMES = 4
"""The decoder seeks to the key frame before the next frame it needs (a time window's first
frame, the next selected frame) when that spares decoding this many frames or more; otherwise
it decodes (or skips) its way there."""
MIN_SIDE = 64
"""Smallest frame side (pixels) accepted by default: smaller frames cannot hold a face Face
Mesh finds."""
MAX_SIDE = 4096
"""Largest frame side (pixels) accepted by default: larger frames cost memory and decoding time
for nothing (Face Mesh looks at 128- and 192-pixel crops); downscale them first."""
MIN_PLAUSIBLE_FPS = 1.0
MAX_PLAUSIBLE_FPS = 1000.0
"""Average frame rates outside this range are taken for a broken header, not for a video."""
EVEN_TIMES_TOLERANCE = 0.1
"""Frame times within this fraction of a frame interval of an even spacing count as a constant
frame rate (:func:`even_times`): millisecond-rounded times (WebM, Matroska) are even, a
phone's variable rate is not."""
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
        source's.
    width, height
        Frame size in pixels.
    n_frames
        Number of frames the header declares (before any window or resampling), or the number
        of images in a frame folder; ``None`` when the header does not say. Headers can be
        wrong: :attr:`frame_times` and the frames yielded are the truth.
    source_fps
        Frame rate of the source itself, before resampling: the header's (a frame folder's
        given or default rate), or the rate its frames keep when the header's is implausible.
    first_frame
        Source frame index of the first frame yielded (0 without a time window).
    start_s
        Source time of the first frame yielded (its presentation time); resampled output
        ``k`` lies at ``start_s + k / fps``.
    end_s
        End of the requested time window (exclusive), or ``None`` for the end of the source.
    frame_times
        Seconds of each frame that will be yielded (after the window and any resampling), from
        the container's presentation times read before decoding; ``None`` when they cannot be
        known beforehand (frames without presentation times). Variable frame rates show here.
    warnings
        What the header gets wrong, as far as is known before decoding (one line each; the
        stream's :attr:`FrameStream.warnings` has the full list after decoding).
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
    frame_times: np.ndarray | None = field(default=None, compare=False, repr=False)
    warnings: tuple[str, ...] = ()


class Frame:
    """One frame of a source: its position ``index`` among the frames the source yields
    (0-based from the window's first), its time ``time_s`` (seconds, see the module notes),
    and, called, its RGB ``uint8`` pixels ``(height, width, 3)``, C-contiguous. A frame is
    decoded (video) or listed (frame folder) but converted only when called, once however
    often it is called."""

    __slots__ = ("_make", "_rgb", "index", "time_s")

    def __init__(self, index: int, time_s: float, make: Callable[[], np.ndarray]) -> None:
        self.index = index
        self.time_s = time_s
        self._make: Callable[[], np.ndarray] | None = make
        self._rgb: np.ndarray | None = None

    def __call__(self) -> np.ndarray:
        if self._rgb is None:
            assert self._make is not None
            self._rgb = self._make()
            self._make = None
        return self._rgb


class FrameStream(Iterator[Frame]):
    """The frames of an open source, in order (:class:`Frame` values).

    After the last frame, :attr:`n_frames` is the number of frames the source holds in the
    window (after resampling): every one decoded, or, with ``select``, as planned from the
    container's presentation times; :attr:`complete` says whether the selected frames came as
    planned (``False``: some selected frame was not decoded, or a decoded frame was not in the
    plan; decode every frame instead); :attr:`warnings` lists what the header got wrong
    (truncation, an implausible duration or frame rate) and frames that failed to decode.
    """

    def __init__(self, frames: Callable[[FrameStream], Iterator[Frame]]) -> None:
        self.n_frames = 0
        self.complete = True
        self.warnings: list[str] = []
        self._pending: Frame | None = None
        self._frames = frames(self)

    def __next__(self) -> Frame:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        return next(self._frames)

    def _prime(self) -> Frame | None:
        """Take the first frame now (so that an unreadable source fails at once); it is still
        the first :meth:`__next__` gives. ``None`` when there is none."""
        frame = next(self._frames, None)
        self._pending = frame
        return frame

    def close(self) -> None:
        """Release the decoder now (it is released at the end of the frames anyway)."""
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()


def check_frame_size(
    path: str | Path,
    width: int,
    height: int,
    *,
    min_side: int = MIN_SIDE,
    max_side: int = MAX_SIDE,
    setting: str | None = None,
) -> None:
    """Refuse frames outside ``min_side`` … ``max_side`` pixels per side.

    ``setting`` names the option that sets the limits (in the message).

    Raises
    ------
    InputError
        Naming the file, its size and what to do.
    """
    limit = f" ({setting})" if setting else ""
    if max(width, height) > max_side:
        raise InputError(
            path,
            f"frames are {width}x{height} pixels, larger than the {max_side} pixels per side "
            f"emoflow accepts{limit}; downscale the video first, e.g. "
            "ffmpeg -i IN -vf scale=1920:-2 OUT.mp4 (landmarks do not depend on the frame size)",
        )
    if min(width, height) < min_side:
        raise InputError(
            path,
            f"frames are {width}x{height} pixels, smaller than the {min_side} pixels per side "
            f"emoflow accepts{limit}: no face can be found at this size; use the original "
            "recording (the face should span at least about 100 pixels)",
        )


def window_indices(
    source_fps: float, start_s: float | None, end_s: float | None
) -> tuple[int, int | None]:
    """Source frame range ``[first, stop)`` of a time window over frames at ``i / source_fps``
    (``stop`` ``None``: to the end)."""
    first = 0 if start_s is None else max(0, math.ceil(start_s * source_fps - _TIME_EPSILON))
    stop = None if end_s is None else max(0, math.ceil(end_s * source_fps - _TIME_EPSILON))
    return first, stop


def _window_of_times(
    times: np.ndarray, start_s: float | None, end_s: float | None
) -> tuple[int, int]:
    """Frame range ``[first, stop)`` of the frames at ``times`` (increasing) inside a window."""
    first = 0 if start_s is None else int(np.searchsorted(times, start_s - _TIME_EPSILON))
    stop = len(times) if end_s is None else int(np.searchsorted(times, end_s - _TIME_EPSILON))
    return first, max(first, stop)


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


Selection = Callable[[np.ndarray], Collection[int]]
"""``select(frame_times)``: the positions (0-based, among the frames a source yields) of the
frames wanted, given every frame's time (:attr:`VideoInfo.frame_times`)."""


class FrameWindow(TypedDict, total=False):
    """The keyword options of :func:`open_frame_slots` (all ``None`` by default) that the
    readers above it take and pass on: :meth:`emoflow.facemesh.FaceMeshTracker.track` and
    :meth:`emoflow.landmarks.FaceMeshExtractor.extract_with_record`."""

    fps: float | None
    start_s: float | None
    end_s: float | None
    select: Selection | None
    side_limits: tuple[int, int] | None
    side_setting: str | None


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
    fps: float | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    select: Selection | None = None,
    side_limits: tuple[int, int] | None = None,
    side_setting: str | None = None,
    threads: int = 0,
) -> tuple[VideoInfo, FrameStream]:
    """:func:`open_frames`, but each frame comes as a :class:`Frame` (its position, time and,
    called, its pixels): frames that are never called cost a video only their decoding (no
    colour conversion) and a frame folder nothing (the image is not read).

    Further parameters
    ------------------
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
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be a positive number, got {fps!r}")
    start_s = None if start_s is None or math.isnan(start_s) else float(start_s)
    end_s = None if end_s is None or math.isnan(end_s) else float(end_s)
    _check_window(start_s, end_s)
    path = Path(source)
    if not path.exists():
        raise InputError(path, "does not exist")
    request = _Request(fps, start_s, end_s, select, side_limits, side_setting)
    if path.is_dir():
        return _open_folder(path, request)
    return _VideoSource(path, threads).open(request)


@dataclass(frozen=True)
class _Request:
    """What :func:`open_frame_slots` was asked for, as the frame folder and video readers
    take it."""

    fps: float | None
    start_s: float | None
    end_s: float | None
    select: Selection | None
    side_limits: tuple[int, int] | None
    side_setting: str | None

    def check_size(self, path: str | Path, width: int, height: int) -> None:
        """:func:`check_frame_size` with the requested limits (none: nothing to check)."""
        if self.side_limits is not None:
            check_frame_size(
                path,
                width,
                height,
                min_side=self.side_limits[0],
                max_side=self.side_limits[1],
                setting=self.side_setting,
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


def _image_size(file: Path) -> tuple[int, int] | None:
    """``(width, height)`` from an image file's header, without decoding it."""
    from PIL import Image

    try:
        with Image.open(file) as image:
            return int(image.size[0]), int(image.size[1])
    except Exception:  # unreadable here: reading it reports it with its own message
        return None


def _open_folder(folder: Path, request: _Request) -> tuple[VideoInfo, FrameStream]:
    fps = request.fps if request.fps is not None else DEFAULT_FOLDER_FPS
    start_s, end_s = request.start_s, request.end_s
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
    if request.side_limits is not None and (size := _image_size(files[0])) is not None:
        request.check_size(files[0], *size)
    start = first_index / fps
    times = start + np.arange(len(files)) / fps
    wanted = None if request.select is None else sorted({int(i) for i in request.select(times)})
    first = _read_image_rgb(files[wanted[0] if wanted else 0])
    height, width = first.shape[:2]
    request.check_size(folder, width, height)
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


@dataclass
class _Plan:
    """A video's frames as its container lists them, before decoding: presentation times
    (``pts``, increasing), which are key frames, and their seconds."""

    pts: list[int]
    keyframe: list[bool]
    times: np.ndarray
    from_pts: bool
    """Whether ``times`` are the presentation times (``False``: ``i / source_fps``, the
    presentation times being implausible)."""

    def __post_init__(self) -> None:
        self.position = {value: index for index, value in enumerate(self.pts)}
        self.keys = [index for index, key in enumerate(self.keyframe) if key]

    def key_before(self, index: int) -> int | None:
        """The last key frame at or before frame ``index``."""
        at = bisect.bisect_right(self.keys, index)
        return self.keys[at - 1] if at else None


def _packets(container: av.container.InputContainer, stream: Any) -> Iterator[Any]:
    """The stream's packets (the last one empty: it flushes the decoder); a file that ends
    early or is damaged further on ends them, as a truncated file does."""
    import av

    demuxed = container.demux(stream)
    while True:
        try:
            packet = next(demuxed)
        except StopIteration:
            return
        except av.error.MemoryError:
            raise
        except (av.error.FFmpegError, OSError):
            yield None  # end of what can be read: flush
            return
        yield packet


def _rate(value: Any) -> float | None:
    """A positive finite frame rate from a PyAV ``Fraction`` (``None`` otherwise)."""
    try:
        rate = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return rate if math.isfinite(rate) and rate > 0 else None


class _VideoSource:
    """One video file decoded with PyAV (see the module notes)."""

    def __init__(self, path: Path, threads: int) -> None:
        self.path = path
        self.threads = threads
        self.container: Any = None
        self.stream: Any = None
        self.origin: int | None = None
        self.time_base = Fraction(1, 1)
        self.plan: _Plan | None = None
        self.source_fps = DEFAULT_FOLDER_FPS
        self.seekable = True

    def _container(self) -> av.container.InputContainer:
        import av

        try:
            # the stream probe decodes no frame (skip_frame applies to the probe's decoders
            # only): the header gives what is needed, and decoding HD H.264 frames to probe
            # costs ~20 ms of CPU per file; the frames decoded later are the same
            container = av.open(
                str(self.path), metadata_errors="ignore", options={"skip_frame": "all"}
            )
        except av.error.MemoryError:
            raise
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
            raise InputError(self.path, UNREADABLE) from err
        if not container.streams.video:
            container.close()
            raise InputError(self.path, UNREADABLE)
        return container

    def _time(self, pts: int) -> float:
        """Seconds of a presentation time: one correctly rounded division, so a constant
        frame rate gives exactly ``i / fps``."""
        origin = self.origin or 0
        return ((pts - origin) * self.time_base.numerator) / self.time_base.denominator

    def _plan(self) -> _Plan | None:
        """Read every packet (no decoding) for the frames' presentation times, then rewind;
        ``None`` when a packet has none (or two share one)."""
        pts: list[int] = []
        keyframe: list[bool] = []
        earliest: int | None = None
        complete = True
        for packet in _packets(self.container, self.stream):
            if packet is None or packet.size == 0:
                continue
            for value in (packet.dts, packet.pts):
                if value is not None and (earliest is None or value < earliest):
                    earliest = int(value)
            if packet.pts is None:
                complete = False
                break
            pts.append(int(packet.pts))
            keyframe.append(bool(packet.is_keyframe))
        self._rewind(earliest)
        if not complete or not pts or len(set(pts)) != len(pts):
            return None
        order = sorted(range(len(pts)), key=pts.__getitem__)
        ordered = [pts[i] for i in order]
        self.origin = ordered[0] if self.origin is None else min(self.origin, ordered[0])
        times = np.array([self._time(value) for value in ordered], dtype=np.float64)
        return _Plan(ordered, [keyframe[i] for i in order], times, from_pts=True)

    def _rewind(self, earliest: int | None) -> None:
        """Back to the first packet after the plan's pass (the file opened anew when the
        container cannot seek there: opening costs a stream probe, tens of ms for HD H.264)."""
        import av

        if earliest is not None:
            try:
                self.container.seek(earliest, stream=self.stream, backward=True, any_frame=False)
                self.stream.codec_context.flush_buffers()
                return
            except av.error.MemoryError:
                raise
            except (av.error.FFmpegError, OSError):
                pass
        self.container.close()
        self.container = self._container()
        self.stream = self.container.streams.video[0]

    def open(self, request: _Request) -> tuple[VideoInfo, FrameStream]:
        self.container = self._container()
        try:
            return self._open(request)
        except BaseException:
            self.container.close()
            raise

    def _open(self, request: _Request) -> tuple[VideoInfo, FrameStream]:
        path, container = self.path, self.container
        fps, start_s, end_s = request.fps, request.start_s, request.end_s
        stream = container.streams.video[0]
        self.stream = stream
        context = stream.codec_context
        width, height = int(context.width or 0), int(context.height or 0)
        if width > 0 and height > 0:
            request.check_size(path, width, height)
        self.time_base = stream.time_base or Fraction(1, 1)
        self.origin = stream.start_time
        declared_fps = _rate(stream.average_rate) or _rate(stream.guessed_rate)
        declared_frames = int(stream.frames) if stream.frames and stream.frames > 0 else None
        declared_s = (
            float(stream.duration * self.time_base)
            if stream.duration
            else (container.duration / 1e6 if container.duration else None)
        )
        plan = self._plan()
        stream = self.stream
        context = stream.codec_context
        warnings: list[str] = []
        source_fps = declared_fps
        if plan is not None and len(plan.pts) > 1:
            span = float(plan.times[-1] - plan.times[0])
            kept = (len(plan.pts) - 1) / span if span > 0 else math.inf
            if not MIN_PLAUSIBLE_FPS <= kept <= MAX_PLAUSIBLE_FPS:
                fallback = (
                    declared_fps
                    if declared_fps and MIN_PLAUSIBLE_FPS <= declared_fps <= MAX_PLAUSIBLE_FPS
                    else DEFAULT_FOLDER_FPS
                )
                warnings.append(
                    f"implausible frame times: {len(plan.pts)} frames over {span:g} s "
                    f"({kept:.4g} fps on average); frame i is placed at i / {fallback:g} s"
                )
                source_fps = fallback
                plan.times = np.arange(len(plan.pts)) / fallback
                plan.from_pts = False
            else:
                if declared_fps is None or not 0.5 <= declared_fps / kept <= 2.0:
                    if declared_fps is not None:
                        warnings.append(
                            f"its header declares {declared_fps:.4g} fps, its frames come at "
                            f"{kept:.4g} fps on average (their presentation times are used)"
                        )
                    source_fps = kept
                interval = span / (len(plan.pts) - 1)
                if declared_s is not None and declared_s > 2 * (span + interval) + 1.0:
                    warnings.append(
                        f"its header declares a duration of {declared_s:g} s, but its "
                        f"{len(plan.pts)} frames span {span + interval:.3g} s (frame times "
                        "are their presentation times)"
                    )
        if source_fps is None:
            logger.warning(
                "%s: container reports no frame rate; assuming %g fps", path, DEFAULT_FOLDER_FPS
            )
            source_fps = DEFAULT_FOLDER_FPS
        if plan is not None and declared_frames is not None and len(plan.pts) < declared_frames - 1:
            warnings.append(
                f"holds {len(plan.pts)} of the {declared_frames} frames its header declares: "
                "the file may be truncated"
            )
        self.source_fps = source_fps
        self.plan = plan
        self.declared_frames = declared_frames
        stop: int | None
        if plan is not None:
            first, window_stop = _window_of_times(plan.times, start_s, end_s)
            stop = None if end_s is None else window_stop  # decoding may find more frames
            if first >= window_stop:
                raise InputError(
                    path,
                    f"no frame in the time window {_window_text(start_s, end_s)}: the "
                    f"container holds {len(plan.pts)} frames, the last at "
                    f"{plan.times[-1]:g} s",
                )
            window_times: np.ndarray | None = plan.times[first:window_stop]
            start = float(plan.times[first])
            expected: int | None = window_stop - first
        else:
            first, stop = window_indices(source_fps, start_s, end_s)
            window_times = None
            start = first / source_fps
            expected = None
            if declared_frames is not None:
                expected = max(0, min(declared_frames, stop or declared_frames) - first)
        out_fps = float(fps) if fps is not None else source_fps
        # output frame → source frame (position in the window), when frame times are known
        sources: np.ndarray | None = None
        frame_times: np.ndarray | None = None
        if window_times is not None:
            if out_fps != source_fps:
                sources = _resampled_sources(window_times, source_fps, out_fps)
                frame_times = start + np.arange(len(sources)) / out_fps
            else:
                sources = np.arange(len(window_times))
                frame_times = window_times
        info = VideoInfo(
            path=str(path),
            fps=out_fps,
            width=width,
            height=height,
            n_frames=declared_frames,
            source_fps=source_fps,
            first_frame=first,
            start_s=start,
            end_s=end_s,
            frame_times=frame_times,
            warnings=tuple(warnings),
        )
        context.thread_count = self.threads
        context.thread_type = "SLICE" if self.threads == 1 else "AUTO"
        self.seekable = bool(getattr(container.format, "seekable", True))
        wanted = None
        if request.select is not None and frame_times is not None:
            wanted = sorted({int(i) for i in request.select(frame_times)})
        frames = FrameStream(
            lambda stream: self._frames(stream, info, sources, wanted, stop, expected)
        )
        frames.warnings.extend(warnings)
        first_frame = frames._prime()
        if first_frame is None:
            if wanted is not None and not wanted:
                return info, frames
            if start_s is not None or end_s is not None:
                raise InputError(
                    path,
                    f"no frame in the time window {_window_text(start_s, end_s)}: the "
                    f"container reports {declared_frames or 'an unknown number of'} frames "
                    f"at {source_fps:g} fps",
                )
            raise InputError(path, UNREADABLE)
        if width <= 0 or height <= 0:  # the header did not say: the first frame does
            rgb = first_frame()
            info = _with_size(info, rgb.shape[1], rgb.shape[0])
            request.check_size(path, info.width, info.height)
        return info, frames

    # --- decoding ---------------------------------------------------------------------------

    def _rgb(self, frame: Any) -> Callable[[], np.ndarray]:
        def convert() -> np.ndarray:
            return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))

        return convert

    def _decoded(self, packets: Iterator[Any], errors: list[int]) -> Iterator[Any]:
        """Decode ``packets``; a packet the decoder rejects is counted and passed over (as a
        player does); running out of memory is never passed over."""
        import av

        context = self.stream.codec_context
        for packet in packets:
            try:
                frames = context.decode(packet)
            except av.error.MemoryError:
                raise
            except av.error.FFmpegError:
                errors[0] += 1
                continue
            yield from frames

    def _seek(self, index: int) -> Iterator[Any]:
        """Packets from the key frame at or before source frame ``index`` (the decoder's
        buffers flushed)."""
        assert self.plan is not None
        self.container.seek(
            self.plan.pts[index], stream=self.stream, backward=True, any_frame=False
        )
        self.stream.codec_context.flush_buffers()
        return _packets(self.container, self.stream)

    def _frames(
        self,
        stream: FrameStream,
        info: VideoInfo,
        sources: np.ndarray | None,
        wanted: list[int] | None,
        stop: int | None,
        expected: int | None,
    ) -> Iterator[Frame]:
        try:
            if wanted is not None and sources is not None:
                yield from self._selected(stream, info, sources, wanted)
            else:
                yield from self._every(stream, info, sources, stop, expected)
        finally:
            self.container.close()

    def _every(
        self,
        stream: FrameStream,
        info: VideoInfo,
        sources: np.ndarray | None,
        stop: int | None,
        expected: int | None,
    ) -> Iterator[Frame]:
        """Every frame of the window, decoded in order (resampled to ``info.fps``)."""
        plan, first = self.plan, info.first_frame
        resample = info.fps != info.source_fps
        errors = [0]
        packets = _packets(self.container, self.stream)
        position = 0  # source index of the next decoded frame when its pts says nothing
        if plan is not None and first >= SEEK_MIN_FRAMES and self.seekable:
            key = plan.key_before(first)
            if key is not None and key >= SEEK_MIN_FRAMES:
                packets, position = self._seek(key), key
        n_window = 0  # window frames decoded
        emitted = 0  # output frames yielded, resampling
        step = info.source_fps / info.fps
        for frame in self._decoded(packets, errors):
            index = plan.position.get(frame.pts) if plan is not None else None
            if index is None:
                index = position
            position = index + 1
            if index < first:
                continue
            if stop is not None and index >= stop:
                break
            convert = _once(self._rgb(frame))
            window_index = index - first
            n_window += 1
            if not resample:
                yield Frame(window_index, self._frame_time(index), convert)
            elif sources is not None:  # output k takes window frame sources[k]
                while emitted < len(sources) and sources[emitted] <= window_index:
                    yield Frame(emitted, info.start_s + emitted / info.fps, convert)
                    emitted += 1
            else:  # the rule by frame index: output k takes floor(k * step + 0.5)
                while math.floor(emitted * step + 0.5) <= window_index:
                    yield Frame(emitted, info.start_s + emitted / info.fps, convert)
                    emitted += 1
        stream.n_frames = emitted if resample else n_window
        self._finish(stream, errors[0], n_window, expected, info)

    def _frame_time(self, index: int) -> float:
        """Seconds of source frame ``index``: planned (presentation time), or by index."""
        plan = self.plan
        if plan is not None and index < len(plan.times):
            return float(plan.times[index])
        return index / self.source_fps

    def _selected(
        self, stream: FrameStream, info: VideoInfo, sources: np.ndarray, wanted: list[int]
    ) -> Iterator[Frame]:
        """The ``wanted`` output frames only, decoding what they need (module notes)."""
        plan = self.plan
        assert plan is not None and info.frame_times is not None
        frame_times = info.frame_times
        first = info.first_frame
        by_source: dict[int, list[int]] = {}
        for k in wanted:
            if 0 <= k < len(sources):
                by_source.setdefault(first + int(sources[k]), []).append(k)
        needed = sorted(by_source)
        stream.n_frames = len(sources)
        if not needed:
            return
        needed_pts = {plan.pts[i] for i in needed}
        intra_only = all(plan.keyframe)
        context = self.stream.codec_context
        errors = [0]
        at = 0  # the next needed frame is needed[at]
        sent = -1  # highest source index of the packets given to the decoder

        def seek_target(target: int) -> int | None:
            key = plan.key_before(target)
            if self.seekable and key is not None and key - sent - 1 >= SEEK_MIN_FRAMES:
                return key
            return None

        def feed(packets: Iterator[Any]) -> Iterator[Any]:
            nonlocal sent
            for packet in packets:
                if packet is not None and packet.size and packet.pts is not None:
                    sent = max(sent, plan.position.get(packet.pts, sent))
                    needed_here = packet.pts in needed_pts
                    if not needed_here and intra_only:
                        continue  # no frame refers to it: not decoded at all
                    context.skip_frame = "DEFAULT" if needed_here else "NONREF"
                else:
                    context.skip_frame = "DEFAULT"
                yield packet

        key = seek_target(needed[0])
        packets: Iterator[Any] | None = (
            self._seek(key) if key is not None else _packets(self.container, self.stream)
        )
        while packets is not None:
            source, packets = packets, None
            for frame in self._decoded(feed(source), errors):
                index = plan.position.get(frame.pts)
                if index is None or (at < len(needed) and index > needed[at]):
                    # a frame the container did not list, or a needed frame that never came
                    stream.complete = False
                    self._finish(stream, errors[0])
                    return
                if at == len(needed) or index < needed[at]:
                    continue  # a reference frame decoded for a later one; or after the last
                convert = _once(self._rgb(frame))
                for k in by_source[index]:
                    yield Frame(k, float(frame_times[k]), convert)
                at += 1
                if at < len(needed) and (key := seek_target(needed[at])) is not None:
                    packets = self._seek(key)
                    break
        # the rest of the packets were decoded (or skipped) to check that no frame was
        # missing from the container's list
        stream.complete = stream.complete and at == len(needed)
        self._finish(stream, errors[0])

    def _finish(
        self,
        stream: FrameStream,
        n_errors: int,
        n_decoded: int | None = None,
        expected: int | None = None,
        info: VideoInfo | None = None,
    ) -> None:
        """Warnings only decoding tells: packets the decoder rejected, and fewer frames decoded
        than the container lists (or, without a list, than the header declares)."""
        if n_errors:
            stream.warnings.append(f"{n_errors} packet(s) could not be decoded")
        if n_decoded is None or expected is None or n_decoded >= expected - 1:
            return
        window = ""
        if info is not None and (info.first_frame or info.end_s is not None):
            window = " in the time window"
        whose = "it lists" if self.plan is not None else "its header declares"
        stream.warnings.append(
            f"decoded {n_decoded} of the {expected} frames {whose}{window}; the file may be "
            "truncated"
        )


def _with_size(info: VideoInfo, width: int, height: int) -> VideoInfo:
    from dataclasses import replace

    return replace(info, width=int(width), height=int(height))


def _once(make: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    """``make`` called at most once (a frame shared by several resampled outputs)."""
    done: list[np.ndarray] = []

    def once() -> np.ndarray:
        if not done:
            done.append(make())
        return done[0]

    return once


def _resampled_sources(times: np.ndarray, source_fps: float, target_fps: float) -> np.ndarray:
    """For each output frame of a resampling to ``target_fps``, the source frame (position in
    ``times``) nearest its time ``times[0] + k / target_fps`` (ties: the later). Evenly spaced
    frames use the rule by frame index, ``floor(k * source_fps / target_fps + 0.5)``, exactly
    as before frame times were read."""
    n = len(times)
    chosen: list[int] = []
    if even_times(times):
        step = source_fps / target_fps
        k = 0
        while math.floor(k * step + 0.5) <= n - 1:
            chosen.append(math.floor(k * step + 0.5))
            k += 1
        return np.array(chosen, dtype=np.int64)
    positions = _positions_at(
        times, times[0] + np.arange(_output_count(times, target_fps)) / target_fps
    )
    return np.floor(positions + 0.5).astype(np.int64).clip(0, n - 1)


def _output_count(times: np.ndarray, target_fps: float) -> int:
    """Output frames of a resampling: up to half a frame interval past the last frame."""
    if len(times) < 2:
        return 1
    last_interval = float(times[-1] - times[-2])
    end = float(times[-1] - times[0]) + last_interval / 2
    return max(1, math.ceil(end * target_fps - _TIME_EPSILON))


def probe_video(path: str | Path) -> tuple[int, int, int | None] | None:
    """``(width, height, frames declared)`` from a video's header, in well under a millisecond
    (no frame decoded, the stream probe cut short); ``None`` when it is no readable video
    (a frame folder: its first image's size, the number of images)."""
    source = Path(path)
    if source.is_dir():
        files = frame_files(source)
        size = _image_size(files[0]) if files else None
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
    step = info.source_fps / float(fps)
    count = 0
    while math.floor(count * step + 0.5) <= n_window - 1:
        count += 1
    return count


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

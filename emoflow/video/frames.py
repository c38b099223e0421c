"""What every frame source shares: the types (:class:`VideoItem`, :class:`VideoInfo`,
:class:`Frame`, :class:`FrameStream`), the frame-size check and the time-window arithmetic,
and what a reader is asked for (:class:`FrameWindow`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

import numpy as np

from emoflow.errors import InputError

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"}
)
"""File name endings (lower case) taken for video files when a folder is searched."""

FRAME_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
"""File name endings (lower case) of the images read from a frame folder."""

DEFAULT_FOLDER_FPS = 30.0
"""Frame rate assumed for a frame folder when none is given (and for a video whose header
gives no plausible one)."""

MIN_SIDE = 64
"""Smallest frame side (pixels) accepted by default: smaller frames cannot hold a face Face
Mesh finds."""

MAX_SIDE = 4096
"""Largest frame side (pixels) accepted by default: larger frames cost memory and decoding time
for nothing (Face Mesh looks at 128- and 192-pixel crops); downscale them first."""

TIME_EPSILON = 1e-9
"""Tolerance of window boundaries, so that ``start_s = 2/30`` includes frame 2 at 30 fps."""


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
        ``None`` to extract with Face Mesh; one of
        :data:`~emoflow.landmark_files.LANDMARK_FORMATS` to import precomputed landmarks
        instead (see :func:`emoflow.landmarks.import_landmarks`).
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
    first = 0 if start_s is None else max(0, math.ceil(start_s * source_fps - TIME_EPSILON))
    stop = None if end_s is None else max(0, math.ceil(end_s * source_fps - TIME_EPSILON))
    return first, stop


def window_of_times(
    times: np.ndarray, start_s: float | None, end_s: float | None
) -> tuple[int, int]:
    """Frame range ``[first, stop)`` of the frames at ``times`` (increasing) inside a window."""
    first = 0 if start_s is None else int(np.searchsorted(times, start_s - TIME_EPSILON))
    stop = len(times) if end_s is None else int(np.searchsorted(times, end_s - TIME_EPSILON))
    return first, max(first, stop)


def window_text(start_s: float | None, end_s: float | None) -> str:
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


def check_window_size(window: FrameWindow, path: str | Path, width: int, height: int) -> None:
    """:func:`check_frame_size` with the window's ``side_limits`` (none: nothing to check)."""
    limits = window.get("side_limits")
    if limits is not None:
        check_frame_size(
            path,
            width,
            height,
            min_side=limits[0],
            max_side=limits[1],
            setting=window.get("side_setting"),
        )

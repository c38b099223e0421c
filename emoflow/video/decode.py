"""Video files decoded with PyAV: the container's frame plan (presentation times and key
frames, read before decoding), seeking, frame skipping and resampling (see
:mod:`emoflow.video`'s notes)."""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emoflow.errors import InputError
from emoflow.video.frames import (
    DEFAULT_FOLDER_FPS,
    Frame,
    FrameStream,
    FrameWindow,
    VideoInfo,
    check_window_size,
    window_indices,
    window_of_times,
    window_text,
)
from emoflow.video.timing import resampled_sources

if TYPE_CHECKING:
    import av.container
    import av.video.stream

logger = logging.getLogger("emoflow.video")


UNREADABLE = "unreadable, corrupt or empty: no frame could be decoded"

SEEK_MIN_FRAMES = 4
"""The decoder seeks to the key frame before the next frame it needs (a time window's first
frame, the next selected frame) when that spares decoding this many frames or more; otherwise
it decodes (or skips) its way there."""

MIN_PLAUSIBLE_FPS = 1.0

MAX_PLAUSIBLE_FPS = 1000.0
"""Average frame rates outside this range are taken for a broken header, not for a video."""


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


class VideoDecoder:
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

    def open(self, window: FrameWindow) -> tuple[VideoInfo, FrameStream]:
        self.container = self._container()
        try:
            return self._open(window)
        except BaseException:
            self.container.close()
            raise

    def _open(self, window: FrameWindow) -> tuple[VideoInfo, FrameStream]:
        path, container = self.path, self.container
        fps, start_s, end_s = window.get("fps"), window.get("start_s"), window.get("end_s")
        stream = container.streams.video[0]
        self.stream = stream
        context = stream.codec_context
        width, height = int(context.width or 0), int(context.height or 0)
        if width > 0 and height > 0:
            check_window_size(window, path, width, height)
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
            first, window_stop = window_of_times(plan.times, start_s, end_s)
            stop = None if end_s is None else window_stop  # decoding may find more frames
            if first >= window_stop:
                raise InputError(
                    path,
                    f"no frame in the time window {window_text(start_s, end_s)}: the "
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
                sources = resampled_sources(window_times, source_fps, out_fps)
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
        select = window.get("select")
        if select is not None and frame_times is not None:
            wanted = sorted({int(i) for i in select(frame_times)})
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
                    f"no frame in the time window {window_text(start_s, end_s)}: the "
                    f"container reports {declared_frames or 'an unknown number of'} frames "
                    f"at {source_fps:g} fps",
                )
            raise InputError(path, UNREADABLE)
        if width <= 0 or height <= 0:  # the header did not say: the first frame does
            rgb = first_frame()
            info = _with_size(info, rgb.shape[1], rgb.shape[0])
            check_window_size(window, path, info.width, info.height)
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
                yield from self._selected(stream, info, sources, wanted, stop)
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
        self,
        stream: FrameStream,
        info: VideoInfo,
        sources: np.ndarray,
        wanted: list[int],
        stop: int | None,
    ) -> Iterator[Frame]:
        """The ``wanted`` output frames only, decoding what they need (module notes); after
        the last of them, up to the time window's end (``stop``, the first source frame past
        it: ``None``, the end of the file)."""
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
                if at == len(needed) and stop is not None and index >= stop:
                    break  # past the window: no frame of it can follow (display order)
                if at == len(needed) or index < needed[at]:
                    continue  # a reference frame decoded for a later one; or after the last
                convert = _once(self._rgb(frame))
                for k in by_source[index]:
                    yield Frame(k, float(frame_times[k]), convert)
                at += 1
                if at < len(needed) and (key := seek_target(needed[at])) is not None:
                    packets = self._seek(key)
                    break
        # the rest of the packets (of the window) were decoded (or skipped) to check that no
        # frame was missing from the container's list
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

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
the frames do not keep, and frame times no video has (on average under
:data:`~emoflow.video.decode.MIN_PLAUSIBLE_FPS` or over
:data:`~emoflow.video.decode.MAX_PLAUSIBLE_FPS`; then frame ``i`` is placed at ``i / fps`` of
the header's frame rate, or of :data:`~emoflow.video.frames.DEFAULT_FOLDER_FPS`).

Decoding only what is needed. With ``select`` (:func:`open_frame_slots`), only the selected
frames are yielded, and the decoder skips the work the others would cost where the codec
allows: a frame no other frame refers to is not decoded at all (FFmpeg's ``skip_frame``
``nonref`` for that packet; every unselected packet of an intra-only stream), and the decoder
seeks to the key frame before a selected frame when decoding up to it would cost
:data:`~emoflow.video.decode.SEEK_MIN_FRAMES` frames or more. After the last selected frame
the decoder goes on to the end of the time window (checking that no frame is missing from the
container's list), not past it. The selected frames are decoded exactly as a sequential decode
gives them (a frame skipped this way is one no other frame depends on).

Modules: :mod:`~emoflow.video.frames` (the types, the size check, time windows),
:mod:`~emoflow.video.sources` (opening a source by its path; frame folders),
:mod:`~emoflow.video.decode` (video files, PyAV) and :mod:`~emoflow.video.timing` (frame counts
and resampling).
"""

from emoflow.video.frames import (
    MAX_SIDE,
    MIN_SIDE,
    VIDEO_SUFFIXES,
    Frame,
    FrameStream,
    FrameWindow,
    Selection,
    VideoInfo,
    VideoItem,
    check_frame_size,
)
from emoflow.video.sources import (
    frame_files,
    natural_key,
    open_frame_slots,
    open_frames,
    probe_video,
)
from emoflow.video.timing import (
    declared_frames,
    even_times,
    expected_frames,
    filled_times,
    frame_positions,
    resampled_frames,
    resampling_weights,
)

__all__ = [
    "MAX_SIDE",
    "MIN_SIDE",
    "VIDEO_SUFFIXES",
    "Frame",
    "FrameStream",
    "FrameWindow",
    "Selection",
    "VideoInfo",
    "VideoItem",
    "check_frame_size",
    "declared_frames",
    "even_times",
    "expected_frames",
    "filled_times",
    "frame_files",
    "frame_positions",
    "natural_key",
    "open_frame_slots",
    "open_frames",
    "probe_video",
    "resampled_frames",
    "resampling_weights",
]

"""One video's landmarks for inference: checks before decoding, then Face Mesh.

:func:`inspect_video` refuses frame sizes outside :data:`MIN_SIDE` … :data:`MAX_SIDE` (before
a frame is decoded, when the container tells the size) and, with a :class:`FaceCounter`,
videos that show several faces; :func:`extract_video` runs the Face Mesh extractor and keeps
the landmarks as a :class:`VideoLandmarks` array.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow.errors import InputError, NoFaceError
from emoflow.schemes import DEFAULT_SCHEME, get_scheme
from emoflow.video import MAX_SIDE, MIN_SIDE, VideoItem, check_frame_size

log = logging.getLogger(__name__)

N_FACE_CHECKS = 3
"""Frames (first, middle, last) checked for several faces when ``several_faces="error"``."""


def check_resolution(path: str | Path, width: int, height: int) -> None:
    """Refuse frames outside :data:`MIN_SIDE` … :data:`MAX_SIDE` pixels per side
    (:func:`emoflow.video.check_frame_size`, the guard the workflow's extraction applies too).

    Raises
    ------
    InputError
        Naming the file, its size and what to do.
    """
    check_frame_size(path, width, height, min_side=MIN_SIDE, max_side=MAX_SIDE)


def frame_size(path: str | Path) -> tuple[int, int] | None:
    """``(width, height)`` from a video's container or a frame folder's first image header,
    without decoding a frame; ``None`` when it cannot be told this way."""
    from emoflow.video import frame_files

    source = Path(path)
    try:
        if source.is_dir():
            from PIL import Image

            files = frame_files(source)
            if not files:
                return None
            with Image.open(files[0]) as image:
                return int(image.size[0]), int(image.size[1])
        import cv2

        capture = cv2.VideoCapture(str(source))
        try:
            width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        finally:
            capture.release()
    except Exception:  # unreadable here: open_frames reports it with its own message
        return None
    return (width, height) if width > 0 and height > 0 else None


class FaceCounter:
    """Count faces in a few frames of a video with MediaPipe's full-range face detector.

    Parameters
    ----------
    min_confidence
        Detection score a face needs to count.
    """

    def __init__(self, min_confidence: float = 0.5) -> None:
        self.min_confidence = min_confidence
        self._detector: Any = None

    def count(self, frame: np.ndarray) -> int:
        """Faces in one RGB frame."""
        if self._detector is None:
            from emoflow.facemesh import import_mediapipe

            face_detection = import_mediapipe("mediapipe.python.solutions.face_detection")
            self._detector = face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=self.min_confidence
            )
        detections = self._detector.process(np.ascontiguousarray(frame)).detections or []
        return sum(float(d.score[0]) >= self.min_confidence for d in detections)

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None


def inspect_video(
    source: VideoItem,
    *,
    fps: float | None = None,
    faces: FaceCounter | None = None,
) -> Any:
    """Open a video, check its frame size and (with ``faces``) that it shows one face.

    Returns
    -------
    emoflow.video.VideoInfo

    Raises
    ------
    InputError
        Missing, unreadable or empty source, frame size out of range, or several faces.
    """
    from emoflow.video import open_frames

    size = frame_size(source.path)
    if size is not None:  # refuse extreme sizes before a frame is decoded
        check_resolution(source.path, *size)
    info, frames = open_frames(source.path, fps=fps, start_s=source.start_s, end_s=source.end_s)
    check_resolution(source.path, info.width, info.height)
    if faces is None:
        return info
    first = next(frames)
    del frames
    start = info.start_s
    end = source.end_s
    if info.n_frames is not None and info.source_fps > 0:
        length_end = info.n_frames / info.source_fps
        end = length_end if end is None else min(end, length_end)
    times = [start]
    if end is not None and end - start > 2.0 / info.source_fps:
        times += [start + (end - start) / 2, end - 1.0 / info.source_fps]
    for position, time_s in enumerate(times[:N_FACE_CHECKS]):
        if position == 0:
            frame = first
        else:
            try:
                _, later = open_frames(source.path, start_s=time_s, end_s=source.end_s)
                frame = next(later)
            except (InputError, StopIteration):
                continue  # the container over-reports its length: check the frames there are
        count = faces.count(frame)
        if count > 1:
            raise InputError(
                source.path,
                f"{count} faces in the frame at {time_s:.2f} s; emoflow scores one face per "
                "video: crop the video to one person, or choose the face to follow with "
                "several_faces='largest', 'central' or 'tracked' "
                "(command line: --several-faces largest)",
            )
    return info


@dataclass
class VideoLandmarks:
    """One video's Face Mesh landmarks, frames in order (or, after :meth:`in_scheme`, the
    points of another landmark scheme taken from them)."""

    source: VideoItem
    landmarks: np.ndarray  # (n_frames, n_points, 3), NaN without a face
    found: np.ndarray  # (n_frames,) bool
    timestamps: np.ndarray  # (n_frames,) seconds
    width: int
    height: int
    fps: float
    n_faces: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scheme: str = DEFAULT_SCHEME

    def in_scheme(self, name: str) -> VideoLandmarks:
        """The landmarks as the points of scheme ``name``
        (:meth:`emoflow.schemes.LandmarkScheme.from_face_mesh`): a MediaPipe scheme's own (as
        its tables store them), or for another scheme (iBUG 68) the MediaPipe landmark at each
        of its points. Those sit where a 68-point tracker puts its points only approximately
        (the jaw line most of all)."""
        scheme = get_scheme(name)
        if scheme.name == self.scheme:
            return self
        points = scheme.from_face_mesh(self.landmarks)
        return dataclasses.replace(self, landmarks=points, scheme=scheme.stored_in or scheme.name)

    @property
    def end_s(self) -> float:
        """End of the last frame, seconds."""
        return float(self.timestamps[-1] + 1.0 / self.fps) if len(self.timestamps) else 0.0


def extract_video(
    source: VideoItem,
    extractor: Any,
    *,
    fps: float | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> VideoLandmarks:
    """Run Face Mesh over one video (:meth:`FaceMeshExtractor.extract_item`);
    ``progress`` is called after each frame.

    Raises
    ------
    InputError, NoFaceError
        The video cannot be decoded, or no frame shows a face.
    """
    from emoflow.landmarks import landmarks_array

    table, record = extractor.extract_item(source, fps=fps, progress=progress)
    if record["n_frames"] == 0:
        raise InputError(source.path, "holds no frames")
    if record["n_faces_found"] == 0:
        raise NoFaceError(
            source.path,
            f"no face found in any of its {record['n_frames']} frames; the face must be "
            "visible, lit and at least about 100 pixels tall",
        )
    frame = pl.DataFrame(table)
    landmarks, found = landmarks_array(frame, source.video_id)
    ordered = frame.sort("frame")
    n_faces = ordered["n_faces"].fill_null(0).to_numpy() if "n_faces" in frame.columns else None
    if n_faces is not None and (n_faces > 1).any():
        log.warning(
            "%s: several faces in %d of %d frames; followed one by policy %r",
            source.path,
            int((n_faces > 1).sum()),
            len(n_faces),
            getattr(extractor, "face_policy", "?"),
        )
    return VideoLandmarks(
        source=source,
        landmarks=landmarks,
        found=found,
        timestamps=ordered["timestamp_s"].to_numpy().astype(np.float64),
        width=int(record.get("width") or 1),
        height=int(record.get("height") or 1),
        fps=float(record.get("fps") or 30.0),
        n_faces=n_faces if n_faces is not None else np.zeros(len(found)),
    )


__all__ = [
    "MAX_SIDE",
    "MIN_SIDE",
    "FaceCounter",
    "VideoLandmarks",
    "check_resolution",
    "extract_video",
    "frame_size",
    "inspect_video",
]

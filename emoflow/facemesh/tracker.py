"""Face Mesh over the frames of one video, one face followed per frame.

:class:`FaceMeshTracker` runs the MediaPipe graphs and gives each video's faces as arrays
(:class:`FaceTrack`); :class:`emoflow.landmarks.extract.FaceMeshExtractor` turns them into landmark
tables. MediaPipe and OpenCV are imported only when the first frame is processed.

Faces. With ``max_num_faces = 1`` (the default and the fastest) Face Mesh follows the face it
found first until it loses it. With ``max_num_faces > 1`` every frame may show several faces and
one is chosen by ``face_policy``: ``largest`` (largest landmark box), ``central`` (box centre
nearest the frame centre) or ``tracked`` (nearest the previous chosen face; the largest when
there is none yet). The faces seen in a frame are counted by the pass that found the face:
Face Mesh's faces on the full frame, or, in the small-face search, the full-range detector's
detections (1 when the face was followed on a crop around the previous frame's face).

Small faces. Face Mesh's own detector is a short-range model that misses faces under about a
tenth of the frame height (a 180-pixel face in a 1920×1080 frame). With ``find_small_faces``,
a frame in which Face Mesh finds no face is searched again: first on a crop around the face of
the previous frame, then with MediaPipe's full-range face detector, whose box is cropped,
resized to 256 × 256 and given to a second (static-image) Face Mesh; the crop's landmarks are
mapped back to full-frame normalised coordinates. Frames with a face never pay for this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, NamedTuple, Self, Unpack

import numpy as np

from emoflow.errors import ConfigError
from emoflow.facemesh._graph import (
    FLUSH_FRAME,
    FaceMeshGraph,
    import_mediapipe,
    landmark_values,
    model_description,
)
from emoflow.facemesh.faces import (
    CROP_SCALE_DETECTION,
    CROP_SCALE_LANDMARKS,
    CROP_SIZE,
    FACE_POLICIES,
    centre_of,
    choose_face,
    detection_box,
    matching_score,
    pixel_box,
)
from emoflow.video import (
    FrameStream,
    FrameWindow,
    VideoInfo,
    expected_frames,
    open_frame_slots,
)

logger = logging.getLogger("emoflow.landmarks")
"""The landmark stage's log channel (its shard log gathers the tracker's warnings too)."""


FrameProgress = Callable[[int, "int | None"], None]
"""``progress(frames_done, frames_expected)``, called after each frame of :meth:`track`
(``frames_expected``: from the container, ``None`` when it does not say)."""


def face_check_frames(planned: Collection[int] | None, n_expected: int | None) -> set[int]:
    """The frames whose faces the full-range detector counts, so that a video showing several
    people is known even with ``max_num_faces = 1``: the first, middle and last of the planned
    frames (of every frame when ``planned`` is ``None``; the first only without a frame
    count)."""
    if planned is not None:
        frames = sorted(planned)
    elif n_expected:
        frames = list(range(n_expected))
    else:
        return {0}
    if not frames:
        return set()
    return {frames[0], frames[len(frames) // 2], frames[-1]}


class FaceTrack(NamedTuple):
    """The face followed through one video's frames (what :meth:`FaceMeshTracker.track` gives).

    Attributes
    ----------
    info
        The decoded video's frame rate, size and time window.
    n_frames
        Frames decoded.
    found_frames
        Frame positions (0-based) with a face.
    faces
        One ``(n_points, 3)`` float32 array per found frame (``n_points`` 468 or 478).
    n_faces
        Faces seen in each meshed frame (0 without a face): by Face Mesh, and in the
        :func:`face_check_frames` by the full-range detector too (the larger count).
    scores
        Detection score of the followed face in each meshed frame (``None`` without a face).
    n_on_crop
        Frames whose face the small-face search found.
    meshed_frames
        Frame positions (0-based, increasing) Face Mesh ran on; ``None`` when it ran on
        every frame.
    times
        Seconds of each meshed frame in the source (its presentation time, see
        :mod:`emoflow.video`).
    warnings
        What decoding found wrong with the file (truncation, an implausible header, frames
        that failed to decode), one line each.
    """

    info: VideoInfo
    n_frames: int
    found_frames: list[int]
    faces: list[np.ndarray]
    n_faces: list[int]
    scores: list[float | None]
    n_on_crop: int
    meshed_frames: list[int] | None = None
    times: list[float] | None = None
    warnings: list[str] | None = None

    def frame_numbers(self) -> np.ndarray:
        """``(n_meshed,)`` positions of the meshed frames (every frame when all were)."""
        if self.meshed_frames is None:
            return np.arange(self.n_frames, dtype=np.int64)
        return np.asarray(self.meshed_frames, dtype=np.int64)

    def timestamps(self) -> np.ndarray:
        """``(n_meshed,)`` seconds of the meshed frames in the source."""
        if self.times is not None:
            return np.asarray(self.times, dtype=np.float64)
        return self.info.start_s + self.frame_numbers() / self.info.fps


class FaceMeshTracker:
    """Run MediaPipe Face Mesh over videos, one video at a time.

    One ``FaceMesh`` instance is created on first use and reused; its tracking state is reset
    between videos, so a video's landmarks never depend on the video before it. Use as a
    context manager (or call :meth:`close`).

    Parameters
    ----------
    refine_landmarks
        Add the 10 iris points (478 landmarks). With ``False`` Face Mesh gives 468 points and
        the iris points of the table are NaN.
    min_detection_confidence, min_tracking_confidence
        Face Mesh thresholds, in [0, 1]; the first is also the full-range detector's.
    static_image_mode
        Detect the face afresh in every frame instead of tracking it (slower; misses small
        faces that video mode tracks).
    max_num_faces
        Faces Face Mesh looks for in a frame. 1 is fastest: with more, Face Mesh runs its
        detector on every frame that shows fewer faces than this.
    face_policy
        Which face to follow when several are found: one of :data:`FACE_POLICIES` (see the
        module notes).
    find_small_faces
        Search frames without a face again on crops (previous face; full-range detector).
    count_faces
        Count the faces with the full-range detector in the :func:`face_check_frames` too
        (``False`` where the caller has checked them already, as ``emoflow predict`` does).
    decode_threads
        Video decoder threads: 1 (default) spends the least CPU time, as the workflow's
        one-core jobs want; 0 lets FFmpeg choose (faster for one video on many cores).
    """

    def __init__(
        self,
        *,
        refine_landmarks: bool = True,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        static_image_mode: bool = False,
        max_num_faces: int = 1,
        face_policy: str = "tracked",
        find_small_faces: bool = True,
        count_faces: bool = True,
        decode_threads: int = 1,
    ) -> None:
        for name, value in (
            ("min_detection_confidence", min_detection_confidence),
            ("min_tracking_confidence", min_tracking_confidence),
        ):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must lie in [0, 1], got {value!r}")
        if isinstance(max_num_faces, bool) or int(max_num_faces) != max_num_faces:
            raise ConfigError(f"max_num_faces must be a whole number, got {max_num_faces!r}")
        if not 1 <= max_num_faces <= 32:
            raise ConfigError(f"max_num_faces must lie in 1 … 32, got {max_num_faces!r}")
        if face_policy not in FACE_POLICIES:
            raise ConfigError(
                f"face_policy must be one of {', '.join(FACE_POLICIES)}, got {face_policy!r}"
            )
        self.refine_landmarks = bool(refine_landmarks)
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.static_image_mode = bool(static_image_mode)
        self.max_num_faces = int(max_num_faces)
        self.face_policy = face_policy
        self.find_small_faces = bool(find_small_faces)
        self.count_faces = bool(count_faces)
        if isinstance(decode_threads, bool) or int(decode_threads) != decode_threads:
            raise ConfigError(f"decode_threads must be a whole number, got {decode_threads!r}")
        if not 0 <= decode_threads <= 64:
            raise ConfigError(f"decode_threads must lie in 0 … 64, got {decode_threads!r}")
        self.decode_threads = int(decode_threads)
        self._face_mesh: Any = None
        self._crop_mesh: Any = None
        self._detector: Any = None
        self._needs_reset = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the MediaPipe graphs (a later :meth:`extract` creates new ones)."""
        for graph in (self._face_mesh, self._crop_mesh, self._detector):
            if graph is not None:
                graph.close()
        self._face_mesh = self._crop_mesh = self._detector = None
        self._needs_reset = False

    @property
    def model(self) -> str:
        """The ``emoflow.model`` metadata value of this extractor."""
        return model_description(self.refine_landmarks)

    @property
    def face_settings(self) -> dict[str, Any]:
        """The ``emoflow.faces`` metadata value of this extractor."""
        return {
            "max_num_faces": self.max_num_faces,
            "face_policy": self.face_policy,
            "find_small_faces": self.find_small_faces,
        }

    def _new_face_mesh(self, *, static_image_mode: bool, max_num_faces: int) -> FaceMeshGraph:
        return FaceMeshGraph(
            static_image_mode=static_image_mode,
            max_num_faces=max_num_faces,
            refine_landmarks=self.refine_landmarks,
            min_detection_confidence=self.min_detection_confidence,
            min_tracking_confidence=self.min_tracking_confidence,
        )

    def _ready_face_mesh(self) -> FaceMeshGraph:
        """The Face Mesh instance, created on first use, its tracking reset after each video."""
        if self._face_mesh is None:
            self._face_mesh = self._new_face_mesh(
                static_image_mode=self.static_image_mode, max_num_faces=self.max_num_faces
            )
        elif self._needs_reset and not self.static_image_mode:
            # Forget the tracked face: one frame without a face makes the next frame start
            # from detection, exactly like a fresh instance (checked bit for bit in the tests),
            # in about 3 ms where ``FaceMesh.reset()`` restarts the graph in about 30 ms.
            self._face_mesh.process(FLUSH_FRAME)
        self._needs_reset = True
        return self._face_mesh

    def _ready_crop_mesh(self) -> FaceMeshGraph:
        if self._crop_mesh is None:
            self._crop_mesh = self._new_face_mesh(static_image_mode=True, max_num_faces=1)
        return self._crop_mesh

    def _ready_detector(self) -> Any:
        if self._detector is None:
            face_detection = import_mediapipe("mediapipe.python.solutions.face_detection")
            self._detector = face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=self.min_detection_confidence
            )
        return self._detector

    def _count_faces(self, frame: np.ndarray) -> int:
        """Faces the full-range detector finds in ``frame`` (the count ``emoflow predict``
        refuses a video by)."""
        return len(self._ready_detector().process(frame).detections or [])

    def _mesh_on_crop(
        self, frame: np.ndarray, centre_x: float, centre_y: float, side: float
    ) -> tuple[np.ndarray, float | None] | None:
        """Face Mesh on a square crop of ``frame``; landmarks in full-frame coordinates.

        The crop (``side`` pixels around the centre, zero outside the frame) is resized to
        :data:`CROP_SIZE`. Returns the landmarks and the crop detection's score, or ``None``.
        """
        if side < 8:
            return None
        height, width = frame.shape[:2]
        scale = CROP_SIZE / side
        warp = np.array(
            [
                [scale, 0.0, CROP_SIZE / 2 - centre_x * scale],
                [0.0, scale, CROP_SIZE / 2 - centre_y * scale],
            ],
            dtype=np.float64,
        )
        import cv2

        crop = cv2.warpAffine(
            frame, warp, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR, borderValue=0
        )
        faces, detections = self._ready_crop_mesh().process(crop)
        if not faces:
            return None
        points = landmark_values(faces[0])
        points[:, 0] = (centre_x + (points[:, 0] - 0.5) * side) / width
        points[:, 1] = (centre_y + (points[:, 1] - 0.5) * side) / height
        points[:, 2] = points[:, 2] * (side / width)
        score = float(detections[0].score[0]) if detections else None
        return points, score

    def _search_small_face(
        self,
        frame: np.ndarray,
        previous: np.ndarray | None,
        last_face: np.ndarray | None,
        carried_score: float | None,
    ) -> tuple[np.ndarray, int, float | None] | None:
        """Look again for a face Face Mesh missed on the full frame (see the module notes).

        Parameters
        ----------
        frame
            The RGB frame.
        previous
            The face followed in the previous frame, if it had one: searched first, on a crop
            around it.
        last_face
            The face followed in the last frame that had one (for the ``tracked`` policy).
        carried_score
            The detection score of the followed face, kept when it is found around
            ``previous``.

        Returns
        -------
        tuple or None
            Landmarks, number of faces seen and detection score; ``None`` when no face.
        """
        height, width = frame.shape[:2]
        if previous is not None:
            centre_x, centre_y, box_width, box_height = pixel_box(previous, width, height)
            side = CROP_SCALE_LANDMARKS * max(box_width, box_height)
            found = self._mesh_on_crop(frame, centre_x, centre_y, side)
            if found is not None:
                return found[0], 1, carried_score
        detections = self._ready_detector().process(frame).detections
        if not detections:
            return None
        boxes = [detection_box(detection, width, height) for detection in detections]
        last_centre = centre_of(last_face, width, height)
        chosen = choose_face(boxes, self.face_policy, width, height, last_centre)
        centre_x, centre_y, box_width, box_height = boxes[chosen]
        found = self._mesh_on_crop(
            frame, centre_x, centre_y, CROP_SCALE_DETECTION * max(box_width, box_height)
        )
        if found is None:
            return None
        return found[0], len(detections), float(detections[chosen].score[0])

    def track(
        self,
        source: str | Path,
        *,
        progress: FrameProgress | None = None,
        **window: Unpack[FrameWindow],
    ) -> FaceTrack:
        """Follow the face through the frames of one video.

        Parameters
        ----------
        source
            Video file or frame folder (see :func:`emoflow.video.open_frames`).
        fps, start_s, end_s, side_limits, side_setting
            Frame rate, time window and frame-size limits, keyword only, as for
            :func:`emoflow.video.open_frame_slots` (:class:`emoflow.video.FrameWindow`).
        select
            The frames to mesh given the times of the video's frames
            (:data:`emoflow.video.Selection`, e.g. from
            :meth:`emoflow.features.FeatureSettings.frames_read`); ``None`` meshes every
            frame. The others are not meshed, and not decoded where the codec allows
            (:func:`emoflow.video.open_frame_slots`). The times are the container's, read
            before decoding; when a selected frame shows no face, when the frames decoded
            are not those the container lists, or when it lists no times, every frame is
            meshed instead (the result's ``meshed_frames`` is ``None``), so that
            interpolation and the share of frames without a face see what they need.
        progress
            Called after each frame (:data:`FrameProgress`), e.g. a progress bar's.

        Raises
        ------
        InputError
            The source is missing, unreadable or empty, has no frame in the time window, or
            frames of a refused size.
        """
        select = window.pop("select", None)
        options: dict[str, Any] = {**window, "threads": self.decode_threads}
        if select is None:
            info, frames = open_frame_slots(source, **options)
            return self._follow(source, info, frames, None, progress)
        info, frames = open_frame_slots(source, select=select, **options)
        if info.frame_times is None:
            logger.warning(
                "%s: the container lists no frame times before decoding; meshing every frame",
                source,
            )
            return self._follow(source, info, frames, None, progress)
        planned = {int(frame) for frame in select(info.frame_times)}
        track = self._follow(source, info, frames, planned, progress)
        missed = sorted(planned - set(track.found_frames))
        if frames.complete and not missed:
            return track
        if not frames.complete:
            reason = f"the frames decoded are not the {len(info.frame_times)} the container lists"
        else:
            shown = ", ".join(map(str, missed[:8])) + (", …" if len(missed) > 8 else "")
            reason = f"no face in frame(s) {shown} of those the features read"
        logger.info("%s: %s; meshing every frame", source, reason)
        info, frames = open_frame_slots(source, **options)
        return self._follow(source, info, frames, None, progress)

    def _follow(
        self,
        source: str | Path,
        info: VideoInfo,
        frames: FrameStream,
        planned: Collection[int] | None,
        progress: FrameProgress | None = None,
    ) -> FaceTrack:
        """Face Mesh over the frames of ``frames`` (the ``planned`` ones: ``frames`` yields
        those only; every frame when ``None``)."""
        process = self._ready_face_mesh().process
        width, height = info.width, info.height
        policy = self.face_policy
        search_small = self.find_small_faces
        n_expected = expected_frames(info, info.fps)
        found_frames: list[int] = []
        faces: list[np.ndarray] = []
        n_faces: list[int] = []
        scores: list[float | None] = []
        times: list[float] = []
        last_face: np.ndarray | None = None  # face followed in the last frame with a face
        previous_found = False  # whether the previous frame had a face
        score: float | None = None  # detection score carried along the followed face
        n_on_crop = 0
        n_seen = 0
        meshed: list[int] = []
        checks = face_check_frames(planned, n_expected) if self.count_faces else set()
        if progress is not None:
            progress(0, n_expected)
        for slot in frames:
            frame_index = slot.index
            if progress is not None and n_seen:
                progress(frame_index, n_expected)
            n_seen = frame_index + 1
            if planned is not None:
                if frame_index not in planned:
                    continue
                meshed.append(frame_index)
            times.append(slot.time_s)
            frame = slot()
            # faces the full-range detector sees, in the frames predict checks too
            seen = self._count_faces(frame) if frame_index in checks else 0
            face_lists, detections = process(frame)
            points: np.ndarray | None = None
            if face_lists:
                count = len(face_lists)
                if count > 1:
                    candidates = [landmark_values(face) for face in face_lists]
                    boxes = [pixel_box(face, width, height) for face in candidates]
                    last_centre = centre_of(last_face, width, height)
                    points = candidates[choose_face(boxes, policy, width, height, last_centre)]
                else:
                    points = landmark_values(face_lists[0])
                if detections:
                    score = matching_score(detections, points, width, height)
                elif not previous_found:
                    score = None
            elif search_small:
                found = self._search_small_face(
                    frame, last_face if previous_found else None, last_face, score
                )
                if found is not None:
                    points, count, score = found
                    n_on_crop += 1
            if points is None:
                previous_found = False
                score = None
                n_faces.append(seen)
                scores.append(None)
                continue
            previous_found = True
            last_face = points
            found_frames.append(frame_index)
            faces.append(points)
            n_faces.append(max(count, seen))
            scores.append(score)
        n_frames = frames.n_frames if planned is not None else max(frames.n_frames, n_seen)
        if progress is not None:
            progress(n_frames, n_expected)
        for warning in frames.warnings:
            logger.warning("%s: %s", source, warning)
        return FaceTrack(
            info,
            n_frames,
            found_frames,
            faces,
            n_faces,
            scores,
            n_on_crop,
            None if planned is None else meshed,
            times,
            list(frames.warnings),
        )


def image_landmarks(image: np.ndarray, *, refine_landmarks: bool = True) -> np.ndarray | None:
    """Face Mesh landmarks of one RGB image (static-image mode, one face).

    Returns
    -------
    numpy.ndarray or None
        ``(n_points, 3)`` float64 in normalised image coordinates (``n_points`` 478, or 468
        without ``refine_landmarks``); ``None`` when no face is found.
    """
    graph = FaceMeshGraph(
        static_image_mode=True,
        max_num_faces=1,
        refine_landmarks=refine_landmarks,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    )
    try:
        faces, _ = graph.process(image)
    finally:
        graph.close()
    return landmark_values(faces[0]).astype(np.float64) if faces else None

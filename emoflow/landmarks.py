"""Face Mesh landmark extraction: videos → one Parquet table (one row per frame) per shard.

Table schema (:data:`LANDMARK_SCHEMA`), one row per frame of one video, columns in this order:

``video_id`` (``string``)
    The manifest's video id.
``frame`` (``int32``)
    Frame index, 0-based from the first frame of the video's time window.
``timestamp_s`` (``float64``)
    Time of the frame in the source, seconds (``start + frame / fps``).
``face_found`` (``bool``)
    Whether a face was found in this frame.
``landmarks`` (``fixed_size_list<fixed_size_list<float32, 3>, 478>``, nullable)
    The 478 Face Mesh points ``(x, y, z)``; null without a face.
``n_faces`` (``int16``, nullable)
    Faces seen in the frame (see *Faces* below); null when unknown (imported landmarks).
``detection_score`` (``float32``, nullable)
    Score of the face detection that started the followed face's track (the detector runs
    on the first frame of a track, the tracker after it); null without a face.

Landmarks are MediaPipe's normalised coordinates of the whole frame: ``x`` and ``y`` in [0, 1]
of the frame width and height, ``z`` the relative depth on roughly the scale of ``x``. A frame
without a face is kept, with ``face_found = False`` and null ``landmarks``. Polars reads the
column as ``Array(Float32, shape=(478, 3))``. Files written before ``n_faces`` and
``detection_score`` existed are still read; those columns are then null.

Faces. With ``max_num_faces = 1`` (the default and the fastest) Face Mesh follows the face it
found first until it loses it. With ``max_num_faces > 1`` every frame may show several faces and
one is chosen by ``face_policy``: ``largest`` (largest landmark box), ``central`` (box centre
nearest the frame centre) or ``tracked`` (nearest the previous chosen face; the largest when
there is none yet). ``n_faces`` counts the faces seen by the pass that produced the row:
Face Mesh's faces on the full frame, or, in the small-face search, the full-range detector's
detections (1 when the face was followed on a crop around the previous frame's face).

Small faces. Face Mesh's own detector is a short-range model that misses faces under about a
tenth of the frame height (a 180-pixel face in a 1920×1080 frame). With ``find_small_faces``,
a frame in which Face Mesh finds no face is searched again: first on a crop around the face of
the previous frame, then with MediaPipe's full-range face detector, whose box is cropped,
resized to 256 × 256 and given to a second (static-image) Face Mesh; the crop's landmarks are
mapped back to full-frame normalised coordinates. Frames with a face never pay for this.

The schema metadata records the extractor, MediaPipe version, model and face settings, and,
under ``emoflow.videos``, one JSON record per video of the shard (path, fps, size, time window,
frame and face counts, and the error that kept a video out of the table, if any). Videos that
fail (missing, unreadable, empty, no face anywhere) add no rows.

Precomputed landmarks (Parquet in this schema, or CSV with one row per frame) are converted
to the same tables by :func:`import_landmarks`, or by :func:`extract_shard` for manifest rows
whose ``landmarks_format`` column is set.

MediaPipe is imported only when the first frame is processed.
"""

from __future__ import annotations

import glob
import importlib.metadata
import json
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, cast

import cv2
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from emoflow._atomic import atomic_path
from emoflow.errors import ConfigError, DataError, InputError, NoFaceError
from emoflow.facemesh import N_LANDMARKS, N_MESH_LANDMARKS
from emoflow.video import VideoInfo, open_frames, window_indices

logger = logging.getLogger(__name__)

POINT_TYPE = pa.list_(pa.float32(), 3)
"""One landmark: fixed-size list of ``(x, y, z)`` float32."""
LANDMARKS_TYPE = pa.list_(POINT_TYPE, N_LANDMARKS)
"""One face: fixed-size list of 478 points."""

LANDMARK_SCHEMA = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("frame", pa.int32(), nullable=False),
        pa.field("timestamp_s", pa.float64(), nullable=False),
        pa.field("face_found", pa.bool_(), nullable=False),
        pa.field("landmarks", LANDMARKS_TYPE, nullable=True),
        pa.field("n_faces", pa.int16(), nullable=True),
        pa.field("detection_score", pa.float32(), nullable=True),
    ]
)
"""Columns of a landmarks table (without the per-file metadata, see :func:`schema_metadata`)."""
REQUIRED_COLUMNS: tuple[str, ...] = ("video_id", "frame", "timestamp_s", "face_found", "landmarks")
"""Columns every landmarks file has; the others of :data:`LANDMARK_SCHEMA` may be absent
(files of older emoflow versions) and are then read as nulls."""

FACE_POLICIES: tuple[str, ...] = ("largest", "central", "tracked")
"""How one face is chosen among several (``max_num_faces > 1``)."""

EXTRACTOR = "mediapipe.face_mesh"
META_EXTRACTOR = "emoflow.extractor"
META_MEDIAPIPE_VERSION = "emoflow.mediapipe_version"
META_MODEL = "emoflow.model"
META_FACES = "emoflow.faces"
META_VIDEOS = "emoflow.videos"

LANDMARK_FORMATS: tuple[str, ...] = ("parquet", "csv")
"""Formats of precomputed landmark files :func:`import_landmarks` reads."""
COORDINATE_UNITS: tuple[str, ...] = ("normalised", "pixels")
"""Units of imported CSV coordinates: fractions of the frame size, or pixels."""
DEFAULT_IMPORT_FPS = 30.0
"""Frame rate assumed for imported landmarks without timestamps when none is given."""

PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": ["video_id"],
    "use_byte_stream_split": ["timestamp_s", "landmarks.list.element.list.element"],
}
"""Shard file encoding: byte-stream-split floats compress about 40 % better with zstd and
write several times faster than with the default, which first tries dictionary encoding."""
STAGING_OPTIONS: dict[str, Any] = {"compression": "lz4", "use_dictionary": ["video_id"]}
"""Encoding of the temporary per-video file a shard is streamed to before its metadata is known."""
ROW_GROUP_ROWS = 4096
"""Rows per Parquet row group of a shard file (about 23 MB of landmarks before compression)."""

CROP_SIZE = 256
"""Side in pixels of the square crop the small-face search gives to Face Mesh."""
CROP_SCALE_DETECTION = 3.0
"""Crop side / larger side of a full-range detection box (the box covers brows to mouth)."""
CROP_SCALE_LANDMARKS = 2.0
"""Crop side / larger side of the previous frame's landmark box (the whole face oval)."""

_LANDMARK_RECORD = np.dtype(
    [
        ("tag", "u1"),
        ("size", "u1"),
        ("x_tag", "u1"),
        ("x", "<f4"),
        ("y_tag", "u1"),
        ("y", "<f4"),
        ("z_tag", "u1"),
        ("z", "<f4"),
    ]
)
"""Wire layout of one ``NormalizedLandmark`` holding exactly x, y and z inside a
``NormalizedLandmarkList``: field 1 (length-delimited, 15 bytes), then fixed32 fields 1, 2, 3."""


_FLUSH_FRAME = np.zeros((32, 32, 3), dtype=np.uint8)
"""A frame without a face, processed between videos to end Face Mesh tracking."""


class VideoItem(NamedTuple):
    """One video of a shard: what :func:`extract_videos` reads.

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
        ``None`` to extract with Face Mesh; ``"parquet"`` or ``"csv"`` to import
        precomputed landmarks instead (see :func:`import_landmarks`).
    import_options
        For CSV imports: ``fps``, ``width``, ``height`` and ``units`` (see
        :func:`import_landmarks`).
    """

    video_id: str
    path: str
    start_s: float | None = None
    end_s: float | None = None
    landmarks_format: str | None = None
    import_options: Mapping[str, Any] | None = None


def _mediapipe_version() -> str:
    try:
        return importlib.metadata.version("mediapipe")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def model_description(refine_landmarks: bool) -> str:
    """The ``emoflow.model`` metadata value for the given Face Mesh setting."""
    return f"face_mesh refine_landmarks={refine_landmarks}"


def schema_metadata(
    refine_landmarks: bool,
    videos: dict[str, dict[str, Any]],
    faces: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Schema metadata of a landmarks file.

    Parameters
    ----------
    refine_landmarks
        The Face Mesh setting used.
    videos
        ``video_id`` → record with keys ``path``, ``fps``, ``source_fps``, ``width``,
        ``height``, ``start_s``, ``end_s``, ``n_frames``, ``n_faces_found``,
        ``n_faces_found_on_crop``, ``landmarks_format`` (``None`` when extracted here) and
        ``error`` (``None`` or a message).
    faces
        The face settings (``max_num_faces``, ``face_policy``, ``find_small_faces``), stored
        under ``emoflow.faces``.
    """
    return {
        META_EXTRACTOR: EXTRACTOR,
        META_MEDIAPIPE_VERSION: _mediapipe_version(),
        META_MODEL: model_description(refine_landmarks),
        META_FACES: json.dumps(dict(faces or {})),
        META_VIDEOS: json.dumps(videos),
    }


def _landmark_values(face: bytes) -> np.ndarray:
    """``(n_points, 3)`` float32 of one serialised ``NormalizedLandmarkList``.

    Decodes the message with one NumPy view when every point holds exactly x, y and z (what
    Face Mesh emits); otherwise parses it with protobuf and reads the points one by one.
    """
    if len(face) % _LANDMARK_RECORD.itemsize == 0:
        records = np.frombuffer(face, dtype=_LANDMARK_RECORD)
        if (
            (records["tag"] == 0x0A)
            & (records["size"] == 15)
            & (records["x_tag"] == 0x0D)
            & (records["y_tag"] == 0x15)
            & (records["z_tag"] == 0x1D)
        ).all():
            points = np.empty((records.shape[0], 3), dtype=np.float32)
            points[:, 0] = records["x"]
            points[:, 1] = records["y"]
            points[:, 2] = records["z"]
            return points
    from mediapipe.framework.formats import landmark_pb2

    parsed = landmark_pb2.NormalizedLandmarkList.FromString(face)
    return np.array([(point.x, point.y, point.z) for point in parsed.landmark], dtype=np.float32)


class _FaceMeshGraph:
    """A Face Mesh graph that also outputs its face detections, called frame by frame.

    The graph is built like ``mediapipe.solutions.face_mesh.FaceMesh`` (same graph file, side
    inputs and thresholds, by MediaPipe's ``SolutionBase``), with the graph's
    ``face_detections`` stream added to the outputs. :meth:`process` feeds the graph directly
    and returns the faces as serialised protobuf messages: ``SolutionBase.process`` builds a
    new ``namedtuple`` class and parses every face into Python objects on each call, which
    costs about a tenth of a 640×360 frame's Face Mesh time.
    """

    def __init__(
        self,
        *,
        static_image_mode: bool,
        max_num_faces: int,
        refine_landmarks: bool,
        min_detection_confidence: float,
        min_tracking_confidence: float,
    ) -> None:
        from mediapipe.python import packet_creator, packet_getter
        from mediapipe.python._framework_bindings import _packet_getter, image_frame
        from mediapipe.python.solution_base import SolutionBase
        from mediapipe.python.solutions import face_mesh

        self._solution = SolutionBase(
            binary_graph_path=face_mesh._BINARYPB_FILE_PATH,
            side_inputs={
                "num_faces": max_num_faces,
                "with_attention": refine_landmarks,
                "use_prev_landmarks": not static_image_mode,
            },
            calculator_params={
                "facedetectionshortrangecpu__facedetectionshortrange__facedetection__"
                "TensorsToDetectionsCalculator.min_score_thresh": min_detection_confidence,
                "facelandmarkcpu__ThresholdingCalculator.threshold": min_tracking_confidence,
            },
            outputs=["multi_face_landmarks", "face_detections"],
        )
        self._graph = self._solution._graph
        self._outputs: dict[str, Any] = self._solution._graph_outputs
        self._create_image = packet_creator.create_image_frame
        self._srgb = image_frame.ImageFormat.SRGB
        self._serialized_list = _packet_getter._get_serialized_proto_list
        self._proto_list = packet_getter.get_proto_list
        self._timestamp = 0

    def process(self, image: np.ndarray) -> tuple[list[bytes], list[Any] | None]:
        """Run the graph on one RGB frame.

        Returns
        -------
        faces
            Serialised ``NormalizedLandmarkList`` of each face found (empty without a face).
        detections
            The ``Detection`` messages of the frame, or ``None`` when the detector did not run
            (Face Mesh was tracking the faces of the previous frame).
        """
        outputs = self._outputs
        outputs.clear()
        self._timestamp += 33333  # microseconds: a 30 fps stream, like SolutionBase
        packet = self._create_image(image, image_format=self._srgb)
        self._graph.add_packet_to_input_stream(stream="image", packet=packet.at(self._timestamp))
        self._graph.wait_until_idle()
        landmarks = outputs.get("multi_face_landmarks")
        faces = (
            [] if landmarks is None or landmarks.is_empty() else self._serialized_list(landmarks)
        )
        detected = outputs.get("face_detections")
        detections = None if detected is None or detected.is_empty() else self._proto_list(detected)
        return faces, detections

    def close(self) -> None:
        """Release the graph."""
        self._solution.close()


def _video_record(
    path: str | Path,
    info: VideoInfo | None,
    n_frames: int,
    n_faces: int,
    error: str | None,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    n_on_crop: int = 0,
    landmarks_format: str | None = None,
) -> dict[str, Any]:
    return {
        "path": str(path),
        "fps": info.fps if info else None,
        "source_fps": info.source_fps if info else None,
        "width": info.width if info else None,
        "height": info.height if info else None,
        "start_s": info.start_s if info else start_s,
        "end_s": info.end_s if info else end_s,
        "n_frames": n_frames,
        "n_faces_found": n_faces,
        "n_faces_found_on_crop": n_on_crop,
        "landmarks_format": landmarks_format,
        "error": error,
    }


def _landmarks_table(
    video_id: str,
    timestamps: np.ndarray,
    found_frames: list[int] | np.ndarray,
    faces: list[np.ndarray] | np.ndarray,
    *,
    n_faces: pa.Array | None = None,
    detection_scores: pa.Array | None = None,
    frame_numbers: np.ndarray | None = None,
) -> pa.Table:
    """Build one video's table from the found frames' landmark arrays.

    Parameters
    ----------
    video_id
        The video's id.
    timestamps
        ``(n_frames,)`` seconds of every frame.
    found_frames
        Row positions (0-based) of the frames with a face.
    faces
        One ``(n_points, 3)`` array per found frame (``n_points`` 468 or 478; the iris
        points of 468-point faces are NaN), or one ``(n_found, n_points, 3)`` array.
    n_faces, detection_scores
        Per-frame columns (nulls when not given).
    frame_numbers
        Frame numbers of the rows (default ``0 … n_frames-1``).
    """
    n_frames = len(timestamps)
    values = np.zeros((n_frames, N_LANDMARKS, 3), dtype=np.float32)
    if len(faces):
        stacked = np.stack(faces) if isinstance(faces, list) else faces
        n_points = stacked.shape[1]
        values[found_frames, :n_points] = stacked
        values[found_frames, n_points:] = np.nan  # iris points when refine_landmarks=False
    missing = np.ones(n_frames, dtype=bool)
    missing[found_frames] = False
    points = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), 3)
    landmarks = pa.FixedSizeListArray.from_arrays(points, N_LANDMARKS, mask=pa.array(missing))
    if frame_numbers is None:
        frame_numbers = np.arange(n_frames, dtype=np.int32)
    return pa.Table.from_arrays(
        [
            pa.array([video_id] * n_frames, type=pa.string()),
            pa.array(frame_numbers.astype(np.int32, copy=False)),
            pa.array(np.asarray(timestamps, dtype=np.float64)),
            pa.array(~missing),
            landmarks,
            n_faces if n_faces is not None else pa.nulls(n_frames, pa.int16()),
            detection_scores if detection_scores is not None else pa.nulls(n_frames, pa.float32()),
        ],
        schema=LANDMARK_SCHEMA,
    )


def _pixel_box(points: np.ndarray, width: int, height: int) -> tuple[float, float, float, float]:
    """Centre ``(x, y)`` and size ``(w, h)`` in pixels of a face's landmark box."""
    xs = points[:N_MESH_LANDMARKS, 0]
    ys = points[:N_MESH_LANDMARKS, 1]
    x_min, x_max = float(xs.min()), float(xs.max())
    y_min, y_max = float(ys.min()), float(ys.max())
    return (
        (x_min + x_max) / 2 * width,
        (y_min + y_max) / 2 * height,
        (x_max - x_min) * width,
        (y_max - y_min) * height,
    )


def choose_face(
    boxes: Sequence[tuple[float, float, float, float]],
    policy: str,
    width: int,
    height: int,
    previous_centre: tuple[float, float] | None,
) -> int:
    """Index of the face to follow among several, by ``policy``.

    Parameters
    ----------
    boxes
        ``(centre_x, centre_y, width, height)`` of each face, in pixels.
    policy
        ``largest`` (largest box area), ``central`` (centre nearest the frame centre) or
        ``tracked`` (centre nearest ``previous_centre``; the largest without one).
    width, height
        Frame size in pixels.
    previous_centre
        Centre of the face followed in the previous frame with a face, in pixels.
    """
    if policy == "central":
        target: tuple[float, float] | None = (width / 2, height / 2)
    elif policy == "tracked":
        target = previous_centre
    else:
        target = None
    if target is None:
        return int(np.argmax([box[2] * box[3] for box in boxes]))
    distances = [math.hypot(box[0] - target[0], box[1] - target[1]) for box in boxes]
    return int(np.argmin(distances))


def _detection_box(detection: Any, width: int, height: int) -> tuple[float, float, float, float]:
    """Centre and size in pixels of a MediaPipe ``Detection``'s relative bounding box."""
    box = detection.location_data.relative_bounding_box
    return (
        (box.xmin + box.width / 2) * width,
        (box.ymin + box.height / 2) * height,
        box.width * width,
        box.height * height,
    )


def _centre(points: np.ndarray | None, width: int, height: int) -> tuple[float, float] | None:
    """Centre in pixels of a face's landmark box, ``None`` without a face."""
    if points is None:
        return None
    centre_x, centre_y, _, _ = _pixel_box(points, width, height)
    return centre_x, centre_y


def _matching_score(
    detections: Sequence[Any], points: np.ndarray, width: int, height: int
) -> float:
    """Score of the detection whose box centre is nearest the face ``points``' centre."""
    if len(detections) == 1:
        return float(detections[0].score[0])
    centre_x, centre_y, _, _ = _pixel_box(points, width, height)
    boxes = [_detection_box(detection, width, height) for detection in detections]
    distances = [math.hypot(box[0] - centre_x, box[1] - centre_y) for box in boxes]
    return float(detections[int(np.argmin(distances))].score[0])


class FaceMeshExtractor:
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
        Which face to follow when several are found: ``largest``, ``central`` or ``tracked``
        (see the module notes).
    find_small_faces
        Search frames without a face again on crops (previous face; full-range detector).
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
        self._face_mesh: Any = None
        self._crop_mesh: Any = None
        self._detector: Any = None
        self._needs_reset = False

    def __enter__(self) -> FaceMeshExtractor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
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

    def _new_face_mesh(self, *, static_image_mode: bool, max_num_faces: int) -> _FaceMeshGraph:
        return _FaceMeshGraph(
            static_image_mode=static_image_mode,
            max_num_faces=max_num_faces,
            refine_landmarks=self.refine_landmarks,
            min_detection_confidence=self.min_detection_confidence,
            min_tracking_confidence=self.min_tracking_confidence,
        )

    def _ready_face_mesh(self) -> _FaceMeshGraph:
        """The Face Mesh instance, created on first use, its tracking reset after each video."""
        if self._face_mesh is None:
            self._face_mesh = self._new_face_mesh(
                static_image_mode=self.static_image_mode, max_num_faces=self.max_num_faces
            )
        elif self._needs_reset and not self.static_image_mode:
            # Forget the tracked face: one frame without a face makes the next frame start
            # from detection, exactly like a fresh instance (checked bit for bit in the tests),
            # in about 3 ms where ``FaceMesh.reset()`` restarts the graph in about 30 ms.
            self._face_mesh.process(_FLUSH_FRAME)
        self._needs_reset = True
        return self._face_mesh

    def _ready_crop_mesh(self) -> _FaceMeshGraph:
        if self._crop_mesh is None:
            self._crop_mesh = self._new_face_mesh(static_image_mode=True, max_num_faces=1)
        return self._crop_mesh

    def _ready_detector(self) -> Any:
        if self._detector is None:
            from mediapipe.python.solutions import face_detection

            self._detector = face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=self.min_detection_confidence
            )
        return self._detector

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
        crop = cv2.warpAffine(
            frame, warp, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR, borderValue=0
        )
        faces, detections = self._ready_crop_mesh().process(crop)
        if not faces:
            return None
        points = _landmark_values(faces[0])
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
            centre_x, centre_y, box_width, box_height = _pixel_box(previous, width, height)
            side = CROP_SCALE_LANDMARKS * max(box_width, box_height)
            found = self._mesh_on_crop(frame, centre_x, centre_y, side)
            if found is not None:
                return found[0], 1, carried_score
        detections = self._ready_detector().process(frame).detections
        if not detections:
            return None
        boxes = [_detection_box(detection, width, height) for detection in detections]
        last_centre = _centre(last_face, width, height)
        chosen = choose_face(boxes, self.face_policy, width, height, last_centre)
        centre_x, centre_y, box_width, box_height = boxes[chosen]
        found = self._mesh_on_crop(
            frame, centre_x, centre_y, CROP_SCALE_DETECTION * max(box_width, box_height)
        )
        if found is None:
            return None
        return found[0], len(detections), float(detections[chosen].score[0])

    def extract_with_record(
        self,
        source: str | Path,
        video_id: str,
        *,
        fps: float | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
    ) -> tuple[pa.Table, dict[str, Any]]:
        """Extract one video; return its table and its ``emoflow.videos`` record.

        Unlike :meth:`extract`, a video without any face is not an error here: the table has
        only ``face_found = False`` rows and the record counts zero faces.

        Raises
        ------
        InputError
            The source is missing, unreadable or empty, or has no frame in the time window.
        """
        info, frames = open_frames(source, fps=fps, start_s=start_s, end_s=end_s)
        process = self._ready_face_mesh().process
        width, height = info.width, info.height
        policy = self.face_policy
        search_small = self.find_small_faces
        found_frames: list[int] = []
        faces: list[np.ndarray] = []
        n_faces: list[int] = []
        scores: list[float | None] = []
        last_face: np.ndarray | None = None  # face followed in the last frame with a face
        previous_found = False  # whether the previous frame had a face
        score: float | None = None  # detection score carried along the followed face
        n_on_crop = 0
        n_frames = 0
        for frame_index, frame in enumerate(frames):
            n_frames = frame_index + 1
            face_lists, detections = process(frame)
            points: np.ndarray | None = None
            if face_lists:
                count = len(face_lists)
                if count > 1:
                    candidates = [_landmark_values(face) for face in face_lists]
                    boxes = [_pixel_box(face, width, height) for face in candidates]
                    last_centre = _centre(last_face, width, height)
                    points = candidates[choose_face(boxes, policy, width, height, last_centre)]
                else:
                    points = _landmark_values(face_lists[0])
                if detections:
                    score = _matching_score(detections, points, width, height)
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
                n_faces.append(0)
                scores.append(None)
                continue
            previous_found = True
            last_face = points
            found_frames.append(frame_index)
            faces.append(points)
            n_faces.append(count)
            scores.append(score)
        if info.n_frames is not None and fps is None:
            _, stop = window_indices(info.source_fps, None, info.end_s)
            expected = min(info.n_frames, stop or info.n_frames) - info.first_frame
            if n_frames < expected - 1:
                logger.warning(
                    "%s: decoded %d of the %d frames the container reports%s; the file may be "
                    "truncated",
                    source,
                    n_frames,
                    expected,
                    " in the time window" if info.first_frame or info.end_s is not None else "",
                )
        timestamps = info.start_s + np.arange(n_frames, dtype=np.float64) / info.fps
        table = _landmarks_table(
            video_id,
            timestamps,
            found_frames,
            faces,
            n_faces=pa.array(n_faces, type=pa.int16()),
            detection_scores=pa.array(scores, type=pa.float32()),
        )
        record = _video_record(source, info, n_frames, len(found_frames), None, n_on_crop=n_on_crop)
        return table, record

    def extract(
        self,
        source: str | Path,
        video_id: str,
        *,
        fps: float | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
    ) -> pa.Table:
        """Extract the landmarks of every frame of one video.

        Parameters
        ----------
        source
            Video file or frame folder (see :func:`emoflow.video.open_frames`).
        video_id
            Value of the ``video_id`` column.
        fps
            Resample a video to this frame rate (a frame folder's frame rate).
        start_s, end_s
            Time window in seconds (``None``: whole video).

        Returns
        -------
        pyarrow.Table
            :data:`LANDMARK_SCHEMA` with that video's metadata, one row per frame.

        Raises
        ------
        InputError
            The source is missing, unreadable or empty.
        NoFaceError
            No frame shows a face.
        """
        table, record = self.extract_with_record(
            source, video_id, fps=fps, start_s=start_s, end_s=end_s
        )
        if record["n_faces_found"] == 0:
            raise NoFaceError(source, f"no face found in any of its {record['n_frames']} frames")
        return table.replace_schema_metadata(
            schema_metadata(self.refine_landmarks, {video_id: record}, self.face_settings)
        )


# --- shards: many videos → one file --------------------------------------------------------


def _optional_seconds(value: Any) -> float | None:
    """``None`` for a missing (null or NaN) time, the value as float otherwise."""
    if value is None:
        return None
    seconds = float(value)
    return None if math.isnan(seconds) else seconds


def _as_item(video: VideoItem | Sequence[Any]) -> VideoItem:
    """Normalise a ``(video_id, path, …)`` tuple to a :class:`VideoItem`."""
    item = video if isinstance(video, VideoItem) else VideoItem(*video)
    landmarks_format = item.landmarks_format or None
    if landmarks_format is not None and landmarks_format not in LANDMARK_FORMATS:
        raise ConfigError(
            f"video {item.video_id}: landmarks_format must be one of "
            f"{', '.join(LANDMARK_FORMATS)} or empty, got {landmarks_format!r}"
        )
    return item._replace(
        video_id=str(item.video_id),
        path=str(item.path),
        start_s=_optional_seconds(item.start_s),
        end_s=_optional_seconds(item.end_s),
        landmarks_format=landmarks_format,
    )


def extract_videos(
    videos: Sequence[VideoItem | tuple[Any, ...]],
    out_path: str | Path,
    *,
    strict: bool = False,
    fps: float | None = None,
    **extractor_options: Any,
) -> dict[str, dict[str, Any]]:
    """Extract several videos into one Parquet file (a shard), written atomically.

    Parameters
    ----------
    videos
        :class:`VideoItem` values or plain ``(video_id, path)`` pairs (or longer tuples in
        :class:`VideoItem` order); ids must be unique. Items with a ``landmarks_format`` are
        imported from precomputed landmark files instead of extracted.
    out_path
        The shard file to write (zstd-compressed Parquet, :data:`LANDMARK_SCHEMA`).
    strict
        Raise on the first missing, unreadable, empty or face-less video instead of
        recording its error, logging a warning and going on.
    fps
        Resample every video to this frame rate (``None`` keeps the source rate); imported
        landmarks keep their own frames.
    **extractor_options
        Passed to :class:`FaceMeshExtractor` (``refine_landmarks``, ``max_num_faces``,
        ``face_policy``, ``find_small_faces``, confidences, ``static_image_mode``).

    Returns
    -------
    dict
        ``video_id`` → ``{"frames": int, "faces_found": int, "error": str | None}``.

    Raises
    ------
    InputError, NoFaceError
        Only with ``strict``: the video at fault is named.
    ConfigError
        Duplicate video ids or invalid options.
    """
    items = [_as_item(video) for video in videos]
    id_counts = Counter(item.video_id for item in items)
    duplicates = sorted(video_id for video_id, count in id_counts.items() if count > 1)
    if duplicates:
        raise ConfigError(f"duplicate video_id(s) given for {out_path}: {', '.join(duplicates)}")
    extractor = FaceMeshExtractor(**extractor_options)
    return _write_shard(items, out_path, extractor, _LandmarkImporter(), strict=strict, fps=fps)


class _ShardRows:
    """The rows of a shard on their way to its file.

    Video tables are gathered in memory; once they reach :data:`ROW_GROUP_ROWS` rows they are
    written as one row group to a staging file next to the shard (memory stays bounded).
    :meth:`finish` writes the shard file: straight from memory when everything fit, otherwise
    by copying the staging file. The copy is needed because the shard's schema metadata lists
    every video's record, and pyarrow fixes schema metadata when a Parquet writer opens.
    """

    def __init__(self, staged: Path) -> None:
        self.staged = staged
        self.rows_path = staged.with_name(staged.name + ".rows")
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.rows_writer: pq.ParquetWriter | None = None

    def __enter__(self) -> _ShardRows:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.rows_writer is not None:
            self.rows_writer.close()
            self.rows_writer = None

    def add(self, table: pa.Table) -> None:
        """Queue one video's rows, staging them when the queue reaches a row group."""
        self.pending.append(table)
        self.pending_rows += table.num_rows
        if self.pending_rows >= ROW_GROUP_ROWS:
            if self.rows_writer is None:
                self.rows_writer = pq.ParquetWriter(
                    self.rows_path, LANDMARK_SCHEMA, **STAGING_OPTIONS
                )
            self.rows_writer.write_table(self._take_pending())

    def _take_pending(self) -> pa.Table:
        table = pa.concat_tables(self.pending) if self.pending else LANDMARK_SCHEMA.empty_table()
        self.pending, self.pending_rows = [], 0
        return table

    def finish(self, metadata: dict[str, str]) -> None:
        """Write the shard file with ``metadata`` as its schema metadata."""
        schema = LANDMARK_SCHEMA.with_metadata(metadata)
        with pq.ParquetWriter(self.staged, schema, **PARQUET_OPTIONS) as writer:
            if self.rows_writer is None:
                writer.write_table(self._take_pending(), row_group_size=ROW_GROUP_ROWS)
                return
            if self.pending:
                self.rows_writer.write_table(self._take_pending())
            self.rows_writer.close()
            self.rows_writer = None
            rows_file = pq.ParquetFile(self.rows_path)
            try:
                for batch in rows_file.iter_batches(batch_size=ROW_GROUP_ROWS):
                    writer.write_batch(batch)
            finally:
                rows_file.close()


def _write_shard(
    items: Sequence[VideoItem],
    out_path: str | Path,
    extractor: FaceMeshExtractor,
    importer: _LandmarkImporter,
    *,
    strict: bool,
    fps: float | None,
) -> dict[str, dict[str, Any]]:
    """Extract or import every item into one shard file (see :func:`extract_videos`)."""
    records: dict[str, dict[str, Any]] = {}
    summary: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    total_frames = 0
    with atomic_path(out_path) as staged, _ShardRows(staged) as rows, extractor:
        for position, item in enumerate(items, start=1):
            video_id, path = item.video_id, item.path
            video_started = time.perf_counter()
            try:
                if item.landmarks_format is None:
                    table, record = extractor.extract_with_record(
                        path, video_id, fps=fps, start_s=item.start_s, end_s=item.end_s
                    )
                else:
                    table, record = importer.read(item)
            except InputError as err:
                if strict:
                    raise
                record = _video_record(
                    path,
                    None,
                    0,
                    0,
                    str(err),
                    start_s=item.start_s,
                    end_s=item.end_s,
                    landmarks_format=item.landmarks_format,
                )
                logger.warning("skipping video %s: %s", video_id, err)
            else:
                if record["n_faces_found"] == 0:
                    no_face = NoFaceError(
                        path, f"no face found in any of its {record['n_frames']} frames"
                    )
                    if strict:
                        raise no_face
                    record["error"] = str(no_face)
                    logger.warning("skipping video %s: %s", video_id, no_face)
                else:
                    rows.add(table)
            records[video_id] = record
            summary[video_id] = {
                "frames": record["n_frames"],
                "faces_found": record["n_faces_found"],
                "error": record["error"],
            }
            total_frames += record["n_frames"]
            elapsed = time.perf_counter() - video_started
            logger.info(
                "[%d/%d] %s: %d frames, face in %d (%d on crops), %.2f s (%.0f frames/s)",
                position,
                len(items),
                video_id,
                record["n_frames"],
                record["n_faces_found"],
                record["n_faces_found_on_crop"],
                elapsed,
                record["n_frames"] / elapsed if elapsed > 0 else math.inf,
            )
        rows.finish(schema_metadata(extractor.refine_landmarks, records, extractor.face_settings))
    elapsed = time.perf_counter() - started
    n_failed = sum(record["error"] is not None for record in records.values())
    logger.info(
        "wrote %s: %d videos (%d skipped), %d frames in %.1f s",
        out_path,
        len(items),
        n_failed,
        total_frames,
        elapsed,
    )
    return summary


MANIFEST_ITEM_COLUMNS: dict[str, str] = {
    "start_s": "start_s",
    "end_s": "end_s",
    "landmarks_format": "landmarks_format",
}
"""Optional manifest columns :func:`extract_shard` honours → :class:`VideoItem` fields."""
MANIFEST_IMPORT_COLUMNS: dict[str, str] = {
    "landmarks_fps": "fps",
    "landmarks_width": "width",
    "landmarks_height": "height",
    "landmarks_units": "units",
}
"""Optional manifest columns → :func:`import_landmarks` options of CSV imports."""


def extract_shard(
    manifest_path: str | Path,
    out_path: str | Path,
    *,
    shard: int,
    n_shards: int,
    strict: bool = False,
    **options: Any,
) -> dict[str, dict[str, Any]]:
    """Extract one shard of a manifest: rows ``i`` with ``i % n_shards == shard``.

    Per-video settings come from the manifest's optional columns: ``start_s`` and ``end_s``
    (time window, seconds; null for the whole video), and, for precomputed landmarks,
    ``landmarks_format`` (``parquet`` or ``csv``: the row's ``path`` is imported, not
    extracted), ``landmarks_fps``, ``landmarks_width``, ``landmarks_height`` and
    ``landmarks_units`` (see :func:`import_landmarks`).

    Parameters
    ----------
    manifest_path
        Manifest Parquet with at least the columns ``video_id`` and ``path``.
    out_path
        The shard's landmarks file.
    shard, n_shards
        Which shard, ``0 <= shard < n_shards``, in manifest row order.
    strict
        See :func:`extract_videos`.
    **options
        ``fps`` and :class:`FaceMeshExtractor` options, passed to :func:`extract_videos`.

    Returns
    -------
    dict
        The summary of :func:`extract_videos`.
    """
    from emoflow.manifest import read_manifest

    if n_shards < 1 or not 0 <= shard < n_shards:
        raise ConfigError(f"shard must satisfy 0 <= shard < n_shards, got {shard} of {n_shards}")
    manifest = read_manifest(manifest_path, required_columns=("video_id", "path"))
    optional = [
        name
        for name in (*MANIFEST_ITEM_COLUMNS, *MANIFEST_IMPORT_COLUMNS)
        if name in manifest.columns
    ]
    selected = manifest.select("video_id", "path", *optional).gather_every(n_shards, offset=shard)
    logger.info(
        "shard %d of %d: %d of the %d videos in %s",
        shard,
        n_shards,
        selected.height,
        manifest.height,
        manifest_path,
    )
    items = []
    for row in selected.iter_rows(named=True):
        fields = {field: row[name] for name, field in MANIFEST_ITEM_COLUMNS.items() if name in row}
        import_options = {
            option: row[name]
            for name, option in MANIFEST_IMPORT_COLUMNS.items()
            if row.get(name) is not None
        }
        items.append(
            VideoItem(
                video_id=row["video_id"],
                path=row["path"],
                import_options=import_options or None,
                **fields,
            )
        )
    return extract_videos(items, out_path, strict=strict, **options)


# --- precomputed landmarks -----------------------------------------------------------------

FRAME_COLUMNS: tuple[str, ...] = ("frame", "frame_index", "frame_idx", "frame_number")
"""Names accepted for the frame-number column of a landmark CSV (first match wins)."""
TIMESTAMP_COLUMNS: dict[str, float] = {
    "timestamp_s": 1.0,
    "timestamp": 1.0,
    "time_s": 1.0,
    "time": 1.0,
    "timestamp_ms": 1e-3,
}
"""Names accepted for the time column of a landmark CSV → factor to seconds."""
SCORE_COLUMNS: tuple[str, ...] = ("detection_score", "confidence", "score")
"""Names accepted for a per-frame face confidence column of a landmark CSV."""
_AXIS_FIRST = re.compile(r"^(?P<axis>[xyz])_?(?P<index>\d+)$", re.IGNORECASE)
"""``x_0``, ``x0``, ``X12``: axis then landmark number."""
_INDEX_FIRST = re.compile(r"^(?:landmark_?)?(?P<index>\d+)_(?P<axis>[xyz])$", re.IGNORECASE)
"""``0_x``, ``landmark_0_x``: landmark number then axis."""
_PIXEL_LIKE = 4.0
"""Normalised x/y beyond this magnitude are taken for pixel coordinates (an error)."""


def coordinate_columns(columns: Sequence[str], source: str | Path) -> list[tuple[str, str, str]]:
    """The ``(x, y, z)`` column names of each landmark of a one-row-per-frame table, in order.

    Accepts ``x_0 … x_477, y_0 …, z_0 …`` and ``x0, y0, z0, x1, …`` (any case, any column
    order), ``0_x``/``landmark_0_x``, and 1-based numbering; 468 or 478 landmarks.

    Raises
    ------
    InputError
        No coordinate columns, an axis missing for some landmarks, ambiguous names, or a
        landmark count other than 468 or 478; ``source`` is named.
    """
    by_axis: dict[str, dict[int, str]] = {"x": {}, "y": {}, "z": {}}
    for name in columns:
        match = _AXIS_FIRST.match(name.strip()) or _INDEX_FIRST.match(name.strip())
        if match is None:
            continue
        axis, index = match["axis"].lower(), int(match["index"])
        if index in by_axis[axis]:
            raise InputError(
                source,
                f"columns {by_axis[axis][index]!r} and {name!r} both name {axis} of landmark "
                f"{index}",
            )
        by_axis[axis][index] = name
    if not any(by_axis.values()):
        raise InputError(
            source,
            "has no landmark coordinate columns (expected x_0 … x_477, y_0 …, z_0 … or "
            "x0, y0, z0, x1, …)",
        )
    indices = set(by_axis["x"])
    for axis in "yz":
        if set(by_axis[axis]) != indices:
            lacking = sorted(indices.symmetric_difference(by_axis[axis]))
            raise InputError(
                source,
                f"coordinate columns do not match: {axis} and x differ for landmark(s) "
                f"{', '.join(map(str, lacking[:5]))}" + (" …" if len(lacking) > 5 else ""),
            )
    ordered = sorted(indices)
    first = ordered[0]
    if first not in (0, 1) or ordered != list(range(first, first + len(ordered))):
        raise InputError(
            source,
            f"landmark numbers must run 0 … n-1 (or 1 … n) without gaps; found {len(ordered)} "
            f"numbers from {ordered[0]} to {ordered[-1]}",
        )
    if len(ordered) not in (N_MESH_LANDMARKS, N_LANDMARKS):
        raise InputError(
            source,
            f"holds {len(ordered)} landmarks per frame; Face Mesh landmarks are "
            f"{N_MESH_LANDMARKS} or {N_LANDMARKS}",
        )
    return [(by_axis["x"][i], by_axis["y"][i], by_axis["z"][i]) for i in ordered]


def _csv_separator(path: Path) -> str:
    if path.suffix.lower() in {".tsv", ".tab"}:
        return "\t"
    with path.open(encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    return "\t" if "\t" in header and "," not in header else ","


def read_landmark_csv(path: str | Path) -> pl.DataFrame:
    """Read a one-row-per-frame landmark CSV/TSV; coordinate columns as Float64.

    Raises
    ------
    InputError
        The file is missing, empty, unparsable or has no coordinate columns.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(file, "does not exist" if not file.exists() else "is not a file")
    separator = _csv_separator(file)
    try:
        header = pl.read_csv(file, separator=separator, n_rows=0).columns
        coordinates = [name for triple in coordinate_columns(header, file) for name in triple]
        overrides: dict[str, Any] = {name: pl.Float64 for name in coordinates}
        if "video_id" in header:
            overrides["video_id"] = pl.String
        return pl.read_csv(
            file,
            separator=separator,
            schema_overrides=overrides,
            null_values=["", "nan", "NaN", "NA", "null"],
            infer_schema_length=10000,
        )
    except pl.exceptions.NoDataError as err:
        raise InputError(file, "landmark file is empty") from err
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as err:
        raise InputError(file, f"cannot be parsed as a landmark table ({err})") from err


def _rows_of_video(ids: Sequence[str], video_id: str, source: Path) -> tuple[str | None, list[str]]:
    """Which ``video_id`` value of a landmark file holds ``video_id``'s rows.

    Returns the value to filter on (``None``: take every row, the file holds one video) and
    the distinct ids of the file.
    """
    distinct = sorted(set(ids))
    if video_id in distinct:
        return video_id, distinct
    if len(distinct) == 1:
        return None, distinct
    listed = ", ".join(distinct[:5]) + (
        f" (and {len(distinct) - 5} more)" if len(distinct) > 5 else ""
    )
    raise InputError(source, f"holds no rows of video_id {video_id!r}; it holds {listed}")


def _in_window(
    timestamps: np.ndarray, start_s: float | None, end_s: float | None
) -> np.ndarray | None:
    """Mask of the rows inside ``[start_s, end_s)``, or ``None`` without a window."""
    if start_s is None and end_s is None:
        return None
    keep = np.ones(len(timestamps), dtype=bool)
    if start_s is not None:
        keep &= timestamps >= start_s - 1e-9
    if end_s is not None:
        keep &= timestamps < end_s - 1e-9
    return keep


class _LandmarkImporter:
    """Read precomputed landmarks of one video at a time, keeping the last CSV file parsed
    (manifests list the videos of a many-video CSV next to each other)."""

    def __init__(self) -> None:
        self._cached_path: Path | None = None
        self._cached_frame: pl.DataFrame | None = None

    def csv(self, path: Path) -> pl.DataFrame:
        """The parsed CSV file (cached)."""
        if self._cached_path != path or self._cached_frame is None:
            self._cached_frame = read_landmark_csv(path)
            self._cached_path = path
        return self._cached_frame

    def read(self, item: VideoItem) -> tuple[pa.Table, dict[str, Any]]:
        """One video's table and record from a precomputed landmark file."""
        path = Path(item.path)
        if not path.exists():
            raise InputError(path, "does not exist")
        if item.landmarks_format == "parquet":
            table, record = _import_parquet(path, item.video_id)
        else:
            table, record = _import_csv(
                self.csv(path), path, item.video_id, dict(item.import_options or {})
            )
        keep = _in_window(table["timestamp_s"].to_numpy(), item.start_s, item.end_s)
        if keep is not None:
            table = table.filter(pa.array(keep))
            record["n_frames"] = table.num_rows
            record["n_faces_found"] = int(pc.sum(table["face_found"]).as_py() or 0)
            if table.num_rows == 0:
                raise InputError(
                    path,
                    f"no frame of video {item.video_id!r} in the time window "
                    f"[{item.start_s or 0:g}, {item.end_s if item.end_s is not None else 'end'})",
                )
        record["start_s"], record["end_s"] = item.start_s, item.end_s
        return table, record


def _import_parquet(path: Path, video_id: str) -> tuple[pa.Table, dict[str, Any]]:
    """One video's rows of a landmarks Parquet file in emoflow's schema."""
    schema = _checked_schema(path)
    ids = pq.read_table(path, columns=["video_id"])["video_id"]
    if len(ids) == 0:
        raise InputError(path, "landmark file has no rows")
    selected, distinct = _rows_of_video(pc.unique(ids).to_pylist(), video_id, path)
    columns = [name for name in LANDMARK_SCHEMA.names if name in schema.names]
    filters = None if selected is None else [("video_id", "==", selected)]
    raw = pq.read_table(path, columns=columns, filters=filters).sort_by("frame")
    n_rows = raw.num_rows
    arrays = []
    for field in LANDMARK_SCHEMA:
        if field.name == "video_id":
            arrays.append(pa.array([video_id] * n_rows, type=pa.string()))
        elif field.name in raw.column_names:
            arrays.append(raw[field.name].cast(field.type).combine_chunks())
        else:
            arrays.append(pa.nulls(n_rows, field.type))
    table = pa.Table.from_arrays(arrays, schema=LANDMARK_SCHEMA)
    frames = table["frame"].to_numpy()
    if len(np.unique(frames)) != n_rows:
        raise InputError(path, f"video {video_id!r} has duplicate frame numbers")
    original = _metadata_records(schema).get(selected if selected is not None else distinct[0], {})
    fps = original.get("fps") or _fps_from_timestamps(table["timestamp_s"].to_numpy())
    record = _video_record(path, None, n_rows, 0, None, landmarks_format="parquet")
    record.update(
        fps=fps,
        source_fps=original.get("source_fps") or fps,
        width=original.get("width"),
        height=original.get("height"),
        n_faces_found=int(pc.sum(table["face_found"]).as_py() or 0),
        n_faces_found_on_crop=original.get("n_faces_found_on_crop", 0),
        video_path=original.get("path"),
    )
    return table, record


def _metadata_records(schema: pa.Schema) -> dict[str, dict[str, Any]]:
    raw = (schema.metadata or {}).get(META_VIDEOS.encode())
    return _parse_video_records(raw, "landmark table") if raw else {}


def _parse_video_records(raw: bytes, file: str | Path) -> dict[str, dict[str, Any]]:
    """The ``emoflow.videos`` metadata as ``video_id`` → record, or an InputError."""
    try:
        records = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        records, problem = None, str(err)
    else:
        problem = "not a mapping of video_id to records"
    if not isinstance(records, dict) or not all(
        isinstance(record, dict) for record in records.values()
    ):
        raise InputError(
            file,
            f"schema metadata {META_VIDEOS!r} is not a JSON mapping of video_id to record "
            f"({problem}); the file is damaged: delete it and rerun its extract_landmarks job",
        )
    return records


def _fps_from_timestamps(timestamps: np.ndarray) -> float | None:
    """Frame rate from the median step of increasing timestamps, ``None`` if unknown."""
    steps = np.diff(np.sort(timestamps))
    steps = steps[steps > 0]
    return float(1.0 / np.median(steps)) if steps.size else None


def _import_csv(
    frame: pl.DataFrame, path: Path, video_id: str, options: dict[str, Any]
) -> tuple[pa.Table, dict[str, Any]]:
    """One video's table from a parsed one-row-per-frame landmark CSV.

    ``options``: ``fps`` (frame rate when the file has no time column; default 30),
    ``width``/``height`` (frame size in pixels), ``units`` (``normalised`` or ``pixels``).
    """
    unknown = sorted(set(options) - {"fps", "width", "height", "units"})
    if unknown:
        raise ConfigError(f"{path}: unknown landmark import option(s) {', '.join(unknown)}")
    units = options.get("units") or "normalised"
    if units not in COORDINATE_UNITS:
        raise ConfigError(
            f"{path}: units must be one of {', '.join(COORDINATE_UNITS)}, got {units!r}"
        )
    width = int(options["width"]) if options.get("width") is not None else None
    height = int(options["height"]) if options.get("height") is not None else None
    if units == "pixels" and (width is None or height is None):
        raise ConfigError(f"{path}: units 'pixels' needs the frame width and height")
    if "video_id" in frame.columns:
        selected, _ = _rows_of_video(
            frame["video_id"].drop_nulls().unique().to_list(), video_id, path
        )
        if selected is not None:
            frame = frame.filter(pl.col("video_id") == selected)
    if frame.height == 0:
        raise InputError(path, f"holds no rows for video {video_id!r}")
    frame_column = next((name for name in FRAME_COLUMNS if name in frame.columns), None)
    if frame_column is not None:
        frame = frame.sort(frame_column)
        numbers = frame[frame_column].to_numpy()
        if not np.issubdtype(numbers.dtype, np.integer) or (numbers < 0).any():
            raise InputError(path, f"column {frame_column!r} must hold non-negative whole numbers")
        if len(np.unique(numbers)) != len(numbers):
            raise InputError(path, f"video {video_id!r} has duplicate frame numbers")
        frame_numbers = numbers.astype(np.int32)
    else:
        frame_numbers = np.arange(frame.height, dtype=np.int32)
    time_column = next((name for name in TIMESTAMP_COLUMNS if name in frame.columns), None)
    fps = float(options["fps"]) if options.get("fps") is not None else None
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"{path}: fps must be a positive number, got {fps!r}")
    if time_column is not None:
        try:
            timestamps = frame[time_column].cast(pl.Float64).to_numpy()
        except pl.exceptions.PolarsError as err:
            raise InputError(path, f"column {time_column!r} must hold times") from err
        timestamps = timestamps * TIMESTAMP_COLUMNS[time_column]
        if not np.isfinite(timestamps).all():
            raise InputError(path, f"column {time_column!r} has empty or non-finite values")
        fps = fps or _fps_from_timestamps(timestamps) or DEFAULT_IMPORT_FPS
    else:
        fps = fps or DEFAULT_IMPORT_FPS
        timestamps = frame_numbers / fps
    triples = coordinate_columns(frame.columns, path)
    values = np.stack(
        [frame.select([triple[axis] for triple in triples]).to_numpy() for axis in range(3)],
        axis=-1,
    ).astype(np.float32)
    found = np.isfinite(values).all(axis=(1, 2))
    if "face_found" in frame.columns:
        found &= frame["face_found"].cast(pl.Boolean).fill_null(False).to_numpy()
    if units == "pixels":
        assert width is not None and height is not None
        values /= np.array([width, height, width], dtype=np.float32)
    elif found.any():
        extent = float(np.abs(values[found][..., :2]).max())
        if extent > _PIXEL_LIKE:
            raise InputError(
                path,
                f"x/y coordinates reach {extent:g}: they look like pixels; set units to "
                "'pixels' and give the frame width and height",
            )
    score_column = next((name for name in SCORE_COLUMNS if name in frame.columns), None)
    scores = None
    if score_column is not None:
        score_values = frame[score_column].cast(pl.Float32).fill_null(np.nan).to_numpy()
        scores = pa.array(score_values, type=pa.float32(), mask=~found | np.isnan(score_values))
    n_faces = None
    if "n_faces" in frame.columns:
        n_faces = pa.array(frame["n_faces"].cast(pl.Int16).to_list(), type=pa.int16())
    table = _landmarks_table(
        video_id,
        timestamps,
        np.flatnonzero(found),
        values[found],
        n_faces=n_faces,
        detection_scores=scores,
        frame_numbers=frame_numbers,
    )
    record = _video_record(path, None, frame.height, int(found.sum()), None, landmarks_format="csv")
    record.update(fps=fps, source_fps=fps, width=width, height=height)
    return table, record


def _import_sources(source: str | Path | Sequence[str | Path], format: str | None) -> list[Path]:
    """Expand a landmark file, folder, glob pattern or list of these to files."""
    items = [source] if isinstance(source, str | Path) else list(source)
    if not items:
        raise DataError("no landmark files given")
    suffixes = {"parquet": {".parquet", ".pq"}, "csv": {".csv", ".tsv", ".tab"}}
    wanted = suffixes[format] if format else suffixes["parquet"] | suffixes["csv"]
    files: list[Path] = []
    for entry in items:
        text = str(entry)
        if isinstance(entry, str) and any(char in text for char in "*?["):
            matches = sorted(Path(match) for match in glob.glob(text))
            if not matches:
                raise InputError(text, "glob pattern matches no landmark file")
            files.extend(matches)
        elif Path(text).is_dir():
            found = sorted(file for file in Path(text).iterdir() if file.suffix.lower() in wanted)
            if not found:
                raise InputError(
                    text, f"folder holds no landmark file ({', '.join(sorted(wanted))})"
                )
            files.extend(found)
        elif not Path(text).exists():
            raise InputError(text, "does not exist")
        else:
            files.append(Path(text))
    return files


def _landmark_format(file: Path, format: str | None) -> str:
    if format is not None:
        if format not in LANDMARK_FORMATS:
            raise ConfigError(
                f"landmark format must be one of {', '.join(LANDMARK_FORMATS)}, got {format!r}"
            )
        return format
    suffix = file.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    if suffix in {".csv", ".tsv", ".tab"}:
        return "csv"
    raise InputError(file, "cannot tell the landmark format from the suffix; give format")


def _video_ids_of(file: Path, file_format: str, importer: _LandmarkImporter) -> list[str]:
    """The distinct ``video_id`` values of a landmark file (empty without the column)."""
    if file_format == "csv":
        frame = importer.csv(file)
        if "video_id" not in frame.columns:
            return []
        return frame["video_id"].drop_nulls().unique(maintain_order=True).to_list()
    _checked_schema(file)
    return pc.unique(pq.read_table(file, columns=["video_id"])["video_id"]).to_pylist()


def import_landmarks(
    source: str | Path | Sequence[str | Path],
    out_path: str | Path,
    *,
    format: str | None = None,
    video_id: str | None = None,
    fps: float | None = None,
    width: int | None = None,
    height: int | None = None,
    units: str = "normalised",
    strict: bool = False,
) -> dict[str, dict[str, Any]]:
    """Convert precomputed landmarks into an emoflow landmarks table (skipping Face Mesh).

    Parameters
    ----------
    source
        A landmark file, a folder of them, a glob pattern (string) or a list of these. Each
        file is either Parquet in :data:`LANDMARK_SCHEMA` (e.g. from another emoflow run) or
        a CSV/TSV with one row per frame and the 468 or 478 landmarks' coordinates as
        columns: ``x_0 … x_477, y_0 … y_477, z_0 … z_477`` or ``x0, y0, z0, x1, …`` (see
        :func:`coordinate_columns`), optionally ``frame`` (frame number; default the row
        order), ``timestamp_s``/``timestamp``/``time`` (seconds) or ``timestamp_ms``,
        ``face_found``, ``detection_score``/``confidence``, and ``video_id`` (a file of many
        videos). A row with an empty or NaN coordinate is a frame without a face.
    out_path
        The landmarks file to write.
    format
        ``parquet`` or ``csv``; ``None`` tells by the file suffix.
    video_id
        Id of the one video in ``source`` when it is a single file without a ``video_id``
        column; default the file name without suffix.
    fps
        Frame rate of CSV rows without a time column (default 30).
    width, height
        Frame size in pixels, recorded (the feature stage scales x and y by it) and needed
        for ``units="pixels"``.
    units
        CSV coordinates as ``normalised`` fractions of the frame (MediaPipe's) or ``pixels``.
    strict
        Raise on the first unusable file instead of recording it and going on.

    Returns
    -------
    dict
        The summary of :func:`extract_videos`.
    """
    files = _import_sources(source, format)
    importer = _LandmarkImporter()
    options = {"fps": fps, "width": width, "height": height, "units": units}
    items: list[VideoItem] = []
    for file in files:
        file_format = _landmark_format(file, format)
        try:
            ids = _video_ids_of(file, file_format, importer)
        except InputError:
            if strict:
                raise
            ids = []  # one item named after the file: its import records the error
        if not ids or (len(ids) == 1 and video_id is not None and len(files) == 1):
            ids = [video_id if video_id is not None and len(files) == 1 else file.stem]
        items.extend(
            VideoItem(str(one_id), str(file), None, None, file_format, options) for one_id in ids
        )
    id_counts = Counter(item.video_id for item in items)
    duplicates = sorted(one_id for one_id, count in id_counts.items() if count > 1)
    if duplicates:
        raise ConfigError(
            f"duplicate video_id(s) among the landmark files for {out_path}: "
            f"{', '.join(duplicates)}"
        )
    return _write_shard(items, out_path, FaceMeshExtractor(), importer, strict=strict, fps=None)


def landmark_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """Expand files, folders (their ``*.parquet``) and glob patterns to a list of files."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise DataError("no landmark files given")
    files: list[Path] = []
    for item in items:
        text = str(item)
        if isinstance(item, str) and any(char in text for char in "*?["):
            pattern_matches = sorted(Path(match) for match in glob.glob(text))
            if not pattern_matches:
                raise InputError(text, "glob pattern matches no landmark file")
            files.extend(pattern_matches)
        elif Path(text).is_dir():
            folder_files = sorted(Path(text).glob("*.parquet"))
            if not folder_files:
                raise InputError(text, "folder holds no .parquet landmark file")
            files.extend(folder_files)
        elif not Path(text).exists():
            raise InputError(text, "does not exist")
        else:
            files.append(Path(text))
    return files


def _as_string(data_type: pa.DataType) -> pa.DataType:
    """``string`` for ``large_string`` (what Polars writes), the type itself otherwise."""
    return pa.string() if data_type == pa.large_string() else data_type


def _checked_schema(file: Path) -> pa.Schema:
    """The Arrow schema of a landmarks file, or an InputError naming the file.

    The :data:`REQUIRED_COLUMNS` must be present; every column of :data:`LANDMARK_SCHEMA`
    that is present must have its type.
    """
    try:
        schema = pq.read_schema(file)
    except (OSError, pa.ArrowException, UnicodeDecodeError) as err:
        raise InputError(file, f"not a readable Parquet file ({err})") from err
    for field in LANDMARK_SCHEMA:
        if field.name not in schema.names:
            if field.name not in REQUIRED_COLUMNS:
                continue
            raise InputError(file, f"not a landmarks file: column {field.name!r} is missing")
        actual = schema.field(field.name).type
        if not (actual.equals(field.type) or (field.type == pa.string() == _as_string(actual))):
            raise InputError(
                file,
                f"not a landmarks file: column {field.name!r} is {actual}, expected {field.type}",
            )
    return schema


def read_landmarks(paths: str | Path | Sequence[str | Path]) -> pl.DataFrame:
    """Read one or many landmark shard files into one Polars frame.

    Parameters
    ----------
    paths
        A file, a folder (all its ``*.parquet``), a glob pattern (string), or a sequence of
        these.

    Returns
    -------
    polars.DataFrame
        The rows of all files, in file order, with the columns of :data:`LANDMARK_SCHEMA`;
        ``landmarks`` is ``Array(Float32, shape=(478, 3))``. Columns a file lacks (those
        added after it was written) are null.
    """
    files = landmark_files(paths)
    expected = pl.DataFrame(LANDMARK_SCHEMA.empty_table()).schema
    frames = []
    for file in files:
        present = [name for name in LANDMARK_SCHEMA.names if name in _checked_schema(file).names]
        try:
            # pyarrow, unlike polars, reports damaged pages as Python exceptions (never panics)
            frame = cast(pl.DataFrame, pl.from_arrow(pq.read_table(file, columns=present)))
        except (OSError, pa.ArrowException, ValueError) as err:
            raise InputError(
                file, f"corrupt or truncated Parquet data ({err}); delete it and re-extract"
            ) from err
        frame = frame.with_columns(
            pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in expected.items()
            if name not in frame.columns
        )
        frames.append(frame.select(expected.names()).cast(expected))
    return pl.concat(frames, how="vertical")


def read_video_records(paths: str | Path | Sequence[str | Path]) -> dict[str, dict[str, Any]]:
    """Merge the ``emoflow.videos`` metadata of landmark files: ``video_id`` → record.

    The records include the videos that failed (with their ``error``), which have no rows.

    Raises
    ------
    DataError
        The same ``video_id`` appears in two files.
    """
    records: dict[str, dict[str, Any]] = {}
    origin: dict[str, Path] = {}
    for file in landmark_files(paths):
        metadata = _checked_schema(file).metadata or {}
        raw = metadata.get(META_VIDEOS.encode())
        if raw is None:
            raise InputError(file, f"schema metadata lacks {META_VIDEOS!r}")
        for video_id, record in _parse_video_records(raw, file).items():
            if video_id in records:
                raise DataError(f"video_id {video_id!r} is in both {origin[video_id]} and {file}")
            records[video_id] = record
            origin[video_id] = file
    return records


def landmarks_array(table: pl.DataFrame, video_id: str) -> tuple[np.ndarray, np.ndarray]:
    """One video's landmarks as a dense array, frames in order.

    Parameters
    ----------
    table
        A landmarks frame, e.g. from :func:`read_landmarks`.
    video_id
        The video to take.

    Returns
    -------
    landmarks
        ``(n_frames, 478, 3)`` float32, NaN where no face was found (and for frames absent
        from ``table``); ``n_frames`` is the highest frame number plus one.
    found_mask
        ``(n_frames,)`` bool, True where a face was found.

    Raises
    ------
    DataError
        ``video_id`` has no rows, or a frame number appears twice.
    """
    rows = table.filter(pl.col("video_id") == video_id)
    if rows.height == 0:
        raise DataError(
            f"video_id {video_id!r} has no rows in the landmarks table (not extracted, "
            "unreadable or without any face)"
        )
    frame_numbers = rows["frame"].to_numpy().astype(np.int64)
    if np.unique(frame_numbers).size != frame_numbers.size:
        raise DataError(f"video_id {video_id!r} has duplicate frame numbers in the table")
    n_frames = int(frame_numbers.max()) + 1
    landmarks = np.full((n_frames, N_LANDMARKS, 3), np.nan, dtype=np.float32)
    found_mask = np.zeros(n_frames, dtype=bool)
    found_mask[frame_numbers] = rows["face_found"].to_numpy()
    present = rows["landmarks"].is_not_null().to_numpy()
    if present.any():
        landmarks[frame_numbers[present]] = rows.filter(pl.Series(present))["landmarks"].to_numpy()
    return landmarks, found_mask


__all__ = [
    "FACE_POLICIES",
    "LANDMARK_SCHEMA",
    "REQUIRED_COLUMNS",
    "FaceMeshExtractor",
    "VideoItem",
    "choose_face",
    "coordinate_columns",
    "extract_shard",
    "extract_videos",
    "import_landmarks",
    "landmarks_array",
    "read_landmark_csv",
    "read_landmarks",
    "read_video_records",
    "schema_metadata",
]

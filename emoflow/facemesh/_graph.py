"""The MediaPipe Face Mesh graph, called frame by frame, and the decoding of its faces.

MediaPipe is imported only when the first graph is built; without it, that import is a
:class:`~emoflow.errors.MissingDependencyError` giving the install command
(:func:`require_mediapipe` checks up front).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

from emoflow.errors import MissingDependencyError

MEDIAPIPE_REQUIREMENT = "mediapipe==0.10.21"
"""The MediaPipe release emoflow's Face Mesh runs on: the last whose wheel ships the models."""
MEDIAPIPE_INSTALL = (
    f"pip install --no-deps {MEDIAPIPE_REQUIREMENT} absl-py 'protobuf>=4.25,<5' attrs "
    "'flatbuffers>=2.0' opencv-python-headless"
)
"""The command that installs it (README, "Installation notes"): ``--no-deps``, as its metadata
pins numpy<2 and pulls jax and a second OpenCV, with the dependencies its Face Mesh needs."""

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


FLUSH_FRAME = np.zeros((32, 32, 3), dtype=np.uint8)
"""A frame without a face, processed between videos to end Face Mesh tracking."""


def mediapipe_version() -> str:
    """The installed MediaPipe version, ``"not installed"`` without it."""
    import importlib.metadata  # lazily: 10 ms that the light jobs importing facemesh skip

    try:
        return importlib.metadata.version("mediapipe")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _missing(module: str) -> MissingDependencyError:
    what = "is not installed" if module == "mediapipe" else f"cannot import {module!r}"
    return MissingDependencyError(
        f"MediaPipe Face Mesh (landmark extraction, the demo, predict, explain) needs "
        f"{MEDIAPIPE_REQUIREMENT}, and MediaPipe {what}: install it with "
        f"{MEDIAPIPE_INSTALL} (README, 'Installation notes')"
    )


def require_mediapipe() -> None:
    """Raise :class:`~emoflow.errors.MissingDependencyError`, whose message is the install
    command, when MediaPipe is not installed (checked without importing it)."""
    import importlib.util

    if importlib.util.find_spec("mediapipe") is None:
        raise _missing("mediapipe")


@contextmanager
def _mediapipe_imports() -> Iterator[None]:
    """Turn a module that MediaPipe (or MediaPipe itself) lacks into the install command."""
    try:
        yield
    except ModuleNotFoundError as err:
        raise _missing(err.name or "mediapipe") from err


def import_mediapipe(name: str) -> ModuleType:
    """Import the MediaPipe module ``name`` (e.g. ``mediapipe.python.solutions.face_detection``);
    without MediaPipe, a :class:`~emoflow.errors.MissingDependencyError` with the install
    command instead of a ``ModuleNotFoundError``."""
    import importlib

    with _mediapipe_imports():
        return importlib.import_module(name)


def model_description(refine_landmarks: bool) -> str:
    """The ``emoflow.model`` metadata value for the given Face Mesh setting."""
    return f"face_mesh refine_landmarks={refine_landmarks}"


def landmark_values(face: bytes) -> np.ndarray:
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
    landmark_pb2 = import_mediapipe("mediapipe.framework.formats.landmark_pb2")
    parsed = landmark_pb2.NormalizedLandmarkList.FromString(face)
    return np.array([(point.x, point.y, point.z) for point in parsed.landmark], dtype=np.float32)


class FaceMeshGraph:
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
        with _mediapipe_imports():
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

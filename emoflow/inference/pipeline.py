"""The one inference set-up that ``emoflow predict`` and ``emoflow explain`` share.

:class:`Pipeline` chooses and loads the models (:func:`model_paths`, :func:`load_models`),
derives the Face Mesh options they need (:func:`extraction_options`, then the face policy),
and, used as a context manager, holds the extractor and the several-faces check so that
:meth:`Pipeline.landmarks` gives one video's :class:`VideoLandmarks`.

Face policy: with ``several_faces`` other than ``"error"``, Face Mesh looks for
:data:`MAX_FACES_FOLLOWED` faces unless the models' stored options or the caller's extractor
options already say how many (``setdefault``), and follows one by the policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypedDict

from emoflow._outputs import refuse_overwriting_inputs
from emoflow.errors import ConfigError
from emoflow.inference.loading import (
    chosen_models,
    extraction_options,
    landmark_union,
    load_models,
)
from emoflow.inference.videos import FaceCounter, VideoLandmarks, extract_video, inspect_video
from emoflow.layout import ResultsLayout
from emoflow.schemes import DEFAULT_SCHEME
from emoflow.video import VideoItem

FACE_MODES = ("error", "largest", "central", "tracked")
"""``several_faces`` values: refuse videos showing several faces, or follow one by a policy."""
MAX_FACES_FOLLOWED = 4
"""Faces Face Mesh looks for when a face policy chooses among several."""


def check_face_mode(several_faces: str) -> None:
    """ConfigError unless ``several_faces`` is one of :data:`FACE_MODES`."""
    if several_faces not in FACE_MODES:
        raise ConfigError(
            f"several_faces must be one of {', '.join(FACE_MODES)}, got {several_faces!r}"
        )


class ModelOptions(TypedDict, total=False):
    """Keywords of :class:`Pipeline`, passed on as they are: which models (``results``,
    ``iteration``, ``models``), how the videos' landmarks are found (``fps``,
    ``refine_landmarks``, ``several_faces``) and the models' ``device``."""

    results: str | Path
    iteration: int | None
    models: Sequence[str | Path] | None
    fps: float | None
    refine_landmarks: bool | None
    several_faces: str
    device: str


class Pipeline:
    """Models, Face Mesh options and face checks for scoring or explaining videos.

    Parameters
    ----------
    results, iteration, models
        Which models (:func:`emoflow.inference.loading.model_paths`).
    refine_landmarks
        Face Mesh iris refinement; ``None``: as the models record, else on.
    several_faces
        One of :data:`FACE_MODES`.
    fps
        Resample videos to this frame rate before Face Mesh.
    device
        Torch device of the models.
    extractor_options
        More :class:`emoflow.landmarks.extract.FaceMeshExtractor` options (override the models').

    Raises
    ------
    EmoflowError
        Unknown face mode, unusable models or options (the file or key is named).
    """

    def __init__(
        self,
        *,
        results: str | Path = "results",
        iteration: int | None = None,
        models: Sequence[str | Path] | None = None,
        refine_landmarks: bool | None = None,
        several_faces: str = "error",
        fps: float | None = None,
        device: str = "cpu",
        extractor_options: dict[str, Any] | None = None,
    ) -> None:
        check_face_mode(several_faces)
        self.model_files, self.published = chosen_models(
            results, iteration=iteration, models=models
        )
        self.summary = (
            ResultsLayout(Path(results)).summary if not models and iteration is None else None
        )
        self.models = load_models(self.model_files, device=device, published=self.published)
        options = {**extraction_options(self.models, refine_landmarks), **(extractor_options or {})}
        if several_faces != "error":
            options.setdefault("max_num_faces", MAX_FACES_FOLLOWED)
            options["face_policy"] = several_faces
        # the FaceCounter checks the same frames before extraction (several_faces="error"),
        # or Face Mesh looks for several faces itself: no second count in the tracker
        options.setdefault("count_faces", False)
        # one video at a time, its decoding on as many threads as FFmpeg sees fit
        options.setdefault("decode_threads", 0)
        self.extractor_options = options
        self.results = results
        self.several_faces = several_faces
        self.fps = fps
        self.union = landmark_union(self.models)
        # the models' landmark scheme (one for all: extraction_options checks); a non-MediaPipe
        # scheme's points are taken from the MediaPipe landmarks (VideoLandmarks.in_scheme)
        self.scheme = self.models[0].scheme if self.models else DEFAULT_SCHEME
        self._extractor: Any = None
        self._counter: FaceCounter | None = None

    @property
    def inputs(self) -> list[Path]:
        """Files the pipeline reads: the model files and, when used, the run's summary."""
        return [*self.model_files, *([self.summary] if self.summary is not None else [])]

    def refuse_overwriting(
        self,
        outputs: Sequence[str | Path | None],
        sources: Sequence[VideoItem],
        named: Sequence[str | Path] = (),
    ) -> None:
        """InputError naming the first output that is an input: one of ``named`` (what the
        user gave), a video (or a file inside a frame folder), a model file or the summary."""
        refuse_overwriting_inputs(
            outputs,
            [*named, *(source.path for source in sources), *self.inputs],
            folders=[source.path for source in sources if Path(source.path).is_dir()],
        )

    def __enter__(self) -> Pipeline:
        from emoflow.landmarks.extract import FaceMeshExtractor

        self._counter = FaceCounter() if self.several_faces == "error" else None
        try:
            self._extractor = FaceMeshExtractor(**self.extractor_options)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the Face Mesh graphs and the face detector."""
        try:
            if self._extractor is not None:
                self._extractor.close()
                self._extractor = None
        finally:
            if self._counter is not None:
                self._counter.close()
                self._counter = None

    def landmarks(
        self, source: VideoItem, progress: Callable[[int, int | None], None] | None = None
    ) -> VideoLandmarks:
        """Check one video (:func:`inspect_video`) and run Face Mesh over it (``progress``:
        called after each frame, e.g. :meth:`emoflow._progress.Progress.frames`).

        Raises
        ------
        InputError, NoFaceError
            Unreadable video, frame size out of range, several faces, or no face.
        """
        if self._extractor is None:
            raise RuntimeError("use the pipeline as a context manager: with Pipeline(...) as p")
        inspect_video(source, fps=self.fps, faces=self._counter)
        video = extract_video(source, self._extractor, fps=self.fps, progress=progress)
        return video.in_scheme(self.scheme)


__all__ = ["FACE_MODES", "MAX_FACES_FOLLOWED", "ModelOptions", "Pipeline", "check_face_mode"]

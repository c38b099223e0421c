"""Apply trained emotion models to new videos: ``emoflow predict``.

The models of a workflow run (by default each emotion's *selected* iteration in
``results/summary.parquet``, or every model of one iteration) score one video, a folder of
videos, or the videos of a manifest. Each video goes through the same steps as in the
workflow: Face Mesh landmarks (:class:`emoflow.landmarks.FaceMeshExtractor`), normalisation
with each model's stored feature settings (:func:`emoflow.features.normalise_sequence`), and
the model's own landmark subset. The normalisation (centre, Procrustes alignment, inter-ocular
scale) is defined on the whole face, so it sees every landmark; only the union of the models'
landmark sets is kept as features, and each model takes its subset of that union.

Output: one row per video (or time window) and emotion, with the raw ``score`` (> 0 means
the emotion is present), the calibrated ``probability`` (null without calibration) and the
combined ``label`` — the emotion with the highest probability (highest score when a model has
no calibration), the same rule as the workflow's combined prediction. A video that cannot be
scored has one row with its ``error`` and no scores; the other videos are unaffected.

Input checks, each failing with the file named and the fix: frames smaller than
:data:`MIN_SIDE` or larger than :data:`MAX_SIDE` pixels are refused (downscale large videos
first: Face Mesh works on 192-pixel crops, so nothing is gained above 4K, and tiny frames
hold no usable face); several faces in a frame are refused unless a face policy is chosen;
a video without any face, or with too many face-less frames for the models' ``max_missing``,
is refused.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow._atomic import atomic_path
from emoflow._progress import Progress
from emoflow.errors import ConfigError, DataError, EmoflowError, InputError, NoFaceError
from emoflow.facemesh import N_LANDMARKS, N_MESH_LANDMARKS

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"}
)
"""File name endings (lower case) taken for videos when a folder is given."""
LIST_SUFFIXES = frozenset({".csv", ".tsv", ".tab"})
"""File name endings of a video list (CSV/TSV with a ``path`` column)."""
MIN_SIDE = 64
"""Smallest frame side (pixels) accepted: smaller frames cannot hold a face Face Mesh finds."""
MAX_SIDE = 4096
"""Largest frame side (pixels) accepted: larger frames cost memory and decoding time for
nothing (Face Mesh looks at 128- and 192-pixel crops); downscale them first."""
FACE_MODES = ("error", "largest", "central", "tracked")
"""``several_faces`` values: refuse videos showing several faces, or follow one by a policy."""
N_FACE_CHECKS = 3
"""Frames (first, middle, last) checked for several faces when ``several_faces="error"``."""
MAX_FACES_FOLLOWED = 4
"""Faces Face Mesh looks for when a face policy chooses among several."""
OUTPUT_SUFFIXES = (".csv", ".parquet")
"""Output formats, by file name ending."""
OUTPUT_SCHEMA = {
    "video_id": pl.String,
    "path": pl.String,
    "window": pl.Int32,
    "start_s": pl.Float64,
    "end_s": pl.Float64,
    "n_frames": pl.Int32,
    "emotion": pl.String,
    "score": pl.Float64,
    "probability": pl.Float64,
    "label": pl.String,
    "iteration": pl.Int32,
    "error": pl.String,
}
"""Columns of the prediction table (``true_emotion`` follows when the input has labels)."""
_TIME_EPSILON = 1e-9


# -- inputs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoSource:
    """One video to score.

    Attributes
    ----------
    video_id
        Id used in the output.
    path
        Video file or frame folder.
    start_s, end_s
        Time window in seconds (``None``: the whole video).
    true_emotion
        The label, when the input lists one (manifests, labelled CSVs).
    """

    video_id: str
    path: str
    start_s: float | None = None
    end_s: float | None = None
    true_emotion: str | None = None


def _natural_key(name: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)]


def _is_frame_folder(folder: Path) -> bool:
    from emoflow.video import frame_files

    return bool(frame_files(folder))


def _check_unique(sources: list[VideoSource], origin: str | Path, fix: str) -> list[VideoSource]:
    counts = Counter(source.video_id for source in sources)
    duplicates = sorted(video_id for video_id, count in counts.items() if count > 1)
    if duplicates:
        listed = ", ".join(duplicates[:5]) + (
            f" (and {len(duplicates) - 5} more)" if len(duplicates) > 5 else ""
        )
        raise InputError(origin, f"duplicate video_id(s) {listed}; {fix}")
    return sources


def _optional_float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _sources_from_table(table: pl.DataFrame, origin: Path, base: Path | None) -> list[VideoSource]:
    """Videos of a manifest or video list (``path`` column; optional id, times, label)."""
    if "path" not in table.columns:
        raise InputError(
            origin, f"lacks a 'path' column; found {', '.join(table.columns) or 'no columns'}"
        )
    label_column = next((name for name in ("emotion", "label") if name in table.columns), None)
    sources = []
    for line, row in enumerate(table.iter_rows(named=True), start=2):
        path = row["path"]
        if path is None or str(path).strip() == "":
            raise InputError(origin, f"empty 'path' on line {line}")
        path = str(path).strip()
        if base is not None and not Path(path).expanduser().is_absolute():
            path = str(base / Path(path).expanduser())
        video_id = row.get("video_id")
        if video_id is None or str(video_id).strip() == "":
            video_id = Path(path).stem
        try:
            start_s = _optional_float(row.get("start_s"))
            end_s = _optional_float(row.get("end_s"))
        except (TypeError, ValueError) as err:
            raise InputError(origin, f"start_s/end_s on line {line} are not seconds") from err
        label = row.get(label_column) if label_column else None
        sources.append(
            VideoSource(
                video_id=str(video_id).strip(),
                path=path,
                start_s=start_s,
                end_s=end_s,
                true_emotion=None if label is None else str(label),
            )
        )
    if not sources:
        raise InputError(origin, "lists no videos")
    return _check_unique(sources, origin, "give every row its own video_id")


def _read_video_list(path: Path) -> pl.DataFrame:
    separator = "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","
    try:
        table = pl.read_csv(path, separator=separator, infer_schema=False)
    except pl.exceptions.NoDataError as err:
        raise InputError(path, "video list is empty") from err
    except (pl.exceptions.PolarsError, UnicodeDecodeError, OSError) as err:
        raise InputError(path, f"cannot be read as a CSV/TSV video list ({err})") from err
    return table.rename({name: name.strip() for name in table.columns})


def find_videos(source: str | Path, *, video_id: str | None = None) -> list[VideoSource]:
    """The videos named by ``source``.

    Parameters
    ----------
    source
        A video file or frame folder (one video); a folder of video files and/or frame
        folders (each one video, in natural name order); a manifest (``.parquet``, e.g.
        ``results/manifest.parquet``); or a video list (``.csv``/``.tsv`` with a ``path``
        column, paths relative to the list, optional ``video_id``, ``start_s``, ``end_s``,
        ``label``).
    video_id
        Id of a single video (default: its file name without suffix).

    Raises
    ------
    InputError
        The source does not exist, a folder holds no video, a list lacks ``path``, or two
        videos share an id (the source is named).
    """
    path = Path(source)
    if not path.exists():
        raise InputError(path, "does not exist")
    if path.is_dir():
        if _is_frame_folder(path):
            return [VideoSource(video_id or path.name, str(path))]
        entries = sorted(path.iterdir(), key=lambda entry: _natural_key(entry.name))
        sources = [
            VideoSource(entry.stem if entry.is_file() else entry.name, str(entry))
            for entry in entries
            if not entry.name.startswith(".")
            and (
                (entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES)
                or (entry.is_dir() and _is_frame_folder(entry))
            )
        ]
        if not sources:
            raise InputError(
                path,
                "folder holds no video files "
                f"({', '.join(sorted(VIDEO_SUFFIXES))}), frame folders or image frames",
            )
        return _check_unique(
            sources, path, "rename the files so that their names differ before the suffix"
        )
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        from emoflow.manifest import read_manifest

        manifest = read_manifest(path, required_columns=("path",))
        return _sources_from_table(manifest, path, base=None)
    if suffix in LIST_SUFFIXES:
        return _sources_from_table(_read_video_list(path), path, base=path.parent)
    return [VideoSource(video_id or path.stem, str(path))]


# -- models ----------------------------------------------------------------------------------
@dataclass
class LoadedModel:
    """One emotion's model with what scoring needs from its metadata."""

    emotion: str
    path: Path
    model: Any
    metadata: dict[str, Any]
    landmarks: np.ndarray
    settings: Any  # emoflow.features.FeatureSettings
    iteration: int | None
    calibrator: Any = None  # emoflow.models.PlattCalibrator

    def probabilities(self, scores: np.ndarray) -> np.ndarray | None:
        """Calibrated probabilities, ``None`` without a calibrator."""
        return None if self.calibrator is None else self.calibrator.predict_proba(scores)


def _iterations_in(results: Path) -> list[int]:
    found = []
    for entry in results.glob("iter_*"):
        suffix = entry.name.removeprefix("iter_")
        if entry.is_dir() and suffix.isdigit():
            found.append(int(suffix))
    return sorted(found)


def model_paths(
    results: str | Path = "results",
    *,
    iteration: int | None = None,
    models: Sequence[str | Path] | None = None,
) -> list[Path]:
    """The model files to apply.

    Parameters
    ----------
    results
        A workflow results folder.
    iteration
        Take every model of ``results/iter_{iteration}/models``; ``None`` takes each
        emotion's selected iteration from ``results/summary.parquet``.
    models
        Model files or folders of them; overrides ``results`` and ``iteration``.

    Raises
    ------
    InputError
        A file or folder is missing, or the summary cannot be used; it is named.
    """
    if models:
        paths: list[Path] = []
        for entry in models:
            entry_path = Path(entry)
            if entry_path.is_dir():
                found = sorted(entry_path.glob("*.pt"))
                if not found:
                    raise InputError(entry_path, "folder holds no model file (*.pt)")
                paths.extend(found)
            elif entry_path.is_file():
                paths.append(entry_path)
            else:
                raise InputError(entry_path, "model file does not exist")
        return paths
    results_path = Path(results)
    if not results_path.is_dir():
        raise InputError(results_path, "results folder does not exist; give the workflow's")
    if iteration is not None:
        folder = results_path / f"iter_{iteration}" / "models"
        found = sorted(folder.glob("*.pt")) if folder.is_dir() else []
        if not found:
            present = ", ".join(map(str, _iterations_in(results_path))) or "none"
            raise InputError(
                folder, f"holds no model file (*.pt); iterations in {results_path}: {present}"
            )
        return found
    summary_path = results_path / "summary.parquet"
    if not summary_path.is_file():
        raise InputError(
            summary_path,
            "does not exist: run the workflow up to the summary, or choose an iteration "
            "(--iteration N)",
        )
    try:
        summary = pl.read_parquet(summary_path)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise InputError(summary_path, f"not a readable Parquet file ({err})") from err
    missing = [name for name in ("emotion", "iteration", "selected") if name not in summary.columns]
    if missing:
        raise InputError(summary_path, f"lacks column(s) {', '.join(missing)}")
    selected = summary.filter(pl.col("selected")).sort("emotion")
    emotions = sorted(summary["emotion"].unique().to_list())
    unselected = sorted(set(emotions) - set(selected["emotion"].to_list()))
    if unselected:
        raise InputError(summary_path, f"no selected iteration for emotion(s) {unselected}")
    doubled = selected.group_by("emotion").len().filter(pl.col("len") > 1)["emotion"].to_list()
    if doubled:
        raise InputError(summary_path, f"several selected iterations for {sorted(doubled)}")
    paths = []
    for row in selected.iter_rows(named=True):
        path = results_path / f"iter_{row['iteration']}" / "models" / f"{row['emotion']}.pt"
        if not path.is_file():
            raise InputError(path, "model of the selected iteration is missing; rerun the workflow")
        paths.append(path)
    return paths


def _checked_model(path: Path, model: Any, metadata: dict[str, Any]) -> LoadedModel:
    """Check a model's metadata against its weights; raise InputError naming the file."""
    from emoflow.features import FeatureSettings
    from emoflow.models import PlattCalibrator

    raw_landmarks = metadata.get("landmarks")
    if not isinstance(raw_landmarks, list) or not raw_landmarks:
        raise InputError(path, "model metadata lacks its landmark ids; retrain the model")
    try:
        landmarks = np.asarray(raw_landmarks, dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise InputError(path, f"model landmark ids are not whole numbers ({err})") from err
    if landmarks.ndim != 1 or len(np.unique(landmarks)) != len(landmarks):
        raise InputError(path, "model landmark ids repeat an id; retrain the model")
    outside = landmarks[(landmarks < 0) | (landmarks >= N_LANDMARKS)]
    if len(outside):
        raise InputError(
            path,
            f"model landmark ids {outside[:5].tolist()} lie outside the {N_LANDMARKS} Face Mesh "
            "landmarks (0 … 477): the model was not trained on emoflow features",
        )
    raw_settings = metadata.get("feature_settings")
    if not isinstance(raw_settings, dict):
        raise InputError(path, "model metadata lacks its feature settings; retrain the model")
    try:
        settings = FeatureSettings(**raw_settings)
    except (TypeError, EmoflowError) as err:
        raise InputError(
            path,
            f"feature settings {raw_settings} are not understood by this emoflow ({err}); "
            "retrain the model with this emoflow",
        ) from err
    input_shape = tuple(getattr(model, "input_shape_", None) or ())
    expected = (settings.n_frames, len(landmarks), 3)
    if input_shape != expected:
        raise InputError(
            path,
            f"landmark set does not match the model: metadata lists {len(landmarks)} landmarks "
            f"and {settings.n_frames} frames, so features of shape {expected}, but the weights "
            f"take {input_shape}; the file is inconsistent, retrain the model",
        )
    calibration = metadata.get("calibration")
    calibrator = None
    if isinstance(calibration, dict) and calibration.get("method") == "platt":
        try:
            calibrator = PlattCalibrator.from_dict(calibration)
        except (KeyError, TypeError, ValueError, EmoflowError) as err:
            raise InputError(path, f"model calibration record is broken ({err})") from err
    iteration = metadata.get("iteration")
    return LoadedModel(
        emotion=str(metadata.get("emotion") or path.stem),
        path=path,
        model=model,
        metadata=metadata,
        landmarks=landmarks,
        settings=settings,
        iteration=int(iteration) if isinstance(iteration, int) else None,
        calibrator=calibrator,
    )


def load_models(paths: Sequence[str | Path], *, device: str = "cpu") -> list[LoadedModel]:
    """Load and check model files (see :func:`emoflow.models.load_model`), one per emotion.

    Raises
    ------
    InputError
        A file is unreadable, of another emoflow model format, or its landmark set, feature
        settings and weights disagree; or two files hold the same emotion.
    """
    from emoflow import __version__
    from emoflow.models import load_model

    loaded: list[LoadedModel] = []
    for path in paths:
        model, metadata = load_model(path, device=device)
        checked = _checked_model(Path(path), model, metadata)
        version = metadata.get("emoflow_version")
        if version and version != __version__:
            log.warning("%s was written by emoflow %s, this is %s", path, version, __version__)
        loaded.append(checked)
    if not loaded:
        raise InputError(", ".join(map(str, paths)) or "(none)", "no model to apply")
    by_emotion: dict[str, list[str]] = {}
    for item in loaded:
        by_emotion.setdefault(item.emotion, []).append(str(item.path))
    doubled = {emotion: files for emotion, files in by_emotion.items() if len(files) > 1}
    if doubled:
        emotion, files = next(iter(doubled.items()))
        raise InputError(files[1], f"holds emotion {emotion!r} like {files[0]}; give one each")
    return sorted(loaded, key=lambda item: item.emotion)


def landmark_union(models: Sequence[LoadedModel]) -> np.ndarray:
    """Sorted union of the models' landmark ids: the landmarks kept as features."""
    return np.unique(np.concatenate([model.landmarks for model in models]))


def extraction_options(models: Sequence[LoadedModel], refine_landmarks: bool | None) -> dict:
    """Face Mesh options for the models: stored ``landmark_options`` when every model has the
    same, then ``refine_landmarks`` (default: iris points on, as in the workflow's default).

    Raises
    ------
    ConfigError
        ``refine_landmarks=False`` but a model uses iris landmarks (468 … 477).
    """
    stored = {json.dumps(m.metadata.get("landmark_options"), sort_keys=True) for m in models}
    options: dict[str, Any] = {}
    if len(stored) == 1:
        options = dict(json.loads(stored.pop()) or {})
    if refine_landmarks is not None:
        options["refine_landmarks"] = refine_landmarks
    options.setdefault("refine_landmarks", True)
    if not options["refine_landmarks"]:
        for model in models:
            iris = model.landmarks[model.landmarks >= N_MESH_LANDMARKS]
            if len(iris):
                raise ConfigError(
                    f"{model.path}: the model uses iris landmarks {iris[:5].tolist()}, which "
                    "Face Mesh gives only with refine_landmarks (drop --no-refine)"
                )
    return options


# -- videos ----------------------------------------------------------------------------------
def check_resolution(path: str | Path, width: int, height: int) -> None:
    """Refuse frames outside :data:`MIN_SIDE` … :data:`MAX_SIDE` pixels per side.

    Raises
    ------
    InputError
        Naming the file, its size and what to do.
    """
    if max(width, height) > MAX_SIDE:
        raise InputError(
            path,
            f"frames are {width}x{height} pixels, larger than the {MAX_SIDE} pixels per side "
            "emoflow accepts; downscale the video first, e.g. "
            "ffmpeg -i IN -vf scale=1920:-2 OUT.mp4 (landmarks do not depend on the frame size)",
        )
    if min(width, height) < MIN_SIDE:
        raise InputError(
            path,
            f"frames are {width}x{height} pixels, smaller than the {MIN_SIDE} pixels per side "
            "emoflow accepts: no face can be found at this size; use the original recording "
            "(the face should span at least about 100 pixels)",
        )


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
            from mediapipe.python.solutions import face_detection

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
    source: VideoSource,
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
    """One video's Face Mesh landmarks, frames in order."""

    source: VideoSource
    landmarks: np.ndarray  # (n_frames, 478, 3), NaN without a face
    found: np.ndarray  # (n_frames,) bool
    timestamps: np.ndarray  # (n_frames,) seconds
    width: int
    height: int
    fps: float
    n_faces: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def end_s(self) -> float:
        """End of the last frame, seconds."""
        return float(self.timestamps[-1] + 1.0 / self.fps) if len(self.timestamps) else 0.0


def extract_video(
    source: VideoSource, extractor: Any, *, fps: float | None = None
) -> VideoLandmarks:
    """Run Face Mesh over one video (:meth:`FaceMeshExtractor.extract_with_record`).

    Raises
    ------
    InputError, NoFaceError
        The video cannot be decoded, or no frame shows a face.
    """
    from emoflow.landmarks import landmarks_array

    table, record = extractor.extract_with_record(
        source.path, source.video_id, fps=fps, start_s=source.start_s, end_s=source.end_s
    )
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


def time_windows(
    timestamps: np.ndarray, end_s: float, window_s: float | None, hop_s: float | None
) -> list[tuple[float, float]]:
    """``[start, end)`` windows over a video's frames.

    Without ``window_s`` one window covers the video. Otherwise windows of ``window_s``
    seconds start every ``hop_s`` seconds (default ``window_s``) from the first frame; when
    they leave a tail uncovered, one more window ends at the video's end. A video shorter
    than ``window_s`` gives one window over all of it.
    """
    start = float(timestamps[0]) if len(timestamps) else 0.0
    if window_s is None:
        return [(start, end_s)]
    if not (math.isfinite(window_s) and window_s > 0):
        raise ConfigError(f"window_s must be a positive number of seconds, got {window_s!r}")
    hop = window_s if hop_s is None else hop_s
    if not (math.isfinite(hop) and hop > 0):
        raise ConfigError(f"hop_s must be a positive number of seconds, got {hop_s!r}")
    if end_s - start <= window_s + _TIME_EPSILON:
        return [(start, end_s)]
    windows = []
    begin = start
    while begin + window_s <= end_s + _TIME_EPSILON:
        windows.append((begin, begin + window_s))
        begin = start + len(windows) * hop
    if windows[-1][1] < end_s - _TIME_EPSILON:
        windows.append((end_s - window_s, end_s))
    return windows


def window_features(
    video: VideoLandmarks,
    mask: np.ndarray,
    settings: Any,
    union: np.ndarray,
) -> np.ndarray:
    """The feature sample ``(n_frames, len(union), 3)`` of the frames in ``mask``.

    Raises
    ------
    DataError
        Too few frames, or too many without a face for ``settings.max_missing``.
    """
    from emoflow.features import normalise_sequence

    n_frames = int(mask.sum())
    if n_frames < 2:
        raise DataError(f"{n_frames} frame(s) in the window; a sample needs at least 2")
    found = video.found[mask]
    missing = 1.0 - float(found.mean())
    if not found.any() or missing > settings.max_missing:
        raise DataError(
            f"{missing:.0%} of the {n_frames} frames show no face; the models accept at most "
            f"{settings.max_missing:.0%} (feature setting max_missing)"
        )
    sample = normalise_sequence(
        video.landmarks[mask], found, settings, width=video.width, height=video.height
    )
    return sample[:, union, :]


def score_windows(
    video: VideoLandmarks,
    models: Sequence[LoadedModel],
    windows: Sequence[tuple[float, float]],
) -> list[dict[str, Any]]:
    """Score every window of a video with every model; rows of the prediction table."""
    union = landmark_union(models)
    position = {int(landmark): index for index, landmark in enumerate(union)}
    columns = {m.emotion: np.array([position[int(i)] for i in m.landmarks]) for m in models}
    groups: dict[Any, list[LoadedModel]] = {}
    for model in models:
        groups.setdefault(model.settings, []).append(model)
    rows: list[dict[str, Any]] = []
    base = {"video_id": video.source.video_id, "path": video.source.path}
    for index, (start, end) in enumerate(windows):
        mask = (video.timestamps >= start - _TIME_EPSILON) & (
            video.timestamps < end - _TIME_EPSILON
        )
        window = {
            **base,
            "window": index,
            "start_s": start,
            "end_s": end,
            "n_frames": int(mask.sum()),
        }
        try:
            scored: dict[str, tuple[float, float | None, int | None]] = {}
            for settings, members in groups.items():
                sample = window_features(video, mask, settings, union)
                for model in members:
                    inputs = sample[None, :, columns[model.emotion], :]
                    score = float(model.model.decision_function(inputs)[0])
                    calibrated_score = model.probabilities(np.array([score]))
                    scored[model.emotion] = (
                        score,
                        None if calibrated_score is None else float(calibrated_score[0]),
                        model.iteration,
                    )
        except DataError as err:
            rows.append({**window, "error": f"{video.source.path}: {err}"})
            continue
        probabilities = {e: v[1] for e, v in scored.items() if v[1] is not None}
        calibrated = len(probabilities) == len(scored)
        ranking = probabilities if calibrated else {e: v[0] for e, v in scored.items()}
        label = max(sorted(ranking), key=lambda emotion: ranking[emotion])
        for emotion in sorted(scored):
            score, chance, iteration = scored[emotion]
            rows.append(
                {
                    **window,
                    "emotion": emotion,
                    "score": score,
                    "probability": chance,
                    "label": label,
                    "iteration": iteration,
                }
            )
    return rows


def output_format(out_path: str | Path) -> str:
    """``csv`` or ``parquet`` by the file name ending; ConfigError naming the file otherwise."""
    suffix = Path(out_path).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ConfigError(
            f"{out_path}: the output must end in {' or '.join(OUTPUT_SUFFIXES)} "
            "(CSV or Parquet table)"
        )
    return suffix.lstrip(".")


def write_table(table: pl.DataFrame, out_path: str | Path) -> None:
    """Write a table as CSV or Parquet (by the file name ending), atomically."""
    kind = output_format(out_path)
    with atomic_path(out_path) as staged:
        if kind == "csv":
            table.write_csv(staged)
        else:
            table.write_parquet(staged)


def _names_one_video(path: Path) -> bool:
    """Whether ``path`` is one video (a file or frame folder), not a folder or list of them."""
    if path.is_dir():
        return _is_frame_folder(path)
    return path.suffix.lower() not in {".parquet", *LIST_SUFFIXES}


def _error_row(source: VideoSource, message: str) -> dict[str, Any]:
    return {"video_id": source.video_id, "path": source.path, "error": message}


def predict(
    source: str | Path | Sequence[VideoSource],
    out_path: str | Path | None = None,
    *,
    results: str | Path = "results",
    iteration: int | None = None,
    models: Sequence[str | Path] | None = None,
    window_s: float | None = None,
    hop_s: float | None = None,
    fps: float | None = None,
    refine_landmarks: bool | None = None,
    several_faces: str = "error",
    strict: bool | None = None,
    device: str = "cpu",
    progress: bool | None = None,
    **extractor_options: Any,
) -> pl.DataFrame:
    """Score videos with trained models; write the table if ``out_path`` is given.

    Parameters
    ----------
    source
        What :func:`find_videos` accepts, or a list of :class:`VideoSource`.
    out_path
        ``.csv`` or ``.parquet`` file, written atomically.
    results, iteration, models
        Which models (:func:`model_paths`).
    window_s, hop_s
        Score windows of ``window_s`` seconds every ``hop_s`` seconds (see
        :func:`time_windows`); ``None`` scores each video whole.
    fps
        Resample videos to this frame rate before Face Mesh (as ``landmarks.fps`` in the
        workflow; use the run's value).
    refine_landmarks
        Face Mesh iris refinement; ``None``: as the models record, else on (the default of
        the workflow).
    several_faces
        ``error`` refuses a video whose first, middle or last frame shows several faces;
        ``largest``, ``central`` or ``tracked`` follows one face by that policy.
    strict
        Raise on the first video that cannot be scored; ``None``: strict for a single video,
        otherwise the video's row records the error and the others go on.
    device
        Torch device of the models (``cpu`` gives reproducible scores).
    progress
        Progress bar on stderr; ``None``: only when stderr is a terminal.
    **extractor_options
        More :class:`emoflow.landmarks.FaceMeshExtractor` options.

    Returns
    -------
    polars.DataFrame
        :data:`OUTPUT_SCHEMA` columns (plus ``true_emotion`` when the input has labels).

    Raises
    ------
    EmoflowError
        Unusable models or options; with ``strict``, the first video that fails.
    """
    from emoflow.landmarks import FaceMeshExtractor

    if out_path is not None:
        output_format(out_path)
    if several_faces not in FACE_MODES:
        raise ConfigError(
            f"several_faces must be one of {', '.join(FACE_MODES)}, got {several_faces!r}"
        )
    time_windows(np.zeros(1), 1.0, window_s, hop_s)  # checks the window options early
    if isinstance(source, str | Path):
        sources = find_videos(source)
        single = _names_one_video(Path(source))
    else:
        sources = _check_unique(list(source), "the video list", "give each video its own id")
        single = len(sources) == 1
    strict = single if strict is None else strict
    loaded = load_models(model_paths(results, iteration=iteration, models=models), device=device)
    options = {**extraction_options(loaded, refine_landmarks), **extractor_options}
    if several_faces != "error":
        options.setdefault("max_num_faces", MAX_FACES_FOLLOWED)
        options["face_policy"] = several_faces
    union = landmark_union(loaded)
    log.info(
        "%d models (%s), %d of %d landmarks as features; %d video(s)",
        len(loaded),
        ", ".join(f"{m.emotion}: iteration {m.iteration}" for m in loaded),
        len(union),
        N_LANDMARKS,
        len(sources),
    )
    rows: list[dict[str, Any]] = []
    labels = {s.video_id: s.true_emotion for s in sources if s.true_emotion is not None}
    counter = FaceCounter() if several_faces == "error" else None
    n_failed = 0
    try:
        with (
            FaceMeshExtractor(**options) as extractor,
            Progress(len(sources), enabled=progress) as bar,
        ):
            for item in sources:
                bar.start(item.video_id)
                n_frames = 0
                try:
                    inspect_video(item, fps=fps, faces=counter)
                    video = extract_video(item, extractor, fps=fps)
                    n_frames = len(video.found)
                    windows = time_windows(video.timestamps, video.end_s, window_s, hop_s)
                    video_rows = score_windows(video, loaded, windows)
                except EmoflowError as err:
                    if strict:
                        raise
                    video_rows = [_error_row(item, str(err))]
                except Exception as err:  # a decoder or MediaPipe failure on one video
                    if strict:
                        raise
                    log.exception("unexpected failure on %s", item.path)
                    video_rows = [_error_row(item, f"{item.path}: {type(err).__name__}: {err}")]
                failed = [row["error"] for row in video_rows if row.get("error")]
                if failed:
                    n_failed += 1
                    for message in dict.fromkeys(failed):
                        log.warning("not scored: %s", message)
                    if strict:
                        raise InputError(item.path, failed[0].removeprefix(f"{item.path}: "))
                rows.extend(video_rows)
                bar.advance(1, n_frames)
    finally:
        if counter is not None:
            counter.close()
    table = pl.DataFrame(rows, schema=OUTPUT_SCHEMA)
    if labels:
        table = table.with_columns(
            pl.col("video_id").replace_strict(labels, default=None).alias("true_emotion")
        )
    if n_failed:
        log.warning(
            "%d of %d videos could not be scored (see the error column)", n_failed, len(sources)
        )
    if out_path is not None:
        write_table(table, out_path)
        log.info("wrote %s: %d rows", out_path, table.height)
    return table


__all__ = [
    "FACE_MODES",
    "MAX_SIDE",
    "MIN_SIDE",
    "OUTPUT_SCHEMA",
    "FaceCounter",
    "LoadedModel",
    "VideoLandmarks",
    "VideoSource",
    "check_resolution",
    "extract_video",
    "find_videos",
    "frame_size",
    "inspect_video",
    "landmark_union",
    "load_models",
    "model_paths",
    "output_format",
    "predict",
    "score_windows",
    "time_windows",
    "window_features",
    "write_table",
]

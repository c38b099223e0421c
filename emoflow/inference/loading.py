"""The models to apply: which files (:func:`model_paths`), loaded and checked (:func:`load_models`).

This is the one way inference loads models: each file through
:func:`emoflow.models.load_model`, then its metadata (landmark ids, feature settings,
calibration) checked against its weights, so that a broken or foreign file is refused with
its name before a video is decoded.

A results folder's models are those its last finished run published
(:mod:`emoflow.published`): the selected iterations come from that record, and every model
file is read once and checked against the digest the run published before it is loaded, so
a run rewriting the folder meanwhile gives a clear "results are being rewritten" error,
never models of two runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emoflow.errors import ConfigError, EmoflowError, InputError
from emoflow.facemesh.mesh import N_MESH_LANDMARKS
from emoflow.layout import ResultsLayout
from emoflow.published import PublishedRun, check_not_busy, read_published, record_covering
from emoflow.schemes import DEFAULT_SCHEME, get_scheme
from emoflow.storage.summary import selected_iterations

log = logging.getLogger(__name__)


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
    calibrator: Any = None  # emoflow.models.calibration.PlattCalibrator
    trained_on: str | None = None  # see trained_on()
    scheme: str = DEFAULT_SCHEME  # the landmark scheme of ``landmarks`` (emoflow.schemes)

    def probabilities(self, scores: np.ndarray) -> np.ndarray | None:
        """Calibrated probabilities, ``None`` without a calibrator."""
        return None if self.calibrator is None else self.calibrator.predict_proba(scores)

    def score(self, inputs: np.ndarray) -> tuple[float, float | None]:
        """Raw score and calibrated probability (``None`` without calibration) of one sample,
        ``inputs`` of shape ``(1, n_frames, len(self.landmarks), 3)``."""
        score = float(self.model.decision_function(inputs)[0])
        probability = self.probabilities(np.array([score]))
        return score, None if probability is None else float(probability[0])


class ModelFiles(list[Path]):
    """The model files chosen (a list of paths), with the published record they were chosen
    by (``published``; ``None`` without one), which :func:`load_models` checks them against:
    a record published meanwhile by another run cannot pair this selection with its files."""

    published: PublishedRun | None = None


def model_paths(
    results: str | Path = "results",
    *,
    iteration: int | None = None,
    models: Sequence[str | Path] | None = None,
) -> ModelFiles:
    """The model files to apply (see :func:`chosen_models`), as a :class:`ModelFiles`."""
    paths, published = chosen_models(results, iteration=iteration, models=models)
    files = ModelFiles(paths)
    files.published = published
    return files


def chosen_models(
    results: str | Path = "results",
    *,
    iteration: int | None = None,
    models: Sequence[str | Path] | None = None,
) -> tuple[list[Path], PublishedRun | None]:
    """The model files to apply, and the published record they are checked against.

    Parameters
    ----------
    results
        A workflow results folder (:class:`~emoflow.layout.ResultsLayout`).
    iteration
        Take every model of that iteration; ``None`` takes each emotion's selected iteration,
        from the record the run published (:mod:`emoflow.published`), or, in results of an
        earlier emoflow, from the run's summary
        (:func:`emoflow.storage.summary.selected_iterations`).
    models
        Model files or folders of them; overrides ``results`` and ``iteration`` (files inside
        a published results folder are still checked against its record).

    Raises
    ------
    InputError
        A file or folder is missing, or the summary cannot be used; it is named.
    ResultsChangedError
        A run is rewriting the results folder.
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
        return paths, None
    layout = ResultsLayout(Path(results))
    if not layout.root.is_dir():
        raise InputError(
            layout.root,
            "results folder does not exist; give the workflow's results folder with --results "
            "(or model files with --models)",
        )
    published = read_published(layout.root)
    if published is None:
        check_not_busy(layout.root)
    if iteration is not None:
        folder = layout.iteration(iteration)
        if published is not None:
            prefix = f"iter_{iteration}/"
            found = [
                layout.root / name
                for name in published.files
                if name.startswith(prefix) and name.endswith("/model.pt")
            ]
        else:
            found = layout.model_files(iteration)
        if not found:
            present = ", ".join(map(str, layout.iterations())) or "none"
            raise InputError(
                folder, f"holds no model file (*/model.pt); iterations in {layout.root}: {present}"
            )
        return sorted(found), published
    selected = published.selected if published is not None else selected_iterations(layout.summary)
    paths = []
    for emotion, chosen in selected.items():
        path = layout.model(chosen, emotion)
        if published is None and not path.is_file():
            layout.refuse_earlier_shape(chosen)
            raise InputError(path, "model of the selected iteration is missing; rerun the workflow")
        paths.append(path)
    return paths, published


SYNTHETIC_NOTE = (
    "trained on the synthetic demo (rendered faces, not recordings of people): the scores "
    "show that the pipeline runs, not how well real faces are read"
)
"""What the command line says of models trained on the synthetic demo."""
RUN_DEPTH = 3
"""Folders above a model file searched for its run's ``provenance.json``
(``results/iter_i/{emotion}/model.pt``)."""


def trained_on(model_path: str | Path) -> str | None:
    """What a model was trained on, from the provenance record of the run it belongs to:
    ``"synthetic demo"`` for a synthetic data set (:attr:`DatasetAdapter.synthetic`), else
    the data-set adapter's name (``ravdess``, ``csv``, …); ``None`` when unknown (no record
    within :data:`RUN_DEPTH` folders above the file: results of an older emoflow, or a model
    file copied out of its run)."""
    from emoflow.datasets import ADAPTERS
    from emoflow.provenance import read_dataset

    for folder in Path(model_path).absolute().parents[:RUN_DEPTH]:
        record = ResultsLayout(folder).provenance
        if not record.is_file():
            continue
        dataset = read_dataset(record)
        adapter = dataset.get("adapter") if dataset else None
        if not isinstance(adapter, str):
            return None
        known = ADAPTERS.get(adapter)
        return "synthetic demo" if known is not None and known.synthetic else adapter
    return None


def _checked_model(path: Path, model: Any, metadata: dict[str, Any]) -> LoadedModel:
    """Check a model's metadata against its weights; raise InputError naming the file."""
    from emoflow.models.calibration import PlattCalibrator
    from emoflow.models.files import model_inputs

    landmarks, settings, scheme = model_inputs(path, model, metadata)
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
        trained_on=trained_on(path),
        scheme=scheme.name,
    )


def load_models(
    paths: Sequence[str | Path],
    *,
    device: str = "cpu",
    published: PublishedRun | None = None,
) -> list[LoadedModel]:
    """Load and check model files (see :func:`emoflow.models.load_model`), one per emotion.

    Each file inside a results folder that a finished run published is read once and checked
    against the record (``published``, the one :func:`chosen_models` chose the files by, or
    that :func:`model_paths` gives with them; else the record of the folder the file lies in,
    read once per folder) before it is loaded.

    Raises
    ------
    InputError
        A file is unreadable, of another emoflow model format, or its landmark set, feature
        settings and weights disagree; or two files hold the same emotion.
    ResultsChangedError
        A file differs from what its run published: a run is rewriting the folder.
    """
    from emoflow import __version__
    from emoflow.models import load_model

    records: dict[Path, PublishedRun | None] = {}
    published = published or getattr(paths, "published", None)
    if published is not None:
        records[published.root.resolve()] = published
    loaded: list[LoadedModel] = []
    for path in paths:
        record = record_covering(path, records, depth=RUN_DEPTH)
        data = record.read(path) if record is not None else None
        model, metadata = load_model(path, device=device, data=data)
        checked = _checked_model(Path(path), model, metadata)
        version = metadata.get("emoflow_version")
        if version and version != __version__:
            log.warning("%s was written by emoflow %s, this is %s", path, version, __version__)
        loaded.append(checked)
    if not loaded:
        raise InputError(", ".join(map(str, paths)) or "(none)", "no model to apply")
    synthetic = [item.emotion for item in loaded if item.trained_on == "synthetic demo"]
    if synthetic:
        log.warning("the models (%s) were %s", ", ".join(sorted(synthetic)), SYNTHETIC_NOTE)
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
    schemes = sorted({model.scheme for model in models})
    if len(schemes) > 1:
        raise ConfigError(
            f"the models were trained on landmarks of different schemes ({', '.join(schemes)}); "
            "apply models of one scheme at a time"
        )
    scheme = get_scheme(schemes[0]) if schemes else get_scheme(None)
    if scheme.approximated_by_face_mesh:
        log.warning(
            "the models were trained on %s landmarks; videos are tracked with MediaPipe Face "
            "Mesh and its landmark nearest to each %s point stands in for it, which another "
            "tracker (OpenFace, dlib) places only approximately there (the jaw line most of all)",
            scheme.name,
            scheme.name,
        )
    if not options["refine_landmarks"]:
        for model in models:
            iris = model.landmarks[model.landmarks >= N_MESH_LANDMARKS]
            if len(iris):
                raise ConfigError(
                    f"{model.path}: the model uses iris landmarks {iris[:5].tolist()}, which "
                    "Face Mesh gives only with refine_landmarks (drop --no-refine)"
                )
    return options


__all__ = [
    "SYNTHETIC_NOTE",
    "LoadedModel",
    "ModelFiles",
    "chosen_models",
    "extraction_options",
    "landmark_union",
    "load_models",
    "model_paths",
    "trained_on",
]

"""Models from model files: :func:`load_model` builds the model a file holds (the file format,
its writer and its checks are :mod:`emoflow.storage.model_file`), :func:`model_inputs` checks
what a loaded model scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emoflow.errors import EmoflowError, InputError
from emoflow.features import FeatureSettings
from emoflow.models._inputs import resolve_device
from emoflow.models.kinds import MODEL_KINDS, make_settings, model_class
from emoflow.schemes import LandmarkScheme, get_scheme
from emoflow.storage.model_file import load_weights, read_model_record


def load_model(
    path: str | Path, *, device: str = "auto", data: bytes | None = None
) -> tuple[Any, dict[str, Any]]:
    """Reload a model written by :func:`~emoflow.storage.model_file.save_model`; returns the
    model and its metadata.

    The model is in evaluation mode on ``device``. Its metadata holds at least
    ``emoflow_version`` and ``kind``, plus what
    :func:`~emoflow.storage.model_file.save_model` was given. ``data``, when
    given, is the file's content already read (and checked) by the caller: the model is loaded
    from those bytes, ``path`` only names it in messages.

    Raises
    ------
    InputError
        The file is missing, unreadable, damaged (its content hash does not match), of
        another format version or inconsistent, or the random layers redrawn from its seed do
        not reproduce the model's.
    """
    record = read_model_record(path, data=data)
    kind = record.get("kind")
    if not isinstance(kind, str) or kind not in MODEL_KINDS:
        raise InputError(path, f"unknown model kind {kind!r}")
    target = resolve_device(device)
    try:
        settings = make_settings(kind, record["settings"])
        model = model_class(kind)(settings, device=device)
        model._build(tuple(record["input_shape"]), target)
        load_weights(model, record, path)
    except InputError:
        raise
    except (EmoflowError, KeyError, RuntimeError, TypeError) as err:
        raise InputError(path, f"model file does not match its settings ({err})") from err
    model.to(target)
    model.eval()
    metadata = {
        "emoflow_version": record.get("emoflow_version"),
        "kind": kind,
        **dict(record["metadata"]),
    }
    return model, metadata


def model_inputs(
    path: str | Path, model: Any, metadata: dict[str, Any]
) -> tuple[np.ndarray, FeatureSettings, LandmarkScheme]:
    """What a loaded model (:func:`load_model`) scores, checked: its landmark ids (an int64
    array), :class:`~emoflow.features.FeatureSettings` and landmark scheme
    (:class:`~emoflow.schemes.LandmarkScheme`); an :class:`InputError` naming the file where the
    metadata lacks them, does not parse, or disagrees with the weights."""
    raw_landmarks = metadata.get("landmarks")
    if not isinstance(raw_landmarks, list) or not raw_landmarks:
        raise InputError(path, "model metadata lacks its landmark ids; retrain the model")
    try:
        landmarks = np.asarray(raw_landmarks, dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise InputError(path, f"model landmark ids are not whole numbers ({err})") from err
    if landmarks.ndim != 1 or len(np.unique(landmarks)) != len(landmarks):
        raise InputError(path, "model landmark ids repeat an id; retrain the model")
    try:
        scheme = get_scheme(metadata.get("scheme"))
    except EmoflowError as err:
        raise InputError(path, str(err)) from err
    outside = landmarks[(landmarks < 0) | (landmarks >= scheme.n_points)]
    if len(outside):
        raise InputError(
            path,
            f"model landmark ids {outside[:5].tolist()} lie outside the {scheme.n_points} "
            f"landmarks of its scheme {scheme.name} (0 … {scheme.n_points - 1}): the model "
            "was not trained on emoflow features",
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
    return landmarks, settings, scheme

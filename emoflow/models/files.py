"""The model-file format: the only code that writes or reads emoflow's ``.pt`` files.

A file holds one fitted binary model: its kind, settings, sample shape, weights
(``state_dict``) and a metadata record (emotion, landmark ids, feature settings, calibration,
…), written atomically by :func:`save_model` and checked by :func:`load_model`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from emoflow import __version__
from emoflow._atomic import atomic_path
from emoflow.errors import DataError, EmoflowError, InputError
from emoflow.models._base import BaseModel
from emoflow.models._inputs import resolve_device
from emoflow.models.kinds import MODEL_KINDS, make_settings, model_class

MODEL_FORMAT = 2
"""Version of the model file layout; files of other versions are refused (retrain)."""


def save_model(model: BaseModel, path: str | Path, *, metadata: dict[str, Any]) -> None:
    """Write weights and a metadata record (atomically).

    Parameters
    ----------
    model
        A fitted model of any kind (:data:`emoflow.models.MODEL_KINDS`).
    path
        The ``.pt`` file to write.
    metadata
        JSON-ready facts to keep with the model: emotion, landmark ids, feature settings,
        seed, calibration, …; ``emoflow_version`` and ``kind`` are added.
    """
    if model.input_shape_ is None:
        raise DataError(f"{path}: cannot save a model that is not fitted")
    record = {
        "format": MODEL_FORMAT,
        "emoflow_version": __version__,
        "kind": model.kind,
        "settings": asdict(model.settings),
        "input_shape": list(model.input_shape_),
        "metadata": {"emoflow_version": __version__, "kind": model.kind, **metadata},
        "state_dict": {name: tensor.cpu() for name, tensor in model.state_dict().items()},
    }
    with atomic_path(path) as staged:
        torch.save(record, staged)


def load_model(path: str | Path, *, device: str = "auto") -> tuple[Any, dict[str, Any]]:
    """Reload a model written by :func:`save_model`; returns the model and its metadata.

    The model is in evaluation mode on ``device``. Its metadata holds at least
    ``emoflow_version`` and ``kind``, plus what :func:`save_model` was given.

    Raises
    ------
    InputError
        The file is missing, unreadable, of another format version or inconsistent.
    """
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise InputError(path, "model file does not exist") from err
    except Exception as err:  # torch raises many kinds on a broken file
        raise InputError(path, f"not a readable emoflow model file ({err})") from err
    if not isinstance(record, dict) or "format" not in record:
        raise InputError(path, "not an emoflow model file")
    if record["format"] != MODEL_FORMAT:
        raise InputError(
            path,
            f"model file format {record['format']} (emoflow "
            f"{record.get('emoflow_version', '?')}) is not format {MODEL_FORMAT} of emoflow "
            f"{__version__}; retrain the model with this emoflow",
        )
    kind = record.get("kind")
    if not isinstance(kind, str) or kind not in MODEL_KINDS:
        raise InputError(path, f"unknown model kind {kind!r}")
    target = resolve_device(device)
    try:
        settings = make_settings(kind, record["settings"])
        model = model_class(kind)(settings, device=device)
        model._build(tuple(record["input_shape"]), target)
        with torch.no_grad():  # own copies: the built layers may share the cached random draw
            for parameter in model.parameters():
                parameter.data = parameter.data.clone()
        model.load_state_dict(record["state_dict"])
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

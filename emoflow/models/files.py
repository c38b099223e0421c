"""The model-file format: the only code that writes or reads emoflow's ``.pt`` files.

A file holds one fitted binary model: its kind, settings, sample shape, weights
(``state_dict``) and a metadata record (emotion, landmark ids, feature settings, calibration,
…), written atomically by :func:`save_model` and checked by :func:`load_model`.

Weights that the model draws anew from its seed (the randomized network's frozen hidden
layers, :meth:`BaseModel._redrawn_state`) are not stored: the file keeps their names and a
SHA-256 checksum, and :func:`load_model` redraws them and checks the checksum, so a torch
that draws differently is caught instead of giving other scores. Format 2 files, which store
every weight, still load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
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

MODEL_FORMAT = 3
"""Version of the model file layout written; 3 leaves out the weights redrawn from the seed."""
_READABLE_FORMATS = (2, MODEL_FORMAT)
"""Versions :func:`load_model` reads (2 stores every weight); others are refused (retrain)."""


def _checksum(state: Mapping[str, torch.Tensor], names: Sequence[str]) -> str:
    """SHA-256 of the named tensors' names, dtypes, shapes and bytes, in the order given."""
    digest = hashlib.sha256()
    for name in names:
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{list(tensor.shape)};".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


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
    state = model.state_dict()
    redrawn = model._redrawn_state()
    record = {
        "format": MODEL_FORMAT,
        "emoflow_version": __version__,
        "torch_version": str(torch.__version__),
        "kind": model.kind,
        "settings": asdict(model.settings),
        "input_shape": list(model.input_shape_),
        "metadata": {"emoflow_version": __version__, "kind": model.kind, **metadata},
        "redrawn": {"names": redrawn, "sha256": _checksum(state, redrawn)},
        "state_dict": {name: tensor.cpu() for name, tensor in state.items() if name not in redrawn},
    }
    with atomic_path(path) as staged:
        torch.save(record, staged)


def _load_weights(model: BaseModel, record: dict[str, Any], path: str | Path) -> None:
    """Give the built ``model`` the weights of ``record``, checking the redrawn ones."""
    if record["format"] == 2:  # every weight stored; the built layers may share the cached
        with torch.no_grad():  # random draw, so they get their own copies before loading
            for parameter in model.parameters():
                parameter.data = parameter.data.clone()
        model.load_state_dict(record["state_dict"])
        return
    stored = record["redrawn"]
    names = model._redrawn_state()
    if list(stored["names"]) != names:
        raise InputError(
            path, f"model file does not match its settings (redrawn weights {stored['names']})"
        )
    if _checksum(model.state_dict(), names) != stored["sha256"]:
        raise InputError(
            path,
            f"the random layers drawn from seed {getattr(model.settings, 'seed', '?')} by torch "
            f"{torch.__version__} differ from those the model was trained with (torch "
            f"{record.get('torch_version', '?')}): checksum mismatch; retrain the model with "
            "this torch or load it with the torch that trained it",
        )
    missing, unexpected = model.load_state_dict(record["state_dict"], strict=False)
    if set(missing) != set(names) or unexpected:
        raise InputError(
            path,
            f"model file does not match its settings (missing weights "
            f"{sorted(set(missing) - set(names))}, unexpected {sorted(unexpected)})",
        )


def load_model(path: str | Path, *, device: str = "auto") -> tuple[Any, dict[str, Any]]:
    """Reload a model written by :func:`save_model`; returns the model and its metadata.

    The model is in evaluation mode on ``device``. Its metadata holds at least
    ``emoflow_version`` and ``kind``, plus what :func:`save_model` was given.

    Raises
    ------
    InputError
        The file is missing, unreadable, of another format version or inconsistent, or the
        random layers redrawn from its seed do not reproduce the model's.
    """
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise InputError(path, "model file does not exist") from err
    except Exception as err:  # torch raises many kinds on a broken file
        raise InputError(path, f"not a readable emoflow model file ({err})") from err
    if not isinstance(record, dict) or "format" not in record:
        raise InputError(path, "not an emoflow model file")
    if record["format"] not in _READABLE_FORMATS:
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
        _load_weights(model, record, path)
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

"""The model-file format: the only code that writes or reads emoflow's ``.pt`` files.

A file holds one fitted binary model: its kind, settings, sample shape, weights
(``state_dict``) and a metadata record (emotion, landmark ids, feature settings, calibration,
…), written atomically by :func:`save_model` and read and checked by
:func:`read_model_record` (:func:`emoflow.models.load_model` builds the model from it,
:func:`load_weights`).

Weights that the model draws anew from its seed (the randomized network's frozen hidden
layers, :meth:`emoflow.models.BaseModel._redrawn_state`) are not stored: the file keeps their
names and a SHA-256 checksum, and :func:`load_weights` redraws them and checks the checksum, so
a torch that draws differently is caught instead of giving other scores.

Every file also holds a SHA-256 of its whole content (``content_sha256``: the record's fields
and every stored tensor, :func:`content_hash`), checked first on load, so a flipped byte
anywhere in the file is an error naming it rather than a model that scores differently.
Files of another format are refused (retrain).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from emoflow import __version__
from emoflow._atomic import atomic_path
from emoflow.errors import DataError, InputError

MODEL_FORMAT = 4
"""Version of the model file layout written and read: the weights redrawn from the seed left
out, a content hash; files of other versions are refused (retrain)."""
REWRITE = (
    "delete it and rerun the job that wrote it (in the workflow: snakemake --forcerun "
    "start_chains prune_chain), or train the model again"
)
"""What to do about a damaged model file."""


def _checksum(state: Mapping[str, torch.Tensor], names: Sequence[str]) -> str:
    """SHA-256 of the named tensors' names, dtypes, shapes and bytes, in the order given."""
    digest = hashlib.sha256()
    for name in names:
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{list(tensor.shape)};".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def content_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of a model record's content: every field but ``content_sha256`` (as sorted JSON)
    and every stored tensor (name, dtype, shape, bytes; by name)."""
    header = {
        key: value for key, value in record.items() if key not in ("state_dict", "content_sha256")
    }
    digest = hashlib.sha256(json.dumps(header, sort_keys=True, default=repr).encode())
    state = record.get("state_dict") or {}
    digest.update(_checksum(state, sorted(state)).encode())
    return digest.hexdigest()


def _check_content(record: dict[str, Any], path: str | Path) -> None:
    """Refuse a record whose content hash is absent or does not match."""
    stored = record.get("content_sha256")
    try:
        actual = content_hash(record)
    except Exception as err:  # a damaged record can hold anything
        raise InputError(path, f"model file is damaged ({err}); {REWRITE}") from err
    if not isinstance(stored, str) or stored != actual:
        raise InputError(
            path,
            "model file is damaged: its content does not match the SHA-256 stored in it "
            f"(stored {str(stored)[:12]}…, computed {actual[:12]}…); {REWRITE}",
        )


def save_model(model: Any, path: str | Path, *, metadata: dict[str, Any]) -> None:
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
    record["content_sha256"] = content_hash(record)
    with atomic_path(path) as staged:
        torch.save(record, staged)


def load_weights(model: Any, record: dict[str, Any], path: str | Path) -> None:
    """Give the built ``model`` the weights of ``record``, checking the redrawn ones."""
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


def read_model_record(path: str | Path, *, data: bytes | None = None) -> dict[str, Any]:
    """The record of a model file written by :func:`save_model`, read and checked: of this
    format version, its content hash matching. ``data``, when given, is the file's content
    already read (and checked) by the caller; ``path`` then only names it in messages.

    Raises
    ------
    InputError
        The file is missing, unreadable, damaged (its content hash does not match) or of
        another format version.
    """
    import io

    try:
        source: Any = path if data is None else io.BytesIO(data)
        record = torch.load(source, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise InputError(path, "model file does not exist") from err
    except Exception as err:  # torch raises many kinds on a broken file
        raise InputError(
            path, f"not a readable emoflow model file ({err}); if it was one: {REWRITE}"
        ) from err
    if not isinstance(record, dict) or "format" not in record:
        raise InputError(path, "not an emoflow model file")
    if record["format"] != MODEL_FORMAT:
        raise InputError(
            path,
            f"model file format {record['format']} (emoflow "
            f"{record.get('emoflow_version', '?')}) is not format {MODEL_FORMAT} of emoflow "
            f"{__version__}; retrain the model with this emoflow",
        )
    _check_content(record, path)
    return record

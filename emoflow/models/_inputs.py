"""Checks and conversions of the data every model kind fits on and scores."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from emoflow.devices import select_device
from emoflow.errors import DataError


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"``: a free visible CUDA device, else the CPU; see :mod:`emoflow.devices`.

    Respects ``CUDA_VISIBLE_DEVICES``; concurrent jobs on one node get different GPUs, and a
    process keeps the device it got (repeated calls return it).
    """
    return select_device(device)


def as_float_array(inputs: np.ndarray | torch.Tensor) -> np.ndarray:
    """Inputs as a float32 NumPy array (tensors are moved to the CPU)."""
    if isinstance(inputs, torch.Tensor):
        return inputs.detach().cpu().numpy().astype(np.float32, copy=False)
    return np.asarray(inputs, dtype=np.float32)


def check_training_data(inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Refuse unusable training data; returns the labels as int64 0/1.

    Raises
    ------
    DataError
        Shapes disagree, inputs hold NaN or infinite values, labels are not 0/1, or one class
        is missing.
    """
    labels_np = np.asarray(labels)
    if inputs.ndim < 2 or labels_np.shape != (len(inputs),):
        raise DataError(
            f"inputs of shape {tuple(inputs.shape)} do not match labels of shape {labels_np.shape}"
        )
    if not np.isfinite(inputs).all():
        raise DataError("inputs contain NaN or infinite values")
    if not np.isin(labels_np, (0, 1)).all():
        raise DataError(f"labels must be 0 or 1, got {np.unique(labels_np)[:5].tolist()}")
    labels_np = labels_np.astype(np.int64)
    n_positive = int(labels_np.sum())
    if n_positive == 0 or n_positive == len(labels_np):
        raise DataError(
            f"training labels hold {n_positive} positive of {len(labels_np)} samples: "
            "a binary model needs both classes"
        )
    return labels_np


def checked_inputs(model: Any, inputs: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Inputs for scoring by a fitted ``model``: finite, of its sample shape, on its device."""
    if model.input_shape_ is None:
        raise DataError("the model is not fitted yet")
    inputs_np = as_float_array(inputs)
    if tuple(inputs_np.shape[1:]) != model.input_shape_:
        raise DataError(
            f"inputs have sample shape {tuple(inputs_np.shape[1:])}, "
            f"the model was fitted on {model.input_shape_}"
        )
    if not np.isfinite(inputs_np).all():
        raise DataError("inputs contain NaN or infinite values")
    return torch.as_tensor(inputs_np, device=model.device)


def sample_weights(labels: np.ndarray, class_weight: str) -> np.ndarray:
    """Per-sample weights; ``balanced`` gives each class the same total weight."""
    if class_weight == "none":
        return np.ones(len(labels))
    counts = np.bincount(labels, minlength=2).astype(np.float64)
    return (len(labels) / (2.0 * np.maximum(counts, 1.0)))[labels]

"""Randomized deep networks for one-vs-rest emotion detection, trained in closed form.

:class:`RandomizedDeepNetwork` follows the deep RVFL / ELM family (Huang et al. 2006; Katuwal &
Suganthan 2019, edRVFL): ``n_layers`` hidden layers whose weights are drawn at random and frozen,

.. math::

    H_0 = \\operatorname{standardise}(x), \\qquad H_l = g(H_{l-1} W_l + b_l),

and one linear read-out on ``D = [H_0, H_1, …, H_L, 1]`` (direct links, deep RVFL) or on
``D = [H_L, 1]`` (ELM), solved by weighted ridge regression

.. math::

    \\beta = \\arg\\min_\\beta \\sum_i w_i (y_i - D_i \\beta)^2 + \\lambda \\lVert \\beta \\rVert^2,

with targets ``y ∈ {-1, +1}`` and class weights ``w`` that balance positives and negatives.
The closed form is taken in its primal or dual shape, whichever matrix is smaller, with
``torch.linalg`` on CPU or CUDA. The forward pass is plain differentiable PyTorch, so Captum
attributes it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from emoflow import __version__
from emoflow._atomic import atomic_path
from emoflow.errors import ConfigError, DataError, InputError

log = logging.getLogger(__name__)

Activation = Literal["tanh", "sigmoid", "relu", "gelu"]
_ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when present (respecting ``CUDA_VISIBLE_DEVICES``), else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but CUDA is not available")
    return resolved


@dataclass(frozen=True)
class NetworkSettings:
    """Hyper-parameters of :class:`RandomizedDeepNetwork` (see its docstring)."""

    n_layers: int = 2
    width: int = 256
    activation: Activation = "tanh"
    ridge: float = 1.0
    direct_link: bool = True
    class_weight: Literal["balanced", "none"] = "balanced"
    weight_scale: float = 1.0
    standardise: Literal["global", "feature"] = "global"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_layers < 1:
            raise ConfigError(f"model.n_layers must be ≥ 1, got {self.n_layers}")
        if self.width < 1:
            raise ConfigError(f"model.width must be ≥ 1, got {self.width}")
        if self.activation not in ("tanh", "sigmoid", "relu", "gelu"):
            raise ConfigError(
                f"model.activation must be tanh, sigmoid, relu or gelu, got {self.activation!r}"
            )
        if not self.ridge > 0:
            raise ConfigError(f"model.ridge must be > 0, got {self.ridge}")
        if self.standardise not in ("global", "feature"):
            raise ConfigError(
                f"model.standardise must be global or feature, got {self.standardise!r}"
            )
        if self.class_weight not in ("balanced", "none"):
            raise ConfigError(
                f"model.class_weight must be balanced or none, got {self.class_weight!r}"
            )


class RandomizedDeepNetwork(nn.Module):
    """A deep randomized network (deep RVFL / ELM) with a ridge-solved read-out.

    Parameters
    ----------
    settings
        Depth, width, activation, ridge λ, direct links, class weighting, seed.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.

    Attributes
    ----------
    input_shape_ : tuple of int
        Shape of one sample, e.g. ``(n_frames, n_landmarks, 3)``; set by :meth:`fit`.
    hidden_ : nn.ModuleList
        The frozen random layers.
    readout_ : torch.Tensor
        Output weights ``β``, shape ``(n_readout_features,)``.

    Examples
    --------
    >>> net = RandomizedDeepNetwork(NetworkSettings(width=64)).fit(x_train, y_train)
    >>> scores = net.decision_function(x_test)   # > 0 means "this emotion"
    """

    def __init__(self, settings: NetworkSettings | None = None, *, device: str = "auto") -> None:
        super().__init__()
        self.settings = settings or NetworkSettings()
        self.device_name = device
        self.input_shape_: tuple[int, ...] | None = None
        self.hidden_ = nn.ModuleList()

    # -- structure ---------------------------------------------------------------------------
    def _build(self, input_shape: tuple[int, ...], device: torch.device) -> None:
        """Draw the random hidden layers for inputs of ``input_shape`` (deterministic in seed)."""
        settings = self.settings
        self.input_shape_ = tuple(int(n) for n in input_shape)
        n_inputs = int(np.prod(self.input_shape_))
        generator = torch.Generator().manual_seed(settings.seed)
        layers = []
        fan_in = n_inputs
        for _ in range(settings.n_layers):
            layer = nn.Linear(fan_in, settings.width)
            # N(0, scale²/fan_in) keeps pre-activations at unit variance for standardised inputs.
            std = settings.weight_scale / np.sqrt(fan_in)
            with torch.no_grad():
                layer.weight.copy_(torch.randn(settings.width, fan_in, generator=generator) * std)
                layer.bias.copy_(torch.randn(settings.width, generator=generator) * 0.1)
            layer.requires_grad_(False)
            layers.append(layer)
            fan_in = settings.width
        self.hidden_ = nn.ModuleList(layers).to(device)
        n_readout = settings.width * settings.n_layers if settings.direct_link else settings.width
        n_readout += (n_inputs if settings.direct_link else 0) + 1
        self.register_buffer("input_mean_", torch.zeros(n_inputs, device=device))
        self.register_buffer("input_scale_", torch.ones(n_inputs, device=device))
        self.register_buffer("readout_", torch.zeros(n_readout, device=device))

    def _activation(self, values: torch.Tensor) -> torch.Tensor:
        if self.settings.activation == "gelu":
            return nn.functional.gelu(values)
        return _ACTIVATIONS[self.settings.activation](values)

    def readout_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """The read-out's input ``D``, shape ``(n_samples, n_readout_features)``."""
        hidden = (inputs.reshape(len(inputs), -1) - self.input_mean_) / self.input_scale_
        blocks = [hidden] if self.settings.direct_link else []
        for layer in self.hidden_:
            hidden = self._activation(layer(hidden))
            if self.settings.direct_link:
                blocks.append(hidden)
        if not self.settings.direct_link:
            blocks = [hidden]
        blocks.append(torch.ones(len(inputs), 1, dtype=hidden.dtype, device=hidden.device))
        return torch.cat(blocks, dim=1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Scores, shape ``(n_samples,)``, from inputs ``(n_samples, *input_shape_)``."""
        return self.readout_features(inputs) @ self.readout_

    # -- estimator API -----------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.readout_.device if self.input_shape_ is not None else torch.device("cpu")

    def fit(self, inputs: np.ndarray | torch.Tensor, labels: np.ndarray) -> RandomizedDeepNetwork:
        """Draw the hidden layers and solve the read-out on ``inputs`` with 0/1 ``labels``.

        Parameters
        ----------
        inputs
            Shape ``(n_samples, *sample_shape)``, finite.
        labels
            Shape ``(n_samples,)``, 1 for the emotion, 0 for the rest.
        """
        device = resolve_device(self.device_name)
        inputs_t = torch.as_tensor(np.asarray(inputs), dtype=torch.float32)
        labels_np = np.asarray(labels).astype(np.int64)
        _check_training_data(inputs_t, labels_np)
        self._build(tuple(inputs_t.shape[1:]), device)
        inputs_t = inputs_t.to(device)
        flat = inputs_t.reshape(len(inputs_t), -1)
        self.input_mean_.copy_(flat.mean(dim=0))
        if self.settings.standardise == "feature":
            self.input_scale_.copy_(flat.std(dim=0).clamp_min(1e-6))
        else:  # one scale for all inputs keeps the landmarks' relative motion
            self.input_scale_.fill_(float((flat - flat.mean(dim=0)).std().clamp_min(1e-6)))
        with torch.no_grad():
            design = self.readout_features(inputs_t).double()
            targets = torch.as_tensor(2.0 * labels_np - 1.0, dtype=torch.float64, device=device)
            weights = torch.as_tensor(
                _sample_weights(labels_np, self.settings.class_weight), device=device
            )
            self.readout_.copy_(_weighted_ridge(design, targets, weights, self.settings.ridge))
        return self

    def decision_function(self, inputs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Scores, shape ``(n_samples,)``; positive means the emotion is present."""
        if self.input_shape_ is None:
            raise DataError("the model is not fitted yet")
        inputs_t = torch.as_tensor(np.asarray(inputs), dtype=torch.float32, device=self.device)
        if tuple(inputs_t.shape[1:]) != self.input_shape_:
            raise DataError(
                f"inputs have sample shape {tuple(inputs_t.shape[1:])}, "
                f"the model was fitted on {self.input_shape_}"
            )
        with torch.no_grad():
            return self(inputs_t).cpu().numpy().astype(np.float64)

    def predict(self, inputs: np.ndarray | torch.Tensor) -> np.ndarray:
        """0/1 predictions, shape ``(n_samples,)``."""
        return (self.decision_function(inputs) > 0).astype(np.int64)

    def n_parameters(self) -> dict[str, int]:
        """Parameter counts: ``random`` (frozen hidden weights), ``trained`` (read-out)."""
        random_count = sum(p.numel() for p in self.hidden_.parameters())
        return {"random": int(random_count), "trained": int(self.readout_.numel())}


def _check_training_data(inputs: torch.Tensor, labels: np.ndarray) -> None:
    if inputs.ndim < 2 or len(inputs) != len(labels):
        raise DataError(f"inputs of shape {tuple(inputs.shape)} do not match {len(labels)} labels")
    if not torch.isfinite(inputs).all():
        raise DataError("inputs contain NaN or infinite values")
    n_positive = int(labels.sum())
    if n_positive == 0 or n_positive == len(labels):
        raise DataError(
            f"training labels hold {n_positive} positive of {len(labels)} samples: "
            "a binary model needs both classes"
        )


def _sample_weights(labels: np.ndarray, class_weight: str) -> np.ndarray:
    """Per-sample weights; ``balanced`` gives each class the same total weight."""
    if class_weight == "none":
        return np.ones(len(labels))
    counts = np.bincount(labels, minlength=2).astype(np.float64)
    return (len(labels) / (2.0 * counts))[labels]


def _weighted_ridge(
    design: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, ridge: float
) -> torch.Tensor:
    """Solve ``min Σ w_i (y_i − D_i β)² + λ‖β‖²`` in primal or dual form (float64)."""
    n_samples, n_features = design.shape
    root_w = weights.sqrt()
    weighted_design = design * root_w[:, None]
    weighted_targets = targets * root_w
    if n_features <= n_samples:
        gram = weighted_design.T @ weighted_design
        gram.diagonal().add_(ridge)
        return torch.linalg.solve(gram, weighted_design.T @ weighted_targets)
    kernel = weighted_design @ weighted_design.T
    kernel.diagonal().add_(ridge)
    return weighted_design.T @ torch.linalg.solve(kernel, weighted_targets)


# -- model files -----------------------------------------------------------------------------
MODEL_FORMAT = 1


def save_model(model: RandomizedDeepNetwork, path: str | Path, *, metadata: dict[str, Any]) -> None:
    """Write weights and a metadata record (emotion, landmark subset, settings, version)."""
    record = {
        "format": MODEL_FORMAT,
        "emoflow_version": __version__,
        "kind": "randomized_deep_network",
        "settings": asdict(model.settings),
        "input_shape": list(model.input_shape_ or ()),
        "metadata": metadata,
        "state_dict": {name: tensor.cpu() for name, tensor in model.state_dict().items()},
    }
    with atomic_path(path) as staged:
        torch.save(record, staged)


def load_model(
    path: str | Path, *, device: str = "auto"
) -> tuple[RandomizedDeepNetwork, dict[str, Any]]:
    """Reload a model written by :func:`save_model`; returns the model and its metadata."""
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise InputError(path, "model file does not exist") from err
    except Exception as err:  # torch raises many kinds on a broken file
        raise InputError(path, f"not a readable emoflow model file ({err})") from err
    if not isinstance(record, dict) or record.get("format") != MODEL_FORMAT:
        raise InputError(
            path, f"model file format is not {MODEL_FORMAT}; retrain with this emoflow"
        )
    model = RandomizedDeepNetwork(NetworkSettings(**record["settings"]), device=device)
    target = resolve_device(device)
    model._build(tuple(record["input_shape"]), target)
    model.load_state_dict(record["state_dict"])
    model.to(target)
    return model, dict(record["metadata"])


# -- evaluation ------------------------------------------------------------------------------
def subject_folds(subjects: np.ndarray, n_folds: int, *, seed: int = 0) -> list[np.ndarray]:
    """Split samples into ``n_folds`` test folds by subject (no subject in two folds).

    Returns the test indices of each fold; the training indices are the rest.
    """
    unique = np.unique(subjects)
    if len(unique) < n_folds:
        raise DataError(
            f"{len(unique)} subjects cannot make {n_folds} subject-independent folds; "
            "lower train.n_folds"
        )
    order = np.random.default_rng(seed).permutation(unique)
    fold_of_subject = {subject: index % n_folds for index, subject in enumerate(order)}
    fold_ids = np.array([fold_of_subject[s] for s in subjects])
    return [np.flatnonzero(fold_ids == fold) for fold in range(n_folds)]


def binary_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, F1 and ROC-AUC of scores thresholded at 0."""
    labels = np.asarray(labels).astype(bool)
    predicted = np.asarray(scores) > 0
    tp = float(np.sum(predicted & labels))
    tn = float(np.sum(~predicted & ~labels))
    fp = float(np.sum(predicted & ~labels))
    fn = float(np.sum(~predicted & labels))
    recall = tp / max(tp + fn, 1.0)
    specificity = tn / max(tn + fp, 1.0)
    precision = tp / max(tp + fp, 1.0)
    return {
        "accuracy": (tp + tn) / max(len(labels), 1),
        "balanced_accuracy": 0.5 * (recall + specificity),
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "roc_auc": roc_auc(labels, scores),
    }


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC by the rank statistic (ties count half); NaN with one class only."""
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = np.asarray(scores)[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def time_inference(model: RandomizedDeepNetwork, inputs: np.ndarray, *, repeats: int = 5) -> float:
    """Median seconds per sample of :meth:`RandomizedDeepNetwork.decision_function`."""
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.decision_function(inputs)
        timings.append(time.perf_counter() - start)
    return float(np.median(timings)) / max(len(inputs), 1)

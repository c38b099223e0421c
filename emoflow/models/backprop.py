"""Backprop models to compare the randomized network with: an MLP and a temporal convolution net.

Both take the same inputs as :class:`emoflow.models.RandomizedDeepNetwork` — samples
``(n_frames, n_landmarks, 3)``, standardised inside the model — and share its estimator API
(:class:`emoflow.models.BaseModel`: ``fit(inputs, labels, groups)``, ``decision_function``,
``predict``, ``n_parameters``), so the protocol of :mod:`emoflow.training` and the benchmark
train either. Training: Adam on
mini-batches of a class-balanced logistic loss, early stopping on a validation split of the
training data taken by subject (``groups``) where possible, the weights of the best validation
epoch kept. Everything random (initial weights, dropout, batch order, validation split) comes
from ``settings.seed``; on the CPU a seed gives bit-identical models.

* :class:`MLPNetwork`: flattened input → ``n_layers`` × (linear, activation, dropout) → linear.
* :class:`TemporalConvNetwork`: frames as a sequence of ``n_landmarks × 3`` channels →
  ``n_layers`` × (1-D convolution over frames, activation, dropout) → mean- and max-pooling
  over frames → linear. A convolution, not a GRU, so Captum's gradients also run in
  evaluation mode on CUDA.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from emoflow.config import SectionSettings, setting
from emoflow.errors import ConfigError, DataError
from emoflow.models._base import BaseModel
from emoflow.models._inputs import sample_weights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackpropSettings(SectionSettings):
    """Hyper-parameters of the backprop models: the ``train.backprop`` config section.

    The fields declare the section's keys (the configuration schema is generated from them);
    ``kernel_size`` must also be odd (checked here: the schema cannot say it plainly).

    Parameters
    ----------
    n_layers
        Hidden layers (MLP) or convolution blocks (temporal).
    width
        Units per hidden layer (MLP) or channels per block (temporal).
    activation
        ``relu``, ``gelu`` or ``tanh``.
    kernel_size
        Frames spanned by a temporal convolution (odd; temporal model only).
    dropout
        Dropout share after every hidden layer.
    learning_rate, weight_decay
        Adam's step size and L2 penalty.
    batch_size
        Samples per mini-batch.
    max_epochs
        Upper bound on passes over the training data.
    patience
        Epochs without a better validation loss before training stops (10, as scikit-learn's
        ``n_iter_no_change``).
    validation_share
        Share of the training subjects (of the samples, when subjects are not given or too
        few) held out for early stopping.
    class_weight
        ``balanced`` weighs each class to the same total in the loss; ``none`` does not.
    standardise
        ``global`` (one scale for all inputs) or ``feature``, as in the randomized network.
    seed
        Seed of everything random in training.
    """

    SECTION = "train.backprop"

    n_layers: int = setting(2, minimum=1)
    width: int = setting(128, minimum=1)
    activation: str = setting("relu", enum=("relu", "gelu", "tanh"))
    kernel_size: int = setting(3, minimum=1)
    dropout: float = setting(0.1, minimum=0, exclusive_maximum=1)
    learning_rate: float = setting(1e-3, exclusive_minimum=0)
    weight_decay: float = setting(1e-4, minimum=0)
    batch_size: int = setting(32, minimum=1)
    max_epochs: int = setting(200, minimum=1)
    patience: int = setting(10, minimum=1)
    validation_share: float = setting(0.2, exclusive_minimum=0, exclusive_maximum=1)
    class_weight: str = setting("balanced", enum=("balanced", "none"))
    standardise: str = setting("global", enum=("global", "feature"))
    seed: int = setting(0, minimum=0)

    def __post_init__(self) -> None:
        self.check()
        if self.kernel_size % 2 == 0:
            raise ConfigError(
                f"{self.SECTION}.kernel_size: {self.kernel_size} must be odd (a temporal "
                "convolution centred on each frame)"
            )


def _activation_module(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}[name]()


def _rng_devices(device: torch.device) -> list[int]:
    """CUDA devices whose random state a seeded block must restore afterwards."""
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def validation_split(
    labels: np.ndarray, groups: np.ndarray | None, share: float, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(fit, validation)`` for early stopping.

    With two or more groups (subjects), ``ceil(share × n_groups)`` whole groups (at most all but
    one) go to validation, drawn with ``seed`` until the fitting part keeps both classes (20
    draws); otherwise a stratified split of samples, every class keeping at least one sample in
    the fitting part. The validation part may be empty when the data are too small.
    """
    rng = np.random.default_rng(seed)
    n = len(labels)
    if groups is not None and len(np.unique(groups)) >= 2:
        unique = np.unique(groups)
        n_held = min(max(1, math.ceil(share * len(unique))), len(unique) - 1)
        for _ in range(20):
            held = rng.permutation(unique)[:n_held]
            is_validation = np.isin(groups, held)
            fit_labels = labels[~is_validation]
            if 0 < fit_labels.sum() < len(fit_labels):
                return np.flatnonzero(~is_validation), np.flatnonzero(is_validation)
    is_validation = np.zeros(n, dtype=bool)
    for value in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == value))
        n_held = min(math.ceil(share * len(members)), len(members) - 1)
        is_validation[members[: max(n_held, 0)]] = True
    return np.flatnonzero(~is_validation), np.flatnonzero(is_validation)


class BackpropNetwork(BaseModel):
    """Shared training loop of the backprop models; subclasses make the trainable body.

    Parameters
    ----------
    settings
        :class:`BackpropSettings`.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.

    Attributes
    ----------
    input_shape_ : tuple of int
        Shape of one sample; set by :meth:`fit`.
    body_ : nn.Module
        The trained network, from standardised flat inputs to one logit per sample.
    input_mean_, input_scale_ : torch.Tensor
        The standardisation learnt from the training inputs.
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``validation_loss`` (NaN without validation).
    best_epoch_ : int
        The epoch whose weights were kept (1-based).
    n_epochs_ : int
        Epochs run before stopping.
    """

    kind: ClassVar[str] = "backprop"
    settings_class: ClassVar[type[BackpropSettings]] = BackpropSettings
    settings_section: ClassVar[str] = "backprop"
    settings: BackpropSettings

    def __init__(self, settings: BackpropSettings | None = None, *, device: str = "auto") -> None:
        super().__init__(settings, device=device)
        self.body_: nn.Module = nn.Identity()
        self.history_: list[dict[str, float]] = []
        self.best_epoch_ = 0
        self.n_epochs_ = 0

    def _make_body(self, input_shape: tuple[int, ...]) -> nn.Module:
        raise NotImplementedError

    def _build(self, input_shape: tuple[int, ...], device: torch.device) -> None:
        """Make the body with its initial weights (drawn from ``settings.seed``)."""
        self.input_shape_ = tuple(int(n) for n in input_shape)
        n_inputs = int(np.prod(self.input_shape_))
        with torch.random.fork_rng(devices=_rng_devices(device)):
            torch.manual_seed(self.settings.seed)
            body = self._make_body(self.input_shape_)
        self.body_ = body.to(device)
        self._init_standardisation(n_inputs, device)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits, shape ``(n_samples,)``, from inputs ``(n_samples, *input_shape_)``."""
        return self.body_(self.standardise(inputs)).reshape(len(inputs))

    def _fit(self, inputs: torch.Tensor, labels: np.ndarray, groups: np.ndarray | None) -> None:
        """Train with Adam and early stopping on a split that holds out whole subjects."""
        settings = self.settings
        device = inputs.device
        if groups is not None and len(np.asarray(groups)) != len(labels):
            raise DataError(f"{len(np.asarray(groups))} groups for {len(labels)} samples")
        fit_index, validation_index = validation_split(
            labels,
            None if groups is None else np.asarray(groups),
            settings.validation_share,
            seed=settings.seed,
        )
        fit_rows = inputs[torch.as_tensor(fit_index, device=device)]
        self._fit_standardisation(fit_rows.reshape(len(fit_index), -1))
        targets = torch.as_tensor(labels, dtype=torch.float32, device=device)
        weights = np.zeros(len(labels))
        weights[fit_index] = sample_weights(labels[fit_index], settings.class_weight)
        if len(validation_index):
            weights[validation_index] = sample_weights(
                labels[validation_index], settings.class_weight
            )
        weights_t = torch.as_tensor(weights, dtype=torch.float32, device=device)
        with torch.random.fork_rng(devices=_rng_devices(device)):
            torch.manual_seed(settings.seed)
            self._train(inputs, targets, weights_t, fit_index, validation_index)
        self.eval()

    def _loss(
        self, inputs: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor:
        logits = self(inputs)
        losses = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        return (losses * weights).sum() / weights.sum().clamp_min(1e-12)

    def _train(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        weights: torch.Tensor,
        fit_index: np.ndarray,
        validation_index: np.ndarray,
    ) -> None:
        settings = self.settings
        device = inputs.device
        optimiser = torch.optim.Adam(
            self.body_.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
        )
        shuffler = torch.Generator().manual_seed(settings.seed)
        fit_t = torch.as_tensor(fit_index, device=device)
        validation_t = torch.as_tensor(validation_index, device=device)
        best_loss, best_state = math.inf, copy.deepcopy(self.body_.state_dict())
        self.history_, self.best_epoch_, self.n_epochs_ = [], 0, 0
        stale = 0
        for epoch in range(1, settings.max_epochs + 1):
            self.train()
            order = fit_t[torch.randperm(len(fit_t), generator=shuffler).to(device)]
            total, count = 0.0, 0
            for begin in range(0, len(order), settings.batch_size):
                batch = order[begin : begin + settings.batch_size]
                optimiser.zero_grad(set_to_none=True)
                loss = self._loss(inputs[batch], targets[batch], weights[batch])
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(batch)
                count += len(batch)
            train_loss = total / max(count, 1)
            validation_loss = math.nan
            if len(validation_t):
                self.eval()
                with torch.no_grad():
                    validation_loss = float(
                        self._loss(
                            inputs[validation_t], targets[validation_t], weights[validation_t]
                        )
                    )
            self.history_.append(
                {"epoch": epoch, "train_loss": train_loss, "validation_loss": validation_loss}
            )
            self.n_epochs_ = epoch
            monitored = validation_loss if len(validation_t) else train_loss
            if monitored < best_loss - 1e-6:
                best_loss, stale = monitored, 0
                best_state = copy.deepcopy(self.body_.state_dict())
                self.best_epoch_ = epoch
            else:
                stale += 1
                if stale >= settings.patience:
                    break
        self.body_.load_state_dict(best_state)

    def _trained_tensors(self) -> Iterable[torch.Tensor]:
        return self.body_.parameters()  # every weight of the body; nothing is random

    def training_summary(self) -> dict[str, Any] | None:
        """Epochs run and the epoch kept, for metrics."""
        return {"n_epochs": self.n_epochs_, "best_epoch": self.best_epoch_}


class MLPNetwork(BackpropNetwork):
    """Multi-layer perceptron on the flattened sample, trained by backprop."""

    kind: ClassVar[str] = "mlp"

    def _make_body(self, input_shape: tuple[int, ...]) -> nn.Module:
        settings = self.settings
        layers: list[nn.Module] = []
        fan_in = int(np.prod(input_shape))
        for _ in range(settings.n_layers):
            layers += [
                nn.Linear(fan_in, settings.width),
                _activation_module(settings.activation),
                nn.Dropout(settings.dropout),
            ]
            fan_in = settings.width
        layers.append(nn.Linear(fan_in, 1))
        return nn.Sequential(*layers)


class _TemporalConvBody(nn.Module):
    """Standardised flat input → frames × channels → convolutions over frames → logit."""

    def __init__(self, input_shape: tuple[int, ...], settings: BackpropSettings) -> None:
        super().__init__()
        self.n_frames = int(input_shape[0])
        self.n_channels = int(np.prod(input_shape[1:]))
        blocks: list[nn.Module] = []
        channels = self.n_channels
        for _ in range(settings.n_layers):
            blocks += [
                nn.Conv1d(
                    channels,
                    settings.width,
                    settings.kernel_size,
                    padding=settings.kernel_size // 2,
                ),
                _activation_module(settings.activation),
                nn.Dropout(settings.dropout),
            ]
            channels = settings.width
        self.convolutions = nn.Sequential(*blocks)
        self.head = nn.Linear(2 * settings.width, 1)

    def forward(self, standardised: torch.Tensor) -> torch.Tensor:
        sequence = standardised.reshape(len(standardised), self.n_frames, self.n_channels)
        hidden = self.convolutions(sequence.transpose(1, 2))  # (n, width, frames)
        pooled = torch.cat([hidden.mean(dim=2), hidden.amax(dim=2)], dim=1)
        return self.head(pooled)


class TemporalConvNetwork(BackpropNetwork):
    """A small 1-D convolution network over frames (landmark coordinates as channels)."""

    kind: ClassVar[str] = "temporal"

    def _make_body(self, input_shape: tuple[int, ...]) -> nn.Module:
        if len(input_shape) < 2:
            raise DataError(
                f"the temporal model needs samples (frames, …), got sample shape {input_shape}"
            )
        return _TemporalConvBody(input_shape, self.settings)

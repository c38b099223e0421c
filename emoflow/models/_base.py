"""What every binary model kind shares: the estimator API, standardisation, search space.

A model kind is a subclass of :class:`BaseModel` plus its line in
:data:`emoflow.models.MODEL_KINDS`. A subclass says

* ``kind`` (its ``train.model.kind`` value), ``settings_class`` (its settings dataclass) and
  ``settings_section`` (the ``train`` config section holding them);
* ``_build(input_shape, device)``: make the network for samples of ``input_shape`` (drawn or
  initialised from ``settings.seed``), registering the standardisation with
  :meth:`BaseModel._init_standardisation`;
* ``_fit(inputs, labels, groups)`` (learn from checked data, already on the device; the base
  ``fit`` checks the data and calls ``_build`` first) and ``forward(inputs)`` (scores of a
  batch, differentiable);
* ``_random_tensors()`` / ``_trained_tensors()``: what :meth:`BaseModel.n_parameters` counts;
* ``_redrawn_state()``: the ``state_dict`` entries ``_build`` reproduces from the seed, which
  the model file leaves out (:mod:`emoflow.storage.model_file`);
* ``search_grids``: which settings the inner-fold search may vary, and from which grid of
  :class:`emoflow.training.SelectionSettings`.

The base class gives ``decision_function``, ``predict``, ``n_parameters``, the standardisation
of inputs (``global``: one scale for all inputs; ``feature``: one per input) and
:meth:`BaseModel.search_space`.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar, Self

import numpy as np
import torch
from torch import nn

from emoflow.models._inputs import (
    as_float_array,
    check_training_data,
    checked_inputs,
    resolve_device,
)


class InputRows(ABC):
    """Training inputs given as rows of products computed once for many fits
    (:class:`emoflow.models._kernel.SharedRows`): :meth:`BaseModel.fit` hands the fit to them."""

    @abstractmethod
    def fit_model(self, model: BaseModel, labels: np.ndarray) -> None:
        """Fit ``model`` on these rows with 0/1 ``labels``, in place."""


class BaseModel(nn.Module):
    """A binary (one-vs-rest) model on samples ``(n_frames, n_landmarks, 3)``.

    Parameters
    ----------
    settings
        An instance of the kind's ``settings_class``; ``None`` takes its defaults.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.

    Attributes
    ----------
    input_shape_ : tuple of int
        Shape of one sample, e.g. ``(n_frames, n_landmarks, 3)``; set by ``fit``.
    input_mean_, input_scale_ : torch.Tensor
        The standardisation learnt from the training inputs.
    """

    kind: ClassVar[str]
    settings_class: ClassVar[type[Any]]
    settings_section: ClassVar[str]
    """The ``train`` config section that holds this kind's settings."""
    search_grids: ClassVar[dict[str, str]] = {"width": "width_grid"}
    """Setting → the grid of the inner-fold search that varies it (empty grid: as set)."""
    closed_form_ridge: ClassVar[bool] = False
    """The read-out is a ridge solve: the search scores every λ of a width from one fit."""

    input_mean_: torch.Tensor
    input_scale_: torch.Tensor

    def __init__(self, settings: Any = None, *, device: str = "auto") -> None:
        super().__init__()
        self.settings = settings or self.settings_class()
        self.device_name = device
        self.input_shape_: tuple[int, ...] | None = None

    # -- what a kind provides ----------------------------------------------------------------
    def _build(self, input_shape: tuple[int, ...], device: torch.device) -> None:
        raise NotImplementedError

    def _fit(self, inputs: torch.Tensor, labels: np.ndarray, groups: np.ndarray | None) -> None:
        """Learn the standardisation and the weights from checked data on the device."""
        raise NotImplementedError

    def _random_tensors(self) -> Iterable[torch.Tensor]:
        """Weights drawn at random and never trained."""
        return ()

    def _trained_tensors(self) -> Iterable[torch.Tensor]:
        """Weights learnt from the data."""
        return ()

    def _redrawn_state(self) -> list[str]:
        """Names of the ``state_dict`` entries that ``_build`` draws anew from the settings'
        seed, so the model file need not store them (none: every entry is stored)."""
        return []

    def training_summary(self) -> dict[str, Any] | None:
        """Facts of the training run worth keeping in the metrics (``None``: nothing)."""
        return None

    # -- search space ------------------------------------------------------------------------
    @classmethod
    def search_space(cls, settings: Any, selection: Any) -> list[dict[str, Any]]:
        """The candidates the inner-fold search tries, in order.

        One candidate per combination of the grids named by ``search_grids`` (the first
        varies slowest); a setting whose grid is empty keeps its value in ``settings``.
        """
        names = list(cls.search_grids)
        axes = [
            tuple(getattr(selection, grid)) or (getattr(settings, name),)
            for name, grid in cls.search_grids.items()
        ]
        return [dict(zip(names, values, strict=True)) for values in itertools.product(*axes)]

    # -- standardisation ---------------------------------------------------------------------
    def _init_standardisation(self, n_inputs: int, device: torch.device) -> None:
        self.register_buffer("input_mean_", torch.zeros(n_inputs, device=device))
        self.register_buffer("input_scale_", torch.ones(n_inputs, device=device))

    def _fit_standardisation(self, flat: torch.Tensor) -> None:
        """Learn the standardisation from training inputs ``(n_samples, n_inputs)``."""
        self.input_mean_.copy_(flat.mean(dim=0))
        if self.settings.standardise == "feature":
            self.input_scale_.copy_(flat.std(dim=0).clamp_min(1e-6))
        else:  # one scale for all inputs keeps the landmarks' relative motion
            self.input_scale_.fill_(float((flat - self.input_mean_).std().clamp_min(1e-6)))

    def standardise(self, inputs: torch.Tensor) -> torch.Tensor:
        """Flat standardised inputs ``(n_samples, n_inputs)`` from ``(n_samples, *shape)``."""
        return (inputs.reshape(len(inputs), -1) - self.input_mean_) / self.input_scale_

    # -- estimator API -----------------------------------------------------------------------
    def _prepare(
        self, inputs: np.ndarray | torch.Tensor, labels: np.ndarray
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Check the data and build the network for its sample shape; inputs on the device."""
        device = resolve_device(self.device_name)
        inputs_np = as_float_array(inputs)
        labels_np = check_training_data(inputs_np, labels)
        self._build(tuple(inputs_np.shape[1:]), device)
        return torch.as_tensor(inputs_np, device=device), labels_np

    def fit(
        self,
        inputs: np.ndarray | torch.Tensor | InputRows,
        labels: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> Self:
        """Fit on ``inputs`` with 0/1 ``labels``; returns the model.

        Parameters
        ----------
        inputs
            Shape ``(n_samples, *sample_shape)``, finite.
        labels
            Shape ``(n_samples,)``, 1 for the emotion, 0 for the rest; both classes present.
        groups
            Subject of each sample, shape ``(n_samples,)``: a kind that holds out data for
            early stopping holds out whole subjects; the randomized network ignores them.

        ``inputs`` may instead be rows of products shared by many fits (:class:`InputRows`,
        e.g. :class:`emoflow.models._kernel.SharedRows`), which then fit the model themselves.
        """
        if isinstance(inputs, InputRows):
            inputs.fit_model(self, labels)
            return self
        inputs_t, labels_np = self._prepare(inputs, labels)
        self._fit(inputs_t, labels_np, groups)
        return self

    @property
    def device(self) -> torch.device:
        return self.input_mean_.device if self.input_shape_ is not None else torch.device("cpu")

    def decision_function(self, inputs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Scores, shape ``(n_samples,)``; positive means the emotion is present."""
        inputs_t = checked_inputs(self, inputs)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return self(inputs_t).cpu().numpy().astype(np.float64)
        finally:
            self.train(was_training)

    def predict(self, inputs: np.ndarray | torch.Tensor) -> np.ndarray:
        """0/1 predictions, shape ``(n_samples,)``."""
        return (self.decision_function(inputs) > 0).astype(np.int64)

    def n_parameters(self) -> dict[str, int]:
        """Parameter counts: ``random`` (drawn, frozen) and ``trained`` (learnt) weights."""
        return {
            "random": int(sum(t.numel() for t in self._random_tensors())),
            "trained": int(sum(t.numel() for t in self._trained_tensors())),
        }

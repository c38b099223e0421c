"""The registry of model kinds: the values of ``train.model.kind`` and their classes.

Adding a kind: one subclass of :class:`emoflow.models.BaseModel` (with its settings
dataclass) and its line in :data:`MODEL_KINDS`; training, model files and the benchmark find
it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emoflow.errors import ConfigError
from emoflow.models._base import BaseModel
from emoflow.models.backprop import MLPNetwork, TemporalConvNetwork
from emoflow.models.rvfl import RandomizedDeepNetwork

MODEL_KINDS: dict[str, type[BaseModel]] = {
    "rvfl": RandomizedDeepNetwork,
    "mlp": MLPNetwork,
    "temporal": TemporalConvNetwork,
}
"""Values of the ``model.kind`` setting: the randomized network and the two backprop models."""


def model_class(kind: str) -> type[BaseModel]:
    """The estimator class of a ``model.kind`` (a key of :data:`MODEL_KINDS`)."""
    try:
        return MODEL_KINDS[kind]
    except (KeyError, TypeError):
        raise ConfigError(
            f"model.kind must be one of {', '.join(MODEL_KINDS)}, got {kind!r}"
        ) from None


def settings_class(kind: str) -> type[Any]:
    """The settings dataclass of a ``model.kind``."""
    return model_class(kind).settings_class


def make_settings(kind: str, values: Mapping[str, Any] | None = None) -> Any:
    """Settings of a ``model.kind`` from its config section, naming unknown keys.

    ``values`` is the kind's section (``train.model`` or ``train.backprop``), whole or in part
    (:meth:`emoflow.config.SectionSettings.from_section`).
    """
    return settings_class(kind).from_section(values)


def make_model(kind: str, settings: Any = None, *, device: str = "auto") -> BaseModel:
    """An unfitted estimator of ``kind`` with ``settings`` (a dataclass, a mapping or None)."""
    if settings is None or isinstance(settings, dict):
        settings = make_settings(kind, settings)
    return model_class(kind)(settings, device=device)

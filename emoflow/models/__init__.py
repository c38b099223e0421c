"""Binary (one-vs-rest) emotion models: the randomized network and the backprop models.

Every kind is a :class:`BaseModel` (standardisation, ``fit``/``decision_function``/``predict``,
parameter counts, the search space it offers the inner-fold search) registered in
:data:`MODEL_KINDS` under its ``train.model.kind`` value:

* ``rvfl``: :class:`RandomizedDeepNetwork` (:mod:`emoflow.models.rvfl`), deep RVFL / ELM /
  edRVFL with random frozen hidden layers and ridge-solved read-outs;
* ``mlp``, ``temporal``: :class:`MLPNetwork`, :class:`TemporalConvNetwork`
  (:mod:`emoflow.models.backprop`), trained by backprop with early stopping.

A training job's fits of the randomized network share the products of its development inputs
(:class:`SharedProducts`, :mod:`~emoflow.models._kernel`: the kernel built once and sliced
per fold). Beside them: Platt calibration (:mod:`~emoflow.models.calibration`), the model-file
format
(:mod:`emoflow.storage.model_file`: :func:`save_model`; :mod:`~emoflow.models.files`:
:func:`load_model`), scoring landmark tables
with saved models (:mod:`~emoflow.models.apply`: :func:`apply_model`, :func:`apply_models`) and
timing (:mod:`~emoflow.models.evaluation`); the subject folds and metrics are
:mod:`emoflow.metrics`.
"""

from emoflow.models._base import BaseModel
from emoflow.models._inputs import resolve_device
from emoflow.models._kernel import SCORE_TOLERANCE, SharedProducts
from emoflow.models.apply import apply_model, apply_models
from emoflow.models.backprop import (
    BackpropNetwork,
    BackpropSettings,
    MLPNetwork,
    TemporalConvNetwork,
)
from emoflow.models.evaluation import time_inference
from emoflow.models.files import load_model
from emoflow.models.kinds import MODEL_KINDS, make_model, make_settings
from emoflow.models.rvfl import NetworkSettings, RandomizedDeepNetwork, clear_random_weight_cache
from emoflow.storage.model_file import save_model

__all__ = [
    "MODEL_KINDS",
    "SCORE_TOLERANCE",
    "BackpropNetwork",
    "BackpropSettings",
    "BaseModel",
    "MLPNetwork",
    "NetworkSettings",
    "RandomizedDeepNetwork",
    "SharedProducts",
    "TemporalConvNetwork",
    "apply_model",
    "apply_models",
    "clear_random_weight_cache",
    "load_model",
    "make_model",
    "make_settings",
    "resolve_device",
    "save_model",
    "time_inference",
]

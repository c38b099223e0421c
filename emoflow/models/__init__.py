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
(:mod:`~emoflow.models.files`: :func:`save_model`, :func:`load_model`), scoring landmark tables
with saved models (:mod:`~emoflow.models.apply`: :func:`apply_model`, :func:`apply_models`) and
evaluation helpers (:mod:`~emoflow.models.evaluation`: timing, and the subject folds and metrics
of :mod:`emoflow.metrics`).
"""

from emoflow.metrics import (
    binary_metrics,
    multiclass_metrics,
    roc_auc,
    subject_folds,
    summarise_folds,
    summarise_values,
)
from emoflow.models._base import BaseModel, InputRows
from emoflow.models._inputs import (
    as_float_array,
    check_training_data,
    checked_inputs,
    resolve_device,
    sample_weights,
)
from emoflow.models._kernel import SCORE_TOLERANCE, SharedProducts, SharedRows
from emoflow.models.apply import apply_model, apply_models
from emoflow.models.backprop import (
    BackpropNetwork,
    BackpropSettings,
    MLPNetwork,
    TemporalConvNetwork,
    validation_split,
)
from emoflow.models.calibration import PlattCalibrator
from emoflow.models.evaluation import time_inference
from emoflow.models.files import MODEL_FORMAT, load_model, model_inputs, save_model
from emoflow.models.kinds import (
    MODEL_KINDS,
    make_model,
    make_settings,
    model_class,
    settings_class,
)
from emoflow.models.rvfl import (
    Activation,
    NetworkSettings,
    RandomizedDeepNetwork,
    clear_random_weight_cache,
    ridge_path_scores,
)

__all__ = [
    "MODEL_FORMAT",
    "MODEL_KINDS",
    "SCORE_TOLERANCE",
    "Activation",
    "BackpropNetwork",
    "BackpropSettings",
    "BaseModel",
    "InputRows",
    "MLPNetwork",
    "NetworkSettings",
    "PlattCalibrator",
    "RandomizedDeepNetwork",
    "SharedProducts",
    "SharedRows",
    "TemporalConvNetwork",
    "apply_model",
    "apply_models",
    "as_float_array",
    "binary_metrics",
    "check_training_data",
    "checked_inputs",
    "clear_random_weight_cache",
    "load_model",
    "make_model",
    "make_settings",
    "model_class",
    "model_inputs",
    "multiclass_metrics",
    "resolve_device",
    "ridge_path_scores",
    "roc_auc",
    "sample_weights",
    "save_model",
    "settings_class",
    "subject_folds",
    "summarise_folds",
    "summarise_values",
    "time_inference",
    "validation_split",
]

"""Which ``train`` settings each model kind uses, without importing the models (torch).

:data:`KIND_SECTIONS` mirrors the ``settings_section`` of the classes in
:data:`emoflow.models.MODEL_KINDS` (``tests/test_settings.py`` checks that they agree); the
workflow reads it while it plans, where importing torch would cost every Snakemake start a
second.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KIND_SECTIONS: dict[str, str] = {"rvfl": "model", "mlp": "backprop", "temporal": "backprop"}
"""``train.model.kind`` → the ``train`` section holding that kind's settings."""


def kind_settings(train: Mapping[str, Any]) -> dict[str, Any]:
    """The ``train`` config section with only the chosen model kind's settings.

    The other kinds' section is left out (``backprop`` for ``rvfl``; the network settings of
    ``model``, all but ``kind``, for ``mlp`` and ``temporal``), and so are settings the kind
    ignores with these values (``model.n_estimators`` without the ``seeds`` ensemble,
    ``backprop.kernel_size`` for ``mlp``): what the report's settings page shows and what can
    change the run's results. The input is not changed.
    """
    shown = dict(train)
    model = dict(shown.get("model") or {})
    kind = str(model.get("kind", "rvfl"))
    if KIND_SECTIONS.get(kind, "model") == "model":
        shown.pop("backprop", None)
        if model.get("ensemble") != "seeds":
            model.pop("n_estimators", None)
        shown["model"] = model
    else:
        shown["model"] = {"kind": kind}
        backprop = dict(shown.get("backprop") or {})
        if kind != "temporal":
            backprop.pop("kernel_size", None)
        shown["backprop"] = backprop
    return shown


__all__ = ["KIND_SECTIONS", "kind_settings"]

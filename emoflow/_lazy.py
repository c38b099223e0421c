"""Names of a package imported from its submodules when first used (PEP 562).

A package whose ``__init__`` would otherwise import torch, Matplotlib or polars for names that
light callers never use lists them in a mapping ``{name: submodule}`` and sets
``__getattr__ = lazy_names(__name__, mapping)``: the first access imports the submodule and
keeps the name in the package, so later accesses are plain attribute lookups. A value with a
dot names a module outside the package (a re-export, e.g. ``"emoflow.storage.x.reader"``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package`` that imports ``names[name]`` on first use (a
    submodule of ``package``, or a module's full name when it holds a dot)."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        full = module if "." in module else f"{package}.{module}"
        value = getattr(importlib.import_module(full), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__

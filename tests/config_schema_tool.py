"""``tools/make_config_schema.py`` as a module, for the tests of the schema and the settings."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

TOOL = Path(__file__).resolve().parents[1] / "tools" / "make_config_schema.py"


@cache
def load_tool() -> ModuleType:
    """The generator, loaded once (its ``SETTINGS`` are the settings classes, one per section)."""
    spec = importlib.util.spec_from_file_location("make_config_schema", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module

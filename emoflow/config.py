"""Workflow configuration: command-line value coercion and schema validation.

``snakemake --config prune='{fraction: 0.2}'`` hands nested values over as strings; before the
schema sees them, :func:`coerce_to_schema` turns each string into the number, Boolean or null
that the schema asks for at that key, so a value typed on the command line validates exactly
like the same value in ``config.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from emoflow.errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def _schema_types(schema: dict[str, Any]) -> list[str]:
    declared = schema.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def _coerce_scalar(value: str, types: list[str]) -> Any:
    lowered = value.strip().lower()
    if "null" in types and lowered in ("null", "none", "~", ""):
        return None
    if "boolean" in types and lowered in ("true", "false"):
        return lowered == "true"
    if "integer" in types:
        try:
            return int(value)
        except ValueError:
            pass
    if "number" in types:
        try:
            return float(value)
        except ValueError:
            pass
    return value


def coerce_to_schema(config: Any, schema: dict[str, Any]) -> Any:
    """Return ``config`` with strings converted to the scalar types the schema declares."""
    if isinstance(config, dict):
        properties = schema.get("properties", {})
        return {
            key: coerce_to_schema(value, properties.get(key, {})) for key, value in config.items()
        }
    if isinstance(config, list):
        return [coerce_to_schema(value, schema.get("items", {})) for value in config]
    if isinstance(config, str):
        types = _schema_types(schema)
        if types and "string" not in types:
            return _coerce_scalar(config, types)
    return config


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """The workflow's configuration schema."""
    return dict(yaml.safe_load(Path(path).read_text()))


def prepare_config(config: dict[str, Any], schema_path: str | Path = SCHEMA_PATH) -> None:
    """Coerce command-line strings in ``config`` in place (Snakemake then validates it)."""
    if not isinstance(config, dict):
        raise ConfigError(f"the configuration must be a mapping, got {type(config).__name__}")
    coerced = coerce_to_schema(config, load_schema(schema_path))
    config.clear()
    config.update(coerced)

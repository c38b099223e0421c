"""Workflow configuration: command-line value coercion and schema validation.

``snakemake --config prune='{fraction: 0.2}'`` hands nested values over as strings; before the
schema sees them, :func:`coerce_to_schema` turns each string into the number, Boolean or null
that the schema asks for at that key, so a value typed on the command line validates exactly
like the same value in ``config.yaml``.
"""

from __future__ import annotations

import math
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from emoflow.config._limits import memory_problems
from emoflow.errors import ConfigError

SCHEMA_PATH = Path(str(files("emoflow.config").joinpath("config.schema.yaml")))
"""The configuration schema, shipped inside the package (also in an installed wheel)."""


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
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 5× faster at import
    return dict(yaml.load(Path(path).read_text(), Loader=loader))


# -- validation ------------------------------------------------------------------------------
MAX_LISTED_VALUES = 12
"""How many allowed values or keys a message lists before summarising."""


def _key_path(parts: Any) -> str:
    """``train.model.activation`` or ``dataset.emotions[2]`` from a jsonschema path."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def _listed(values: Any) -> str:
    shown = [str(value) for value in list(values)[:MAX_LISTED_VALUES]]
    more = len(list(values)) - len(shown)
    return ", ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def _describe(error: Any) -> tuple[str, str]:
    """The key path and a message (with the allowed values) for one jsonschema error."""
    path = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    keyword = error.validator
    value = error.instance
    if keyword == "additionalProperties" and isinstance(value, dict):
        allowed = sorted(str(key) for key in schema.get("properties", {}))
        unknown = sorted(str(key) for key in value if key not in schema.get("properties", {}))
        keys = [_key_path([*path, key]) for key in unknown]
        return (
            ", ".join(keys),
            f"unknown key(s) {_listed(keys)}; allowed keys here: {_listed(allowed)}",
        )
    key = _key_path(path)
    if keyword == "required":
        missing = [str(name) for name in error.validator_value if name not in value]
        keys = [_key_path([*path, name]) for name in missing]
        return ", ".join(keys), f"missing required key(s) {_listed(keys)}"
    if keyword == "enum":
        return key, f"{key}: {value!r} is not allowed; allowed values: {_listed(schema['enum'])}"
    if keyword == "type":
        expected = schema.get("type")
        expected_text = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return key, f"{key}: {value!r} is a {type(value).__name__}, expected {expected_text}"
    bounds = {
        "minimum": ">=",
        "maximum": "<=",
        "exclusiveMinimum": ">",
        "exclusiveMaximum": "<",
    }
    if keyword in bounds:
        limits = [f"{bounds[name]} {schema[name]}" for name in bounds if name in schema]
        return key, f"{key}: {value!r} is out of range; allowed: {' and '.join(limits)}"
    if keyword == "pattern":
        return key, f"{key}: {value!r} does not match the pattern {schema['pattern']!r}"
    if keyword in ("minItems", "maxItems", "uniqueItems", "minLength", "maxLength"):
        return key, f"{key}: {error.message} ({keyword} {error.validator_value})"
    return key, f"{key}: {error.message}"


def non_finite_numbers(config: Any, path: tuple[Any, ...] = ()) -> list[str]:
    """One message per NaN or infinite number anywhere in ``config`` (every number of every
    key: the schema's bounds let NaN through, since every comparison with it is false)."""
    if isinstance(config, dict):
        return [
            line
            for key, value in config.items()
            for line in non_finite_numbers(value, (*path, key))
        ]
    if isinstance(config, list | tuple):
        return [
            line for i, value in enumerate(config) for line in non_finite_numbers(value, (*path, i))
        ]
    if isinstance(config, float) and not math.isfinite(config):
        key = _key_path(path)
        return [f"{key}: {config!r} is not a finite number; give a finite value"]
    return []


def _validator_with_defaults(schema: dict[str, Any]) -> Any:
    """A Draft 2020-12 validator that fills in the schema's defaults while it validates."""
    import copy

    from jsonschema import Draft202012Validator, validators

    check_properties = Draft202012Validator.VALIDATORS["properties"]

    def properties_with_defaults(validator: Any, properties: Any, instance: Any, schema: Any):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    extended = validators.extend(Draft202012Validator, {"properties": properties_with_defaults})
    return extended(schema)


def validate_config(
    config: dict[str, Any], schema_path: str | Path = SCHEMA_PATH
) -> dict[str, Any]:
    """Check a configuration against the workflow's schema; return it with defaults filled.

    Strings typed on the command line are first coerced (:func:`coerce_to_schema`); the input
    is not changed. Every number must be finite (:func:`non_finite_numbers`), and no job may
    need more memory than one can have (:func:`check_job_memory`; the demo's videos are
    counted from its settings, other data sets' once planned).

    Parameters
    ----------
    config
        The configuration mapping (e.g. ``yaml.safe_load`` of ``config/config.yaml``).
    schema_path
        The JSON schema (YAML) to validate against.

    Returns
    -------
    dict
        A new mapping: the configuration with every default of the schema filled in.

    Raises
    ------
    ConfigError
        The configuration breaks the schema, holds a NaN or infinite number, or asks more
        memory of a job than there is. The message lists every problem, one per line, each
        with its key path (``train.model.activation``) and the allowed values or range.
    """
    import copy

    if not isinstance(config, dict):
        raise ConfigError(
            f"the configuration must be a mapping of sections (dataset, landmarks, …), "
            f"got {type(config).__name__}"
        )
    schema = load_schema(schema_path)
    filled = coerce_to_schema(copy.deepcopy(config), schema)
    validator = _validator_with_defaults(schema)
    try:
        errors = list(validator.iter_errors(filled))
    except Exception as err:  # jsonschema itself failing on exotic values (e.g. bytes keys)
        raise ConfigError(f"the configuration cannot be checked against the schema: {err}") from err
    non_finite = non_finite_numbers(filled)
    if errors or non_finite:
        described = sorted({_describe(error) for error in errors})
        lines = sorted({*non_finite, *(message for _, message in described)})
        raise ConfigError(
            f"configuration breaks the schema ({Path(schema_path).name}):\n  " + "\n  ".join(lines)
        )
    check_job_memory(filled)
    return filled


def check_job_memory(config: dict[str, Any], n_videos: int | None = None) -> None:
    """Refuse settings whose jobs would need more memory than one can have
    (:func:`emoflow.config._limits.memory_problems`): one line per job, with its bound and
    the keys that make it up.

    Parameters
    ----------
    config
        A configuration that passed :func:`validate_config`.
    n_videos
        The data set's videos, once planned (the workflow checks again with them).

    Raises
    ------
    ConfigError
        Naming each job, its bound and its keys.
    """
    problems = memory_problems(config, n_videos=n_videos)
    if problems:
        raise ConfigError(
            "the settings ask more memory than a job can have:\n  " + "\n  ".join(problems)
        )


def workflow_defaults() -> Path | None:
    """The workflow's own ``config/config.yaml`` (what its Snakefile reads first, before a
    user's ``--configfile``) beside the package's source, ``None`` where it is not (an
    installed wheel without the workflow)."""
    path = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
    return path if path.is_file() else None


def merge_config(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` read over ``base`` key by key, as Snakemake merges a ``--configfile`` over
    the workflow's ``configfile:`` (``snakemake.utils.update_config``): mappings merge
    recursively, any other value replaces. Neither input is changed."""
    import copy

    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_config(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read_yaml(file: Path) -> Any:
    from emoflow.errors import InputError

    if not file.is_file():
        raise InputError(file, "configuration file does not exist")
    try:
        config = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(file, f"not valid YAML ({err})") from err
    return {} if config is None else config


def load_config(
    path: str | Path,
    schema_path: str | Path = SCHEMA_PATH,
    *,
    defaults: str | Path | None = None,
) -> dict[str, Any]:
    """Read a YAML configuration file and validate it (:func:`validate_config`).

    With ``defaults`` (a YAML configuration, e.g. :func:`workflow_defaults`), the file is read
    over it key by key (:func:`merge_config`), as the workflow reads a ``--configfile``.

    Raises
    ------
    InputError
        The file (or the defaults) is missing or not valid YAML.
    ConfigError
        The configuration breaks the schema; the message starts with the file name.
    """
    file = Path(path)
    config = _read_yaml(file)
    if defaults is not None and isinstance(config, dict):
        base = _read_yaml(Path(defaults))
        config = merge_config(base, config) if isinstance(base, dict) else base
    try:
        return validate_config(config, schema_path)
    except ConfigError as err:
        over = f" (read over {defaults})" if defaults is not None else ""
        raise ConfigError(f"{file}{over}: {err}") from err

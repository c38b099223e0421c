"""One settings class per configuration section: the declaration of its keys.

A settings class is a frozen dataclass that inherits :class:`SectionSettings` and names its
section (``SECTION = "prune"``). Its fields are the section's keys: the annotation gives the
type, the default is the key's default, and :func:`setting` adds what else the key allows
(ranges, allowed values, a registry whose names are its values, a description) and whether
it is a run-time knob that changes how a job runs, not what it computes. The class is the one
declaration: the JSON schema shipped for Snakemake's ``validate()``
(``config.schema.yaml``) is generated from the classes (``tools/make_config_schema.py``; the
keys of sections without a class come from ``tools/config.schema.base.yaml``), and a test
checks that the shipped schema is current.

- :meth:`SectionSettings.from_section` builds it from the section exactly as a rule passes it
  (``params: settings=config["features"]``): the section is validated against its schema,
  a key the schema does not have is rejected by name, and keys that other stages read
  (:attr:`~SectionSettings.OTHER_KEYS`) are validated and passed over;
- :meth:`SectionSettings.check` (called from ``__post_init__``) validates the instance's values
  against the schema section, so a class never repeats the allowed values or ranges in a
  ``Literal``, a tuple or an ``if`` of its own. Where a registry is the Python source of a
  key's values (``setting(..., enum=REGISTRY)``, listed in
  :attr:`~SectionSettings.REGISTRIES`), its keys replace the schema's enum, so a method or
  policy registered at run time is accepted.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from functools import cache
from typing import Any, ClassVar, Self

import numpy as np

from emoflow.errors import ConfigError

__all__ = ["SectionSettings", "allowed_values", "section_schema", "setting"]


@cache
def _schema() -> dict[str, Any]:
    from emoflow.config._schema import load_schema

    return load_schema()


def section_schema(section: str) -> dict[str, Any]:
    """The schema of one section (or key), by dotted path (``"train.model"``)."""
    schema: dict[str, Any] = _schema()
    for part in section.split("."):
        try:
            schema = schema["properties"][part]
        except KeyError:
            raise KeyError(f"the configuration schema has no section {section!r}") from None
    return schema


def allowed_values(key: str) -> tuple[Any, ...]:
    """The values the schema allows for one key (``"features.align"``), in schema order.

    The ``enum`` of the key, or of its branches (``oneOf``/``anyOf``) where it has several
    forms (a ``oneOf``/``anyOf`` of enums).
    """
    schema = section_schema(key)
    branches = [schema, *schema.get("oneOf", ()), *schema.get("anyOf", ())]
    values = [value for branch in branches for value in branch.get("enum", ())]
    if not values:
        raise KeyError(f"the configuration schema lists no allowed values for {key!r}")
    return tuple(values)


@cache
def _validator(section: str, registry_enums: tuple[tuple[str, tuple[str, ...]], ...]) -> Any:
    """A validator of one section, the enums of ``registry_enums``' keys replaced."""
    from jsonschema import Draft202012Validator

    schema = section_schema(section)
    if registry_enums:
        schema = copy.deepcopy(schema)
        for key, values in registry_enums:
            schema["properties"][key]["enum"] = list(values)
    return Draft202012Validator(schema)


def _plain(value: Any) -> Any:
    """Values as the JSON the schema checks: tuples as lists, numpy scalars as Python ones."""
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in _fields(value)}
    return value


def _message(error: Any) -> str:
    """The message of one jsonschema error, starting with its key path within the section."""
    from emoflow.config._schema import _describe, _key_path

    forms = error.schema.get(error.validator) if isinstance(error.schema, dict) else None
    if error.validator in ("oneOf", "anyOf") and isinstance(forms, list):
        # a key with several forms (features.align: a name, or a Boolean): list them all
        allowed = [
            ", ".join(str(value) for value in form["enum"])
            if "enum" in form
            else f"a {form.get('type', 'value')}"
            for form in forms
        ]
        key = _key_path(error.absolute_path)
        return f"{key}: {error.instance!r} is not allowed; allowed: {' or '.join(allowed)}"
    return str(_describe(error)[1])


def _fields(obj: Any) -> list[dataclasses.Field[Any]]:
    return [field for field in dataclasses.fields(obj) if field.init]


_SETTING = "emoflow.setting"
"""The key of a field's ``metadata`` that holds what :func:`setting` declares."""


def setting(
    default: Any,
    *,
    enum: Sequence[Any] | Mapping[str, Any] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
    exclusive_maximum: float | None = None,
    items: Mapping[str, Any] | None = None,
    unique_items: bool = False,
    pattern: str | None = None,
    one_of: Sequence[Mapping[str, Any]] | None = None,
    doc: str | None = None,
    runtime: bool = False,
) -> Any:
    """A field of a settings class: its key's default and what else the key allows.

    The field's annotation gives the key's type (``int``: integer, ``float``: number,
    ``X | None``: also null, ``tuple[X, ...]``: a list); the rest is declared here, once.

    Parameters
    ----------
    default
        The key's default (immutable: a tuple, not a list).
    enum
        The allowed values; a registry (a mapping, e.g. ``PRUNING_POLICIES``) gives its keys,
        and a name registered at run time is then allowed in Python too (:attr:`REGISTRIES`).
    minimum, maximum, exclusive_minimum, exclusive_maximum
        The key's range (JSON schema's ``minimum``, ``exclusiveMinimum``, ...).
    items, unique_items
        For a list: what each item allows (``{"minimum": 0}``, ``{"enum": [...]}``), and
        whether items may repeat.
    pattern
        A regular expression a string must match.
    one_of
        The key's forms, as JSON schemas, where it has several (the type is then not
        inferred from the annotation).
    doc
        The key's description in the schema.
    runtime
        A run-time knob: it changes how a job runs (memory, where it computes), not what it
        computes; the workflow hands it to the job as a resource, so changing it re-runs
        nothing (:meth:`SectionSettings.split_runtime`).
    """
    schema: dict[str, Any] = {}
    if one_of is not None:
        schema["oneOf"] = [dict(form) for form in one_of]
    if items is not None:
        schema["items"] = dict(items)
    if enum is not None:
        schema["enum"] = list(enum)
    if pattern is not None:
        schema["pattern"] = pattern
    bounds = {
        "minimum": minimum,
        "exclusiveMinimum": exclusive_minimum,
        "maximum": maximum,
        "exclusiveMaximum": exclusive_maximum,
    }
    schema.update({name: bound for name, bound in bounds.items() if bound is not None})
    if unique_items:
        schema["uniqueItems"] = True
    declared = {
        "schema": schema,
        "registry": enum if isinstance(enum, Mapping) else None,
        "doc": doc,
        "runtime": runtime,
    }
    return dataclasses.field(default=default, metadata={_SETTING: declared})


_JSON_TYPES: dict[Any, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    type(None): "null",
}


def _json_type(annotation: Any) -> dict[str, Any]:
    """The JSON schema type of a field's annotation (``float | None`` → number or null)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        forms = [_json_type(arg) for arg in typing.get_args(annotation)]
        merged: dict[str, Any] = {"type": [form.pop("type") for form in forms]}
        for form in forms:
            merged.update(form)
        return merged
    if origin is tuple:
        args = typing.get_args(annotation)
        schema: dict[str, Any] = {"type": "array", "items": _json_type(args[0])}
        if not (len(args) == 2 and args[1] is Ellipsis):  # a fixed length: tuple[float, float]
            schema.update(minItems=len(args), maxItems=len(args))
        return schema
    return {"type": _JSON_TYPES[annotation]}


def _declared(field: dataclasses.Field[Any]) -> dict[str, Any]:
    return dict(field.metadata.get(_SETTING, {}))


_VALIDATED: ContextVar[type | None] = ContextVar("emoflow_settings_validated", default=None)
"""The class whose settings :meth:`SectionSettings.from_section` builds from values it has just
validated: its :meth:`SectionSettings.check` then does not validate them again."""


class SectionSettings:
    """Base of the settings dataclasses; ``SECTION`` names the schema section they mirror.

    A subclass is a frozen dataclass whose init fields are the keys of its section, with the
    schema's defaults; its ``__post_init__`` normalises values (lists to tuples) and calls
    :meth:`check`. Three class attributes describe where class and section differ:
    """

    SECTION: ClassVar[str]
    """Dotted path of the schema section (``"train.model"``)."""
    OTHER_KEYS: ClassVar[Mapping[str, str]] = {}
    """Keys of the section that another stage reads, not this class (key → who reads it):
    :meth:`from_section` validates them and passes them over."""
    EXTRA_FIELDS: ClassVar[tuple[str, ...]] = ()
    """Fields that are no key of the section (Python-only, or from another section, such as
    the demo's ``emotions`` from ``dataset.emotions``): given as overrides to
    :meth:`from_section`, checked by the class itself, not by :meth:`check`."""
    REGISTRIES: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    """Key → the registry whose keys are its allowed values in Python (the fields declared
    with ``setting(..., enum=REGISTRY)``); the schema's enum is generated from it."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        registries = {
            name: declared["registry"]
            for name, value in vars(cls).items()
            if isinstance(value, dataclasses.Field)
            and (declared := _declared(value)).get("registry") is not None
        }
        if registries:
            cls.REGISTRIES = registries

    @classmethod
    def declared_schema(cls) -> dict[str, dict[str, Any]]:
        """The JSON schema of each key the class declares (its fields but
        :attr:`EXTRA_FIELDS`), in field order: the type from the annotation, the rest from
        :func:`setting`, the default from the field. ``tools/make_config_schema.py`` writes
        these into the shipped schema."""
        hints = typing.get_type_hints(cls)
        properties: dict[str, dict[str, Any]] = {}
        for field in _fields(cls):
            if field.name in cls.EXTRA_FIELDS:
                continue
            declared = _declared(field)
            own = dict(declared.get("schema", {}))
            schema = {} if "oneOf" in own else _json_type(hints[field.name])
            if "items" in own:
                own["items"] = {**schema.get("items", {}), **own["items"]}
            schema.update(own)
            schema["default"] = _plain(field.default)
            if declared.get("doc"):
                schema["description"] = declared["doc"]
            properties[field.name] = schema
        return properties

    @classmethod
    def runtime_keys(cls) -> tuple[str, ...]:
        """The fields declared run-time knobs (``setting(..., runtime=True)``)."""
        return tuple(field.name for field in _fields(cls) if _declared(field).get("runtime"))

    @classmethod
    def split_runtime(cls, section: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split a config section into the settings that decide a job's result and its
        run-time knobs (:meth:`runtime_keys`), the latter as ``<section>_<key>`` resources (a
        ``None`` as ``""``, which Snakemake's resources cannot hold)."""
        runtime = cls.runtime_keys()
        prefix = cls.SECTION.replace(".", "_")
        result = {key: value for key, value in section.items() if key not in runtime}
        resources = {
            f"{prefix}_{key}": "" if section[key] is None else section[key]
            for key in runtime
            if key in section
        }
        return result, resources

    @classmethod
    def _registry_enums(cls) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return tuple((key, tuple(registry)) for key, registry in cls.REGISTRIES.items())

    @classmethod
    def _errors(cls, values: Mapping[str, Any]) -> list[str]:
        """One line per way ``values`` break the section schema, each naming its key path."""
        from emoflow.config._schema import non_finite_numbers

        plain = _plain(values)
        errors = _validator(cls.SECTION, cls._registry_enums()).iter_errors(plain)
        return sorted(
            {
                *(f"{cls.SECTION}.{line}" for line in non_finite_numbers(plain)),
                *(
                    f"{cls.SECTION}.{_message(error)}"
                    if error.absolute_path
                    else f"{cls.SECTION}: {_message(error)}"
                    for error in errors
                ),
            }
        )

    @classmethod
    def keys_from(cls, section: Mapping[str, Any] | None) -> dict[str, Any]:
        """The entries of a config section that are this class's settings, in their order.

        The whole section is validated against the schema first; keys read by other stages
        (:attr:`OTHER_KEYS`) are then passed over. A rule that wants only this class's settings
        as its params (so that changing another stage's key does not re-run its jobs) passes
        ``Class.keys_from(config[...])``.

        Raises
        ------
        ConfigError
            A key the section does not have (named, with the allowed keys), or a value the
            schema does not allow (named with its key path).
        """
        if section is None:
            return {}
        if not isinstance(section, Mapping):
            raise ConfigError(
                f"{cls.SECTION}: expected a mapping of settings, got {type(section).__name__}"
            )
        allowed = list(section_schema(cls.SECTION).get("properties", {}))
        unknown = [str(key) for key in section if key not in allowed]
        if unknown:
            raise ConfigError(
                f"{cls.SECTION}: unknown setting(s) {', '.join(unknown)}; "
                f"allowed here: {', '.join(allowed)}"
            )
        errors = cls._errors(section)
        if errors:
            raise ConfigError("\n".join(errors))
        return {key: value for key, value in section.items() if key not in cls.OTHER_KEYS}

    @classmethod
    def unused_keys(cls, values: Mapping[str, Any]) -> tuple[str, ...]:
        """Keys of the class that these values leave unused (none here; the pruning settings:
        the settings of the policies not chosen). A subclass may log that they are ignored."""
        return ()

    @classmethod
    def rule_params(cls, section: Mapping[str, Any] | None) -> dict[str, Any]:
        """The entries of a config section that can change the output of a job that builds
        this class: what a rule passes as its params, so that changing any other key re-runs
        nothing. Those are the class's own keys (:meth:`keys_from`: the section is validated,
        :attr:`OTHER_KEYS` left out) less the run-time knobs (:meth:`runtime_keys`, which
        reach the job as resources) and the keys its values leave unused
        (:meth:`unused_keys`)."""
        own = cls.keys_from(section)
        unused = {*cls.runtime_keys(), *cls.unused_keys(own)}
        return {key: value for key, value in own.items() if key not in unused}

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None = None, **overrides: Any) -> Self:
        """Build the settings from a configuration section (plus ``overrides``).

        ``section`` is the section as the configuration holds it (see :meth:`keys_from`);
        ``overrides`` are fields set from Python, including :attr:`EXTRA_FIELDS`, and are
        checked as the class's constructor checks them. Each value is validated once: the
        section's and the overrides' here, so the constructor's :meth:`check` passes.

        Raises
        ------
        ConfigError
            A key the section (or the class, for ``overrides``) does not have, named with the
            allowed keys, or a value the schema does not allow.
        """
        values = cls.keys_from(section)
        known = [field.name for field in _fields(cls)]
        unknown = [str(key) for key in overrides if key not in known]
        if unknown:
            raise ConfigError(
                f"{cls.SECTION}: unknown setting(s) {', '.join(unknown)}; "
                f"allowed here: {', '.join(known)}"
            )
        own = {key: value for key, value in overrides.items() if key not in cls.EXTRA_FIELDS}
        errors = cls._errors(own) if own else []
        if errors:
            raise ConfigError("\n".join(errors))
        validated = _VALIDATED.set(cls)
        try:
            return cls(**values, **overrides)
        finally:
            _VALIDATED.reset(validated)

    def as_section(self) -> dict[str, Any]:
        """The settings as a configuration section (JSON types: lists, not tuples).

        Includes :attr:`EXTRA_FIELDS`; ``{k: v for k, v in ... if k not in EXTRA_FIELDS}`` is
        what the schema section holds.
        """
        return {field.name: _plain(getattr(self, field.name)) for field in _fields(self)}

    def check(self) -> None:
        """Validate the values against the schema section; call from ``__post_init__``.

        Values :meth:`from_section` has just validated are not validated again.

        Raises
        ------
        ConfigError
            One line per problem, each with its key path (``train.model.activation``) and the
            allowed values or range.
        """
        if _VALIDATED.get() is type(self):
            return
        values = {
            key: value for key, value in self.as_section().items() if key not in self.EXTRA_FIELDS
        }
        errors = self._errors(values)
        if errors:
            raise ConfigError("\n".join(errors))

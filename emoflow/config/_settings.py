"""One settings class per configuration section, checked against the schema.

The schema (``config.schema.yaml``) is the one place that declares which keys a section has,
their types, allowed values, ranges and defaults. A settings class is a frozen dataclass that
mirrors one section and inherits :class:`SectionSettings`:

- :meth:`SectionSettings.from_section` builds it from the section exactly as a rule passes it
  (``params: settings=config["features"]``), rejecting keys the class does not know;
- :meth:`SectionSettings.check` validates the values against the schema section, so a class
  never repeats the allowed values in a ``Literal`` or a tuple of its own.

``tests/test_settings.py`` checks that each class and its schema section agree (keys and
defaults), so a key added to one and forgotten in the other fails the suite.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar, Self

from emoflow.errors import ConfigError

__all__ = ["SectionSettings", "section_schema"]


@cache
def _schema() -> dict[str, Any]:
    from emoflow.config._schema import load_schema

    return load_schema()


def section_schema(section: str) -> dict[str, Any]:
    """The schema of one section, by dotted path (``"train.model"``)."""
    schema: dict[str, Any] = _schema()
    for part in section.split("."):
        try:
            schema = schema["properties"][part]
        except KeyError:
            raise KeyError(f"the configuration schema has no section {section!r}") from None
    return schema


@cache
def _validator(section: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(section_schema(section))


def _plain(value: Any) -> Any:
    """Tuples (as dataclasses store sequences) as lists, the JSON arrays the schema checks."""
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in _fields(value)}
    return value


def _fields(obj: Any) -> list[dataclasses.Field[Any]]:
    return [field for field in dataclasses.fields(obj) if field.init]


class SectionSettings:
    """Base of the settings dataclasses; ``SECTION`` names the schema section they mirror."""

    SECTION: ClassVar[str]

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None = None, **overrides: Any) -> Self:
        """Build the settings from a configuration section (plus ``overrides``).

        Raises
        ------
        ConfigError
            A key the section does not have (named with the allowed keys), or a value the
            schema does not allow.
        """
        if section is not None and not isinstance(section, Mapping):
            raise ConfigError(
                f"{cls.SECTION}: expected a mapping of settings, got {type(section).__name__}"
            )
        values = {**(section or {}), **overrides}
        known = [field.name for field in dataclasses.fields(cls) if field.init]  # type: ignore[arg-type]
        unknown = sorted(str(key) for key in values if key not in known)
        if unknown:
            raise ConfigError(
                f"{cls.SECTION}: unknown key(s) {', '.join(unknown)}; "
                f"allowed keys here: {', '.join(sorted(known))}"
            )
        return cls(**values)

    def as_section(self) -> dict[str, Any]:
        """The settings as a configuration section (JSON types: lists, not tuples)."""
        return {field.name: _plain(getattr(self, field.name)) for field in _fields(self)}

    def check(self) -> None:
        """Validate the values against the schema section; call from ``__post_init__``.

        Raises
        ------
        ConfigError
            One line per problem, each with its key path (``train.model.activation``) and the
            allowed values or range.
        """
        from emoflow.config._schema import _describe

        errors = list(_validator(self.SECTION).iter_errors(self.as_section()))
        if errors:
            lines = sorted(
                {
                    f"{self.SECTION}.{_describe(error)[1]}"
                    if error.absolute_path
                    else f"{self.SECTION}: {_describe(error)[1]}"
                    for error in errors
                }
            )
            raise ConfigError("\n".join(lines))

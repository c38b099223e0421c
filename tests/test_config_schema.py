"""The shipped configuration schema is generated from the settings classes, and is current."""

from __future__ import annotations

from types import ModuleType

import pytest
import yaml
from config_schema_tool import TOOL, load_tool  # tests/config_schema_tool.py

from emoflow.config import SCHEMA_PATH, SectionSettings, setting


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_tool()


def test_the_shipped_schema_is_current(tool: ModuleType) -> None:
    """A settings class changed without `python tools/make_config_schema.py` fails here."""
    assert SCHEMA_PATH.read_text(encoding="utf-8") == tool.schema_text()
    assert tool.main(["--check"]) == 0


def test_the_text_reads_back_as_the_schema(tool: ModuleType) -> None:
    assert yaml.safe_load(tool.schema_text()) == tool.build_schema()


def test_every_settings_class_is_in_the_schema(tool: ModuleType) -> None:
    """Each class's keys are in its section with the class's defaults, once."""
    schema = tool.build_schema()
    for cls in tool.SETTINGS:
        section = schema
        for part in cls.SECTION.split("."):
            section = section["properties"][part]
        for key, declared in cls.declared_schema().items():
            assert section["properties"][key] == declared, f"{cls.SECTION}.{key}"
    base = yaml.safe_load(tool.BASE_PATH.read_text(encoding="utf-8"))
    for cls in tool.SETTINGS:  # the base holds no key a class declares
        section = base
        for part in cls.SECTION.split("."):
            section = section["properties"][part]
        assert not set(section.get("properties") or {}) & set(cls.declared_schema())


def test_a_declaration_gives_type_range_enum_and_default() -> None:
    from dataclasses import dataclass

    registry = {"a": 1, "b": 2}

    @dataclass(frozen=True)
    class Example(SectionSettings):
        SECTION = "example"

        share: float = setting(0.5, exclusive_minimum=0, maximum=1, doc="a share")
        name: str = setting("a", enum=registry)
        limit: int | None = setting(None, minimum=1)
        grid: tuple[int, ...] = setting((1, 2), items={"minimum": 1}, unique_items=True)
        pair: tuple[float, float] = (0.0, 1.0)
        knob: int = setting(8, minimum=1, runtime=True)
        flag: bool = True

    assert Example.declared_schema() == {
        "share": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1,
            "default": 0.5,
            "description": "a share",
        },
        "name": {"type": "string", "enum": ["a", "b"], "default": "a"},
        "limit": {"type": ["integer", "null"], "minimum": 1, "default": None},
        "grid": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1},
            "uniqueItems": True,
            "default": [1, 2],
        },
        "pair": {
            "type": "array",
            "items": {"type": "number"},
            "minItems": 2,
            "maxItems": 2,
            "default": [0.0, 1.0],
        },
        "knob": {"type": "integer", "minimum": 1, "default": 8},
        "flag": {"type": "boolean", "default": True},
    }
    assert Example.REGISTRIES == {"name": registry}
    assert Example.runtime_keys() == ("knob",)
    assert Example.split_runtime({"share": 0.2, "knob": 4}) == ({"share": 0.2}, {"example_knob": 4})


PROJECT_CHOICES = {"train.n_folds": 3, "train.test_subjects": 2}
"""The values of config/config.yaml that are not the defaults: the project's own choices."""


def test_config_yaml_lists_every_setting_with_its_default() -> None:
    """The user's documented file names every key, with the declared default (the classes'
    for their sections) but the project's choices."""
    from emoflow.config import load_schema

    config = yaml.safe_load((TOOL.parents[1] / "config" / "config.yaml").read_text())
    missing, differ = [], {}

    def walk(schema: dict, values: dict, path: str) -> None:
        for key, sub in schema.get("properties", {}).items():
            name = f"{path}{key}"
            if key not in values:
                missing.append(name)
            elif sub.get("type") == "object" and "properties" in sub:
                walk(sub, values[key], f"{name}.")
            elif "default" in sub and values[key] != sub["default"]:
                differ[name] = values[key]

    walk(load_schema(), config, "")
    assert missing == []
    assert differ == PROJECT_CHOICES


def test_a_job_validates_a_section_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """from_section validates the section; the constructor does not validate it again, while
    settings made directly are still checked."""
    from emoflow.errors import ConfigError
    from emoflow.pruning import PruneSettings

    calls: list[dict] = []
    errors = PruneSettings._errors.__func__  # type: ignore[attr-defined]

    def counted(cls: type, values: dict) -> list[str]:
        calls.append(dict(values))
        return errors(cls, values)

    monkeypatch.setattr(PruneSettings, "_errors", classmethod(counted))
    assert PruneSettings.from_section({"fraction": 0.5, "iterations": 2}).fraction == 0.5
    assert calls == [{"fraction": 0.5, "iterations": 2}]
    with pytest.raises(ConfigError, match=r"prune\.fraction"):
        PruneSettings(fraction=2.0)

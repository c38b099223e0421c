"""Each settings class and its schema section agree: keys, defaults, enums, ranges, registries."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from config_schema_tool import load_tool  # tests/config_schema_tool.py

from emoflow.attribution import ATTRIBUTION_METHODS, AttributionSettings
from emoflow.attribution.baselines import BASELINE_KINDS
from emoflow.attribution.relevance import AGGREGATIONS
from emoflow.config import SectionSettings, allowed_values, section_schema
from emoflow.datasets import ADAPTERS
from emoflow.demo import DemoSpec
from emoflow.errors import ConfigError
from emoflow.models import MODEL_KINDS, BackpropSettings, NetworkSettings
from emoflow.pruning import PRUNING_POLICIES, PruneSettings
from emoflow.pruning.pruner import START_SETS
from emoflow.training.cross_validation import CALIBRATIONS

SETTINGS: list[type[SectionSettings]] = list(load_tool().SETTINGS)
"""Every settings class, as the schema generator lists them."""
CHECKED = [cls for cls in SETTINGS if cls is not DemoSpec]
"""Classes whose constructor checks the schema's ranges. DemoSpec's are wider on purpose (one
subject, 64-pixel videos for tests); its section is checked by ``from_section``."""


def _init_fields(cls: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    return {field.name: field for field in dataclasses.fields(cls) if field.init}


def _properties(cls: type[SectionSettings]) -> dict[str, dict[str, Any]]:
    return dict(section_schema(cls.SECTION)["properties"])


def _bad_values(schema: dict[str, Any]) -> list[Any]:
    """Values the schema of one key refuses: outside its enum or just outside its range."""
    bad: list[Any] = []
    if "enum" in schema or any("enum" in form for form in schema.get("oneOf", ())):
        bad.append("not-a-listed-value")
    if "minimum" in schema:
        bad.append(schema["minimum"] - 1)
    if "exclusiveMinimum" in schema:
        bad.append(schema["exclusiveMinimum"])
    if "maximum" in schema:
        bad.append(schema["maximum"] + 1)
    if "exclusiveMaximum" in schema:
        bad.append(schema["exclusiveMaximum"])
    return bad


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda cls: cls.__name__)
def test_fields_are_the_section_keys(cls: type[SectionSettings]) -> None:
    fields = set(_init_fields(cls)) - set(cls.EXTRA_FIELDS)
    keys = set(_properties(cls)) - set(cls.OTHER_KEYS)
    assert fields == keys
    assert not set(cls.EXTRA_FIELDS) & set(_properties(cls))
    assert set(cls.EXTRA_FIELDS) <= set(_init_fields(cls))
    assert set(cls.OTHER_KEYS) <= set(_properties(cls))


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda cls: cls.__name__)
def test_defaults_are_the_schema_defaults(cls: type[SectionSettings]) -> None:
    defaults = cls().as_section()
    for key, schema in _properties(cls).items():
        if key in cls.OTHER_KEYS:
            continue
        assert defaults[key] == schema["default"], f"{cls.SECTION}.{key}"


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda cls: cls.__name__)
def test_defaults_and_the_whole_default_section_build(cls: type[SectionSettings]) -> None:
    section = {key: schema["default"] for key, schema in _properties(cls).items()}
    extra = {name: getattr(cls(), name) for name in cls.EXTRA_FIELDS}
    assert cls.from_section(section, **extra) == cls()
    own = {key: value for key, value in cls().as_section().items() if key not in extra}
    assert cls.from_section(own, **extra) == cls()


@pytest.mark.parametrize(
    ("cls", "key", "value"),
    [
        (cls, key, value)
        for cls in CHECKED
        for key, schema in _properties(cls).items()
        if key not in cls.OTHER_KEYS
        for value in _bad_values(schema)
    ],
    ids=str,
)
def test_a_value_the_schema_refuses_is_refused_by_name(
    cls: type[SectionSettings], key: str, value: Any
) -> None:
    with pytest.raises(ConfigError, match=rf"{cls.SECTION}\.{key}\b"):
        cls(**{key: value})
    with pytest.raises(ConfigError, match=rf"{cls.SECTION}\.{key}\b"):
        cls.from_section({key: value})


@pytest.mark.parametrize(
    ("cls", "key", "value"),
    [
        (cls, key, value)
        for cls in SETTINGS
        for key, schema in _properties(cls).items()
        for value in _bad_values(schema)
    ],
    ids=str,
)
def test_from_section_refuses_what_the_schema_refuses(
    cls: type[SectionSettings], key: str, value: Any
) -> None:
    """Also for keys other stages read, and for DemoSpec (whose constructor allows more)."""
    with pytest.raises(ConfigError, match=rf"{cls.SECTION}\.{key}\b"):
        cls.from_section({key: value})


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda cls: cls.__name__)
def test_unknown_keys_are_named(cls: type[SectionSettings]) -> None:
    with pytest.raises(ConfigError, match=rf"{cls.SECTION}: unknown setting\(s\) colour"):
        cls.from_section({"colour": "red"})
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) colour"):
        cls.from_section(None, colour="red")
    with pytest.raises(ConfigError, match="expected a mapping"):
        cls.from_section(["colour"])  # type: ignore[arg-type]


def test_keys_read_by_other_stages_are_passed_over() -> None:
    section = {"iterations": 2, "start": "mesh", "tolerance": 0.01, "fraction": 0.5}
    assert PruneSettings.keys_from(section) == {"fraction": 0.5}
    assert PruneSettings.from_section(section) == PruneSettings(fraction=0.5)
    assert PruneSettings.from_config(section) == PruneSettings(fraction=0.5)
    assert NetworkSettings.from_section({"kind": "rvfl", "width": 8}) == NetworkSettings(width=8)
    with pytest.raises(ConfigError, match=r"train\.model\.kind"):
        NetworkSettings.from_section({"kind": "svm"})


def test_demo_spec_takes_its_emotions_from_the_dataset_section() -> None:
    spec = DemoSpec.from_section({"n_subjects": 3}, emotions=["fear", "anger"])
    assert spec == DemoSpec(n_subjects=3, emotions=("fear", "anger"))
    with pytest.raises(ConfigError, match=r"demo: unknown setting\(s\) emotions"):
        DemoSpec.from_section({"emotions": ["fear", "anger"]})
    with pytest.raises(ConfigError, match=r"demo\.n_subjects"):
        DemoSpec.from_section({"n_subjects": 1})
    assert DemoSpec(n_subjects=1).n_subjects == 1  # the Python API allows one subject


def test_numpy_scalars_are_checked_as_numbers() -> None:
    import numpy as np

    assert NetworkSettings(width=np.int64(8), ridge=np.float32(0.5)).width == 8
    with pytest.raises(ConfigError, match=r"train\.model\.width"):
        NetworkSettings(width=np.int64(0))


@pytest.mark.parametrize(
    ("key", "registry"),
    [
        ("train.model.kind", MODEL_KINDS),
        ("attribution.method", ATTRIBUTION_METHODS),
        ("attribution.baseline", BASELINE_KINDS),
        ("attribution.aggregate", AGGREGATIONS),
        ("prune.policy", PRUNING_POLICIES),
        ("prune.start", START_SETS),
        ("dataset.adapter", ADAPTERS),
    ],
)
def test_registries_are_the_schema_enums(key: str, registry: dict[str, Any]) -> None:
    assert sorted(registry) == sorted(allowed_values(key))


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda cls: cls.__name__)
def test_registries_back_the_keys_the_class_names(cls: type[SectionSettings]) -> None:
    for key, registry in cls.REGISTRIES.items():
        assert sorted(registry) == sorted(allowed_values(f"{cls.SECTION}.{key}"))


def test_every_policy_setting_is_a_prune_key() -> None:
    for policy in PRUNING_POLICIES.values():
        assert policy.parameter in _properties(PruneSettings)


def test_model_kinds_name_their_settings_section() -> None:
    for kind, model in MODEL_KINDS.items():
        assert model.settings_class.SECTION == f"train.{model.settings_section}", kind


def test_a_registered_name_is_accepted_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry is the Python source of the names: one added at run time is allowed."""
    monkeypatch.setitem(ATTRIBUTION_METHODS, "saliency", ATTRIBUTION_METHODS["gradient_shap"])
    assert AttributionSettings(method="saliency").method == "saliency"
    monkeypatch.delitem(ATTRIBUTION_METHODS, "saliency")
    with pytest.raises(ConfigError, match=r"attribution\.method"):
        AttributionSettings(method="saliency")


def test_enums_derived_from_the_schema() -> None:
    assert CALIBRATIONS == ("platt", "none")
    from emoflow.attribution.settings import QUADRATURES, SAMPLE_SETS
    from emoflow.features.normalise import ALIGNMENTS

    assert ALIGNMENTS == ("none", "first_frame", "canonical")
    assert set(QUADRATURES) == {"gausslegendre", "riemann_trapezoid"}
    assert set(SAMPLE_SETS) == {"all", "positive"}


def test_kernel_size_must_still_be_odd() -> None:
    with pytest.raises(ConfigError, match=r"kernel_size.*odd"):
        BackpropSettings(kernel_size=4)


def test_the_report_shows_only_the_chosen_model_kinds_settings() -> None:
    """run_settings.html lists the settings of the kind that ran: no backprop.* for rvfl, no
    network settings for the backprop kinds (issue 24); KIND_SECTIONS, read while the workflow
    plans, agrees with the model registry."""
    from emoflow.config import KIND_SECTIONS, kind_settings, validate_config
    from emoflow.models import MODEL_KINDS

    assert {k: cls.settings_section for k, cls in MODEL_KINDS.items()} == KIND_SECTIONS
    base = {"dataset": {"adapter": "demo", "source": "d", "emotions": ["a", "b"]}}
    train = validate_config(base)["train"]
    shown = kind_settings(train)
    assert "backprop" not in shown and "n_estimators" not in shown["model"]
    assert shown["model"]["ridge"] == train["model"]["ridge"] and "selection" in shown
    assert "backprop" in train  # the input is not changed
    seeds = kind_settings({**train, "model": {**train["model"], "ensemble": "seeds"}})
    assert seeds["model"]["n_estimators"] == train["model"]["n_estimators"]
    for kind in ("mlp", "temporal"):
        shown = kind_settings({**train, "model": {**train["model"], "kind": kind}})
        assert shown["model"] == {"kind": kind}
        assert shown["backprop"]["learning_rate"] == train["backprop"]["learning_rate"]
        assert ("kernel_size" in shown["backprop"]) == (kind == "temporal")

"""Configuration: the schema (shipped in the package), validation and command-line coercion."""

from emoflow.config._kinds import KIND_SECTIONS, kind_settings
from emoflow.config._schema import (
    SCHEMA_PATH,
    coerce_to_schema,
    load_config,
    load_schema,
    merge_config,
    prepare_config,
    validate_config,
    workflow_defaults,
)
from emoflow.config._settings import SectionSettings, allowed_values, section_schema

__all__ = [
    "KIND_SECTIONS",
    "SCHEMA_PATH",
    "SectionSettings",
    "allowed_values",
    "coerce_to_schema",
    "kind_settings",
    "load_config",
    "load_schema",
    "merge_config",
    "prepare_config",
    "section_schema",
    "validate_config",
    "workflow_defaults",
]

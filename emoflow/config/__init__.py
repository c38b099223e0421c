"""Configuration: the settings classes' base, the schema generated from them (shipped in the
package), validation and command-line coercion."""

from emoflow.config._kinds import KIND_SECTIONS, kind_settings
from emoflow.config._limits import JOB_MEMORY, memory_problems
from emoflow.config._schema import (
    SCHEMA_PATH,
    check_job_memory,
    load_config,
    load_schema,
    validate_config,
    workflow_defaults,
)
from emoflow.config._settings import SectionSettings, allowed_values, section_schema, setting

__all__ = [
    "JOB_MEMORY",
    "KIND_SECTIONS",
    "SCHEMA_PATH",
    "SectionSettings",
    "allowed_values",
    "check_job_memory",
    "kind_settings",
    "load_config",
    "load_schema",
    "memory_problems",
    "section_schema",
    "setting",
    "validate_config",
    "workflow_defaults",
]

"""Configuration: the settings classes' base, the schema generated from them (shipped in the
package), validation and command-line coercion."""

from emoflow.config._kinds import KIND_SECTIONS, kind_settings
from emoflow.config._limits import JOB_MEMORY, machine_memory, memory_problems
from emoflow.config._schema import (
    SCHEMA_PATH,
    check_job_memory,
    coerce_to_schema,
    load_config,
    load_schema,
    merge_config,
    non_finite_numbers,
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
    "coerce_to_schema",
    "kind_settings",
    "load_config",
    "load_schema",
    "machine_memory",
    "memory_problems",
    "merge_config",
    "non_finite_numbers",
    "section_schema",
    "setting",
    "validate_config",
    "workflow_defaults",
]

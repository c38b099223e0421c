"""Settings of the report stage: the ``report`` config section.

The class declares the section's keys (types, defaults, ranges: the configuration schema is
generated from it, ``tools/make_config_schema.py``); its defaults are the report functions'
defaults (``top_k=ReportSettings.top_k``).
"""

from __future__ import annotations

from dataclasses import dataclass

from emoflow.config import SectionSettings, setting

__all__ = ["ReportSettings"]


@dataclass(frozen=True)
class ReportSettings(SectionSettings):
    """What the report shows: the ``report`` config section. ``top_k``: the most relevant
    landmarks marked on the face figures and scored against a ground truth."""

    SECTION = "report"

    top_k: int = setting(50, minimum=1)

    def __post_init__(self) -> None:
        self.check()

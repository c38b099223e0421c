"""The ``demo`` adapter: the synthetic demo folder's ``labels.csv`` (see :mod:`emoflow.demo`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from emoflow.datasets.base import DatasetAdapter, check_filled, read_label_file, resolve_paths

DEMO_LABELS = "labels.csv"
"""Name of the label file inside a demo folder."""
DEMO_GROUND_TRUTH = "ground_truth.json"
"""Name of the ground-truth file inside a demo folder."""
DEMO_COLUMNS: tuple[str, ...] = ("video_id", "path", "subject", "emotion")
"""Columns of ``labels.csv`` the adapter needs (the demo also writes ``repetition`` and
``intensity``, kept as adapter columns)."""


class DemoAdapter(DatasetAdapter):
    """A demo folder's ``labels.csv`` (``video_id, path, subject, emotion, repetition,
    intensity``). The source may be the folder or the CSV file itself. No options."""

    name = "demo"
    made_by_workflow = True
    synthetic = True

    def read(self, source: Path) -> tuple[Path, pl.DataFrame]:
        label_file = source / DEMO_LABELS if source.is_dir() else source
        table = read_label_file(label_file, DEMO_COLUMNS, text_columns=DEMO_COLUMNS)
        check_filled(table, label_file, DEMO_COLUMNS)
        return label_file, resolve_paths(table, label_file.parent)

    def planned(self, source: Path, config: Mapping[str, Any]) -> tuple[Path, pl.DataFrame]:
        """The videos the demo settings will make (from the spec, before the demo exists)."""
        from emoflow.demo import DemoSpec
        from emoflow.demo.spec import planned_videos

        spec = DemoSpec.from_section(config["demo"], emotions=config["dataset"]["emotions"])
        table = pl.DataFrame(planned_videos(spec), schema=dict.fromkeys(DEMO_COLUMNS, pl.String))
        return source / DEMO_LABELS, resolve_paths(table, source)

    @classmethod
    def label_file(cls, source: str) -> str:
        """``labels.csv`` in the demo folder (made by the workflow)."""
        return f"{source}/{DEMO_LABELS}"

    @classmethod
    def extraction_inputs(cls, source: str) -> list[str]:
        """The demo's videos folder (made by the workflow's make_demo rule)."""
        return [f"{source}/videos"]

    @classmethod
    def ground_truth(cls, source: str) -> str | None:
        """The demo's ``ground_truth.json`` (which landmarks carry each emotion)."""
        return f"{source}/{DEMO_GROUND_TRUTH}"

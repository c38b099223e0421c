"""The ``csv`` adapter: any label table with ``path``, ``label`` and ``subject`` columns."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from emoflow.datasets.base import DatasetAdapter, label_table


class CsvAdapter(DatasetAdapter):
    """Any CSV or TSV with columns ``path``, ``label`` and ``subject``; optional ``video_id``
    (default: the file name without its suffix), ``start_s`` and ``end_s`` (seconds; the
    landmark stage extracts only that window). Other columns are kept. No options."""

    name = "csv"

    def read(self, source: Path) -> tuple[Path, pl.DataFrame]:
        return label_table(source)

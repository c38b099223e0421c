"""The ``landmarks_csv`` and ``landmarks_parquet`` adapters: precomputed landmarks, not videos.

A label table like the ``csv`` adapter's whose ``path`` column names landmark files —
one-row-per-frame CSVs (``landmarks_csv``) or Parquet in emoflow's landmark schema
(``landmarks_parquet``); see :func:`emoflow.landmarks.import_landmarks`. A file holding several
videos (a ``video_id`` column) is listed once per video, with that ``video_id``. The landmark
stage then imports instead of running Face Mesh.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import polars as pl

from emoflow.datasets.base import DatasetAdapter, label_table, listing
from emoflow.errors import ConfigError, InputError
from emoflow.landmark_files import COORDINATE_UNITS, CSV_LAYOUTS


class LandmarksParquetAdapter(DatasetAdapter):
    """Labels of landmark files in emoflow's schema. No options."""

    name = "landmarks_parquet"
    landmarks_format: ClassVar[str] = "parquet"
    """The ``landmarks_format`` column of every row."""

    def read(self, source: Path) -> tuple[Path, pl.DataFrame]:
        label_file, table = label_table(source)
        return label_file, table.with_columns(
            pl.lit(self.landmarks_format).alias("landmarks_format")
        )


class LandmarksCsvAdapter(LandmarksParquetAdapter):
    """Labels of one-row-per-frame landmark CSV files.

    Options: ``fps`` (frame rate of files without a time column, default 30), ``width`` and
    ``height`` (frame size in pixels), ``units`` (one of :data:`COORDINATE_UNITS`) and
    ``format`` (the column layout, one of :data:`CSV_LAYOUTS`: ``auto`` tells OpenFace 2.0
    and py-feat tables by their columns, see :mod:`emoflow.landmarks.formats`); the
    label table may give ``fps``, ``width`` and ``height`` per row instead (they take
    precedence).
    """

    name = "landmarks_csv"
    options = ("fps", "width", "height", "units", "format")
    landmarks_format = "csv"

    def read(self, source: Path) -> tuple[Path, pl.DataFrame]:
        adapter = self.name
        options = self.settings
        label_file, table = super().read(source)
        units = options.get("units", "normalised")
        if units not in COORDINATE_UNITS:
            raise ConfigError(
                f"units for adapter {adapter!r} must be one of {', '.join(COORDINATE_UNITS)}, "
                f"got {units!r}"
            )
        for name, dtype in (("fps", pl.Float64), ("width", pl.Int64), ("height", pl.Int64)):
            default = options.get(name)
            if default is not None and not (isinstance(default, int | float) and default > 0):
                raise ConfigError(f"{name} for adapter {adapter!r} must be a positive number")
            column = pl.lit(default, dtype=dtype)
            if name in table.columns:
                column = pl.col(name).cast(dtype, strict=True).fill_null(column)
            try:
                table = table.with_columns(column.alias(f"landmarks_{name}"))
            except pl.exceptions.PolarsError as err:
                raise InputError(label_file, f"column {name!r} must hold positive numbers") from err
            not_positive = table.filter(pl.col(f"landmarks_{name}") <= 0)["video_id"].to_list()
            if not_positive:
                raise InputError(
                    label_file, f"column {name!r} is not positive for {listing(not_positive)}"
                )
        layout = options.get("format", "auto")
        if layout not in CSV_LAYOUTS:
            raise ConfigError(
                f"format for adapter {adapter!r} must be one of {', '.join(CSV_LAYOUTS)}, "
                f"got {layout!r}"
            )
        table = table.with_columns(
            pl.lit(units).alias("landmarks_units"), pl.lit(layout).alias("landmarks_layout")
        )
        return label_file, table

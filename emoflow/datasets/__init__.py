"""Data-set adapters: one class per data set, behind the registry :data:`ADAPTERS`.

An adapter reads a data set's labels into a raw manifest table; :mod:`emoflow.manifest` checks
and writes it. Adding a data set is one :class:`DatasetAdapter` subclass in its own file plus
its line in :data:`ADAPTERS` (the schema's ``dataset.adapter`` enum is generated from it).
"""

from emoflow.datasets.base import DatasetAdapter
from emoflow.datasets.ckplus import CkplusAdapter
from emoflow.datasets.csv import CsvAdapter
from emoflow.datasets.demo import DemoAdapter
from emoflow.datasets.landmarks import LandmarksCsvAdapter, LandmarksParquetAdapter
from emoflow.datasets.ravdess import RavdessAdapter, RavdessLandmarksAdapter

ADAPTERS: dict[str, type[DatasetAdapter]] = {
    adapter.name: adapter
    for adapter in (
        DemoAdapter,
        CsvAdapter,
        RavdessAdapter,
        CkplusAdapter,
        LandmarksCsvAdapter,
        LandmarksParquetAdapter,
        RavdessLandmarksAdapter,
    )
}
"""Adapter name (the ``dataset.adapter`` setting) → adapter class."""

__all__ = ["ADAPTERS", "DatasetAdapter"]

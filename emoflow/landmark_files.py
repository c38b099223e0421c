"""The vocabulary of precomputed landmark files, declared once below every stage.

The data-set adapters (:mod:`emoflow.datasets`) check a label table's options against it, the
video items (:mod:`emoflow.video`) name the format of their file with it, and the landmark
stage (:mod:`emoflow.landmarks`) reads and writes the files it names.
"""

from __future__ import annotations

LANDMARK_FORMATS: tuple[str, ...] = ("parquet", "csv")
"""Formats of precomputed landmark files (:attr:`emoflow.video.VideoItem.landmarks_format`)."""

CSV_LAYOUTS: tuple[str, ...] = ("auto", "wide", "openface", "pyfeat")
"""Column layouts of landmark CSVs (:mod:`emoflow.landmarks.formats`): ``auto`` recognises
OpenFace 2.0 and py-feat by their columns, else ``wide``."""

COORDINATE_UNITS: tuple[str, ...] = ("normalised", "pixels")
"""Values of the ``units`` import option: CSV coordinates as fractions of the frame size, or
pixels."""

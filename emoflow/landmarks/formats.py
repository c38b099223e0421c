"""Column layouts of one-row-per-frame landmark tables from other trackers.

:func:`detect_layout` reads a CSV header and says which columns hold what:

``wide``
    emoflow's own export and plain wide tables: ``x_0 … x_n, y_0 …[, z_0 …]`` or
    ``x0, y0[, z0], x1, …`` (any case), ``0_x``/``landmark_0_x``, 0- or 1-based numbering;
    optional ``video_id``, ``frame``, time, ``face_found`` and score columns (see
    :mod:`emoflow.landmarks.importers`).
``openface``
    OpenFace 2.0 ``FeatureExtraction`` CSVs: headers with leading spaces, ``frame`` (1-based),
    ``timestamp`` (s), ``confidence``, ``success``, 2-D landmarks ``x_0 … x_67``/``y_0 …`` in
    pixels and 3-D ``X_0 … Z_67`` in millimetres (the 2-D points are taken when present),
    optionally ``face_id`` (several faces: the most confident one per frame is kept).
``pyfeat``
    py-feat ``Fex`` tables: ``input`` (the video or image path: one video per value),
    ``frame``, ``FaceScore``, 2-D landmarks ``x_0 … x_67``/``y_0 …`` in pixels; several faces
    of a frame are rows of the same ``frame`` (the highest ``FaceScore`` is kept).

The number of points names the landmark scheme (:func:`emoflow.schemes.scheme_for_points`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from emoflow.errors import DataError, InputError
from emoflow.landmark_files import CSV_LAYOUTS
from emoflow.schemes import LandmarkScheme, scheme_for_points, supported

_AXIS_FIRST = re.compile(r"^(?P<axis>[xyz])_?(?P<index>\d+)$", re.IGNORECASE)
"""``x_0``, ``x0``, ``X12``: axis then landmark number."""
_INDEX_FIRST = re.compile(r"^(?:landmark_?)?(?P<index>\d+)_(?P<axis>[xyz])$", re.IGNORECASE)
"""``0_x``, ``landmark_0_x``: landmark number then axis."""
_OPENFACE_MARKERS = frozenset({"success", "confidence", "timestamp"})
_PYFEAT_MARKERS = frozenset({"input", "FaceScore"})


@dataclass(frozen=True)
class CsvLayout:
    """What the columns of a landmark table hold.

    Attributes
    ----------
    name
        ``wide``, ``openface`` or ``pyfeat``.
    triples
        The ``(x, y, z)`` column names of each point, in point order; ``z`` is ``None`` for
        2-D landmarks (then missing: NaN in the landmark table).
    scheme
        The landmark scheme of the point count.
    pixels
        Whether x and y are pixels by the format's definition (OpenFace 2-D, py-feat) or
        millimetres (OpenFace 3-D), not the ``units`` option's choice.
    units
        The format's own units when it defines them (``pixels``, ``millimetres``), else
        ``None`` (the ``units`` option, or the file's ``units`` column, says).
    video_column
        The column naming each row's video (``video_id``; py-feat's ``input``), or ``None``.
    found_column
        A column of 0/1 face flags (``face_found``; OpenFace's ``success``), or ``None``.
    score_column
        The face confidence column (OpenFace ``confidence``, py-feat ``FaceScore``), or
        ``None`` to look for the generic names.
    first_frame
        The format's first frame number (OpenFace counts from 1).
    """

    name: str
    triples: list[tuple[str, str, str | None]]
    scheme: LandmarkScheme
    pixels: bool = False
    units: str | None = None
    video_column: str | None = None
    found_column: str | None = None
    score_column: str | None = None
    first_frame: int = 0

    @property
    def coordinates(self) -> list[str]:
        """Every coordinate column."""
        return [name for triple in self.triples for name in triple if name is not None]


def _numbered(
    columns: Sequence[str], source: str | Path, *, case_sensitive: bool, axes: str = "xyz"
) -> dict[str, dict[int, str]]:
    by_axis: dict[str, dict[int, str]] = {axis: {} for axis in "xyz"}
    for name in columns:
        match = _AXIS_FIRST.match(name) or _INDEX_FIRST.match(name)
        if match is None:
            continue
        axis = match["axis"] if case_sensitive else match["axis"].lower()
        if axis not in axes:
            continue
        axis, index = axis.lower(), int(match["index"])
        if index in by_axis[axis]:
            raise InputError(
                source,
                f"columns {by_axis[axis][index]!r} and {name!r} both name {axis} of landmark "
                f"{index}",
            )
        by_axis[axis][index] = name
    return by_axis


def _triples(
    by_axis: dict[str, dict[int, str]], source: str | Path
) -> tuple[list[tuple[str, str, str | None]], LandmarkScheme]:
    if not by_axis["x"] and not by_axis["y"]:
        raise InputError(
            source,
            "has no landmark coordinate columns (expected x_0 … x_n, y_0 …[, z_0 …] or "
            "x0, y0[, z0], x1, …; OpenFace 2.0 and py-feat tables are recognised by their "
            "columns)",
        )
    indices = set(by_axis["x"])
    for axis in "yz":
        if axis == "z" and not by_axis["z"]:
            continue  # 2-D landmarks
        if set(by_axis[axis]) != indices:
            lacking = sorted(indices.symmetric_difference(by_axis[axis]))
            raise InputError(
                source,
                f"coordinate columns do not match: {axis} and x differ for landmark(s) "
                f"{', '.join(map(str, lacking[:5]))}" + (" …" if len(lacking) > 5 else ""),
            )
    ordered = sorted(indices)
    first = ordered[0]
    if first not in (0, 1) or ordered != list(range(first, first + len(ordered))):
        raise InputError(
            source,
            f"landmark numbers must run 0 … n-1 (or 1 … n) without gaps; found {len(ordered)} "
            f"numbers from {ordered[0]} to {ordered[-1]}",
        )
    try:
        scheme = scheme_for_points(len(ordered))
    except DataError:
        raise InputError(
            source,
            f"holds {len(ordered)} landmarks per frame; emoflow reads the landmark schemes "
            f"{supported()}",
        ) from None
    triples = [(by_axis["x"][i], by_axis["y"][i], by_axis["z"].get(i)) for i in ordered]
    return triples, scheme


def detect_layout(columns: Sequence[str], source: str | Path, layout: str = "auto") -> CsvLayout:
    """The layout of a landmark table with these (stripped) column names.

    Parameters
    ----------
    columns
        The header, leading and trailing spaces removed.
    source
        The file, for messages.
    layout
        One of :data:`CSV_LAYOUTS`; ``auto`` recognises OpenFace (``success``,
        ``confidence``, ``timestamp``) and py-feat (``input``, ``FaceScore``) by their columns.

    Raises
    ------
    InputError
        No or inconsistent coordinate columns, a point count of no known scheme, or columns
        the chosen layout needs are missing; the message names what was found.
    """
    if layout not in CSV_LAYOUTS:
        raise InputError(
            source, f"landmark layout must be one of {', '.join(CSV_LAYOUTS)}, got {layout!r}"
        )
    names = set(columns)
    if layout == "auto":
        if _OPENFACE_MARKERS <= names:
            layout = "openface"
        elif _PYFEAT_MARKERS <= names:
            layout = "pyfeat"
        else:
            layout = "wide"
    if layout == "openface":
        missing = sorted(_OPENFACE_MARKERS - names)
        if missing:
            raise InputError(source, f"is not an OpenFace 2.0 table: no column(s) {missing}")
        two_d = _numbered(columns, source, case_sensitive=True, axes="xy")
        if two_d["x"]:
            triples, scheme = _triples(two_d, source)
            units = "pixels"
        else:
            three_d = _numbered(columns, source, case_sensitive=True, axes="XYZ")
            triples, scheme = _triples(three_d, source)
            units = "millimetres"
        return CsvLayout(
            "openface",
            triples,
            scheme,
            pixels=True,
            units=units,
            video_column="video_id" if "video_id" in names else None,
            found_column="success",
            score_column="confidence",
            first_frame=1,
        )
    if layout == "pyfeat":
        missing = sorted({"input", "frame"} - names)
        if missing:
            raise InputError(source, f"is not a py-feat table: no column(s) {missing}")
        two_d = _numbered(columns, source, case_sensitive=True, axes="xy")
        triples, scheme = _triples(two_d, source)
        return CsvLayout(
            "pyfeat",
            triples,
            scheme,
            pixels=True,
            units="pixels",
            video_column="input",
            score_column="FaceScore" if "FaceScore" in names else None,
        )
    triples, scheme = _triples(_numbered(columns, source, case_sensitive=False), source)
    return CsvLayout(
        "wide",
        triples,
        scheme,
        video_column="video_id" if "video_id" in names else None,
        found_column="face_found" if "face_found" in names else None,
    )

"""Column layouts of one-row-per-frame landmark tables from other trackers.

:func:`detect_layout` reads a CSV header and says which columns hold what, and
:func:`parse_landmark_csv` reads the file into a table of those columns:

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
from typing import Any

import polars as pl

from emoflow.datasets.base import csv_separator
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


def coordinate_columns(
    columns: Sequence[str], source: str | Path
) -> list[tuple[str, str, str | None]]:
    """The ``(x, y, z)`` column names of each landmark of a wide one-row-per-frame table.

    Accepts ``x_0 … x_477, y_0 …[, z_0 …]`` and ``x0, y0[, z0], x1, …`` (any case, any column
    order), ``0_x``/``landmark_0_x``, and 1-based numbering, for the point count of a known
    landmark scheme (:mod:`emoflow.schemes`: 468, 478, 68); ``z`` is ``None`` for 2-D
    landmarks.

    Raises
    ------
    InputError
        No coordinate columns, an axis missing for some landmarks, ambiguous names, or a
        landmark count of no known scheme; ``source`` is named.
    """
    return detect_layout([name.strip() for name in columns], source, "wide").triples


def parse_landmark_csv(path: str | Path, layout: str = "auto") -> tuple[pl.DataFrame, CsvLayout]:
    """Read a one-row-per-frame landmark CSV/TSV and tell its layout
    (:func:`emoflow.landmarks.formats.detect_layout`).

    Column names lose their leading and trailing spaces (OpenFace writes ``" x_0"``);
    coordinates are Float64. A py-feat table gets a ``video_id`` column: the file name of each
    ``input`` without its suffix (the whole ``input`` when two inputs share a name). Tables of
    trackers that list several faces per frame (OpenFace ``face_id``, py-feat) keep the most
    confident face of each frame.

    Raises
    ------
    InputError
        The file is missing, empty, unparsable or has no usable coordinate columns.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(file, "does not exist" if not file.exists() else "is not a file")
    separator = csv_separator(file)
    try:
        raw_header = pl.read_csv(file, separator=separator, n_rows=0).columns
        header = [name.strip() for name in raw_header]
        if len(set(header)) != len(header):
            raise InputError(file, "has repeated column names")
        found = detect_layout(header, file, layout)
        overrides: dict[str, Any] = {name: pl.Float64 for name in found.coordinates}
        for name in ("video_id", "input"):
            if name in header:
                overrides[name] = pl.String
        if _spaced_values(file, separator):  # "1, 0.033, …": OpenFace's own spacing
            frame = _read_spaced(file, separator, header, overrides)
        else:
            frame = pl.read_csv(
                file,
                separator=separator,
                new_columns=header,
                schema_overrides=overrides,
                null_values=["", "nan", "NaN", "NA", "null"],
                infer_schema_length=10000,
            )
    except pl.exceptions.NoDataError as err:
        raise InputError(file, "landmark file is empty") from err
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as err:
        raise InputError(file, f"cannot be parsed as a landmark table ({err})") from err
    if found.name == "pyfeat":
        frame = _pyfeat_video_ids(frame)
    if found.name != "wide" and found.score_column is not None and frame.height:
        keys = [name for name in ("video_id", "frame") if name in frame.columns]
        if "frame" in keys:
            frame = frame.sort(
                found.score_column, descending=True, nulls_last=True, maintain_order=True
            ).unique(subset=keys, keep="first", maintain_order=True)
    return frame, found


def _spaced_values(file: Path, separator: str) -> bool:
    """Whether the first data row pads its values with spaces after the separator."""
    with file.open(encoding="utf-8", errors="replace") as lines:
        next(lines, None)
        row = next(lines, "")
    return f"{separator} " in row


def _read_spaced(
    file: Path, separator: str, header: list[str], overrides: dict[str, Any]
) -> pl.DataFrame:
    """Read a table whose values carry spaces after the separator: every column as text,
    stripped, then numbers where every value is one (the ``overrides`` as given)."""
    raw = pl.read_csv(file, separator=separator, new_columns=header, infer_schema=False)
    columns = []
    for name in raw.columns:
        text = raw[name].str.strip_chars()
        text = text.replace(["", "nan", "NaN", "NA", "null"], None)
        wanted = overrides.get(name)
        if wanted is not None:
            columns.append(text.cast(wanted))
            continue
        for dtype in (pl.Int64, pl.Float64):
            try:
                columns.append(text.cast(dtype))
                break
            except pl.exceptions.PolarsError:
                continue
        else:
            columns.append(text)
    return pl.DataFrame(columns)


def _pyfeat_video_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """A ``video_id`` per py-feat ``input``: its file name without suffix, unless ambiguous."""
    inputs = frame["input"].fill_null("").unique(maintain_order=True).to_list()
    stems = {value: Path(str(value).replace("\\", "/")).stem or str(value) for value in inputs}
    if len(set(stems.values())) != len(stems):
        stems = {value: str(value) for value in inputs}
    return frame.with_columns(
        pl.col("input")
        .fill_null("")
        .replace_strict(stems, return_dtype=pl.String)
        .alias("video_id")
    )

"""Reading landmark shards: files, rows, per-video records, one video as a dense array."""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from emoflow._tables import check_table, read_arrow
from emoflow.errors import DataError, InputError
from emoflow.schemes import get_scheme
from emoflow.storage.landmark_table.schema import (
    LANDMARK_SCHEMA,
    META_VIDEOS,
    REQUIRED_COLUMNS,
    landmark_schema,
    parse_video_records,
    table_scheme,
)

REEXTRACT = (
    "delete it and rerun the extract_landmarks job that wrote it "
    "(snakemake --forcerun extract_landmarks), or re-extract it with emoflow"
)
"""What to do about a damaged landmark shard."""


def expand_paths(
    paths: str | Path | Sequence[str | Path],
    folder_files: Callable[[Path], list[Path]],
    empty_folder: str,
) -> list[Path]:
    """Expand files, folders and glob patterns (strings) to a list of files.

    ``folder_files`` lists the files taken from a folder; ``empty_folder`` is the error when
    it lists none.
    """
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise DataError("no landmark files given")
    files: list[Path] = []
    for item in items:
        text = str(item)
        if isinstance(item, str) and any(char in text for char in "*?["):
            pattern_matches = sorted(Path(match) for match in glob.glob(text))
            if not pattern_matches:
                raise InputError(text, "glob pattern matches no landmark file")
            files.extend(pattern_matches)
        elif Path(text).is_dir():
            found = folder_files(Path(text))
            if not found:
                raise InputError(text, empty_folder)
            files.extend(found)
        elif not Path(text).exists():
            raise InputError(text, "does not exist")
        else:
            files.append(Path(text))
    return files


def landmark_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """Expand files, folders (their ``*.parquet``) and glob patterns to a list of files."""
    return expand_paths(
        paths,
        lambda folder: sorted(folder.glob("*.parquet")),
        "folder holds no .parquet landmark file",
    )


def _as_string(data_type: pa.DataType) -> pa.DataType:
    """``string`` for ``large_string`` (what Polars writes), the type itself otherwise."""
    return pa.string() if data_type == pa.large_string() else data_type


def checked_schema(file: Path) -> pa.Schema:
    """The Arrow schema of a landmarks file, or an InputError naming the file.

    The file's whole-file digest is checked first (:func:`emoflow._tables.check_table`:
    its footer, where every video's record is kept, included). The
    :data:`REQUIRED_COLUMNS` must be present; every column of :data:`LANDMARK_SCHEMA`
    that is present must have its type, with as many points per face as the file's landmark
    scheme (``emoflow.scheme``, :mod:`emoflow.schemes`) has.
    """
    check_table(file, REEXTRACT)
    try:
        schema = pq.read_schema(file)
    except (OSError, pa.ArrowException, UnicodeDecodeError) as err:
        raise InputError(file, f"not a readable Parquet file ({err})") from err
    try:
        expected = landmark_schema(get_scheme(table_scheme(schema)).n_points)
    except DataError as err:
        raise InputError(file, str(err)) from err
    for field in expected:
        if field.name not in schema.names:
            if field.name not in REQUIRED_COLUMNS:
                continue
            raise InputError(file, f"not a landmarks file: column {field.name!r} is missing")
        actual = schema.field(field.name).type
        if not (actual.equals(field.type) or (field.type == pa.string() == _as_string(actual))):
            raise InputError(
                file,
                f"not a landmarks file: column {field.name!r} is {actual}, expected {field.type}",
            )
    return schema


def read_landmarks(paths: str | Path | Sequence[str | Path]) -> pl.DataFrame:
    """Read one or many landmark shard files into one Polars frame.

    Parameters
    ----------
    paths
        A file, a folder (all its ``*.parquet``), a glob pattern (string), or a sequence of
        these.

    Returns
    -------
    polars.DataFrame
        The rows of all files, in file order, with the columns of :data:`LANDMARK_SCHEMA`;
        ``landmarks`` is ``Array(Float32, shape=(n_points, 3))`` (478 for MediaPipe). Columns
        a file lacks (those added after it was written) are null.

    Raises
    ------
    DataError
        The files hold landmarks of different schemes.
    """
    files = landmark_files(paths)
    frames = []
    scheme: str | None = None
    for file in files:
        file_schema = checked_schema(file)
        file_scheme = table_scheme(file_schema)
        if scheme is None:  # the columns every file is read into: those of the first's scheme
            scheme = file_scheme
            # an empty table from no batches: Schema.empty_table() would import pandas (0.2 s)
            empty = pa.Table.from_batches([], schema=landmark_schema(get_scheme(scheme).n_points))
            expected = pl.DataFrame(empty).schema
        elif file_scheme != scheme:
            raise DataError(
                f"{file} holds {file_scheme} landmarks, the files before it {scheme}: "
                "landmark tables read together must share one scheme"
            )
        present = [name for name in LANDMARK_SCHEMA.names if name in file_schema.names]
        # checked_schema checked the file's digests
        arrow = read_arrow(file, columns=present, remedy=REEXTRACT, digests_checked=True)
        frame = cast(pl.DataFrame, pl.from_arrow(arrow))
        frame = frame.with_columns(
            pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in expected.items()
            if name not in frame.columns
        )
        frames.append(frame.select(expected.names()).cast(expected))
    return pl.concat(frames, how="vertical")


def landmark_scheme(paths: str | Path | Sequence[str | Path]) -> str:
    """The landmark scheme of landmark files (``mediapipe_478`` for files without one).

    Raises
    ------
    DataError
        The files record different schemes.
    """
    schemes: dict[str, Path] = {}
    for file in landmark_files(paths):
        schemes.setdefault(table_scheme(checked_schema(file)), file)
    if len(schemes) > 1:
        listed = ", ".join(f"{name} ({file})" for name, file in schemes.items())
        raise DataError(f"landmark tables of different schemes cannot be used together: {listed}")
    return next(iter(schemes))


def read_video_records(paths: str | Path | Sequence[str | Path]) -> dict[str, dict[str, Any]]:
    """Merge the ``emoflow.videos`` metadata of landmark files: ``video_id`` → record.

    The records include the videos that failed (with their ``error``), which have no rows.

    Raises
    ------
    DataError
        The same ``video_id`` appears in two files.
    """
    records: dict[str, dict[str, Any]] = {}
    origin: dict[str, Path] = {}
    for file in landmark_files(paths):
        metadata = checked_schema(file).metadata or {}
        raw = metadata.get(META_VIDEOS.encode())
        if raw is None:
            raise InputError(file, f"schema metadata lacks {META_VIDEOS!r}")
        for video_id, record in parse_video_records(raw, file).items():
            if video_id in records:
                raise DataError(f"video_id {video_id!r} is in both {origin[video_id]} and {file}")
            records[video_id] = record
            origin[video_id] = file
    return records


def landmarks_array(table: pl.DataFrame, video_id: str) -> tuple[np.ndarray, np.ndarray]:
    """One video's landmarks as a dense array, frames in order.

    Parameters
    ----------
    table
        A landmarks frame, e.g. from :func:`read_landmarks`.
    video_id
        The video to take.

    Returns
    -------
    landmarks
        ``(n_frames, n_points, 3)`` float32, NaN where no face was found (and for frames absent
        from ``table``); ``n_frames`` is the highest frame number plus one.
    found_mask
        ``(n_frames,)`` bool, True where a face was found.

    Raises
    ------
    DataError
        ``video_id`` has no rows, or a frame number appears twice.
    """
    rows = table.filter(pl.col("video_id") == video_id)
    if rows.height == 0:
        raise DataError(
            f"video_id {video_id!r} has no rows in the landmarks table (not extracted, "
            "unreadable or without any face)"
        )
    frame_numbers = rows["frame"].to_numpy().astype(np.int64)
    if np.unique(frame_numbers).size != frame_numbers.size:
        raise DataError(f"video_id {video_id!r} has duplicate frame numbers in the table")
    n_frames = int(frame_numbers.max()) + 1
    n_points = cast(pl.Array, rows.schema["landmarks"]).shape[0]
    landmarks = np.full((n_frames, n_points, 3), np.nan, dtype=np.float32)
    found_mask = np.zeros(n_frames, dtype=bool)
    found_mask[frame_numbers] = rows["face_found"].to_numpy()
    present = rows["landmarks"].is_not_null().to_numpy()
    if present.any():
        landmarks[frame_numbers[present]] = rows.filter(pl.Series(present))["landmarks"].to_numpy()
    return landmarks, found_mask

"""Which videos to score: one file or frame folder, a folder of them, a manifest or a list.

:func:`find_videos` turns what the user names into :class:`VideoItem` values, each with a
unique id (the output's ``video_id``), an optional time window and, where the input lists
one, the true emotion.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

from emoflow.errors import InputError
from emoflow.video import VIDEO_SUFFIXES, VideoItem, frame_files, natural_key

LIST_SUFFIXES = frozenset({".csv", ".tsv", ".tab"})
"""File name endings of a video list (CSV/TSV with a ``path`` column)."""


def _is_frame_folder(folder: Path) -> bool:
    return bool(frame_files(folder))


def check_unique(sources: list[VideoItem], origin: str | Path, fix: str) -> list[VideoItem]:
    counts = Counter(source.video_id for source in sources)
    duplicates = sorted(video_id for video_id, count in counts.items() if count > 1)
    if duplicates:
        listed = ", ".join(duplicates[:5]) + (
            f" (and {len(duplicates) - 5} more)" if len(duplicates) > 5 else ""
        )
        raise InputError(origin, f"duplicate video_id(s) {listed}; {fix}")
    return sources


def _optional_float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _sources_from_table(table: pl.DataFrame, origin: Path, base: Path | None) -> list[VideoItem]:
    """Videos of a manifest or video list (``path`` column; optional id, times, label)."""
    if "path" not in table.columns:
        raise InputError(
            origin, f"lacks a 'path' column; found {', '.join(table.columns) or 'no columns'}"
        )
    label_column = next((name for name in ("emotion", "label") if name in table.columns), None)
    sources = []
    for line, row in enumerate(table.iter_rows(named=True), start=2):
        path = row["path"]
        if path is None or str(path).strip() == "":
            raise InputError(origin, f"empty 'path' on line {line}")
        path = str(path).strip()
        if base is not None and not Path(path).expanduser().is_absolute():
            path = str(base / Path(path).expanduser())
        video_id = row.get("video_id")
        if video_id is None or str(video_id).strip() == "":
            video_id = Path(path).stem
        try:
            start_s = _optional_float(row.get("start_s"))
            end_s = _optional_float(row.get("end_s"))
        except (TypeError, ValueError) as err:
            raise InputError(origin, f"start_s/end_s on line {line} are not seconds") from err
        label = row.get(label_column) if label_column else None
        sources.append(
            VideoItem(
                video_id=str(video_id).strip(),
                path=path,
                start_s=start_s,
                end_s=end_s,
                true_emotion=None if label is None else str(label),
            )
        )
    if not sources:
        raise InputError(origin, "lists no videos")
    return check_unique(sources, origin, "give every row its own video_id")


def _read_video_list(path: Path) -> pl.DataFrame:
    separator = "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","
    try:
        table = pl.read_csv(path, separator=separator, infer_schema=False)
    except pl.exceptions.NoDataError as err:
        raise InputError(path, "video list is empty") from err
    except (pl.exceptions.PolarsError, UnicodeDecodeError, OSError) as err:
        raise InputError(path, f"cannot be read as a CSV/TSV video list ({err})") from err
    return table.rename({name: name.strip() for name in table.columns})


def find_videos(source: str | Path, *, video_id: str | None = None) -> list[VideoItem]:
    """The videos named by ``source``.

    Parameters
    ----------
    source
        A video file or frame folder (one video); a folder of video files and/or frame
        folders (each one video, in natural name order); a manifest (``.parquet``, e.g.
        ``results/manifest.parquet``); or a video list (``.csv``/``.tsv`` with a ``path``
        column, paths relative to the list, optional ``video_id``, ``start_s``, ``end_s``,
        ``label``).
    video_id
        Id of a single video (default: its file name without suffix).

    Raises
    ------
    InputError
        The source does not exist, a folder holds no video, a list lacks ``path``, or two
        videos share an id (the source is named).
    """
    path = Path(source)
    if not path.exists():
        raise InputError(path, "does not exist")
    if path.is_dir():
        if _is_frame_folder(path):
            return [VideoItem(video_id or path.name, str(path))]
        entries = sorted(path.iterdir(), key=lambda entry: natural_key(entry.name))
        sources = [
            VideoItem(entry.stem if entry.is_file() else entry.name, str(entry))
            for entry in entries
            if not entry.name.startswith(".")
            and (
                (entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES)
                or (entry.is_dir() and _is_frame_folder(entry))
            )
        ]
        if not sources:
            raise InputError(
                path,
                "folder holds no video files "
                f"({', '.join(sorted(VIDEO_SUFFIXES))}), frame folders or image frames",
            )
        return check_unique(
            sources, path, "rename the files so that their names differ before the suffix"
        )
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        from emoflow.storage.manifest import read_manifest

        manifest = read_manifest(path, required_columns=("path",))
        return _sources_from_table(manifest, path, base=None)
    if suffix in LIST_SUFFIXES:
        return _sources_from_table(_read_video_list(path), path, base=path.parent)
    return [VideoItem(video_id or path.stem, str(path))]


def names_one_video(path: Path) -> bool:
    """Whether ``path`` is one video (a file or frame folder), not a folder or list of them."""
    if path.is_dir():
        return _is_frame_folder(path)
    return path.suffix.lower() not in {".parquet", *LIST_SUFFIXES}


__all__ = [
    "LIST_SUFFIXES",
    "VIDEO_SUFFIXES",
    "check_unique",
    "find_videos",
    "names_one_video",
]

"""Manifests: one table listing every video of a data set with its subject and emotion label.

A manifest is a Parquet file sorted by ``video_id`` with at least the columns of
:data:`MANIFEST_SCHEMA`; adapters add their own columns after them. ``path`` is absolute or
relative to the working directory: paths in label files are taken relative to the label
file's folder and rewritten so that they resolve from the working directory. Columns the
later stages honour: ``start_s``/``end_s`` (time window of a video, seconds) and
``landmarks_format`` (with ``landmarks_fps``, ``landmarks_width``, ``landmarks_height`` and
``landmarks_units``: the row's ``path`` is a precomputed landmark file to import).

Adapters (options are passed as ``options`` of :func:`build_manifest`)
--------------------------------------------------------------------
``demo``
    A demo folder's ``labels.csv`` (``video_id, path, subject, emotion, repetition,
    intensity``). The source may be the folder or the CSV file itself. No options.
``csv``
    Any CSV or TSV with columns ``path``, ``label`` and ``subject``; optional ``video_id``
    (default: the file name without its suffix), ``start_s`` and ``end_s`` (seconds; the
    landmark stage extracts only that window). Other columns are kept. No options.
``ravdess``
    The RAVDESS video files, found recursively under the source (``Actor_01/ …
    Actor_24/``), labelled from their names ``MM-VV-EE-II-SS-RR-AA.mp4``: modality (01
    full audio-video, 02 video-only, 03 audio-only), vocal channel (01 speech, 02 song),
    emotion (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust,
    08 surprised), intensity (01 normal, 02 strong), statement (01, 02), repetition (01, 02),
    actor (01–24; the subject). Options: ``modalities`` (default ``[video_only]``: the
    full-AV file of a recording has the same frames), ``vocal_channels`` (default both),
    ``intensities`` (default both), ``actors`` (numbers; default all), ``label_map``
    (RAVDESS emotion name or code → emotion name, or null to drop; merged over
    :data:`RAVDESS_LABEL_MAP`). Values may be names (``video_only``) or codes (``"02"``).
``ckplus``
    CK+ (extended Cohn-Kanade): the source holds ``cohn-kanade-images/S005/001/*.png``
    (one folder of frames per sequence, neutral to peak) and
    ``Emotion/S005/001/S005_001_00000011_emotion.txt`` (one number, 0 neutral, 1 anger,
    2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness, 7 surprise). Sequences without an
    emotion file are skipped and counted in the log; ``path`` is the sequence folder.
    Options: ``label_map`` (CK+ name or code → emotion name, or null to drop; merged over
    :data:`CKPLUS_LABEL_MAP`), ``subjects`` (e.g. ``[S005, S010]``; default all).
``landmarks_csv``, ``landmarks_parquet``
    Precomputed landmarks instead of videos: a label table like the ``csv`` adapter's whose
    ``path`` column names landmark files — one-row-per-frame CSVs (``landmarks_csv``) or
    Parquet in emoflow's landmark schema (``landmarks_parquet``); see
    :func:`emoflow.landmarks.import_landmarks`. A file holding several videos (a
    ``video_id`` column) is listed once per video, with that ``video_id``. The landmark
    stage then imports instead of running Face Mesh. Options (``landmarks_csv``): ``fps``
    (frame rate of files without a time column, default 30), ``width`` and ``height``
    (frame size in pixels) and ``units`` (``normalised`` or ``pixels``); the label table may
    give ``fps``, ``width`` and ``height`` per row instead.

For ``ravdess`` and ``ckplus``, whose label sets are fixed by the data set, videos whose
emotion is not among the configured ``emotions`` are dropped (counted in the log); for the
other adapters such a label is an error.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from emoflow._atomic import atomic_path
from emoflow.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

MANIFEST_SCHEMA = pl.Schema(
    {"video_id": pl.String, "path": pl.String, "subject": pl.String, "emotion": pl.String}
)
"""Columns every manifest has, first and in this order; adapter columns follow."""
MANIFEST_COLUMNS: tuple[str, ...] = tuple(MANIFEST_SCHEMA.names())
DEMO_LABELS = "labels.csv"
"""Name of the label file inside a demo folder."""
MAX_LISTED = 5
"""How many offending values an error message lists before summarising the rest."""


def _listing(values: Sequence[str]) -> str:
    """``a, b, c`` — at most :data:`MAX_LISTED` values, then how many more."""
    shown = ", ".join(str(value) for value in values[:MAX_LISTED])
    more = len(values) - MAX_LISTED
    return f"{shown} (and {more} more)" if more > 0 else shown


def _separator(label_file: Path) -> str:
    """Tab for ``.tsv``/``.tab`` files or a header with tabs and no commas; comma otherwise."""
    if label_file.suffix.lower() in {".tsv", ".tab"}:
        return "\t"
    with label_file.open(encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    return "\t" if "\t" in header and "," not in header else ","


def _read_label_file(
    label_file: Path, required: Sequence[str], text_columns: Sequence[str]
) -> pl.DataFrame:
    """Read a CSV/TSV label file, checking that it exists and has the required columns.

    Column names are stripped of surrounding spaces; ``text_columns`` are read as strings
    (so ``01`` stays ``01``) with surrounding spaces stripped, other columns are inferred.
    """
    if not label_file.is_file():
        problem = "is a folder, not a label file" if label_file.is_dir() else "does not exist"
        raise InputError(label_file, f"label file {problem}")
    separator = _separator(label_file)
    try:
        header = pl.read_csv(label_file, separator=separator, n_rows=0).columns
        overrides = {name: pl.String for name in header if name.strip() in text_columns}
        table = pl.read_csv(
            label_file,
            separator=separator,
            schema_overrides=overrides,
            infer_schema_length=None,
        )
    except pl.exceptions.NoDataError as err:
        raise InputError(label_file, "label file is empty") from err
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as err:
        raise InputError(label_file, f"cannot be parsed as a label table ({err})") from err
    table = table.rename({name: name.strip() for name in table.columns})
    missing = [name for name in required if name not in table.columns]
    if missing:
        raise InputError(
            label_file,
            f"missing column(s) {', '.join(missing)}; found {', '.join(table.columns)}",
        )
    return table.with_columns(
        pl.col(name).str.strip_chars() for name in text_columns if name in table.columns
    )


def _check_filled(table: pl.DataFrame, label_file: Path, columns: Sequence[str]) -> None:
    """Raise if a required column has empty cells, naming the lines (header is line 1)."""
    for name in columns:
        empty = table.select(
            (pl.col(name).is_null() | (pl.col(name) == "")).arg_true() + 2
        ).to_series()
        if empty.len():
            raise InputError(
                label_file,
                f"column {name!r} is empty on line(s) {_listing([str(n) for n in empty])}",
            )


def _resolve_paths(table: pl.DataFrame, base: Path) -> pl.DataFrame:
    """Rewrite relative ``path`` values (relative to ``base``) to resolve from the CWD."""

    def resolve(value: str) -> str:
        path = Path(value).expanduser()
        return str(path) if path.is_absolute() else os.path.normpath(base / path)

    return table.with_columns(pl.col("path").map_elements(resolve, return_dtype=pl.String))


def _no_options(adapter: str, options: Mapping[str, Any], allowed: Sequence[str] = ()) -> None:
    """Raise ConfigError for any option ``adapter`` does not take."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        takes = f"it takes {', '.join(allowed)}" if allowed else "it takes none"
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for adapter {adapter!r}; {takes}"
        )


def _demo(source: Path, options: Mapping[str, Any]) -> tuple[Path, pl.DataFrame]:
    """The ``demo`` adapter: a demo folder's ``labels.csv``."""
    _no_options("demo", options)
    label_file = source / DEMO_LABELS if source.is_dir() else source
    table = _read_label_file(label_file, MANIFEST_COLUMNS, text_columns=MANIFEST_COLUMNS)
    _check_filled(table, label_file, MANIFEST_COLUMNS)
    return label_file, _resolve_paths(table, label_file.parent)


def _csv(source: Path, options: Mapping[str, Any]) -> tuple[Path, pl.DataFrame]:
    """The ``csv`` adapter: ``path``, ``label``, ``subject`` (+ ``video_id``, times)."""
    _no_options("csv", options)
    return _label_table(source)


def _label_table(source: Path) -> tuple[Path, pl.DataFrame]:
    """Read and check a ``path, label, subject`` table (the ``csv`` adapter's format)."""
    label_file = source
    text_columns = ("video_id", "path", "label", "subject")
    table = _read_label_file(label_file, ("path", "label", "subject"), text_columns)
    if "emotion" in table.columns:
        raise InputError(
            label_file, "has both 'label' and 'emotion' columns; keep one, named 'label'"
        )
    _check_filled(table, label_file, ("path", "label", "subject"))
    table = table.rename({"label": "emotion"})
    if "video_id" in table.columns:
        _check_filled(table, label_file, ("video_id",))
    else:
        table = table.with_columns(
            pl.col("path")
            .map_elements(lambda value: Path(value).stem, return_dtype=pl.String)
            .alias("video_id")
        )
    for name in ("start_s", "end_s"):
        if name in table.columns:
            try:
                table = table.with_columns(pl.col(name).cast(pl.Float64, strict=True))
            except pl.exceptions.PolarsError as err:
                raise InputError(label_file, f"column {name!r} must hold seconds") from err
    if "start_s" in table.columns:
        negative = table.filter(pl.col("start_s") < 0)["video_id"].to_list()
        if negative:
            raise InputError(label_file, f"negative start_s for {_listing(negative)}")
    if "end_s" in table.columns:
        not_positive = table.filter(pl.col("end_s") <= 0)["video_id"].to_list()
        if not_positive:
            raise InputError(label_file, f"end_s is not after 0 for {_listing(not_positive)}")
    if "start_s" in table.columns and "end_s" in table.columns:
        reversed_times = table.filter(pl.col("end_s") <= pl.col("start_s"))["video_id"]
        if reversed_times.len():
            raise InputError(
                label_file, f"end_s is not after start_s for {_listing(reversed_times.to_list())}"
            )
    return label_file, _resolve_paths(table, label_file.parent)


# --- RAVDESS -------------------------------------------------------------------------------

RAVDESS_MODALITIES: dict[str, str] = {"01": "full_av", "02": "video_only", "03": "audio_only"}
RAVDESS_VOCAL_CHANNELS: dict[str, str] = {"01": "speech", "02": "song"}
RAVDESS_EMOTIONS: dict[str, str] = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
RAVDESS_INTENSITIES: dict[str, str] = {"01": "normal", "02": "strong"}
RAVDESS_STATEMENTS: dict[str, str] = {
    "01": "Kids are talking by the door",
    "02": "Dogs are sitting by the door",
}
RAVDESS_LABEL_MAP: dict[str, str | None] = {
    "neutral": "neutral",
    "calm": "calm",
    "happy": "happiness",
    "sad": "sadness",
    "angry": "anger",
    "fearful": "fear",
    "disgust": "disgust",
    "surprised": "surprise",
}
"""Default RAVDESS emotion → emoflow emotion name (the names of the demo and CK+ maps)."""
RAVDESS_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
"""A RAVDESS file name without suffix: modality, vocal channel, emotion, intensity,
statement, repetition, actor."""
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
"""File name endings (lower case) the ``ravdess`` adapter takes for video files."""
RAVDESS_ACTORS: dict[str, str] = {f"{n:02d}": f"{n:02d}" for n in range(1, 25)}
RAVDESS_PARTS: tuple[tuple[str, Mapping[str, str]], ...] = (
    ("modality", RAVDESS_MODALITIES),
    ("vocal channel", RAVDESS_VOCAL_CHANNELS),
    ("emotion", RAVDESS_EMOTIONS),
    ("intensity", RAVDESS_INTENSITIES),
    ("statement", RAVDESS_STATEMENTS),
    ("repetition", {"01": "1", "02": "2"}),
    ("actor", RAVDESS_ACTORS),
)
"""The seven fields of a RAVDESS file name with their codes."""
RAVDESS_OPTIONS = ("modalities", "vocal_channels", "intensities", "actors", "label_map")


def _selected_codes(
    option: str, values: Any, codes: Mapping[str, str], default: Sequence[str]
) -> set[str]:
    """Codes chosen by a subset option whose values are names or codes of ``codes``."""
    if values is None:
        values = default
    if isinstance(values, str | int):
        values = [values]
    by_name = {name: code for code, name in codes.items()}
    chosen = set()
    for value in values:
        text = f"{value:02d}" if isinstance(value, int) else str(value).strip()
        if text in codes:
            chosen.add(text)
        elif text in by_name:
            chosen.add(by_name[text])
        else:
            valid = ", ".join(f"{name} ({code})" for code, name in codes.items())
            raise ConfigError(f"{option}: unknown value {value!r}; valid: {valid}")
    return chosen


def _label_map(
    option_value: Any, names: Mapping[str, str], default: Mapping[str, str | None], what: str
) -> dict[str, str | None]:
    """Merge a user label map (keys: data set names or codes) over ``default``.

    Returns data set emotion name → emoflow emotion name (``None``: drop those videos).
    """
    merged = dict(default)
    if option_value is None:
        return merged
    if not isinstance(option_value, Mapping):
        raise ConfigError(f"label_map for {what} must be a mapping, got {option_value!r}")
    codes = {str(code): name for code, name in names.items()}
    for key, value in option_value.items():
        text = str(key).strip()
        if isinstance(key, int | float) and not isinstance(key, bool):
            text = str(int(key))
        if len(text) == 1 and f"0{text}" in codes:
            text = f"0{text}"
        name = codes.get(text, text)
        if name not in default:
            valid = ", ".join(f"{name} ({code})" for code, name in names.items())
            raise ConfigError(f"label_map for {what}: unknown label {key!r}; valid: {valid}")
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise ConfigError(
                f"label_map for {what}: {key!r} must map to an emotion name or null, got {value!r}"
            )
        merged[name] = value.strip() if isinstance(value, str) else None
    return merged


def _ravdess(source: Path, options: Mapping[str, Any]) -> tuple[Path, pl.DataFrame]:
    """The ``ravdess`` adapter: labels from RAVDESS file names (see the module notes)."""
    _no_options("ravdess", options, RAVDESS_OPTIONS)
    if not source.is_dir():
        problem = "does not exist" if not source.exists() else "is not a folder"
        raise InputError(source, f"RAVDESS folder {problem}")
    modalities = _selected_codes(
        "modalities", options.get("modalities"), RAVDESS_MODALITIES, ["video_only"]
    )
    if "03" in modalities:
        raise ConfigError("modalities: audio_only (03) RAVDESS files have no video")
    channels = _selected_codes(
        "vocal_channels", options.get("vocal_channels"), RAVDESS_VOCAL_CHANNELS, ["01", "02"]
    )
    intensities = _selected_codes(
        "intensities", options.get("intensities"), RAVDESS_INTENSITIES, ["01", "02"]
    )
    actors = _selected_codes("actors", options.get("actors"), RAVDESS_ACTORS, list(RAVDESS_ACTORS))
    label_map = _label_map(options.get("label_map"), RAVDESS_EMOTIONS, RAVDESS_LABEL_MAP, "ravdess")
    rows: list[dict[str, Any]] = []
    n_named = 0
    found_modalities: set[str] = set()
    for file in sorted(source.rglob("*")):
        if file.name.startswith(".") or file.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        match = RAVDESS_NAME.match(file.stem)
        if match is None or not file.is_file():
            continue
        modality, channel, emotion, intensity, statement, repetition, actor = match.groups()
        for (part, codes), code in zip(RAVDESS_PARTS, match.groups(), strict=True):
            if code not in codes:
                valid = ", ".join(codes)
                raise InputError(
                    file, f"not a valid RAVDESS name: {part} code {code} is not one of {valid}"
                )
        n_named += 1
        found_modalities.add(RAVDESS_MODALITIES[modality])
        folder = re.fullmatch(r"Actor_(\d{2})", file.parent.name)
        if folder is not None and folder.group(1) != actor:
            logger.warning(
                "%s: the file name says actor %s but it lies in %s; using actor %s",
                file,
                actor,
                file.parent.name,
                actor,
            )
        if not (
            modality in modalities
            and channel in channels
            and intensity in intensities
            and actor in actors
        ):
            continue
        ravdess_emotion = RAVDESS_EMOTIONS[emotion]
        rows.append(
            {
                "video_id": file.stem,
                "path": str(file),
                "subject": actor,
                "emotion": label_map[ravdess_emotion],
                "modality": RAVDESS_MODALITIES[modality],
                "vocal_channel": RAVDESS_VOCAL_CHANNELS[channel],
                "ravdess_emotion": ravdess_emotion,
                "intensity": RAVDESS_INTENSITIES[intensity],
                "statement": statement,
                "repetition": int(repetition),
                "actor": int(actor),
                "actor_sex": "female" if int(actor) % 2 == 0 else "male",
            }
        )
    if n_named == 0:
        raise InputError(
            source,
            "holds no RAVDESS video named MM-VV-EE-II-SS-RR-AA (e.g. 02-01-06-01-02-01-12.mp4) "
            "in any subfolder",
        )
    if not rows:
        raise InputError(
            source,
            f"none of its {n_named} RAVDESS videos matches the selection (modalities "
            f"{', '.join(sorted(RAVDESS_MODALITIES[c] for c in modalities))}; the folder holds "
            f"{', '.join(sorted(found_modalities))})",
        )
    table = pl.DataFrame(rows, schema_overrides={"emotion": pl.String})
    logger.info("RAVDESS %s: %d of %d videos selected", source, table.height, n_named)
    return source, _drop_unmapped(table, source)


def _drop_unmapped(table: pl.DataFrame, source: Path) -> pl.DataFrame:
    """Drop the rows whose label the label map sends to null, logging their count."""
    unmapped = table.filter(pl.col("emotion").is_null())
    if unmapped.height:
        logger.info(
            "%s: %d videos dropped by the label map (null emotion)", source, unmapped.height
        )
    return table.filter(pl.col("emotion").is_not_null())


# --- CK+ -------------------------------------------------------------------------------------

CKPLUS_EMOTIONS: dict[str, str] = {
    "0": "neutral",
    "1": "anger",
    "2": "contempt",
    "3": "disgust",
    "4": "fear",
    "5": "happy",
    "6": "sadness",
    "7": "surprise",
}
"""CK+ emotion codes (the number in a sequence's ``*_emotion.txt``)."""
CKPLUS_LABEL_MAP: dict[str, str | None] = {
    "neutral": "neutral",
    "anger": "anger",
    "contempt": "contempt",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happiness",
    "sadness": "sadness",
    "surprise": "surprise",
}
"""Default CK+ emotion → emoflow emotion name."""
CKPLUS_IMAGES = "cohn-kanade-images"
CKPLUS_LABELS = "Emotion"
CKPLUS_OPTIONS = ("label_map", "subjects")
_CKPLUS_PEAK = re.compile(r"_(\d+)_emotion$")


def _ckplus_code(emotion_file: Path) -> str:
    """The emotion code (``"0"`` … ``"7"``) in a CK+ emotion file."""
    text = emotion_file.read_text(encoding="utf-8", errors="replace").strip()
    try:
        value = float(text)
    except ValueError as err:
        raise InputError(
            emotion_file, f"emotion file does not hold a number: {text[:40]!r}"
        ) from err
    if not value.is_integer() or str(int(value)) not in CKPLUS_EMOTIONS:
        raise InputError(emotion_file, f"emotion code {text} is not one of 0 … 7")
    return str(int(value))


def _ckplus(source: Path, options: Mapping[str, Any]) -> tuple[Path, pl.DataFrame]:
    """The ``ckplus`` adapter: CK+ frame-folder sequences with their emotion files."""
    from emoflow.video import frame_files

    _no_options("ckplus", options, CKPLUS_OPTIONS)
    images = source / CKPLUS_IMAGES
    labels = source / CKPLUS_LABELS
    for folder in (images, labels):
        if not folder.is_dir():
            raise InputError(folder, "CK+ folder does not exist (expected under the source)")
    label_map = _label_map(options.get("label_map"), CKPLUS_EMOTIONS, CKPLUS_LABEL_MAP, "ckplus")
    wanted = options.get("subjects")
    subjects = None if wanted is None else {str(subject) for subject in wanted}
    rows: list[dict[str, Any]] = []
    n_unlabelled = 0
    n_empty = 0
    for subject_dir in sorted(images.iterdir()):
        if not subject_dir.is_dir() or subject_dir.name.startswith("."):
            continue
        if subjects is not None and subject_dir.name not in subjects:
            continue
        for sequence_dir in sorted(subject_dir.iterdir()):
            if not sequence_dir.is_dir() or sequence_dir.name.startswith("."):
                continue
            n_frames = len(frame_files(sequence_dir))
            if n_frames == 0:
                n_empty += 1
                continue
            emotion_dir = labels / subject_dir.name / sequence_dir.name
            emotion_files = (
                sorted(emotion_dir.glob("*_emotion.txt")) if emotion_dir.is_dir() else []
            )
            if not emotion_files:
                n_unlabelled += 1
                continue
            if len(emotion_files) > 1:
                names = ", ".join(file.name for file in emotion_files)
                raise InputError(emotion_dir, f"holds several emotion files: {names}")
            ckplus_emotion = CKPLUS_EMOTIONS[_ckplus_code(emotion_files[0])]
            peak = _CKPLUS_PEAK.search(emotion_files[0].stem)
            rows.append(
                {
                    "video_id": f"{subject_dir.name}_{sequence_dir.name}",
                    "path": str(sequence_dir),
                    "subject": subject_dir.name,
                    "emotion": label_map[ckplus_emotion],
                    "sequence": sequence_dir.name,
                    "ckplus_emotion": ckplus_emotion,
                    "n_frames": n_frames,
                    "peak_frame": int(peak.group(1)) if peak else None,
                }
            )
    logger.info(
        "CK+ %s: %d labelled sequences; %d without an emotion file skipped, %d without "
        "frames skipped",
        source,
        len(rows),
        n_unlabelled,
        n_empty,
    )
    if not rows:
        raise InputError(
            source,
            f"holds no labelled CK+ sequence ({n_unlabelled} sequences without an emotion "
            f"file under {CKPLUS_LABELS}/, {n_empty} without frames)",
        )
    table = pl.DataFrame(rows, schema_overrides={"emotion": pl.String, "peak_frame": pl.Int64})
    return source, _drop_unmapped(table, source)


# --- precomputed landmarks ------------------------------------------------------------------

LANDMARK_IMPORT_OPTIONS = ("fps", "width", "height", "units")
"""Options of the ``landmarks_csv`` adapter (per-row ``fps``, ``width``, ``height`` columns of
the label table take precedence)."""


def _landmark_label_table(
    source: Path, options: Mapping[str, Any], landmarks_format: str
) -> tuple[Path, pl.DataFrame]:
    """A ``csv``-style label table whose paths are precomputed landmark files."""
    from emoflow.landmarks import COORDINATE_UNITS

    adapter = f"landmarks_{landmarks_format}"
    allowed = LANDMARK_IMPORT_OPTIONS if landmarks_format == "csv" else ()
    _no_options(adapter, options, allowed)
    label_file, table = _label_table(source)
    table = table.with_columns(pl.lit(landmarks_format).alias("landmarks_format"))
    if landmarks_format != "csv":
        return label_file, table
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
                label_file, f"column {name!r} is not positive for {_listing(not_positive)}"
            )
    table = table.with_columns(pl.lit(units).alias("landmarks_units"))
    return label_file, table


def _landmarks_csv(source: Path, options: Mapping[str, Any]) -> tuple[Path, pl.DataFrame]:
    """The ``landmarks_csv`` adapter: labels of one-row-per-frame landmark CSV files."""
    return _landmark_label_table(source, options, "csv")


def _landmarks_parquet(source: Path, options: Mapping[str, Any]) -> tuple[Path, pl.DataFrame]:
    """The ``landmarks_parquet`` adapter: labels of landmark files in emoflow's schema."""
    return _landmark_label_table(source, options, "parquet")


ADAPTERS: dict[str, Callable[[Path, Mapping[str, Any]], tuple[Path, pl.DataFrame]]] = {
    "ckplus": _ckplus,
    "csv": _csv,
    "demo": _demo,
    "landmarks_csv": _landmarks_csv,
    "landmarks_parquet": _landmarks_parquet,
    "ravdess": _ravdess,
}
"""Adapter name → function reading a source and options into (label file, raw manifest)."""
FIXED_LABEL_ADAPTERS = frozenset({"ravdess", "ckplus"})
"""Adapters whose videos with emotions outside the configured ones are dropped, not an error."""


def _keep_emotions(table: pl.DataFrame, source: Path, emotions: Sequence[str]) -> pl.DataFrame:
    """Drop (and log) the rows whose emotion is not among ``emotions``."""
    outside = table.filter(~pl.col("emotion").is_in(list(emotions)))
    if outside.height:
        counts = outside.group_by("emotion").len().sort("emotion")
        listing = ", ".join(f"{row[0]} ({row[1]})" for row in counts.iter_rows())
        logger.info(
            "%s: %d videos dropped, their emotions are not configured: %s",
            source,
            outside.height,
            listing,
        )
    kept = table.filter(pl.col("emotion").is_in(list(emotions)))
    if kept.height == 0:
        found = ", ".join(sorted(table["emotion"].unique().to_list()))
        raise InputError(
            source,
            f"no video has one of the configured emotions ({', '.join(emotions)}); its "
            f"labels are {found}",
        )
    return kept


def _validate(
    table: pl.DataFrame,
    label_file: Path,
    *,
    emotions: Sequence[str] | None,
    check_files: bool,
) -> pl.DataFrame:
    """Check a raw manifest and return it sorted by ``video_id``, core columns first."""
    if table.height == 0:
        raise InputError(label_file, "lists no videos (the manifest would be empty)")
    counts = table.group_by("video_id").len().filter(pl.col("len") > 1).sort("video_id")
    if counts.height:
        duplicates = [f"{row[0]} ({row[1]} rows)" for row in counts.iter_rows()]
        raise InputError(label_file, f"duplicate video_id(s): {_listing(duplicates)}")
    if emotions is not None:
        allowed = list(dict.fromkeys(emotions))
        unknown = sorted(set(table["emotion"].unique().to_list()) - set(allowed))
        if unknown:
            raise InputError(
                label_file,
                f"label(s) {', '.join(unknown)} are not among the configured emotions; "
                f"allowed: {', '.join(allowed)}",
            )
    if check_files:
        paths = list(dict.fromkeys(table["path"].to_list()))
        missing = [path for path in paths if not Path(path).exists()]
        if missing:
            raise InputError(
                label_file, f"{len(missing)} listed video file(s) do not exist: {_listing(missing)}"
            )
    extras = [name for name in table.columns if name not in MANIFEST_COLUMNS]
    return table.select(*MANIFEST_COLUMNS, *extras).sort("video_id")


def build_manifest(
    adapter: str,
    source: str | Path,
    out_path: str | Path,
    *,
    emotions: Sequence[str] | None = None,
    check_files: bool = True,
    options: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """Read a data set's labels with an adapter, check them and write the manifest.

    Parameters
    ----------
    adapter
        One of :data:`ADAPTERS`: ``demo``, ``csv``, ``ravdess``, ``ckplus``,
        ``landmarks_csv``, ``landmarks_parquet`` (see the module notes).
    source
        What the adapter reads: a demo folder (or its ``labels.csv``), a CSV/TSV label file,
        the RAVDESS folder, or the CK+ folder.
    out_path
        The manifest Parquet file, written atomically.
    emotions
        Labels allowed. Any other label is an error, except for ``ravdess`` and ``ckplus``,
        where those videos are dropped and counted in the log. ``None`` allows all.
    check_files
        Check that every listed video file (or frame folder, or landmark file) exists.
    options
        The adapter's options (``None``: its defaults); unknown options are an error.

    Returns
    -------
    polars.DataFrame
        The manifest as written: sorted by ``video_id``, :data:`MANIFEST_SCHEMA` columns
        first, adapter columns after.

    Raises
    ------
    ConfigError
        Unknown adapter, unknown option or invalid option value.
    InputError
        Label file missing, unparsable or lacking columns; empty cells, duplicate
        ``video_id``, labels outside ``emotions``, missing video files, or no rows; the
        label file is named.
    """
    if adapter not in ADAPTERS:
        raise ConfigError(
            f"unknown manifest adapter {adapter!r} for {source}; "
            f"valid adapters: {', '.join(sorted(ADAPTERS))}"
        )
    label_file, table = ADAPTERS[adapter](Path(source), dict(options or {}))
    if emotions is not None and adapter in FIXED_LABEL_ADAPTERS and table.height:
        table = _keep_emotions(table, label_file, emotions)
    manifest = _validate(table, label_file, emotions=emotions, check_files=check_files)
    if emotions is not None:
        absent = [name for name in emotions if name not in set(manifest["emotion"].to_list())]
        if absent:
            logger.warning(
                "%s: no video is labelled %s (configured emotions without videos)",
                label_file,
                ", ".join(absent),
            )
    with atomic_path(out_path) as staged:
        manifest.write_parquet(staged, compression="zstd")
    logger.info(
        "manifest %s: %d videos, %d subjects, emotions %s (from %s)",
        out_path,
        manifest.height,
        manifest["subject"].n_unique(),
        ", ".join(sorted(manifest["emotion"].unique().to_list())),
        label_file,
    )
    return manifest


def read_manifest(
    path: str | Path, *, required_columns: Sequence[str] = MANIFEST_COLUMNS
) -> pl.DataFrame:
    """Read a manifest Parquet file, checking that it has ``required_columns``.

    Raises
    ------
    InputError
        The file is missing, not Parquet, or lacks a required column.
    """
    manifest_path = Path(path)
    if not manifest_path.is_file():
        raise InputError(manifest_path, "manifest does not exist")
    try:
        manifest = pl.read_parquet(manifest_path)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise InputError(manifest_path, f"not a readable Parquet manifest ({err})") from err
    missing = [name for name in required_columns if name not in manifest.columns]
    if missing:
        raise InputError(
            manifest_path,
            f"manifest lacks column(s) {', '.join(missing)}; found {', '.join(manifest.columns)}",
        )
    return manifest

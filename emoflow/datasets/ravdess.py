"""The ``ravdess`` adapter: labels from the RAVDESS file names.

The RAVDESS video files are found recursively under the source (``Actor_01/ … Actor_24/``),
labelled from their names ``MM-VV-EE-II-SS-RR-AA.mp4``: modality (01 full audio-video,
02 video-only, 03 audio-only), vocal channel (01 speech, 02 song), emotion (01 neutral,
02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised), intensity
(01 normal, 02 strong), statement (01, 02), repetition (01, 02), actor (01–24; the subject).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from emoflow.datasets.base import DatasetAdapter, drop_unmapped, logger, merged_label_map
from emoflow.errors import ConfigError, InputError
from emoflow.video import VIDEO_SUFFIXES

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


class RavdessAdapter(DatasetAdapter):
    """RAVDESS videos, labelled from their file names (see the module notes).

    Options: ``modalities`` (default ``[video_only]``: the full-AV file of a recording has the
    same frames), ``vocal_channels`` (default both), ``intensities`` (default both), ``actors``
    (numbers; default all), ``label_map`` (RAVDESS emotion name or code → emotion name, or
    null to drop; merged over :data:`RAVDESS_LABEL_MAP`). Values may be names
    (``video_only``) or codes (``"02"``).
    """

    name = "ravdess"
    options: ClassVar[tuple[str, ...]] = (
        "modalities",
        "vocal_channels",
        "intensities",
        "actors",
        "label_map",
    )
    fixed_labels = True
    suffixes: ClassVar[frozenset[str]] = frozenset(VIDEO_SUFFIXES)
    """File suffixes of the clips taken."""
    example: ClassVar[str] = "video named MM-VV-EE-II-SS-RR-AA (e.g. 02-01-06-01-02-01-12.mp4)"
    plural: ClassVar[str] = "videos"

    def read(self, source: Path) -> tuple[Path, pl.DataFrame]:
        options = self.settings
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
        actors = _selected_codes(
            "actors", options.get("actors"), RAVDESS_ACTORS, list(RAVDESS_ACTORS)
        )
        label_map = merged_label_map(
            options.get("label_map"), RAVDESS_EMOTIONS, RAVDESS_LABEL_MAP, "ravdess"
        )
        rows: list[dict[str, Any]] = []
        n_named = 0
        found_modalities: set[str] = set()
        for file in sorted(source.rglob("*")):
            if file.name.startswith(".") or file.suffix.lower() not in self.suffixes:
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
                f"holds no RAVDESS {self.example} in any subfolder",
            )
        if not rows:
            raise InputError(
                source,
                f"none of its {n_named} RAVDESS {self.plural} matches the selection (modalities "
                f"{', '.join(sorted(RAVDESS_MODALITIES[c] for c in modalities))}; the folder holds "
                f"{', '.join(sorted(found_modalities))})",
            )
        table = pl.DataFrame(rows, schema_overrides={"emotion": pl.String})
        logger.info("RAVDESS %s: %d of %d videos selected", source, table.height, n_named)
        return source, drop_unmapped(table, source)


RAVDESS_FRAME_SIZE = (1280, 720)
"""Width and height of the RAVDESS videos, in pixels (the landmark tracks' pixel frame)."""


class RavdessLandmarksAdapter(RavdessAdapter):
    """RAVDESS Facial Landmark Tracking: one OpenFace 2.0 CSV per clip, named with the RAVDESS
    codes (``01-01-03-01-01-01-01.csv``, in ``Actor_NN/`` folders or not), labelled exactly
    as the ``ravdess`` adapter labels the videos; the landmark stage imports the 68-point
    tracks (:mod:`emoflow.landmarks.formats`) instead of running Face Mesh.

    Options: those of :class:`RavdessAdapter` (``modalities`` defaults to both video
    modalities: the tracks exist once per recording, named after one of them), and
    ``width``/``height`` (the videos' frame size the tracks' pixels refer to, default
    :data:`RAVDESS_FRAME_SIZE`).
    """

    name = "ravdess_landmarks"
    options = (*RavdessAdapter.options, "width", "height")
    suffixes = frozenset({".csv"})
    example = "landmark file named MM-VV-EE-II-SS-RR-AA.csv (e.g. 01-01-06-01-02-01-12.csv)"
    plural = "landmark files"

    def read(self, source: Path) -> tuple[Path, pl.DataFrame]:
        size = {
            key: self.settings.pop(key, default)
            for key, default in zip(("width", "height"), RAVDESS_FRAME_SIZE, strict=True)
        }
        for key, value in size.items():
            if not (isinstance(value, int) and value > 0):
                raise ConfigError(f"{key} for adapter {self.name!r} must be a positive integer")
        self.settings.setdefault("modalities", ["full_av", "video_only"])
        try:
            label_file, table = super().read(source)
        finally:
            self.settings.update(size)
        return label_file, table.with_columns(
            pl.lit("csv").alias("landmarks_format"),
            pl.lit("openface").alias("landmarks_layout"),
            pl.lit(size["width"], dtype=pl.Int64).alias("landmarks_width"),
            pl.lit(size["height"], dtype=pl.Int64).alias("landmarks_height"),
        )

"""The ``ckplus`` adapter: CK+ (extended Cohn-Kanade) frame-folder sequences.

The source holds ``cohn-kanade-images/S005/001/*.png`` (one folder of frames per sequence,
neutral to peak) and ``Emotion/S005/001/S005_001_00000011_emotion.txt`` (one number,
0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness, 7 surprise).
Sequences without an emotion file are skipped and counted in the log; ``path`` is the
sequence folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl

from emoflow.datasets.base import DatasetAdapter, drop_unmapped, logger, merged_label_map
from emoflow.errors import InputError
from emoflow.video import frame_files

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


class CkplusAdapter(DatasetAdapter):
    """CK+ sequences with their emotion files (see the module notes).

    Options: ``label_map`` (CK+ name or code → emotion name, or null to drop; merged over
    :data:`CKPLUS_LABEL_MAP`), ``subjects`` (e.g. ``[S005, S010]``; default all).
    """

    name = "ckplus"
    options = ("label_map", "subjects")
    fixed_labels = True

    def read(self, source: Path) -> tuple[Path, pl.DataFrame]:
        options = self.settings
        images = source / CKPLUS_IMAGES
        labels = source / CKPLUS_LABELS
        for folder in (images, labels):
            if not folder.is_dir():
                raise InputError(folder, "CK+ folder does not exist (expected under the source)")
        label_map = merged_label_map(
            options.get("label_map"), CKPLUS_EMOTIONS, CKPLUS_LABEL_MAP, "ckplus"
        )
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
        return source, drop_unmapped(table, source)

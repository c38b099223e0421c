"""The report's data and quality section: what went in, what was kept, what was dropped and why.

Read from the stages' own files through their owners' readers: the manifest
(:func:`emoflow.storage.manifest.read_manifest`), the landmark shards' per-video extraction records
(:func:`emoflow.storage.landmark_table.reader.read_video_records`: frames, frames with a
face, error), the feature store's samples, ``dropped`` and ``several_faces``
(:func:`emoflow.storage.feature_store.read_sample_report`) and the held-out split and
hyper-parameter selection recorded in each emotion's ``metrics.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

VIDEO_SCHEMA = pl.Schema(
    {
        "video_id": pl.String,
        "subject": pl.String,
        "emotion": pl.String,
        "n_frames": pl.Int64,
        "n_meshed": pl.Int64,
        "n_faces_found": pl.Int64,
        "detection_rate": pl.Float64,
        "status": pl.String,
        "reason": pl.String,
    }
)
"""One row per video of the manifest: its extraction record and what became of it.

``n_frames`` is the video's frame count (every frame decoded), ``n_meshed`` the frames Face
Mesh ran on (or that an imported table holds): all of them, or with ``landmarks.frames:
sampled`` only the frames the features read (the record's ``meshed_frames``).
``n_faces_found`` counts the meshed frames with a face, and ``detection_rate`` is
``n_faces_found / n_meshed``: a frame that was never meshed has no face to find.

``status`` is ``kept`` (a sample of the feature store), ``dropped`` (extracted, but no sample:
see ``reason``) or ``skipped`` (extraction failed or never ran on it)."""


@dataclass
class DataQuality:
    """The data and quality section's content.

    Attributes
    ----------
    videos
        :data:`VIDEO_SCHEMA`, one row per manifest video, by ``video_id``.
    test_subjects
        Subjects held out of everything and used only as the final test (empty without).
    n_development, n_test
        Samples in cross-validation and in the held-out test.
    several_faces
        Kept videos in which extraction saw several faces (video → what it saw): extraction
        followed one of them by ``landmarks.face_policy``, as ``predict --several-faces`` does.
    decoding
        Videos decoded only in part (a truncated file) or whose header its frames contradict
        (video → frames decoded of those declared, and what decoding found;
        :func:`emoflow.storage.landmark_table.schema.decoding_problems`).
    landmarks
        The landmarks' scheme and source (see the attribute).
    """

    videos: pl.DataFrame
    test_subjects: list[str]
    n_development: int | None
    n_test: int | None
    several_faces: dict[str, str] = field(default_factory=dict)
    decoding: dict[str, str] = field(default_factory=dict)
    landmarks: dict[str, Any] = field(default_factory=dict)
    """Where the landmarks come from: ``scheme`` and its ``description``, ``extractor``,
    ``trackers``, ``units`` and ``coordinates``
    (:func:`emoflow.storage.landmark_table.schema.landmark_sources` of the shards' records)."""

    @property
    def kept(self) -> pl.DataFrame:
        return self.videos.filter(pl.col("status") == "kept")

    @property
    def not_kept(self) -> pl.DataFrame:
        """Videos dropped or skipped, with their reason."""
        return self.videos.filter(pl.col("status") != "kept")

    def per_emotion(self) -> pl.DataFrame:
        """Per emotion: videos and subjects of the manifest, videos kept, dropped, skipped."""
        return (
            self.videos.group_by("emotion")
            .agg(
                pl.len().alias("videos"),
                pl.col("subject").n_unique().alias("subjects"),
                (pl.col("status") == "kept").sum().alias("kept"),
                (pl.col("status") == "dropped").sum().alias("dropped"),
                (pl.col("status") == "skipped").sum().alias("skipped"),
                pl.col("detection_rate").mean().alias("mean_detection_rate"),
            )
            .sort("emotion")
        )

    def numbers(self) -> dict[str, Any]:
        """The section's counts for ``report.json``."""
        videos = self.videos
        frames = int(videos["n_frames"].fill_null(0).sum())
        meshed = int(videos["n_meshed"].fill_null(0).sum())
        faces = int(videos["n_faces_found"].fill_null(0).sum())
        return {
            "n_videos": videos.height,
            "n_subjects": videos["subject"].n_unique(),
            "n_kept": self.kept.height,
            "n_dropped": int((videos["status"] == "dropped").sum()),
            "n_skipped": int((videos["status"] == "skipped").sum()),
            "n_frames": frames,
            "n_frames_meshed": meshed,
            "n_frames_with_face": faces,
            "detection_rate": faces / meshed if meshed else None,
            "videos_per_emotion": dict(
                zip(*self.per_emotion().select("emotion", "videos").to_dict().values(), strict=True)
            ),
            "not_kept": {
                str(row["video_id"]): {"status": row["status"], "reason": row["reason"]}
                for row in self.not_kept.iter_rows(named=True)
            },
            "several_faces": dict(self.several_faces),
            "decoding": dict(self.decoding),
            "landmarks": dict(self.landmarks),
            "test_subjects": list(self.test_subjects),
            "n_development": self.n_development,
            "n_test": self.n_test,
        }


def _video_rows(
    manifest: pl.DataFrame,
    records: Mapping[str, Mapping[str, Any]],
    kept: set[str],
    dropped: Mapping[str, str],
) -> list[dict[str, Any]]:
    rows = []
    for video in manifest.select("video_id", "subject", "emotion").iter_rows(named=True):
        video_id = str(video["video_id"])
        record = records.get(video_id)
        frames = meshed = faces = None
        if record is not None:
            frames, faces = record.get("n_frames"), record.get("n_faces_found")
            sampled = record.get("meshed_frames")
            meshed = len(sampled) if sampled is not None else frames
        if video_id in kept:
            status, reason = "kept", None
        elif record is None:
            status, reason = "skipped", "no extraction record (not in any landmark shard)"
        elif record.get("error"):
            status, reason = "skipped", f"extraction: {record['error']}"
        else:
            status = "dropped"
            reason = dropped.get(video_id) or "not among the feature store's samples"
        rows.append(
            {
                **video,
                "n_frames": frames,
                "n_meshed": meshed,
                "n_faces_found": faces,
                "detection_rate": faces / meshed if meshed and faces is not None else None,
                "status": status,
                "reason": reason,
            }
        )
    return rows


def load_data_quality(
    manifest_path: str | Path,
    features_path: str | Path,
    landmark_paths: str | Path | Sequence[str | Path],
    metrics: Sequence[Mapping[str, Any]] = (),
) -> DataQuality:
    """Read the data and quality section from the run's manifest, shards, feature store and
    (for the held-out split) an iteration's ``metrics.json`` records."""
    from emoflow.schemes import get_scheme
    from emoflow.storage.feature_store import read_sample_report, read_store_samples
    from emoflow.storage.landmark_table.reader import landmark_scheme, read_video_records
    from emoflow.storage.landmark_table.schema import decoding_problems
    from emoflow.storage.manifest import read_manifest

    manifest = read_manifest(manifest_path, required_columns=("video_id", "subject", "emotion"))
    records = read_video_records(landmark_paths)
    samples = read_sample_report(features_path)
    dropped = samples["dropped"]
    kept = {str(v) for v in read_store_samples(features_path)["video_id"]}
    videos = pl.DataFrame(
        _video_rows(manifest, records, kept, dropped), schema=VIDEO_SCHEMA, orient="row"
    ).sort("video_id")
    split = next((m["split"] for m in metrics if m.get("split")), None) or {}
    return DataQuality(
        videos=videos,
        test_subjects=sorted(str(s) for s in split.get("test_subjects", [])),
        n_development=split.get("n_development"),
        n_test=split.get("n_test"),
        several_faces=samples["several_faces"],
        decoding={
            video_id: text
            for video_id, text in decoding_problems(records).items()
            if video_id in set(manifest["video_id"].to_list())
        },
        landmarks=_landmark_source(landmark_scheme(landmark_paths), records, get_scheme),
    )


def _landmark_source(
    scheme: str, records: Mapping[str, Mapping[str, Any]], get_scheme: Any
) -> dict[str, Any]:
    from emoflow.storage.landmark_table.schema import landmark_sources

    source = landmark_sources(records)
    source.pop("meshed_here")
    return {"scheme": scheme, "description": get_scheme(scheme).description, **source}


def chosen_hyper_parameters(metrics: Mapping[str, Any], emotion: str) -> dict[str, Any]:
    """An emotion's inner-CV choice in one iteration: the final model's and each fold's.

    Returns ``{"final": {...}, "folds": [{...}, ...], "grid": {...}, "metric": ...}``;
    empty entries when the iteration searched nothing.
    """
    record = metrics.get("emotions", {}).get(emotion, {})
    selection = metrics.get("selection", {}) or {}
    grid = {
        key.removesuffix("_grid"): list(values)
        for key, values in selection.items()
        if key.endswith("_grid") and values
    }
    return {
        "final": dict((record.get("final") or {}).get("chosen") or {}),
        "folds": [dict(fold.get("chosen") or {}) for fold in record.get("folds", [])],
        "grid": grid,
        "metric": selection.get("metric"),
        "n_inner_folds": selection.get("n_inner_folds"),
    }


__all__ = ["VIDEO_SCHEMA", "DataQuality", "chosen_hyper_parameters", "load_data_quality"]

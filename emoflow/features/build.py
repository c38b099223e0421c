"""Landmark tables → feature samples, and the feature store of a data set."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from emoflow.errors import DataError
from emoflow.features.normalise import MIN_SAMPLE_FRAMES, FeatureSettings, normalise_sequence
from emoflow.schemes import LandmarkScheme, get_scheme
from emoflow.storage.feature_store import write_feature_store

log = logging.getLogger(__name__)


def _video_sample(
    video_id: str,
    video_table: Any,
    record: dict[str, Any],
    settings: FeatureSettings,
    scheme: LandmarkScheme,
) -> np.ndarray | str:
    """One video's feature sample, or the reason it gives none."""
    from emoflow.landmarks import landmarks_array  # lazily: it imports polars

    if video_table.height == 0:
        return str(record.get("error") or "no landmark rows")
    landmarks, found_mask = landmarks_array(video_table, video_id)
    times = _frame_times(video_table, len(landmarks))
    meshed_frames = record.get("meshed_frames")
    if meshed_frames is not None:  # landmarks.frames: sampled
        landmarks, found_mask, times = _sampled_sequence(
            video_id, landmarks, found_mask, times, record, meshed_frames, settings
        )
    if len(landmarks) < MIN_SAMPLE_FRAMES:  # predict refuses such a window too
        return (
            f"{len(landmarks)} frame(s); a sample needs at least {MIN_SAMPLE_FRAMES} "
            "(from one frame every feature would be zero)"
        )
    if meshed_frames is None:
        missing_share = 1.0 - float(found_mask.mean())
    else:  # every frame the features read has a face, or every frame was meshed
        missing_share = 1.0 - float(found_mask[meshed_frames].mean())
    if not found_mask.any() or missing_share > settings.max_missing:
        return f"{missing_share:.0%} of frames without a face"
    faces = landmarks[found_mask]
    if not np.isfinite(faces[..., :2]).all() or not (
        np.isfinite(faces[..., 2]).all() or np.isnan(faces[..., 2]).all()
    ):
        raise DataError(
            f"video {video_id!r}: landmarks of frames with a face hold NaN or infinite "
            "values; the landmark table is damaged, re-extract it"
        )
    # normalised coordinates are scaled back to the frame's pixels; pixels of a frame of
    # unknown size and OpenFace's millimetres already have the face's shape
    normalised = (record.get("units") or "normalised") == "normalised"
    return normalise_sequence(
        landmarks,
        found_mask,
        settings,
        width=int(record.get("width") or 1) if normalised else 1,
        height=int(record.get("height") or 1) if normalised else 1,
        scheme=scheme,
        timestamps=times,
    )


def _frame_times(video_table: Any, n_frames: int) -> np.ndarray:
    """``(n_frames,)`` seconds of each frame of a video's rows (``timestamp_s``), NaN for
    frames without a row."""
    times = np.full(n_frames, np.nan)
    times[video_table["frame"].to_numpy()] = video_table["timestamp_s"].to_numpy()
    return times


def _several_faces(video_table: Any) -> str | None:
    """What a video's frames showed when some held several faces; ``None`` otherwise."""
    if "n_faces" not in video_table.columns:
        return None
    n_faces = video_table["n_faces"].fill_null(0).to_numpy()
    several = int((n_faces > 1).sum())
    if not several:
        return None
    return (
        f"several faces in {several} of {len(n_faces)} frames (up to {int(n_faces.max())}); "
        "one face was followed (landmarks.face_policy), as predict does with --several-faces"
    )


def _sampled_sequence(
    video_id: str,
    landmarks: np.ndarray,
    found_mask: np.ndarray,
    times: np.ndarray,
    record: dict[str, Any],
    meshed_frames: list[int],
    settings: FeatureSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sampled video's landmarks over all its frames (the frames not meshed without a face,
    so interpolation fills them; the features never read them), after checking that the
    meshed frames are those ``settings`` reads.

    Raises
    ------
    DataError
        The features read a frame that was not meshed (``features.n_frames`` changed since
        the extraction).
    """
    n_in = int(record["n_frames"])
    if len(times) < n_in:
        times = np.concatenate([times, np.full(n_in - len(times), np.nan)])
    absent = np.setdiff1d(settings.frames_read(n_in, times), meshed_frames)
    if absent.size:
        shown = ", ".join(map(str, absent[:8].tolist())) + (", …" if absent.size > 8 else "")
        raise DataError(
            f"video {video_id!r}: its landmarks were meshed on {len(meshed_frames)} of its "
            f"{n_in} frames only (landmarks.frames: sampled, for features of other "
            f"n_frames), and features.n_frames = {settings.n_frames} reads frame(s) {shown} "
            "too: re-extract its landmark table (the workflow does so by itself when "
            "features.n_frames changes) or extract with landmarks.frames: all"
        )
    if len(landmarks) < n_in:
        pad = n_in - len(landmarks)
        landmarks = np.concatenate(
            [landmarks, np.full((pad, *landmarks.shape[1:]), np.nan, dtype=landmarks.dtype)]
        )
        found_mask = np.concatenate([found_mask, np.zeros(pad, dtype=bool)])
    return landmarks, found_mask, times[:n_in]


def features_from_landmarks(
    landmark_paths: str | Path | Sequence[str | Path],
    settings: FeatureSettings,
    *,
    video_ids: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[str], dict[str, str]]:
    """Feature samples of the videos in landmark tables, without a manifest or a store.

    This is what :func:`build_features` does per video; it also serves to apply a saved model
    to new landmark tables (:func:`emoflow.models.apply_model`).

    Parameters
    ----------
    landmark_paths
        Landmark tables (a file, a folder, a glob, or a sequence of them), as written by
        :func:`emoflow.landmarks.extract_videos`.
    settings
        Normalisation settings.
    video_ids
        The videos to take, in this order; ``None`` takes every video of the tables, sorted.

    Returns
    -------
    features
        Shape ``(n_kept, settings.n_frames, n_landmarks, 3)``, float32.
    kept
        The video id of each sample.
    dropped
        ``video_id`` → why it gave no sample (no rows, fewer than :data:`MIN_SAMPLE_FRAMES`
        frames, too many frames without a face).
    """
    features, kept, dropped, _, _ = _samples(landmark_paths, settings, video_ids)
    return features, kept, dropped


def _samples(
    landmark_paths: str | Path | Sequence[str | Path],
    settings: FeatureSettings,
    video_ids: Sequence[str] | None,
) -> tuple[np.ndarray, list[str], dict[str, str], dict[str, str], LandmarkScheme]:
    """:func:`features_from_landmarks`, the kept videos that showed several faces, and the
    tables' landmark scheme."""
    from emoflow.landmarks import read_landmarks
    from emoflow.storage.landmark_table.reader import (
        landmark_files,
        landmark_scheme,
        read_video_records,
    )

    scheme = get_scheme(landmark_scheme(landmark_paths))
    records = read_video_records(landmark_paths)
    wanted = None if video_ids is None else set(video_ids)
    by_video: dict[str, np.ndarray | str] = {}
    faces_seen: dict[str, str] = {}
    # one shard in memory at a time: a video's rows all live in one file
    for file in landmark_files(landmark_paths):
        table = read_landmarks(file)
        for (video_id,), video_table in table.partition_by(
            "video_id", as_dict=True, maintain_order=True
        ).items():
            if wanted is None or video_id in wanted:
                by_video[str(video_id)] = _video_sample(
                    str(video_id),
                    video_table,
                    records.get(str(video_id)) or {},
                    settings,
                    scheme,
                )
                if (seen := _several_faces(video_table)) is not None:
                    faces_seen[str(video_id)] = seen
    if video_ids is None:
        video_ids = sorted(set(by_video) | set(records))
    samples, kept, dropped = [], [], {}
    for video_id in video_ids:
        outcome = by_video.get(
            video_id, (records.get(video_id) or {}).get("error") or "no landmark rows"
        )
        if isinstance(outcome, str):
            dropped[video_id] = outcome
        else:
            samples.append(outcome)
            kept.append(video_id)
    for video_id, reason in dropped.items():
        log.warning("video %s dropped from features: %s", video_id, reason)
    several_faces = {video_id: faces_seen[video_id] for video_id in kept if video_id in faces_seen}
    for video_id, seen in several_faces.items():
        log.warning("video %s: %s", video_id, seen)
    if not samples:
        features = np.zeros((0, settings.n_frames, scheme.n_points, 3), dtype=np.float32)
    else:
        features = np.stack(samples)
    return features, kept, dropped, several_faces, scheme


def build_features(
    manifest_path: str | Path,
    landmark_paths: Sequence[str | Path],
    out_path: str | Path,
    settings: FeatureSettings,
) -> dict[str, Any]:
    """Build the feature store of a data set.

    Parameters
    ----------
    manifest_path
        The manifest Parquet (video_id, subject, emotion, …).
    landmark_paths
        Landmark tables (shards) covering the manifest's videos.
    out_path
        The Zarr store to write (atomically).
    settings
        Normalisation settings.

    Returns
    -------
    dict
        ``{"n_samples": …, "dropped": {video_id: reason}, "several_faces": {video_id: what}}``.
    """
    import polars as pl

    from emoflow.storage.manifest import read_manifest

    manifest = read_manifest(
        manifest_path, required_columns=("video_id", "subject", "emotion")
    ).sort("video_id")
    features, kept_ids, dropped, several_faces, scheme = _samples(
        list(landmark_paths), settings, manifest["video_id"].to_list()
    )
    if not kept_ids:
        raise DataError(f"no usable video among {manifest.height} in {manifest_path}")
    kept = manifest.filter(pl.col("video_id").is_in(kept_ids))
    emotion_names = sorted(kept["emotion"].unique().to_list())
    write_feature_store(
        out_path,
        features=features,
        video_ids=kept["video_id"].to_numpy().astype(str),
        subjects=kept["subject"].to_numpy().astype(str),
        emotions=kept["emotion"].to_numpy().astype(str),
        emotion_names=emotion_names,
        settings=asdict(settings),
        dropped=dropped,
        several_faces=several_faces,
        scheme=scheme.name,
    )
    return {"n_samples": len(kept_ids), "dropped": dropped, "several_faces": several_faces}

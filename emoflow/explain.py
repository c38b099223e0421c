r"""Explain one video's scores: which landmarks drove each emotion's model (``emoflow explain``).

For each emotion's model :math:`F_e` and the video's feature sample :math:`x`, the per-sample
Integrated Gradients of :mod:`emoflow.attribution`, averaged over the model's *typical*
baselines :math:`b_1 … b_K`,

.. math::

    A_e(x) = \frac{1}{K} \sum_k (x - b_k) \odot \int_0^1
             \nabla F_e\big(b_k + \alpha (x - b_k)\big)\, d\alpha,

reduced to one relevance per landmark :math:`l` with the run's aggregation (``mean_abs``:
:math:`R_{e,l} = \sum_{t,c} |A_e(x)_{t,l,c}|`). ``signed_relevance`` is
:math:`\sum_{t,c} A_e(x)_{t,l,c}`: positive where the landmark's motion pushes the score up
(towards the emotion), negative where it pushes it down.

The baselines are those of the run's attribution stage: the samples recorded in
``results/iter_{i}/attributions.zarr`` (``baselines``), or, without that store, the same
choice made again (:func:`emoflow.attribution.select_baselines` on ``results/features.zarr``
with the run's attribution settings). Without a feature store (models given alone) the
all-zero input is used, and the table says so.

Outputs: a table (``emotion, landmark, relevance, signed_relevance, rank, score, probability,
baseline``), a picture (the frame of strongest expression, one panel per emotion, each
model's landmarks coloured and sized by relevance) and, optionally, a short video with the
predicted emotion's relevance drawn on every frame.
"""

from __future__ import annotations

import logging
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow._atomic import atomic_path
from emoflow.errors import ConfigError, DataError, EmoflowError, InputError
from emoflow.predict import (
    FaceCounter,
    LoadedModel,
    VideoLandmarks,
    extract_video,
    extraction_options,
    find_videos,
    inspect_video,
    landmark_union,
    load_models,
    model_paths,
    window_features,
    write_table,
)

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")
VIDEO_WRITERS = {".mp4": "mp4v", ".avi": "MJPG"}
"""Annotated video containers and the OpenCV codec written into each."""
TABLE_COLUMNS = {
    "emotion": pl.String,
    "landmark": pl.Int32,
    "relevance": pl.Float64,
    "signed_relevance": pl.Float64,
    "rank": pl.Int32,
    "score": pl.Float64,
    "probability": pl.Float64,
    "baseline": pl.String,
}


def _check_suffix(path: str | Path, allowed: Any, what: str) -> None:
    if Path(path).suffix.lower() not in allowed:
        raise ConfigError(f"{path}: the {what} must end in {', '.join(allowed)}")


def attribution_settings(results: Path | None, iteration: int | None, n_steps: int | None) -> Any:
    """The run's attribution settings (from its store's attributes), else the defaults."""
    from emoflow.attribution import AttributionSettings

    settings = AttributionSettings()
    store = (
        None
        if results is None or iteration is None
        else (results / f"iter_{iteration}" / "attributions.zarr")
    )
    if store is not None and store.is_dir():
        try:
            import zarr

            attrs: Any = zarr.open_group(str(store), mode="r").attrs
            stored = dict(attrs.get("settings") or {})
            known = {f.name for f in fields(AttributionSettings)}
            settings = AttributionSettings(**{k: v for k, v in stored.items() if k in known})
        except (EmoflowError, TypeError, ValueError, OSError, KeyError) as err:
            log.warning("%s: attribution settings unreadable (%s); using defaults", store, err)
    if n_steps is not None:
        if n_steps < 1:
            raise ConfigError(f"n_steps must be ≥ 1, got {n_steps}")
        settings = replace(settings, n_steps=int(n_steps))
    return settings


class _Baselines:
    """Typical baselines of each model, from the run's feature and attribution stores."""

    def __init__(self, results: Path | None) -> None:
        self.results = results
        self._features: Any = None
        self._loaded = False
        self._warned = False

    def _feature_set(self) -> Any:
        if not self._loaded:
            self._loaded = True
            path = None if self.results is None else self.results / "features.zarr"
            if path is not None and path.is_dir():
                from emoflow.features import load_features

                try:
                    self._features = load_features(path)
                except EmoflowError as err:
                    log.warning("%s unusable for baselines: %s", path, err)
        return self._features

    def _store(self, model: LoadedModel) -> tuple[Path, Any, int] | None:
        """The model's iteration attribution store, its root group and the emotion's row."""
        if self.results is None or model.iteration is None:
            return None
        store = self.results / f"iter_{model.iteration}" / "attributions.zarr"
        if not store.is_dir():
            return None
        try:
            import zarr

            root: Any = zarr.open_group(str(store), mode="r")
            return store, root, list(root.attrs["emotions"]).index(model.emotion)
        except (KeyError, ValueError, OSError) as err:
            log.warning("%s: not a usable attribution store (%s)", store, err)
            return None

    def _stored_indices(self, model: LoadedModel, video_ids: np.ndarray) -> np.ndarray | None:
        """Positions in the feature store of the baselines the attribution stage used."""
        opened = self._store(model)
        if opened is None:
            return None
        store, root, row = opened
        try:
            from emoflow.features import read_strings

            indices = np.asarray(root["baselines"][row])
            ids = read_strings(root["video_id"])
        except (KeyError, ValueError, OSError, IndexError) as err:
            log.warning("%s: no usable baseline record (%s)", store, err)
            return None
        if len(indices) == 0 or (indices < 0).any():
            return None
        position = {video_id: i for i, video_id in enumerate(video_ids.tolist())}
        wanted = [position.get(str(ids[i])) for i in indices]
        if any(p is None for p in wanted):
            return None
        return np.asarray(wanted, dtype=np.int64)

    def _stored_values(self, model: LoadedModel) -> np.ndarray | None:
        """The reference inputs the attribution stage used, ``(k, frames, landmarks, 3)``."""
        opened = self._store(model)
        if opened is None:
            return None
        store, root, row = opened
        try:
            values = np.asarray(root["baseline_values"][row])
        except (KeyError, ValueError, OSError, IndexError) as err:
            log.warning("%s: no stored baseline values (%s)", store, err)
            return None
        values = values[:, :, list(model.landmarks), :]
        values = values[np.isfinite(values).all(axis=(1, 2, 3))]
        if not len(values) or values.shape[1] != model.settings.n_frames:
            return None
        return values.astype(np.float32)

    def of(self, model: LoadedModel, settings: Any) -> tuple[np.ndarray, str]:
        """Baselines ``(k, n_frames, n_landmarks, 3)`` of ``model`` and how they were chosen."""
        from emoflow.attribution import select_baselines
        from emoflow.features import FeatureSettings

        shape = (1, model.settings.n_frames, len(model.landmarks), 3)
        feature_set = self._feature_set()
        if feature_set is None:
            if not self._warned:
                self._warned = True
                log.warning(
                    "no feature store (features.zarr) in %s to take the typical baselines "
                    "from: the all-zero baseline is used (give the run's folder as results)",
                    self.results or "the results folder",
                )
            return np.zeros(shape, dtype=np.float32), "zero (no feature store)"
        try:
            same = FeatureSettings(**feature_set.settings) == model.settings
        except (TypeError, EmoflowError):
            same = False
        if not same:
            log.warning(
                "%s: feature settings differ from the feature store's; all-zero baseline",
                model.path,
            )
            return np.zeros(shape, dtype=np.float32), "zero (feature settings differ)"
        try:
            inputs = feature_set.select(model.landmarks).features
        except DataError as err:
            raise InputError(
                model.path, f"landmark set does not match the feature store ({err})"
            ) from err
        stored_values = self._stored_values(model)
        if stored_values is not None:
            return stored_values, f"typical baselines ({len(stored_values)}, stored)"
        stored = self._stored_indices(model, feature_set.video_ids)
        if stored is not None:
            return inputs[stored].astype(np.float32), f"typical samples ({len(stored)}, stored)"
        labels = feature_set.labels_for(model.emotion)
        if settings.baseline == "negative_medoids" and labels.min() == labels.max():
            return np.zeros(shape, dtype=np.float32), "zero (no negative samples)"
        chosen = select_baselines(
            inputs,
            labels,
            kind=settings.baseline,
            k=settings.n_baselines,
            seed=settings.seed,
            neutral_mask=feature_set.emotions == "neutral",
        )
        return np.asarray(chosen, dtype=np.float32), f"{settings.baseline} ({len(chosen)})"


def attribute_video(
    models: list[LoadedModel],
    sample: dict[Any, np.ndarray],
    union: np.ndarray,
    *,
    results: Path | None,
    n_steps: int | None,
) -> pl.DataFrame:
    """The relevance table of one video's feature samples (one per feature-settings group)."""
    import torch

    from emoflow.attribution import attribute_samples, reduce_to_landmarks

    baselines = _Baselines(results)
    position = {int(landmark): index for index, landmark in enumerate(union)}
    frames = []
    for model in models:
        settings = attribution_settings(results, model.iteration, n_steps)
        columns = np.array([position[int(i)] for i in model.landmarks])
        inputs = sample[model.settings][None, :, columns, :].astype(np.float32)
        score = float(model.model.decision_function(inputs)[0])
        probabilities = model.probabilities(np.array([score]))
        reference, kind = baselines.of(model, settings)
        device = getattr(model.model, "device", torch.device("cpu"))
        model.model.eval()
        attributions, _ = attribute_samples(
            model.model,
            torch.as_tensor(inputs, device=device),
            torch.as_tensor(reference, device=device),
            settings,
        )
        values = attributions.detach().cpu().numpy().astype(np.float64)
        relevance = reduce_to_landmarks(values, settings.aggregate)[0]
        signed = values.sum(axis=(1, 3))[0]
        order = np.argsort(-relevance, kind="stable")
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(1, len(order) + 1, dtype=np.int32)
        frames.append(
            pl.DataFrame(
                {
                    "emotion": [model.emotion] * len(relevance),
                    "landmark": model.landmarks.astype(np.int32),
                    "relevance": relevance,
                    "signed_relevance": signed,
                    "rank": rank,
                    "score": [score] * len(relevance),
                    "probability": [None if probabilities is None else float(probabilities[0])]
                    * len(relevance),
                    "baseline": [kind] * len(relevance),
                },
                schema=TABLE_COLUMNS,
            ).sort("rank")
        )
    return pl.concat(frames)


def predicted_label(table: pl.DataFrame) -> str:
    """The combined label: highest probability, or highest score without calibration."""
    per_emotion = table.group_by("emotion").agg(pl.first("score"), pl.first("probability"))
    column = "probability" if per_emotion["probability"].null_count() == 0 else "score"
    return str(per_emotion.sort([column, "emotion"], descending=[True, False])["emotion"][0])


def peak_frame(video: VideoLandmarks) -> int:
    """Index of the frame of strongest expression: largest mean landmark motion from the
    first frame with a face (in pixels), among frames with a face."""
    found = np.flatnonzero(video.found)
    scale = np.array([video.width, video.height, video.width], dtype=np.float64)
    points = video.landmarks[found].astype(np.float64) * scale
    motion = np.nanmean(np.linalg.norm(points - points[:1], axis=2), axis=1)
    return int(found[int(np.nanargmax(motion))]) if len(found) else 0


def _read_frame(video: VideoLandmarks, index: int, fps: float | None) -> np.ndarray:
    from emoflow.video import open_frames

    source = video.source
    _, frames = open_frames(source.path, fps=fps, start_s=source.start_s, end_s=source.end_s)
    for position, frame in enumerate(frames):
        if position == index:
            return frame
    raise InputError(source.path, f"frame {index} could not be decoded again")


def draw_picture(
    path: str | Path,
    frame: np.ndarray,
    points: np.ndarray,
    table: pl.DataFrame,
    label: str,
    *,
    top_k: int = 8,
    title: str = "",
) -> None:
    """One panel per emotion: the frame, all landmarks in grey, the model's landmarks
    coloured and sized by relevance (scaled to the emotion's largest), the top ones numbered.

    ``points`` are the frame's landmarks in pixels, ``(478, 2)``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    emotions = (
        table.group_by("emotion")
        .agg(pl.first("score"))
        .sort(["score", "emotion"], descending=[True, False])["emotion"]
        .to_list()
    )
    n_columns = min(3, len(emotions))
    n_rows = -(-len(emotions) // n_columns)
    height, width = frame.shape[:2]
    valid = np.isfinite(points).all(axis=1)
    x_min, y_min = points[valid].min(axis=0)
    x_max, y_max = points[valid].max(axis=0)
    margin = 0.25 * max(x_max - x_min, y_max - y_min)
    box = (
        max(0.0, x_min - margin),
        min(float(width), x_max + margin),
        max(0.0, y_min - margin),
        min(float(height), y_max + margin),
    )
    figure = Figure(figsize=(4.0 * n_columns, 4.3 * n_rows + 0.4), layout="constrained")
    colormap = colormaps["plasma"]
    axes_list = figure.subplots(n_rows, n_columns, squeeze=False).ravel()
    for axes in axes_list[len(emotions) :]:
        axes.set_axis_off()
    for axes, emotion in zip(axes_list, emotions, strict=False):
        rows = table.filter(pl.col("emotion") == emotion)
        ids = rows["landmark"].to_numpy()
        relevance = rows["relevance"].to_numpy()
        share = relevance / relevance.max() if relevance.max() > 0 else relevance * 0
        axes.imshow(frame)
        axes.scatter(points[valid, 0], points[valid, 1], s=1.5, c="#bbbbbb", linewidths=0)
        order = np.argsort(share)  # most relevant drawn last, on top
        axes.scatter(
            points[ids[order], 0],
            points[ids[order], 1],
            s=4 + 70 * share[order],
            c=share[order],
            cmap=colormap,
            vmin=0,
            vmax=1,
            linewidths=0.3,
            edgecolors="black",
        )
        for landmark in ids[np.argsort(-share)][:top_k]:
            axes.annotate(
                str(landmark),
                points[landmark],
                xytext=(3, 3),
                textcoords="offset points",
                fontsize=6,
                color="white",
            )
        score = rows["score"][0]
        probability = rows["probability"][0]
        text = f"{emotion}: score {score:+.2f}"
        if probability is not None:
            text += f", p {probability:.2f}"
        if emotion == label:
            text += "  ← label"
        axes.set_title(text, fontsize=10, fontweight="bold" if emotion == label else "normal")
        axes.set_xlim(box[0], box[1])
        axes.set_ylim(box[3], box[2])
        axes.set_axis_off()
    figure.colorbar(
        ScalarMappable(norm=Normalize(0, 1), cmap=colormap),
        ax=axes_list.tolist(),
        shrink=0.6,
        label="relevance (share of the emotion's largest)",
    )
    if title:
        figure.suptitle(title, fontsize=11)
    with atomic_path(path) as staged:
        figure.savefig(staged, dpi=120, facecolor="white")


def write_annotated_video(
    path: str | Path,
    video: VideoLandmarks,
    table: pl.DataFrame,
    label: str,
    *,
    fps: float | None = None,
    max_seconds: float = 10.0,
) -> int:
    """Draw the ``label`` emotion's landmark relevance on each frame; returns frames written.

    At most ``max_seconds`` of the video are written (a short clip for inspection).
    """
    import cv2
    from matplotlib import colormaps

    from emoflow.video import open_frames

    suffix = Path(path).suffix.lower()
    _check_suffix(path, VIDEO_WRITERS, "annotated video")
    rows = table.filter(pl.col("emotion") == label)
    ids = rows["landmark"].to_numpy()
    relevance = rows["relevance"].to_numpy()
    share = relevance / relevance.max() if relevance.max() > 0 else relevance * 0
    colours = (np.asarray(colormaps["plasma"](share))[:, :3] * 255).astype(int)[:, ::-1]
    order = np.argsort(share)
    score = float(rows["score"][0])
    source = video.source
    _, frames = open_frames(source.path, fps=fps, start_s=source.start_s, end_s=source.end_s)
    n_max = max(1, round(max_seconds * video.fps))
    radius_scale = max(1.0, min(video.width, video.height) / 256)
    written = 0
    with atomic_path(path) as staged:
        writer = cv2.VideoWriter(
            str(staged),
            cv2.VideoWriter.fourcc(*VIDEO_WRITERS[suffix]),
            float(video.fps),
            (video.width, video.height),
        )
        if not writer.isOpened():
            raise InputError(path, "OpenCV cannot write this video; use .avi or .mp4")
        try:
            for index, frame in enumerate(frames):
                if index >= n_max:
                    break
                canvas = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
                if index < len(video.found) and video.found[index]:
                    points = video.landmarks[index, :, :2] * (video.width, video.height)
                    for k in order:
                        centre = tuple(round(float(v)) for v in points[ids[k]])
                        radius = round(radius_scale * (1 + 4 * float(share[k])))
                        colour = tuple(int(c) for c in colours[k])
                        cv2.circle(canvas, centre, radius, colour, -1, lineType=cv2.LINE_AA)
                cv2.putText(
                    canvas,
                    f"{label} {score:+.2f}",
                    (6, 6 + int(14 * radius_scale)),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.45 * radius_scale,
                    (255, 255, 255),
                    1,
                    cv2.LINE_AA,
                )
                writer.write(canvas)
                written += 1
        finally:
            writer.release()
    return written


def explain(
    video: str | Path,
    *,
    image_path: str | Path,
    table_path: str | Path,
    video_path: str | Path | None = None,
    results: str | Path = "results",
    iteration: int | None = None,
    models: list[str | Path] | None = None,
    fps: float | None = None,
    refine_landmarks: bool | None = None,
    several_faces: str = "error",
    n_steps: int | None = None,
    top_k: int = 8,
    device: str = "cpu",
    max_video_s: float = 10.0,
) -> dict[str, Any]:
    """Explain the models' scores on one video; write the table, picture and (optionally) video.

    Parameters
    ----------
    video
        One video file or frame folder.
    image_path
        Picture (``.png``, ``.jpg``, ``.pdf``, ``.svg``).
    table_path
        Relevance table (``.csv`` or ``.parquet``): one row per emotion and model landmark.
    video_path
        Optional annotated clip (``.mp4`` or ``.avi``) of the label's relevance, at most
        ``max_video_s`` seconds.
    results, iteration, models
        Which models (:func:`emoflow.predict.model_paths`); ``results`` also provides the
        feature and attribution stores for the typical baselines.
    fps, refine_landmarks, several_faces, device
        As in :func:`emoflow.predict.predict`.
    n_steps
        Integration nodes (default: the run's ``attribution.n_steps``).
    top_k
        Most relevant landmarks numbered in each panel.

    Returns
    -------
    dict
        Paths written, the label, and the scores per emotion.
    """
    from emoflow.landmarks import FaceMeshExtractor
    from emoflow.predict import FACE_MODES, MAX_FACES_FOLLOWED, output_format

    _check_suffix(image_path, IMAGE_SUFFIXES, "picture")
    output_format(table_path)
    if video_path is not None:
        _check_suffix(video_path, VIDEO_WRITERS, "annotated video")
    if several_faces not in FACE_MODES:
        raise ConfigError(
            f"several_faces must be one of {', '.join(FACE_MODES)}, got {several_faces!r}"
        )
    sources = find_videos(video)
    if len(sources) != 1:
        raise ConfigError(f"{video}: explain takes one video, this names {len(sources)}")
    source = sources[0]
    loaded = load_models(model_paths(results, iteration=iteration, models=models), device=device)
    options = extraction_options(loaded, refine_landmarks)
    if several_faces != "error":
        options.update(max_num_faces=MAX_FACES_FOLLOWED, face_policy=several_faces)
    counter = FaceCounter() if several_faces == "error" else None
    try:
        with FaceMeshExtractor(**options) as extractor:
            inspect_video(source, fps=fps, faces=counter)
            landmarks = extract_video(source, extractor, fps=fps)
    finally:
        if counter is not None:
            counter.close()
    union = landmark_union(loaded)
    everything = np.ones(len(landmarks.found), dtype=bool)
    samples = {}
    for model in loaded:
        if model.settings not in samples:
            try:
                samples[model.settings] = window_features(
                    landmarks, everything, model.settings, union
                )
            except DataError as err:
                raise InputError(source.path, str(err)) from err
    results_path = Path(results) if results is not None and Path(results).is_dir() else None
    table = attribute_video(loaded, samples, union, results=results_path, n_steps=n_steps)
    label = predicted_label(table)
    write_table(table, table_path)
    index = peak_frame(landmarks)
    frame = _read_frame(landmarks, index, fps)
    points = landmarks.landmarks[index, :, :2].astype(np.float64) * (
        landmarks.width,
        landmarks.height,
    )
    draw_picture(
        image_path,
        frame,
        points,
        table,
        label,
        top_k=top_k,
        title=f"{source.video_id}: frame {index} ({landmarks.timestamps[index]:.2f} s), "
        f"label {label}",
    )
    summary: dict[str, Any] = {
        "video": source.path,
        "label": label,
        "scores": dict(
            table.group_by("emotion").agg(pl.first("score")).sort("emotion").iter_rows()
        ),
        "frame": index,
        "image": str(image_path),
        "table": str(table_path),
    }
    if video_path is not None:
        summary["video_out"] = str(video_path)
        summary["video_frames"] = write_annotated_video(
            video_path, landmarks, table, label, fps=fps, max_seconds=max_video_s
        )
    return summary


__all__ = [
    "attribute_video",
    "attribution_settings",
    "draw_picture",
    "explain",
    "peak_frame",
    "predicted_label",
    "write_annotated_video",
]

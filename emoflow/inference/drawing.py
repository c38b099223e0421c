"""Pictures of a video's landmark relevance: the frame of strongest expression with one panel
per emotion (:func:`draw_picture`), and a short annotated clip (:func:`write_annotated_video`).

Matplotlib and OpenCV are imported when drawing, so the rest of inference stays light.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from emoflow._atomic import atomic_path
from emoflow.errors import InputError
from emoflow.facemesh import RELEVANCE_CMAP
from emoflow.inference.outputs import check_suffix
from emoflow.inference.videos import VideoLandmarks

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")
"""Picture formats, by file name ending."""
VIDEO_WRITERS = {".mp4": "mp4v", ".avi": "MJPG"}
"""Annotated video containers and the OpenCV codec written into each."""


def peak_frame(video: VideoLandmarks) -> int:
    """Index of the frame of strongest expression: largest mean landmark motion from the
    first frame with a face (in pixels), among frames with a face."""
    found = np.flatnonzero(video.found)
    scale = np.array([video.width, video.height, video.width], dtype=np.float64)
    points = video.landmarks[found].astype(np.float64) * scale
    motion = np.nanmean(np.linalg.norm(points - points[:1], axis=2), axis=1)
    return int(found[int(np.nanargmax(motion))]) if len(found) else 0


def read_frame(video: VideoLandmarks, index: int, fps: float | None) -> np.ndarray:
    """Decode frame ``index`` of the video again (as it was read for the landmarks)."""
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
    edges: np.ndarray | None = None,
) -> None:
    """One panel per emotion: the frame, all landmarks in grey, the model's landmarks
    coloured and sized by relevance (scaled to the emotion's largest), the top ones numbered.

    ``points`` are the frame's landmarks in pixels, ``(n_points, 2)``; ``edges`` (pairs of
    point ids), when given, are drawn as thin lines under them: the outline and feature
    contours of a sparse scheme (iBUG 68).
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
    colormap = colormaps[RELEVANCE_CMAP]
    axes_list = figure.subplots(n_rows, n_columns, squeeze=False).ravel()
    for axes in axes_list[len(emotions) :]:
        axes.set_axis_off()
    for axes, emotion in zip(axes_list, emotions, strict=False):
        rows = table.filter(pl.col("emotion") == emotion)
        ids = rows["landmark"].to_numpy()
        relevance = rows["relevance"].to_numpy()
        share = relevance / relevance.max() if relevance.max() > 0 else relevance * 0
        axes.imshow(frame)
        if edges is not None and len(edges):
            drawn = edges[valid[edges].all(axis=1)]
            segments = points[drawn]  # (n_edges, 2 ends, x/y)
            axes.plot(segments[..., 0].T, segments[..., 1].T, color="#dddddd", linewidth=0.6)
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
    note: str | None = None,
) -> int:
    """Draw the ``label`` emotion's landmark relevance on each frame; returns frames written.

    At most ``max_seconds`` of the video are written (a short clip for inspection). ``note``
    is written at the bottom of every frame (e.g. that the models were trained on the
    synthetic demo).
    """
    import cv2
    from matplotlib import colormaps

    from emoflow.video import open_frames

    suffix = Path(path).suffix.lower()
    check_suffix(path, VIDEO_WRITERS, "annotated video")
    rows = table.filter(pl.col("emotion") == label)
    ids = rows["landmark"].to_numpy()
    relevance = rows["relevance"].to_numpy()
    share = relevance / relevance.max() if relevance.max() > 0 else relevance * 0
    colours = (np.asarray(colormaps[RELEVANCE_CMAP](share))[:, :3] * 255).astype(int)[:, ::-1]
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
                if note:
                    cv2.putText(
                        canvas,
                        note,
                        (6, video.height - 6),
                        cv2.FONT_HERSHEY_SIMPLEX,
                        0.35 * radius_scale,
                        (255, 255, 255),
                        1,
                        cv2.LINE_AA,
                    )
                writer.write(canvas)
                written += 1
        finally:
            writer.release()
    return written


__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_WRITERS",
    "draw_picture",
    "peak_frame",
    "read_frame",
    "write_annotated_video",
]

"""Pictures of a video's landmark relevance: the frame of strongest expression with one panel
per emotion (:func:`picture_figure`), and a short annotated clip (:func:`write_annotated_video`).

Matplotlib and OpenCV are imported when drawing, so the rest of inference stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow._atomic import atomic_path
from emoflow.errors import InputError
from emoflow.facemesh.style import RELEVANCE_CMAP
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


def label_positions(
    anchors: np.ndarray, face: tuple[float, float, float, float], gap: float
) -> tuple[np.ndarray, np.ndarray]:
    """Where the labels of ``anchors`` (``(n, 2)`` points, image coordinates: y down) go so
    that none overlaps another or covers the face: in two columns beside the face box
    ``face`` (x_min, x_max, y_min, y_max), each point's label on its own side, at its height
    where there is room, at least ``gap`` below the label above (pushed up from the bottom
    when a column runs out of height).

    Returns the labels' positions ``(n, 2)`` and whether each is on the left.
    """
    x_min, x_max, _, y_max = face
    centre = (x_min + x_max) / 2
    span = x_max - x_min
    left = anchors[:, 0] < centre
    placed = np.zeros_like(anchors, dtype=np.float64)
    for side in (True, False):
        members = np.flatnonzero(left == side)
        if not members.size:
            continue
        members = members[np.argsort(anchors[members, 1], kind="stable")]
        heights = anchors[members, 1].astype(np.float64).copy()
        for i in range(1, len(heights)):  # downward: keep a gap below the label above
            heights[i] = max(heights[i], heights[i - 1] + gap)
        overflow = heights[-1] - (y_max + gap)
        if overflow > 0:  # the column ran past the face's bottom: push it up, evenly
            heights -= overflow
            for i in range(len(heights) - 2, -1, -1):
                heights[i] = min(heights[i], heights[i + 1] - gap)
        placed[members, 0] = x_min - 0.06 * span if side else x_max + 0.06 * span
        placed[members, 1] = heights
    return placed, left


def picture_figure(
    frame: np.ndarray,
    points: np.ndarray,
    table: pl.DataFrame,
    label: str,
    *,
    top_k: int = 8,
    title: str = "",
    edges: np.ndarray | None = None,
    path: str | Path | None = None,
) -> Any:
    """One panel per emotion: the frame, all landmarks in grey, the model's landmarks
    coloured and sized by relevance (scaled to the emotion's largest), the top ones numbered
    beside the face (:func:`label_positions`: no label overlaps another or covers a point),
    each with a thin line to its landmark. Returns the Matplotlib figure, and saves it
    (atomically) at ``path`` when one is given.

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
    height = frame.shape[0]
    valid = np.isfinite(points).all(axis=1)
    x_min, y_min = points[valid].min(axis=0)
    x_max, y_max = points[valid].max(axis=0)
    margin = 0.25 * max(x_max - x_min, y_max - y_min)
    box = (  # the labels' columns stand in the side margins, beyond the frame if need be
        x_min - margin,
        x_max + margin,
        max(0.0, y_min - margin),
        min(float(height), y_max + margin),
    )
    face = (float(x_min), float(x_max), float(y_min), float(y_max))
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
        top = ids[np.argsort(-share, kind="stable")][:top_k]
        top = top[valid[top]]
        spots, on_left = label_positions(points[top], face, gap=(box[3] - box[2]) / 22)
        for landmark, spot, left in zip(top, spots, on_left, strict=True):
            axes.annotate(
                str(landmark),
                points[landmark],
                xytext=spot,
                textcoords="data",
                ha="right" if left else "left",
                va="center",
                fontsize=7,
                color="black",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
                arrowprops={"arrowstyle": "-", "color": "white", "linewidth": 0.6, "alpha": 0.9},
                annotation_clip=False,
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
    if path is not None:
        with atomic_path(path) as staged:
            figure.savefig(staged, dpi=120, facecolor="white")
    return figure


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
    "label_positions",
    "peak_frame",
    "picture_figure",
    "read_frame",
    "write_annotated_video",
]

"""Rendering: one video's frames by warping the subject's photo, and where its landmarks go."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emoflow._atomic import atomic_path
from emoflow.demo.actions import Action
from emoflow.demo.face import CROP_SIZE, crop_origin
from emoflow.demo.movements import demo_actions, grid_field
from emoflow.demo.spec import STABLE_EMOTION_CODES, DemoSpec
from emoflow.demo.subjects import Subject, make_subject, plan_video
from emoflow.facemesh.mesh import N_LANDMARKS


def expected_landmarks(
    spec: DemoSpec, subject_index: int, emotion: str, repetition: int
) -> np.ndarray:
    """Where the renderer puts the neutral face's landmarks in each frame of one video.

    Parameters
    ----------
    spec
        The demo spec.
    subject_index
        0-based subject number (``s01`` is 0).
    emotion
        One of ``spec.emotions``.
    repetition
        1-based repetition.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_frames, 478, 2)``: x, y in output pixels. This is the geometric truth of the
        synthesis (what a perfect landmark detector would report), up to the small error of
        inverting the warp numerically.
    """
    actions = demo_actions()
    face = actions.face
    subject = make_subject(subject_index, spec)
    plan = plan_video(subject, emotion, repetition, spec)

    def at_landmarks(action: Action) -> np.ndarray:
        return action.field(face.points, face)

    shape = sum(
        (coefficient * at_landmarks(actions.identity[name]))
        for name, coefficient in subject.shape.items()
    )
    expression = sum(
        (
            subject.style[f"{emotion}.{action.name}"] * at_landmarks(action)
            for action in actions.emotions[emotion]
        ),
        start=np.zeros((N_LANDMARKS, 2)),
    )
    nuisance = {name: at_landmarks(actions.nuisance[name]) for name in plan.nuisance}
    frames = []
    for frame_index in range(spec.n_frames):
        canonical = face.points + shape + plan.expression[frame_index] * expression
        for name, signal in plan.nuisance.items():
            canonical = canonical + signal[frame_index] * nuisance[name]
        transform = plan.head_motion[frame_index] @ subject.pose
        output = canonical @ transform[:2, :2].T + transform[:2, 2]
        frames.append(output * spec.size)
    return np.stack(frames)


def render_video(
    path: Path,
    subject: Subject,
    emotion: str,
    repetition: int,
    spec: DemoSpec,
) -> float:
    """Write one video; return its peak expression intensity."""
    import cv2

    size = spec.size
    plan = plan_video(subject, emotion, repetition, spec)
    expression_field = np.zeros((size, size, 2), dtype=np.float32)
    for index, action in enumerate(demo_actions().emotions[emotion]):
        weight = subject.style[f"{emotion}.{action.name}"]
        expression_field += np.float32(weight) * grid_field("emotion", emotion, index, size)
    nuisance_fields = {name: grid_field("nuisance", name, 0, size) for name in plan.nuisance}
    noise_rng = np.random.default_rng(
        [spec.seed, 2, subject.index, STABLE_EMOTION_CODES[emotion], repetition]
    )

    pixel_centres = np.arange(size, dtype=np.float32) + np.float32(0.5)
    out_x, out_y = np.meshgrid(pixel_centres / size, pixel_centres / size)
    x0, y0 = crop_origin()
    source_offset = np.float32(size / CROP_SIZE) * np.array([x0, y0], dtype=np.float32)

    fourcc = cv2.VideoWriter.fourcc(*"mp4v")
    with atomic_path(path) as staged:
        writer = cv2.VideoWriter(str(staged), fourcc, float(spec.fps), (size, size))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {path} with the mp4v codec")
        try:
            for frame_index in range(spec.n_frames):
                field = subject.shape_field + np.float32(plan.expression[frame_index]) * (
                    expression_field
                )
                for name, signal in plan.nuisance.items():
                    if signal[frame_index] != 0:
                        field += np.float32(signal[frame_index]) * nuisance_fields[name]
                # output (normalised) → canonical grid pixels
                to_grid = np.diag([size, size, 1.0]) @ np.linalg.inv(
                    plan.head_motion[frame_index] @ subject.pose
                )
                a, b, c = to_grid[0].astype(np.float32)
                d, e, f = to_grid[1].astype(np.float32)
                grid_x = a * out_x + b * out_y + (c - np.float32(0.5))
                grid_y = d * out_x + e * out_y + (f - np.float32(0.5))
                # invert the forward displacement by two fixed-point steps: p = u − D(p)
                source_x, source_y = grid_x, grid_y
                for _ in range(2):
                    pushed = cv2.remap(
                        field, source_x, source_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
                    )
                    source_x = grid_x - pushed[..., 0]
                    source_y = grid_y - pushed[..., 1]
                frame = cv2.remap(
                    subject.source,
                    source_x + source_offset[0],
                    source_y + source_offset[1],
                    cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT101,
                )
                if spec.noise_std > 0:
                    noise = noise_rng.standard_normal(frame.shape, dtype=np.float32)
                    noisy = frame.astype(np.float32) + np.float32(spec.noise_std) * noise
                    frame = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
    return plan.peak_intensity

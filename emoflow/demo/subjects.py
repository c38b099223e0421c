"""Subjects (identity, pose, colour) and the random plan of each video (expression ramp,
nuisance, head motion)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emoflow.demo.face import CROP_SIZE, face_photo
from emoflow.demo.movements import demo_actions, grid_field
from emoflow.demo.spec import EMOTIONS, STABLE_EMOTION_CODES, DemoSpec, subject_name


def _translation(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def _linear(matrix: np.ndarray) -> np.ndarray:
    out = np.eye(3)
    out[:2, :2] = matrix
    return out


def _rotation(degrees: float) -> np.ndarray:
    angle = math.radians(degrees)
    return _linear(
        np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    )


@dataclass(frozen=True, eq=False)
class Subject:
    index: int
    name: str
    pose: np.ndarray
    """Canonical → output coordinates (both normalised to [0, 1]), 3 × 3."""
    source: np.ndarray
    """The colour-graded photo, scaled so the face crop spans ``size`` pixels."""
    intensity: float
    style: dict[str, float]
    """Emotion action name → how strongly this subject uses it."""
    shape: dict[str, float]
    """Identity action name → this subject's coefficient (static face-shape morph)."""
    shape_field: np.ndarray
    """The static face-shape displacement on the canonical grid, in grid pixels."""


def _colour_graded_photo(rng: np.random.Generator, size: int) -> np.ndarray:
    import cv2

    scale = size / CROP_SIZE
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    photo = cv2.resize(face_photo(), None, fx=scale, fy=scale, interpolation=interpolation)
    hsv = cv2.cvtColor(photo, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = np.mod(hsv[..., 0] + rng.uniform(-4, 4), 180)
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.7, 1.25), 0, 255)
    rgb = cv2.cvtColor(hsv.round().astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32) / 255
    rgb = rgb ** rng.uniform(0.85, 1.2)
    rgb = (rgb - 0.5) * rng.uniform(0.8, 1.15) + 0.5 + rng.uniform(-0.1, 0.08)
    rgb *= rng.uniform(0.95, 1.05, size=3)  # white balance
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def make_subject(index: int, spec: DemoSpec) -> Subject:
    rng = np.random.default_rng([spec.seed, 0, index])
    actions = demo_actions()
    scale = rng.uniform(0.88, 1.12)
    aspect = math.exp(rng.uniform(-0.08, 0.08))
    shear = rng.uniform(-0.06, 0.06)
    pose = (
        _translation(0.5 + rng.uniform(-0.04, 0.04), 0.5 + rng.uniform(-0.04, 0.04))
        @ _rotation(rng.uniform(-7, 7))
        @ _linear(np.array([[1.0, shear], [0.0, 1.0]]))
        @ _linear(np.diag([scale * aspect, scale / aspect]))
        @ _translation(-actions.face.centre[0], -actions.face.centre[1])
    )
    source = _colour_graded_photo(rng, spec.size)
    low, high = spec.intensity_range
    intensity = float(rng.uniform(low, high))
    style = {
        f"{emotion}.{action.name}": float(rng.uniform(0.8, 1.2))
        for emotion in EMOTIONS
        for action in actions.emotions[emotion]
    }
    shape = {name: float(rng.uniform(-1, 1)) for name in actions.identity}
    shape_field = np.zeros((spec.size, spec.size, 2), dtype=np.float32)
    for name, coefficient in shape.items():
        shape_field += np.float32(coefficient) * grid_field("identity", name, 0, spec.size)
    return Subject(index, subject_name(index), pose, source, intensity, style, shape, shape_field)


def _ease_in_out(progress: np.ndarray) -> np.ndarray:
    progress = np.clip(progress, 0.0, 1.0)
    return progress * progress * (3 - 2 * progress)


def _smooth_noise(rng: np.random.Generator, n_frames: int, timescale_frames: float) -> np.ndarray:
    """Zero-mean Gaussian-filtered noise with unit variance in expectation."""
    radius = max(1, math.ceil(3 * timescale_frames))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / timescale_frames) ** 2)
    kernel /= np.sqrt((kernel**2).sum())
    white = rng.standard_normal(n_frames + 2 * radius)
    return np.convolve(white, kernel, mode="valid")


def _blinks(rng: np.random.Generator, spec: DemoSpec) -> np.ndarray:
    """Eyelid closure (0 open … 1 closed) per frame."""
    times = np.arange(spec.n_frames) / spec.fps
    closure = np.zeros(spec.n_frames)
    duration_s = spec.n_frames / spec.fps
    for _ in range(rng.poisson(spec.blink_rate * duration_s)):
        start = rng.uniform(-0.2, duration_s)
        length = rng.uniform(0.2, 0.35)
        phase = (times - start) / length
        inside = (phase > 0) & (phase < 1)
        closure[inside] = np.maximum(
            closure[inside], rng.uniform(0.8, 1.0) * np.sin(np.pi * phase[inside])
        )
    return closure


def _head_motion(rng: np.random.Generator, spec: DemoSpec) -> list[np.ndarray]:
    """Per-frame output → output similarity transforms (about the frame centre)."""
    amplitude = spec.head_motion
    progress = np.linspace(0.0, 1.0, spec.n_frames)
    times = np.arange(spec.n_frames) / spec.fps

    def track(drift: float, wave: float, jitter: float) -> np.ndarray:
        frequency = rng.uniform(0.1, 0.4)
        phase = rng.uniform(0, 2 * np.pi)
        values = (
            rng.uniform(-drift, drift) * progress
            + wave * rng.uniform(0, 1) * np.sin(2 * np.pi * frequency * times + phase)
            + jitter * rng.standard_normal(spec.n_frames)
        )
        return amplitude * values

    shift_x = track(0.03, 0.015, 0.0015)
    shift_y = track(0.02, 0.01, 0.0015)
    angle = track(4.0, 2.0, 0.15)
    zoom = np.exp(track(0.04, 0.02, 0.002))
    return [
        _translation(0.5 + dx, 0.5 + dy)
        @ _rotation(a)
        @ _linear(np.eye(2) * s)
        @ _translation(-0.5, -0.5)
        for dx, dy, a, s in zip(shift_x, shift_y, angle, zoom, strict=True)
    ]


def _talking(
    subject: Subject, emotion: str, repetition: int, spec: DemoSpec
) -> dict[str, np.ndarray]:
    """Speech in most videos, whatever the emotion: the jaw opens and closes at a syllable
    rate of 3-5 Hz, the lips round now and then."""
    rng = np.random.default_rng(
        [spec.seed, 3, subject.index, STABLE_EMOTION_CODES[emotion], repetition]
    )
    times = np.arange(spec.n_frames) / spec.fps
    speaking = float(rng.uniform() < 0.75)
    rate, phase = rng.uniform(3.0, 5.0), rng.uniform(0, 2 * np.pi)
    loudness = np.clip(0.7 + 0.4 * _smooth_noise(rng, spec.n_frames, 0.5 * spec.fps), 0.1, None)
    syllables = 0.5 - 0.5 * np.cos(2 * np.pi * rate * times + phase)
    rounding = _smooth_noise(rng, spec.n_frames, 0.15 * spec.fps)
    return {
        "talk_jaw": spec.talking * speaking * loudness * syllables,
        "talk_lips": spec.talking * speaking * rounding,
    }


def _tic(subject: Subject, emotion: str, repetition: int, spec: DemoSpec) -> dict[str, np.ndarray]:
    """A per-subject habit: each subject twitches one side of the face contour, with its own
    strength (0.3-1.5 ×) and pace, in every video whatever the emotion."""
    habit = np.random.default_rng([spec.seed, 4, subject.index])
    name = "left_oval_tic" if habit.uniform() < 0.5 else "right_oval_tic"
    strength = habit.uniform(0.3, 1.5)
    timescale_frames = habit.uniform(0.1, 0.4) * spec.fps
    rng = np.random.default_rng(
        [spec.seed, 5, subject.index, STABLE_EMOTION_CODES[emotion], repetition]
    )
    signal = np.maximum(_smooth_noise(rng, spec.n_frames, timescale_frames), 0.0)
    return {name: spec.idiosyncrasy * strength * 2.0 * signal}


@dataclass(frozen=True, eq=False)
class _VideoPlan:
    """Everything random about one video except its pixel noise."""

    peak_intensity: float
    expression: np.ndarray
    """Expression strength per frame (0 neutral … ``peak_intensity``), style and
    ``expression_scale`` not included."""
    nuisance: dict[str, np.ndarray]
    """Nuisance action name → its strength per frame."""
    head_motion: list[np.ndarray]
    """Per-frame output → output transforms (3 × 3, normalised coordinates)."""


def plan_video(subject: Subject, emotion: str, repetition: int, spec: DemoSpec) -> _VideoPlan:
    rng = np.random.default_rng(
        [spec.seed, 1, subject.index, STABLE_EMOTION_CODES[emotion], repetition]
    )
    peak_intensity = subject.intensity * float(rng.uniform(0.9, 1.1))
    last = spec.n_frames - 1
    onset = rng.uniform(0.0, 0.1) * last
    peak = float(np.clip(spec.ramp_fraction + rng.uniform(-0.08, 0.08), 0.1, 1.0)) * last
    ramp = _ease_in_out((np.arange(spec.n_frames) - onset) / max(peak - onset, 1e-9))
    nuisance = {"blink": _blinks(rng, spec)}
    for name in ("left_brow_twitch", "right_brow_twitch", "mouth_shift", "jaw_motion"):
        timescale_frames = rng.uniform(0.2, 0.5) * spec.fps
        nuisance[name] = spec.twitch * _smooth_noise(rng, spec.n_frames, timescale_frames)
    # Talking and tics draw from their own streams: without them, the plan is unchanged.
    if spec.talking > 0:
        nuisance.update(_talking(subject, emotion, repetition, spec))
    if spec.idiosyncrasy > 0:
        nuisance.update(_tic(subject, emotion, repetition, spec))
    return _VideoPlan(
        peak_intensity=peak_intensity,
        expression=spec.expression_scale * peak_intensity * ramp,
        nuisance=nuisance,
        head_motion=_head_motion(rng, spec),
    )

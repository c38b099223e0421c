"""What the demo synthesises: :class:`DemoSpec`, the emotions and the label columns."""

from __future__ import annotations

from dataclasses import dataclass

from emoflow.config import SectionSettings, setting
from emoflow.errors import ConfigError

EMOTIONS: tuple[str, ...] = ("happiness", "sadness", "surprise", "anger", "disgust", "fear")
"""Emotions the demo can synthesise (``"neutral"`` is also accepted: nuisance only)."""

GROUND_TRUTH_THRESHOLD = 0.02
"""A landmark belongs to an emotion's ground truth when the emotion's peak displacement moves
it by more than this fraction of the face width (≈ 2 px in a 256 px frame)."""

LABEL_COLUMNS: tuple[str, ...] = (
    "video_id",
    "path",
    "subject",
    "emotion",
    "repetition",
    "intensity",
)
"""Header of ``labels.csv``."""

STABLE_EMOTION_CODES = {name: code for code, name in enumerate((*EMOTIONS, "neutral"))}
"""Emotion → integer used to seed random streams, independent of the order in a spec."""


@dataclass(frozen=True)
class DemoSpec(SectionSettings):
    """What :func:`make_demo` synthesises; the ``demo`` config section holds five of its fields.

    The workflow builds it with ``DemoSpec.from_section(config["demo"],
    emotions=config["dataset"]["emotions"])``: the section is checked against the schema
    there. The other fields (:attr:`EXTRA_FIELDS`) are Python-only knobs, and the constructor's
    own ranges are wider than the schema's (one subject, short or small videos), for tests and
    ``emoflow demo``.

    Parameters
    ----------
    n_subjects
        Synthetic subjects (identities).
    emotions
        Emotion classes, from :data:`EMOTIONS` (or ``"neutral"``).
    repetitions
        Videos per subject and emotion.
    n_frames
        Frames per video.
    fps
        Frame rate written into the videos.
    size
        Output frames are ``size × size`` RGB.
    seed
        Seed of every random choice; the same spec always gives the same data set.
    noise_std
        Standard deviation of the Gaussian pixel noise, in 8-bit grey levels.
    head_motion
        Scale of the per-video head drift and jitter (0 turns it off).
    blink_rate
        Mean blinks per second (Poisson), in every class.
    twitch
        Scale of the random brow twitches, sideways mouth shifts and jaw motion in every class.
    intensity_range
        Range of each subject's expression intensity (1 = the nominal peak).
    ramp_fraction
        Fraction of the clip by which the expression reaches its peak (then it holds).
    expression_scale
        Global multiplier of every emotion's displacement.
    talking
        Scale of speech in most videos whatever the emotion (the jaw opening and closing at
        3-5 syllables a second, the lips rounding); 0 (default) turns it off.
    idiosyncrasy
        Scale of each subject's own habit, a twitch of one side of the face contour (away
        from the emotions' actions) with a per-subject strength, in all its videos, whatever
        the emotion; 0 turns it off.
    """

    SECTION = "demo"
    EXTRA_FIELDS = ("emotions", "fps", "ramp_fraction")

    n_subjects: int = setting(8, minimum=2)
    emotions: tuple[str, ...] = EMOTIONS
    repetitions: int = setting(2, minimum=1)
    n_frames: int = setting(30, minimum=4)
    fps: float = 15.0
    size: int = setting(256, minimum=128, maximum=1024)
    seed: int = setting(0, minimum=0)
    noise_std: float = setting(3.0, minimum=0)
    head_motion: float = setting(1.0, minimum=0)
    blink_rate: float = setting(0.3, minimum=0)
    twitch: float = setting(1.0, minimum=0)
    intensity_range: tuple[float, float] = setting((0.6, 1.2), items={"minimum": 0})
    ramp_fraction: float = 0.6
    expression_scale: float = setting(1.0, exclusive_minimum=0)
    talking: float = setting(0.0, minimum=0)
    idiosyncrasy: float = setting(0.0, minimum=0)

    def __post_init__(self) -> None:
        # Accept lists (from YAML/JSON) but keep the spec hashable and comparable.
        object.__setattr__(self, "emotions", tuple(self.emotions))
        object.__setattr__(self, "intensity_range", tuple(float(v) for v in self.intensity_range))
        known = set(STABLE_EMOTION_CODES)
        unknown = [name for name in self.emotions if name not in known]
        problems = []
        if unknown:
            problems.append(f"unknown emotions {unknown} (known: {sorted(known)})")
        if not self.emotions:
            problems.append("emotions is empty")
        if len(set(self.emotions)) != len(self.emotions):
            problems.append(f"emotions repeat: {list(self.emotions)}")
        if self.n_subjects < 1:
            problems.append(f"n_subjects must be ≥ 1, got {self.n_subjects}")
        if self.repetitions < 1:
            problems.append(f"repetitions must be ≥ 1, got {self.repetitions}")
        if self.n_frames < 2:
            problems.append(f"n_frames must be ≥ 2, got {self.n_frames}")
        if self.fps <= 0:
            problems.append(f"fps must be > 0, got {self.fps}")
        if self.size < 64:
            problems.append(f"size must be ≥ 64 pixels, got {self.size}")
        if len(self.intensity_range) != 2 or not (
            0 <= self.intensity_range[0] <= self.intensity_range[1]
        ):
            problems.append(f"intensity_range must be (low, high), got {self.intensity_range}")
        if not 0 < self.ramp_fraction <= 1:
            problems.append(f"ramp_fraction must be in (0, 1], got {self.ramp_fraction}")
        for name in (
            "noise_std",
            "head_motion",
            "blink_rate",
            "twitch",
            "expression_scale",
            "talking",
            "idiosyncrasy",
        ):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be ≥ 0, got {getattr(self, name)}")
        if problems:
            raise ConfigError("demo spec: " + "; ".join(problems))


OPTIONAL_FIELDS: tuple[str, ...] = ("talking", "idiosyncrasy")
"""Fields added after the first demo: left out of ``ground_truth.json``'s spec while 0, so
the default demo's files stay byte-identical."""

DEFAULT_SPEC = DemoSpec()
"""The default spec (a frozen value, shared as the default argument)."""


def subject_name(index: int) -> str:
    """The name of the demo's ``index``-th subject (0-based), e.g. ``s03``."""
    return f"s{index + 1:02d}"


def video_id(subject: str, emotion: str, repetition: int) -> str:
    """The id of one demo video, e.g. ``s03_happiness_r1`` (repetitions count from 1)."""
    return f"{subject}_{emotion}_r{repetition}"


def planned_videos(spec: DemoSpec) -> list[dict[str, str]]:
    """The videos :func:`~emoflow.demo.make_demo` writes for ``spec``, without rendering them.

    One row per video, in ``labels.csv`` order: ``video_id``, ``path`` (relative to the demo
    folder), ``subject`` and ``emotion``. The workflow plans its landmark shards from this
    before the demo exists.
    """
    return [
        {
            "video_id": video_id(subject_name(index), emotion, repetition),
            "path": f"videos/{video_id(subject_name(index), emotion, repetition)}.mp4",
            "subject": subject_name(index),
            "emotion": emotion,
        }
        for index in range(spec.n_subjects)
        for emotion in spec.emotions
        for repetition in range(1, spec.repetitions + 1)
    ]

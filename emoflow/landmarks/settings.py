"""Settings of the landmark stage: the ``landmarks`` config section.

The class declares the section's keys (types, defaults, ranges: the configuration schema is
generated from it, ``tools/make_config_schema.py``); the workflow's rules read the section as
the schema fills it in, and :func:`~emoflow.landmarks.planning.extraction_settings` leaves out
its :attr:`LandmarkSettings.SHARDING_KEYS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from emoflow.config import SectionSettings, setting
from emoflow.facemesh.faces import FACE_POLICIES
from emoflow.video import MAX_SIDE, MIN_SIDE

__all__ = ["FRAME_MODES", "LandmarkSettings"]

FRAME_MODES: tuple[str, ...] = ("sampled", "all")
"""Values of ``landmarks.frames``: mesh the frames the features read, or every frame."""

MAX_FRAME_SIDE_LIMIT = 65536
"""The largest frame side (pixels) the settings allow as a bound."""


@dataclass(frozen=True)
class LandmarkSettings(SectionSettings):
    """How videos become landmark tables: the ``landmarks`` config section.

    ``n_shards`` and ``videos_per_shard`` split the videos into jobs (:attr:`SHARDING_KEYS`);
    ``strict``, ``fps``, ``frames`` and the frame-side bounds go to
    :func:`~emoflow.landmarks.extract.extract_videos`, the rest to the
    :class:`~emoflow.landmarks.extract.FaceMeshExtractor`.
    """

    SECTION = "landmarks"
    SHARDING_KEYS: ClassVar[tuple[str, ...]] = ("n_shards", "videos_per_shard")
    """Keys that decide how videos are split into jobs, not their landmarks."""

    n_shards: int = setting(4, minimum=1)
    videos_per_shard: int | None = setting(250, minimum=1)
    refine_landmarks: bool = True
    max_num_faces: int = setting(1, minimum=1, maximum=32)
    face_policy: str = setting("tracked", enum=FACE_POLICIES)
    find_small_faces: bool = True
    min_detection_confidence: float = setting(0.5, minimum=0, maximum=1)
    fps: float | None = setting(None, exclusive_minimum=0)
    frames: str = setting(
        "sampled",
        enum=FRAME_MODES,
        doc="sampled: mesh only the frames the features read (features.n_frames; every frame "
        "of a video where one of them shows no face); all: every frame (full landmark tracks)",
    )
    strict: bool = False
    min_frame_side: int = setting(
        MIN_SIDE,
        minimum=1,
        maximum=MAX_FRAME_SIDE_LIMIT,
        doc="videos whose frames are smaller (pixels per side) are refused before decoding, "
        "with the reason in their record (emoflow predict refuses them too)",
    )
    max_frame_side: int = setting(
        MAX_SIDE,
        minimum=1,
        maximum=MAX_FRAME_SIDE_LIMIT,
        doc="videos whose frames are larger (pixels per side) are refused before decoding, "
        "with the reason in their record, instead of exhausting the job's memory; the job's "
        "mem_mb follows the largest frames of its shard",
    )

    def __post_init__(self) -> None:
        self.check()

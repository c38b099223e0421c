"""The owner of the feature store (``features.zarr``): :func:`write_feature_store` writes it,
:func:`load_features`, :func:`read_store_attributes` and :func:`read_store_samples` read it;
nothing else opens it.

Layout (Zarr v3, metadata consolidated, each chunk checksummed with CRC-32C and verified on
read, every metadata document and chunk size recorded with its SHA-256 in
``emoflow_integrity.json`` and checked before the store is opened, :mod:`emoflow._integrity`):
``features`` ``(sample, frame, landmark, coord)`` float32 with ``dimension_names``, ``units``
and ``long_name``; ``video_id``, ``subject``, ``emotion`` string arrays over ``sample``, named
as the coordinates of ``features`` (its ``coordinates`` attribute, as CF and xarray write it),
so ``xarray.open_zarr`` opens them as coordinates of the ``sample`` dimension; a coordinate
array per dimension (``sample`` = the video ids, ``frame`` = 0, 1, …, ``landmark`` = the
Face Mesh ids, ``coord`` = ``x``, ``y``, ``z``), so every axis is labelled; group attributes
``emoflow_store = "features"``, ``emotions``, ``n_landmarks``, ``settings`` (the
:class:`~emoflow.features.FeatureSettings` as a dict), ``dropped`` (video → why it gave no
sample), ``several_faces`` (kept video → what extraction saw) and ``counts`` (``videos``,
``kept``, ``dropped``, ``several_faces``; read together with the maps by
:func:`read_sample_report`). Attributes that are not a string or a number are stored as JSON
strings (listed in ``emoflow_json_attributes``; :func:`emoflow._atomic.portable_attributes`),
so ``xarray``'s ``to_netcdf`` writes the opened store; the readers here decode them.

In xarray (labels are coordinates, so grouping by them keeps the features chunked)::

    ds = xarray.open_zarr("results/features.zarr")
    emotions = json.loads(ds.attrs["emotions"])
    ds.features.groupby(emotion=xarray.groupers.UniqueGrouper(labels=emotions)).mean()

(xarray needs the labels to group a chunked coordinate; ``ds.groupby("emotion")`` works once
the coordinate is loaded, ``ds.emotion.load()``, or on ``open_zarr(..., chunks=None)``.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from emoflow._atomic import decoded_attributes, portable_attributes
from emoflow._zarr import SAMPLE_LONG_NAMES, open_store, read_strings, written_store, zarr_array
from emoflow.errors import DataError, InputError
from emoflow.schemes import DEFAULT_SCHEME, get_scheme

log = logging.getLogger("emoflow.features.store")
"""The feature stage's logger, as before the store's format moved to storage."""

FEATURE_DIMS = ("sample", "frame", "landmark", "coord")
COORDS = ("x", "y", "z")
LABELS = ("video_id", "subject", "emotion")
"""The per-sample labels: coordinates of the ``sample`` dimension."""
_LONG_NAMES = {**SAMPLE_LONG_NAMES, "emotion": "emotion label of the sample"}


@dataclass
class FeatureSet:
    """Features of a data set as loaded from the Zarr store.

    Attributes
    ----------
    features
        Shape ``(n_samples, n_frames, n_landmarks, 3)``, float32.
    video_ids, subjects, emotions
        One entry per sample.
    emotion_names
        The emotions of the data set, in a fixed order.
    settings
        The :class:`FeatureSettings` used, as a dict.
    scheme
        The landmark scheme (:mod:`emoflow.schemes`) the ids refer to.
    landmark_ids
        The landmark id of each entry of the ``landmark`` axis; ``None`` means
        ``0 … n_landmarks − 1`` (all landmarks of the store, in order).
    """

    features: np.ndarray
    video_ids: np.ndarray
    subjects: np.ndarray
    emotions: np.ndarray
    emotion_names: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    landmark_ids: np.ndarray | None = None
    scheme: str = DEFAULT_SCHEME

    def __post_init__(self) -> None:
        n_landmarks = self.features.shape[2]
        if self.landmark_ids is None:
            self.landmark_ids = np.arange(n_landmarks, dtype=np.int64)
        self.landmark_ids = np.asarray(self.landmark_ids, dtype=np.int64)
        if self.landmark_ids.shape != (n_landmarks,):
            raise DataError(
                f"{len(self.landmark_ids)} landmark ids for features with {n_landmarks} landmarks"
            )

    def labels_for(self, emotion: str) -> np.ndarray:
        """One-vs-rest labels (1 for ``emotion``, 0 otherwise), shape ``(n_samples,)``."""
        return (self.emotions == emotion).astype(np.int64)

    def samples(self, mask: np.ndarray) -> FeatureSet:
        """The samples where ``mask`` (shape ``(n_samples,)``, Boolean) is true."""
        mask = np.asarray(mask, dtype=bool)
        return FeatureSet(
            features=self.features[mask],
            video_ids=self.video_ids[mask],
            subjects=self.subjects[mask],
            emotions=self.emotions[mask],
            emotion_names=self.emotion_names,
            settings=self.settings,
            landmark_ids=self.landmark_ids,
            scheme=self.scheme,
        )

    def select(self, landmarks: Sequence[int] | np.ndarray) -> FeatureSet:
        """The same samples restricted to some landmarks, by indexing the ``landmark`` axis.

        Parameters
        ----------
        landmarks
            Face Mesh ids (as in ``landmarks.json`` and model metadata), in the order wanted;
            each must be held by this set and appear once.

        Returns
        -------
        FeatureSet
            Features ``(n_samples, n_frames, len(landmarks), 3)``; sample arrays and settings
            are shared with this set, not copied.

        Raises
        ------
        DataError
            A landmark id is repeated or not held by this set.
        """
        wanted = np.asarray(landmarks, dtype=np.int64).reshape(-1)
        if len(np.unique(wanted)) != len(wanted):
            raise DataError("landmark subset repeats a landmark id")
        assert self.landmark_ids is not None
        position_of = {int(lid): pos for pos, lid in enumerate(self.landmark_ids)}
        unknown = [int(lid) for lid in wanted if int(lid) not in position_of]
        if unknown:
            raise DataError(
                f"landmark id(s) {unknown[:10]} are not in this feature set "
                f"({len(self.landmark_ids)} landmarks)"
            )
        positions = np.array([position_of[int(lid)] for lid in wanted], dtype=np.int64)
        if len(positions) == len(self.landmark_ids) and np.array_equal(
            positions, np.arange(len(positions))
        ):
            features = self.features  # the whole set, in order: no copy
        else:
            features = self.features[:, :, positions, :]
        return FeatureSet(
            features=features,
            video_ids=self.video_ids,
            subjects=self.subjects,
            emotions=self.emotions,
            emotion_names=self.emotion_names,
            settings=self.settings,
            landmark_ids=wanted,
            scheme=self.scheme,
        )


def write_feature_store(
    out_path: str | Path,
    *,
    features: np.ndarray,
    video_ids: np.ndarray,
    subjects: np.ndarray,
    emotions: np.ndarray,
    emotion_names: list[str],
    settings: dict[str, Any],
    dropped: dict[str, str] | None = None,
    several_faces: dict[str, str] | None = None,
    scheme: str = DEFAULT_SCHEME,
) -> None:
    """Write features and their sample labels as a Zarr v3 store (atomically).

    ``dropped`` maps each video that gave no sample to the reason, ``several_faces`` each kept
    video whose frames showed several faces to what was seen (see the module docstring);
    ``scheme`` is the landmark scheme (:mod:`emoflow.schemes`), stored as the ``scheme``
    attribute.
    """
    get_scheme(scheme)  # a known scheme
    n_samples, n_frames, n_landmarks, n_coords = features.shape
    with written_store(out_path) as (root, _):
        zarr_array(
            root,
            "features",
            np.asarray(features),
            dims=FEATURE_DIMS,
            attributes={
                "dims": list(FEATURE_DIMS),
                "coords": list(COORDS),
                "coordinates": " ".join(LABELS),
                **feature_units(settings),
            },
            dtype="float32",
            chunks=(min(n_samples, 256), n_frames, n_landmarks, n_coords),
        )
        for name, values in (
            *zip(LABELS, np.asarray([video_ids, subjects, emotions], dtype=str), strict=True),
            ("sample", np.asarray(video_ids, dtype=str)),
            ("frame", np.arange(n_frames, dtype=np.int64)),
            ("landmark", np.arange(n_landmarks, dtype=np.int64)),
            ("coord", np.asarray(COORDS[:n_coords], dtype=str)),
        ):
            dims = ["sample"] if name in LABELS else [name]
            attributes = {"dims": dims, "long_name": _LONG_NAMES[name]}
            zarr_array(root, name, values, dims=dims, attributes=attributes)
        dropped = dict(dropped or {})
        several_faces = dict(several_faces or {})
        root.attrs.update(
            portable_attributes(
                {
                    "emoflow_store": "features",
                    "dims": {"features": list(FEATURE_DIMS)},
                    "emotions": list(emotion_names),
                    "n_landmarks": int(n_landmarks),
                    "scheme": scheme,
                    "settings": settings,
                    "dropped": dropped,
                    "several_faces": several_faces,
                    "counts": {
                        "videos": int(n_samples) + len(dropped),
                        "kept": int(n_samples),
                        "dropped": len(dropped),
                        "several_faces": len(several_faces),
                    },
                }
            )
        )


def feature_units(settings: dict[str, Any]) -> dict[str, str]:
    """``units`` and ``long_name`` of the ``features`` array written with ``settings`` (a
    :class:`~emoflow.features.FeatureSettings` as a dict)."""
    what = (
        "landmark displacement from the video's first frame"
        if settings.get("displacement", True)
        else "landmark position"
    )
    steps = []
    if settings.get("center", "mean") != "none":
        steps.append(f"centred ({settings.get('center', 'mean')})")
    if settings.get("scale", "interocular") == "interocular":
        steps.append("scaled by the interocular distance")
    if settings.get("align", "first_frame") not in ("none", False):
        steps.append(f"aligned ({settings.get('align', 'first_frame')})")
    units = (
        "interocular distance"
        if settings.get("scale", "interocular") == "interocular"
        else "units of the landmark table (normalised to the frame, pixels or millimetres)"
    )
    return {"long_name": ", ".join([what, *steps]), "units": units}


def _open_store(path: str | Path) -> Any:
    """The root group of a feature store, checked to be one."""
    return open_store(path, "features", "feature store", REBUILD)


REBUILD = "delete it and rerun build_features (snakemake --forcerun build_features)"
"""What to do about a damaged feature store."""


def _unreadable(err: Exception) -> str:
    return f"not a readable Zarr store ({err}); {REBUILD}"


def read_store_attributes(path: str | Path) -> dict[str, Any]:
    """The store's attributes without its features: ``emotions``, ``n_landmarks``, ``settings``,
    ``dropped``."""
    return decoded_attributes(_open_store(path).attrs)


def read_store_samples(path: str | Path) -> dict[str, np.ndarray]:
    """The store's samples without their features: ``video_id``, ``subject`` and ``emotion``
    arrays (one entry per sample), for reports that count what was kept."""
    root = _open_store(path)
    try:
        return {name: read_strings(root[name]) for name in ("video_id", "subject", "emotion")}
    except MemoryError:  # out of memory is no damage of the store
        raise
    except Exception as err:  # zarr and JSON raise many kinds on a damaged store
        raise InputError(path, _unreadable(err)) from err


def read_sample_report(path: str | Path) -> dict[str, Any]:
    """Which videos became samples: ``counts`` (``videos``, ``kept``, ``dropped``,
    ``several_faces``), ``dropped`` (video → reason) and ``several_faces`` (kept video → what
    extraction saw).
    """
    attrs = decoded_attributes(_open_store(path).attrs)
    if not isinstance(attrs.get("counts"), dict):
        raise InputError(path, f"feature store of an earlier emoflow (no sample counts); {REBUILD}")
    return {name: dict(attrs[name]) for name in ("counts", "dropped", "several_faces")}


def sample_summary(path: str | Path) -> str:
    """A few lines for the console at the end of a run: videos kept and dropped (with the
    first reasons) and videos that showed several faces; ``""`` without a feature store."""
    if not Path(path).exists():
        return ""
    try:
        report = read_sample_report(path)
    except InputError as err:
        return f"emoflow: {err}"
    counts = report["counts"]
    lines = [
        f"emoflow: {counts['kept']} of {counts['videos']} videos became training samples, "
        f"{counts['dropped']} dropped (feature store {path})"
    ]
    shown = 5
    for video_id, reason in list(report["dropped"].items())[:shown]:
        lines.append(f"  dropped {video_id}: {reason}")
    if counts["dropped"] > shown:
        lines.append(f"  … and {counts['dropped'] - shown} more (see the report)")
    if report["several_faces"]:
        lines.append(
            f"  {len(report['several_faces'])} kept video(s) showed several faces; one face was "
            "followed: " + ", ".join(list(report["several_faces"])[:shown])
        )
    return "\n".join(lines)


def load_features(path: str | Path) -> FeatureSet:
    """Read a feature store written by :func:`write_feature_store`."""
    root = _open_store(path)
    try:
        features_array = cast(Any, root["features"])
        features = np.asarray(features_array[...], dtype=np.float32)
        labels = {name: read_strings(root[name]) for name in ("video_id", "subject", "emotion")}
    except MemoryError:  # out of memory is no damage of the store
        raise
    except Exception as err:  # zarr and JSON raise many kinds on a damaged store
        raise InputError(path, _unreadable(err)) from err
    if not np.isfinite(features).all():
        raise DataError(f"{path}: features contain NaN or infinite values")
    attrs = decoded_attributes(root.attrs)
    scheme = str(attrs.get("scheme") or DEFAULT_SCHEME)
    if features.shape[2] != get_scheme(scheme).n_points:
        log.info("feature store %s holds %d landmarks", path, features.shape[2])
    return FeatureSet(
        features=features,
        video_ids=labels["video_id"],
        subjects=labels["subject"],
        emotions=labels["emotion"],
        emotion_names=list(cast(list[str], attrs["emotions"])),
        settings=dict(cast(dict[str, Any], attrs["settings"])),
        scheme=scheme,
    )

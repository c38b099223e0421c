"""The attribution store (``attributions.zarr``): the one module that writes and reads it.

The store (Zarr v3, each chunk checksummed with CRC-32C and verified on read, its metadata
documents and chunk sizes recorded with their SHA-256 in ``emoflow_integrity.json`` and checked
before it is opened, :mod:`emoflow._integrity`; every array
names its dimensions in ``dimension_names`` and in a ``dims`` attribute, and the root's
``dims`` attribute maps array → dimensions) holds, over the samples *attributed* (the
``sample`` axis: with ``attribution.samples: positive`` only the emotion's own samples, or for
a store of several emotions those of any of them; every development sample with ``all``),

- ``attributions`` ``(emotion, sample, frame, landmark, coord)`` float32, NaN for landmarks
  outside an emotion's set, chunked ``(1, batch_size, all frames,`` :data:`LANDMARK_CHUNK`
  ``, all coords)``: one emotion or a few landmarks are read without the rest. A sample that
  counts for another emotion of the store but not for this one (``used``) holds 0, so that
  ``attributions.where(used)`` (xarray) or a mask by ``used`` gives what was computed;
- ``relevance`` ``(emotion, landmark)``: the relevance :math:`R_{e,l}` (stores written before
  call it ``scores``; :func:`load_scores` reads both);
- ``deltas`` ``(emotion, sample)``: convergence deltas (0 for samples not attributed);
- ``used`` ``(emotion, sample)``: the samples :math:`S` that count for each emotion, the
  ones attributed;
- ``baseline_video_id`` ``(emotion, baseline)``: the video of each baseline, ``""`` where a
  baseline is not a sample (centroids, means, still faces, zero) or not used (stores written
  before hold ``baselines``, the sample index of each, −1 for those);
- ``baseline_values`` ``(emotion, baseline, frame, landmark, coord)``: the references
  themselves (NaN outside the emotion's landmarks and for unused baseline slots), so a later
  explanation can use exactly the same ones;
- coordinate arrays ``emotion``, ``sample`` (= ``video_id``), ``frame``, ``landmark``,
  ``coord``, ``baseline`` (the slot number), and the samples' labels ``video_id``,
  ``subject`` and ``true_emotion`` over ``sample``, named in the ``coordinates`` attribute of
  the arrays over ``sample``, so ``xarray.open_zarr`` labels every axis and opens the labels
  as coordinates (the store's metadata is consolidated, so it opens without warnings);

and, in the root attributes, the landmark scheme (``scheme``), the settings, the formula's
aggregation, timings and the mean delta per emotion. Every variable has ``long_name`` and
``units``; attributes that are not a string or a number are JSON strings
(:func:`emoflow._atomic.portable_attributes`), so ``xarray``'s ``to_netcdf`` writes an opened
store.

The store is sized for the samples attributed: at 5.6k development samples and
``samples: positive`` one emotion's store holds its ~1/7 of them, not every sample's rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from emoflow._atomic import decoded_attributes, portable_attributes
from emoflow._integrity import check_store
from emoflow._zarr import SAMPLE_LONG_NAMES, open_store, read_strings, zarr_array
from emoflow.errors import DataError, InputError

ATTRIBUTION_DIMS = ("emotion", "sample", "frame", "landmark", "coord")
SCORE_DIMS = ("emotion", "landmark")
COORD_NAMES = ("x", "y", "z")
LANDMARK_CHUNK = 64
"""Landmarks per chunk of the attribution array: a per-landmark read touches one chunk column."""
_BASELINE_DIMS = ("emotion", "baseline", "frame", "landmark", "coord")
RELEVANCE = "relevance"
"""The relevance variable's name (``scores`` in stores written before)."""
SAMPLE_LABELS = ("video_id", "subject", "true_emotion")
"""The samples' labels: coordinates of the ``sample`` dimension."""
_DIMS: dict[str, tuple[str, ...]] = {
    "attributions": ATTRIBUTION_DIMS,
    RELEVANCE: SCORE_DIMS,
    "deltas": ("emotion", "sample"),
    "used": ("emotion", "sample"),
    "baseline_video_id": ("emotion", "baseline"),
    "baseline_values": _BASELINE_DIMS,
    **dict.fromkeys(SAMPLE_LABELS, ("sample",)),
    **{name: (name,) for name in ("emotion", "sample", "frame", "landmark", "coord", "baseline")},
}
"""Every array of the store and its dimensions (the root's ``dims`` attribute)."""
_LONG_NAMES: dict[str, str] = {
    **SAMPLE_LONG_NAMES,
    "attributions": (
        "Integrated Gradients attribution of the emotion's model score, mean over the baselines"
    ),
    RELEVANCE: "relevance of each landmark to the emotion's model (dataset-level IG)",
    "deltas": "convergence delta of Integrated Gradients (0: not attributed)",
    "used": "whether the sample counts for the emotion (attributed)",
    "baseline_video_id": "video of each baseline ('' where not a sample)",
    "baseline_values": "the baselines (references) of Integrated Gradients",
    "true_emotion": "emotion label of the sample",
    "emotion": "emotion whose binary model is explained",
    "baseline": "baseline slot",
}
"""``long_name`` of each array."""
_NUMBERS = ("attributions", RELEVANCE, "deltas", "used", "baseline_values")
"""The arrays of numbers: ``units`` ``1`` (labels and indices have no ``units``)."""


def _variable_attributes(name: str) -> dict[str, Any]:
    """An array's attributes: its dimensions, ``long_name``, ``units`` and, over ``sample``,
    the samples' labels as its ``coordinates``."""
    attributes: dict[str, Any] = {"dims": list(_DIMS[name]), "long_name": _LONG_NAMES[name]}
    if name in _NUMBERS:
        attributes["units"] = "1"
    if "sample" in _DIMS[name] and name not in SAMPLE_LABELS and name != "sample":
        attributes["coordinates"] = " ".join(SAMPLE_LABELS)
    return attributes


# -- writing ---------------------------------------------------------------------------------
def _array(root: Any, name: str, values: Any = None, **options: Any) -> Any:
    """Write the array ``name`` (its dimensions and attributes are the store's); NaN-filled
    float32 of ``shape`` and ``chunks`` when no ``values`` are given."""
    if values is None:
        options = {"dtype": "float32", "fill_value": np.nan, **options}
    return zarr_array(
        root, name, values, dims=_DIMS[name], attributes=_variable_attributes(name), **options
    )


class StoreWriter:
    """A store being written (its ``root`` group, staged at ``path``): arrays over the
    development samples that count for any of ``emotions`` (``counted``: emotion ×
    development sample), each emotion's row filled by :meth:`write_baselines` and
    :meth:`write_attributions`, the rest by :meth:`finish`; ``settings`` are the
    :class:`~emoflow.attribution.AttributionSettings` it is written with."""

    def __init__(
        self,
        root: Any,
        path: Path,
        feature_set: Any,
        emotions: list[str],
        counted: np.ndarray,
        settings: Any,
    ) -> None:
        self.root, self.path, self.feature_set, self.emotions = root, path, feature_set, emotions
        self.counted, self.settings = counted, settings
        self.stored = np.flatnonzero(counted.any(axis=0))  # the development rows it holds
        self.used = counted[:, self.stored]  # (emotion, stored sample)
        _, n_frames, n_landmarks, n_coords = feature_set.features.shape
        n_stored, landmark_chunk = len(self.stored), min(n_landmarks, LANDMARK_CHUNK)
        rows = max(1, min(n_stored, settings.batch_size))  # the samples of a chunk
        self.attributions = _array(
            self.root,
            "attributions",
            shape=(len(emotions), n_stored, n_frames, n_landmarks, n_coords),
            chunks=(1, rows, n_frames, landmark_chunk, n_coords),
        )
        self.deltas = np.zeros((len(emotions), n_stored), dtype=np.float32)
        self.baseline_videos = np.full((len(emotions), settings.n_baselines), "", dtype=object)
        self.baseline_values = _array(
            self.root,
            "baseline_values",
            shape=(len(emotions), settings.n_baselines, n_frames, n_landmarks, n_coords),
            chunks=(1, settings.n_baselines, n_frames, landmark_chunk, n_coords),
        )

    def write_baselines(
        self, row: int, baselines: np.ndarray, chosen: np.ndarray, keep: np.ndarray
    ) -> None:
        """An emotion's references (over its landmarks ``keep``) and the video of each that is
        a development sample (``chosen``: its index, −1 where none)."""
        for slot, index in enumerate(chosen[: self.settings.n_baselines]):
            if index >= 0:
                self.baseline_videos[row, slot] = str(self.feature_set.video_ids[index])
        values = np.full((len(baselines), *self.feature_set.features.shape[1:]), np.nan, np.float32)
        values[:, :, keep, :] = baselines
        self.baseline_values[row, : len(baselines)] = values

    def write_attributions(
        self,
        row: int,
        batches: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
        keep: np.ndarray,
    ) -> None:
        """An emotion's attributions, from ``batches`` of (development rows in increasing
        order, their attributions over ``keep``, their deltas).

        Each chunk of the store is written once, whole, as soon as its rows are done: NaN
        outside the landmarks ``keep``, 0 (and delta 0) for a stored sample that does not count
        for this emotion."""
        stored, array, n_stored = self.stored, self.attributions, len(self.stored)
        _, n_frames, n_landmarks, n_coords = self.feature_set.features.shape
        chunk = int(array.chunks[1])
        position = np.full(len(self.feature_set.features), -1, dtype=np.int64)
        position[stored] = np.arange(n_stored)
        blocks: dict[int, np.ndarray] = {}

        def block(k: int) -> np.ndarray:
            if k not in blocks:
                rows = min(chunk, n_stored - k * chunk)
                blocks[k] = np.full((rows, n_frames, n_landmarks, n_coords), np.nan, np.float32)
                blocks[k][:, :, keep, :] = 0.0
            return blocks[k]

        written = 0  # chunks of the store written

        def flush(done: int) -> None:  # the chunks whose stored rows below ``done`` are final
            nonlocal written
            while written * chunk < n_stored and min((written + 1) * chunk, n_stored) <= done:
                array[row, written * chunk : (written + 1) * chunk] = block(written)
                blocks.pop(written)
                written += 1

        for rows, values, deltas in batches:
            at = position[rows]  # positions in the store
            for k in np.unique(at // chunk):
                mine = at // chunk == k
                target = block(int(k))
                attributed = target[at[mine] - k * chunk]
                attributed[:, :, keep, :] = values[mine]
                target[at[mine] - k * chunk] = attributed
            self.deltas[row, at] = deltas
            if len(rows):
                flush(int(np.searchsorted(stored, rows[-1], side="right")))
        flush(n_stored)

    def finish(
        self,
        relevance: np.ndarray,
        *,
        iteration: int,
        device: str,
        seconds: dict[str, float],
    ) -> dict[str, Any]:
        """The ``relevance`` (of the attributions written), the labels and the root attributes;
        ``seconds`` of each emotion's attribution. Returns the timings."""
        root, emotions, used, stored = self.root, self.emotions, self.used, self.stored
        deltas, feature_set, settings = self.deltas, self.feature_set, self.settings
        n_samples, n_frames, n_landmarks, n_coords = feature_set.features.shape
        per_sample = {e: seconds[e] / max(int(used[i].sum()), 1) for i, e in enumerate(emotions)}
        video_ids = np.asarray(feature_set.video_ids, dtype=str)[stored]
        _array(root, RELEVANCE, relevance.astype(np.float32))
        _array(root, "deltas", deltas)
        _array(root, "used", used)
        _array(root, "baseline_video_id", self.baseline_videos.astype(str))
        _array(root, "emotion", np.asarray(emotions, dtype=str))
        _array(root, "video_id", video_ids)
        _array(root, "subject", np.asarray(feature_set.subjects, dtype=str)[stored])
        _array(root, "true_emotion", np.asarray(feature_set.emotions, dtype=str)[stored])
        _array(root, "sample", video_ids)
        _array(root, "frame", np.arange(n_frames, dtype=np.int64))
        _array(root, "landmark", np.arange(n_landmarks, dtype=np.int64))
        _array(root, "coord", np.asarray(COORD_NAMES[:n_coords], dtype=str))
        _array(root, "baseline", np.arange(settings.n_baselines, dtype=np.int64))
        root.attrs.update(
            portable_attributes(
                {
                    "emoflow_store": "attributions",
                    "iteration": iteration,
                    "emotions": emotions,
                    "scheme": feature_set.scheme,  # the landmark scheme of the landmark ids
                    "dims": {name: list(dims) for name, dims in _DIMS.items()},
                    "settings": asdict(settings),
                    "device": device,
                    "n_development_samples": int(n_samples),
                    "seconds_per_emotion": seconds,
                    "seconds_per_sample": per_sample,
                    "n_attributed": {e: int(used[i].sum()) for i, e in enumerate(emotions)},
                    "mean_abs_delta": {
                        e: float(deltas[i][used[i]].mean()) if used[i].any() else 0.0
                        for i, e in enumerate(emotions)
                    },
                }
            )
        )
        return {"seconds_per_emotion": seconds, "seconds_per_sample": per_sample}


# -- reading ---------------------------------------------------------------------------------
REWRITE = (
    "delete it and rerun the chain job that wrote it "
    "(snakemake --forcerun start_chains prune_chain)"
)
"""What to do about a damaged attribution store."""


@contextlib.contextmanager
def _intact(path: str | Path) -> Iterator[None]:
    """Turn zarr's errors on a damaged store (a chunk's checksum, a truncated chunk) into an
    InputError naming the store and the rerun."""
    try:
        yield
    except (ValueError, OSError, RuntimeError) as err:
        raise InputError(path, f"damaged attribution store ({err}); {REWRITE}") from err


def _open(path: str | Path) -> Any:
    """The root group of an attribution store (an :class:`InputError` for anything else)."""
    return open_store(path, "attributions", "attribution store", REWRITE)


def _attributes(root: Any) -> dict[str, Any]:
    """A store's root attributes, JSON strings decoded (stores written before hold JSON)."""
    return decoded_attributes(root.attrs)


def _emotion_row(root: Any, path: str | Path, emotion: str) -> int:
    names = list(_attributes(root)["emotions"])
    if emotion not in names:
        raise DataError(f"{path}: no emotion {emotion!r} (has {names})")
    return names.index(emotion)


def read_settings(path: str | Path) -> dict[str, Any]:
    """The attribution settings a store was written with (as stored: a plain dict)."""
    return dict(_attributes(_open(path)).get("settings") or {})


def load_scores(path: str | Path | Sequence[str | Path]) -> tuple[list[str], np.ndarray]:
    """Emotion names and per-landmark scores ``(emotion, landmark)`` of an attribution store,
    or of several (e.g. one per emotion), stacked along the emotion axis in the order given."""
    if not isinstance(path, str | Path):
        parts = [load_scores(one) for one in path]
        if not parts:
            raise DataError("no attribution store given")
        names = [name for part_names, _ in parts for name in part_names]
        return names, np.concatenate([scores for _, scores in parts], axis=0)
    root = _open(path)
    name = RELEVANCE if RELEVANCE in root else "scores"  # stores written before: scores
    with _intact(path):
        return list(_attributes(root)["emotions"]), np.asarray(root[name][...], dtype=np.float64)


def read_baseline_indices(path: str | Path, emotion: str) -> tuple[np.ndarray, np.ndarray]:
    """One emotion's baselines as indices ``(baseline,)`` (−1: not a sample) into the video ids
    returned beside them, so the baselines can be matched to another store's samples by video.

    A store holds the video of each baseline (``baseline_video_id``); one written before holds
    the index of each in its ``video_id`` (``baselines``), which is returned as it is."""
    root = _open(path)
    row = _emotion_row(root, path, emotion)
    with _intact(path):
        if "baseline_video_id" not in root:
            return np.asarray(root["baselines"][row]), read_strings(root["video_id"])
        videos = read_strings(root["baseline_video_id"])[row]
        indices = np.where(videos != "", np.arange(len(videos)), -1).astype(np.int64)
        return indices, videos


def read_baseline_values(path: str | Path, emotion: str) -> np.ndarray:
    """One emotion's references ``(baseline, frame, landmark, coord)`` (NaN: not used)."""
    root = _open(path)
    row = _emotion_row(root, path, emotion)
    with _intact(path):
        return np.asarray(root["baseline_values"][row])


def read_attributed_samples(path: str | Path) -> dict[str, np.ndarray]:
    """The store's ``sample`` axis: ``video_id`` of each sample and ``used``
    ``(emotion, sample)``, which samples count for (were attributed for) each emotion."""
    root = _open(path)
    with _intact(path):
        return {
            "video_id": read_strings(root["video_id"]),
            "used": np.asarray(root["used"][...], dtype=bool),
        }


def read_attributions(
    path: str | Path,
    *,
    emotion: str | None = None,
    landmarks: np.ndarray | list[int] | None = None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Read (part of) a store's ``attributions`` and the names of the returned dimensions.

    The ``sample`` axis holds the samples attributed (:func:`read_attributed_samples` names
    them and says which count for each emotion).

    Parameters
    ----------
    emotion
        One emotion's slice (its dimension is dropped); all emotions when ``None``.
    landmarks
        Landmark ids to read (a chunk column each); all when ``None``.
    """
    root = _open(path)
    array = root["attributions"]
    dims = tuple(_attributes(root)["dims"]["attributions"])
    emotion_index: Any = slice(None)
    if emotion is not None:
        emotion_index = _emotion_row(root, path, emotion)
        dims = dims[1:]
    with _intact(path):
        if landmarks is None:
            return np.asarray(array[emotion_index]), dims
        ids = np.asarray(landmarks, dtype=np.int64)
        selection = (emotion_index, slice(None), slice(None), ids, slice(None))
        return np.asarray(array.oindex[selection]), dims


def attributions_array(path: str | Path) -> Any:
    """The ``attributions`` array of a finished store, opened read-only (its seal checked
    first: a store being written has no record yet)."""
    import zarr

    check_store(path, REWRITE)
    return zarr.open_array(str(Path(path) / "attributions"), mode="r")

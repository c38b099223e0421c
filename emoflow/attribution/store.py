"""The attribution store (``attributions.zarr``): the one module that writes and reads it.

The store (Zarr v3, each chunk checksummed with CRC-32C and verified on read, its metadata
documents and chunk sizes recorded with their SHA-256 in ``emoflow_integrity.json`` and checked
before it is opened, :mod:`emoflow._integrity`; every array
names its dimensions in ``dimension_names`` and in a ``dims`` attribute, and the root's
``dims`` attribute maps array → dimensions) holds

- ``attributions`` ``(emotion, sample, frame, landmark, coord)`` float32, NaN for landmarks
  outside an emotion's set, chunked ``(1, batch_size, all frames,`` :data:`LANDMARK_CHUNK`
  ``, all coords)``: one emotion or a few landmarks are read without the rest. Only the
  samples of :math:`S` (``used``) are attributed; the other samples' rows hold 0, so that
  ``attributions.where(used)`` (xarray) or a mask by ``used`` gives what was computed;
- ``scores`` ``(emotion, landmark)``: the relevance :math:`R_{e,l}`;
- ``deltas`` ``(emotion, sample)``: convergence deltas (0 for samples not attributed);
- ``used`` ``(emotion, sample)``: the samples :math:`S` that count for each emotion, the
  ones attributed (with ``attribution.samples: positive``, the emotion's positive samples);
- ``baselines`` ``(emotion, baseline)``: sample index of each baseline, −1 where a baseline
  is not a sample (centroids, means, still faces, zero) or not used;
- ``baseline_values`` ``(emotion, baseline, frame, landmark, coord)``: the references
  themselves (NaN outside the emotion's landmarks and for unused baseline slots), so a later
  explanation can use exactly the same ones;
- coordinate arrays ``emotion``, ``sample`` (= ``video_id``), ``frame``, ``landmark``,
  ``coord``, ``baseline`` (the slot number), so ``xarray.open_zarr`` labels every axis (the
  store's metadata is consolidated, so it opens without warnings);

and, in the root attributes, the settings, the formula's aggregation, timings and the mean
delta per emotion.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from emoflow._atomic import atomic_path, checked_compressors, consolidate_zarr
from emoflow._integrity import check_store, seal_store
from emoflow.attribution.dataset import iter_attributions, settings_baselines
from emoflow.attribution.relevance import weighted_landmark_scores
from emoflow.attribution.settings import AttributionSettings
from emoflow.errors import ConfigError, DataError, InputError
from emoflow.features import load_features, read_strings
from emoflow.landmark_sets import read_landmark_sets
from emoflow.training.outputs import held_out_subjects

log = logging.getLogger(__name__)

ATTRIBUTION_DIMS = ("emotion", "sample", "frame", "landmark", "coord")
SCORE_DIMS = ("emotion", "landmark")
COORD_NAMES = ("x", "y", "z")
IN_MEMORY_BYTES = 256 * 2**20
"""Stores whose attributions fit in this many bytes are aggregated in memory with NumPy
(dask costs about a second of start-up per job); larger ones chunk by chunk with dask."""
LANDMARK_CHUNK = 64
"""Landmarks per chunk of the attribution array: a per-landmark read touches one chunk column."""
_BASELINE_DIMS = ("emotion", "baseline", "frame", "landmark", "coord")
_DIMS: dict[str, tuple[str, ...]] = {
    "attributions": ATTRIBUTION_DIMS,
    "scores": SCORE_DIMS,
    "deltas": ("emotion", "sample"),
    "used": ("emotion", "sample"),
    "baselines": ("emotion", "baseline"),
    "baseline_values": _BASELINE_DIMS,
    "video_id": ("sample",),
    "emotion": ("emotion",),
    "sample": ("sample",),
    "frame": ("frame",),
    "landmark": ("landmark",),
    "coord": ("coord",),
    "baseline": ("baseline",),
}
"""Every array of the store and its dimensions (the root's ``dims`` attribute)."""


# -- writing ---------------------------------------------------------------------------------
def _chunked_array(root: Any, name: str, shape: tuple[int, ...], chunks: tuple[int, ...]) -> Any:
    """A NaN-filled float32 array with ``dimension_names`` and a ``dims`` attribute."""
    array = root.create_array(
        name,
        shape=shape,
        dtype="float32",
        chunks=chunks,
        compressors=checked_compressors(),
        fill_value=np.nan,
        dimension_names=_DIMS[name],
    )
    array.attrs["dims"] = list(_DIMS[name])
    return array


def _named_array(root: Any, name: str, values: np.ndarray) -> Any:
    """Write a small array with ``dimension_names`` and a ``dims`` attribute."""
    dims = _DIMS[name]
    dtype = str if values.dtype.kind in "US" else values.dtype
    array = root.create_array(
        name,
        shape=values.shape,
        dtype=dtype,
        compressors=checked_compressors(),
        dimension_names=dims,
    )
    array[...] = values
    array.attrs["dims"] = list(dims)
    return array


def attribute_iteration(
    features_path: str | Path,
    landmark_set_path: str | Path,
    model_dir: str | Path | None,
    out_path: str | Path,
    *,
    settings: AttributionSettings | None = None,
    device: str = "auto",
    iteration: int = 0,
    metrics_path: str | Path | None = None,
    emotions: Sequence[str] | None = None,
    model_paths: Mapping[str, str | Path] | None = None,
) -> dict[str, Any]:
    """Attribute every emotion's model over its samples :math:`S` and write the Zarr store.

    When the iteration's ``metrics_path`` records held-out test subjects
    (``train.test_subjects``), their samples are left out: relevance, and so pruning, is
    computed from the development subjects only. The store's layout is in the module
    docstring.

    ``emotions`` restricts the store to some emotions (the workflow writes one store per
    emotion and iteration: :func:`attribute_emotion`); ``model_paths`` gives each emotion's
    model file instead of ``model_dir/{emotion}.pt``.

    Returns
    -------
    dict
        ``seconds_per_emotion`` and ``seconds_per_sample``.
    """
    import zarr

    from emoflow.models import load_model

    settings = settings or AttributionSettings()
    feature_set = load_features(features_path)
    if metrics_path is not None:
        held_out = held_out_subjects(metrics_path)
        feature_set = feature_set.samples(~np.isin(feature_set.subjects, held_out))
    if emotions is None:
        emotions = feature_set.emotion_names
    elif unknown := [e for e in emotions if e not in feature_set.emotion_names]:
        raise DataError(
            f"{features_path}: no emotion(s) {unknown} (the store has "
            f"{', '.join(feature_set.emotion_names)})"
        )
    emotions = list(emotions)
    landmark_sets = read_landmark_sets(landmark_set_path, emotions)
    features = feature_set.features
    n_samples, n_frames, n_landmarks, n_coords = features.shape
    neutral_mask = feature_set.emotions == "neutral"
    landmark_chunk = min(n_landmarks, LANDMARK_CHUNK)
    timings: dict[str, float] = {}
    per_sample: dict[str, float] = {}
    used_device = device
    with atomic_path(out_path, directory=True) as staged:
        root = zarr.open_group(str(staged), mode="w")
        attributions_array = _chunked_array(
            root,
            "attributions",
            (len(emotions), n_samples, n_frames, n_landmarks, n_coords),
            (1, max(1, min(n_samples, settings.batch_size)), n_frames, landmark_chunk, n_coords),
        )
        deltas = np.zeros((len(emotions), n_samples), dtype=np.float32)
        baseline_ids = np.full((len(emotions), settings.n_baselines), -1, dtype=np.int64)
        baseline_values = _chunked_array(
            root,
            "baseline_values",
            (len(emotions), settings.n_baselines, n_frames, n_landmarks, n_coords),
            (1, settings.n_baselines, n_frames, landmark_chunk, n_coords),
        )
        used = np.zeros((len(emotions), n_samples), dtype=bool)
        for e, emotion in enumerate(emotions):
            if model_paths:
                model_path = Path(model_paths[emotion])
            elif model_dir is not None:
                model_path = Path(model_dir) / f"{emotion}.pt"
            else:
                raise DataError("attribute_iteration needs model_dir or model_paths")
            model, metadata = load_model(model_path, device=device)
            keep = np.asarray(landmark_sets[emotion], dtype=np.int64)
            if list(metadata["landmarks"]) != keep.tolist():
                raise InputError(
                    model_path, "model landmarks do not match the iteration's landmark set"
                )
            model.eval()
            used_device = str(model.device)
            labels = feature_set.labels_for(emotion)
            used[e] = labels.astype(bool) if settings.samples == "positive" else True
            baselines, chosen = settings_baselines(features, labels, settings, neutral_mask, keep)
            baseline_ids[e, : len(chosen)] = chosen[: settings.n_baselines]
            values = np.full((len(baselines), n_frames, n_landmarks, n_coords), np.nan, np.float32)
            values[:, :, keep, :] = baselines
            baseline_values[e, : len(baselines)] = values
            start = time.perf_counter()
            _attribute_rows(
                model,
                features,
                used[e],
                baselines,
                settings,
                keep,
                attributions_array,
                deltas[e],
                emotion_row=e,
            )
            timings[emotion] = time.perf_counter() - start
            n_used = int(used[e].sum())
            per_sample[emotion] = timings[emotion] / max(n_used, 1)
            log.info(
                "attributed %s over %d of %d samples against %d baseline(s) in %.1f s",
                emotion,
                n_used,
                n_samples,
                len(baselines),
                timings[emotion],
            )
        scores = landmark_scores_from_store(
            staged, settings.aggregate, used, scheduler=settings.dask_scheduler
        )
        video_ids = np.asarray(feature_set.video_ids, dtype=str)
        _named_array(root, "scores", scores.astype(np.float32))
        _named_array(root, "deltas", deltas)
        _named_array(root, "used", used)
        _named_array(root, "baselines", baseline_ids)
        _named_array(root, "emotion", np.asarray(emotions, dtype=str))
        _named_array(root, "video_id", video_ids)
        _named_array(root, "sample", video_ids)
        _named_array(root, "frame", np.arange(n_frames, dtype=np.int64))
        _named_array(root, "landmark", np.arange(n_landmarks, dtype=np.int64))
        _named_array(root, "coord", np.asarray(COORD_NAMES[:n_coords], dtype=str))
        _named_array(root, "baseline", np.arange(settings.n_baselines, dtype=np.int64))
        root.attrs.update(
            {
                "emoflow_store": "attributions",
                "iteration": iteration,
                "emotions": emotions,
                "dims": {name: list(dims) for name, dims in _DIMS.items()},
                "settings": asdict(settings),
                "device": used_device,
                "seconds_per_emotion": timings,
                "seconds_per_sample": per_sample,
                "n_attributed": {e: int(used[i].sum()) for i, e in enumerate(emotions)},
                "mean_abs_delta": {
                    e: float(deltas[i][used[i]].mean()) if used[i].any() else 0.0
                    for i, e in enumerate(emotions)
                },
            }
        )
        consolidate_zarr(staged)
        seal_store(staged)
    return {"seconds_per_emotion": timings, "seconds_per_sample": per_sample}


def _attribute_rows(
    model: Any,
    features: np.ndarray,
    used: np.ndarray,
    baselines: np.ndarray,
    settings: AttributionSettings,
    keep: np.ndarray,
    array: Any,
    deltas: np.ndarray,
    *,
    emotion_row: int,
) -> None:
    """Attribute the ``used`` samples of one emotion into its row of the store, one chunk of
    samples at a time (each chunk written once, whole): NaN outside the landmarks ``keep``,
    0 (and delta 0) for samples not attributed."""
    _, n_frames, n_landmarks, n_coords = features.shape
    chunk = int(array.chunks[1])
    for begin in range(0, len(features), chunk):
        end = min(begin + chunk, len(features))
        block = np.full((end - begin, n_frames, n_landmarks, n_coords), np.nan, np.float32)
        block[:, :, keep, :] = 0.0
        rows = np.flatnonzero(used[begin:end])
        for lo, hi, values, batch_deltas in iter_attributions(
            model, features, baselines, settings, landmarks=keep, rows=begin + rows
        ):
            attributed = block[rows[lo:hi]]
            attributed[:, :, keep, :] = values
            block[rows[lo:hi]] = attributed
            deltas[begin + rows[lo:hi]] = batch_deltas
        array[emotion_row, begin:end] = block


RUNTIME_KEYS = ("batch_size", "internal_batch_size", "dask_scheduler")
"""Attribution settings that change how a job runs (memory, where dask computes), not what it
computes: the workflow hands them to the job as resources (``attribution_<key>``), so that
changing one re-runs nothing."""


def runtime_settings(section: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split an ``attribution`` config section into the settings that decide the result and
    the run-time knobs of :data:`RUNTIME_KEYS`, as ``attribution_<key>`` resources (a
    missing scheduler as ``""``)."""
    result = {key: value for key, value in section.items() if key not in RUNTIME_KEYS}
    runtime = {
        f"attribution_{key}": "" if section[key] is None else section[key]
        for key in RUNTIME_KEYS
        if key in section
    }
    return result, runtime


def attribute_emotion(
    features_path: str | Path,
    landmark_set_path: str | Path,
    model_path: str | Path,
    out_path: str | Path,
    *,
    emotion: str,
    settings: AttributionSettings | Mapping[str, Any] | None = None,
    runtime: Any = None,
    device: str = "auto",
    iteration: int = 0,
    metrics_path: str | Path | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """One emotion's attribution store of an iteration (one job of the emotion's chain).

    The same store as :func:`attribute_iteration` writes, with one emotion on its
    ``emotion`` axis; ``landmark_set_path`` and ``metrics_path`` are the emotion's own.

    Parameters
    ----------
    settings
        :class:`AttributionSettings`, or the ``attribution`` config section (without the
        run-time knobs, see :func:`runtime_settings`).
    runtime
        Where the run-time knobs are: a mapping or an object (a Snakemake job's
        ``resources``) with ``attribution_<key>`` entries; missing ones keep the settings'.
    threads
        Torch threads of the job (:func:`emoflow.devices.limit_threads`).
    """
    from emoflow.devices import limit_threads

    limit_threads(threads)
    if not isinstance(settings, AttributionSettings):
        values = dict(settings or {})
        for key in RUNTIME_KEYS:
            name = f"attribution_{key}"
            found = (
                runtime.get(name) if isinstance(runtime, Mapping) else getattr(runtime, name, None)
            )
            if found is not None:
                values[key] = found if found != "" else None
        settings = AttributionSettings.from_section(values)
    return attribute_iteration(
        features_path,
        landmark_set_path,
        None,
        out_path,
        settings=settings,
        device=device,
        iteration=iteration,
        metrics_path=metrics_path,
        emotions=[emotion],
        model_paths={emotion: model_path},
    )


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
    import zarr

    if not Path(path).exists():
        raise InputError(path, "attribution store does not exist")
    check_store(path, REWRITE)
    try:
        root: Any = zarr.open_group(str(path), mode="r")
        kind = root.attrs.get("emoflow_store")
    except MemoryError:  # out of memory is no damage of the store
        raise
    except Exception as err:  # zarr and JSON raise many kinds on a damaged store
        raise InputError(path, f"not a readable Zarr store ({err}); {REWRITE}") from err
    if kind != "attributions":
        raise InputError(path, "not an emoflow attribution store")
    return root


def _emotion_row(root: Any, path: str | Path, emotion: str) -> int:
    names = list(root.attrs["emotions"])
    if emotion not in names:
        raise DataError(f"{path}: no emotion {emotion!r} (has {names})")
    return names.index(emotion)


def read_emotions(path: str | Path) -> list[str]:
    """The emotions of a store, in the order of its ``emotion`` axis."""
    return list(_open(path).attrs["emotions"])


def read_settings(path: str | Path) -> dict[str, Any]:
    """The attribution settings a store was written with (as stored: a plain dict)."""
    return dict(_open(path).attrs.get("settings") or {})


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
    with _intact(path):
        return list(root.attrs["emotions"]), np.asarray(root["scores"][...], dtype=np.float64)


def read_baseline_indices(path: str | Path, emotion: str) -> tuple[np.ndarray, np.ndarray]:
    """One emotion's baseline sample indices ``(baseline,)`` (−1: not a sample) and the
    store's ``video_id`` of every sample, so the indices can be matched to another store."""
    root = _open(path)
    row = _emotion_row(root, path, emotion)
    with _intact(path):
        return np.asarray(root["baselines"][row]), read_strings(root["video_id"])


def read_baseline_values(path: str | Path, emotion: str) -> np.ndarray:
    """One emotion's references ``(baseline, frame, landmark, coord)`` (NaN: not used)."""
    root = _open(path)
    row = _emotion_row(root, path, emotion)
    with _intact(path):
        return np.asarray(root["baseline_values"][row])


def read_attributions(
    path: str | Path,
    *,
    emotion: str | None = None,
    landmarks: np.ndarray | list[int] | None = None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Read (part of) a store's ``attributions`` and the names of the returned dimensions.

    Parameters
    ----------
    emotion
        One emotion's slice (its dimension is dropped); all emotions when ``None``.
    landmarks
        Landmark ids to read (a chunk column each); all when ``None``.
    """
    root = _open(path)
    array = root["attributions"]
    dims = tuple(root.attrs["dims"]["attributions"])
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


def landmark_scores_from_store(
    store_path: str | Path,
    aggregate: str,
    sample_masks: np.ndarray | None = None,
    *,
    scheduler: str | None = None,
    connect_timeout_s: float = 30.0,
) -> np.ndarray:
    """Aggregate a stored attribution array to ``(emotion, landmark)`` scores.

    The ``attributions`` array ``(emotion, sample, frame, landmark, coord)`` is read chunk by
    chunk with dask, so the store may be larger than memory; one of at most
    :data:`IN_MEMORY_BYTES` (without a scheduler) is read at once and reduced with NumPy.
    Landmarks outside an emotion's set (NaN in the store) get NaN. The formula is
    :mod:`emoflow.attribution.relevance`'s.

    Parameters
    ----------
    sample_masks
        Optional ``(emotion, sample)`` booleans: which samples count for each emotion.
    scheduler
        Address of a ``dask.distributed`` scheduler to compute on; ``None``: local threads.
        Its workers must see ``store_path`` (a shared file system).
    connect_timeout_s
        How long to try to reach the scheduler.
    """
    import zarr

    check_store(store_path, REWRITE)  # a finished store (one being written has no record yet)
    array = zarr.open_array(str(Path(store_path) / "attributions"), mode="r")
    n_emotions, n_samples = array.shape[:2]
    if sample_masks is None:
        sample_masks = np.ones((n_emotions, n_samples), dtype=bool)
    weights_np = np.asarray(sample_masks, dtype=np.float64)
    if weights_np.shape != (n_emotions, n_samples):
        raise DataError(
            f"sample masks of shape {weights_np.shape} do not match the store's "
            f"{(n_emotions, n_samples)}"
        )
    counts = np.maximum(weights_np.sum(axis=1), 1.0)
    if scheduler is None and array.nbytes <= IN_MEMORY_BYTES:
        # small enough to read at once: the same formula on NumPy, without dask's start-up
        values = np.asarray(array[...])
        excluded_np = np.isnan(values).all(axis=(1, 2, 4))  # (emotion, landmark)
        filled_np = np.nan_to_num(values).astype(np.float64)
        scores_np = weighted_landmark_scores(filled_np, weights_np, counts, aggregate)
        return np.where(excluded_np, np.nan, scores_np).astype(np.float64)
    import dask.array as da

    attributions = da.from_zarr(array)
    excluded = da.isnan(attributions).all(axis=(1, 2, 4))  # (emotion, landmark)
    filled = da.nan_to_num(attributions).astype(np.float64)
    weights = da.from_array(weights_np, chunks=(1, attributions.chunks[1]))
    scores = weighted_landmark_scores(filled, weights, counts, aggregate)
    scores = da.where(excluded, np.nan, scores)
    if scheduler is None:
        return np.asarray(scores.compute(), dtype=np.float64)
    from dask.distributed import Client

    try:
        client = Client(scheduler, timeout=f"{connect_timeout_s}s", set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise ConfigError(
            f"attribution.dask_scheduler {scheduler!r} cannot be reached ({err})"
        ) from err
    with client:
        return np.asarray(client.compute(scores).result(), dtype=np.float64)

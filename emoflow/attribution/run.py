"""The attribution stage: each emotion's model attributed over its samples into its
attribution store (:mod:`emoflow.storage.attribution_store` writes and reads the store), and the
relevance aggregated from a stored attribution array."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emoflow._zarr import written_store
from emoflow.attribution.baselines import choose_baselines
from emoflow.attribution.dataset import iter_attributions
from emoflow.attribution.relevance import weighted_landmark_scores
from emoflow.attribution.settings import RUNTIME_KEYS, AttributionSettings
from emoflow.errors import ConfigError, DataError, InputError
from emoflow.features import load_features
from emoflow.storage.attribution_store import StoreWriter, attributions_array
from emoflow.storage.landmark_sets import read_landmark_sets
from emoflow.storage.metrics import held_out_subjects

log = logging.getLogger(__name__)

IN_MEMORY_BYTES = 256 * 2**20
"""Stores whose attributions fit in this many bytes are aggregated in memory with NumPy
(dask costs about a second of start-up per job); larger ones chunk by chunk with dask."""


def _attribute_model(
    store: StoreWriter, row: int, model_path: str | Path, keep: np.ndarray, device: str
) -> tuple[str, float]:
    """Attribute one emotion's model (trained on the landmarks ``keep``) over its samples
    :math:`S` into its row of ``store``: the attribution of one emotion. Returns the device
    it ran on and the seconds it took.

    The samples go to the method in the batches of a store over every development sample
    (the counted rows of each ``batch_size`` development rows, as stores written before did:
    the same numbers)."""
    from emoflow.models import load_model

    model, metadata = load_model(model_path, device=device)
    if list(metadata["landmarks"]) != keep.tolist():
        raise InputError(model_path, "model landmarks do not match the iteration's landmark set")
    model.eval()
    feature_set, settings, emotion = store.feature_set, store.settings, store.emotions[row]
    features, labels = feature_set.features, feature_set.labels_for(emotion)
    counted = store.counted[row]
    neutral = feature_set.emotions == "neutral"
    options = {**settings.baseline_options(), "neutral_mask": neutral, "landmarks": keep}
    baselines, chosen = choose_baselines(features, labels, **options)
    store.write_baselines(row, baselines, chosen, keep)

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        batch = max(1, min(len(features), settings.batch_size))
        for begin in range(0, len(features), batch):
            rows = begin + np.flatnonzero(counted[begin : begin + batch])
            for lo, hi, values, deltas in iter_attributions(
                model, features, baselines, settings, landmarks=keep, rows=rows
            ):
                yield rows[lo:hi], values, deltas

    start = time.perf_counter()
    store.write_attributions(row, batches(), keep)
    seconds = time.perf_counter() - start
    log.info(
        "attributed %s over %d of %d samples against %d baseline(s) in %.1f s",
        emotion,
        int(counted.sum()),
        len(features),
        len(baselines),
        seconds,
    )
    return str(model.device), seconds


def attribute_models(
    features_path: str | Path,
    landmark_set_path: str | Path,
    model_paths: Mapping[str, str | Path],
    out_path: str | Path,
    *,
    settings: AttributionSettings | None = None,
    device: str = "auto",
    iteration: int = 0,
    metrics_path: str | Path | None = None,
) -> dict[str, Any]:
    """Attribute each emotion's model (``model_paths``: emotion → model file) over its
    samples :math:`S`, one emotion after another, into one Zarr store (its layout is in the
    module docstring; the workflow writes one store per emotion and iteration:
    :func:`attribute_emotion`).

    When the iteration's ``metrics_path`` records held-out test subjects
    (``train.test_subjects``), their samples are left out: relevance, and so pruning, is
    computed from the development subjects only.

    Returns
    -------
    dict
        ``seconds_per_emotion`` and ``seconds_per_sample``.
    """
    settings = settings or AttributionSettings()
    feature_set = load_features(features_path)
    if metrics_path is not None:
        held_out = held_out_subjects(metrics_path)
        feature_set = feature_set.samples(~np.isin(feature_set.subjects, held_out))
    emotions = list(model_paths)
    if unknown := [e for e in emotions if e not in feature_set.emotion_names]:
        raise DataError(
            f"{features_path}: no emotion(s) {unknown} (the store has "
            f"{', '.join(feature_set.emotion_names)})"
        )
    landmark_sets = read_landmark_sets(landmark_set_path, emotions)
    # the samples S of each emotion, over the development samples; the store holds those of
    # any of its emotions (all of them with samples: all)
    every = np.ones(len(feature_set.video_ids), bool)
    counted = np.stack(
        [
            feature_set.labels_for(e).astype(bool) if settings.samples == "positive" else every
            for e in emotions
        ]
    )
    seconds: dict[str, float] = {}
    used_device = device
    with written_store(out_path) as (root, staged):
        store = StoreWriter(root, staged, feature_set, emotions, counted, settings)
        for row, emotion in enumerate(emotions):
            keep = np.asarray(landmark_sets[emotion], dtype=np.int64)
            used_device, seconds[emotion] = _attribute_model(
                store, row, model_paths[emotion], keep, device
            )
        relevance = landmark_scores_from_store(
            staged, settings.aggregate, store.used, scheduler=settings.dask_scheduler
        )
        return store.finish(relevance, iteration=iteration, device=used_device, seconds=seconds)


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

    The store of :func:`attribute_models` with one emotion on its ``emotion`` axis;
    ``landmark_set_path`` and ``metrics_path`` are the emotion's own.

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
    return attribute_models(
        features_path,
        landmark_set_path,
        {emotion: model_path},
        out_path,
        settings=settings,
        device=device,
        iteration=iteration,
        metrics_path=metrics_path,
    )


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
    # a finished store (one being written has no record yet)
    array = attributions_array(store_path)
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

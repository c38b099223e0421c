r"""Per-video relevance: which landmarks drove each emotion's score (the core of ``explain``).

For each emotion's model :math:`F_e` and the video's feature sample :math:`x`, the per-sample
Integrated Gradients of :mod:`emoflow.attribution`, averaged over the model's *typical*
baselines :math:`b_1 … b_K`,

.. math::

    A_e(x) = \frac{1}{K} \sum_k (x - b_k) \odot \int_0^1
             \nabla F_e\big(b_k + \alpha (x - b_k)\big)\, d\alpha,

reduced to one relevance per landmark :math:`l` with the run's aggregation (``mean_abs``:
:math:`R_{e,l} = \sum_{t,c} |A_e(x)_{t,l,c}|`). ``signed_relevance`` is
:math:`\sum_{t,c} A_e(x)_{t,l,c}`: positive where the landmark's motion pushes the score up
(towards the emotion), negative where it pushes it down.

The baselines are those of the run's attribution stage: the samples recorded in the
iteration's attribution store (``baselines``, ``baseline_values``), or, without that store,
the same choice made again (:func:`emoflow.attribution.baselines.choose_baselines` on the
run's feature store with the run's attribution settings). Without a feature store (models given
alone) the all-zero input is used, and the table says so.

The attribution store (its settings, baseline ids and values) is read only through the
readers of its owner, :mod:`emoflow.attribution`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl

from emoflow._progress import Progress
from emoflow.errors import ConfigError, DataError, EmoflowError, InputError
from emoflow.inference.loading import LoadedModel
from emoflow.inference.windows import model_columns, model_inputs
from emoflow.layout import ResultsLayout
from emoflow.published import PublishedRun

log = logging.getLogger(__name__)

_T = TypeVar("_T")

TABLE_COLUMNS = {
    "emotion": pl.String,
    "landmark": pl.Int32,
    "relevance": pl.Float64,
    "signed_relevance": pl.Float64,
    "rank": pl.Int32,
    "score": pl.Float64,
    "probability": pl.Float64,
    "baseline": pl.String,
    "trained_on": pl.String,
}


def attribution_settings(
    results: Path | None,
    iteration: int | None,
    n_steps: int | None,
    published: PublishedRun | None = None,
) -> Any:
    """The run's attribution settings (from its store's attributes, checked against the
    ``published`` run when given), else the defaults."""
    from emoflow.attribution import AttributionSettings
    from emoflow.storage.attribution_store import REWRITE

    settings = AttributionSettings()
    stores = (
        []
        if results is None or iteration is None
        else ResultsLayout(results).attribution_stores(iteration)
    )
    store = stores[0] if stores else None
    if store is not None and store.is_dir():
        from emoflow.storage.attribution_store import read_settings

        if published is not None:
            published.check_store(store, REWRITE)
        try:
            stored = read_settings(store)
            known = {f.name for f in fields(AttributionSettings)}
            settings = AttributionSettings(**{k: v for k, v in stored.items() if k in known})
        except (EmoflowError, TypeError, ValueError, OSError, KeyError) as err:
            log.warning("%s: attribution settings unreadable (%s); using defaults", store, err)
    if n_steps is not None:
        if n_steps < 1:
            raise ConfigError(f"n_steps must be ≥ 1, got {n_steps}")
        settings = replace(settings, n_steps=int(n_steps))
    return settings


class _Baselines:
    """Typical baselines of each model, from the run's feature and attribution stores (each
    checked against the ``published`` run when given: a store another run rewrote is an
    error, not another run's baselines)."""

    def __init__(self, results: Path | None, published: PublishedRun | None = None) -> None:
        self.results = results
        self.published = published
        self.layout = None if results is None else ResultsLayout(results)
        self._features: Any = None
        self._loaded = False
        self._warned = False

    def _feature_set(self) -> Any:
        if not self._loaded:
            self._loaded = True
            path = None if self.layout is None else self.layout.features
            if path is not None and path.is_dir():
                from emoflow.features import load_features
                from emoflow.storage.feature_store import REBUILD

                if self.published is not None:
                    self.published.check_store(path, REBUILD)
                try:
                    self._features = load_features(path)
                except EmoflowError as err:
                    log.warning("%s unusable for baselines: %s", path, err)
        return self._features

    def _stored(
        self, model: LoadedModel, problem: str, read: Callable[[Path, str], _T]
    ) -> _T | None:
        """``read(store, emotion)`` with the attribution store's own readers; ``None`` (with a
        warning saying ``problem``) when the store or the record is missing or unusable."""
        if self.layout is None or model.iteration is None:
            return None
        store = self.layout.attributions(model.iteration, model.emotion)
        if not store.is_dir():
            return None
        if self.published is not None:
            from emoflow.storage.attribution_store import REWRITE

            self.published.check_store(store, REWRITE)
        try:
            return read(store, model.emotion)
        except (EmoflowError, KeyError, ValueError, OSError, IndexError) as err:
            log.warning("%s: %s (%s)", store, problem, err)
            return None

    def _stored_indices(self, model: LoadedModel, video_ids: np.ndarray) -> np.ndarray | None:
        """Positions in the feature store of the baselines the attribution stage used."""
        from emoflow.storage.attribution_store import read_baseline_indices

        record = self._stored(model, "no usable baseline record", read_baseline_indices)
        if record is None:
            return None
        indices, ids = record
        if len(indices) == 0 or (indices < 0).any():
            return None
        position = {video_id: i for i, video_id in enumerate(video_ids.tolist())}
        wanted = [position.get(str(ids[i])) for i in indices]
        if any(p is None for p in wanted):
            return None
        return np.asarray(wanted, dtype=np.int64)

    def _stored_values(self, model: LoadedModel) -> np.ndarray | None:
        """The reference inputs the attribution stage used, ``(k, frames, landmarks, 3)``."""
        from emoflow.storage.attribution_store import read_baseline_values

        values = self._stored(model, "no stored baseline values", read_baseline_values)
        if values is None:
            return None
        values = values[:, :, list(model.landmarks), :]
        values = values[np.isfinite(values).all(axis=(1, 2, 3))]
        if not len(values) or values.shape[1] != model.settings.n_frames:
            return None
        return values.astype(np.float32)

    def of(self, model: LoadedModel, settings: Any) -> tuple[np.ndarray, str]:
        """Baselines ``(k, n_frames, n_landmarks, 3)`` of ``model`` and how they were chosen."""
        from emoflow.attribution.baselines import choose_baselines
        from emoflow.features import FeatureSettings

        shape = (1, model.settings.n_frames, len(model.landmarks), 3)
        feature_set = self._feature_set()
        if feature_set is None:
            if not self._warned:
                self._warned = True
                log.warning(
                    "no feature store (features.zarr) in %s to take the typical baselines "
                    "from: the all-zero baseline is used (give the run's folder as results)",
                    self.results or "the results folder",
                )
            return np.zeros(shape, dtype=np.float32), "zero (no feature store)"
        try:
            same = FeatureSettings(**feature_set.settings) == model.settings
        except (TypeError, EmoflowError):
            same = False
        if not same:
            log.warning(
                "%s: feature settings differ from the feature store's; all-zero baseline",
                model.path,
            )
            return np.zeros(shape, dtype=np.float32), "zero (feature settings differ)"
        try:
            inputs = feature_set.select(model.landmarks).features
        except DataError as err:
            raise InputError(
                model.path, f"landmark set does not match the feature store ({err})"
            ) from err
        stored_values = self._stored_values(model)
        if stored_values is not None:
            return stored_values, f"typical baselines ({len(stored_values)}, stored)"
        stored = self._stored_indices(model, feature_set.video_ids)
        if stored is not None:
            return inputs[stored].astype(np.float32), f"typical samples ({len(stored)}, stored)"
        labels = feature_set.labels_for(model.emotion)
        if settings.baseline == "negative_medoids" and labels.min() == labels.max():
            return np.zeros(shape, dtype=np.float32), "zero (no negative samples)"
        chosen, _ = choose_baselines(
            inputs,
            labels,
            **settings.baseline_options(),
            neutral_mask=feature_set.emotions == "neutral",
        )
        return np.asarray(chosen, dtype=np.float32), f"{settings.baseline} ({len(chosen)})"


def attribute_video(
    models: list[LoadedModel],
    sample: dict[Any, np.ndarray],
    union: np.ndarray,
    *,
    results: Path | None,
    n_steps: int | None,
    progress: Progress | None = None,
    published: PublishedRun | None = None,
) -> pl.DataFrame:
    """The relevance table of one video's feature samples (one per feature-settings group,
    as :func:`emoflow.inference.windows.feature_samples` gives them); each model counted on
    ``progress`` when given. The run's stores are checked against ``published`` (the record
    the models were loaded by) when given."""
    import torch

    from emoflow.attribution import attribute_samples
    from emoflow.attribution.relevance import reduce_to_landmarks

    baselines = _Baselines(results, published)
    columns = model_columns(models, union)
    frames = []
    for model in models:
        if progress is not None:
            progress.start(model.emotion)
        settings = attribution_settings(results, model.iteration, n_steps, published)
        inputs = model_inputs(model, sample, columns).astype(np.float32)
        score, probability = model.score(inputs)
        reference, kind = baselines.of(model, settings)
        device = getattr(model.model, "device", torch.device("cpu"))
        model.model.eval()
        attributions, _ = attribute_samples(
            model.model,
            torch.as_tensor(inputs, device=device),
            torch.as_tensor(reference, device=device),
            settings,
        )
        values = attributions.detach().cpu().numpy().astype(np.float64)
        relevance = reduce_to_landmarks(values, settings.aggregate)[0]
        signed = values.sum(axis=(1, 3))[0]
        order = np.argsort(-relevance, kind="stable")
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(1, len(order) + 1, dtype=np.int32)
        n = len(relevance)
        frames.append(
            pl.DataFrame(
                {
                    "emotion": [model.emotion] * n,
                    "landmark": model.landmarks.astype(np.int32),
                    "relevance": relevance,
                    "signed_relevance": signed,
                    "rank": rank,
                    "score": [score] * n,
                    "probability": [probability] * n,
                    "baseline": [kind] * n,
                    "trained_on": [model.trained_on] * n,
                },
                schema=TABLE_COLUMNS,
            ).sort("rank")
        )
        if progress is not None:
            progress.advance(1)
    return pl.concat(frames)


def predicted_label(table: pl.DataFrame) -> str:
    """The combined label: highest probability, or highest score without calibration."""
    per_emotion = table.group_by("emotion").agg(pl.first("score"), pl.first("probability"))
    column = "probability" if per_emotion["probability"].null_count() == 0 else "score"
    return str(per_emotion.sort([column, "emotion"], descending=[True, False])["emotion"][0])


__all__ = ["TABLE_COLUMNS", "attribute_video", "attribution_settings", "predicted_label"]

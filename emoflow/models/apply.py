"""Scoring landmark tables or feature stores with saved model files, outside the workflow.

:func:`apply_models` builds each model's features from landmark tables with the feature
settings stored in its file, takes its landmark subset and scores it (the ``emoflow predict``
command adds video input, checks and reports).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emoflow.errors import DataError, InputError
from emoflow.features import FeatureSet, FeatureSettings, features_from_landmarks, load_features
from emoflow.models.calibration import PlattCalibrator
from emoflow.models.files import load_model, model_inputs
from emoflow.published import PublishedRun, record_covering

if TYPE_CHECKING:
    import polars as pl


def _feature_settings_key(settings: dict[str, Any]) -> str:
    return json.dumps(asdict(FeatureSettings(**settings)), sort_keys=True)


def _features_for(
    source: FeatureSet | str | Path | Sequence[str | Path],
    feature_settings: dict[str, Any],
    origin: str | Path,
) -> FeatureSet:
    """The features of ``source`` as a model with ``feature_settings`` needs them."""
    if isinstance(source, str | Path) and str(source).rstrip("/").endswith(".zarr"):
        source = load_features(source)
    if isinstance(source, FeatureSet):
        if _feature_settings_key(source.settings) != _feature_settings_key(feature_settings):
            raise DataError(
                f"{origin}: the model was trained on features built with {feature_settings}, "
                f"the given features with {source.settings}; build them from the landmark "
                "tables with the model's settings (pass the tables instead)"
            )
        return source
    from emoflow.storage.landmark_table.reader import landmark_scheme

    settings = FeatureSettings(**feature_settings)
    features, kept, dropped = features_from_landmarks(source, settings)
    if not kept:
        raise DataError(f"no usable video in {source}: {dropped}")
    n = len(kept)
    return FeatureSet(
        features=features,
        video_ids=np.asarray(kept, dtype=str),
        subjects=np.full(n, "", dtype=str),
        emotions=np.full(n, "", dtype=str),
        emotion_names=[],
        settings=asdict(settings),
        scheme=landmark_scheme(source),
    )


def apply_models(
    model_paths: str | Path | Sequence[str | Path],
    source: FeatureSet | str | Path | Sequence[str | Path],
    *,
    device: str = "auto",
) -> pl.DataFrame:
    """Score videos with saved models, outside the workflow.

    Features are built from ``source`` with each model's stored feature settings (once per
    distinct setting), the model's stored landmark subset is selected, and the model scores
    them; with several models the emotion of highest calibrated probability is predicted.
    Model files of a results folder are checked against what its last finished run
    published (:mod:`emoflow.published`): a run rewriting the folder is an error, not a mix.

    Parameters
    ----------
    model_paths
        ``.pt`` files of :func:`save_model`, a folder of them or an iteration's (``iter_2``).
    source
        Landmark tables (a Parquet file, folder, glob or a sequence of them), a feature store
        (``*.zarr``) or a :class:`~emoflow.features.FeatureSet` built with the models' settings.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.

    Returns
    -------
    polars.DataFrame
        One row per video: ``video_id``, and per model emotion ``e`` the columns ``score_e``
        (raw score, > 0 means the emotion), ``probability_e`` (Platt-calibrated, null when the
        model has no calibration); plus ``emotion`` (argmax of the probabilities, or of the
        scores when a model lacks calibration).
    """
    import polars as pl

    if isinstance(model_paths, str | Path):
        folder = Path(model_paths)
        # a folder of model files, or an iteration's folder (one sub-folder per emotion)
        paths = (
            sorted(folder.glob("*.pt")) or sorted(folder.glob("*/*.pt"))
            if folder.is_dir()
            else [folder]
        )
    else:
        paths = [Path(p) for p in model_paths]
    if not paths:
        raise InputError(str(model_paths), "no model file (*.pt)")
    cache: dict[str, FeatureSet] = {}
    columns: dict[str, np.ndarray] = {}
    video_ids: np.ndarray | None = None
    emotions: list[str] = []
    ranking: list[np.ndarray | None] = []
    records: dict[Path, PublishedRun | None] = {}
    for path in paths:
        # a model of a published run is checked against it, read once (emoflow.published)
        record = record_covering(path, records)
        data = record.read(path) if record is not None else None
        model, metadata = load_model(path, device=device, data=data)
        landmarks, settings, scheme = model_inputs(path, model, metadata)
        key = _feature_settings_key(asdict(settings))
        if key not in cache:
            cache[key] = _features_for(source, asdict(settings), path)
        feature_set = cache[key]
        if scheme.name != feature_set.scheme:
            raise DataError(
                f"{path}: the model was trained on {scheme.name} landmarks, the landmarks it "
                f"is applied to are {feature_set.scheme}"
            )
        if video_ids is None:
            video_ids = feature_set.video_ids
        elif not np.array_equal(video_ids, feature_set.video_ids):
            raise DataError(f"{path}: its feature settings keep other videos than earlier models")
        try:
            scores = model.decision_function(feature_set.select(landmarks).features)
        except DataError as err:
            raise InputError(
                path,
                f"landmark set does not match the features ({err}); retrain the model or "
                "build the features with all landmarks",
            ) from err
        emotion = str(metadata.get("emotion", Path(path).stem))
        if emotion in emotions:
            raise InputError(
                path, f"holds emotion {emotion!r} like an earlier model; give one each"
            )
        emotions.append(emotion)
        columns[f"score_{emotion}"] = scores
        calibration = metadata.get("calibration")
        if calibration:
            probabilities = PlattCalibrator.from_dict(calibration).predict_proba(scores)
            columns[f"probability_{emotion}"] = probabilities
            ranking.append(probabilities)
        else:
            columns[f"probability_{emotion}"] = np.full(len(scores), np.nan)
            ranking.append(None)
    assert video_ids is not None
    calibrated = [r for r in ranking if r is not None]
    if len(calibrated) == len(ranking):
        matrix = np.column_stack(calibrated)
    else:
        matrix = np.column_stack([columns[f"score_{e}"] for e in emotions])
    table = pl.DataFrame({"video_id": video_ids.astype(str), **columns})
    table = table.with_columns(
        pl.Series("emotion", np.asarray(emotions)[np.argmax(matrix, axis=1)]),
        *[pl.col(f"probability_{e}").fill_nan(None) for e in emotions],
    )
    return table


def apply_model(
    model_path: str | Path,
    source: FeatureSet | str | Path | Sequence[str | Path],
    *,
    device: str = "auto",
) -> pl.DataFrame:
    """Score videos with one saved model (see :func:`apply_models`).

    Returns
    -------
    polars.DataFrame
        ``video_id``, ``emotion`` (the model's), ``score``, ``probability`` (calibrated, null
        without calibration) and ``present`` (``score > 0``, the model's own decision).
    """
    import polars as pl

    wide = apply_models([model_path], source, device=device)
    emotion = wide.columns[1].removeprefix("score_")
    return wide.select(
        "video_id",
        pl.lit(emotion).alias("emotion"),
        pl.col(f"score_{emotion}").alias("score"),
        pl.col(f"probability_{emotion}").alias("probability"),
        (pl.col(f"score_{emotion}") > 0).alias("present"),
    )

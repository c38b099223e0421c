"""A results folder's attribution stage, as the workflow runs it, for the tests that build the
folder with :func:`emoflow.training.train_iteration` (``from results_folder import
attribute_results``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emoflow.attribution import attribute_emotion
from emoflow.layout import ResultsLayout


def attribute_results(
    features_path: str | Path, results: str | Path, *, iteration: int = 0, **options: Any
) -> list[Path]:
    """Attribute each emotion's model of iteration ``iteration`` into its
    ``iter_{i}/{emotion}/attributions.zarr`` (:func:`emoflow.attribution.attribute_emotion`;
    ``options``: its ``settings``, ``device``, …). Returns the stores, by emotion."""
    layout = ResultsLayout(Path(results))
    for model in layout.model_files(iteration):
        emotion = model.parent.name
        attribute_emotion(
            features_path,
            layout.landmark_sets(iteration, emotion),
            model,
            layout.attributions(iteration, emotion),
            emotion=emotion,
            iteration=iteration,
            metrics_path=layout.metrics(iteration, emotion),
            **options,
        )
    return layout.attribution_stores(iteration)

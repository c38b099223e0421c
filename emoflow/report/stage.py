"""The report stage: figures of accuracy and cost versus landmarks, relevance on the face mesh.

:func:`make_report` reads what the other stages wrote — ``summary.parquet``
(:mod:`emoflow.summary`), each iteration's ``metrics.json``,
``attributions.zarr`` and ``landmarks.json`` — and writes into one folder:

``accuracy_vs_landmarks.png``
    Per emotion, balanced accuracy (mean ± std over folds) and inference time per sample
    against the number of landmarks kept; the selected and the all-landmark iterations marked.
``relevance_on_face.png``
    Per emotion, iteration 0's relevance of every landmark drawn on the reference face mesh;
    the ``top_k`` most relevant emphasised, ground-truth landmarks (if given) ringed.
``selected_landmarks.png``
    Per emotion, the landmarks the selected iteration kept.
``confusion_matrix.png``
    The combined (argmax) classifier's confusion matrix, first and last iteration.
``report.json``
    The key numbers per emotion (see :func:`report_numbers`).

Matplotlib is imported lazily and drawn with the Agg canvas, so the stage runs headless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emoflow._atomic import atomic_path, write_json
from emoflow._outputs import refuse_overwriting_inputs
from emoflow.errors import DataError
from emoflow.report._drawing import FIGURES, plotting
from emoflow.report.figures import (
    plot_accuracy_vs_landmarks,
    plot_confusion_matrices,
    plot_relevance_on_face,
    plot_selected_landmarks,
)
from emoflow.report.inputs import load_report_inputs
from emoflow.report.tables import report_numbers

REPORT_JSON = "report.json"
SUMMARY_TABLE = "summary.csv"
RUN_CONFIG = "run_config.yaml"


def _as_list(value: str | Path | Sequence[str | Path]) -> list[str | Path]:
    return [value] if isinstance(value, str | Path) else list(value)


def make_report(
    summary_path: str | Path,
    metrics_paths: Sequence[str | Path],
    attribution_paths: Sequence[str | Path | Sequence[str | Path]],
    landmark_set_paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    ground_truth_path: str | Path | None = None,
    top_k: int = 50,
    run_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the report's figures, ``report.json``, ``summary.csv`` and the run's configuration
    (``run_config.yaml``, when given) into ``out_dir``.

    Parameters
    ----------
    summary_path
        ``summary.parquet`` (read by :func:`emoflow.summary.read_summary`).
    metrics_paths, attribution_paths, landmark_set_paths
        Per iteration, in order (the i-th entries belong to iteration i): ``metrics.json``,
        ``attributions.zarr`` (or the list of the iteration's per-emotion stores) and
        ``landmarks.json``. Relevance is drawn from the first.
    out_dir
        Folder of the report (created); file names in :data:`FIGURES` and ``report.json``.
    ground_truth_path
        Optional ``{"emotions": {emotion: {"landmarks": [ids], ...}}}``: rings the
        ground-truth landmarks and adds precision@k to ``report.json``.
    top_k
        How many of the most relevant landmarks are emphasised and counted per region.
    run_config
        The workflow configuration of the run, recorded next to the figures.

    Returns
    -------
    dict
        The content of ``report.json`` (see :func:`report_numbers`).
    """
    if top_k < 1:
        raise DataError(f"report.top_k must be ≥ 1, got {top_k}")
    out = Path(out_dir)
    truth = [] if ground_truth_path is None else _as_list(ground_truth_path)
    stores = [  # an iteration's store, or its emotions' stores
        store
        for entry in attribution_paths
        for store in ([entry] if isinstance(entry, str | Path) else entry)
    ]
    refuse_overwriting_inputs(
        [
            out,
            *(out / name for name in (*FIGURES.values(), SUMMARY_TABLE, RUN_CONFIG, REPORT_JSON)),
        ],
        [summary_path, *metrics_paths, *stores, *landmark_set_paths, *truth],
        folders=stores,
    )
    inputs = load_report_inputs(
        summary_path, metrics_paths, attribution_paths, landmark_set_paths, ground_truth_path
    )
    out.mkdir(parents=True, exist_ok=True)
    numbers = report_numbers(inputs, top_k)
    with plotting():
        plot_accuracy_vs_landmarks(inputs.summary, inputs.emotions, out / FIGURES["accuracy"])
        plot_relevance_on_face(
            inputs.emotions,
            inputs.scores,
            out / FIGURES["relevance"],
            top_k=top_k,
            ground_truth=inputs.ground_truth,
            iteration=inputs.iterations[0],
        )
        plot_selected_landmarks(inputs, out / FIGURES["selected"])
        plot_confusion_matrices(inputs, out / FIGURES["confusion"])
    with atomic_path(out / SUMMARY_TABLE) as staged:
        inputs.summary.write_csv(staged, float_precision=4)
    if run_config is not None:
        import yaml

        with atomic_path(out / RUN_CONFIG) as staged:
            staged.write_text(yaml.safe_dump(dict(run_config), sort_keys=False))
    write_json(out / REPORT_JSON, numbers)
    return numbers

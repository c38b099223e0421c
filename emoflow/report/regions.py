"""Relevance per face region: the report's ``relevance_by_region.parquet`` (and ``.csv``).

The face regions partition the landmark scheme's points (every landmark in exactly one:
:meth:`emoflow.schemes.LandmarkScheme.face_regions`), so a model's relevance splits over them
without remainder. Per emotion, two models: iteration 0 (all landmarks) and the emotion's
selected iteration (the landmarks it kept). This module writes and reads the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from emoflow._atomic import atomic_path
from emoflow._tables import read_arrow, write_parquet
from emoflow.errors import InputError
from emoflow.schemes import FACE_AREAS

if TYPE_CHECKING:
    from emoflow.report.inputs import ReportInputs
    from emoflow.schemes import LandmarkScheme

REGION_TABLE = "relevance_by_region.parquet"
REGION_CSV = "relevance_by_region.csv"
MODELS = ("all_landmarks", "selected")
"""Values of the ``model`` column: iteration 0, and the emotion's selected iteration."""

REGION_SCHEMA = pl.Schema(
    {
        "emotion": pl.String,
        "model": pl.String,
        "iteration": pl.Int32,
        "region": pl.String,
        "area": pl.String,
        "n_points": pl.Int32,
        "n_kept": pl.Int32,
        "n_top_k": pl.Int32,
        "relevance_sum": pl.Float64,
        "relevance_mean": pl.Float64,
        "relevance_share": pl.Float64,
    }
)
"""One row per emotion, model and face region (every region of the scheme, also those the
model kept no landmark of):

``emotion``, ``model`` (:data:`MODELS`), ``iteration``
    Whose relevance: the emotion's model of that iteration.
``region``, ``area``
    The face region (:meth:`~emoflow.schemes.LandmarkScheme.face_regions`; ``right``/``left``
    the subject's own) and its area (:data:`emoflow.schemes.FACE_AREAS`: left and right
    together).
``n_points``, ``n_kept``
    The region's points in the scheme; those the model has (scored) relevance for.
``n_top_k``
    How many of the model's ``top_k`` most relevant landmarks lie in the region.
``relevance_sum``, ``relevance_mean``
    Sum and mean of the relevance of the model's landmarks in the region (null without any).
``relevance_share``
    The region's share of the model's relevance: its sum of absolute relevance over the
    model's total (the shares of a model add up to 1; with the default aggregations relevance
    is never negative, so this is ``relevance_sum`` over the total).
"""


def region_rows(
    emotion: str,
    model: str,
    iteration: int,
    relevance: np.ndarray,
    scheme: LandmarkScheme,
    top_k: int,
) -> list[dict[str, object]]:
    """The rows of one model: ``relevance`` has one value per landmark, NaN where the model
    has no relevance (landmarks outside its set)."""
    from emoflow.report.tables import top_landmarks

    relevance = np.asarray(relevance, dtype=np.float64)
    scored = np.isfinite(relevance)
    total = float(np.abs(relevance[scored]).sum())
    top = set(top_landmarks(relevance, top_k).tolist())
    rows: list[dict[str, object]] = []
    for region, ids in scheme.face_regions().items():
        inside = np.asarray([i for i in ids if i < len(relevance)], dtype=np.int64)
        kept = inside[scored[inside]] if inside.size else inside
        values = relevance[kept]
        rows.append(
            {
                "emotion": emotion,
                "model": model,
                "iteration": int(iteration),
                "region": region,
                "area": FACE_AREAS[region],
                "n_points": int(inside.size),
                "n_kept": int(kept.size),
                "n_top_k": len(top.intersection(kept.tolist())),
                "relevance_sum": float(values.sum()) if kept.size else None,
                "relevance_mean": float(values.mean()) if kept.size else None,
                "relevance_share": float(np.abs(values).sum()) / total if total > 0 else None,
            }
        )
    return rows


def region_relevance(inputs: ReportInputs, top_k: int) -> pl.DataFrame:
    """:data:`REGION_SCHEMA` for every emotion of the report: iteration 0's relevance and,
    when read, each emotion's selected iteration's."""
    from emoflow.report._drawing import face_scheme

    scheme = face_scheme(int(inputs.scores.shape[1]))
    rows: list[dict[str, object]] = []
    for e, emotion in enumerate(inputs.emotions):
        rows += region_rows(
            emotion, MODELS[0], inputs.iterations[0], inputs.scores[e], scheme, top_k
        )
        if inputs.selected_relevance is not None:
            rows += region_rows(
                emotion,
                MODELS[1],
                inputs.selected_iteration(emotion),
                inputs.selected_relevance[e],
                scheme,
                top_k,
            )
    return pl.DataFrame(rows, schema=REGION_SCHEMA, orient="row")


def write_region_table(table: pl.DataFrame, folder: Path) -> None:
    """Write ``table`` (:data:`REGION_SCHEMA`) as :data:`REGION_TABLE` and :data:`REGION_CSV`
    into ``folder``, atomically."""
    table = table.select(list(REGION_SCHEMA)).cast(REGION_SCHEMA)
    write_parquet(table, folder / REGION_TABLE)
    with atomic_path(folder / REGION_CSV) as staged:
        table.write_csv(staged, float_precision=6)


def read_region_table(path: str | Path) -> pl.DataFrame:
    """The table :func:`write_region_table` wrote (:data:`REGION_SCHEMA`); an InputError names
    a file that is not one."""
    table = pl.DataFrame(read_arrow(path, remedy="rerun the report (make_report)"))
    missing = [name for name in REGION_SCHEMA if name not in table.columns]
    if missing:
        raise InputError(path, f"not a relevance-by-region table: no column(s) {missing}")
    return table.select(list(REGION_SCHEMA)).cast(REGION_SCHEMA)


def shares(table: pl.DataFrame, emotion: str, model: str) -> dict[str, float]:
    """Region → share of relevance of one emotion's model, largest first (regions without
    relevance left out)."""
    rows = table.filter(
        (pl.col("emotion") == emotion)
        & (pl.col("model") == model)
        & pl.col("relevance_share").is_not_null()
        & (pl.col("n_kept") > 0)
    ).sort("relevance_share", descending=True, maintain_order=True)
    return dict(zip(rows["region"].to_list(), rows["relevance_share"].to_list(), strict=True))


__all__ = [
    "MODELS",
    "REGION_CSV",
    "REGION_SCHEMA",
    "REGION_TABLE",
    "read_region_table",
    "region_relevance",
    "region_rows",
    "shares",
    "write_region_table",
]

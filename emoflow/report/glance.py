"""Results at a glance: the report's first item, and the top of ``summary.html``.

Per emotion, in one row: the landmarks the deployed model keeps (and the counts the nested
evaluation's outer folds chose), the face regions that carry most of its relevance with their
shares, the nested estimate of the whole procedure with its 95 % interval and n beside the
deployed model's held-out test, the verdict on pruning (pruned − all landmarks), and the data
kept and dropped; one row for the combined classifier. Each emotion also gets a page of its
own (``at_a_glance_{emotion}.html``, so that a search of the report for the emotion finds it)
with every estimate, difference and region of that emotion.

Read from what the other parts of the report hold: the summary (the deployed chain's selected
iteration), :mod:`emoflow.report.regions` (relevance by face region), the data and quality
section (:mod:`emoflow.report.data`) and the nested evaluation's estimates and differences
(:mod:`emoflow.evaluation`). Without the evaluation (a report made from a chain alone) the
deployed chain's cross-validation stands in for the estimate, and the page says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from emoflow.evaluation import CHAIN, COMBINED, FULL
from emoflow.report._text import procedure_name, signed
from emoflow.report.html import Cell, facts, heading, paragraph, percent, table, warning, write_page
from emoflow.report.inputs import ReportInputs, full_and_selected
from emoflow.report.regions import MODELS, shares
from emoflow.uncertainty import MIN_SUBJECTS

__all__ = [
    "GLANCE_EMOTION_PAGE",
    "GLANCE_PAGE",
    "Evaluation",
    "glance_numbers",
    "glance_page_paths",
    "glance_table",
    "write_glance_pages",
]

GLANCE_PAGE = "at_a_glance.html"
GLANCE_EMOTION_PAGE = "at_a_glance_{emotion}.html"
TOP_REGIONS = 3
"""Face regions named per emotion (the largest shares of the selected model's relevance)."""

_SCOPES = {
    "nested": "nested (outer folds: subjects the procedure never saw)",
    "validation": "deployed chain's cross-validation (the count was chosen on it: optimistic)",
    "test": "held-out test subjects (deployed model, scored once)",
}
_VERDICTS = {"win": "better", "loss": "worse"}


@dataclass
class Evaluation:
    """The nested evaluation's ``estimates`` and ``differences`` tables
    (:data:`emoflow.evaluation.estimates.ESTIMATE_SCHEMA`, ``DIFFERENCE_SCHEMA``)."""

    estimates: pl.DataFrame
    differences: pl.DataFrame

    @classmethod
    def read(cls, estimates_path: str | Path, differences_path: str | Path) -> Evaluation:
        from emoflow.evaluation.tables import read_evaluation

        return cls(
            read_evaluation("estimates", estimates_path),
            read_evaluation("differences", differences_path),
        )

    def estimate(self, scope: str, emotion: str, procedure: str) -> dict[str, Any] | None:
        rows = self.estimates.filter(
            (pl.col("scope") == scope)
            & (pl.col("emotion") == emotion)
            & (pl.col("procedure") == procedure)
        )
        return None if rows.is_empty() else rows.row(0, named=True)

    def difference(
        self, scope: str, emotion: str, baseline: str, procedure: str = CHAIN
    ) -> dict[str, Any] | None:
        rows = self.differences.filter(
            (pl.col("scope") == scope)
            & (pl.col("emotion") == emotion)
            & (pl.col("baseline") == baseline)
            & (pl.col("procedure") == procedure)
        )
        return None if rows.is_empty() else rows.row(0, named=True)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _clean(value: Any) -> Any:
    return value if not isinstance(value, float) or math.isfinite(value) else None


def interval(row: dict[str, Any] | None) -> str:
    """``0.912 [0.850, 0.967]``; ``0.912 (no interval)``; ``n/a``."""
    if row is None or not _finite(row["estimate"]):
        return "n/a"
    if _finite(row["ci_low"]) and _finite(row["ci_high"]):
        return f"{row['estimate']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
    return f"{row['estimate']:.3f} (no interval)"


def counts(row: dict[str, Any] | None) -> str:
    """The n behind an estimate, and why it has no interval when it has none."""
    if row is None:
        return ""
    n = f"n = {row['n_subjects']} subjects, {row['n_samples']} videos"
    if _finite(row["estimate"]) and not (_finite(row["ci_low"]) and _finite(row["ci_high"])):
        if row["n_subjects"] < MIN_SUBJECTS:
            n += f": too few subjects for an interval (≥ {MIN_SUBJECTS})"
    return n


def _estimate_cell(row: dict[str, Any] | None) -> Cell:
    return Cell(interval(row), counts(row), sort=row["estimate"] if row else None)


def _test_cell(test: dict[str, Any] | None, full: dict[str, Any] | None) -> Cell:
    """The deployed model's held-out test, the all-landmark model's and the n under it."""
    notes = [counts(test)] if test is not None else []
    if full is not None and _finite(full["estimate"]):
        notes.append(f"all landmarks: {full['estimate']:.3f}")
    return Cell(interval(test), "; ".join(notes), sort=test["estimate"] if test else None)


def difference_text(row: dict[str, Any] | None) -> str:
    """``no difference shown (−0.067 [−0.192, +0.000])``."""
    if row is None or not _finite(row["difference"]):
        return "n/a"
    return f"{_VERDICTS.get(row['verdict'], row['verdict'])} ({_spread(row)})"


def _spread(row: dict[str, Any]) -> str:
    """``−0.067 [−0.192, +0.000]``, or the difference without an interval."""
    if _finite(row["ci_low"]) and _finite(row["ci_high"]):
        return f"{signed(row['difference'])} [{signed(row['ci_low'])}, {signed(row['ci_high'])}]"
    return f"{signed(row['difference'])}, no interval"


def _verdict_cell(row: dict[str, Any] | None) -> Cell:
    """The verdict, and the difference with its interval under it."""
    if row is None or not _finite(row["difference"]):
        return Cell("n/a")
    return Cell(_VERDICTS.get(row["verdict"], row["verdict"]), _spread(row), sort=row["difference"])


def _data_cell(inputs: ReportInputs, emotion: str | None) -> Cell:
    """Videos kept, dropped and skipped (of the emotion, or of every emotion)."""
    if inputs.data is None:
        return Cell("–", "data inputs not given")
    videos = inputs.data.videos
    if emotion is not None:
        videos = videos.filter(pl.col("emotion") == emotion)
    kept = int((videos["status"] == "kept").sum())
    dropped = int((videos["status"] == "dropped").sum())
    skipped = int((videos["status"] == "skipped").sum())
    note = f"{dropped} dropped" + (f", {skipped} skipped" if skipped else "")
    return Cell(f"{kept} of {videos.height} kept", note, sort=kept)


def _regions_text(regions: pl.DataFrame, emotion: str, top: int = TOP_REGIONS) -> str:
    found = list(shares(regions, emotion, MODELS[1]).items()) or list(
        shares(regions, emotion, MODELS[0]).items()
    )
    return ", ".join(f"{name.replace('_', ' ')} {percent(share)}" for name, share in found[:top])


def _regions_cell(regions: pl.DataFrame, emotion: str) -> Cell:
    """The top regions, the largest first (its share is what the column sorts by)."""
    found = list(shares(regions, emotion, MODELS[1]).items())
    return Cell(_regions_text(regions, emotion), sort=found[0][1] if found else None)


def _outer_counts(evaluation: Evaluation | None, emotion: str) -> list[int]:
    row = evaluation.estimate("nested", emotion, CHAIN) if evaluation else None
    return [int(c) for c in (row["n_landmarks"] or [])] if row else []


def _validation_row(inputs: ReportInputs, emotion: str) -> dict[str, Any]:
    """Without the nested evaluation: the deployed chain's selected model's cross-validation
    (mean over folds, no interval), in the evaluation's row shape."""
    _, selected = full_and_selected(inputs.summary, emotion)
    return {
        "estimate": _clean(selected.get("balanced_accuracy_mean")),
        "ci_low": None,
        "ci_high": None,
        "n_subjects": 0,
        "n_samples": 0,
    }


def glance_numbers(
    inputs: ReportInputs, regions: pl.DataFrame, evaluation: Evaluation | None
) -> dict[str, Any]:
    """The glance's numbers for ``report.json``: per emotion and for ``combined``."""
    out: dict[str, Any] = {}
    for emotion in [*inputs.emotions, COMBINED]:
        entry: dict[str, Any] = {}
        if emotion != COMBINED:
            full, selected = full_and_selected(inputs.summary, emotion)
            entry["landmarks_kept"] = int(selected["n_landmarks"])
            entry["landmarks_all"] = int(full["n_landmarks"])
            entry["selected_iteration"] = int(selected["iteration"])
            entry["landmarks_chosen_per_outer_fold"] = _outer_counts(evaluation, emotion)
            entry["top_regions"] = dict(
                list(shares(regions, emotion, MODELS[1]).items())[:TOP_REGIONS]
            )
        if evaluation is not None:
            for scope in ("nested", "test", "validation"):
                for procedure in (FULL, CHAIN):
                    row = evaluation.estimate(scope, emotion, procedure)
                    if row is not None:
                        entry.setdefault(scope, {})[procedure] = {
                            "estimate": _clean(row["estimate"]),
                            "ci": [_clean(row["ci_low"]), _clean(row["ci_high"])],
                            "n_subjects": row["n_subjects"],
                            "n_samples": row["n_samples"],
                        }
            verdict = evaluation.difference("nested", emotion, FULL)
            if verdict is not None:
                entry["pruning_verdict"] = {
                    "difference": _clean(verdict["difference"]),
                    "ci": [_clean(verdict["ci_low"]), _clean(verdict["ci_high"])],
                    "verdict": verdict["verdict"],
                }
        if inputs.data is not None:
            videos = inputs.data.videos
            if emotion != COMBINED:
                videos = videos.filter(pl.col("emotion") == emotion)
            entry["data"] = {
                status: int((videos["status"] == status).sum())
                for status in ("kept", "dropped", "skipped")
            } | {"videos": videos.height}
        out[emotion] = entry
    return out


def glance_table(inputs: ReportInputs, regions: pl.DataFrame, evaluation: Evaluation | None) -> str:
    """The glance as one sortable table, a row per emotion and the combined classifier below
    (HTML)."""
    nested = "nested" if evaluation is not None else None
    header = [
        "emotion",
        "landmarks kept",
        "top face regions (share of relevance)",
        "nested estimate, pruned [95 % interval]",
        "nested, all landmarks",
        "held-out test",
        "pruned vs all",
        "videos",
    ]
    rows = []
    for emotion in inputs.emotions:
        full, selected = full_and_selected(inputs.summary, emotion)
        folds = _outer_counts(evaluation, emotion)
        kept = Cell(
            f"{selected['n_landmarks']} of {full['n_landmarks']}",
            (
                "outer folds chose " + " / ".join(str(c) for c in folds)
                if folds
                else f"iteration {selected['iteration']}"
            ),
            sort=selected["n_landmarks"],
        )
        if evaluation is not None:
            chain = evaluation.estimate("nested", emotion, CHAIN)
            all_landmarks = evaluation.estimate("nested", emotion, FULL)
            test = evaluation.estimate("test", emotion, CHAIN)
            test_full = evaluation.estimate("test", emotion, FULL)
            verdict = evaluation.difference("nested", emotion, FULL)
            test_cell = _test_cell(test, test_full)
        else:
            chain, all_landmarks, verdict = _validation_row(inputs, emotion), None, None
            test_value = _clean(selected.get("test_balanced_accuracy"))
            test_cell = Cell(
                "n/a" if test_value is None else f"{test_value:.3f}", "", sort=test_value
            )
        rows.append(
            [
                emotion,
                kept,
                _regions_cell(regions, emotion),
                _estimate_cell(chain),
                _estimate_cell(all_landmarks),
                test_cell,
                _verdict_cell(verdict),
                _data_cell(inputs, emotion),
            ]
        )
    footer = []
    if evaluation is not None and nested:
        chain = evaluation.estimate("nested", COMBINED, CHAIN)
        all_landmarks = evaluation.estimate("nested", COMBINED, FULL)
        test = evaluation.estimate("test", COMBINED, CHAIN)
        test_full = evaluation.estimate("test", COMBINED, FULL)
        verdict = evaluation.difference("nested", COMBINED, FULL)
        footer.append(
            [
                "combined (argmax over the emotions' models)",
                "each emotion's own",
                "–",
                _estimate_cell(chain),
                _estimate_cell(all_landmarks),
                _test_cell(test, test_full),
                _verdict_cell(verdict),
                _data_cell(inputs, None),
            ]
        )
    return table(header, rows, sortable=True, footer=footer, css="glance")


def _headline(inputs: ReportInputs, evaluation: Evaluation | None) -> list[str]:
    """The sentences above the table: data, the pruning verdicts, the small test set."""
    parts = []
    data = inputs.data
    if data is not None:
        numbers = data.numbers()
        held_out = ", ".join(data.test_subjects) or "none"
        parts.append(
            paragraph(
                f"Data: {numbers['n_videos']} videos of {numbers['n_subjects']} subjects, "
                f"{numbers['n_kept']} kept, {numbers['n_dropped']} dropped, "
                f"{numbers['n_skipped']} skipped; held out as the final test: {held_out} "
                f"({data.n_test or 0} videos)."
            )
        )
    if evaluation is None:
        parts.append(
            warning(
                [
                    "This report was made without the nested evaluation: the estimate column "
                    "is the deployed chain's own cross-validation, on which its landmark count "
                    "was chosen (optimistic), without an interval."
                ],
                "No nested estimate",
            )
        )
        return parts
    verdicts = evaluation.differences.filter(
        (pl.col("scope") == "nested")
        & (pl.col("baseline") == FULL)
        & (pl.col("procedure") == CHAIN)
        & (pl.col("emotion") != COMBINED)
    )
    if verdicts.height:
        tally = {v: int((verdicts["verdict"] == v).sum()) for v in ("win", "loss")}
        parts.append(
            paragraph(
                f"Pruning (IG-guided, count chosen on inner folds) against all landmarks, "
                f"nested: better for {tally['win']} of {verdicts.height} emotions, worse for "
                f"{tally['loss']}, no difference shown for the rest (a difference counts only "
                "when its 95 % interval excludes 0)."
            )
        )
    test = evaluation.estimates.filter(pl.col("scope") == "test")
    if test.height and not (test["ci_low"].is_finite().any()):
        fewest = int(test["n_subjects"].min())  # type: ignore[arg-type]
        parts.append(
            warning(
                [
                    f"The held-out test has {fewest} subject(s): too few for an interval "
                    f"(at least {MIN_SUBJECTS} are needed). Its numbers check that the "
                    "deployed models run on new people; the nested estimates, with their "
                    "intervals, are the ones to report."
                ],
                "Small test set",
            )
        )
    return parts


def _emotion_page(
    inputs: ReportInputs,
    regions: pl.DataFrame,
    evaluation: Evaluation | None,
    emotion: str,
    path: Path,
) -> None:
    full, selected = full_and_selected(inputs.summary, emotion)
    folds = _outer_counts(evaluation, emotion)
    parts = [
        facts(
            [
                (
                    "landmarks kept (deployed model)",
                    f"{selected['n_landmarks']} of {full['n_landmarks']} "
                    f"(iteration {selected['iteration']})",
                ),
                (
                    "counts chosen in the outer folds",
                    " / ".join(str(c) for c in folds) if folds else "–",
                ),
                ("top face regions", _regions_text(regions, emotion, 5)),
                ("data (videos)", _data_fact(inputs, emotion)),
            ]
        )
    ]
    if evaluation is not None:
        rows = []
        for scope in ("nested", "validation", "test"):
            procedures = sorted(
                set(
                    evaluation.estimates.filter(
                        (pl.col("scope") == scope) & (pl.col("emotion") == emotion)
                    )["procedure"].to_list()
                ),
                key=lambda p: (p != CHAIN, p != FULL, p),
            )
            for procedure in procedures:
                row = evaluation.estimate(scope, emotion, procedure)
                assert row is not None
                landmarks = ", ".join(str(c) for c in row["n_landmarks"] or []) or "–"
                rows.append(
                    [
                        _SCOPES[scope] if scope in _SCOPES else scope,
                        procedure_name(procedure),
                        Cell(interval(row), sort=row["estimate"]),
                        landmarks,
                        row["n_subjects"],
                        row["n_samples"],
                    ]
                )
        parts += [
            heading("Balanced accuracy, with 95 % subject-level bootstrap intervals"),
            table(
                [
                    "scope",
                    "procedure",
                    "estimate [95 % interval]",
                    "landmarks",
                    "subjects",
                    "videos",
                ],
                rows,
                sortable=True,
            ),
        ]
        differences = evaluation.differences.filter(pl.col("emotion") == emotion)
        if differences.height:
            parts += [
                heading("Differences (paired; a verdict only when the interval excludes 0)"),
                table(
                    [
                        "scope",
                        "procedure − baseline",
                        "difference [95 % interval], verdict",
                        "subjects",
                    ],
                    [
                        [
                            row["scope"],
                            f"{procedure_name(row['procedure'])} − "
                            f"{procedure_name(row['baseline'])}",
                            Cell(difference_text(row), sort=row["difference"]),
                            row["n_subjects"],
                        ]
                        for row in differences.iter_rows(named=True)
                    ],
                    sortable=True,
                ),
            ]
    mine = regions.filter(pl.col("emotion") == emotion).sort(
        "model", "relevance_share", descending=[True, True], nulls_last=True
    )
    by_region: dict[str, dict[str, Any]] = {}
    for row in mine.iter_rows(named=True):
        entry = by_region.setdefault(row["region"], {"n_points": row["n_points"]})
        entry[row["model"]] = row
    region_rows = []
    for region, entry in by_region.items():
        chosen, everything = entry.get(MODELS[1]), entry.get(MODELS[0])
        region_rows.append(
            [
                region.replace("_", " "),
                Cell(
                    f"{chosen['n_kept']} of {entry['n_points']}" if chosen else "–",
                    sort=chosen["n_kept"] if chosen else None,
                ),
                Cell(
                    percent(chosen["relevance_share"]) if chosen else "–",
                    sort=_clean(chosen["relevance_share"]) if chosen else None,
                ),
                Cell(
                    percent(everything["relevance_share"]) if everything else "–",
                    sort=_clean(everything["relevance_share"]) if everything else None,
                ),
                everything["n_top_k"] if everything else "–",
            ]
        )
    parts += [
        heading("Relevance by face region (selected model, and all landmarks)"),
        table(
            [
                "region",
                "landmarks kept",
                "share of relevance (selected)",
                "share with all landmarks",
                "of the top-k landmarks (all landmarks)",
            ],
            region_rows,
            sortable=True,
        ),
        paragraph(
            f"The face figure of this emotion is the report item relevance on the face and "
            f"by region: {emotion}; landmark_selection.html lists the kept landmark ids.",
            "note",
        ),
    ]
    write_page(path, f"{emotion} at a glance", parts)


def _data_fact(inputs: ReportInputs, emotion: str) -> str:
    cell = _data_cell(inputs, emotion)
    return f"{cell.text}, {cell.note}" if cell.note else str(cell.text)


def glance_page_paths(emotions: list[str], folder: Path) -> dict[str, Path]:
    """Each emotion's glance page in ``folder``."""
    return {e: folder / GLANCE_EMOTION_PAGE.format(emotion=e) for e in emotions}


def write_glance_pages(
    inputs: ReportInputs,
    regions: pl.DataFrame,
    evaluation: Evaluation | None,
    folder: Path,
) -> dict[str, Any]:
    """Write :data:`GLANCE_PAGE` and each emotion's page into ``folder``; returns the glance's
    numbers (:func:`glance_numbers`)."""
    parts = [
        *_headline(inputs, evaluation),
        glance_table(inputs, regions, evaluation),
        paragraph(
            "Balanced accuracy throughout. Landmarks kept: the deployed model's (trained on "
            "every development subject; what emoflow predict applies) of all, and the count "
            "each outer fold of the nested evaluation chose on its inner folds. Top face "
            "regions: the deployed model's relevance (Integrated Gradients) summed per region, "
            "as shares. Nested estimate: the whole procedure — train, attribute (IG-guided "
            "pruning), choose the count — scored once on subjects it never saw, with a 95 % "
            "subject-level bootstrap interval and the subjects and videos behind it; beside it "
            "the same with all landmarks. Held-out test: the deployed (pruned) model on the "
            "subjects held out of everything, and the all-landmark model's. Pruned vs all: the "
            "paired nested difference and its verdict (better or worse only when the interval "
            "excludes 0). Videos: kept (samples) of the emotion's videos, and those dropped or "
            "skipped. Click a column's heading to sort. Each emotion has an item of its own in "
            "this category (at a glance: EMOTION) with every estimate and region.",
            "note",
        ),
    ]
    write_page(folder / GLANCE_PAGE, "Results at a glance", parts)
    for emotion, path in glance_page_paths(inputs.emotions, folder).items():
        _emotion_page(inputs, regions, evaluation, emotion, path)
    return glance_numbers(inputs, regions, evaluation)

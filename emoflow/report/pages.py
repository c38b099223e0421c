"""The report's HTML items: data and quality, validation against held-out test, the summary,
each emotion's landmark selection by face region, and the run's settings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from emoflow.report.data import chosen_hyper_parameters
from emoflow.report.html import (
    facts,
    heading,
    paragraph,
    percent,
    setting,
    table,
    warning,
    write_page,
)
from emoflow.report.inputs import ReportInputs
from emoflow.report.outcomes import (
    GAP_WARNING,
    combined_of_selected,
    combined_per_iteration,
    validation_and_test,
    warnings_of,
)
from emoflow.report.tables import full_and_selected

PAGES = {
    "glance": "at_a_glance.html",
    "data": "data_quality.html",
    "results": "validation_vs_test.html",
    "summary": "summary.html",
    "selection": "landmark_selection.html",
    "settings": "run_settings.html",
}
"""File names of the HTML items in the report folder."""
LOWEST_DETECTION = 10
"""Videos listed by lowest share of frames with a face (when any frame lacks one)."""


def write_data_page(inputs: ReportInputs, path: Path) -> None:
    """Videos, subjects and videos per emotion; face detection; every video not kept with its
    reason; the held-out subjects; the hyper-parameters inner cross-validation chose."""
    parts: list[str] = []
    data = inputs.data
    if data is not None:
        numbers = data.numbers()
        rates: list[float] = data.videos["detection_rate"].drop_nulls().to_list()
        parts += [
            heading("Videos"),
            facts(
                [
                    ("videos in the manifest", numbers["n_videos"]),
                    ("subjects", numbers["n_subjects"]),
                    ("kept (samples of the feature store)", numbers["n_kept"]),
                    ("dropped after extraction", numbers["n_dropped"]),
                    ("skipped at extraction", numbers["n_skipped"]),
                    ("frames", _frames_fact(numbers)),
                    (
                        "face found in",
                        f"{percent(numbers['detection_rate'])} of the "
                        f"{numbers['n_frames_meshed']} meshed frames (lowest video: "
                        f"{percent(min(rates) if rates else None)})",
                    ),
                ]
            ),
            heading("Landmarks"),
            facts(_landmark_facts(data.landmarks)),
            heading("Per emotion"),
            table(
                ["emotion", "videos", "subjects", "kept", "dropped", "skipped", "face detection"],
                [
                    [
                        row["emotion"],
                        row["videos"],
                        row["subjects"],
                        row["kept"],
                        row["dropped"],
                        row["skipped"],
                        percent(row["mean_detection_rate"]),
                    ]
                    for row in data.per_emotion().iter_rows(named=True)
                ],
            ),
            heading(f"Videos dropped or skipped ({data.not_kept.height})"),
        ]
        if data.not_kept.height:
            parts.append(
                table(
                    [
                        "video",
                        "subject",
                        "emotion",
                        "status",
                        "frames",
                        "meshed",
                        "with a face",
                        "reason",
                    ],
                    [
                        [
                            row["video_id"],
                            row["subject"],
                            row["emotion"],
                            row["status"],
                            row["n_frames"],
                            row["n_meshed"],
                            row["n_faces_found"],
                            row["reason"],
                        ]
                        for row in data.not_kept.iter_rows(named=True)
                    ],
                )
            )
        else:
            parts.append(paragraph("None: every video of the manifest became a sample."))
        partial = data.videos.filter(pl.col("detection_rate") < 1.0)
        lowest = partial.sort("detection_rate", "video_id").head(LOWEST_DETECTION)
        if lowest.height:
            parts += [
                heading(
                    f"Videos with frames without a face ({partial.height}"
                    + (
                        f", the {lowest.height} lowest shown)"
                        if partial.height > lowest.height
                        else ")"
                    )
                ),
                table(
                    [
                        "video",
                        "subject",
                        "emotion",
                        "frames",
                        "meshed",
                        "with a face",
                        "share",
                        "status",
                    ],
                    [
                        [
                            row["video_id"],
                            row["subject"],
                            row["emotion"],
                            row["n_frames"],
                            row["n_meshed"],
                            row["n_faces_found"],
                            percent(row["detection_rate"]),
                            row["status"],
                        ]
                        for row in lowest.iter_rows(named=True)
                    ],
                ),
            ]
        if data.several_faces:
            parts += [
                heading(f"Videos showing several faces ({len(data.several_faces)})"),
                paragraph(
                    "Kept: extraction followed one face by landmarks.face_policy, as "
                    "emoflow predict --several-faces does. Check that it is the right one."
                ),
                table(
                    ["video", "what extraction saw"],
                    [[video, seen] for video, seen in sorted(data.several_faces.items())],
                ),
            ]
        if data.decoding:
            parts += [
                heading(
                    f"Videos decoded in part or with a contradicted header ({len(data.decoding)})"
                ),
                paragraph(
                    "Frames decoded against those the header declares (a truncated file keeps "
                    "only its first frames), and what decoding found; frame times are the "
                    "frames' own presentation times."
                ),
                table(
                    ["video", "what decoding found"],
                    [[video, found] for video, found in sorted(data.decoding.items())],
                ),
            ]
        parts.append(heading("Held-out test subjects"))
        if data.test_subjects:
            parts.append(
                facts(
                    [
                        ("held out of everything", ", ".join(data.test_subjects)),
                        ("test samples", data.n_test),
                        ("cross-validation samples", data.n_development),
                    ]
                )
            )
        else:
            parts.append(paragraph("None (train.test_subjects is 0): no held-out test."))
    else:
        parts.append(paragraph("The run's manifest, shards and feature store were not given."))
    parts += [heading("Hyper-parameters chosen by inner cross-validation"), _chosen_table(inputs)]
    write_page(path, "Data and quality", parts)


def _landmark_facts(source: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The landmarks' scheme, tracker, units and coordinates, as facts."""
    if not source:
        return [("scheme", "not recorded")]
    trackers = source.get("trackers") or {}
    tracked = ", ".join(
        f"{name} {version}" if version else f"{name} (version not recorded)"
        for name, version in trackers.items()
    )
    units = {
        "normalised": "normalised to the frame (x, y in 0–1 of width and height)",
        "pixels": "pixels (frame size unknown)",
        "millimetres": "millimetres (OpenFace's 3-D points)",
    }
    coordinates = {"xyz": "x, y and depth z", "xy": "x and y only (2-D tracker: no z)"}
    return [
        ("scheme", f"{source['scheme']}: {source['description']}"),
        ("tracker", tracked or source.get("extractor", "–")),
        ("units", "; ".join(units.get(u, u) for u in source.get("units", []))),
        ("coordinates", "; ".join(coordinates.get(c, c) for c in source.get("coordinates", []))),
    ]


def _frames_fact(numbers: dict[str, Any]) -> str:
    """How many frames were decoded and how many meshed (all, or those the features read)."""
    decoded, meshed = numbers["n_frames"], numbers["n_frames_meshed"]
    if meshed == decoded:
        return f"{decoded} (every frame meshed)"
    return (
        f"{decoded}, of which {meshed} meshed (landmarks.frames: sampled: Face Mesh ran on "
        "the frames the features read)"
    )


def _chosen_table(inputs: ReportInputs) -> str:
    rows, grid_note = [], ""
    for emotion in inputs.emotions:
        iteration = inputs.selected_iteration(emotion)
        chosen = chosen_hyper_parameters(inputs.metrics[inputs.position(iteration)], emotion)
        searched = set(chosen["grid"]) or None
        folds = "; ".join(
            ", ".join(f"{k} {setting(v)}" for k, v in fold.items() if not searched or k in searched)
            for fold in chosen["folds"]
        )
        final = ", ".join(f"{k} {setting(v)}" for k, v in chosen["final"].items())
        rows.append([emotion, iteration, final or "–", folds or "–"])
        if chosen["grid"] and not grid_note:
            searched_text = "; ".join(f"{k}: {setting(v)}" for k, v in chosen["grid"].items())
            grid_note = (
                f"Searched {searched_text} by {chosen['n_inner_folds']}-fold inner "
                "cross-validation on the training subjects only, scored by "
                f"{chosen['metric']}."
            )
    network = inputs.metrics[0].get("network", {})
    return "".join(
        [
            table(["emotion", "selected iteration", "final model", "each fold's choice"], rows),
            paragraph(grid_note or "No hyper-parameter search in this run.", "note"),
            paragraph(
                "Network: " + ", ".join(f"{k} {setting(v)}" for k, v in network.items()), "note"
            )
            if network
            else "",
        ]
    )


def _combined_rows(inputs: ReportInputs) -> tuple[list[list[Any]], dict[str, Any]]:
    selected = combined_of_selected(inputs.selected_scores, inputs.emotions)
    rows = []
    for which, validation, test in [
        (
            "selected models (what emoflow predict applies)",
            selected["validation"],
            selected["test"],
        ),
    ]:
        if validation is not None:
            rows.append(
                [
                    which,
                    validation["accuracy"],
                    test["accuracy"] if test else None,
                    validation["balanced_accuracy"],
                    test["balanced_accuracy"] if test else None,
                ]
            )
    for row in combined_per_iteration(inputs.metrics, inputs.iterations):
        rows.append(
            [
                f"iteration {row['iteration']}",
                row["validation_accuracy"],
                row["test_accuracy"],
                row["validation_balanced_accuracy"],
                row["test_balanced_accuracy"],
            ]
        )
    return rows, selected


def _test_size_note(inputs: ReportInputs) -> str:
    """How coarse the test is: its videos per emotion, and what one video is worth."""
    if not inputs.selected_scores:
        return ""
    table = next(iter(inputs.selected_scores.values()))
    test = table.filter(pl.col("fold") < 0)
    if not test.height:
        return ""
    counts = test.group_by("emotion").len()["len"].to_list()
    fewest = min(counts)
    return paragraph(
        f"The held-out test has {test.height} videos, {fewest}–{max(counts)} "
        f"per emotion: one misclassified video of an emotion moves its test balanced accuracy "
        f"by up to {0.5 / fewest:.3f}.",
        "note",
    )


def write_results_page(inputs: ReportInputs, path: Path) -> dict[str, Any]:
    """Validation (cross-validation on development subjects) beside held-out test, per emotion
    and for the combined classifier; returns the numbers for ``report.json``."""
    per_emotion = validation_and_test(
        inputs.summary, inputs.emotions, inputs.metrics, inputs.iterations
    )
    flagged = warnings_of(per_emotion)
    has_test = per_emotion["test"].is_not_null().any()
    parts = [
        warning(
            flagged,
            f"Held-out test more than {GAP_WARNING:.2f} below validation (balanced accuracy):",
        ),
        paragraph(
            "Validation: subject-independent cross-validation on the development subjects "
            "(mean ± std over folds, and each fold). Test: the held-out subjects, never used "
            "for training, search, attribution, pruning or selection."
            + ("" if has_test else " This run held out no subjects (train.test_subjects: 0).")
        ),
        _test_size_note(inputs),
        heading("Per emotion (balanced accuracy of the binary model)"),
        table(
            [
                "emotion",
                "model",
                "iteration",
                "landmarks",
                "validation",
                "± std",
                "folds",
                "test",
                "test − validation",
            ],
            [
                [
                    row["emotion"],
                    row["model"],
                    row["iteration"],
                    row["n_landmarks"],
                    row["validation_mean"],
                    row["validation_std"],
                    row["validation_folds"],
                    row["test"],
                    row["gap"],
                ]
                for row in per_emotion.iter_rows(named=True)
            ],
            highlight=[row == "selected" for row in per_emotion["model"]],
            classes={6: "nowrap"},
            cell_classes=[
                {8: "bad", 7: "bad"} if gap is not None and gap < -GAP_WARNING else {}
                for gap in per_emotion["gap"]
            ],
        ),
    ]
    rows, selected = _combined_rows(inputs)
    parts += [
        heading("Combined classifier (argmax over the emotions' models)"),
        table(
            [
                "classifier",
                "validation accuracy",
                "test accuracy",
                "validation balanced acc.",
                "test balanced acc.",
            ],
            rows,
            highlight=[str(r[0]).startswith("selected") for r in rows],
        ),
        paragraph(
            "Each iteration's row combines the emotions' models of that iteration; the "
            "highlighted row combines each emotion's selected model. Their confusion "
            "matrices are in the figures.",
            "note",
        ),
    ]
    write_page(path, "Validation against held-out test", parts)
    return {
        "per_emotion": per_emotion.to_dicts(),
        "combined_selected": selected,
        "combined_per_iteration": combined_per_iteration(inputs.metrics, inputs.iterations),
        "warnings": flagged,
    }


SUMMARY_HEADERS = {
    "emotion": "emotion",
    "iteration": "iteration",
    "n_landmarks": "landmarks",
    "balanced_accuracy_mean": "bal. acc. (validation)",
    "balanced_accuracy_std": "± std",
    "test_balanced_accuracy": "bal. acc. (test)",
    "accuracy_mean": "accuracy",
    "f1_mean": "F1",
    "roc_auc_mean": "ROC-AUC",
    "n_parameters": "parameters",
    "train_time_s": "training (s / fold)",
    "inference_time_ms": "inference (ms / sample)",
    "selected": "selected",
}


def write_summary_page(summary: pl.DataFrame, path: Path, glance: str = "") -> None:
    """The summary, one row per emotion and iteration; selected rows highlighted; the results
    at a glance (:func:`emoflow.report.glance.glance_table`, HTML) above it when given."""
    columns = [name for name in SUMMARY_HEADERS if name in summary.columns]
    rows = summary.select(columns).rows()
    write_page(
        path,
        "Summary per emotion and iteration",
        [
            *([heading("Results at a glance"), glance] if glance else []),
            heading("Every iteration") if glance else "",
            paragraph(
                "Validation is cross-validation on the development subjects; test is the "
                "held-out subjects. The selected iteration (highlighted) has the best "
                "validation balanced accuracy, ties going to fewer landmarks; test never "
                "takes part in the choice."
            ),
            table(
                [SUMMARY_HEADERS[name] for name in columns],
                [
                    [
                        f"{v:,}" if c == "n_parameters" else v
                        for c, v in zip(columns, row, strict=True)
                    ]
                    for row in rows
                ],
                highlight=summary["selected"].to_list(),
                sortable=True,
            ),
        ],
    )


def selection_by_region(
    kept: list[int], n_landmarks: int | None = None
) -> list[tuple[str, list[int]]]:
    """The kept landmark ids per face region (the regions partition the scheme's points, so
    every id is listed once); the regions of the scheme of ``n_landmarks`` points (default
    MediaPipe's), top of the face to bottom, those without a kept id left out."""
    from emoflow.report._drawing import face_scheme
    from emoflow.schemes import get_scheme

    scheme = get_scheme(None) if n_landmarks is None else face_scheme(n_landmarks)
    wanted = set(kept)
    out = []
    for name, ids in scheme.face_regions().items():
        inside = sorted(wanted.intersection(ids))
        if inside:
            out.append((name.replace("_", " "), inside))
    return out


def _ids_with_relevance(ids: list[int], relevance: np.ndarray) -> str:
    """``id (relevance)`` of each id, most relevant first."""
    values = [(float(relevance[i]) if i < len(relevance) else float("nan"), i) for i in ids]
    values.sort(key=lambda pair: (-pair[0] if np.isfinite(pair[0]) else np.inf, pair[1]))
    return "  ".join(f"{i} ({v:.3g})" if np.isfinite(v) else f"{i} (–)" for v, i in values)


def write_selection_page(
    inputs: ReportInputs, path: Path, regions: pl.DataFrame | None = None
) -> dict[str, Any]:
    """Per emotion, the landmarks its selected model kept by face region, with their relevance
    and each region's share of relevance (the selected model's and the all-landmark model's,
    from ``regions``: :data:`emoflow.report.regions.REGION_SCHEMA`)."""
    from emoflow.report._drawing import face_scheme
    from emoflow.report.regions import MODELS, region_relevance

    n_landmarks = int(inputs.scores.shape[1])
    scheme = face_scheme(n_landmarks)
    if regions is None:
        regions = region_relevance(inputs, 50)
    parts = [
        paragraph(
            f"Face regions of the landmark scheme ({scheme.description}): every landmark lies "
            "in exactly one region (right and left are the subject's own), so the kept "
            "landmarks and the relevance split over the regions without remainder. "
            "'share' is the region's share of the model's relevance (Integrated Gradients, "
            "summed over the region's landmarks); each kept landmark is listed with its "
            "relevance in the selected model, most relevant first. relevance_by_region.csv "
            "(and .parquet) beside this page holds these numbers for every region."
        )
    ]
    numbers: dict[str, Any] = {}
    relevance = inputs.selected_relevance if inputs.selected_relevance is not None else None
    for e, emotion in enumerate(inputs.emotions):
        full, selected = full_and_selected(inputs.summary, emotion)
        position = inputs.position(selected["iteration"])
        kept = sorted(inputs.landmark_sets[position].get(emotion, []))
        groups = selection_by_region(kept, n_landmarks)
        numbers[emotion] = {name: ids for name, ids in groups}
        mine = regions.filter(pl.col("emotion") == emotion)
        share = {
            model: dict(
                zip(
                    *mine.filter(pl.col("model") == model)
                    .select("region", "relevance_share")
                    .to_dict()
                    .values(),
                    strict=True,
                )
            )
            for model in MODELS
        }
        row_relevance = relevance[e] if relevance is not None else inputs.scores[e]
        rows = []
        for name, ids in scheme.face_regions().items():
            label = name.replace("_", " ")
            inside = dict(groups).get(label, [])
            rows.append(
                [
                    label,
                    f"{len(inside)} of {len(ids)}",
                    percent(share[MODELS[1]].get(name)),
                    percent(share[MODELS[0]].get(name)),
                    _ids_with_relevance(inside, row_relevance) if inside else "–",
                ]
            )
        parts += [
            heading(
                f"{emotion}: {len(kept)} of {full['n_landmarks']} landmarks "
                f"(iteration {selected['iteration']})"
            ),
            table(
                [
                    "region",
                    "kept",
                    "share of relevance (selected)",
                    f"share with all landmarks (iteration {inputs.iterations[0]})",
                    "kept landmark ids (relevance), most relevant first",
                ],
                rows,
                classes={4: "ids"},
            ),
        ]
    write_page(path, "Landmarks kept by each emotion's selected model", parts)
    return numbers


def write_settings_page(settings: Mapping[str, Any], path: Path) -> None:
    """The run's settings that shape its results, one table per configuration section."""
    parts = [
        paragraph(
            "The settings that shape this run's results, after schema defaults were filled "
            "in. provenance.json in the results folder records the whole configuration, "
            "seeds and package versions.",
            "note",
        )
    ]
    cards = []
    for section, values in settings.items():
        rows = _flatten(values) if isinstance(values, Mapping) else [[section, setting(values)]]
        cards.append(f"<div>{heading(str(section))}{table(['setting', 'value'], rows)}</div>")
    parts.append(f'<div class="cards">{"".join(cards)}</div>')
    write_page(path, "Run settings", parts)


def _flatten(values: Mapping[str, Any], prefix: str = "") -> list[list[Any]]:
    rows: list[list[Any]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows.extend(_flatten(value, f"{name}."))
        else:
            rows.append([name, setting(value)])
    return rows


__all__ = [
    "PAGES",
    "selection_by_region",
    "write_data_page",
    "write_results_page",
    "write_selection_page",
    "write_settings_page",
    "write_summary_page",
]

"""The report stage: what went in, how well the models do on validation and held-out test,
what they cost, and which landmarks matter.

:func:`make_report` reads what the other stages wrote — ``summary.parquet``
(:mod:`emoflow.storage.summary`), each iteration's ``metrics.json``, ``attributions.zarr``,
``landmarks.json`` and ``scores.parquet``, the manifest, landmark shards and feature store —
and writes into one folder:

``data_quality.html``
    Videos, subjects and videos per emotion, face detection, every video dropped or skipped
    with its reason, the held-out subjects and the hyper-parameters inner CV chose.
``at_a_glance.html`` and ``at_a_glance_{emotion}.html``
    The answer first (:mod:`emoflow.report.glance`): per emotion the landmarks kept, the top
    face regions with their shares of relevance, the nested estimate with its interval beside
    the held-out test, the verdict on pruning and the data kept; the combined classifier.
    With the nested evaluation's tables (``estimates_path``, ``differences_path``).
``validation_vs_test.html``
    Validation beside held-out test, per emotion and for the combined classifier.
``summary.html``, ``landmark_selection.html``, ``run_settings.html``
    The results at a glance above the summary; each selected model's landmarks by face
    region, with their relevance and the regions' shares of relevance; the settings.
``accuracy_vs_landmarks.png``, ``cost_vs_landmarks.png``
    Per emotion, balanced accuracy (each fold, mean ± std, held-out test) against landmarks
    kept; parameters, training and inference time against landmarks kept.
``relevance_on_face.png``, ``selected_landmarks.png``
    Relevance of iteration 0 beside each emotion's selected iteration on the reference face
    (regions named, ground truth ringed under the points); the landmarks each selection kept.
``confusion_matrix.png``, ``selected_confusion.png``
    The combined classifier's validation and test confusion matrices (all landmarks and the
    selected models); each emotion's selected binary model's.
``relevance_by_region.parquet``, ``relevance_by_region.csv``
    Per emotion, of iteration 0 and of the selected iteration, each face region's relevance
    (sum, mean, share) and landmarks kept (:data:`emoflow.report.regions.REGION_SCHEMA`).
``report.json``
    The key numbers (see :func:`report_numbers`), plus the data counts and validation/test.

The figures on the face can be drawn by :func:`draw_face_figures` alone (the workflow
does, in a job beside the rest). Matplotlib is imported lazily and drawn with the Agg canvas,
so the stage runs headless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emoflow._atomic import atomic_path, write_json
from emoflow._outputs import refuse_overwriting_inputs
from emoflow.errors import DataError, InputError
from emoflow.report.settings import ReportSettings

if TYPE_CHECKING:
    from emoflow.report.inputs import ReportInputs

# The report's modules (polars, NumPy, the evaluation's tables, ...) are imported by the
# functions that use them: write_run_settings, a job of its own, needs none of them, and
# draw_face_figures neither the glance (the nested evaluation) nor the pages.

FACE_FIGURES = ("selected",)
"""Keys of :data:`~emoflow.report._drawing.FIGURES` drawn on the reference face, besides each
emotion's relevance figure (:data:`~emoflow.report._drawing.RELEVANCE_FIGURE`)."""
REPORT_JSON = "report.json"
SUMMARY_TABLE = "summary.csv"
RUN_CONFIG = "run_config.yaml"


def _as_list(value: str | Path | Sequence[str | Path]) -> list[str | Path]:
    """One path as a list, or a list of paths as it is."""
    return [value] if isinstance(value, str | Path) else list(value)


def make_report(
    summary_path: str | Path,
    metrics_paths: Sequence[str | Path],
    attribution_paths: Sequence[str | Path | Sequence[str | Path]],
    landmark_set_paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    ground_truth_path: str | Path | None = None,
    top_k: int = ReportSettings.top_k,
    run_config: Mapping[str, Any] | None = None,
    settings_path: str | Path | None = None,
    scores_paths: Sequence[str | Path | Sequence[str | Path]] | None = None,
    manifest_path: str | Path | None = None,
    features_path: str | Path | None = None,
    landmark_paths: Sequence[str | Path] | None = None,
    faces: bool = True,
    estimates_path: str | Path | None = None,
    differences_path: str | Path | None = None,
) -> dict[str, Any]:
    """Write the report's figures, HTML pages, ``report.json`` and ``summary.csv`` (and the
    run's settings, when given) into ``out_dir``.

    Parameters
    ----------
    summary_path
        ``summary.parquet`` (read by :func:`emoflow.storage.summary.read_summary`).
    metrics_paths, attribution_paths, landmark_set_paths
        Per iteration, in order (the i-th entries belong to iteration i): ``metrics.json``,
        ``attributions.zarr`` (or the list of the iteration's per-emotion stores) and
        ``landmarks.json``. Relevance is drawn from the first and each emotion's selected one.
    out_dir
        Folder of the report (created); file names in :data:`FIGURES`, :data:`PAGES` and
        ``report.json``.
    ground_truth_path
        Optional ``{"emotions": {emotion: {"landmarks": [ids], ...}}}``: rings the
        ground-truth landmarks and adds precision@k to ``report.json``.
    top_k
        How many of the most relevant landmarks are emphasised and counted per region.
    run_config, settings_path
        The run's settings (configuration sections), shown in ``run_settings.html``: given
        as a mapping (also written to ``run_config.yaml``), or as the YAML file that
        :func:`write_run_settings` wrote.
    scores_paths
        Per iteration, ``scores.parquet`` (or the iteration's per-emotion files): the selected
        models' confusion matrices (``selected_confusion.png``) and combined prediction.
    manifest_path, features_path, landmark_paths
        ``manifest.parquet``, ``features.zarr`` and the landmark shards: the data and quality
        page (videos, face detection, every video dropped or skipped with its reason).
    faces
        Whether to draw the figures on the face (:data:`FACE_FIGURES`) too; the workflow
        draws them with :func:`draw_face_figures` in a job beside this one.
    estimates_path, differences_path
        The nested evaluation's ``estimates.parquet`` and ``differences.parquet``
        (:mod:`emoflow.evaluation`): the estimates with their intervals and the verdicts of
        the results at a glance; without them the glance says that it shows the deployed
        chain's own cross-validation.

    Returns
    -------
    dict
        The content of ``report.json`` (see :func:`report_numbers`), with ``data`` (counts of
        videos kept, dropped and skipped), ``validation_vs_test`` and ``selection`` sections.
    """
    from emoflow.report._drawing import FIGURES, plotting
    from emoflow.report.confusion import plot_confusion_matrices, plot_selected_confusions
    from emoflow.report.figures import plot_accuracy_vs_landmarks, plot_cost_vs_landmarks
    from emoflow.report.glance import Evaluation, glance_table, write_glance_pages
    from emoflow.report.pages import (
        PAGES,
        write_data_page,
        write_results_page,
        write_selection_page,
        write_settings_page,
        write_summary_page,
    )
    from emoflow.report.regions import MODELS, region_relevance, shares, write_region_table
    from emoflow.report.tables import report_numbers

    out = Path(out_dir)
    inputs = _checked_inputs(
        out,
        _outputs(writes_settings=settings_path is None, faces=faces),
        summary_path,
        metrics_paths,
        attribution_paths,
        landmark_set_paths,
        ground_truth_path,
        top_k,
        scores_paths=scores_paths,
        manifest_path=manifest_path,
        features_path=features_path,
        landmark_paths=landmark_paths,
        settings_path=settings_path,
        faces=faces,
        evaluation_paths=[p for p in (estimates_path, differences_path) if p is not None],
        glance=True,
    )
    evaluation = (
        Evaluation.read(estimates_path, differences_path)
        if estimates_path is not None and differences_path is not None
        else None
    )
    numbers = report_numbers(inputs, top_k)
    with plotting():
        plot_accuracy_vs_landmarks(inputs, out / FIGURES["accuracy"])
        plot_cost_vs_landmarks(
            inputs.summary, inputs.emotions, out / FIGURES["cost"], metrics=inputs.metrics
        )
        if faces:
            _draw_faces(inputs, out, top_k)
        plot_confusion_matrices(inputs, out / FIGURES["confusion"])
        if inputs.selected_scores:
            numbers["selected_confusion"] = plot_selected_confusions(
                inputs, out / FIGURES["selected_confusion"]
            )
    regions = region_relevance(inputs, top_k)
    numbers["at_a_glance"] = write_glance_pages(inputs, regions, evaluation, out)
    write_data_page(inputs, out / PAGES["data"])
    numbers["validation_vs_test"] = write_results_page(inputs, out / PAGES["results"])
    write_summary_page(
        inputs.summary, out / PAGES["summary"], glance=glance_table(inputs, regions, evaluation)
    )
    write_region_table(regions, out)
    numbers["selection"] = write_selection_page(inputs, out / PAGES["selection"], regions)
    for emotion, entry in numbers["emotions"].items():
        entry["relevance_by_region"] = {model: shares(regions, emotion, model) for model in MODELS}
    if inputs.data is not None:
        numbers["data"] = inputs.data.numbers()
    with atomic_path(out / SUMMARY_TABLE) as staged:
        inputs.summary.write_csv(staged, float_precision=4)
    if settings_path is not None:
        write_settings_page(read_run_settings(settings_path), out / PAGES["settings"])
    elif run_config is not None:
        write_settings_page(run_config, out / PAGES["settings"])
        write_run_settings(run_config, out / RUN_CONFIG)
    numbers["pages"] = dict(PAGES)
    write_json(out / REPORT_JSON, numbers)
    return numbers


def per_iteration(
    paths: Sequence[str | Path | Sequence[str | Path]], n_iterations: int, what: str
) -> list[str | Path | Sequence[str | Path]]:
    """Group a flat list of every iteration's per-emotion files (iteration after iteration, as
    the workflow lists them) into one entry per iteration; a list with one entry per
    iteration is returned as it is."""
    paths = list(paths)
    if len(paths) == n_iterations or n_iterations == 0:
        return paths
    if any(not isinstance(p, str | Path) for p in paths) or len(paths) % n_iterations:
        raise DataError(
            f"the report needs the {what} files per iteration, the same number for each of "
            f"{n_iterations} iterations; got {len(paths)} entries"
        )
    size = len(paths) // n_iterations
    flat = [Path(p) for p in paths if isinstance(p, str | Path)]
    return [flat[i * size : (i + 1) * size] for i in range(n_iterations)]


def write_run_settings(settings: Mapping[str, Any], path: str | Path) -> None:
    """Write the run's settings (configuration sections) as YAML, for the report to show."""
    import yaml

    with atomic_path(path) as staged:
        staged.write_text(yaml.safe_dump(dict(settings), sort_keys=False))


def read_run_settings(path: str | Path) -> dict[str, Any]:
    """The settings :func:`write_run_settings` wrote; InputError naming a bad file."""
    import yaml

    try:
        settings = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise InputError(
            path, f"not readable run settings ({err}); rerun write_run_settings"
        ) from err
    if not isinstance(settings, dict):
        raise InputError(path, "run settings must be a mapping of configuration sections")
    return settings


def _flat(entries: Sequence[str | Path | Sequence[str | Path]]) -> list[str | Path]:
    """Paths from a list of paths and lists of paths (an iteration's per-emotion files)."""
    return [path for entry in entries for path in _as_list(entry)]


def _checked_inputs(
    out: Path,
    outputs: Sequence[str],
    summary_path: str | Path,
    metrics_paths: Sequence[str | Path],
    attribution_paths: Sequence[str | Path | Sequence[str | Path]],
    landmark_set_paths: Sequence[str | Path],
    ground_truth_path: str | Path | None,
    top_k: int,
    *,
    scores_paths: Sequence[str | Path | Sequence[str | Path]] | None = None,
    manifest_path: str | Path | None = None,
    features_path: str | Path | None = None,
    landmark_paths: Sequence[str | Path] | None = None,
    settings_path: str | Path | None = None,
    faces: bool = False,
    evaluation_paths: Sequence[str | Path] = (),
    glance: bool = False,
) -> ReportInputs:
    """The report's inputs, read once (:func:`load_report_inputs`), after checking ``top_k``
    and that neither ``out`` nor its ``outputs`` (file names; with ``faces``, each emotion's
    relevance figure too, with ``glance`` each emotion's glance page) is, or lies in, an input;
    ``out`` is created."""
    from emoflow.report._drawing import RELEVANCE_FIGURE
    from emoflow.report.faces import relevance_figure_paths
    from emoflow.report.inputs import load_report_inputs

    if glance:  # make_report's pages (the glance reads the nested evaluation's tables)
        from emoflow.report.glance import GLANCE_EMOTION_PAGE, glance_page_paths
    if top_k < 1:
        raise DataError(f"report.top_k must be ≥ 1, got {top_k}")
    attribution_paths = per_iteration(attribution_paths, len(metrics_paths), "attribution")
    if scores_paths is not None:
        scores_paths = per_iteration(scores_paths, len(metrics_paths), "scores")
    truth = [] if ground_truth_path is None else _as_list(ground_truth_path)
    stores = _flat(attribution_paths)
    data_inputs = [p for p in (manifest_path, features_path) if p is not None]
    shards = list(landmark_paths or [])
    every_input = [
        summary_path,
        *metrics_paths,
        *stores,
        *landmark_set_paths,
        *truth,
        *_flat(scores_paths or []),
        *data_inputs,
        *shards,
        *([settings_path] if settings_path is not None else []),
        *evaluation_paths,
    ]
    folders = [*stores, *([features_path] if features_path is not None else [])]
    named = [out / name for name in outputs]
    patterns = [
        *([RELEVANCE_FIGURE.format(emotion="*")] if faces else []),
        *([GLANCE_EMOTION_PAGE.format(emotion="*")] if glance else []),
    ]
    for pattern in patterns:  # an input named like an emotion's figure or page, in ``out``
        named += [out / Path(p).name for p in every_input if fnmatch(Path(p).name, pattern)]
    refuse_overwriting_inputs([out, *named], every_input, folders=folders)
    inputs = load_report_inputs(
        summary_path,
        metrics_paths,
        attribution_paths,
        landmark_set_paths,
        ground_truth_path,
        scores_paths=[_as_list(entry) for entry in scores_paths] if scores_paths else None,
        manifest_path=manifest_path,
        features_path=features_path,
        landmark_paths=shards or None,
    )
    if faces:  # each emotion's relevance figure, named once the emotions are known
        figures = list(relevance_figure_paths(inputs.emotions, out).values())
        refuse_overwriting_inputs(figures, every_input, folders=folders)
    if glance:  # each emotion's glance page
        pages = list(glance_page_paths(inputs.emotions, out).values())
        refuse_overwriting_inputs(pages, every_input, folders=folders)
    out.mkdir(parents=True, exist_ok=True)
    return inputs


def _outputs(*, writes_settings: bool, faces: bool = True) -> list[str]:
    from emoflow.report._drawing import FIGURES
    from emoflow.report.pages import PAGES
    from emoflow.report.regions import REGION_CSV, REGION_TABLE

    settings = [RUN_CONFIG] if writes_settings else []
    figures = [name for key, name in FIGURES.items() if faces or key not in FACE_FIGURES]
    return [
        *figures,
        *PAGES.values(),
        SUMMARY_TABLE,
        REGION_TABLE,
        REGION_CSV,
        *settings,
        REPORT_JSON,
    ]


def _draw_faces(inputs: ReportInputs, out: Path, top_k: int) -> None:
    """The figures of :data:`FACE_FIGURES` (in :func:`~emoflow.report._drawing.plotting`)."""
    from emoflow.report._drawing import FIGURES
    from emoflow.report.faces import plot_relevance_on_face, plot_selected_landmarks

    plot_relevance_on_face(
        inputs.emotions,
        inputs.scores,
        out,
        top_k=top_k,
        ground_truth=inputs.ground_truth,
        iteration=inputs.iterations[0],
        selected=inputs.selected_relevance,
        selected_iterations=[inputs.selected_iteration(e) for e in inputs.emotions],
    )
    plot_selected_landmarks(inputs, out / FIGURES["selected"])


def draw_face_figures(
    summary_path: str | Path,
    metrics_paths: Sequence[str | Path],
    attribution_paths: Sequence[str | Path | Sequence[str | Path]],
    landmark_set_paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    ground_truth_path: str | Path | None = None,
    top_k: int = ReportSettings.top_k,
) -> None:
    """Draw only the report's figures on the face (:data:`FACE_FIGURES` and each emotion's
    relevance figure) into ``out_dir``,
    from the inputs :func:`make_report` takes under the same names; the same files as
    :func:`make_report` draws with ``faces=True``.

    They need neither the scores nor the data inputs, and drawing them is a third of the
    report's time, so the workflow runs this beside ``make_report(..., faces=False)``: the
    report, the last job of a run, takes as long as its longer half.
    """
    from emoflow.report._drawing import FIGURES, plotting

    out = Path(out_dir)
    inputs = _checked_inputs(
        out,
        [FIGURES[key] for key in FACE_FIGURES],
        summary_path,
        metrics_paths,
        attribution_paths,
        landmark_set_paths,
        ground_truth_path,
        top_k,
        faces=True,
    )
    with plotting():
        _draw_faces(inputs, out, top_k)

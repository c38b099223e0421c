"""The report stage: figures and report.json from a tiny two-iteration run of the real stages."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from results_folder import attribute_results  # tests/results_folder.py

from emoflow.attribution import AttributionSettings
from emoflow.errors import DataError, InputError
from emoflow.facemesh.mesh import N_LANDMARKS, reference_face
from emoflow.features import FeatureSettings
from emoflow.layout import ResultsLayout
from emoflow.pruning import PruneSettings, initial_landmark_set, summarise_iterations
from emoflow.pruning.pruner import prune_iteration
from emoflow.report import FIGURES, make_report
from emoflow.report.pages import PAGES
from emoflow.report.stage import REPORT_JSON
from emoflow.report.tables import ground_truth_precision, top_landmarks
from emoflow.schemes import get_scheme
from emoflow.storage.attribution_store import load_scores
from emoflow.synthetic import planted_features
from emoflow.training import train_iteration

region_of = get_scheme(None).region_of  # MediaPipe's regions (region_of moved to the scheme)
EMOTIONS = ("happiness", "sadness", "surprise")
TOP_K = 20


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Features, two training/attribution iterations, the summary and a ground-truth file."""
    root = tmp_path_factory.mktemp("run")
    data = planted_features(emotions=EMOTIONS, n_subjects=5, repetitions=2, n_frames=4, seed=3)
    features = data.write_store(
        root / "features.zarr", settings=asdict(FeatureSettings(n_frames=4))
    )
    layout = ResultsLayout(root)
    initial_landmark_set(features, layout.landmark_sets(0))
    paths: dict[str, list] = {
        "metrics": [],
        "attributions": [],
        "landmarks": [],
        "scores": [],
    }
    for i in range(2):
        train_iteration(
            features,
            layout.landmark_sets(i),
            root,
            network=dict(width=32),
            n_folds=3,
            device="cpu",
            iteration=i,
            test_subjects=2,
        )
        attribute_results(
            features,
            root,
            settings=AttributionSettings(n_steps=8, n_baselines=2),
            device="cpu",
            iteration=i,
        )
        if i == 0:
            prune_iteration(
                layout.attribution_stores(0),  # every emotion's store
                layout.landmark_sets(0),
                layout.landmark_sets(1),
                settings=PruneSettings(fraction=0.7),
                iteration=1,
            )
        paths["metrics"].append(layout.metrics(i))
        paths["attributions"].append(layout.attribution_stores(i))
        paths["landmarks"].append(layout.landmark_sets(i))
        paths["scores"].append(layout.scores(i))
    summarise_iterations(paths["metrics"], root / "summary.parquet")
    truth = root / "ground_truth.json"
    truth.write_text(
        json.dumps(
            {
                "emotions": {
                    emotion: {"regions": ["synthetic"], "landmarks": ids}
                    for emotion, ids in data.planted.items()
                }
            }
        )
    )
    return {"root": root, "summary": root / "summary.parquet", "truth": truth, **paths}


def _make_report(run: dict, out: Path, **options) -> dict:
    """make_report over the module's run, with the report fixture's settings."""
    return make_report(
        run["summary"],
        run["metrics"],
        run["attributions"],
        run["landmarks"],
        out,
        ground_truth_path=run["truth"],
        top_k=TOP_K,
        scores_paths=run["scores"],
        run_config={"train": {"n_folds": 3, "test_subjects": 2}, "report": {"top_k": TOP_K}},
        **options,
    )


@pytest.fixture(scope="module")
def report(run: dict) -> tuple[Path, dict]:
    out = run["root"] / "report"
    return out, _make_report(run, out)


def _check_png(path: Path, min_side: int = 400) -> None:
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000
    pixels = imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) >= min_side
    assert pixels[..., :3].std() > 0.02  # something was drawn


def test_writes_every_figure_and_the_numbers(report: tuple[Path, dict]) -> None:
    out, numbers = report
    for name in FIGURES.values():
        _check_png(out / name)
    for emotion in EMOTIONS:  # one legible relevance figure per emotion (issue 24)
        _check_png(out / f"relevance_on_face_{emotion}.png")
    assert json.loads((out / REPORT_JSON).read_text()) == numbers
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging leftovers


def test_drawing_the_face_figures_imports_neither_the_glance_nor_the_evaluation(
    run: dict, tmp_path: Path
) -> None:
    """The draw_face_figures job reads the summary, metrics, attributions and landmark sets:
    it imports none of the report's modules for the glance, the nested evaluation's tables or
    the pages (emoflow.report.stage imports them where make_report uses them)."""
    import json
    import subprocess
    import sys

    args = json.dumps(
        [
            str(run["summary"]),
            [str(p) for p in run["metrics"]],
            [[str(s) for s in stores] for stores in run["attributions"]],
            [str(p) for p in run["landmarks"]],
            str(tmp_path / "faces"),
        ]
    )
    unwanted = ["emoflow.evaluation", "emoflow.report.glance", "emoflow.report.pages"]
    code = (
        "import json, sys\n"
        "from emoflow.report import draw_face_figures\n"
        f"draw_face_figures(*json.loads({args!r}), top_k={TOP_K})\n"
        f"print(json.dumps(sorted(set({unwanted!r}) & set(sys.modules))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []
    assert (tmp_path / "faces" / FIGURES["selected"]).is_file()


def test_face_figures_drawn_apart_are_the_same_files(
    run: dict, report: tuple[Path, dict], tmp_path: Path
) -> None:
    from emoflow.report import draw_face_figures
    from emoflow.report.stage import FACE_FIGURES

    out, numbers = report
    apart = tmp_path / "report"
    without_faces = _make_report(run, apart, faces=False)
    assert without_faces == numbers
    faces = {FIGURES[key] for key in FACE_FIGURES}
    assert not faces & {p.name for p in apart.iterdir()}
    draw_face_figures(
        run["summary"],
        run["metrics"],
        run["attributions"],
        run["landmarks"],
        apart,
        ground_truth_path=run["truth"],
        top_k=TOP_K,
    )
    assert sorted(p.name for p in apart.iterdir()) == sorted(p.name for p in out.iterdir())
    for name in sorted(p.name for p in out.iterdir()):
        assert (apart / name).read_bytes() == (out / name).read_bytes(), name
    store = tmp_path / "attributions.zarr"  # never into (or over) one of its inputs
    store.mkdir()
    (store / "zarr.json").write_text("{}")
    relevance = tmp_path / "relevance_on_face_happiness.png"  # one figure per emotion (issue 24)
    relevance.write_text("input")
    for out_dir in (store, store / "figures", tmp_path):
        with pytest.raises(InputError, match="input") as caught:
            draw_face_figures(relevance, [relevance], [store], [relevance], out_dir)
        assert str(out_dir) in str(caught.value)
    assert sorted(p.name for p in store.iterdir()) == ["zarr.json"]
    assert relevance.read_text() == "input"


def test_report_numbers_follow_the_summary(run: dict, report: tuple[Path, dict]) -> None:
    _, numbers = report
    summary = pl.read_parquet(run["summary"])
    assert numbers["iterations"] == [0, 1]
    assert set(numbers["emotions"]) == set(EMOTIONS)
    for emotion, entry in numbers["emotions"].items():
        rows = summary.filter(pl.col("emotion") == emotion)
        chosen = rows.filter(pl.col("selected")).row(0, named=True)
        full = rows.filter(pl.col("iteration") == 0).row(0, named=True)
        assert entry["selected_iteration"] == chosen["iteration"]
        assert entry["n_landmarks_full"] == N_LANDMARKS
        assert entry["n_landmarks_selected"] == chosen["n_landmarks"]
        assert entry["balanced_accuracy_full"] == pytest.approx(full["balanced_accuracy_mean"])
        assert entry["balanced_accuracy_selected"] == pytest.approx(
            chosen["balanced_accuracy_mean"]
        )
        assert len(entry["top_k_landmarks"]) == TOP_K == entry["top_k"]
        assert entry["top_k_regions"] == region_of(entry["top_k_landmarks"])
    combined = json.loads(run["metrics"][-1].read_text())["combined"]["accuracy"]
    assert numbers["combined_accuracy"]["last"] == pytest.approx(combined)


def test_precision_at_k_against_the_planted_landmarks(run: dict, report: tuple[Path, dict]) -> None:
    _, numbers = report
    emotions, scores = load_scores(run["attributions"][0])
    truth = json.loads(run["truth"].read_text())["emotions"]
    for e, emotion in enumerate(emotions):
        planted = set(truth[emotion]["landmarks"])
        k = min(TOP_K, len(planted))
        top = np.argsort(-scores[e], kind="stable")[:k]
        expected = len(planted.intersection(top.tolist())) / k
        entry = numbers["emotions"][emotion]
        assert entry["k"] == k
        assert entry["precision_at_k"] == pytest.approx(expected)
        assert entry["chance_level"] == pytest.approx(len(planted) / N_LANDMARKS)
        assert entry["n_ground_truth"] == len(planted)


def test_precision_at_k_by_hand() -> None:
    scores = np.array([0.9, np.nan, 0.1, 0.8, 0.5, 0.7])
    assert top_landmarks(scores, 3).tolist() == [0, 3, 5]
    result = ground_truth_precision(scores, [0, 1, 4], top_k=10)  # k = 3: top 0, 3, 5 → one hit
    assert result["k"] == 3
    assert result["precision_at_k"] == pytest.approx(1 / 3)
    assert result["chance_level"] == pytest.approx(3 / 5)  # NaN landmarks are not scored
    assert result["hits"] == [0]
    assert ground_truth_precision(scores, [0, 3], top_k=1)["precision_at_k"] == 1.0


def test_without_ground_truth_and_with_one_iteration(run: dict, tmp_path: Path) -> None:
    summary = tmp_path / "summary.parquet"
    summarise_iterations(run["metrics"][:1], summary)
    numbers = make_report(
        summary,
        run["metrics"][:1],
        run["attributions"][:1],
        run["landmarks"][:1],
        tmp_path / "report",
        top_k=10,
        scores_paths=run["scores"][:1],
    )
    assert numbers["ground_truth"] is False
    for entry in numbers["emotions"].values():
        assert "precision_at_k" not in entry
        assert entry["selected_iteration"] == 0
        assert entry["n_landmarks_selected"] == entry["n_landmarks_full"]
    for name in FIGURES.values():
        _check_png(tmp_path / "report" / name)


def test_rejects_inconsistent_inputs(run: dict, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="per iteration"):
        make_report(
            run["summary"], run["metrics"], run["attributions"][:1], run["landmarks"], tmp_path
        )
    with pytest.raises(DataError, match="top_k"):
        make_report(
            run["summary"], run["metrics"], run["attributions"], run["landmarks"], tmp_path, top_k=0
        )
    bad_truth = tmp_path / "truth.json"
    bad_truth.write_text(json.dumps({"emotions": {"happiness": {"regions": []}}}))
    with pytest.raises(InputError, match="landmarks"):
        make_report(
            run["summary"],
            run["metrics"],
            run["attributions"],
            run["landmarks"],
            tmp_path,
            ground_truth_path=bad_truth,
        )
    with pytest.raises(InputError, match="does not exist"):
        make_report(
            tmp_path / "missing.parquet",
            run["metrics"],
            run["attributions"],
            run["landmarks"],
            tmp_path,
        )


def test_report_refuses_an_output_folder_that_is_an_input(tmp_path: Path) -> None:
    store = tmp_path / "attributions.zarr"
    store.mkdir()
    (store / "zarr.json").write_text("{}")
    # a metrics file named like the report's own report.json: out_dir=tmp_path would overwrite it
    inputs = {name: tmp_path / name for name in ("summary.parquet", "report.json", "l.json")}
    for path in inputs.values():
        path.write_text("input")
    for out_dir in (store, store / "report", tmp_path):
        with pytest.raises(InputError, match="input") as caught:
            make_report(
                inputs["summary.parquet"],
                [inputs["report.json"]],
                [store],
                [inputs["l.json"]],
                out_dir,
            )
        assert str(out_dir) in str(caught.value)
    assert sorted(p.name for p in store.iterdir()) == ["zarr.json"]
    assert all(path.read_text() == "input" for path in inputs.values())


def test_validation_beside_held_out_test(run: dict, report: tuple[Path, dict]) -> None:
    out, numbers = report
    summary = pl.read_parquet(run["summary"])
    metrics = [json.loads(path.read_text()) for path in run["metrics"]]
    page = (out / PAGES["results"]).read_text()
    rows = numbers["validation_vs_test"]["per_emotion"]
    assert {(row["emotion"], row["model"]) for row in rows} == {
        (emotion, model) for emotion in EMOTIONS for model in ("all landmarks", "selected")
    }
    for row in rows:
        expected = summary.filter(
            (pl.col("emotion") == row["emotion"]) & (pl.col("iteration") == row["iteration"])
        ).row(0, named=True)
        assert np.isfinite(expected["test_balanced_accuracy"])  # the run held subjects out
        assert row["test"] == pytest.approx(expected["test_balanced_accuracy"])
        assert row["validation_mean"] == pytest.approx(expected["balanced_accuracy_mean"])
        folds = metrics[row["iteration"]]["emotions"][row["emotion"]]["folds"]
        assert row["validation_folds"] == pytest.approx([f["balanced_accuracy"] for f in folds])
        assert f'<td class="num">{row["test"]:.3f}</td>' in page
        if row["model"] == "selected":
            entry = numbers["emotions"][row["emotion"]]
            assert entry["test_balanced_accuracy_selected"] == pytest.approx(row["test"])
    for row, record in zip(
        numbers["validation_vs_test"]["combined_per_iteration"], metrics, strict=True
    ):
        assert row["test_accuracy"] == pytest.approx(record["combined"]["test"]["accuracy"])
        assert row["validation_accuracy"] == pytest.approx(record["combined"]["accuracy"])
    assert numbers["combined_accuracy"]["last_test"] == pytest.approx(
        metrics[-1]["combined"]["test"]["accuracy"]
    )
    assert "Combined classifier" in page and "<table>" in page


def test_a_test_far_below_validation_is_flagged(run: dict, tmp_path: Path) -> None:
    """The surprise of the demo: 0.98 in validation, 0.60 on held-out subjects."""
    summary = pl.read_parquet(run["summary"])
    worse = summary.with_columns(
        pl.when(pl.col("selected") & (pl.col("emotion") == "surprise"))
        .then(pl.col("balanced_accuracy_mean") - 0.38)
        .otherwise(pl.col("test_balanced_accuracy"))
        .alias("test_balanced_accuracy")
    )
    worse.write_parquet(tmp_path / "summary.parquet")
    numbers = make_report(
        tmp_path / "summary.parquet",
        run["metrics"],
        run["attributions"],
        run["landmarks"],
        tmp_path / "report",
        top_k=10,
    )
    (flagged,) = numbers["validation_vs_test"]["warnings"]
    assert flagged.startswith("surprise:")
    page = (tmp_path / "report" / PAGES["results"]).read_text()
    assert '<div class="warn">' in page and "surprise: balanced accuracy" in page
    assert 'class="num bad"' in page
    assert (tmp_path / "report" / PAGES["results"]).exists()


def test_tables_are_html_items(run: dict, report: tuple[Path, dict]) -> None:
    out, numbers = report
    summary = pl.read_parquet(run["summary"])
    page = (out / PAGES["summary"]).read_text()
    # the results at a glance first (issue 24), then the summary table itself
    glance, text = page.split("<h2>Every iteration</h2>")
    assert "<h2>Results at a glance</h2>" in glance
    assert text.count("<tr") == summary.height + 1  # header and one row per emotion/iteration
    assert text.count('<tr class="hl">') == len(EMOTIONS)  # the selected iterations
    selection = (out / PAGES["selection"]).read_text()
    for emotion in EMOTIONS:
        chosen = numbers["emotions"][emotion]["selected_iteration"]
        kept = json.loads(run["landmarks"][chosen].read_text())
        kept_ids = set(kept["emotions"][emotion] if "emotions" in kept else kept[emotion])
        listed = {i for ids in numbers["selection"][emotion].values() for i in ids}
        assert listed == kept_ids
        assert f"{emotion}: {len(kept_ids)} of {N_LANDMARKS} landmarks" in selection
    settings = (out / PAGES["settings"]).read_text()
    assert "<td>test_subjects</td><td>2</td>" in settings
    assert "<td>top_k</td><td>20</td>" in settings


def test_relevance_by_region_splits_each_model_without_remainder(
    run: dict, report: tuple[Path, dict]
) -> None:
    """relevance_by_region: every face region of every emotion's two models, the regions'
    landmarks and relevance adding up to the model's own, in the report's page and numbers."""
    from emoflow.report import REGION_SCHEMA
    from emoflow.report.regions import REGION_CSV, REGION_TABLE, read_region_table
    from emoflow.schemes import get_scheme

    out, numbers = report
    table = read_region_table(out / REGION_TABLE)
    assert table.schema == REGION_SCHEMA
    assert pl.read_csv(out / REGION_CSV).columns == list(REGION_SCHEMA)
    regions = get_scheme("mediapipe_478").face_regions()
    emotions, scores = load_scores(run["attributions"][0])
    for emotion in EMOTIONS:
        chosen = numbers["emotions"][emotion]["selected_iteration"]
        kept = json.loads(run["landmarks"][chosen].read_text())
        kept_ids = set(kept["emotions"][emotion] if "emotions" in kept else kept[emotion])
        for model, n_kept in (("all_landmarks", N_LANDMARKS), ("selected", len(kept_ids))):
            rows = table.filter((pl.col("emotion") == emotion) & (pl.col("model") == model))
            assert rows["region"].to_list() == list(regions)
            assert rows["n_kept"].sum() == n_kept
            assert rows["n_points"].sum() == N_LANDMARKS
            assert rows["relevance_share"].sum() == pytest.approx(1.0)
            assert rows["n_top_k"].sum() == TOP_K
        full = table.filter((pl.col("emotion") == emotion) & (pl.col("model") == "all_landmarks"))
        row = scores[emotions.index(emotion)]
        assert full["relevance_sum"].sum() == pytest.approx(float(row.sum()))
        mouth = full.filter(pl.col("region") == "mouth").row(0, named=True)
        assert mouth["relevance_sum"] == pytest.approx(float(row[regions["mouth"]].sum()))
        shares = numbers["emotions"][emotion]["relevance_by_region"]["selected"]
        assert sum(shares.values()) == pytest.approx(1.0)
        assert list(shares.values()) == sorted(shares.values(), reverse=True)
    page = (out / PAGES["selection"]).read_text()
    assert "in no named region" not in page
    assert "share of relevance (selected)" in page
    for emotion in EMOTIONS:  # each kept landmark is listed with its relevance
        chosen = numbers["emotions"][emotion]["selected_iteration"]
        names, relevance = load_scores(run["attributions"][chosen])
        row = relevance[names.index(emotion)]
        top = int(np.nanargmax(row))
        assert f"{top} ({row[top]:.3g})" in page


def test_confusion_matrices_of_each_selected_model(run: dict, report: tuple[Path, dict]) -> None:
    from emoflow.storage.metrics import read_scores

    out, numbers = report
    _check_png(out / FIGURES["selected_confusion"])
    for emotion in EMOTIONS:
        entry = numbers["selected_confusion"][emotion]
        chosen = numbers["emotions"][emotion]["selected_iteration"]
        assert entry["iteration"] == chosen
        scores = read_scores(run["scores"][chosen]).filter(
            (pl.col("model") == emotion) & (pl.col("fold") >= 0)
        )
        truth = (scores["emotion"] == emotion).to_numpy()
        said = (scores["score"] > 0).to_numpy()
        assert entry["validation"] == [
            [int((~truth & ~said).sum()), int((~truth & said).sum())],
            [int((truth & ~said).sum()), int((truth & said).sum())],
        ]
        assert sum(map(sum, entry["validation"])) == scores.height


def test_ground_truth_rings_lie_under_the_relevance_points() -> None:
    from emoflow.report._drawing import new_figure, plotting
    from emoflow.report.faces import _draw_relevance

    with plotting():
        ax = new_figure(3, 3).subplots()
        row = np.linspace(0.0, 1.0, N_LANDMARKS)
        _draw_relevance(ax, reference_face()[:, :2], row, 10, [N_LANDMARKS - 1, 5])
        rings, points = ax.collections[-2:]
        assert len(rings.get_offsets()) == 2 and len(points.get_offsets()) == N_LANDMARKS
        assert rings.get_zorder() < points.get_zorder()
        # the most relevant point is drawn last, on top of every other
        assert np.allclose(points.get_offsets()[-1], reference_face()[N_LANDMARKS - 1, :2])


def test_combined_and_binary_matrices_of_selected_models_with_held_out_rows() -> None:
    from emoflow.report.outcomes import combined_of_selected, selected_confusions

    def scores(model: str, values: list[float]) -> pl.DataFrame:
        truth = ["happiness", "sadness", "happiness", "sadness"]
        return pl.DataFrame(
            {
                "video_id": ["v1", "v2", "t1", "t2"],
                "subject": ["a", "b", "c", "c"],
                "emotion": truth,
                "fold": [0, 1, -1, -1],
                "model": [model] * 4,
                "score": values,
                "probability": [1 / (1 + np.exp(-4 * v)) for v in values],
            }
        )

    tables = {  # the held-out t1 (happiness) is taken for sadness by both models
        "happiness": scores("happiness", [0.8, -0.5, -0.2, -0.9]),
        "sadness": scores("sadness", [-0.7, 0.6, 0.3, 0.5]),
    }
    combined = combined_of_selected(tables, ["happiness", "sadness"])
    assert combined["validation"]["confusion_matrix"] == [[1, 0], [0, 1]]
    assert combined["test"]["confusion_matrix"] == [[0, 1], [0, 1]]
    assert combined["test"]["accuracy"] == 0.5
    binary = selected_confusions(tables, {"happiness": 3, "sadness": 1})
    assert binary["happiness"]["iteration"] == 3
    assert binary["happiness"]["test"] == [[1, 0], [1, 0]]  # rows: other, happiness
    assert binary["happiness"]["test_balanced_accuracy"] == 0.5
    assert binary["sadness"]["validation"] == [[1, 0], [0, 1]]


@pytest.mark.parametrize(
    ("dataset", "landmarks", "says", "never"),
    [
        ({}, {}, "478 per frame (the 468-point mesh and 10 iris points)", "imported"),
        ({}, {"refine_landmarks": False}, "468 per frame", "478"),
        (
            {"adapter": "landmarks_csv", "landmarks_csv": {"format": "openface"}},
            {},
            "OpenFace 2.0 CSVs, 68 points per frame",
            "478",
        ),
        ({"adapter": "ravdess_landmarks"}, {}, "68 points per frame", "MediaPipe Face Mesh"),
        ({"adapter": "landmarks_parquet"}, {}, "their point count names the landmark", "478 per"),
    ],
)
def test_the_workflow_description_says_the_runs_landmarks(
    dataset: dict, landmarks: dict, says: str, never: str
) -> None:
    """workflow.rst is rendered by Snakemake's report (Jinja2 with the run's configuration,
    then reStructuredText): it describes the run's own landmarks, not MediaPipe's 478 points
    in a 68-point OpenFace run (issue 24)."""
    from docutils.core import publish_parts
    from jinja2 import Environment

    from emoflow.config import validate_config

    base = {"adapter": "demo", "source": "data", "emotions": ["happiness", "sadness"]}
    config = validate_config(
        {"dataset": {**base, **dataset}, "landmarks": landmarks, "features": {"n_frames": 6}}
    )
    source = (Path(__file__).resolve().parents[1] / "workflow/report/workflow.rst").read_text()
    snakemake = type("Snakemake", (), {"config": config})
    environment = Environment(trim_blocks=True, lstrip_blocks=True)  # as Snakemake's report
    text = environment.from_string(source).render(snakemake=snakemake)
    html = publish_parts(text, writer="html", settings_overrides={"report_level": 2})
    body = " ".join(html["html_body"].split())
    assert " ".join(says.split()) in body and never not in body
    assert "resampled to 6 frames" in body and "Di Luzio" in body
    assert re.search(r"[a-z)]\.[A-Z]", body) is None  # sentences joined without a space


def test_cost_figure_draws_parameters_once_and_timings_as_medians(run: dict, monkeypatch) -> None:
    """Every emotion's network has the same parameter count at a landmark count: one line,
    not one per emotion drawn on top of each other; training times are every fold's, drawn
    with their median per count (issue 24)."""
    import emoflow.report.figures as figures
    from emoflow.report._drawing import plotting

    drawn = {}
    monkeypatch.setattr(figures, "save", lambda figure, path: drawn.update(figure=figure))
    summary = pl.read_parquet(run["summary"])
    metrics = [json.loads(path.read_text()) for path in run["metrics"]]
    with plotting():
        figures.plot_cost_vs_landmarks(summary, list(EMOTIONS), Path("x.png"), metrics=metrics)
    parameters, training, inference = drawn["figure"].axes[:3]
    curves = [line for line in parameters.lines if len(line.get_xdata()) > 1]
    assert len(curves) == 1  # one line for every emotion
    counts = sorted(set(summary["n_landmarks"].to_list()), reverse=True)
    assert list(curves[0].get_xdata()) == counts
    medians = [line for line in training.lines if len(line.get_xdata()) > 1]
    assert len(medians) == 1
    for n, y in zip(medians[0].get_xdata(), medians[0].get_ydata(), strict=True):
        folds = []
        for record in metrics:
            for emotion in EMOTIONS:
                row = summary.filter(
                    (pl.col("emotion") == emotion) & (pl.col("iteration") == record["iteration"])
                )
                if row["n_landmarks"][0] == n:
                    folds += [f["train_time_s"] for f in record["emotions"][emotion]["folds"]]
        assert len(folds) >= 3 and y == pytest.approx(np.median(folds))
    assert [line for line in inference.lines if len(line.get_xdata()) > 1]


def _evaluation_tables(folder: Path, emotions: tuple[str, ...]) -> tuple[Path, Path]:
    """Estimates and differences as emoflow.evaluation writes them: nested with intervals (6
    subjects), held-out test without (2 subjects)."""
    from emoflow.evaluation.estimates import DIFFERENCE_SCHEMA, ESTIMATE_SCHEMA
    from emoflow.evaluation.tables import write_evaluation

    nan = float("nan")
    estimates, differences = [], []
    for e, emotion in enumerate([*emotions, "combined"]):
        for procedure, value, counts in (("full", 0.9, [478, 478]), ("ig_guided", 0.8, [60, 90])):
            estimate = value + 0.01 * e
            low, high = estimate - 0.1, estimate + 0.05
            estimates += [
                [emotion, "nested", procedure, estimate, low, high, 6, 36, 1, 0, counts],
                [emotion, "test", procedure, estimate + 0.02, nan, nan, 2, 12, 1, 0, counts[:1]],
            ]
        verdict = "no difference shown"
        differences.append(
            [emotion, "nested", "ig_guided", "full", -0.1, -0.3, 0.05, 6, 36, 1, 0, verdict]
        )
    estimates_path, differences_path = folder / "estimates.parquet", folder / "diffs.parquet"
    folder.mkdir(parents=True, exist_ok=True)
    write_evaluation(
        "estimates", pl.DataFrame(estimates, schema=ESTIMATE_SCHEMA, orient="row"), estimates_path
    )
    write_evaluation(
        "differences",
        pl.DataFrame(differences, schema=DIFFERENCE_SCHEMA, orient="row"),
        differences_path,
    )
    return estimates_path, differences_path


def test_the_report_opens_on_the_results_at_a_glance(run: dict, tmp_path: Path) -> None:
    """Issue 24: per emotion the landmarks kept (deployed; outer folds), the top regions with
    their shares, the nested estimate with its interval and n beside the held-out test (no
    interval for 2 subjects, said so), the verdict on pruning and the data; the combined
    classifier; an item per emotion; the same table at the top of summary.html."""
    from emoflow.report import GLANCE_EMOTION_PAGE
    from emoflow.report.glance import GLANCE_PAGE
    from emoflow.report.regions import read_region_table

    estimates, differences = _evaluation_tables(tmp_path / "evaluation", EMOTIONS)
    out = tmp_path / "report"
    numbers = _make_report(run, out, estimates_path=estimates, differences_path=differences)
    page = (out / GLANCE_PAGE).read_text()
    regions = read_region_table(out / "relevance_by_region.parquet")
    summary = pl.read_parquet(run["summary"])
    rows = dict(re.findall(r"<tr><td>([a-z]+)</td>(.*?)</tr>", page))
    assert list(rows)[: len(EMOTIONS)] == list(EMOTIONS)
    for e, emotion in enumerate(EMOTIONS):
        row = rows[emotion]
        kept = summary.filter((pl.col("emotion") == emotion) & pl.col("selected"))["n_landmarks"]
        assert f">{kept[0]} of {N_LANDMARKS}<" in row
        assert "outer folds chose 60 / 90" in row
        top = (
            regions.filter((pl.col("emotion") == emotion) & (pl.col("model") == "selected"))
            .sort("relevance_share", descending=True)
            .row(0, named=True)
        )
        assert f"{top['region'].replace('_', ' ')} {100 * top['relevance_share']:.1f} %" in row
        value = 0.8 + 0.01 * e
        assert f"{value:.3f} [{value - 0.1:.3f}, {value + 0.05:.3f}]" in row  # nested, interval
        assert "n = 6 subjects, 36 videos" in row
        assert f"{value + 0.02:.3f} (no interval)" in row  # the held-out test, and why
        assert "too few subjects for an interval" in row
        assert "no difference shown" in row and "-0.100 [-0.300, +0.050]" in row
        assert re.search(r"\d+ of \d+ kept", row) is None  # no data inputs given here
        emotion_page = (out / GLANCE_EMOTION_PAGE.format(emotion=emotion)).read_text()
        assert f"<title>{emotion} at a glance</title>" in emotion_page
        assert numbers["at_a_glance"][emotion]["landmarks_chosen_per_outer_fold"] == [60, 90]
    assert "combined (argmax over the emotions&#x27; models)" in page
    assert "Small test set" in page and '<div class="sortable"><table class="glance">' in page
    assert "<script>" in page and "http" not in page.split("<script>")[1]  # nothing fetched
    summary_page = (out / "summary.html").read_text()
    assert summary_page.index("Results at a glance") < summary_page.index("Every iteration")
    assert numbers["pages"]["glance"] == GLANCE_PAGE


def test_without_the_evaluation_the_glance_says_what_it_shows(
    run: dict, report: tuple[Path, dict]
) -> None:
    out, numbers = report
    page = (out / "at_a_glance.html").read_text()
    assert "No nested estimate" in page and "optimistic" in page
    assert set(numbers["at_a_glance"]) == {*EMOTIONS, "combined"}

"""The whole Snakemake workflow on a tiny demo, and its rerun boundaries read from dry runs."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

TINY_CONFIG = {
    "dataset": {
        "adapter": "demo",
        "source": "resources/demo",
        "emotions": ["happiness", "surprise", "anger"],
    },
    # 6 subjects: 2 held out, 4 for the nested evaluation's 2 outer folds (each leaves 2 to
    # cross-validate its chain on)
    "demo": {"n_subjects": 6, "repetitions": 1, "n_frames": 12, "size": 192, "seed": 3},
    "landmarks": {"n_shards": 2},
    "features": {"n_frames": 6},
    # device auto on a CPU machine: train and attribute jobs declare a GPU and run on the CPU
    # two subjects held out as the final test, as the project's configuration does
    "train": {
        "n_folds": 2,
        "test_subjects": 2,
        "device": "auto",
        "model": {"width": 32, "n_layers": 1},
    },
    "attribution": {"n_steps": 8, "n_baselines": 2},
    # one prune_chain job per emotion and split (the job counts below); the default, one per
    # split, is run by test_split_chain_jobs_give_the_same_results
    "prune": {"iterations": 1, "fraction": 0.5, "min_landmarks": 8, "chain_jobs": "emotion"},
    "report": {"top_k": 20},
}


def _snakemake(workdir: Path, *args: str, cores: str = "2") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [SNAKEMAKE, "--cores", cores, *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def _planned_jobs(output: str) -> dict[str, int]:
    """Rule → job count from the 'Job stats' table of a dry run."""
    planned: dict[str, int] = {}
    in_table = False
    for line in output.splitlines():
        if line.startswith("job ") and "count" in line:
            in_table = True
            continue
        if in_table:
            match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
            if match and match.group(1) != "total":
                planned[match.group(1)] = int(match.group(2))
            elif line.strip().startswith("total"):
                break
    return planned


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("workflow")
    shutil.copy(REPO / "Snakefile", workdir / "Snakefile")
    shutil.copytree(REPO / "workflow", workdir / "workflow")
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(TINY_CONFIG))
    # two GPU jobs at once (each on its own device; CPU here), as on a workstation
    result = _snakemake(workdir, "--resources", "gpu=2", cores="4")
    assert result.returncode == 0, result.stderr[-4000:]
    (workdir / "run.stderr").write_text(result.stderr)  # what the user saw on the console
    return workdir


@pytest.mark.slow
def test_stores_of_a_run_open_in_xarray_without_a_warning(finished_run: Path) -> None:
    import warnings

    import xarray as xr

    results = finished_run / "results"
    stores = [results / "features.zarr", *sorted(results.glob("**/iter_*/*/attributions.zarr"))]
    assert len(stores) == 1 + 3 * 2 * 3  # features; 3 emotions × 2 iterations × 3 splits
    for store in stores:
        # Snakemake marks directory() outputs with this file; xarray must not trip on it
        assert (store / ".snakemake_timestamp").exists(), store
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            dataset = xr.open_zarr(store)
        assert set(dataset.dims) <= set(dataset.coords), store
    features = xr.open_zarr(results / "features.zarr")
    manifest = pl.read_parquet(results / "manifest.parquet")
    assert sorted(features["sample"].values.tolist()) == sorted(manifest["video_id"].to_list())


def _netcdf_engine() -> str:
    """netCDF-4 where a writer for it is installed, else netCDF-3 through scipy (a runtime
    dependency of emoflow)."""
    import importlib.util

    for module, engine in (("netCDF4", "netcdf4"), ("h5netcdf", "h5netcdf")):
        if importlib.util.find_spec(module) is not None:
            return engine
    return "scipy"


@pytest.mark.slow
def test_every_store_of_a_run_has_labelled_samples_and_writes_netcdf(
    finished_run: Path, tmp_path: Path
) -> None:
    """Issue 24: the samples' labels are coordinates (so grouping keeps the data chunked),
    attributes are JSON strings, variables have units and long names, the relevance is named
    relevance; every store writes to netCDF and reads back. Issue 26: an attribution store
    holds the samples attributed (samples: positive: the emotion's own), not every sample."""
    import numpy as np
    import xarray as xr

    from emoflow.features import load_features
    from emoflow.storage.attribution_store import load_scores

    results = finished_run / "results"
    features = load_features(results / "features.zarr")
    stores = [results / "features.zarr", *sorted(results.glob("**/iter_*/*/attributions.zarr"))]
    engine = _netcdf_engine()
    for number, store in enumerate(stores):
        dataset = xr.open_zarr(store)
        is_features = store.name == "features.zarr"
        variable, label = (
            ("features", "emotion") if is_features else ("attributions", "true_emotion")
        )
        labels = {"video_id", "subject", label}
        assert labels <= set(dataset.coords), (store, list(dataset.coords))
        assert all(dataset[name].dims == ("sample",) for name in labels)
        for name, data in dataset.data_vars.items():
            assert data.attrs.get("long_name"), (store, name)
            assert "units" in data.attrs or data.dtype.kind in "UTSOb", (store, name)
        assert json.loads(dataset.attrs["emotions"])  # JSON strings, not JSON values
        if not is_features:
            assert "relevance" in dataset and "scores" not in dataset
            emotion = store.parent.name
            assert json.loads(dataset.attrs["emotions"]) == [emotion]
            # sized for the samples attributed: the emotion's development samples only
            assert set(dataset[label].values.tolist()) == {emotion}, store
            assert dataset.sizes["sample"] == int(dataset["used"].sum())
        # grouping by a label keeps the data chunked (dask) and gives numpy's means
        assert dataset[variable].chunks is not None
        dataset[label].load()
        means = dataset[variable].groupby(label).mean()
        assert means.chunks is not None
        if is_features:
            for emotion in features.emotion_names:
                np.testing.assert_allclose(
                    means.sel(emotion=emotion).values,
                    features.features[features.emotions == emotion].mean(axis=0),
                    rtol=1e-5,
                    atol=1e-6,
                )
        target = tmp_path / f"store_{number}.nc"
        dataset.to_netcdf(target, engine=engine)
        with xr.open_dataset(target, engine=engine) as back:
            assert labels <= set(back.coords)
            assert back[label].values.tolist() == dataset[label].values.tolist()
            assert json.loads(back.attrs["emotions"]) == json.loads(dataset.attrs["emotions"])
    # emoflow's own readers still check each store's integrity record and read it
    assert load_scores(stores[1])[1].shape[1] == features.features.shape[2]


@pytest.mark.slow
def test_the_run_ends_with_the_counts_of_kept_and_dropped_videos(finished_run: Path) -> None:
    console = (finished_run / "run.stderr").read_text()
    assert "emoflow: 18 of 18 videos became training samples, 0 dropped" in console


@pytest.mark.slow
def test_workflow_produces_every_stage(finished_run: Path) -> None:
    results = finished_run / "results"
    assert (results / "manifest.parquet").exists()
    assert len(list((results / "landmarks").glob("shard_*.parquet"))) == 2
    for iteration in (0, 1):  # one chain per emotion: its own model and attribution store
        assert len(list((results / f"iter_{iteration}").glob("*/model.pt"))) == 3
        assert len(list((results / f"iter_{iteration}").glob("*/attributions.zarr"))) == 3
    summary = pl.read_parquet(results / "summary.parquet")
    assert summary.height == 6
    first = summary.filter(pl.col("iteration") == 0)["n_landmarks"].to_list()
    last = summary.filter(pl.col("iteration") == 1)["n_landmarks"].to_list()
    assert all(after < before for before, after in zip(first, last, strict=True))
    numbers = json.loads((results / "report" / "report.json").read_text())
    assert numbers
    for name in ("accuracy_vs_landmarks", "selected_landmarks"):
        assert (results / "report" / f"{name}.png").stat().st_size > 10_000
    for emotion in summary["emotion"].unique():  # one relevance figure per emotion (issue 24)
        assert (results / "report" / f"relevance_on_face_{emotion}.png").stat().st_size > 10_000
    for rule in ("extract_landmarks", "start_chains", "prune_chain", "evaluate_nested"):
        assert any((results / "logs" / rule).iterdir())
        assert any((results / "benchmarks" / rule).iterdir())
    for fold in (0, 1):  # the nested evaluation's outer folds: their own chains
        for iteration in (0, 1):
            assert (
                len(
                    list(
                        (results / "nested" / f"fold_{fold}" / f"iter_{iteration}").glob(
                            "*/model.pt"
                        )
                    )
                )
                == 3
            )


def _report_items(html: str) -> dict[str, dict]:
    """The items of a Snakemake HTML report (its ``var results = {...}``), contents decoded."""
    import base64

    match = re.search(r"^\s*var results = (\{.*\});\s*$", html, re.MULTILINE)
    assert match, "no results in the report"
    items = json.loads(match.group(1))
    for item in items.values():
        item["text"] = (
            base64.b64decode(item["data_uri"].split("base64,", 1)[1]).decode()
            if item["mime_type"] == "text/html"
            else ""
        )
    return items


@pytest.mark.slow
def test_snakemake_report_shows_data_test_results_and_tables(finished_run: Path) -> None:
    result = _snakemake(finished_run, "--report", "report.html")
    assert result.returncode == 0, result.stderr[-2000:]
    html = (finished_run / "report.html").read_text()
    items = _report_items(html)
    by_name = {Path(path).name: item for path, item in items.items()}
    categories = json.loads(
        re.search(r"^\s*var categories = (\{.*\});\s*$", html, re.MULTILINE).group(1)
    )
    # the report's menu sorts categories by name: the results at a glance first (issue 24),
    # then data and quality
    assert sorted(categories)[:2] == ["0. Results at a glance", "1. Data and quality"]
    assert "results/report/at_a_glance.html" in str(categories["0. Results at a glance"])
    assert "results/report/data_quality.html" in str(categories["1. Data and quality"])
    for emotion in ("happiness", "surprise", "anger"):  # an item per emotion, named after it
        item = by_name[f"at_a_glance_{emotion}.html"]
        assert item["labels"]["emotion"] == emotion and emotion in item["labels"]["item"]
    for item in items.values():
        assert "item" in item["labels"]  # labelled, not shown by its path
        # no configuration, no paths (the evidence job has no parameters at all)
        assert item["job_properties"]["params"] in ("top_k=20", "")
    data = by_name["data_quality.html"]["text"]
    assert "<td>videos in the manifest</td><td>18</td>" in data  # 6 subjects × 3 emotions
    assert "<td>kept (samples of the feature store)</td><td>18</td>" in data
    assert "Videos dropped or skipped (0)" in data
    # every meshed frame of the demo shows a face (sampled frames: not every decoded one)
    assert "<td>face found in</td><td>100.0 % of the" in data
    assert "Videos with frames without a face" not in data
    assert "Held-out test subjects" in data and "Hyper-parameters chosen" in data
    numbers = json.loads((finished_run / "results" / "report" / "report.json").read_text())
    assert numbers["data"]["n_kept"] == 18 and numbers["data"]["n_dropped"] == 0
    assert len(numbers["data"]["test_subjects"]) == 2
    for subject in numbers["data"]["test_subjects"]:
        assert subject in data
    results = by_name["validation_vs_test.html"]["text"]
    summary = pl.read_parquet(finished_run / "results" / "summary.parquet")
    for row in summary.filter(pl.col("selected")).iter_rows(named=True):
        assert f"{row['test_balanced_accuracy']:.3f}" in results
    assert numbers["validation_vs_test"]["combined_selected"]["test"]["n_samples"] == 6
    assert set(numbers["selected_confusion"]) == {"happiness", "surprise", "anger"}
    for entry in numbers["selected_confusion"].values():  # 2 test subjects × 3 videos
        assert sum(map(sum, entry["test"])) == 6
        assert sum(map(sum, entry["validation"])) == 12
    for name in ("summary.html", "landmark_selection.html", "run_settings.html"):
        assert "<table>" in by_name[name]["text"]
    assert "backprop." not in by_name["run_settings.html"]["text"]  # an rvfl run (issue 24)
    for emotion in ("happiness", "surprise", "anger"):  # an item per emotion, labelled with it
        item = by_name[f"relevance_on_face_{emotion}.png"]
        assert item["labels"]["emotion"] == emotion and emotion in item["labels"]["item"]
    for name in ("selected_confusion.png", "confusion_matrix.png", "cost_vs_landmarks.png"):
        assert by_name[name]["mime_type"] == "image/png"


@pytest.mark.slow
def test_the_readme_table_is_printed_from_the_report(finished_run: Path) -> None:
    """tools/demo_results_table.py: the README's demo table, a row per emotion, from the
    run's report.json and evidence.json: the nested estimates with their intervals."""
    report = finished_run / "results" / "report" / "report.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "tools" / "demo_results_table.py"), str(report)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    numbers = json.loads(report.read_text())
    evidence = json.loads((report.parent / "evidence.json").read_text())
    nested = evidence["estimates"]["nested"]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]  # no header
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == list(numbers["emotions"])
    for row, emotion in zip(rows, numbers["emotions"], strict=True):
        for procedure in ("full", "ig_guided"):
            assert f"{nested[emotion][procedure]['estimate']:.3f}" in row
        counts = nested[emotion]["ig_guided"]["n_landmarks"]
        assert "/".join(str(c) for c in counts) in row  # the count chosen in each outer fold
    assert "Nested estimates: 4 development subjects, 12 videos" in done.stdout


@pytest.mark.slow
def test_second_run_has_nothing_to_do(finished_run: Path) -> None:
    result = _snakemake(finished_run, "-n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.slow
def test_changing_a_prune_setting_reruns_only_pruning_onward(finished_run: Path) -> None:
    result = _snakemake(finished_run, "-n", "--config", "prune={fraction: 0.4}")
    assert result.returncode == 0, result.stderr[-2000:]
    planned = _planned_jobs(result.stdout + result.stderr)
    # pruning is the first step of each chain's prune_chain job (iterations 1 …; issue 21)
    assert set(planned) <= {
        "prune_chain",
        "gather_iteration",
        "evaluate_nested",
        "report_evidence",
        "summarise_iterations",
        "make_report",
        "draw_face_figures",  # the report's figures on the face, beside make_report
        "write_run_settings",  # the report's settings page shows prune.fraction
        "write_provenance",
        "publish_results",  # the new models' digests, for predict (issue 22)
        "all",
    }, planned
    # iterations 1 … of each emotion's chains: deployed and both outer folds; never iteration 0
    assert planned.get("prune_chain") == 3 * 3
    assert "start_chains" not in planned
    assert planned.get("gather_iteration") == 1


@pytest.mark.slow
def test_changing_the_start_set_reruns_the_chains_from_iteration_0(finished_run: Path) -> None:
    result = _snakemake(finished_run, "-n", "--config", "prune={start: mesh}")
    assert result.returncode == 0, result.stderr[-2000:]
    planned = _planned_jobs(result.stdout + result.stderr)
    assert planned.get("start_chains") == 3  # iteration 0: deployed and both outer folds
    assert planned.get("prune_chain") == 3 * 3  # each emotion of each split
    assert not {"make_demo", "build_manifest", "extract_landmarks", "build_features"} & set(
        planned
    ), planned


@pytest.mark.slow
def test_changing_a_feature_setting_never_reruns_landmarks(finished_run: Path) -> None:
    result = _snakemake(finished_run, "-n", "--config", "features={center: nose}")
    assert result.returncode == 0, result.stderr[-2000:]
    planned = _planned_jobs(result.stdout + result.stderr)
    assert planned.get("build_features") == 1
    assert not {"make_demo", "build_manifest", "extract_landmarks"} & set(planned), planned


@pytest.mark.slow
def test_changing_n_frames_reextracts_sampled_landmarks(finished_run: Path) -> None:
    """landmarks.frames: sampled (the default) meshed only the frames 6-frame features read."""
    result = _snakemake(finished_run, "-n", "--config", "features={n_frames: 5}")
    assert result.returncode == 0, result.stderr[-2000:]
    planned = _planned_jobs(result.stdout + result.stderr)
    shards = list((finished_run / "results" / "landmarks").glob("shard_*.parquet"))
    assert planned.get("extract_landmarks") == len(shards) > 0, planned
    assert planned.get("build_features") == 1
    assert not {"make_demo", "build_manifest"} & set(planned), planned


@pytest.mark.slow
def test_changing_n_frames_never_reextracts_all_frame_landmarks(tmp_path: Path) -> None:
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    config = {**TINY_CONFIG, "landmarks": {"n_shards": 2, "frames": "all"}}
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    target = str(Path("results") / "features.zarr")
    built = _snakemake(tmp_path, target)
    assert built.returncode == 0, built.stderr[-3000:]
    result = _snakemake(tmp_path, "-n", target, "--config", "features={n_frames: 5}")
    assert result.returncode == 0, result.stderr[-2000:]
    planned = _planned_jobs(result.stdout + result.stderr)
    assert planned.get("build_features") == 1
    assert not {"make_demo", "build_manifest", "extract_landmarks"} & set(planned), planned


@pytest.mark.slow
def test_paper_preset_plans_on_a_ckplus_folder(tmp_path: Path) -> None:
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    shutil.copytree(REPO / "config", tmp_path / "config")
    ckplus = tmp_path / "CK+"
    # enough subjects for the preset's 10 folds plus the held-out test subjects (the
    # workflow checks this before anything runs): one sequence per subject and CK+ code
    for subject in range(12):
        for code in range(1, 8):
            name, sequence = f"S{subject + 10:03d}", f"{code:03d}"
            frames = ckplus / "cohn-kanade-images" / name / sequence
            frames.mkdir(parents=True)
            (frames / f"{name}_{sequence}_00000001.png").write_bytes(b"")
            emotion = ckplus / "Emotion" / name / sequence
            emotion.mkdir(parents=True)
            (emotion / f"{name}_{sequence}_00000001_emotion.txt").write_text(f"{code}.0\n")
    result = _snakemake(
        tmp_path,
        "-n",
        "--configfile",
        "config/paper.yaml",
        "--config",
        f"dataset={{source: {ckplus}}}",
        "prune={chain_jobs: emotion}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    planned = _planned_jobs(result.stdout + result.stderr)
    assert planned["build_manifest"] == 1
    # iteration 0 of each split (deployed + 10 outer folds), then one chain per emotion and split
    assert planned["start_chains"] == 11
    assert planned["prune_chain"] == 11 * 7
    assert "make_demo" not in planned


# -- one chain per emotion (issue 12) ---------------------------------------------------------
def _dag_edges(output: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """Node id → rule name and the edges of `snakemake --dag` (DOT)."""
    nodes = {
        match.group(1): match.group(2)
        for match in re.finditer(r'^\s*(\d+)\[label = "([a-z_]+)', output, re.MULTILINE)
    }
    edges = set(re.findall(r"^\s*(\d+) -> (\d+)", output, re.MULTILINE))
    return nodes, edges


def _reachable(edges: set[tuple[str, str]]) -> dict[str, set[str]]:
    children: dict[str, set[str]] = {}
    for parent, child in edges:
        children.setdefault(parent, set()).add(child)
    reach: dict[str, set[str]] = {}

    def visit(node: str) -> set[str]:
        if node not in reach:
            reach[node] = set()
            for child in children.get(node, ()):
                reach[node] |= {child} | visit(child)
        return reach[node]

    for node in list(children):
        visit(node)
    return reach


def _demo_workflow(workdir: Path) -> None:
    """The workflow with the demo configuration, copied into ``workdir``."""
    shutil.copy(REPO / "Snakefile", workdir / "Snakefile")
    shutil.copytree(REPO / "workflow", workdir / "workflow")
    shutil.copytree(REPO / "config", workdir / "config")


def _demo_dag(workdir: Path, chain_jobs: str) -> tuple[dict[str, str], dict[str, set[str]]]:
    """The demo configuration's DAG (GPU jobs declared) with ``prune.chain_jobs``: node id →
    rule, and node → the nodes reachable from it."""
    _demo_workflow(workdir)
    result = subprocess.run(
        [
            SNAKEMAKE,
            "--dag",
            "--config",
            "train={device: auto}",
            f"prune={{chain_jobs: {chain_jobs}}}",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    nodes, edges = _dag_edges(result.stdout)
    return nodes, _reachable(edges)


@pytest.mark.slow
def test_demo_dag_has_six_independent_gpu_chains(tmp_path: Path) -> None:
    nodes, reach = _demo_dag(tmp_path, "emotion")
    gpu_jobs = [node for node, rule in nodes.items() if rule in ("start_chains", "prune_chain")]
    # iteration 0 of each split (deployed + 3 outer folds), then 6 emotions' chains of each
    assert len(gpu_jobs) == 4 + 6 * 4
    # a largest set of GPU jobs with no path between any two, built greedily (the chains
    # first: every one of a split follows that split's iteration-0 job)
    independent: list[str] = []
    for node in sorted(gpu_jobs, key=lambda node: nodes[node] != "prune_chain"):
        if all(node not in reach.get(o, ()) and o not in reach.get(node, ()) for o in independent):
            independent.append(node)
    assert len(independent) >= 24  # 6 emotions × 4 splits


@pytest.mark.slow
def test_demo_dag_runs_each_splits_chains_in_one_job(tmp_path: Path) -> None:
    """prune.chain_jobs: split (the demo's): iteration 0 of every split is one job, the later
    iterations of a split's chains one job per split, independent of each other."""
    nodes, reach = _demo_dag(tmp_path, "split")
    chains = [node for node, rule in nodes.items() if rule == "prune_chain"]
    starts = [node for node, rule in nodes.items() if rule == "start_chains"]
    assert len(starts) == 1
    assert len(chains) == 4  # deployed + 3 outer folds
    for chain in chains:  # each follows iteration 0 and no other chain job
        assert chain in reach.get(starts[0], ())
        assert not any(chain in reach.get(other, ()) for other in chains)


def test_demo_plan_starts_what_unblocks_the_end_first(tmp_path: Path) -> None:
    """Snakemake starts the highest priority of the ready jobs: the short jobs between the
    chains and the report (gathering, summary, evaluation, its page, publishing) before the
    chains and the report's page, and those before the figures on the face, which no job
    waits for (on 2 cores the demo's tail after its last chain went from 8.5 s to 5.4 s).
    The start job asks for a core per split, never more than the run's cores."""
    _demo_workflow(tmp_path)
    plan = _snakemake(tmp_path, "-n", "--config", "prune={chain_jobs: split}")
    assert plan.returncode == 0, plan.stderr[-2000:]
    priority: dict[str, set[int]] = {}
    threads: dict[str, set[int]] = {}
    rule = None
    for line in (plan.stdout + plan.stderr).splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):$", line.strip()):
            rule = match.group(1)
            priority.setdefault(rule, {0})
            threads.setdefault(rule, {1})
        elif rule and (match := re.match(r"^(priority|threads): (\d+)$", line.strip())):
            table = priority if match.group(1) == "priority" else threads
            table[rule] = {int(match.group(2))}
    between = ("gather_iteration", "summarise_iterations", "evaluate_nested", "report_evidence")
    between += ("publish_results",)
    for first in between:
        for later in ("prune_chain", "start_chains", "make_report"):
            assert min(priority[first]) > max(priority[later]), (first, later, priority)
    for chains in ("prune_chain", "start_chains", "make_report"):
        assert min(priority[chains]) > max(priority["draw_face_figures"]), priority
    assert threads["start_chains"] == {min(2, os.cpu_count() or 1)}  # 4 splits, 2 cores
    assert threads["prune_chain"] == {1}


@pytest.mark.slow
def test_split_chain_jobs_give_the_same_results(finished_run: Path, tmp_path: Path) -> None:
    """The same run with one start_chains job for every split and one prune_chain job per
    split instead of one per emotion: the chains' jobs (and what reads them) re-run, nothing
    before them, and every landmark set, score and model weight comes out the same."""
    import polars as pl
    import torch

    from emoflow.storage.model_file import read_model_record

    workdir = tmp_path / "run"
    shutil.copytree(finished_run, workdir, symlinks=True)
    split = ["--config", "prune={chain_jobs: split}"]
    plan = _snakemake(workdir, "-n", *split)
    assert plan.returncode == 0, plan.stderr[-2000:]
    planned = _planned_jobs(plan.stdout + plan.stderr)
    assert planned.get("prune_chain") == 3  # deployed and both outer folds
    assert planned.get("start_chains") == 1  # every split's iteration 0
    assert not {"make_demo", "build_manifest", "extract_landmarks", "build_features"} & set(
        planned
    ), planned
    result = _snakemake(workdir, *split, "--resources", "gpu=2", cores="4")
    assert result.returncode == 0, result.stderr[-4000:]
    logs = sorted(p.name for p in (workdir / "results" / "logs" / "prune_chain").glob("**/*.log"))
    assert "all.log" in logs
    assert (workdir / "results" / "logs" / "start_chains" / "all.log").exists()
    before, after = finished_run / "results", workdir / "results"
    steps = sorted(before.glob("**/iter_*/*/landmarks.json"))
    assert len(steps) == 2 * 3 * 3  # 2 iterations × 3 emotions × (deployed + 2 outer folds)
    for landmarks in steps:
        step = landmarks.parent.relative_to(before)
        assert (after / step / "landmarks.json").read_bytes() == landmarks.read_bytes(), step
        assert pl.read_parquet(after / step / "scores.parquet").equals(
            pl.read_parquet(before / step / "scores.parquet")
        ), step
        old = read_model_record(before / step / "model.pt")["state_dict"]
        new = read_model_record(after / step / "model.pt")["state_dict"]
        assert old.keys() == new.keys()
        assert all(torch.equal(old[key], new[key]) for key in old), step


@pytest.mark.slow
def test_two_gpu_jobs_run_at_once(finished_run: Path) -> None:
    """The fixture ran with --cores 4 --resources gpu=2 and GPU-declared jobs (device auto)."""
    spans = []
    for rule in ("start_chains", "prune_chain"):
        for log_file in (finished_run / "results" / "logs" / rule).glob("**/*.log"):
            stamps = re.findall(
                r"^(\S+ \S+) INFO emoflow\.job: (started|finished)",
                log_file.read_text(),
                re.MULTILINE,
            )
            times = {kind: stamp for stamp, kind in stamps}
            assert set(times) == {"started", "finished"}, log_file
            spans.append((times["started"], times["finished"]))
    spans.sort()
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


@pytest.mark.slow
@pytest.mark.parametrize(
    "override",
    [
        "prune={threshold: 0.2}",  # another policy's value: the fraction policy ignores it
        "attribution={batch_size: 7, internal_batch_size: 99}",  # memory knobs
    ],
)
def test_settings_that_cannot_change_a_result_rerun_nothing(
    finished_run: Path, override: str
) -> None:
    result = _snakemake(finished_run, "-n", "--config", override)
    assert result.returncode == 0, result.stderr[-2000:]
    planned = _planned_jobs(result.stdout + result.stderr)
    assert set(planned) <= {"write_provenance", "make_report", "all"}, planned


@pytest.mark.slow
def test_a_setting_the_chosen_policy_ignores_is_said_when_the_run_is_planned(
    finished_run: Path,
) -> None:
    """The rules never see another policy's setting (it cannot change a result), so the
    warning that it is ignored comes from planning: the user reads it before anything runs."""
    said = _snakemake(finished_run, "-n", "--config", "prune={threshold: 0.2}")
    assert said.returncode == 0, said.stderr[-2000:]
    assert "prune.threshold = 0.2 is ignored: policy fraction uses prune.fraction" in (
        said.stdout + said.stderr
    )
    quiet = _snakemake(finished_run, "-n", "--config", "prune={threshold: 0.05}")  # the default
    assert "is ignored" not in quiet.stdout + quiet.stderr


def _csv_data_set(finished_run: Path, root: Path) -> Path:
    """A csv-adapter copy of the finished run's demo videos (labels in a CSV)."""
    labels = pl.read_csv(finished_run / "resources" / "demo" / "labels.csv")
    videos = root / "videos"
    shutil.copytree(finished_run / "resources" / "demo" / "videos", videos)
    table = labels.select(
        pl.col("video_id"),
        (pl.lit(str(videos) + "/") + pl.col("video_id") + pl.lit(".mp4")).alias("path"),
        pl.col("emotion").alias("label"),
        pl.col("subject"),
    )
    table.write_csv(root / "labels.csv")
    return root / "labels.csv"


@pytest.mark.slow
def test_label_fixes_and_other_videos_never_reextract_unchanged_ones(
    finished_run: Path, tmp_path: Path
) -> None:
    workdir = tmp_path / "csv_run"
    workdir.mkdir()
    shutil.copy(REPO / "Snakefile", workdir / "Snakefile")
    shutil.copytree(REPO / "workflow", workdir / "workflow")
    labels_file = _csv_data_set(finished_run, tmp_path)
    config = {**TINY_CONFIG, "dataset": {**TINY_CONFIG["dataset"], "adapter": "csv"}}
    config["dataset"]["source"] = str(labels_file)
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    built = _snakemake(workdir, str(Path("results") / "features.zarr"))
    assert built.returncode == 0, built.stderr[-3000:]
    target = str(Path("results") / "features.zarr")
    original = pl.read_csv(labels_file)

    # a label fix: the manifest and features again, no landmark extraction
    fixed = original.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("anger" if original["label"][0] != "anger" else "happiness"))
        .otherwise(pl.col("label"))
        .alias("label")
    )
    fixed.write_csv(labels_file)
    planned = _planned_jobs(_snakemake(workdir, "-n", target).stdout)
    assert planned.get("build_manifest") == 1 and planned.get("build_features") == 1, planned
    assert "extract_landmarks" not in planned, planned

    # a removed video: its own shard only
    original.slice(1).write_csv(labels_file)
    planned = _planned_jobs(_snakemake(workdir, "-n", target).stdout)
    assert planned.get("extract_landmarks") == 1, planned

    # an added video (a copy under a new id): its own shard only
    added = pl.concat(
        [original, original.head(1).with_columns(pl.lit("new_clip").alias("video_id"))]
    )
    added.write_csv(labels_file)
    planned = _planned_jobs(_snakemake(workdir, "-n", target).stdout)
    assert planned.get("extract_landmarks") == 1, planned


@pytest.mark.slow
def test_workflow_runs_from_another_folder_with_the_project_defaults(tmp_path: Path) -> None:
    """`snakemake -s PATH/Snakefile --configfile my.yaml` elsewhere starts from the project's
    config/config.yaml (held-out subjects, folds), and data-dependent errors come first."""
    mine = tmp_path / "my.yaml"

    def plan(settings: dict) -> subprocess.CompletedProcess[str]:
        mine.write_text(yaml.safe_dump(settings))
        return subprocess.run(
            [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--configfile", str(mine), "-n"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )

    refused = plan({"demo": {"n_subjects": 4}, "results": "out"})
    # config.yaml holds out 2 subjects for the test and asks for 3 folds: 4 subjects are too few
    assert refused.returncode != 0
    assert "test_subjects" in refused.stdout + refused.stderr
    planned = plan({"demo": {"n_subjects": 5}, "results": "out"})
    assert planned.returncode == 0, planned.stderr[-2000:]
    assert "out/summary.parquet" in planned.stdout
    assert not (REPO / "out").exists()


# -- pruning baselines beside the chain (issue 16) ---------------------------------------------
def _job_resources(output: str, rule: str) -> list[str]:
    """The 'resources:' line of each planned job of ``rule`` in a dry run's output."""
    found, current = [], None
    for line in output.splitlines():
        match = re.match(r"^(?:local)?rule (\w+):", line.strip())
        if match:
            current = match.group(1)
        elif current == rule and line.strip().startswith("resources:"):
            found.append(line.strip())
    return found


@pytest.mark.slow
def test_comparison_jobs_are_planned_only_when_enabled(tmp_path: Path) -> None:
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    shutil.copytree(REPO / "config", tmp_path / "config")
    default = _snakemake(tmp_path, "-n")
    assert default.returncode == 0, default.stderr[-2000:]
    planned = _planned_jobs(default.stdout + default.stderr)
    assert not {"compare_pruning", "gather_comparison"} & set(planned), planned
    hard = _snakemake(tmp_path, "-n", "--configfile", "config/hard_demo.yaml")
    assert hard.returncode == 0, hard.stderr[-2000:]
    output = hard.stdout + hard.stderr
    planned = _planned_jobs(output)
    assert planned["compare_pruning"] == 6 * 3  # every emotion × outer fold, every baseline
    assert planned["evaluate_nested"] == 1
    resources = _job_resources(output, "compare_pruning")
    assert len(resources) == 18 and all("gpu=1" in line for line in resources)


@pytest.mark.slow
def test_changing_prune_compare_reruns_only_the_comparison(finished_run: Path) -> None:
    result = _snakemake(finished_run, "-n", "--config", "prune={compare: [motion, random]}")
    assert result.returncode == 0, result.stderr[-2000:]
    planned = _planned_jobs(result.stdout + result.stderr)
    assert planned.get("compare_pruning") == 3 * 2  # every emotion × outer fold
    assert planned.get("evaluate_nested") == 1
    assert set(planned) <= {
        "compare_pruning",
        "evaluate_nested",
        "report_evidence",
        "make_report",
        "write_provenance",
        "all",
    }, planned
    seeds = _snakemake(
        finished_run, "-n", "--config", "prune={compare: [motion], compare_seeds: 7}"
    )
    assert seeds.returncode == 0, seeds.stderr[-2000:]
    assert not {"start_chains", "prune_chain"} & set(_planned_jobs(seeds.stdout + seeds.stderr))

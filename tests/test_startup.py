"""Jobs that only move JSON or tables pay no start-up for torch, Captum, MediaPipe, matplotlib
or scikit-learn."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "captum", "mediapipe", "matplotlib", "cv2", "dask", "sklearn")
LIGHT_SCRIPTS = (
    "build_manifest",
    "gather_iteration",
    "summarise_iterations",
    "write_provenance",
    "write_run_settings",
)


@pytest.mark.parametrize("script", LIGHT_SCRIPTS)
def test_light_workflow_scripts_import_no_heavy_package(script: str) -> None:
    source = (REPO / "workflow" / "scripts" / f"{script}.py").read_text()
    imports = re.findall(r"^(?:from \S+ import .+|import \S+)$", source, re.MULTILINE)
    assert imports, script
    probe = "\n".join([*imports, "import sys", f"print(sorted(set({HEAVY!r}) & set(sys.modules)))"])
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{script} imports {done.stdout.strip()}"


def _modules_after(code: str, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` (modules) a fresh process holds after running ``code``."""
    probe = "\n".join([code, "import sys", f"print(sorted(set({names!r}) & set(sys.modules)))"])
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))


def _script_imports(script: str) -> str:
    source = (REPO / "workflow" / "scripts" / f"{script}.py").read_text()
    imports = re.findall(r"^(?:from \S+ import .+|import \S+)$", source, re.MULTILINE)
    assert imports, script
    return "\n".join(imports)


def test_arrow_arrays_from_buffers_are_those_of_pyarrow_array() -> None:
    """emoflow._tables.arrow_array, repeated_string and arrow_scalar build what pyarrow.array
    and pyarrow.scalar build (type, values, nulls), without the pandas import of those."""
    import numpy as np
    import pyarrow as pa

    from emoflow._tables import arrow_array, arrow_scalar, repeated_string

    cases = [
        ([3, 0, 1, 2], pa.int16()),
        ([], pa.int16()),
        ([0.5, None, 1e-40, float("nan"), 3.3, None], pa.float32()),
        ([None, None], pa.float32()),
        (np.arange(12, dtype=np.float32).reshape(3, 4).reshape(-1), pa.float32()),
        (np.array([1, 2**20, 7], dtype=np.int64), pa.int32()),
        (np.array([0.25, 1 / 3]), pa.float64()),
        (np.array([True, False, True] * 7), pa.bool_()),
        ([True, None, False], pa.bool_()),
    ]
    for values, kind in cases:
        made, expected = arrow_array(values, kind), pa.array(values, type=kind)
        made.validate(full=True)
        assert made.type == expected.type and made.null_count == expected.null_count
        assert str(made) == str(expected), (values, kind)
        size = (len(expected) + 7) // 8 if kind == pa.bool_() else len(expected) * kind.byte_width
        validity, data = (b and b.to_pybytes() for b in made.buffers())
        validity_expected, data_expected = (b and b.to_pybytes() for b in expected.buffers())
        assert data[:size] == data_expected[:size], (values, kind)  # NaN and null slots too
        assert (validity and validity[: (len(expected) + 7) // 8]) == (
            validity_expected and validity_expected[: (len(expected) + 7) // 8]
        ), (values, kind)
    masked = arrow_array(np.array([1.0, 2.0, 3.0]), pa.float64(), null=np.array([0, 1, 0], bool))
    assert masked.to_pylist() == [1.0, None, 3.0]
    for text, n in (("s01_happiness_r1", 5), ("é", 3), ("x", 0)):
        made_text = repeated_string(text, n)
        made_text.validate(full=True)
        assert made_text.equals(pa.array([text] * n, type=pa.string()))
    assert arrow_scalar(1, pa.int16()).equals(pa.scalar(1, type=pa.int16()))


def test_the_landmark_extraction_imports_neither_pandas_nor_polars(
    demo_video: Path, tmp_path: Path
) -> None:
    """extract_landmarks builds and writes its tables without pyarrow.array/scalar, whose
    pandas check imports pandas (0.1–0.3 s of CPU in each extraction job), and without Polars
    or the importers, which only precomputed landmarks need; build_features reads them without
    the extraction, the importers or pyarrow.compute."""
    import polars as pl

    from emoflow._tables import write_parquet

    shard = tmp_path / "shard.parquet"
    work = (
        f"extract_planned([{{'video_id': 'v', 'path': {str(demo_video)!r}}}],"
        f" {str(shard)!r}, settings={{'max_num_faces': 2}})"
    )
    code = _script_imports("extract_landmarks") + "\n" + work
    unwanted = ("pandas", "polars", "emoflow.landmarks.importers", "emoflow.landmarks.extract")
    assert _modules_after(code, unwanted) == ["emoflow.landmarks.extract"]
    manifest = tmp_path / "manifest.parquet"
    write_parquet(
        pl.DataFrame(
            {"video_id": ["v"], "path": [str(demo_video)], "subject": ["s01"], "emotion": ["x"]}
        ),
        manifest,
    )
    work = (
        f"print(build_features({str(manifest)!r}, [{str(shard)!r}],"
        f" {str(tmp_path / 'features.zarr')!r}, FeatureSettings.from_section({{}})))"
    )
    code = _script_imports("build_features") + "\n" + work
    unwanted = (
        "emoflow.landmarks.extract",
        "emoflow.landmarks.importers",
        "emoflow.facemesh.tracker",
        "pyarrow.compute",
        "pandas",
    )
    assert _modules_after(code, unwanted) == []
    assert (tmp_path / "features.zarr").is_dir()


def test_the_snakefile_plans_without_face_mesh_the_importers_or_the_stages() -> None:
    """What the Snakefile imports when Snakemake reads it (every run, and every job of a
    cluster run), and the extraction's plan it computes then, import neither Face Mesh's
    tracker, the landmark importers, pyarrow.compute, the attribution stage nor the report's
    stage (each package imports its names lazily; emoflow.landmarks.planning is light)."""
    source = (REPO / "workflow" / "rules" / "common.smk").read_text()
    imports = re.findall(r"^from emoflow\S* import .+$", source, re.MULTILINE)
    assert len(imports) >= 8
    work = (
        "import polars as pl\n"
        "extraction_mem_mb([{'path': 'missing.mp4'}], {}, default_size=(256, 256))\n"
        "plan_shards(pl.DataFrame({'video_id': ['a', 'b'], 'path': ['a.mp4', 'b.mp4']}), 2)\n"
        "runtime_settings({})\n"
        "print(GLANCE_EMOTION_PAGE, RELEVANCE_FIGURE)"
    )
    unwanted = (
        "emoflow.facemesh.tracker",
        "emoflow.landmarks.extract",
        "emoflow.landmarks.importers",
        "pyarrow.compute",
        "pandas",
        "emoflow.attribution.run",
        "emoflow.report.stage",
        *HEAVY,
    )
    assert _modules_after("\n".join([*imports, work]), unwanted) == []


def test_writing_the_run_settings_imports_no_table_library(tmp_path: Path) -> None:
    """write_run_settings writes a YAML file: its job imports neither polars nor pyarrow nor
    the report's modules that read the results (emoflow.report imports each name lazily)."""
    work = f"write_run_settings({{'train': {{'seed': 1}}}}, {str(tmp_path / 'run.yaml')!r})"
    code = _script_imports("write_run_settings") + "\n" + work
    assert "seed: 1" in _run_and_read(code, tmp_path / "run.yaml")
    unwanted = ("polars", "pyarrow", "emoflow.evaluation", "emoflow.report.inputs")
    assert _modules_after(code, unwanted) == []


def _run_and_read(code: str, path: Path) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return path.read_text()


def test_planned_rows_are_the_rows_polars_makes_of_them() -> None:
    """extract_planned takes the planned rows as they are when Polars would give them back
    unchanged (the workflow's rows), else as Polars unifies them: the same rows either way."""
    import numpy as np
    import polars as pl

    from emoflow.landmarks.extract import _table_rows
    from emoflow.landmarks.planning import plan_shards

    manifest = pl.DataFrame(
        {
            "video_id": ["a", "b", "c"],
            "path": ["a.mp4", "b.mp4", "c.csv"],
            "start_s": [None, 0.5, 1.0],
            "end_s": [None, None, None],
            "landmarks_format": [None, None, "csv"],
            "landmarks_fps": [None, None, 30],
        }
    )
    planned = plan_shards(manifest, 1, stat_files=False)[0]["videos"]
    cases = [
        planned,
        [],
        [{"video_id": "a", "path": "a.mp4"}, {"video_id": "b", "path": "b.mp4", "start_s": 1.5}],
        [{"video_id": "a", "start_s": 0}, {"video_id": "b", "start_s": 1.5}],
        [{"video_id": "a", "flag": True}, {"video_id": "b", "flag": None}],
        [{"video_id": "a", "start_s": np.float64(0.25)}],
        [{"video_id": "a", "n": 2**40}, {"video_id": "b", "n": -3}],
    ]
    for rows in cases:
        expected = list(pl.DataFrame(rows, infer_schema_length=None).iter_rows(named=True))
        made = _table_rows(rows)
        assert [sorted((k, repr(v)) for k, v in row.items()) for row in made] == [
            sorted((k, repr(v)) for k, v in row.items()) for row in expected
        ], rows

"""Property-based tests: malformed inputs raise emoflow's own errors, never a foreign traceback.

Fuzzed: the manifest adapters (random label files), the configuration validation (random
mappings and values), and the landmark-table reader (random, truncated, corrupted and
mis-typed Parquet files, random metadata). Every call must either succeed or raise an
:class:`emoflow.errors.EmoflowError`.

Foreign exceptions found so far are listed in :data:`KNOWN_ISSUES` (exception type, emoflow
function it escapes from): the property tests let those through so that they keep checking
everything else, and one strict ``xfail`` test per issue reproduces it. When an issue is fixed
its xfail test passes, which fails the run: then delete the test and its KNOWN_ISSUES entry.
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from emoflow.config import load_schema, validate_config
from emoflow.errors import EmoflowError
from emoflow.features import FeatureSettings, features_from_landmarks
from emoflow.landmarks import landmarks_array, read_landmarks
from emoflow.manifest import build_manifest
from emoflow.storage.landmark_table.reader import read_video_records
from emoflow.storage.landmark_table.schema import LANDMARK_SCHEMA, schema_metadata

N_EXAMPLES = int(os.environ.get("EMOFLOW_FUZZ_EXAMPLES", "40"))
"""Examples per property: small for CI; set EMOFLOW_FUZZ_EXAMPLES=1000 for a deeper search."""
FUZZ = settings(
    max_examples=N_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
EMOTIONS = ["happiness", "sadness"]


KNOWN_ISSUES: dict[tuple[str, str], str] = {}
"""Foreign exceptions the code raises today (type name, innermost emoflow function): none."""


def _where(err: BaseException) -> str:
    """The innermost emoflow function an exception passed through."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "/emoflow/" in f.filename]
    return frames[-1].name if frames else "?"


def own_errors_only(call: Callable[[], Any]) -> Any:
    """Run ``call``; an EmoflowError is a fine answer to bad input, anything else fails
    (except the :data:`KNOWN_ISSUES`, reproduced by their own xfail tests)."""
    try:
        return call()
    except EmoflowError as err:
        assert str(err), "an error without a message"
        return None
    except BaseException as err:  # polars panics are BaseExceptions
        if not isinstance(err, Exception) and type(err).__name__ != "PanicException":
            raise
        if (type(err).__name__, _where(err)) in KNOWN_ISSUES:
            return None
        raise


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "a.mp4").write_bytes(b"")
    return folder


# -- manifest adapters --------------------------------------------------------------------------
COLUMNS = ["path", "label", "subject", "video_id", "start_s", "end_s", "emotion", "repetition"]
CELLS = st.one_of(
    st.sampled_from(["", "a.mp4", "b.mp4", "happiness", "sadness", "joy", "s1", "NaN", "-1"]),
    st.integers(-3, 10).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=10),
)


@st.composite
def label_files(draw: st.DrawFn) -> str:
    header = draw(st.lists(st.sampled_from(COLUMNS), min_size=0, max_size=6))
    separator = draw(st.sampled_from([",", "\t", ";"]))
    n_rows = draw(st.integers(0, 4))
    rows = [
        separator.join(draw(st.lists(CELLS, min_size=0, max_size=len(header) + 1)))
        for _ in range(n_rows)
    ]
    return "\n".join([separator.join(header), *rows]) + draw(st.sampled_from(["", "\n"]))


@FUZZ
@given(
    text=label_files(),
    suffix=st.sampled_from([".csv", ".tsv"]),
    adapter=st.sampled_from(["csv", "demo"]),
    check_files=st.booleans(),
)
def test_manifest_adapters_on_random_label_files(
    workdir: Path, text: str, suffix: str, adapter: str, check_files: bool
) -> None:
    labels = workdir / f"labels{suffix}"
    labels.write_text(text, encoding="utf-8", errors="surrogatepass")
    out = workdir / "manifest.parquet"
    manifest = own_errors_only(
        lambda: build_manifest(adapter, labels, out, emotions=EMOTIONS, check_files=check_files)
    )
    if manifest is not None:
        assert manifest.columns[:4] == ["video_id", "path", "subject", "emotion"]
        assert set(manifest["emotion"].to_list()) <= set(EMOTIONS)
        assert manifest["video_id"].n_unique() == manifest.height


@FUZZ
@given(data=st.binary(max_size=300))
def test_manifest_adapter_on_random_bytes(workdir: Path, data: bytes) -> None:
    labels = workdir / "bytes.csv"
    labels.write_bytes(data)
    own_errors_only(lambda: build_manifest("csv", labels, workdir / "m.parquet", check_files=False))


# -- configuration ------------------------------------------------------------------------------
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.one_of(st.text(max_size=8), st.integers(0, 3)), children, max_size=3)
    ),
    max_leaves=8,
)


def _leaf_paths(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, child in schema.get("properties", {}).items():
        path = (*prefix, name)
        paths.append(path)
        if child.get("type") == "object":
            paths.extend(_leaf_paths(child, path))
    return paths


KEY_PATHS = _leaf_paths(load_schema())


def _valid_config() -> dict[str, Any]:
    return {"dataset": {"adapter": "csv", "source": "labels.csv", "emotions": EMOTIONS}}


@FUZZ
@given(config=VALUES)
def test_config_validation_on_random_values(config: Any) -> None:
    filled = own_errors_only(lambda: validate_config(config))
    if filled is not None:
        assert validate_config(filled) == filled  # defaults filled once are kept


@FUZZ
@given(path=st.sampled_from(KEY_PATHS), value=VALUES)
def test_config_errors_name_the_key(path: tuple[str, ...], value: Any) -> None:
    config = _valid_config()
    node = config
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    try:
        validate_config(config)
    except EmoflowError as err:
        assert ".".join(path) in str(err) or (len(path) == 1 and path[0] in str(err)), (
            f"{'.'.join(path)} not named in: {err}"
        )


# -- landmark tables ----------------------------------------------------------------------------
def _valid_table(n_frames: int = 3) -> pa.Table:
    rng = np.random.default_rng(0)
    values = rng.random((n_frames, 478, 3), dtype=np.float32)
    points = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), 3)
    landmarks = pa.FixedSizeListArray.from_arrays(points, 478)
    frames = np.arange(n_frames, dtype=np.int32)
    record = {"path": "v.mp4", "fps": 30.0, "width": 64, "height": 64, "n_frames": n_frames}
    table = pa.Table.from_arrays(
        [
            pa.array(["v"] * n_frames),
            pa.array(frames),
            pa.array(frames / 30.0),
            pa.array([True] * n_frames),
            landmarks,
            pa.array([1] * n_frames, type=pa.int16()),
            pa.array([0.9] * n_frames, type=pa.float32()),
        ],
        schema=LANDMARK_SCHEMA,
    )
    return table.replace_schema_metadata(schema_metadata(True, {"v": record}))


def _read_everything(file: Path) -> None:
    """Every reader a later stage uses on a landmarks file."""
    frame = own_errors_only(lambda: read_landmarks(file))
    if frame is not None and frame.height:
        video_id = str(frame["video_id"][0])
        own_errors_only(lambda: landmarks_array(frame, video_id))
    own_errors_only(lambda: read_video_records(file))
    own_errors_only(lambda: features_from_landmarks(file, FeatureSettings(n_frames=2)))


@pytest.fixture(scope="module")
def valid_bytes(workdir: Path) -> bytes:
    path = workdir / "valid.parquet"
    pq.write_table(_valid_table(), path)
    return path.read_bytes()


@FUZZ
@given(data=st.binary(max_size=400))
def test_reader_on_random_bytes(workdir: Path, data: bytes) -> None:
    file = workdir / "random.parquet"
    file.write_bytes(data)
    _read_everything(file)


@FUZZ
@given(
    cut=st.integers(0, 10**9),
    flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 255)), max_size=6),
)
def test_reader_on_truncated_and_corrupted_files(
    workdir: Path, valid_bytes: bytes, cut: int, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(valid_bytes[: max(1, cut % (len(valid_bytes) + 1))])
    for position, value in flips:
        data[position % len(data)] = value
    file = workdir / "corrupt.parquet"
    file.write_bytes(bytes(data))
    _read_everything(file)


TYPES = st.sampled_from(
    [pa.string(), pa.int32(), pa.int64(), pa.float64(), pa.bool_(), pa.list_(pa.float32())]
)


@FUZZ
@given(
    columns=st.lists(
        st.tuples(st.sampled_from([*LANDMARK_SCHEMA.names, "other"]), TYPES),
        max_size=7,
        unique_by=lambda column: column[0],
    ),
    n_rows=st.integers(0, 3),
)
def test_reader_on_files_of_another_schema(
    workdir: Path, columns: list[tuple[str, pa.DataType]], n_rows: int
) -> None:
    assume(columns)
    arrays = [pa.nulls(n_rows, type=data_type) for _, data_type in columns]
    table = pa.Table.from_arrays(arrays, names=[name for name, _ in columns])
    file = workdir / "schema.parquet"
    pq.write_table(table, file)
    _read_everything(file)


@FUZZ
@given(
    videos=st.one_of(
        st.text(max_size=20),
        VALUES.map(json.dumps),
        st.dictionaries(st.sampled_from(["v", "w"]), VALUES, max_size=2).map(json.dumps),
    )
)
def test_reader_on_random_metadata(workdir: Path, videos: str) -> None:
    table = _valid_table()
    metadata = dict(table.schema.metadata)
    metadata[b"emoflow.videos"] = videos.encode("utf-8", errors="surrogatepass")
    file = workdir / "metadata.parquet"
    pq.write_table(table.replace_schema_metadata(metadata), file)
    _read_everything(file)


# -- once-known issues, each fixed: damaged inputs raise the project's own errors ----------
def _metadata_file(folder: Path, videos: str, name: str) -> Path:
    table = _valid_table()
    metadata = {**table.schema.metadata, b"emoflow.videos": videos.encode()}
    path = folder / name
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return path


def test_damaged_input_video_records_not_json(workdir: Path) -> None:
    with pytest.raises(EmoflowError, match=r"known_1\.parquet"):
        read_video_records(_metadata_file(workdir, "{", "known_1.parquet"))


def test_damaged_input_video_records_not_a_mapping(workdir: Path) -> None:
    with pytest.raises(EmoflowError, match=r"known_2\.parquet"):
        read_video_records(_metadata_file(workdir, "[1, 2]", "known_2.parquet"))


def test_damaged_input_video_record_null(workdir: Path) -> None:
    with pytest.raises(EmoflowError, match=r"known_3\.parquet"):
        features_from_landmarks(
            _metadata_file(workdir, '{"v": null}', "known_3.parquet"), FeatureSettings()
        )


def test_damaged_input_corrupt_data_page(workdir: Path, valid_bytes: bytes) -> None:
    data = bytearray(valid_bytes)
    data[8] ^= 0xFF  # the first page header, right after the 4-byte magic and the page start
    file = workdir / "known_4.parquet"
    file.write_bytes(bytes(data))
    with pytest.raises(EmoflowError, match=r"known_4\.parquet"):
        read_landmarks(file)


def test_damaged_input_corrupt_footer(workdir: Path, valid_bytes: bytes) -> None:
    data = bytearray(valid_bytes)
    data[valid_bytes.index(b"timestamp_s")] = 0x89  # a schema column name, no longer UTF-8
    file = workdir / "known_5.parquet"
    file.write_bytes(bytes(data))
    with pytest.raises(EmoflowError, match=r"known_5\.parquet"):
        read_landmarks(file)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_damaged_input_non_finite_landmarks(workdir: Path) -> None:
    table = _valid_table()
    values = np.full((3, 478, 3), np.inf, dtype=np.float32)
    points = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), 3)
    table = table.set_column(4, "landmarks", pa.FixedSizeListArray.from_arrays(points, 478))
    file = workdir / "known_6.parquet"
    pq.write_table(table, file)
    with pytest.raises(EmoflowError, match="'v'"):
        features_from_landmarks(file, FeatureSettings())

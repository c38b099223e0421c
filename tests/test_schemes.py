"""Landmark schemes: the registry, 68-point tracks from OpenFace / py-feat / wide tables, and the
68-point method end to end (features, symmetric pruning, planted-signal attribution)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from planted_tracks import PlantedTracks, planted_openface_tracks  # tests/planted_tracks.py

from emoflow.errors import DataError, InputError
from emoflow.features import FeatureSettings, build_features, features_from_landmarks, load_features
from emoflow.features.normalise import normalise_sequence
from emoflow.landmarks import import_landmarks, landmarks_array, read_landmarks
from emoflow.pruning import PruneSettings, initial_landmark_set
from emoflow.pruning.pruner import LandmarkPruner
from emoflow.schemes import SCHEMES, get_scheme, scheme_for_points
from emoflow.storage.landmark_table.reader import landmark_scheme, read_video_records

IBUG = get_scheme("ibug_68")


# -- the registry ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_every_scheme_is_consistent(name: str) -> None:
    scheme = SCHEMES[name]
    partner = scheme.mirror_pairs()
    assert partner.shape == (scheme.n_points,)
    assert np.array_equal(partner[partner], np.arange(scheme.n_points))  # an involution
    assert scheme.reference_face().shape == (scheme.n_points, 3)
    edges = scheme.contours()
    assert edges.size and edges.min() >= 0 and edges.max() < scheme.n_points
    for ids in scheme.regions().values():
        assert ids and min(ids) >= 0 and max(ids) < scheme.n_points
    assert all(0 <= i < scheme.n_points for i in scheme.rigid)
    right, left = scheme.eye_corners
    assert partner[right] == left and partner[scheme.nose_tip] == scheme.nose_tip
    assert scheme_for_points(scheme.n_points) is scheme


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_face_regions_partition_every_scheme(name: str) -> None:
    """Every landmark of every scheme lies in exactly one named face region, the regions are
    named as FACE_AREAS (top of the face to bottom) and a right region's mirror image is the
    left one."""
    from emoflow.schemes import FACE_AREAS

    scheme = SCHEMES[name]
    regions = scheme.face_regions()
    listed = [i for ids in regions.values() for i in ids]
    assert sorted(listed) == list(range(scheme.n_points))  # each point once, none left out
    assert list(regions) == [region for region in FACE_AREAS if region in regions]
    features = {"right_eye", "left_eye", "right_eyebrow", "left_eyebrow", "nose", "mouth"}
    assert features | {"jaw"} <= set(regions)
    names = scheme.face_region_names()
    partner = scheme.mirror_pairs()
    for i in range(scheme.n_points):
        mirrored = names[i].replace("right_", "LEFT_").replace("left_", "right_")
        mirrored = mirrored.replace("LEFT_", "left_")
        assert names[partner[i]] == mirrored, (i, names[i], names[partner[i]])
    counts = scheme.face_region_counts([0, 1, 1, scheme.n_points - 1])
    assert sum(counts.values()) == 3


def test_mediapipe_face_regions_are_the_generated_module() -> None:
    """tools/make_face_regions.py writes exactly the module the package reads, and the regions
    sit where their names say on the reference face."""
    import importlib.util

    tool = Path(__file__).resolve().parents[1] / "tools" / "make_face_regions.py"
    spec = importlib.util.spec_from_file_location("make_face_regions", tool)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import json

    text = module.module_text(module.partition(json.loads(module.RESOURCE.read_text())))
    assert text == module.OUT.read_text()
    scheme = get_scheme("mediapipe_478")
    xy = scheme.reference_face()[:, :2]
    centre = {name: xy[ids].mean(axis=0) for name, ids in scheme.face_regions().items()}
    assert centre["forehead"][1] < centre["right_eyebrow"][1] < centre["right_eye"][1]
    assert centre["right_eye"][1] < centre["nose"][1] < centre["mouth"][1] < centre["jaw"][1]
    assert centre["right_cheek"][0] < centre["nose"][0] < centre["left_cheek"][0]
    assert centre["right_contour"][0] < centre["right_cheek"][0]
    assert set(scheme.face_regions()["right_eye"]) >= {33, 133, 468, 469, 470, 471, 472}
    assert {61, 291, 0, 17, 13, 14} <= set(scheme.face_regions()["mouth"])


def test_ibug_68_layout_mirrors_like_the_mediapipe_face() -> None:
    """The reference 68 points come from MediaPipe's reference face through the documented
    correspondence: mirror partners lie mirrored about the face's midline, and the 68-point
    mirror pairs are MediaPipe's mirror pairs at the corresponding landmarks."""
    partner = IBUG.mirror_pairs()
    ids = np.asarray(IBUG.mediapipe_ids)
    mediapipe_partner = get_scheme("mediapipe_478").mirror_pairs()
    assert len(set(ids.tolist())) == 68
    assert (mediapipe_partner[ids] == ids[partner]).mean() >= 0.95
    xy = IBUG.reference_face()[:, :2]
    midline = xy[[27, 28, 29, 30, 33, 51, 57, 8], 0].mean()
    assert np.abs((xy[:, 0] - midline) + (xy[partner, 0] - midline)).max() < 0.02
    assert np.abs(xy[:, 1] - xy[partner, 1]).max() < 0.02
    assert xy[8, 1] > xy[57, 1] > xy[33, 1] > xy[27, 1] > xy[19, 1]  # chin below mouth, …
    assert xy[36, 0] < xy[39, 0] < xy[42, 0] < xy[45, 0]  # eyes from the image's left


def test_unknown_scheme_or_point_count_says_what_is_supported() -> None:
    with pytest.raises(DataError, match=r"unknown landmark scheme 'dlib_5'.*ibug_68 \(68"):
        get_scheme("dlib_5")
    with pytest.raises(DataError, match=r"49 landmarks per face match no known scheme.*478"):
        scheme_for_points(49)


# -- importers ---------------------------------------------------------------------------------
def _openface_csv(path: Path, points: np.ndarray, *, success: np.ndarray | None = None) -> Path:
    """An OpenFace 2.0 FeatureExtraction CSV (documented column layout, spaces after commas in
    the header) of ``points`` ``(n_frames, 68, 2)`` pixels, with 3-D columns too."""
    n_frames = len(points)
    success = np.ones(n_frames, dtype=int) if success is None else success
    header = ["frame", "face_id", "timestamp", "confidence", "success", "gaze_0_x", "eye_lmk_x_0"]
    header += [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    header += [f"{axis}_{i}" for axis in "XYZ" for i in range(68)]
    header += ["pose_Tx", "p_scale", "AU01_r"]
    rows = []
    for f in range(n_frames):
        x, y = points[f, :, 0], points[f, :, 1]
        values = [f + 1, 0, f / 25, 0.9 if success[f] else 0.0, int(success[f]), 0.1, 300.0]
        values += [*x, *y, *(x / 10), *(y / 10), *np.full(68, 500.0), 1.0, 1.0, 0.0]
        rows.append(",".join(str(v) for v in values))
    path.write_text(", ".join(header) + "\n" + "\n".join(rows) + "\n")
    return path


def _face_pixels(n_frames: int, width: int = 640, height: int = 480) -> np.ndarray:
    xy = IBUG.reference_face()[:, :2]
    xy = (xy - xy.mean(axis=0)) / np.ptp(xy[:, 0]) * 200 + [width / 2, height / 2]
    drift = np.arange(n_frames)[:, None, None] * np.array([1.0, 0.5])
    return xy[None] + drift


def test_openface_csv_imports_as_a_68_point_table(tmp_path: Path) -> None:
    success = np.array([1, 1, 0, 1, 1, 1])
    source = _openface_csv(tmp_path / "clip.csv", _face_pixels(6), success=success)
    import_landmarks(source, tmp_path / "lm.parquet", width=640, height=480, strict=True)
    assert landmark_scheme(tmp_path / "lm.parquet") == "ibug_68"
    table = read_landmarks(tmp_path / "lm.parquet")
    assert table["frame"].to_list() == list(range(6))  # OpenFace counts frames from 1
    assert table["timestamp_s"].to_list() == pytest.approx([f / 25 for f in range(6)])
    assert table["face_found"].to_list() == [bool(s) for s in success]
    assert table["detection_score"][0] == pytest.approx(0.9)
    landmarks, found = landmarks_array(table, "clip")
    assert landmarks.shape == (6, 68, 3) and np.isnan(landmarks[2]).all()
    expected = _face_pixels(6)[0] / [640, 480]  # the 2-D pixels, normalised, not the 3-D mm
    assert np.allclose(landmarks[0, :, :2], expected, atol=1e-5)
    assert np.isnan(landmarks[found, :, 2]).all()  # 2-D: z missing, not 0 (issue 24)
    record = read_video_records(tmp_path / "lm.parquet")["clip"]
    assert (record["width"], record["height"], record["layout"]) == (640, 480, "openface")
    assert (record["tracker"], record["units"], record["coordinates"]) == (
        "OpenFace",
        "normalised",
        "xy",
    )
    assert record["fps"] == pytest.approx(25.0)  # from its timestamps


def test_openface_without_frame_size_keeps_pixels(tmp_path: Path) -> None:
    source = _openface_csv(tmp_path / "clip.csv", _face_pixels(4))
    import_landmarks(source, tmp_path / "lm.parquet", strict=True)
    landmarks, _ = landmarks_array(read_landmarks(tmp_path / "lm.parquet"), "clip")
    assert np.allclose(landmarks[0, :, :2], _face_pixels(4)[0], atol=1e-3)
    assert read_video_records(tmp_path / "lm.parquet")["clip"]["width"] is None


def test_openface_3d_only_takes_the_millimetre_points(tmp_path: Path) -> None:
    source = _openface_csv(tmp_path / "full.csv", _face_pixels(4))
    frame = pl.read_csv(source)
    frame = frame.rename({name: name.strip() for name in frame.columns})
    frame.drop([f"{a}_{i}" for a in "xy" for i in range(68)]).write_csv(tmp_path / "three_d.csv")
    import_landmarks(tmp_path / "three_d.csv", tmp_path / "lm.parquet", strict=True)
    landmarks, _ = landmarks_array(read_landmarks(tmp_path / "lm.parquet"), "three_d")
    assert np.allclose(landmarks[0, :, 0], _face_pixels(4)[0, :, 0] / 10, atol=1e-3)
    assert np.allclose(landmarks[0, :, 2], 500.0)


def test_pyfeat_table_gives_one_video_per_input(tmp_path: Path) -> None:
    """py-feat's Fex table: several videos keyed by ``input``; a frame with two faces keeps
    the one with the higher FaceScore."""
    rows = []
    for video, offset in (("/data/clips/a.mp4", 0.0), ("/data/clips/b.mp4", 50.0)):
        for f in range(5):
            for score, shift in ((0.99, 0.0), (0.4, 300.0)) if f == 2 else ((0.95, 0.0),):
                xy = _face_pixels(5)[f] + offset + shift
                row = {"frame": f, "FaceRectX": 1.0, "FaceScore": score, "input": video}
                row |= {f"x_{i}": xy[i, 0] for i in range(68)}
                row |= {f"y_{i}": xy[i, 1] for i in range(68)}
                row |= {"AU01": 0.1, "anger": 0.2, "Pitch": 0.0}
                rows.append(row)
    pl.DataFrame(rows).write_csv(tmp_path / "fex.csv")
    summary = import_landmarks(tmp_path / "fex.csv", tmp_path / "lm.parquet", strict=True)
    assert sorted(summary) == ["a", "b"]
    table = read_landmarks(tmp_path / "lm.parquet")
    assert table.group_by("video_id").len().sort("video_id")["len"].to_list() == [5, 5]
    landmarks, _ = landmarks_array(table, "b")
    assert np.allclose(landmarks[2, :, :2], _face_pixels(5)[2] + 50.0, atol=1e-3)
    assert landmark_scheme(tmp_path / "lm.parquet") == "ibug_68"


def test_wide_interleaved_68_point_table_imports(tmp_path: Path) -> None:
    xy = _face_pixels(3) / [640, 480]
    columns = {f"{a}{i}": xy[:, i, k] for i in range(68) for k, a in enumerate("xy")}
    pl.DataFrame({"frame": [0, 1, 2], **columns}).write_csv(tmp_path / "dlib.csv")
    import_landmarks(tmp_path / "dlib.csv", tmp_path / "lm.parquet", strict=True)
    landmarks, _ = landmarks_array(read_landmarks(tmp_path / "lm.parquet"), "dlib")
    assert landmarks.shape == (3, 68, 3)
    assert np.allclose(landmarks[..., :2], xy, atol=1e-6)


def test_unknown_layouts_say_what_was_found_and_what_is_supported(tmp_path: Path) -> None:
    xy = np.random.default_rng(0).random((2, 49, 2))
    columns = {f"{a}_{i}": xy[:, i, k] for i in range(49) for k, a in enumerate("xy")}
    pl.DataFrame(columns).write_csv(tmp_path / "odd.csv")
    with pytest.raises(
        InputError, match=r"odd\.csv: holds 49 landmarks per frame.*ibug_68 \(68 points\)"
    ):
        import_landmarks(tmp_path / "odd.csv", tmp_path / "lm.parquet", strict=True)
    with pytest.raises(InputError, match=r"not an OpenFace 2\.0 table: no column\(s\)"):
        import_landmarks(
            tmp_path / "odd.csv", tmp_path / "lm.parquet", layout="openface", strict=True
        )


def test_tables_of_two_schemes_are_not_read_together(tmp_path: Path) -> None:
    _openface_csv(tmp_path / "of.csv", _face_pixels(3))
    import_landmarks(tmp_path / "of.csv", tmp_path / "a.parquet", strict=True)
    mp = get_scheme("mediapipe_478").reference_face()
    columns = {f"{a}_{i}": [mp[i, k]] * 3 for i in range(478) for k, a in enumerate("xyz")}
    pl.DataFrame(columns).write_csv(tmp_path / "mp.csv")
    import_landmarks(tmp_path / "mp.csv", tmp_path / "b.parquet", strict=True)
    assert landmark_scheme(tmp_path / "b.parquet") == "mediapipe_478"
    with pytest.raises(DataError, match=r"ibug_68.*mediapipe_478|mediapipe_478.*ibug_68"):
        read_landmarks([tmp_path / "a.parquet", tmp_path / "b.parquet"])


# -- the method on 68 points -------------------------------------------------------------------
@pytest.fixture(scope="module")
def tracks(tmp_path_factory) -> PlantedTracks:
    return planted_openface_tracks(
        tmp_path_factory.mktemp("tracks"), n_subjects=8, n_planted=5, seed=1
    )


@pytest.fixture(scope="module")
def store(tracks: PlantedTracks, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("store")
    import_landmarks(tracks.labels.parent / "tracks", root / "lm.parquet", strict=True)
    labels = pl.read_csv(tracks.labels)
    manifest = labels.rename({"label": "emotion"})
    manifest.write_parquet(root / "manifest.parquet")
    build_features(
        root / "manifest.parquet",
        [root / "lm.parquet"],
        root / "f.zarr",
        FeatureSettings(n_frames=6),
    )
    return root / "f.zarr"


def test_features_of_68_point_tracks_record_their_scheme(store: Path, tracks) -> None:
    features = load_features(store)
    assert features.scheme == "ibug_68" and features.features.shape[2] == 68
    peak = np.linalg.norm(features.features[:, -1], axis=-1)
    for emotion, ids in tracks.planted.items():
        mine = features.emotions == emotion
        assert peak[np.ix_(mine, ids)].mean() > 5 * peak[np.ix_(~mine, ids)].mean()


def test_symmetric_pruning_keeps_68_point_mirror_pairs_together(store: Path, tmp_path) -> None:
    record = initial_landmark_set(store, tmp_path / "landmarks.json")
    assert record["scheme"] == "ibug_68" and len(record["emotions"]["anger"]) == 68
    scores = np.random.default_rng(3).random(68)
    ids = np.arange(68)
    pruner = LandmarkPruner(PruneSettings(symmetric=True, fraction=0.5, min_landmarks=4))
    kept = set(ids[pruner.fit(scores, ids, "ibug_68").keep_mask_].tolist())
    partner = IBUG.mirror_pairs()
    assert 20 < len(kept) < 50
    assert all(int(partner[i]) in kept for i in kept)
    # with MediaPipe's pairs the same ids would be split: the scheme decides
    mediapipe = set(ids[pruner.fit(scores, ids).keep_mask_].tolist())
    assert any(int(partner[i]) not in mediapipe for i in mediapipe)


def test_attribution_ranks_the_planted_68_points_on_top(store: Path, tracks) -> None:
    import torch

    from emoflow.attribution import AttributionSettings, dataset_relevance
    from emoflow.attribution.faithfulness import ranking_from_scores
    from emoflow.metrics import precision_at_k
    from emoflow.models import NetworkSettings, RandomizedDeepNetwork

    torch.manual_seed(0)
    features = load_features(store)
    for emotion, truth in tracks.planted.items():
        labels = features.labels_for(emotion)
        model = RandomizedDeepNetwork(NetworkSettings(), device="cpu").fit(
            features.features, labels
        )
        relevance = dataset_relevance(model, features.features, labels, AttributionSettings())
        ranking = ranking_from_scores(relevance["scores"])
        assert precision_at_k(ranking, truth) >= 0.8, (emotion, ranking[:10], truth)


def test_two_d_tracks_give_no_z_features_and_no_z_relevance(store: Path, tracks) -> None:
    """OpenFace's 2-D points have no z (NaN in the table): every z feature is exactly 0, and
    so is every attribution of a z coordinate (sample and baselines agree there), while x and
    y carry the relevance; the x/y features are those the 3-D path gives with z = 0."""
    import torch

    from emoflow.attribution import AttributionSettings
    from emoflow.attribution.baselines import choose_baselines
    from emoflow.attribution.dataset import iter_attributions
    from emoflow.models import NetworkSettings, RandomizedDeepNetwork

    table = read_landmarks(store.parent / "lm.parquet")
    faces = np.stack(table.filter(pl.col("face_found"))["landmarks"].to_numpy())
    assert np.isnan(faces[..., 2]).all() and np.isfinite(faces[..., :2]).all()
    features = load_features(store)
    assert np.all(features.features[..., 2] == 0.0)
    assert np.abs(features.features[..., :2]).max() > 0.01
    torch.manual_seed(0)
    emotion = next(iter(tracks.planted))
    labels = features.labels_for(emotion)
    model = RandomizedDeepNetwork(NetworkSettings(), device="cpu").fit(features.features, labels)
    settings = AttributionSettings()
    baselines, _ = choose_baselines(features.features, labels, **settings.baseline_options())
    assert np.all(baselines[..., 2] == 0.0)
    moved = 0.0
    for _, _, attributions, _ in iter_attributions(model, features.features, baselines, settings):
        assert np.all(attributions[..., 2] == 0.0)
        moved += float(np.abs(attributions[..., :2]).sum())
    assert moved > 0
    video = table["video_id"][0]
    landmarks, found = landmarks_array(table, video)
    settings_6 = FeatureSettings(n_frames=6)
    planar = normalise_sequence(landmarks, found, settings_6, scheme="ibug_68")
    flat = landmarks.copy()
    flat[found, :, 2] = 0.0
    three_d = normalise_sequence(flat, found, settings_6, scheme="ibug_68")
    assert np.allclose(planar[..., :2], three_d[..., :2], atol=1e-6)
    canonical = FeatureSettings(n_frames=6, align="canonical")
    aligned = normalise_sequence(landmarks, found, canonical, scheme="ibug_68")
    assert np.all(aligned[..., 2] == 0.0) and np.isfinite(aligned).all()


def test_imported_tables_say_their_tracker_units_and_frame_rate(tmp_path: Path) -> None:
    """Imported tables name the tracker they came from (never MediaPipe's Face Mesh), their
    units and coordinates; pixels without a frame size are recorded as pixels; the frame rate
    comes from the timestamps, not the fps option (the adapter's default is 30)."""
    import json

    import pyarrow.parquet as pq

    openface = _openface_csv(tmp_path / "clip.csv", _face_pixels(5))  # timestamps at 25 fps
    import_landmarks(openface, tmp_path / "of.parquet", fps=30, strict=True)
    metadata = {
        k.decode(): v.decode() for k, v in pq.read_schema(tmp_path / "of.parquet").metadata.items()
    }
    assert metadata["emoflow.extractor"] == "OpenFace (imported)"
    assert "emoflow.mediapipe_version" not in metadata and "emoflow.model" not in metadata
    assert "emoflow.faces" not in metadata  # no Face Mesh settings: Face Mesh never ran
    source = json.loads(metadata["emoflow.source"])
    assert source == {
        "meshed_here": False,
        "trackers": {"OpenFace (imported)": None},
        "units": ["pixels"],
        "coordinates": ["xy"],
    }
    record = read_video_records(tmp_path / "of.parquet")["clip"]
    assert record["fps"] == pytest.approx(25.0) and record["units"] == "pixels"
    assert (record["width"], record["height"], record["tracker_version"]) == (None, None, None)

    three_d = pl.read_csv(openface)
    three_d = three_d.rename({name: name.strip() for name in three_d.columns})
    three_d.drop([f"{a}_{i}" for a in "xy" for i in range(68)]).write_csv(tmp_path / "mm.csv")
    import_landmarks(tmp_path / "mm.csv", tmp_path / "mm.parquet", width=640, height=480)
    record = read_video_records(tmp_path / "mm.parquet")["mm"]
    assert (record["units"], record["coordinates"]) == ("millimetres", "xyz")
    landmarks, _ = landmarks_array(read_landmarks(tmp_path / "mm.parquet"), "mm")
    assert np.allclose(landmarks[0, :, 0], _face_pixels(5)[0, :, 0] / 10, atol=1e-3)  # as given

    xy = _face_pixels(4) / [640, 480]
    wide = {f"x_{i}": xy[:, i, 0] for i in range(68)} | {f"y_{i}": xy[:, i, 1] for i in range(68)}
    pl.DataFrame(
        {"timestamp_ms": [0.0, 20.0, 40.0, 60.0], "tracker": ["dlib"] * 4, **wide}
    ).write_csv(tmp_path / "dlib.csv")
    import_landmarks(tmp_path / "dlib.csv", tmp_path / "dlib.parquet", fps=30)
    record = read_video_records(tmp_path / "dlib.parquet")["dlib"]
    assert (record["tracker"], record["units"], record["coordinates"]) == (
        "dlib",
        "normalised",
        "xy",
    )
    assert record["fps"] == pytest.approx(50.0)
    pl.DataFrame(wide).write_csv(tmp_path / "plain.csv")  # no time column: the fps option
    import_landmarks(tmp_path / "plain.csv", tmp_path / "plain.parquet", fps=12)
    record = read_video_records(tmp_path / "plain.parquet")["plain"]
    assert record["fps"] == 12 and record["tracker"] is None
    metadata = pq.read_schema(tmp_path / "plain.parquet").metadata
    assert metadata[b"emoflow.extractor"] == b"unknown tracker (imported)"


def test_features_from_tables_of_68_points_match_the_store(store: Path) -> None:
    folder = store.parent
    features, kept, _ = features_from_landmarks(folder / "lm.parquet", FeatureSettings(n_frames=6))
    stored = load_features(store)
    order = [kept.index(v) for v in stored.video_ids]
    assert np.array_equal(features[order], stored.features)


@pytest.mark.slow
def test_workflow_runs_from_68_point_openface_tracks_to_the_report(tmp_path: Path) -> None:
    """A ``landmarks_csv`` data set of OpenFace 2.0 CSVs (68 points) through the whole
    workflow: features, training, attribution, symmetric pruning and the report's 68-point
    relevance figure."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    import yaml

    repo = Path(__file__).resolve().parents[1]
    # 6 subjects: 2 held out, 4 for the nested evaluation's 2 outer folds
    tracks = planted_openface_tracks(tmp_path / "data", n_subjects=6, repetitions=1, n_planted=5)
    workdir = tmp_path / "run"
    workdir.mkdir()
    shutil.copy(repo / "Snakefile", workdir / "Snakefile")
    shutil.copytree(repo / "workflow", workdir / "workflow")
    config = {
        "dataset": {
            "adapter": "landmarks_csv",
            "source": str(tracks.labels),
            "emotions": ["happiness", "surprise", "anger"],
            "landmarks_csv": {"format": "openface", "width": 640, "height": 480},
        },
        "landmarks": {"n_shards": 2},
        "features": {"n_frames": 6},
        "train": {
            "n_folds": 2,
            "test_subjects": 2,
            "device": "auto",
            "model": {"width": 32, "n_layers": 1},
        },
        "attribution": {"n_steps": 8, "n_baselines": 2},
        "prune": {"iterations": 1, "fraction": 0.5, "min_landmarks": 8, "symmetric": True},
        "report": {"top_k": 20},
    }
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "--cores", "2"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    results = workdir / "results"
    assert load_features(results / "features.zarr").scheme == "ibug_68"
    assert landmark_scheme(results / "landmarks") == "ibug_68"
    pruned = json.loads((results / "iter_1" / "landmarks.json").read_text())
    assert pruned["scheme"] == "ibug_68"
    partner = IBUG.mirror_pairs()
    for kept in pruned["emotions"].values():
        assert 8 <= len(kept) < 68
        assert {int(partner[i]) for i in kept} == set(kept)  # mirror pairs kept together
    for emotion in pruned["emotions"]:  # one relevance figure per emotion (issue 24)
        assert (results / "report" / f"relevance_on_face_{emotion}.png").stat().st_size > 20_000
    report = json.loads((results / "report" / "report.json").read_text())
    for entry in report["emotions"].values():
        assert entry["n_landmarks_full"] == 68
        assert set(entry["top_k_regions"]) == set(IBUG.regions())
    selection = (results / "report" / "landmark_selection.html").read_text()
    assert "iBUG-300W 68 points" in selection


def test_ravdess_landmark_tracks_label_and_import_like_the_videos(tmp_path: Path) -> None:
    """RAVDESS Facial Landmark Tracking: per-clip OpenFace CSVs named with the RAVDESS codes
    give the subjects and emotions of the video adapter, and import as 68-point tables in the
    videos' 1280 × 720 pixel frame."""
    from emoflow.landmarks import extract_shard
    from emoflow.manifest import build_manifest

    source = tmp_path / "RAVDESS_landmarks"
    names = ["01-01-03-01-01-01-01", "01-01-05-02-01-02-02", "01-02-04-02-02-02-03"]
    for name in names:
        folder = source / f"Actor_{name[-2:]}"
        folder.mkdir(parents=True, exist_ok=True)
        _openface_csv(folder / f"{name}.csv", _face_pixels(4, 1280, 720))
    (source / "Actor_01" / "notes.txt").write_text("not a clip")
    manifest = build_manifest(
        "ravdess_landmarks",
        source,
        tmp_path / "m.parquet",
        emotions=["happiness", "anger", "sadness"],
        options={"actors": [1, 2, 3]},
    )
    rows = {row["video_id"]: row for row in manifest.iter_rows(named=True)}
    assert sorted(rows) == names
    assert (rows[names[0]]["emotion"], rows[names[0]]["subject"]) == ("happiness", "01")
    assert (rows[names[1]]["emotion"], rows[names[1]]["actor_sex"]) == ("anger", "female")
    assert (rows[names[2]]["vocal_channel"], rows[names[2]]["emotion"]) == ("song", "sadness")
    assert set(manifest["landmarks_layout"]) == {"openface"}
    assert set(manifest["landmarks_width"]) == {1280}
    extract_shard(tmp_path / "m.parquet", tmp_path / "lm.parquet", shard=0, n_shards=1, strict=True)
    assert landmark_scheme(tmp_path / "lm.parquet") == "ibug_68"
    landmarks, _ = landmarks_array(read_landmarks(tmp_path / "lm.parquet"), names[0])
    expected = _face_pixels(4, 1280, 720)[0] / [1280, 720]
    assert np.allclose(landmarks[0, :, :2], expected, atol=1e-5)
    (tmp_path / "videos" / "Actor_01").mkdir(parents=True)
    (tmp_path / "videos" / "Actor_01" / f"{names[0]}.mp4").write_bytes(b"")
    with pytest.raises(InputError, match=r"holds no RAVDESS landmark file named"):
        build_manifest("ravdess_landmarks", tmp_path / "videos", tmp_path / "x.parquet")


@pytest.mark.slow
def test_predict_and_explain_apply_68_point_models_to_videos(
    store: Path, demo_video: Path, tmp_path: Path, capsys
) -> None:
    """Models trained on 68-point tracks score a video: Face Mesh's landmark at each iBUG point
    stands in for it, and explain draws the 68 points with the scheme's contours."""
    from emoflow._atomic import write_json
    from emoflow.cli import main
    from emoflow.inference.pipeline import Pipeline
    from emoflow.pruning import summarise_iterations
    from emoflow.training import train_iteration
    from emoflow.video import VideoItem

    root = tmp_path / "run"
    sets = {emotion: list(range(68)) for emotion in ("anger", "happiness", "surprise")}
    write_json(
        root / "iter_0" / "landmarks.json", {"iteration": 0, "emotions": sets, "scheme": "ibug_68"}
    )
    train_iteration(
        store,
        root / "iter_0" / "landmarks.json",
        root,
        network={"width": 32},
        n_folds=4,
        device="cpu",
    )
    summarise_iterations([root / "iter_0" / "metrics.json"], root / "summary.parquet")
    with Pipeline(results=root) as pipeline:
        assert pipeline.scheme == "ibug_68"
        video = pipeline.landmarks(VideoItem(demo_video.stem, str(demo_video)))
    assert video.scheme == "ibug_68" and video.landmarks.shape[1:] == (68, 3)
    out = tmp_path / "scores.csv"
    assert main(["predict", str(demo_video), "--results", str(root), "-o", str(out)]) == 0
    scores = pl.read_csv(out)
    assert sorted(scores["emotion"]) == sorted(sets) and scores["error"].null_count() == 3
    capsys.readouterr()
    image, table = tmp_path / "face.png", tmp_path / "relevance.csv"
    code = main(
        [
            *("explain", str(demo_video), "--results", str(root)),
            *("--image", str(image), "--table", str(table), "--steps", "8"),
        ]
    )
    assert code == 0 and image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    relevance = pl.read_csv(table)
    assert relevance["landmark"].max() < 68 and relevance.height == 3 * 68

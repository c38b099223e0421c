"""Data other tools open (issue 24): landmark tables as py-feat-style wide CSVs that pandas
reads and emoflow imports back into the same features; ``-`` as standard output; the command
line's help and messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from emoflow.cli import build_parser, main
from emoflow.facemesh.mesh import N_LANDMARKS, reference_face
from emoflow.features import FeatureSettings, features_from_landmarks
from emoflow.landmarks import import_landmarks, read_landmarks
from emoflow.storage.landmark_table.reader import read_video_records

SETTINGS = FeatureSettings(n_frames=4)


def _shard(path: Path, mode: str) -> Path:
    """A 478-point landmark shard written by the shard writer from hand-made tables: ``a``
    (12 frames, every one with a face), ``b`` (10 frames, frames 2 and 5 without a face),
    frame size 640 × 480; with ``mode`` ``sampled`` ``a`` has rows for the frames the
    features read only, as extraction gives."""
    from emoflow.storage.landmark_table.schema import landmarks_table, video_record
    from emoflow.storage.landmark_table.writer import write_shard
    from emoflow.video import VideoItem

    rng = np.random.default_rng(11)
    face = reference_face().astype(np.float32)
    videos = {"a": (12, []), "b": (10, [2, 5])}

    def read(item: VideoItem):
        n_frames, missing = videos[item.video_id]
        read_frames = SETTINGS.frames_read(n_frames)
        sampled = mode == "sampled" and not missing
        rows = read_frames if sampled else np.arange(n_frames)
        found = [r for r, frame in enumerate(rows) if frame not in missing]
        faces = np.stack(
            [face + 0.004 * rng.standard_normal(face.shape).astype(np.float32) for _ in found]
        )
        table = landmarks_table(
            item.video_id, 0.5 + rows / 30.0, found, faces, frame_numbers=rows.astype(np.int32)
        )
        record = video_record(
            item.path,
            None,
            n_frames,
            len(found),
            None,
            meshed_frames=rows.tolist() if sampled else None,
        )
        record.update(fps=30.0, source_fps=30.0, width=640, height=480)
        return table, record

    items = [VideoItem(v, f"/videos/{v}.mp4") for v in videos]
    frames = {"mode": mode, "feature_frames": 4 if mode == "sampled" else None}
    write_shard(items, path, read, refine_landmarks=True, faces={}, strict=True, frames=frames)
    return path


@pytest.mark.parametrize("mode", ["sampled", "all"])
@pytest.mark.parametrize("units", ["pixels", "normalised"])
def test_wide_csv_opens_in_pandas_and_imports_back_into_identical_features(
    mode: str, units: str, tmp_path: Path, capsys
) -> None:
    import pandas as pd

    shard = _shard(tmp_path / "shard.parquet", mode)
    out = tmp_path / "landmarks.csv"
    capsys.readouterr()
    assert main(["landmarks", str(shard), "-o", str(out), "--units", units]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["csv"]["units"] == [units] and printed["csv"]["points"] == N_LANDMARKS

    frame = pd.read_csv(out)  # py-feat's Fex columns: x_0 … x_477, y_0 …, then z_0 …
    coordinates = [f"{a}_{i}" for a in "xyz" for i in range(N_LANDMARKS)]
    assert [c for c in frame.columns if c[:2] in ("x_", "y_", "z_")] == coordinates
    assert set(frame["units"]) == {units}
    assert set(frame["tracker"]) == {"mediapipe.face_mesh"}
    table = read_landmarks(shard)
    original = np.stack(table.filter(pl.col("face_found"))["landmarks"].to_numpy())
    with_face = frame[frame["face_found"]]
    scale = np.array([640, 480, 640]) if units == "pixels" else np.ones(3)
    for axis, name in enumerate("xyz"):
        np.testing.assert_allclose(
            with_face[[f"{name}_{i}" for i in range(N_LANDMARKS)]].to_numpy(),
            original[..., axis] * scale[axis],
            rtol=1e-12,
        )
    assert frame[~frame["face_found"]]["x_0"].isna().all()  # no face: empty coordinates
    assert len(frame) == table.height

    back = tmp_path / "back.parquet"
    import_landmarks(out, back)
    assert (
        read_landmarks(back)
        .select("video_id", "frame", "face_found")
        .equals(table.select("video_id", "frame", "face_found"))
    )
    before, kept_before, _ = features_from_landmarks(shard, SETTINGS)
    after, kept_after, _ = features_from_landmarks(back, SETTINGS)
    assert kept_after == kept_before == ["a", "b"]
    assert np.array_equal(after, before)  # identical features, bit for bit
    records, imported = read_video_records(shard), read_video_records(back)
    for video in ("a", "b"):
        for key in ("n_frames", "meshed_frames", "width", "height"):
            assert imported[video][key] == records[video][key], (video, key)
        assert imported[video]["fps"] == pytest.approx(30.0)
        assert imported[video]["tracker"] == "mediapipe.face_mesh"

    capsys.readouterr()
    assert main(["landmarks", str(shard), "-o", "-", "--units", units]) == 0
    streamed = capsys.readouterr()
    assert streamed.out == out.read_text()  # "-": the same table on standard output
    assert json.loads(streamed.err.strip().splitlines()[-1])["out"] == "-"


def test_two_d_tracks_export_without_z_and_come_back(tmp_path: Path, capsys) -> None:
    """An OpenFace table without a frame size: pixels as given, no z columns (2-D), and the
    same features after the round trip through the command line in both directions."""
    from emoflow.schemes import get_scheme

    xy = get_scheme("ibug_68").reference_face()[:, :2] * 600 + 20
    header = ["frame", "face_id", "timestamp", "confidence", "success"]
    header += [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    rows = []
    for f in range(6):
        moved = xy + np.array([f * 1.5, f * 0.5])
        rows.append(",".join(map(str, [f + 1, 0, f / 25, 0.95, 1, *moved[:, 0], *moved[:, 1]])))
    source = tmp_path / "of.csv"
    source.write_text(", ".join(header) + "\n" + "\n".join(rows) + "\n")
    shard = tmp_path / "of.parquet"
    import_landmarks(source, shard, strict=True)
    out = tmp_path / "of_wide.csv"
    assert main(["landmarks", str(shard), "-o", str(out)]) == 0
    wide = pl.read_csv(out)
    assert not [c for c in wide.columns if c.startswith("z_")]
    assert wide["units"].unique().to_list() == ["pixels"]
    assert wide["tracker"].unique().to_list() == ["OpenFace"]
    assert wide["x_0"].to_list() == pytest.approx([xy[0, 0] + f * 1.5 for f in range(6)])
    back = tmp_path / "back.parquet"
    capsys.readouterr()
    assert main(["landmarks", str(out), "-o", str(back)]) == 0  # a landmark CSV → Parquet
    before, _, _ = features_from_landmarks(shard, SETTINGS)
    after, _, _ = features_from_landmarks(back, SETTINGS)
    assert np.array_equal(after, before)
    record = read_video_records(back)["of"]
    assert (record["units"], record["coordinates"], record["tracker"]) == (
        "pixels",
        "xy",
        "OpenFace",
    )


def test_every_command_has_a_description_and_examples() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(commands) == {"demo", "landmarks", "predict", "explain", "validate-config"}
    for name, command in commands.items():
        text = command.format_help()
        assert command.description and len(command.description) > 60, name
        assert "examples:" in text and f"emoflow {name} " in text.split("examples:")[1], name
    predict = commands["predict"].format_help()
    assert "standard output" in predict and "-o OUTPUT" in predict


def test_predict_without_a_results_folder_says_so_in_a_whole_sentence(tmp_path, capsys) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    code = main(["predict", str(video), "--results", str(tmp_path / "none")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        "results folder does not exist; give the workflow's results folder with --results "
        "(or model files with --models)"
    )


def test_explain_refuses_a_picture_on_standard_output(tmp_path, capsys) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    code = main(["explain", str(video), "--image", "-", "--table", str(tmp_path / "t.csv")])
    assert code == 2
    assert "cannot be written to standard output" in capsys.readouterr().err


def test_validate_config_reads_an_override_file_over_the_workflow_defaults(
    tmp_path: Path, capsys
) -> None:
    """An override file as given to ``snakemake --configfile`` (a few keys) is valid over the
    workflow's own config/config.yaml, as the workflow reads it; on its own it lacks dataset."""
    import yaml

    repository = Path(__file__).resolve().parents[1] / "config"
    override = tmp_path / "mine.yaml"
    override.write_text(yaml.safe_dump({"prune": {"fraction": 0.2}, "train": {"n_folds": 4}}))
    capsys.readouterr()
    assert main(["validate-config", str(override)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"{override}: valid (read over {repository / 'config.yaml'}, as the workflow reads it)"
    )
    assert main(["validate-config", str(override), "--print"]) == 0
    merged = yaml.safe_load(capsys.readouterr().out)
    assert merged["prune"]["fraction"] == 0.2 and merged["train"]["n_folds"] == 4
    assert merged["dataset"]["adapter"] == "demo"  # from the defaults
    assert merged["train"]["test_subjects"] == 2  # the defaults' own values kept
    assert main(["validate-config", str(override), "--alone"]) == 2
    assert "missing required key" in capsys.readouterr().err
    hard = repository / "hard_demo.yaml"
    assert main(["validate-config", str(hard)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"prune": {"policy": "random"}}))
    assert main(["validate-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad} (read over" in err and "prune.policy: 'random' is not allowed" in err


def test_explain_numbers_its_top_landmarks_without_overlapping_labels() -> None:
    """Twelve neighbouring mouth landmarks, the most relevant in each panel: their numbers sit
    in columns beside the face, none overlapping another, each joined to its landmark."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    from emoflow.inference.drawing import picture_figure

    xy = reference_face()[:, :2] * 600 - 60
    frame = np.full((420, 420, 3), 90, np.uint8)
    mouth = [61, 291, 0, 17, 13, 14, 78, 308, 82, 312, 87, 317]
    rng = np.random.default_rng(0)
    rows = []
    for emotion in ("happiness", "surprise"):
        relevance = rng.random(N_LANDMARKS) * 0.2
        relevance[mouth] = 1 + rng.random(len(mouth))
        rows += [
            {"emotion": emotion, "landmark": i, "relevance": float(relevance[i]), "score": 0.3}
            for i in range(N_LANDMARKS)
        ]
    table = pl.DataFrame(rows).with_columns(probability=pl.lit(0.6))
    figure = picture_figure(frame, xy, table, "happiness", top_k=len(mouth))
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    for axes in figure.axes[:2]:
        labels = [text for text in axes.texts if text.get_text().isdigit()]
        assert sorted(int(t.get_text()) for t in labels) == sorted(mouth)
        boxes = [Text.get_window_extent(text, renderer) for text in labels]  # not the lines
        for i, first in enumerate(boxes):
            for second in boxes[i + 1 :]:
                assert not first.overlaps(second), (first, second)
        for text in labels:  # each label points at its own landmark
            assert np.allclose(text.xy, xy[int(text.get_text())])

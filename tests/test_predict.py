"""``emoflow predict`` and ``emoflow explain`` on the demo's videos.

The module trains a tiny run with the workflow's own stage functions on 12 demo videos
(4 subjects × 3 emotions, landmarks extracted fresh), then, for the fold that holds out one
subject, fits the models on the other subjects only — exactly what the cross-validation did
for that fold — and checks that ``emoflow predict``, starting from the held-out subject's
video files, reproduces the out-of-fold scores, probabilities and labels of ``scores.parquet``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from results_folder import attribute_results  # tests/results_folder.py

from emoflow._atomic import write_json
from emoflow.attribution import AttributionSettings
from emoflow.cli import main
from emoflow.errors import InputError
from emoflow.features import FeatureSettings, build_features
from emoflow.inference.loading import load_models, model_paths
from emoflow.inference.sources import find_videos
from emoflow.inference.windows import landmark_union, time_windows
from emoflow.landmarks import extract_shard
from emoflow.predict import predict
from emoflow.pruning import summarise_iterations
from emoflow.training import train_iteration
from emoflow.video import VideoItem

SUBJECTS = ["s01", "s02", "s03", "s04"]
EMOTIONS = ["happiness", "sadness", "surprise"]
HELD_OUT = "s04"
NETWORK = {"width": 64}
LANDMARK_SETS = {
    "happiness": list(range(0, 200)),
    "sadness": list(range(100, 478, 2)),
    "surprise": list(range(300, 478)),
}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny matrices: one thread is several times faster on shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _train_run(root: Path, manifest: pl.DataFrame, shard: Path, n_folds: int) -> None:
    """The workflow's stages on ``manifest``: features, iteration 0, summary."""
    root.mkdir(parents=True, exist_ok=True)
    manifest.write_parquet(root / "manifest.parquet")
    build_features(root / "manifest.parquet", [shard], root / "features.zarr", FeatureSettings())
    write_json(root / "iter_0" / "landmarks.json", {"iteration": 0, "emotions": LANDMARK_SETS})
    train_iteration(
        root / "features.zarr",
        root / "iter_0" / "landmarks.json",
        root,
        network=NETWORK,
        n_folds=n_folds,
        device="cpu",
    )
    summarise_iterations([root / "iter_0" / "metrics.json"], root / "summary.parquet")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> dict[str, Path]:
    """A full cross-validated run and a run fitted on the training subjects of one fold."""
    base = tmp_path_factory.mktemp("predict")
    labels = pl.read_csv(demo_dir / "labels.csv")
    chosen = (
        labels.filter(
            pl.col("subject").is_in(SUBJECTS)
            & pl.col("emotion").is_in(EMOTIONS)
            & (pl.col("repetition") == 1)
        )
        .with_columns((pl.lit(str(demo_dir) + "/") + pl.col("path")).alias("path"))
        .select("video_id", "path", "subject", "emotion")
        .sort("video_id")
    )
    chosen.write_parquet(base / "manifest.parquet")
    shard = base / "landmarks" / "shard_0.parquet"
    extract_shard(base / "manifest.parquet", shard, shard=0, n_shards=1)
    _train_run(base / "full", chosen, shard, n_folds=len(SUBJECTS))
    training = chosen.filter(pl.col("subject") != HELD_OUT)
    _train_run(base / "fold", training, shard, n_folds=len(SUBJECTS) - 1)
    attribute_results(
        base / "fold" / "features.zarr",
        base / "fold",
        settings=AttributionSettings(n_steps=8, n_baselines=3),
        device="cpu",
    )
    held_out = base / "held_out"
    held_out.mkdir()
    for row in chosen.filter(pl.col("subject") == HELD_OUT).iter_rows(named=True):
        (held_out / Path(row["path"]).name).symlink_to(row["path"])
    return {"base": base, "full": base / "full", "fold": base / "fold", "held_out": held_out}


@pytest.mark.slow
def test_predict_reproduces_the_test_fold_scores(run: dict[str, Path]) -> None:
    """Scores from the video files equal the cross-validation's out-of-fold scores."""
    scores = pl.read_parquet(run["full"] / "iter_0" / "scores.parquet")
    fold = scores.filter(pl.col("subject") == HELD_OUT)["fold"].unique().to_list()
    assert len(fold) == 1
    expected = scores.filter(pl.col("fold") == fold[0])
    assert set(expected["subject"].to_list()) == {HELD_OUT}  # the fold holds out one subject

    predicted = predict(run["held_out"], results=run["fold"])
    assert predicted["error"].null_count() == predicted.height
    joined = expected.join(
        predicted.select("video_id", pl.col("emotion").alias("model"), "score", "probability"),
        on=["video_id", "model"],
        how="left",
        suffix="_predicted",
    )
    assert joined.height == len(EMOTIONS) ** 2
    # equal up to float32 rounding of the batched matrix products (about 2e-7 here)
    np.testing.assert_allclose(joined["score_predicted"], joined["score"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        joined["probability_predicted"], joined["probability"], rtol=0, atol=1e-6
    )
    # the combined label is the workflow's: argmax of the calibrated probabilities
    oof_label = (
        expected.sort("probability", descending=True)
        .group_by("video_id", maintain_order=True)
        .first()
        .select("video_id", pl.col("model").alias("oof_label"))
    )
    labels = predicted.group_by("video_id").agg(pl.first("label")).join(oof_label, on="video_id")
    assert labels["label"].to_list() == labels["oof_label"].to_list()


@pytest.mark.slow
def test_predict_cli_windows_formats_and_reruns(run: dict[str, Path], capsys) -> None:
    out = run["base"] / "cli"
    argv = ["predict", str(run["held_out"]), "--results", str(run["fold"]), "--no-progress"]
    assert main([*argv, "-o", str(out / "a.csv")]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["videos"] == 3
    assert main([*argv, "-o", str(out / "b.csv")]) == 0
    assert (out / "a.csv").read_bytes() == (out / "b.csv").read_bytes()  # identical reruns
    assert main([*argv, "-o", str(out / "a.parquet")]) == 0
    whole = pl.read_csv(out / "a.csv", schema_overrides={"error": pl.String})
    assert pl.read_parquet(out / "a.parquet").equals(whole)
    assert whole.columns[:12] == [
        "video_id",
        "path",
        "window",
        "start_s",
        "end_s",
        "n_frames",
        "emotion",
        "score",
        "probability",
        "label",
        "iteration",
        "error",
    ]
    assert whole.height == 3 * len(EMOTIONS)
    # windows: 2 s videos at 15 fps, windows of 1 s every 0.5 s → 3 windows per video
    assert main([*argv, "-o", str(out / "w.csv"), "--window-s", "1", "--hop-s", "0.5"]) == 0
    windows = pl.read_csv(out / "w.csv", schema_overrides={"error": pl.String})
    per_video = windows.group_by("video_id").agg(pl.col("window").n_unique())
    assert per_video["window"].to_list() == [3, 3, 3]
    assert sorted(windows["start_s"].unique().to_list()) == [0.0, 0.5, 1.0]
    assert windows["n_frames"].unique().to_list() == [15]
    # a window longer than the video is the whole video
    assert main([*argv, "-o", str(out / "long.csv"), "--window-s", "60"]) == 0
    long = pl.read_csv(out / "long.csv", schema_overrides={"error": pl.String})
    np.testing.assert_array_equal(long["score"], whole["score"])


def _ten_hour_header(video: Path, out: Path) -> Path:
    """``video``'s packets unchanged, its last frame lasting 10 hours: a header that declares
    10 hours over the same frames (and a frame rate of 30 frames / 36,000 s)."""
    import av

    with av.open(str(video)) as source, av.open(str(out), "w") as target:
        stream = source.streams.video[0]
        copy = target.add_stream_from_template(stream)
        packets = [packet for packet in source.demux(stream) if packet.size]
        last = max(packets, key=lambda packet: packet.pts)
        for packet in packets:
            if packet is last:
                packet.duration = int(36000 / stream.time_base)
            packet.stream = copy
            target.mux(packet)
    return out


@pytest.mark.slow
def test_windows_of_a_clip_whose_header_declares_ten_hours(
    run: dict[str, Path], tmp_path: Path
) -> None:
    """Windows follow the frames' presentation times, not the header's duration."""
    video = sorted(run["held_out"].iterdir())[0]
    clip = _ten_hour_header(video, tmp_path / "ten_hours.mp4")
    windowed = predict(clip, results=run["fold"], window_s=1.0, progress=False)
    assert windowed["error"].null_count() == windowed.height  # every window scored
    assert sorted(windowed["start_s"].unique().to_list()) == [0.0, 1.0]
    assert windowed["n_frames"].unique().to_list() == [15]
    same = predict(video, results=run["fold"], window_s=1.0, progress=False)
    np.testing.assert_allclose(
        windowed.sort("window", "emotion")["score"],
        same.sort("window", "emotion")["score"],
        rtol=0,
        atol=1e-9,
    )


def test_time_windows() -> None:
    times = np.arange(10) / 10  # 1 s at 10 fps
    assert time_windows(times, 1.0, None, None) == [(0.0, 1.0)]
    assert time_windows(times, 1.0, 0.4, None) == [(0.0, 0.4), (0.4, 0.8), (0.6, 1.0)]
    assert time_windows(times, 1.0, 0.5, 0.25) == [(0.0, 0.5), (0.25, 0.75), (0.5, 1.0)]
    assert time_windows(times, 1.0, 5.0, None) == [(0.0, 1.0)]


@pytest.mark.slow
def test_models_and_union(run: dict[str, Path]) -> None:
    """Selected models come from the summary; only the union of their landmarks is kept."""
    paths = model_paths(run["fold"])
    assert [(p.parent.name, p.name) for p in paths] == [(e, "model.pt") for e in EMOTIONS]
    assert model_paths(run["fold"], iteration=0) == paths
    models = load_models(paths)
    union = landmark_union(models)
    expected = sorted(set().union(*LANDMARK_SETS.values()))
    assert union.tolist() == expected and len(union) < 478
    sources = find_videos(run["held_out"])
    assert [s.video_id for s in sources] == sorted(s.video_id for s in sources)
    assert all(isinstance(s, VideoItem) for s in sources)


@pytest.mark.slow
def test_explain_outputs(run: dict[str, Path], capsys) -> None:
    video = sorted(run["held_out"].iterdir())[0]
    out = run["base"] / "explain"
    code = main(
        [
            "explain",
            str(video),
            "--results",
            str(run["fold"]),
            "--image",
            str(out / "face.png"),
            "--table",
            str(out / "relevance.csv"),
            "--video",
            str(out / "clip.avi"),
            "--steps",
            "8",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (out / "face.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["video_frames"] == 30 and (out / "clip.avi").stat().st_size > 0
    table = pl.read_csv(out / "relevance.csv")
    assert table.columns[:3] == ["emotion", "landmark", "relevance"]
    for emotion, landmarks in LANDMARK_SETS.items():
        rows = table.filter(pl.col("emotion") == emotion)
        assert sorted(rows["landmark"].to_list()) == landmarks
        assert rows["relevance"].min() >= 0 and np.isfinite(rows["relevance"].to_numpy()).all()
        assert rows["rank"].to_list() == list(range(1, len(landmarks) + 1))
        assert rows["baseline"][0] == "typical baselines (3, stored)"
    # the explained scores are the predicted ones
    predicted = predict(video, results=run["fold"])
    explained = table.group_by("emotion").agg(pl.first("score")).sort("emotion")
    np.testing.assert_allclose(
        explained["score"], predicted.sort("emotion")["score"], rtol=0, atol=1e-9
    )
    assert summary["label"] == predicted["label"][0]


def _face_then_blank(video: Path, folder: Path) -> Path:
    """A frame folder: the video's frames (a face), then as many black frames (no face)."""
    from PIL import Image

    from emoflow.video import open_frames

    folder.mkdir(parents=True)
    frames = list(open_frames(video)[1])
    frames += [np.zeros_like(frames[0])] * len(frames)
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"frame_{index:03d}.png")
    return folder


@pytest.mark.slow
def test_windows_without_a_face_are_marked_and_the_others_kept(
    run: dict[str, Path], capsys
) -> None:
    """One face-less window no longer loses the video: its row says why, the others score."""
    video = sorted(run["held_out"].iterdir())[0]
    folder = _face_then_blank(video, run["base"] / "half_blank")  # 2 s face, 2 s black
    out = run["base"] / "half_blank.csv"
    argv = ["predict", str(folder), "-o", str(out), "--results", str(run["fold"])]
    assert main([*argv, "--fps", "15", "--window-s", "1", "--no-progress"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["failed"] == 0 and printed["windows_not_scored"] == 2
    table = pl.read_csv(out, schema_overrides={"error": pl.String})
    scored = table.filter(pl.col("score").is_not_null())
    assert sorted(scored["window"].unique().to_list()) == [0, 1]
    assert scored.height == 2 * len(EMOTIONS) and scored["error"].null_count() == scored.height
    marked = table.filter(pl.col("score").is_null()).sort("window")
    assert marked["window"].to_list() == [2, 3]
    assert marked["start_s"].to_list() == [2.0, 3.0] and marked["n_frames"].to_list() == [15, 15]
    assert all("show no face" in message for message in marked["error"].to_list())
    # the scored windows are those of the video alone
    alone = predict(video, results=run["fold"], window_s=1.0, progress=False)
    np.testing.assert_allclose(
        scored.sort("window", "emotion")["score"],
        alone.sort("window", "emotion")["score"],
        rtol=0,
        atol=1e-6,
    )
    # a video without a face in any window still fails as a whole (exit status 1 in a batch)
    blank = run["base"] / "all_blank"
    blank.mkdir()
    for index in range(30):
        (blank / f"frame_{index:03d}.png").write_bytes(
            (folder / f"frame_{30 + index:03d}.png").read_bytes()
        )
    assert (
        main(
            [
                "predict",
                str(blank),
                "-o",
                str(run["base"] / "blank.csv"),
                "--results",
                str(run["fold"]),
                "--fps",
                "15",
                "--window-s",
                "1",
                "--no-progress",
            ]
        )
        == 2
    )


def test_trained_on_reads_the_run_provenance(tmp_path: Path) -> None:
    """The data set a model was trained on comes from its run's provenance.json."""
    from emoflow.inference.loading import trained_on
    from emoflow.provenance import write_provenance

    model = tmp_path / "results" / "iter_0" / "happiness" / "model.pt"
    assert trained_on(model) is None  # results of an older emoflow: nothing said
    write_provenance(tmp_path / "results" / "provenance.json", {"dataset": {"adapter": "demo"}})
    assert trained_on(model) == "synthetic demo"
    write_provenance(tmp_path / "results" / "provenance.json", {"dataset": {"adapter": "csv"}})
    assert trained_on(model) == "csv"
    (tmp_path / "results" / "provenance.json").write_text("{broken")
    assert trained_on(model) is None
    assert trained_on(tmp_path / "elsewhere" / "model.pt") is None


@pytest.mark.slow
def test_models_trained_on_the_demo_say_so(run: dict[str, Path], capsys) -> None:
    """Predictions and explanations of demo-trained models are marked in every output."""
    import shutil

    from emoflow.provenance import write_provenance

    demo_run = run["base"] / "demo_run"
    shutil.copytree(run["fold"], demo_run)
    write_provenance(demo_run / "provenance.json", {"dataset": {"adapter": "demo"}})
    out = run["base"] / "demo_marked"
    argv = ["predict", str(run["held_out"]), "--results", str(demo_run), "--no-progress"]
    assert main([*argv, "-o", str(out / "p.csv")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out.strip().splitlines()[-1])["trained_on"] == "synthetic demo"
    assert "trained on the synthetic demo" in captured.err  # the console says it
    table = pl.read_csv(out / "p.csv", schema_overrides={"error": pl.String})
    assert table["trained_on"].to_list() == ["synthetic demo"] * table.height
    assert main([*argv, "-o", str(out / "p.parquet")]) == 0
    assert set(pl.read_parquet(out / "p.parquet")["trained_on"]) == {"synthetic demo"}
    capsys.readouterr()
    # a run without the record (an older emoflow) says nothing
    assert main(["predict", *argv[1:3], str(run["fold"]), "-o", str(out / "old.csv")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out.strip().splitlines()[-1])["trained_on"] is None
    assert "synthetic" not in captured.err
    old = pl.read_csv(
        out / "old.csv", schema_overrides={"error": pl.String, "trained_on": pl.String}
    )
    assert old["trained_on"].null_count() == old.height
    # explain: the table, the printed summary, the log and the annotated clip
    from emoflow.video import open_frames

    video = sorted(run["held_out"].iterdir())[0]
    clips = {}
    for name, results in (("demo", demo_run), ("old", run["fold"])):
        code = main(
            [
                "explain",
                str(video),
                "--results",
                str(results),
                "--image",
                str(out / f"{name}.png"),
                "--table",
                str(out / f"{name}.parquet"),
                "--video",
                str(out / f"{name}.avi"),
                "--steps",
                "4",
                "-q",
            ]
        )
        assert code == 0
        captured = capsys.readouterr()
        said = json.loads(captured.out.strip().splitlines()[-1])["trained_on"]
        assert said == ("synthetic demo" if name == "demo" else None)
        # a warning: shown even with -q, and only for the demo's models
        assert ("trained on the synthetic demo" in captured.err) == (name == "demo")
        clips[name] = next(open_frames(out / f"{name}.avi")[1]).astype(int)
    assert set(pl.read_parquet(out / "demo.parquet")["trained_on"]) == {"synthetic demo"}
    assert pl.read_parquet(out / "old.parquet")["trained_on"].null_count() > 0
    # the clip of the demo's models carries the note at its bottom, the rest is the same
    difference = np.abs(clips["demo"] - clips["old"]).max(axis=(1, 2))
    bottom = len(difference) - 24
    assert difference[bottom:].max() > 100 and difference[: bottom - 8].max() <= 8


@pytest.mark.slow
def test_predict_and_explain_in_a_terminal_and_piped(run: dict[str, Path]) -> None:
    """Bars per video and per frame, with time estimates, on a terminal only; MediaPipe's
    native lines never reach the user."""
    import re

    from cli_runs import in_terminal, native_lines, piped

    out = run["base"] / "console"
    argv = ["predict", str(run["held_out"]), "--results", str(run["fold"])]
    code, shown = in_terminal([*argv, "-o", str(out / "p.csv")])
    assert code == 0, shown
    assert re.search(r"videos: +100%.*3/3 \[", shown)  # the video bar, with its rate
    assert re.search(r"\d+/30 \[\d\d:\d\d<\d\d:\d\d", shown)  # a frame bar: done<left
    assert native_lines(shown) == []
    done = piped([*argv, "-o", str(out / "q.csv")])
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "frame/s" not in done.stderr
    assert native_lines(done.stderr) == [] and "INFO emoflow" in done.stderr
    assert (out / "p.csv").read_bytes() == (out / "q.csv").read_bytes()
    video = sorted(run["held_out"].iterdir())[0]
    explain = ["explain", str(video), "--results", str(run["fold"]), "--steps", "4"]
    files = ["--image", str(out / "e.png"), "--table", str(out / "e.csv")]
    code, shown = in_terminal([*explain, *files])
    assert code == 0, shown
    assert "30/30" in shown and "emotions" in shown and "3/3" in shown
    assert native_lines(shown) == []


@pytest.mark.slow
def test_predict_refuses_to_write_over_its_inputs(run: dict[str, Path], capsys) -> None:
    video = sorted(run["held_out"].iterdir())[0]
    summary = run["fold"] / "summary.parquet"
    before = summary.read_bytes()
    code = main(["predict", str(video), "--results", str(run["fold"]), "-o", str(summary)])
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "is also an input" in lines[0]
    assert summary.read_bytes() == before


@pytest.mark.slow
def test_predict_and_explain_write_tables_to_standard_output(run: dict[str, Path], capsys) -> None:
    """``predict`` without ``-o`` and ``explain --table -`` print their table as CSV on standard
    output (the same bytes as the file) and their summary on stderr (issue 24)."""
    video = sorted(run["held_out"].iterdir())[0]
    out = run["base"] / "stdout"
    argv = ["predict", str(video), "--results", str(run["fold"]), "--no-progress"]
    capsys.readouterr()
    assert main(argv) == 0
    streamed = capsys.readouterr()
    assert main([*argv, "-o", str(out / "p.csv")]) == 0
    assert streamed.out == (out / "p.csv").read_text()
    assert json.loads(streamed.err.strip().splitlines()[-1])["out"] == "-"
    capsys.readouterr()
    explain = ["explain", str(video), "--results", str(run["fold"]), "--steps", "4"]
    assert main([*explain, "--image", str(out / "e.png"), "--table", "-"]) == 0
    streamed = capsys.readouterr()
    table = pl.read_csv(io.StringIO(streamed.out))
    assert table.columns[:3] == ["emotion", "landmark", "relevance"]
    assert json.loads(streamed.err.strip().splitlines()[-1])["table"] == "-"


def test_results_of_the_layout_before_per_emotion_chains_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An iteration folder with models/{emotion}.pt (and one attributions.zarr) is named, with
    the re-run, instead of read or reported as holding no model."""
    old = tmp_path / "results"
    (old / "iter_0" / "models").mkdir(parents=True)
    (old / "iter_0" / "models" / "happiness.pt").write_bytes(b"")
    (old / "iter_0" / "attributions.zarr").mkdir()
    pl.DataFrame({"emotion": ["happiness"], "iteration": [0], "selected": [True]}).write_parquet(
        old / "summary.parquet"
    )
    for iteration in (0, None):
        with pytest.raises(InputError, match="re-run the workflow") as refused:
            model_paths(old, iteration=iteration)
        assert refused.value.path == str(old / "iter_0")
    video = tmp_path / "clip.mp4"
    video.touch()
    assert main(["predict", str(video), "--results", str(old), "--iteration", "0"]) == 2
    said = capsys.readouterr().err
    assert f"{old / 'iter_0'}: results of an earlier emoflow" in said
    assert "re-run the workflow" in said

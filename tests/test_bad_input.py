"""Bad input fails with one clear message naming the file (or key) and the fix; nothing else
is lost.

Most inputs are refused before MediaPipe runs; the tests that need Face Mesh are marked
``slow``. Models are tiny randomized networks fitted on random features (no training run).
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import polars as pl
import pytest
import skimage.data
import torch
import yaml
from PIL import Image

from emoflow.cli import main
from emoflow.config import load_config, validate_config
from emoflow.errors import ConfigError, InputError
from emoflow.features import FeatureSettings
from emoflow.inference.sources import find_videos
from emoflow.inference.videos import FaceCounter, inspect_video
from emoflow.landmarks import extract_videos
from emoflow.manifest import build_manifest
from emoflow.models import NetworkSettings, RandomizedDeepNetwork, load_model, save_model
from emoflow.predict import predict
from emoflow.storage.model_file import content_hash
from emoflow.video import VideoItem

ROOT = Path(__file__).resolve().parents[1]
LANDMARKS = list(range(0, 478, 16))
SIZE = 256


def face_image(size: int = SIZE) -> np.ndarray:
    return cv2.resize(skimage.data.astronaut()[30:230, 125:325], (size, size))


def write_video(path: Path, frames: list[np.ndarray], fps: float = 15.0) -> Path:
    height, width = frames[0].shape[:2] if frames else (SIZE, SIZE)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tiny, valid model files (happiness, sadness)."""
    folder = tmp_path_factory.mktemp("models")
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(12, 8, len(LANDMARKS), 3)).astype(np.float32)
    for index, emotion in enumerate(("happiness", "sadness")):
        labels = (np.arange(12) % 2 == index).astype(np.int64)
        model = RandomizedDeepNetwork(NetworkSettings(width=16), device="cpu").fit(inputs, labels)
        save_model(
            model,
            folder / f"{emotion}.pt",
            metadata={
                "emotion": emotion,
                "iteration": 0,
                "landmarks": LANDMARKS,
                "feature_settings": asdict(FeatureSettings()),
            },
        )
    return folder


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    paths: dict[str, Path] = {}
    face = write_video(folder / "face.mp4", [face_image()] * 6)
    full = face.read_bytes()
    paths["truncated"] = folder / "truncated.mp4"
    paths["truncated"].write_bytes(full[: len(full) // 2])
    paths["garbage"] = folder / "garbage.mp4"
    paths["garbage"].write_bytes(np.random.default_rng(0).bytes(3000))
    paths["zero"] = write_video(folder / "zero.mp4", [])
    paths["blank"] = write_video(
        folder / "blank.mp4", [np.full((SIZE, SIZE, 3), 127, np.uint8)] * 6
    )
    paths["tiny"] = write_video(folder / "tiny.mp4", [np.zeros((16, 16, 3), np.uint8)] * 2)
    huge = folder / "huge_frames"
    huge.mkdir()
    Image.new("1", (8000, 8000)).save(huge / "frame_0.png")  # 1-bit: small and fast to write
    paths["huge"] = huge
    two = folder / "two_faces"
    two.mkdir()
    pair = np.concatenate([face_image(), face_image()[:, ::-1]], axis=1)
    for index in range(2):
        cv2.imwrite(str(two / f"frame_{index}.png"), cv2.cvtColor(pair, cv2.COLOR_RGB2BGR))
    paths["two_faces"] = two
    mixed = folder / "mixed"
    mixed.mkdir()
    cv2.imwrite(str(mixed / "a.png"), cv2.cvtColor(face_image(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(mixed / "b.png"), cv2.cvtColor(face_image(128), cv2.COLOR_RGB2BGR))
    paths["mixed"] = mixed
    return paths


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().err


def predict_cli(
    source: Path, models: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    argv = ["predict", str(source), "-o", str(out), "--models", str(models), "--no-progress"]
    return run_cli(argv, capsys)


# -- videos -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["garbage", "truncated", "zero"])
def test_unreadable_video_is_named_and_nothing_written(
    kind: str, videos: dict[str, Path], models: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out.csv"
    code, err = predict_cli(videos[kind], models, out, capsys)
    assert code == 2
    assert f"{videos[kind].name}: unreadable, corrupt or empty" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("kind", "words"), [("tiny", "16x16"), ("huge", "8000x8000")])
def test_extreme_resolution_is_refused_with_the_fix(
    kind: str, words: str, videos: dict[str, Path], models: Path, tmp_path: Path, capsys
) -> None:
    """Decision: frames outside 64 … 4096 pixels per side are refused, before decoding."""
    code, err = predict_cli(videos[kind], models, tmp_path / "out.csv", capsys)
    assert code == 2
    assert videos[kind].name in err and words in err
    assert ("downscale" in err) if kind == "huge" else ("original recording" in err)


def test_several_faces_are_refused_with_the_fix(videos: dict[str, Path]) -> None:
    counter = FaceCounter()
    try:
        with pytest.raises(InputError, match="2 faces") as caught:
            inspect_video(VideoItem("two", str(videos["two_faces"])), faces=counter)
    finally:
        counter.close()
    message = str(caught.value)
    assert message.startswith(str(videos["two_faces"]))
    assert "crop the video" in message and "--several-faces" in message


@pytest.mark.slow
def test_no_face_is_named(videos: dict[str, Path], models: Path, tmp_path: Path, capsys) -> None:
    code, err = predict_cli(videos["blank"], models, tmp_path / "out.csv", capsys)
    assert code == 2
    assert "blank.mp4: no face found in any of its 6 frames" in err


@pytest.mark.slow
def test_mixed_frame_sizes_are_named(
    videos: dict[str, Path], models: Path, tmp_path: Path, capsys
) -> None:
    code, err = predict_cli(videos["mixed"], models, tmp_path / "out.csv", capsys)
    assert code == 2
    assert "mixed: frames have mixed sizes: b.png is 128x128" in err


@pytest.mark.slow
def test_a_bad_video_in_a_list_loses_nothing_else(
    demo_video, models: Path, tmp_path: Path, capsys, caplog
) -> None:
    listing = tmp_path / "videos.csv"
    pl.DataFrame({"path": [str(demo_video), "gone.mp4"], "video_id": ["good", "gone"]}).write_csv(
        listing
    )
    out = tmp_path / "out.parquet"
    code, _ = predict_cli(listing, models, out, capsys)
    assert code == 1  # written, but not every video was scored
    table = pl.read_parquet(out)
    good = table.filter(pl.col("video_id") == "good")
    assert good.height == 2 and good["error"].null_count() == 2
    assert np.isfinite(good["score"].to_numpy()).all()
    gone = table.filter(pl.col("video_id") == "gone")
    assert gone.height == 1 and gone["score"][0] is None
    assert f"{tmp_path / 'gone.mp4'}: does not exist" == gone["error"][0]
    assert "not scored" in caplog.text and "gone.mp4: does not exist" in caplog.text


# -- manifests and ids --------------------------------------------------------------------------
def test_manifest_missing_files_and_unknown_labels(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    (tmp_path / "a.mp4").write_bytes(b"")
    labels.write_text("path,label,subject\na.mp4,happiness,s1\nb.mp4,happiness,s2\n")
    with pytest.raises(InputError, match="do not exist") as caught:
        build_manifest("csv", labels, tmp_path / "manifest.parquet", emotions=["happiness"])
    assert str(labels) in str(caught.value) and "b.mp4" in str(caught.value)
    labels.write_text("path,label,subject\na.mp4,joy,s1\n")
    with pytest.raises(InputError) as caught:
        build_manifest("csv", labels, tmp_path / "manifest.parquet", emotions=["happiness", "fear"])
    message = str(caught.value)
    assert str(labels) in message and "joy" in message and "allowed: happiness, fear" in message
    assert not (tmp_path / "manifest.parquet").exists()


def test_duplicate_video_ids_are_named(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label,subject,video_id\na.mp4,happiness,s1,x\nb.mp4,sadness,s1,x\n")
    with pytest.raises(InputError, match=r"duplicate video_id\(s\): x \(2 rows\)") as caught:
        build_manifest("csv", labels, tmp_path / "m.parquet", check_files=False)
    assert str(labels) in str(caught.value)
    with pytest.raises(ConfigError, match=r"s\.parquet: x"):
        extract_videos([("x", "a.mp4"), ("x", "b.mp4")], tmp_path / "s.parquet")
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("clip.mp4", "clip.avi"):
        (folder / name).write_bytes(b"")
    with pytest.raises(InputError, match=r"duplicate video_id.*clip.*rename") as caught:
        find_videos(folder)
    assert str(folder) in str(caught.value)
    listing = tmp_path / "list.csv"
    listing.write_text("path\nvideos/clip.mp4\nother/clip.mp4\n")
    with pytest.raises(InputError, match=r"list\.csv: duplicate video_id\(s\) clip"):
        find_videos(listing)


# -- outputs never overwrite inputs -------------------------------------------------------------
def test_explain_refuses_to_write_its_video_over_the_input(
    demo_video, models: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    clip = tmp_path / "clip.mp4"
    shutil.copy(demo_video, clip)
    before = clip.read_bytes()
    link = tmp_path / "link.mp4"
    link.symlink_to(clip)
    monkeypatch.chdir(tmp_path)
    image, table = tmp_path / "clip.png", tmp_path / "clip.csv"
    for given in (str(clip), "clip.mp4", "./clip.mp4", str(link)):
        argv = ["explain", str(clip), "--image", str(image), "--table", str(table)]
        code, err = run_cli([*argv, "--video", given, "--models", str(models)], capsys)
        assert code == 2, given
        assert f"{given}: is also an input" in err and "choose another output path" in err
        assert len(err.strip().splitlines()) == 1
        assert clip.read_bytes() == before and link.is_symlink()
        assert not image.exists() and not table.exists()


def test_predict_refuses_an_output_that_is_an_input(
    demo_video, models: Path, tmp_path: Path, capsys
) -> None:
    listing = tmp_path / "videos.csv"
    pl.DataFrame({"path": [str(demo_video)], "video_id": ["good"]}).write_csv(listing)
    before = listing.read_bytes()
    code, err = predict_cli(listing, models, listing, capsys)
    assert code == 2 and f"{listing}: is also an input" in err
    assert listing.read_bytes() == before
    manifest = tmp_path / "manifest.parquet"
    pl.DataFrame({"video_id": ["good"], "path": [str(demo_video)]}).write_parquet(manifest)
    before = manifest.read_bytes()
    alias = tmp_path / "sub" / ".." / "manifest.parquet"
    (tmp_path / "sub").mkdir()
    code, err = predict_cli(manifest, models, alias, capsys)
    assert code == 2 and "is also an input" in err
    assert manifest.read_bytes() == before


def test_landmarks_refuses_to_write_over_its_manifest(
    demo_video, tmp_path: Path, capsys, monkeypatch
) -> None:
    manifest = tmp_path / "manifest.parquet"
    pl.DataFrame({"video_id": ["a"], "path": [str(demo_video)]}).write_parquet(manifest)
    before = manifest.read_bytes()
    monkeypatch.chdir(tmp_path)
    for given in (str(manifest), "manifest.parquet"):
        code, err = run_cli(["landmarks", str(manifest), "-o", given], capsys)
        assert code == 2 and f"{given}: is also an input" in err
        assert manifest.read_bytes() == before
    frames = tmp_path / "frames"
    frames.mkdir()
    Image.fromarray(face_image()).save(frames / "frame_0.png")
    code, err = run_cli(["landmarks", str(frames), "-o", str(frames / "x.parquet")], capsys)
    assert code == 2 and "inside the input frame folder" in err
    assert sorted(p.name for p in frames.iterdir()) == ["frame_0.png"]


# -- configuration ------------------------------------------------------------------------------
def base_config() -> dict:
    return {"dataset": {"adapter": "demo", "source": "resources/demo", "emotions": ["a", "b"]}}


@pytest.mark.parametrize(
    ("section", "value", "expected"),
    [
        (
            ("train", "model", "activation"),
            "softmax",
            "train.model.activation: 'softmax' is not allowed; "
            "allowed values: tanh, sigmoid, relu, gelu",
        ),
        (("features", "center"), "median", "allowed values: mean, nose, none"),
        (("prune", "fraction"), 1.5, "prune.fraction: 1.5 is out of range; allowed: > 0 and < 1"),
        (
            ("landmarks", "n_shards"),
            "four",
            "landmarks.n_shards: 'four' is a str, expected integer",
        ),
        (("train", "colour"), "red", "unknown key(s) train.colour; allowed keys here:"),
        (("dataset", "adapter"), "affectnet", "dataset.adapter: 'affectnet' is not allowed"),
    ],
)
def test_config_errors_name_the_key_and_allowed_values(
    section: tuple[str, ...], value: object, expected: str
) -> None:
    config = base_config()
    node = config
    for key in section[:-1]:
        node = node.setdefault(key, {})
    node[section[-1]] = value
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    assert expected in str(caught.value)


def test_config_defaults_and_coercion() -> None:
    config = base_config()
    config["train"] = {"model": {"width": "64"}}  # as typed on the command line
    filled = validate_config(config)
    assert filled["train"]["model"]["width"] == 64
    assert filled["train"]["model"]["activation"] == "tanh"  # default filled in
    assert filled["attribution"]["n_baselines"] == 5
    assert config["train"]["model"] == {"width": "64"}  # the input is not changed
    with pytest.raises(ConfigError, match=r"missing required key.*dataset"):
        validate_config({})
    assert load_config(ROOT / "config" / "config.yaml")["dataset"]["adapter"] == "demo"


def test_validate_config_command(tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(base_config()))
    code, _ = run_cli(["validate-config", str(good), "--print"], capsys)
    assert code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**base_config(), "prune": {"policy": "random"}}))
    code, err = run_cli(["validate-config", str(bad)], capsys)
    assert code == 2
    assert str(bad) in err and "prune.policy: 'random' is not allowed" in err
    assert "fraction, threshold, share" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("dataset: [unclosed\n")
    code, err = run_cli(["validate-config", str(broken)], capsys)
    assert code == 2 and f"{broken}: not valid YAML" in err


# -- models -------------------------------------------------------------------------------------
def test_model_of_another_emoflow_version(demo_video, models: Path, tmp_path: Path, capsys) -> None:
    old = tmp_path / "old" / "happiness.pt"
    old.parent.mkdir()
    record = torch.load(models / "happiness.pt", weights_only=True)
    record.update(format=1, emoflow_version="0.0.1")
    torch.save(record, old)
    with pytest.raises(InputError, match="retrain the model") as caught:
        load_model(old)
    assert str(old) in str(caught.value) and "emoflow 0.0.1" in str(caught.value)
    code, err = predict_cli(demo_video, old.parent, tmp_path / "out.csv", capsys)
    assert code == 2 and f"{old}: model file format 1" in err
    garbage = tmp_path / "garbage" / "sadness.pt"
    garbage.parent.mkdir()
    garbage.write_bytes(b"not a model")
    code, err = predict_cli(demo_video, garbage.parent, tmp_path / "out.csv", capsys)
    assert code == 2 and f"{garbage}: not a readable emoflow model file" in err


def _rewritten(models: Path, folder: Path, **metadata: object) -> Path:
    folder.mkdir()
    for file in models.glob("*.pt"):
        shutil.copy(file, folder / file.name)
    target = folder / "sadness.pt"
    record = torch.load(target, weights_only=True)
    record["metadata"].update(metadata)
    record["content_sha256"] = content_hash(record)  # as a model trained so would hold
    torch.save(record, target)
    return target


def test_model_landmark_set_not_matching_the_features(
    demo_video, models: Path, tmp_path: Path, capsys
) -> None:
    shorter = _rewritten(models, tmp_path / "shorter", landmarks=LANDMARKS[:-3])
    with pytest.raises(InputError, match="landmark set does not match the model") as caught:
        predict(demo_video, models=[shorter.parent])
    assert str(shorter) in str(caught.value)
    outside = _rewritten(models, tmp_path / "outside", landmarks=[*LANDMARKS[:-1], 500])
    code, err = predict_cli(demo_video, outside.parent, tmp_path / "out.csv", capsys)
    assert code == 2 and f"{outside}: model landmark ids [500] lie outside" in err
    frames = _rewritten(
        models, tmp_path / "frames", feature_settings={**asdict(FeatureSettings()), "n_frames": 5}
    )
    with pytest.raises(InputError, match=r"features of shape \(5, 30, 3\)") as caught:
        predict(demo_video, models=[frames.parent])
    assert str(frames) in str(caught.value)


def test_bad_output_names_and_options(demo_video, models: Path, tmp_path: Path, capsys) -> None:
    code, err = predict_cli(demo_video, models, tmp_path / "out.xlsx", capsys)
    assert code == 2 and "out.xlsx: the output must end in .csv or .parquet" in err
    missing = tmp_path / "nowhere"
    code, err = run_cli(
        ["predict", str(demo_video), "-o", "x.csv", "--results", str(missing)], capsys
    )
    assert code == 2 and f"{missing}: results folder does not exist" in err
    (missing / "iter_0").mkdir(parents=True)
    code, err = run_cli(
        ["predict", str(demo_video), "-o", "x.csv", "--results", str(missing)], capsys
    )
    assert code == 2 and "summary.parquet: does not exist" in err and "--iteration" in err

"""The model file: random layers redrawn from the seed and checked, the content hashed and
checked; files of formats 2 and 3 refused."""

from __future__ import annotations

import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from emoflow.errors import InputError
from emoflow.models import (
    NetworkSettings,
    RandomizedDeepNetwork,
    load_model,
    make_model,
    make_settings,
    save_model,
)
from emoflow.models.rvfl import clear_random_weight_cache
from emoflow.storage.model_file import MODEL_FORMAT, content_hash

REPO = Path(__file__).resolve().parents[1]
SETTINGS = [
    NetworkSettings(width=16, n_layers=2, seed=5),
    NetworkSettings(width=16, n_layers=3, ensemble="layers", seed=5),
    NetworkSettings(width=16, n_layers=2, ensemble="seeds", n_estimators=3, seed=5),
    NetworkSettings(width=16, n_layers=2, direct_link=False, activation="gelu", seed=5),
]


def _save_sealed(record: dict[str, Any], path: Path) -> None:
    """Save a changed record with a matching content hash, as a file written so would be."""
    record["content_sha256"] = content_hash(record)
    torch.save(record, path)


def _data(rng: np.random.Generator, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    inputs = rng.normal(size=(n, 4, 10, 3)).astype(np.float32)
    labels = (np.arange(n) % 2).astype(np.int64)
    inputs[labels == 1, :, 3, :] += 1.5
    return inputs, labels


def _fitted(rng: np.random.Generator, settings: NetworkSettings) -> tuple[Any, np.ndarray]:
    inputs, labels = _data(rng)
    return RandomizedDeepNetwork(settings, device="cpu").fit(inputs, labels), inputs


@pytest.mark.parametrize("settings", SETTINGS, ids=["rvfl", "layers", "seeds", "elm-gelu"])
def test_reload_redraws_the_random_layers_bit_identically(rng, tmp_path, settings) -> None:
    model, inputs = _fitted(rng, settings)
    save_model(model, tmp_path / "m.pt", metadata={"emotion": "x"})
    record = torch.load(tmp_path / "m.pt", weights_only=True)
    assert record["format"] == MODEL_FORMAT == 4
    assert record["content_sha256"] == content_hash(record)
    assert not [name for name in record["state_dict"] if name.startswith("hidden_.")]
    assert record["redrawn"]["names"] and len(record["redrawn"]["sha256"]) == 64
    clear_random_weight_cache()  # redrawn, not taken from the cache of the fit
    loaded, _ = load_model(tmp_path / "m.pt", device="cpu")
    np.testing.assert_array_equal(loaded.decision_function(inputs), model.decision_function(inputs))
    for ours, theirs in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(ours, theirs)


def test_backprop_models_store_every_weight(rng, tmp_path) -> None:
    inputs, labels = _data(rng)
    settings = make_settings("mlp", {"width": 8, "max_epochs": 3})
    model = make_model("mlp", settings, device="cpu").fit(inputs, labels)
    save_model(model, tmp_path / "mlp.pt", metadata={})
    record = torch.load(tmp_path / "mlp.pt", weights_only=True)
    assert record["redrawn"]["names"] == []
    assert set(record["state_dict"]) == set(model.state_dict())
    loaded, _ = load_model(tmp_path / "mlp.pt", device="cpu")
    np.testing.assert_array_equal(loaded.decision_function(inputs), model.decision_function(inputs))


def test_random_layers_that_do_not_reproduce_the_model_are_refused(rng, tmp_path) -> None:
    model, _ = _fitted(rng, SETTINGS[0])
    save_model(model, tmp_path / "m.pt", metadata={})
    record = torch.load(tmp_path / "m.pt", weights_only=True)
    # as if this torch drew other numbers from the seed than the one that trained the model
    record["redrawn"]["sha256"] = "0" * 64
    record["torch_version"] = "9.9.9"
    _save_sealed(record, tmp_path / "other_torch.pt")
    with pytest.raises(InputError, match=r"other_torch\.pt: .*seed 5.*torch 9\.9\.9.*checksum"):
        load_model(tmp_path / "other_torch.pt", device="cpu")
    record = torch.load(tmp_path / "m.pt", weights_only=True)
    record["settings"]["seed"] = 6
    _save_sealed(record, tmp_path / "other_seed.pt")
    with pytest.raises(InputError, match=r"other_seed\.pt: .*checksum"):
        load_model(tmp_path / "other_seed.pt", device="cpu")
    record = torch.load(tmp_path / "m.pt", weights_only=True)
    del record["state_dict"]["readout_"]
    _save_sealed(record, tmp_path / "no_readout.pt")
    with pytest.raises(InputError, match=r"no_readout\.pt: .*readout_"):
        load_model(tmp_path / "no_readout.pt", device="cpu")


def _flip_in_entry(path: Path, part: str) -> Path:
    """Flip one byte in the middle of the largest stored (uncompressed) zip entry whose name
    holds ``part``."""
    with zipfile.ZipFile(path) as archive:
        entry = max(
            (info for info in archive.infolist() if part in info.filename),
            key=lambda info: info.file_size,
        )
        assert entry.compress_type == zipfile.ZIP_STORED
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", data[entry.header_offset + 26 :][:4])
    start = entry.header_offset + 30 + name_length + extra_length
    data[start + entry.file_size // 2] ^= 0x5A
    flipped = path.with_name("flipped_" + path.name)
    flipped.write_bytes(bytes(data))
    return flipped


def test_a_flipped_byte_in_the_tensor_data_is_refused_naming_the_file(rng, tmp_path) -> None:
    model, _ = _fitted(rng, SETTINGS[0])
    save_model(model, tmp_path / "m.pt", metadata={"emotion": "x"})
    flipped = _flip_in_entry(tmp_path / "m.pt", "/data/")  # the largest tensor's bytes
    # torch itself reads the damaged file without a word: the hash is what catches it
    damaged = torch.load(flipped, weights_only=True)["state_dict"]
    stored = torch.load(tmp_path / "m.pt", weights_only=True)["state_dict"]
    assert sum(not torch.equal(damaged[name], stored[name]) for name in stored) == 1
    with pytest.raises(
        InputError,
        match=r"flipped_m\.pt: model file is damaged.*SHA-256.*--forcerun start_chains prune_chain",
    ):
        load_model(flipped, device="cpu")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((tmp_path / "m.pt").read_bytes()[:-200])
    with pytest.raises(InputError, match=r"truncated\.pt: not a readable .*--forcerun"):
        load_model(truncated, device="cpu")


@pytest.mark.parametrize("old", [2, 3])
def test_files_of_formats_2_and_3_are_refused_naming_the_format(rng, tmp_path, old) -> None:
    model, _ = _fitted(rng, SETTINGS[0])
    save_model(model, tmp_path / "new.pt", metadata={"emotion": "x"})
    record = torch.load(tmp_path / "new.pt", weights_only=True)
    del record["content_sha256"]
    record["format"] = old
    record["emoflow_version"] = "0.0.9"
    torch.save(record, tmp_path / "old.pt")
    with pytest.raises(
        InputError,
        match=rf"old\.pt: model file format {old} \(emoflow 0\.0\.9\) is not format 4 .*retrain",
    ):
        load_model(tmp_path / "old.pt", device="cpu")


def test_a_format_4_file_without_its_content_hash_is_refused(rng, tmp_path) -> None:
    model, _ = _fitted(rng, SETTINGS[0])
    save_model(model, tmp_path / "new.pt", metadata={"emotion": "x"})
    record = torch.load(tmp_path / "new.pt", weights_only=True)
    del record["content_sha256"]
    # a format-4 file must hold its hash: one without is refused, not taken for an old file
    record["format"] = 4
    torch.save(record, tmp_path / "unsealed.pt")
    with pytest.raises(InputError, match=r"unsealed\.pt: model file is damaged"):
        load_model(tmp_path / "unsealed.pt", device="cpu")


def test_fitting_and_loading_the_network_imports_no_sympy(tmp_path) -> None:
    probe = f"""
import sys
import numpy as np
from emoflow.models import NetworkSettings, RandomizedDeepNetwork, load_model, save_model
inputs = np.random.default_rng(0).normal(size=(20, 4, 10, 3)).astype(np.float32)
net = RandomizedDeepNetwork(NetworkSettings(width=8), device="cpu").fit(inputs, np.arange(20) % 2)
save_model(net, {str(tmp_path / "m.pt")!r}, metadata={{}})
load_model({str(tmp_path / "m.pt")!r}, device="cpu")[0].decision_function(inputs)
print("sympy" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"

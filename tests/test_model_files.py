"""The model file: random layers redrawn from the seed and checked; format 2 still loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from emoflow.errors import InputError
from emoflow.models import (
    MODEL_FORMAT,
    NetworkSettings,
    RandomizedDeepNetwork,
    load_model,
    make_model,
    make_settings,
    save_model,
)
from emoflow.models.rvfl import clear_random_weight_cache

REPO = Path(__file__).resolve().parents[1]
SETTINGS = [
    NetworkSettings(width=16, n_layers=2, seed=5),
    NetworkSettings(width=16, n_layers=3, ensemble="layers", seed=5),
    NetworkSettings(width=16, n_layers=2, ensemble="seeds", n_estimators=3, seed=5),
    NetworkSettings(width=16, n_layers=2, direct_link=False, activation="gelu", seed=5),
]


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
    assert record["format"] == MODEL_FORMAT == 3
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


def test_format_2_files_with_the_random_layers_still_load(rng, tmp_path) -> None:
    model, inputs = _fitted(rng, SETTINGS[2])
    save_model(model, tmp_path / "new.pt", metadata={"emotion": "x"})
    record = torch.load(tmp_path / "new.pt", weights_only=True)
    del record["redrawn"], record["torch_version"]
    record["format"] = 2
    record["state_dict"] = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    torch.save(record, tmp_path / "old.pt")
    loaded, metadata = load_model(tmp_path / "old.pt", device="cpu")
    assert metadata["emotion"] == "x"
    np.testing.assert_array_equal(loaded.decision_function(inputs), model.decision_function(inputs))
    # the stored layers are the model's, and loading them never writes into the cached draw
    # that other models of the same seed share
    drawn = [parameter.clone() for parameter in model.hidden_.parameters()]
    record["state_dict"]["hidden_.0.0.weight"] += 1.0
    torch.save(record, tmp_path / "other_layers.pt")
    loaded, _ = load_model(tmp_path / "other_layers.pt", device="cpu")
    assert torch.equal(loaded.hidden_[0][0].weight, record["state_dict"]["hidden_.0.0.weight"])
    refit, _ = _fitted(np.random.default_rng(0), SETTINGS[2])
    for ours, theirs in zip(refit.hidden_.parameters(), drawn, strict=True):
        assert torch.equal(ours, theirs)


def test_random_layers_that_do_not_reproduce_the_model_are_refused(rng, tmp_path) -> None:
    model, _ = _fitted(rng, SETTINGS[0])
    save_model(model, tmp_path / "m.pt", metadata={})
    record = torch.load(tmp_path / "m.pt", weights_only=True)
    # as if this torch drew other numbers from the seed than the one that trained the model
    record["redrawn"]["sha256"] = "0" * 64
    record["torch_version"] = "9.9.9"
    torch.save(record, tmp_path / "other_torch.pt")
    with pytest.raises(InputError, match=r"other_torch\.pt: .*seed 5.*torch 9\.9\.9.*checksum"):
        load_model(tmp_path / "other_torch.pt", device="cpu")
    record = torch.load(tmp_path / "m.pt", weights_only=True)
    record["settings"]["seed"] = 6
    torch.save(record, tmp_path / "other_seed.pt")
    with pytest.raises(InputError, match=r"other_seed\.pt: .*checksum"):
        load_model(tmp_path / "other_seed.pt", device="cpu")
    record = torch.load(tmp_path / "m.pt", weights_only=True)
    del record["state_dict"]["readout_"]
    torch.save(record, tmp_path / "no_readout.pt")
    with pytest.raises(InputError, match=r"no_readout\.pt: .*readout_"):
        load_model(tmp_path / "no_readout.pt", device="cpu")


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

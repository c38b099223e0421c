"""Pruning policies: symmetric pairs, floors and early stopping."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from emoflow._atomic import write_json
from emoflow.errors import ConfigError
from emoflow.facemesh.mesh import N_LANDMARKS, mirror_pairs
from emoflow.pruning import PruneSettings
from emoflow.pruning.pruner import LandmarkPruner, prune_iteration, should_stop


def test_mirror_pairs_are_an_involution() -> None:
    partner = mirror_pairs()
    assert partner.shape == (N_LANDMARKS,)
    np.testing.assert_array_equal(partner[partner], np.arange(N_LANDMARKS))
    assert partner[33] == 263 and partner[61] == 291  # outer eye corners, mouth corners
    assert partner[1] == 1  # nose tip is on the midline


def test_symmetric_pruning_keeps_pairs_together(rng) -> None:
    landmarks = np.arange(N_LANDMARKS)
    scores = rng.random(N_LANDMARKS)
    settings = PruneSettings(fraction=0.5, min_landmarks=1, symmetric=True)
    keep = LandmarkPruner(settings).fit(scores, landmarks).keep_mask_
    partner = mirror_pairs()
    kept = set(np.flatnonzero(keep).tolist())
    assert all(int(partner[i]) in kept for i in kept)
    assert abs(keep.sum() - N_LANDMARKS / 2) <= 2  # a pair may overshoot by one


def test_symmetric_pruning_needs_ids(rng) -> None:
    with pytest.raises(ConfigError, match="landmark ids"):
        LandmarkPruner(PruneSettings(symmetric=True)).fit(rng.random(10))


def test_floor_wins_over_policy() -> None:
    scores = np.linspace(1.0, 0.0, 40)
    keep = LandmarkPruner(PruneSettings(policy="threshold", threshold=0.99, min_landmarks=12))
    assert keep.fit(scores).keep_mask_.sum() == 12


@pytest.mark.parametrize(
    ("history", "tolerance", "expected"),
    [
        ([0.9, 0.95, 0.93], 0.01, True),
        ([0.9, 0.95, 0.945], 0.01, False),
        ([0.9, 0.5], None, False),
        ([0.9], 0.0, False),
    ],
)
def test_should_stop(history, tolerance, expected) -> None:
    assert should_stop(history, tolerance) is expected


def _store_scores(path, emotions, scores) -> None:
    import zarr

    root = zarr.open_group(str(path), mode="w")
    array = root.create_array("scores", shape=scores.shape, dtype="float32")
    array[...] = scores
    root.attrs.update({"emoflow_store": "attributions", "emotions": emotions})


def test_early_stopping_freezes_an_emotion(tmp_path, rng) -> None:
    emotions = ["joy", "fear"]
    _store_scores(tmp_path / "attr.zarr", emotions, rng.random((2, N_LANDMARKS)))
    start = list(range(N_LANDMARKS))
    write_json(tmp_path / "landmarks.json", {"emotions": {e: start for e in emotions}})
    metrics = []
    for i, (joy, fear) in enumerate([(0.90, 0.90), (0.95, 0.80)]):
        path = tmp_path / f"metrics_{i}.json"
        write_json(
            path,
            {
                "emotions": {
                    "joy": {"mean": {"balanced_accuracy": joy}},
                    "fear": {"mean": {"balanced_accuracy": fear}},
                }
            },
        )
        metrics.append(path)
    record = prune_iteration(
        tmp_path / "attr.zarr",
        tmp_path / "landmarks.json",
        tmp_path / "next.json",
        settings=PruneSettings(fraction=0.5, stop_tolerance=0.05),
        metrics_paths=metrics,
    )
    assert record["stopped"] == {"joy": False, "fear": True}
    assert len(record["emotions"]["fear"]) == N_LANDMARKS
    assert len(record["emotions"]["joy"]) == N_LANDMARKS // 2
    # once stopped, an emotion stays stopped
    again = prune_iteration(
        tmp_path / "attr.zarr",
        tmp_path / "next.json",
        tmp_path / "after.json",
        settings=PruneSettings(fraction=0.5, stop_tolerance=0.05),
    )
    assert again["stopped"]["fear"] is True


def test_another_policys_setting_is_said_to_be_ignored(caplog: pytest.LogCaptureFixture) -> None:
    """A value of a policy that is not chosen, different from its default, is logged as
    ignored both where the settings are made and where the workflow passes the section to its
    rules (which drop it: it cannot change a result); a default value says nothing."""
    from emoflow.pruning.settings import ignored_settings

    assert ignored_settings({"policy": "share", "threshold": 0.2, "fraction": 0.3}) == [
        "prune.threshold = 0.2 is ignored: policy share uses prune.share"
    ]
    assert ignored_settings({"policy": "fraction", "threshold": 0.05}) == []
    with caplog.at_level(logging.WARNING):
        assert "threshold" not in PruneSettings.rule_params(
            {"policy": "fraction", "threshold": 0.2}
        )
        PruneSettings(policy="share", fraction=0.5)
    assert [r.getMessage() for r in caplog.records] == [
        "prune.threshold = 0.2 is ignored: policy fraction uses prune.fraction",
        "prune.fraction = 0.5 is ignored: policy share uses prune.share",
    ]

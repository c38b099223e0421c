"""What a configuration asks of memory: every size setting's cost per job, in one table.

The schema bounds each key on its own; :data:`JOB_MEMORY` says what the keys cost together.
Each entry names a job (a workflow rule, or planning the run), the keys it depends on, and
a *lower bound* of the bytes it allocates at once, from the settings and (where known) the
number of videos. :func:`memory_problems` sums the entries per job and refuses every job whose
bound exceeds what the machine can give one job (:func:`machine_memory`, or
``max_job_memory_gb``), naming the job, its bound and the keys that make it up, before
anything runs. Bounds, not estimates: a refused setting could never have run, and a setting
let through may still need more (the rules' ``mem_mb`` and the job's own failure say so).

The numbers (where measured, on the development machine):

- planning: :func:`emoflow.manifest.plan_manifest` and the shard plan take ~0.6 kB per video
  (64 MB more for 108,000 more demo videos); a plan entry per shard ~200 B;
- ``extract_landmarks``: the frame numbers the features read, 8 bytes per feature frame
  (``features.n_frames: 1e9`` took 7.45 GiB), and the meshed frames' landmarks;
- ``build_features`` and the chain jobs (``start_chains``, ``prune_chain``,
  ``compare_pruning``): the feature array, float32 of ``videos × n_frames × 478 × 3``;
- the chain jobs: the randomized network's first layer (float32, inputs × width, one per
  drawn network), its Gram matrix (float64, the smaller of samples and design columns,
  squared); Gauss–Legendre nodes (:func:`numpy.polynomial.legendre.leggauss` builds an
  ``n_steps × n_steps`` float64 matrix: ``n_steps: 1e8`` asked for 71.1 PiB); the exact path
  integral's activations, ``batch × baselines × (n_steps + 2) × width`` float32 per layer.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_POINTS = 478
"""Landmarks per face of the largest scheme (MediaPipe with iris points)."""
PLAN_BYTES_PER_VIDEO = 512
"""Planning memory per video (measured ~0.6 kB)."""
PLAN_BYTES_PER_SHARD = 200


@dataclass(frozen=True)
class Sizes:
    """The sizes the bounds are computed from (a validated configuration, defaults filled)."""

    config: Mapping[str, Any]
    n_videos: int
    """Videos of the data set: planned (the demo's from its settings), else 0 (unknown)."""

    def get(self, key: str) -> Any:
        value: Any = self.config
        for part in key.split("."):
            value = value[part]
        return value

    @property
    def n_frames(self) -> int:
        return int(self.get("features.n_frames"))

    @property
    def inputs(self) -> int:
        """Numbers per sample: frames × landmarks × 3."""
        return self.n_frames * MAX_POINTS * 3

    @property
    def widths(self) -> list[int]:
        """The hidden widths trained (the model's and the inner search's)."""
        return [int(self.get("train.model.width")), *self.get("train.selection.width_grid")]

    @property
    def drawn_networks(self) -> int:
        model = self.get("train.model")
        return int(model["n_estimators"]) if model["ensemble"] == "seeds" else 1

    @property
    def captum(self) -> bool:
        """Whether attribution runs through Captum (not the exact path integral)."""
        return (
            self.get("train.model.kind") != "rvfl"
            or self.get("attribution.method") != "integrated_gradients"
        )


@dataclass(frozen=True)
class Cost:
    """One allocation a job makes: ``bytes(sizes)`` is a lower bound of its size."""

    job: str
    keys: tuple[str, ...]
    what: str
    bytes: Callable[[Sizes], float]


def _demo_videos(sizes: Sizes) -> float:
    if sizes.get("dataset.adapter") != "demo":
        return 0.0
    demo = sizes.get("demo")
    return float(demo["n_subjects"]) * demo["repetitions"] * len(sizes.get("dataset.emotions"))


def _gram(sizes: Sizes) -> float:
    model = sizes.get("train.model")
    if model["kind"] != "rvfl" or not sizes.n_videos:
        return 0.0
    columns = (sizes.inputs if model["direct_link"] else 0) + model["n_layers"] * max(sizes.widths)
    return 8.0 * min(sizes.n_videos, columns + 1) ** 2


def _path_integral(sizes: Sizes) -> float:
    if sizes.captum:
        return 0.0
    attribution, model = sizes.get("attribution"), sizes.get("train.model")
    rows = attribution["batch_size"] * attribution["n_baselines"]
    return 4.0 * rows * (attribution["n_steps"] + 2) * max(sizes.widths) * model["n_layers"]


JOB_MEMORY: tuple[Cost, ...] = (
    Cost(
        "planning the run (snakemake, before any job)",
        ("demo.n_subjects", "demo.repetitions", "dataset.emotions"),
        "the planned manifest, ~0.5 kB per video",
        lambda s: PLAN_BYTES_PER_VIDEO * max(_demo_videos(s), s.n_videos),
    ),
    Cost(
        "planning the run (snakemake, before any job)",
        ("landmarks.n_shards",),
        "the shard plan, ~200 B per shard",
        lambda s: PLAN_BYTES_PER_SHARD * float(s.get("landmarks.n_shards")),
    ),
    Cost(
        "make_demo",
        ("demo.size", "demo.n_frames"),
        "a rendered frame's buffers (float32 RGB) and the face's motion, float64 per frame",
        lambda s: (
            4.0 * 3 * s.get("demo.size") ** 2 * 4 + 8.0 * s.get("demo.n_frames") * MAX_POINTS * 3
            if s.get("dataset.adapter") == "demo"
            else 0.0
        ),
    ),
    Cost(
        "extract_landmarks",
        ("features.n_frames",),
        "the frame numbers the features read and their landmarks",
        lambda s: s.n_frames * (8.0 + 2 * MAX_POINTS * 3 * 4),
    ),
    Cost(
        "build_features",
        ("videos", "features.n_frames"),
        "the feature array, float32 of videos × frames × 478 × 3",
        lambda s: 4.0 * s.n_videos * s.inputs,
    ),
    Cost(
        "prune_chain",
        ("videos", "features.n_frames"),
        "the feature array, float32 of videos × frames × 478 × 3",
        lambda s: 4.0 * s.n_videos * s.inputs,
    ),
    Cost(
        "prune_chain",
        (
            "features.n_frames",
            "train.model.width",
            "train.selection.width_grid",
            "train.model.n_estimators",
        ),
        "the randomized network's first layers, float32 of inputs × width per network",
        lambda s: 4.0 * s.inputs * max(s.widths) * s.drawn_networks,
    ),
    Cost(
        "prune_chain",
        ("train.model.width", "train.model.n_layers"),
        "the hidden layers after the first, float32 of width × width each",
        lambda s: 4.0 * max(s.widths) ** 2 * (s.get("train.model.n_layers") - 1),
    ),
    Cost(
        "prune_chain",
        ("videos", "features.n_frames", "train.model.width", "train.model.n_layers"),
        "the ridge read-out's Gram matrix, float64",
        _gram,
    ),
    Cost(
        "prune_chain",
        ("features.n_frames", "train.backprop.width", "train.backprop.batch_size"),
        "the backprop baseline's first layer and one batch",
        lambda s: (
            4.0 * s.inputs * (s.get("train.backprop.width") + s.get("train.backprop.batch_size"))
            if s.get("train.model.kind") != "rvfl"
            else 0.0
        ),
    ),
    Cost(
        "prune_chain",
        ("attribution.n_steps", "attribution.quadrature"),
        "the Gauss–Legendre nodes (numpy builds an n_steps × n_steps float64 matrix)",
        lambda s: (
            8.0 * float(s.get("attribution.n_steps")) ** 2
            if s.get("attribution.quadrature") == "gausslegendre"
            else 8.0 * s.get("attribution.n_steps")
        ),
    ),
    Cost(
        "prune_chain",
        (
            "attribution.batch_size",
            "attribution.n_baselines",
            "attribution.n_steps",
            "train.model.width",
        ),
        "the exact path integral's activations, float32 of batch × baselines × steps × width",
        _path_integral,
    ),
    Cost(
        "prune_chain",
        ("attribution.internal_batch_size", "features.n_frames"),
        "one of Captum's passes: inputs and gradients of internal_batch_size rows",
        lambda s: 3 * 4.0 * s.get("attribution.internal_batch_size") * s.inputs if s.captum else 0,
    ),
    Cost(
        "prune_chain",
        ("attribution.n_baselines", "features.n_frames"),
        "the baselines, float32 of baselines × frames × 478 × 3",
        lambda s: 4.0 * s.get("attribution.n_baselines") * s.inputs,
    ),
)
"""Every size setting's memory, by job (see the module docstring)."""


def machine_memory() -> int:
    """Bytes one job can have here: the physical memory, or the cgroup's limit when lower."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no bound from the machine
        total = 0
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < (total or math.inf):
            total = int(text)
    return int(total)


def _size(count: float) -> str:
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    exponent = 0 if count < 1000 else min(int(math.log10(count) // 3), len(units) - 1)
    return f"{count / 1000**exponent:.1f} {units[exponent]}"


def _shown(sizes: Sizes, key: str) -> str:
    if key == "videos":
        if sizes.get("dataset.adapter") == "demo":
            demo = sizes.get("demo")
            return (
                f"{sizes.n_videos} videos (demo.n_subjects = {demo['n_subjects']} × "
                f"demo.repetitions = {demo['repetitions']} × "
                f"{len(sizes.get('dataset.emotions'))} emotions)"
            )
        return f"{sizes.n_videos} videos in the data set"
    try:
        value = sizes.get(key)
    except (KeyError, TypeError):
        return key
    if key == "dataset.emotions":
        return f"{len(value)} emotions"
    return f"{key} = {value}"


def memory_problems(
    config: Mapping[str, Any], *, n_videos: int | None = None, budget: int | None = None
) -> list[str]:
    """One line per job whose memory bound exceeds the budget, naming its keys.

    Parameters
    ----------
    config
        A configuration that passed the schema (defaults filled).
    n_videos
        Videos of the data set, when known (the planned manifest); the demo's are known
        from its settings.
    budget
        Bytes one job may use; default ``max_job_memory_gb``, else :func:`machine_memory`.
    """
    limit_gb = config.get("max_job_memory_gb")
    if budget is None:
        budget = int(limit_gb * 1e9) if limit_gb else machine_memory()
    if not budget:
        return []
    sizes = Sizes(config, int(n_videos if n_videos is not None else _demo_videos(Sizes(config, 0))))
    by_job: dict[str, list[tuple[float, Cost]]] = {}
    for cost in JOB_MEMORY:
        by_job.setdefault(cost.job, []).append((float(cost.bytes(sizes)), cost))
    lines = []
    for job, costs in by_job.items():
        total = sum(amount for amount, _ in costs)
        if total <= budget:
            continue
        amount, largest = max(costs, key=lambda item: item[0])
        keys = ", ".join(_shown(sizes, key) for key in largest.keys)
        where = (
            f"max_job_memory_gb = {limit_gb}"
            if limit_gb
            else f"the {_size(budget)} this machine has (set max_job_memory_gb where jobs run "
            "on bigger machines)"
        )
        lines.append(
            f"{job}: at least {_size(total)} per job ({_size(amount)} for {largest.what}, from "
            f"{keys}), more than {where}"
        )
    return lines

"""GPU evidence (issue #7): the train and attribute stages on CUDA versus CPU, same data.

Writes a synthetic feature store (planted landmarks, :mod:`emoflow.synthetic`) of a realistic
size into a temporary folder, then runs :func:`emoflow.training.train_iteration` and
:func:`emoflow.attribution.attribute_emotion` for each emotion — all emotions in one
process; the workflow's chain jobs run the same code — once on the CPU and once on CUDA,
and prints the wall time of each and the speed-up. It also checks that both devices reach the
same answer (accuracy, and the landmark relevance ranking).

Without CUDA it says so and exits 0 (``--cpu-only`` still times the CPU side, to check the
script itself)::

    .venv/bin/python benchmarks/gpu_speedup.py
    .venv/bin/python benchmarks/gpu_speedup.py --subjects 60 --width 2048 --json out.json

The defaults (576 samples of 8 × 478 × 3, a 2 × 512 network, IG with 32 nodes and 5
baselines) are the scale of a RAVDESS-size study after feature extraction.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _write_data(root: Path, args: argparse.Namespace) -> tuple[Path, Path, int]:
    from emoflow.pruning import initial_landmark_set
    from emoflow.synthetic import planted_features

    emotions = ("happiness", "sadness", "surprise", "anger", "disgust", "fear")
    data = planted_features(
        emotions=emotions[: args.emotions],
        n_subjects=args.subjects,
        repetitions=args.repetitions,
        n_frames=args.frames,
        seed=0,
    )
    features = data.write_store(root / "features.zarr")
    landmarks = root / "landmarks.json"
    initial_landmark_set(features, landmarks)
    return features, landmarks, len(data.video_ids)


def _synchronise(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _warm_up(device: str) -> None:
    """Create the CUDA context and load cuBLAS/cuSOLVER before anything is timed."""
    import torch

    if not device.startswith("cuda"):
        return
    matrix = torch.randn(256, 256, device=device, dtype=torch.float64)
    torch.linalg.solve(
        matrix @ matrix.T + torch.eye(256, device=device, dtype=torch.float64), matrix
    )
    _synchronise(device)


def _run_device(
    device: str, features: Path, landmarks: Path, root: Path, args: argparse.Namespace
) -> dict[str, Any]:
    from emoflow.attribution import AttributionSettings, attribute_emotion
    from emoflow.layout import ResultsLayout
    from emoflow.storage.attribution_store import load_scores
    from emoflow.training import train_iteration

    _warm_up(device)
    out = root / device.replace(":", "_")
    out.mkdir()
    network = {"n_layers": args.layers, "width": args.width}
    times: dict[str, float] = {}
    start = time.perf_counter()
    metrics = train_iteration(
        features, landmarks, out, network=network, n_folds=args.folds, device=device
    )
    _synchronise(device)
    times["train"] = time.perf_counter() - start
    start = time.perf_counter()
    layout = ResultsLayout(out)
    for model in layout.model_files(0):  # each emotion's store, as the workflow writes it
        attribute_emotion(
            features,
            layout.landmark_sets(0, model.parent.name),
            model,
            layout.attributions(0, model.parent.name),
            emotion=model.parent.name,
            settings=AttributionSettings(n_steps=args.steps, n_baselines=args.baselines),
            device=device,
        )
    _synchronise(device)
    times["attribute"] = time.perf_counter() - start
    _, scores = load_scores(layout.attribution_stores(0))
    return {"times": times, "metrics": metrics, "scores": scores}


def _accuracy(metrics: dict[str, Any]) -> float:
    """Mean over emotions of the cross-validated balanced accuracy, where reported."""
    values = []
    for record in metrics.get("emotions", {}).values():
        mean = record.get("mean", {}) if isinstance(record, dict) else {}
        value = mean.get("balanced_accuracy") if isinstance(mean, dict) else None
        if isinstance(value, int | float):
            values.append(float(value))
    return float(np.mean(values)) if values else float("nan")


def _rank_agreement(first: np.ndarray, second: np.ndarray) -> float:
    """Mean over emotions of the Spearman correlation of two relevance vectors."""
    correlations = []
    for a, b in zip(first, second, strict=True):
        keep = np.isfinite(a) & np.isfinite(b)
        ranks_a = np.argsort(np.argsort(a[keep]))
        ranks_b = np.argsort(np.argsort(b[keep]))
        correlations.append(float(np.corrcoef(ranks_a, ranks_b)[0, 1]))
    return float(np.mean(correlations))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=24)
    parser.add_argument("--repetitions", type=int, default=4)
    parser.add_argument("--emotions", type=int, default=6, choices=range(2, 7))
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=32, help="integration nodes of IG")
    parser.add_argument("--baselines", type=int, default=5)
    parser.add_argument("--device", default="cuda", help="the CUDA device to compare")
    parser.add_argument("--cpu-only", action="store_true", help="time the CPU side only")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available() and not args.cpu_only:
        print(
            f"CUDA is unavailable here (torch {torch.__version__}, "
            f"CUDA build: {torch.version.cuda or 'none'}): no GPU to compare against the CPU. "
            "Run this on a machine with a GPU and a CUDA build of torch."
        )
        return 0
    devices = ["cpu"] if args.cpu_only else ["cpu", args.device]

    with tempfile.TemporaryDirectory(prefix="emoflow-gpu-") as folder:
        root = Path(folder)
        features, landmarks, n_samples = _write_data(root, args)
        print(
            f"{n_samples} samples × {args.frames} frames × 478 landmarks × 3, "
            f"{args.emotions} emotions, {args.folds} folds; network {args.layers}×{args.width}; "
            f"IG with {args.steps} nodes × {args.baselines} baselines; "
            f"CPU threads: {torch.get_num_threads()}",
            flush=True,
        )
        results = {}
        for device in devices:
            results[device] = _run_device(device, features, landmarks, root, args)
            label = torch.cuda.get_device_name(device) if device.startswith("cuda") else "CPU"
            print(
                f"  {device} ({label}): "
                + ", ".join(f"{k} {v:.2f} s" for k, v in results[device]["times"].items()),
                flush=True,
            )

    report: dict[str, Any] = {"n_samples": n_samples, "settings": vars(args) | {"json": None}}
    print(f"\n{'stage':<10} " + " ".join(f"{d + ' s':>10}" for d in devices), end="")
    print(f" {'speed-up':>9}" if len(devices) == 2 else "")
    for stage in ("train", "attribute", "total"):
        seconds = [
            sum(results[d]["times"].values()) if stage == "total" else results[d]["times"][stage]
            for d in devices
        ]
        line = f"{stage:<10} " + " ".join(f"{value:>10.2f}" for value in seconds)
        if len(devices) == 2:
            line += f" {seconds[0] / seconds[1]:>8.1f}×"
        print(line)
        report[stage] = dict(zip(devices, seconds, strict=True))
    for device in devices:
        report[f"accuracy_{device}"] = _accuracy(results[device]["metrics"])
    if len(devices) == 2:
        cpu, gpu = (results[d] for d in devices)
        report["relevance_rank_agreement"] = _rank_agreement(cpu["scores"], gpu["scores"])
        print(
            f"\nbalanced accuracy: cpu {report['accuracy_cpu']:.3f}, "
            f"{args.device} {report[f'accuracy_{args.device}']:.3f}; "
            f"relevance ranking agreement (Spearman): {report['relevance_rank_agreement']:.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

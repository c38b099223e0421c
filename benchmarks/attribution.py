"""Improved Integrated Gradients: does it find what matters, faithfully, cheaply, in bounded memory?

Usage::

    .venv/bin/python benchmarks/attribution.py [--seeds 2] [--demo] [--device cpu]
        [--threads 2] [--skip planted faithfulness cost fast_ig memory] [--json out.json]

Five reports, each printed as a table:

1. **Planted signal** — :func:`emoflow.synthetic.planted_features` with 8 planted landmarks per
   emotion among 478, 16 distractors moving ≈2.4× as far as a planted landmark, 16 landmarks
   whose per-frame noise is ≈1.6× the planted peak, and a neutral class; one default
   randomized network per emotion. Precision@8 of each method's ranking against the planted
   landmarks, per emotion (mean over seeds), for two data sizes ("10 subjects" is the test's
   set, "6 subjects" has 40 % fewer samples).
2. **Faithfulness** — areas under the deletion curve (the fixed model's ROC-AUC as the top
   landmarks are set to zero, i.e. no motion) and the remove-and-retrain curve (ROAR: ROC-AUC of
   models refitted without them, subject-independent 3-fold cross-validation), on the planted
   sets; lower is better. ``--demo`` adds the demo data set (``results/features.zarr`` and
   ``resources/demo/ground_truth.json`` of ``make demo``), with precision@50 against its
   ground-truth regions and curves reaching 95 % of the landmarks removed.
3. **Cost** — seconds per sample of the improved IG against one forward+backward pass per
   row (same rows per pass), for several ``n_steps`` × ``K``: the overhead ratio
   ``t_attr / (K · n_steps · t_fwd+bwd)`` is 1 when nothing but the path integral is paid for.
4. **Fast IG** — the randomized network's exact path integral (the default
   ``integrated_gradients`` for ``rvfl``) against Captum's ``IntegratedGradients``
   (``integrated_gradients_captum``) on the same 32 demo-sized samples (8 × 478 × 3), default
   network (width 256, 2 layers), K = 5 baselines, 32 steps: wall and CPU milliseconds per
   sample side by side, their ratios, and the largest relative difference of the attributions.
5. **Memory** — growth of the peak resident set while attributing 64, 256 and 1024 samples in
   batches of 16, against the whole set as one batch (a fresh process with a fixed malloc
   policy, Linux only).

Methods compared (:class:`emoflow.attribution.AttributionSettings`): the improved IG with the
defaults (K = 5 centroids of the other emotions' samples, dataset-level ``abs_mean``); the
earlier defaults (5 negative medoids, per-sample ``mean_abs``); IG against zero with
``abs_mean`` (to separate the aggregation's effect from the baselines'); vanilla IG (zero
baseline, ``mean_abs``); SmoothGrad-IG, GradientShap and landmark occlusion through Captum's
``feature_mask`` with the default baselines and aggregation; and a random ranking.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PLANTED: dict[str, dict[str, Any]] = {
    "10 subjects": {"n_subjects": 10, "repetitions": 3, "n_frames": 5},
    "6 subjects": {"n_subjects": 6, "repetitions": 3, "n_frames": 5},
}
PLANTED_COMMON: dict[str, Any] = {
    "equal_strength": True,
    "n_noisy": 16,
    "noise_scale": 1.0,
    "neutral": True,
}
DELETION_FRACTIONS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
ROAR_FRACTIONS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)
DEMO_FRACTIONS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


def _methods() -> dict[str, Any]:
    from emoflow.attribution import AttributionSettings

    return {
        "improved IG (defaults)": AttributionSettings(),
        "IG, 5 neg. medoids, mean|A| (before)": AttributionSettings(
            baseline="negative_medoids", aggregate="mean_abs"
        ),
        "IG, zero, abs_mean": AttributionSettings(baseline="zero"),
        "vanilla IG (zero, mean|A|)": AttributionSettings(baseline="zero", aggregate="mean_abs"),
        "SmoothGrad-IG": AttributionSettings(method="smoothgrad_ig", n_steps=16),
        "GradientShap": AttributionSettings(method="gradient_shap"),
        "landmark occlusion": AttributionSettings(method="feature_ablation"),
        "random ranking": None,
    }


FAITHFULNESS_METHODS = (
    "improved IG (defaults)",
    "IG, 5 neg. medoids, mean|A| (before)",
    "IG, zero, abs_mean",
    "vanilla IG (zero, mean|A|)",
    "landmark occlusion",
    "random ranking",
)


def _table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(header, widths, strict=True))
    )
    out = [f"\n## {title}\n", line, "-" * len(line)]
    for row in cells:
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(out)


def _rankings(
    model: Any, inputs: np.ndarray, labels: np.ndarray, neutral: np.ndarray, seed: int
) -> dict[str, Any]:
    from emoflow.attribution import dataset_relevance
    from emoflow.attribution.faithfulness import random_ranking, ranking_from_scores

    out: dict[str, Any] = {}
    for name, settings in _methods().items():
        start = time.perf_counter()
        if settings is None:
            ranking = random_ranking(inputs.shape[2], seed=seed)
        else:
            result = dataset_relevance(model, inputs, labels, settings, neutral_mask=neutral)
            ranking = ranking_from_scores(result["scores"])
        out[name] = {"ranking": ranking, "seconds": time.perf_counter() - start}
    return out


def planted_report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    from emoflow.attribution.faithfulness import deletion_curve, remove_and_retrain
    from emoflow.metrics import precision_at_k
    from emoflow.models import NetworkSettings, RandomizedDeepNetwork
    from emoflow.synthetic import planted_features

    methods = list(_methods())
    for config_name, config in PLANTED.items():
        precision: dict[str, dict[str, list[float]]] = {m: {} for m in methods}
        seconds: dict[str, list[float]] = {m: [] for m in methods}
        deletion: dict[str, list[float]] = {m: [] for m in FAITHFULNESS_METHODS}
        roar: dict[str, list[float]] = {m: [] for m in FAITHFULNESS_METHODS}
        emotions: list[str] = []
        for seed in range(args.seeds):
            data = planted_features(**config, **PLANTED_COMMON, seed=seed)
            emotions = sorted(data.planted)
            for emotion in emotions:
                labels = (data.emotions == emotion).astype(np.int64)
                model = RandomizedDeepNetwork(NetworkSettings(), device=args.device).fit(
                    data.features, labels
                )
                ranked = _rankings(model, data.features, labels, data.emotions == "neutral", seed)
                for name, entry in ranked.items():
                    p = precision_at_k(entry["ranking"], data.planted[emotion])
                    precision[name].setdefault(emotion, []).append(p)
                    seconds[name].append(entry["seconds"])
                if "faithfulness" in args.skip:
                    continue
                for name in FAITHFULNESS_METHODS:
                    ranking = ranked[name]["ranking"]
                    deletion[name].append(
                        deletion_curve(
                            model,
                            data.features,
                            labels,
                            ranking,
                            fractions=DELETION_FRACTIONS,
                            metric="roc_auc",
                        )["area"]
                    )
                    roar[name].append(
                        remove_and_retrain(
                            data.features,
                            labels,
                            data.subjects,
                            ranking,
                            fractions=ROAR_FRACTIONS,
                            n_folds=3,
                            metric="roc_auc",
                        )["area"]
                    )
        n_landmarks = 478
        rows = []
        for name in methods:
            values = [float(np.mean(precision[name][e])) for e in emotions]
            rows.append([name, *values, float(np.min(values)), float(np.mean(seconds[name]))])
        rows.append(["chance (8 / 478)", *[8 / n_landmarks] * len(emotions), 8 / n_landmarks, ""])
        print(
            _table(
                f"Planted signal, {config_name} ({args.seeds} seeds): precision@8",
                ["method", *emotions, "min", "s / emotion"],
                rows,
            )
        )
        results.setdefault("planted", {})[config_name] = {
            name: {e: float(np.mean(precision[name][e])) for e in emotions} for name in methods
        }
        if "faithfulness" in args.skip:
            continue
        rows = [
            [name, float(np.mean(deletion[name])), float(np.mean(roar[name]))]
            for name in FAITHFULNESS_METHODS
        ]
        print(
            _table(
                f"Faithfulness, planted {config_name}: area under the curve (lower is better)",
                ["method", "deletion (ROC-AUC)", "ROAR (ROC-AUC)"],
                rows,
            )
        )
        results.setdefault("faithfulness", {})[f"planted, {config_name}"] = {
            name: {"deletion": float(np.mean(deletion[name])), "roar": float(np.mean(roar[name]))}
            for name in FAITHFULNESS_METHODS
        }


def demo_report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    from emoflow.attribution.faithfulness import deletion_curve, remove_and_retrain
    from emoflow.features import load_features
    from emoflow.metrics import precision_at_k
    from emoflow.models import NetworkSettings, RandomizedDeepNetwork

    if not args.features.exists() or not args.ground_truth.exists():
        print(f"\n(no demo: {args.features} or {args.ground_truth} missing; run `make demo`)")
        return
    feature_set = load_features(args.features)
    truth = {
        e: v["landmarks"] for e, v in json.loads(args.ground_truth.read_text())["emotions"].items()
    }
    x = feature_set.features
    rows_p: dict[str, dict[str, float]] = {m: {} for m in FAITHFULNESS_METHODS}
    deletion: dict[str, list[float]] = {m: [] for m in FAITHFULNESS_METHODS}
    roar: dict[str, list[float]] = {m: [] for m in FAITHFULNESS_METHODS}
    emotions = [e for e in feature_set.emotion_names if e in truth]
    for emotion in emotions:
        labels = feature_set.labels_for(emotion)
        model = RandomizedDeepNetwork(NetworkSettings(), device=args.device).fit(x, labels)
        ranked = _rankings(model, x, labels, feature_set.emotions == "neutral", 0)
        k = min(50, len(truth[emotion]))
        for name in FAITHFULNESS_METHODS:
            ranking = ranked[name]["ranking"]
            rows_p[name][emotion] = precision_at_k(ranking, truth[emotion], k)
            deletion[name].append(
                deletion_curve(
                    model, x, labels, ranking, fractions=DEMO_FRACTIONS, metric="roc_auc"
                )["area"]
            )
            roar[name].append(
                remove_and_retrain(
                    x,
                    labels,
                    feature_set.subjects,
                    ranking,
                    fractions=DEMO_FRACTIONS,
                    n_folds=4,
                    metric="roc_auc",
                )["area"]
            )
    chance = {e: len(truth[e]) / x.shape[2] for e in emotions}
    rows = [[name, *[rows_p[name][e] for e in emotions]] for name in FAITHFULNESS_METHODS]
    rows.append(["chance (|truth| / 478)", *[chance[e] for e in emotions]])
    print(
        _table("Demo: precision@50 against the ground-truth regions", ["method", *emotions], rows)
    )
    rows = [
        [name, float(np.mean(deletion[name])), float(np.mean(roar[name]))]
        for name in FAITHFULNESS_METHODS
    ]
    print(
        _table(
            "Faithfulness, demo: area under the curve to 95 % removed (lower is better)",
            ["method", "deletion (ROC-AUC)", "ROAR (ROC-AUC)"],
            rows,
        )
    )
    results["demo"] = {
        "precision_at_50": rows_p,
        "faithfulness": {
            name: {"deletion": float(np.mean(deletion[name])), "roar": float(np.mean(roar[name]))}
            for name in FAITHFULNESS_METHODS
        },
    }


def cost_report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    import torch

    from emoflow.attribution import AttributionSettings, dataset_relevance
    from emoflow.models import NetworkSettings, RandomizedDeepNetwork

    rng = np.random.default_rng(0)
    n_samples, shape = 64, (8, 478, 3)  # the demo's sample shape
    inputs = rng.normal(size=(n_samples, *shape)).astype(np.float32)
    labels = (np.arange(n_samples) % 2).astype(np.int64)
    model = RandomizedDeepNetwork(NetworkSettings(), device=args.device).fit(inputs, labels)
    device = model.device
    rows_per_pass = 1024

    def synchronise() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    rows_t = torch.as_tensor(rng.normal(size=(rows_per_pass, *shape)), dtype=torch.float32)
    rows_t = rows_t.to(device)
    timings = []
    for _ in range(7):
        batch = rows_t.clone().requires_grad_(True)
        synchronise()
        start = time.perf_counter()
        model(batch).sum().backward()
        synchronise()
        timings.append(time.perf_counter() - start)
    per_row = float(np.median(timings[2:])) / rows_per_pass
    rows = []
    for n_steps, k in ((32, 5), (16, 5), (64, 5), (32, 1)):
        settings = AttributionSettings(
            n_steps=n_steps, n_baselines=k, samples="all", internal_batch_size=rows_per_pass
        )
        dataset_relevance(model, inputs[:16], labels[:16], settings)  # warm up
        synchronise()
        start = time.perf_counter()
        result = dataset_relevance(model, inputs, labels, settings)
        synchronise()
        per_sample = (time.perf_counter() - start) / n_samples
        k_used = len(result["baselines"])
        ratio = per_sample / (k_used * n_steps * per_row)
        rows.append([f"IG n_steps={n_steps}, K={k_used}", 1e3 * per_sample, 1e3 * per_row, ratio])
    settings = AttributionSettings(method="feature_ablation", samples="all")
    start = time.perf_counter()
    result = dataset_relevance(model, inputs, labels, settings)
    per_sample = (time.perf_counter() - start) / n_samples
    rows.append(["landmark occlusion, K=5", 1e3 * per_sample, 1e3 * per_row, float("nan")])
    print(
        _table(
            f"Cost on {device} (sample {shape}, default network): ms per sample",
            ["attribution", "attr ms/sample", "fwd+bwd ms/row", "overhead ratio"],
            rows,
        )
    )
    print(
        "overhead ratio = t_attr / (K · n_steps · t_fwd+bwd per row); 1 means only the path "
        "integral is paid for (occlusion: 478 forward passes per sample and baseline instead)"
    )
    results["cost"] = {
        "device": str(device),
        "rows": [
            dict(zip(["method", "attr_ms", "fwd_bwd_ms", "ratio"], r, strict=True)) for r in rows
        ],
    }


def fast_ig_report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """The network's exact fast IG against Captum's IG on the same rows: time and difference."""
    import torch

    from emoflow.attribution import AttributionSettings, attribute_samples
    from emoflow.attribution.baselines import choose_baselines
    from emoflow.models import NetworkSettings, RandomizedDeepNetwork

    rng = np.random.default_rng(0)
    n_samples, shape = 32, (8, 478, 3)  # the demo's sample shape
    inputs = rng.normal(size=(96, *shape)).astype(np.float32)
    labels = (np.arange(96) % 3 == 0).astype(np.int64)
    model = RandomizedDeepNetwork(NetworkSettings(), device=args.device).fit(inputs, labels)
    device = model.device
    settings = {
        "fast IG (network's path integral)": AttributionSettings(),
        "Captum IG": AttributionSettings(method="integrated_gradients_captum"),
    }
    default = AttributionSettings()
    baselines, _ = choose_baselines(inputs, labels, **default.baseline_options())
    batch = torch.as_tensor(inputs[:n_samples], device=device)
    references = torch.as_tensor(baselines, device=device)

    def synchronise() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    rows, outputs, times = [], {}, {}
    for name, method in settings.items():
        attribute_samples(model, batch[:2], references, method)  # warm up
        synchronise()
        wall, cpu = time.perf_counter(), time.process_time()
        outputs[name] = attribute_samples(model, batch, references, method)
        synchronise()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        times[name] = (1e3 * wall / n_samples, 1e3 * cpu / n_samples)
    fast_name, captum_name = settings
    (fast, fast_gap), (captum, captum_gap) = outputs[fast_name], outputs[captum_name]
    difference = float((fast - captum).abs().max() / captum.abs().max())
    for name in settings:
        wall_ms, cpu_ms = times[name]
        gap = float(outputs[name][1].abs().max())
        rows.append([name, wall_ms, cpu_ms, f"{gap:.1e}"])
    wall_ratio = times[captum_name][0] / times[fast_name][0]
    cpu_ratio = times[captum_name][1] / times[fast_name][1]
    rows.append(["Captum / fast", wall_ratio, cpu_ratio, ""])
    print(
        _table(
            f"Fast IG vs Captum IG on {device} (sample {shape}, width 256, 2 layers, "
            f"K={len(baselines)}, {default.n_steps} steps, {n_samples} samples, "
            f"{torch.get_num_threads()} threads): per sample",
            ["attribution", "wall ms", "CPU ms", "max |gap|"],
            rows,
        )
    )
    print(f"max relative difference |fast - Captum| / max |Captum| = {difference:.2e}")
    results["fast_ig"] = {
        "device": str(device),
        "ms_per_sample": {name: {"wall": w, "cpu": c} for name, (w, c) in times.items()},
        "speed_up": {"wall": wall_ratio, "cpu": cpu_ratio},
        "max_relative_difference": difference,
        "max_gap": {"fast": float(fast_gap.abs().max()), "captum": float(captum_gap.abs().max())},
    }


MEMORY_PROBE = """
import json, re, sys
from pathlib import Path
import numpy as np
from emoflow.attribution import baselines as attribution
from emoflow.attribution import AttributionSettings, dataset_relevance
from emoflow.models import NetworkSettings, RandomizedDeepNetwork

attribution.MAX_BASELINE_CANDIDATES = 32  # every run below reaches the cap of the choice
rng = np.random.default_rng(0)
features = rng.normal(size=(1024, 4, 478, 3)).astype(np.float32)
labels = (np.arange(1024) % 2).astype(np.int64)
model = RandomizedDeepNetwork(NetworkSettings(width=128), device="cpu")
model.fit(features[:256], labels[:256])

def status(field):
    text = Path("/proc/self/status").read_text()
    return int(re.search(field + r":\\s+(\\d+)", text).group(1))

def growth(batch_size, n):
    settings = AttributionSettings(n_steps=8, n_baselines=2, batch_size=batch_size,
                                   internal_batch_size=max(256, 16 * batch_size), samples="all")
    run = lambda: dataset_relevance(model, features[:n], labels[:n], settings)
    run()
    Path("/proc/self/clear_refs").write_text("5")
    before = status("VmRSS")
    run()
    return status("VmHWM") - before

out = {"batched": {n: growth(16, n) for n in (64, 256, 1024)},
       "unbatched": {n: growth(n, n) for n in (64, 256)},
       "input_kib": {n: features[:n].nbytes // 1024 for n in (64, 256, 1024)}}
json.dump(out, sys.stdout)
"""


def memory_report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    if not Path("/proc/self/clear_refs").exists():
        print("\n(memory report needs Linux /proc)")
        return
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_ARENA_MAX": "1"}
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE], env=env, capture_output=True, text=True, check=True
    )
    probe = json.loads(done.stdout)
    rows = []
    for n in ("64", "256", "1024"):
        rows.append(
            [
                n,
                probe["input_kib"][n] / 1024,
                probe["batched"][n] / 1024,
                probe["unbatched"][n] / 1024 if n in probe["unbatched"] else "",
            ]
        )
    print(
        _table(
            "Memory: growth of the peak resident set while attributing (MiB)",
            ["samples", "input MiB", "batches of 16", "one batch"],
            rows,
        )
    )
    results["memory_mib"] = probe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--demo", action="store_true", help="also run on the demo data set")
    parser.add_argument("--features", type=Path, default=REPO / "results" / "features.zarr")
    parser.add_argument(
        "--ground-truth", type=Path, default=REPO / "resources" / "demo" / "ground_truth.json"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["planted", "faithfulness", "cost", "fast_ig", "memory"],
    )
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {"device": args.device, "seeds": args.seeds}
    start = time.perf_counter()
    if "planted" not in args.skip:
        planted_report(args, results)
    if args.demo:
        demo_report(args, results)
    if "cost" not in args.skip:
        cost_report(args, results)
    if "fast_ig" not in args.skip:
        fast_ig_report(args, results)
    if "memory" not in args.skip:
        memory_report(args, results)
    print(f"\n({time.perf_counter() - start:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

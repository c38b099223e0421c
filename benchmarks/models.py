"""Randomized network versus backprop baselines, on the same subject-independent folds.

Usage::

    .venv/bin/python benchmarks/models.py [--features results/features.zarr] [--folds 4]
        [--device cpu] [--threads 1] [--kinds rvfl mlp temporal] [--json out.json]

For every emotion (one-vs-rest) and every outer fold, each model is fitted on the training
subjects with the settings of ``config/config.yaml`` (``train.model``, ``train.backprop``;
defaults where absent) and scored on the test subjects. Reported per model: training time of one
fit (the randomized network's time includes drawing its random layers), inference time per
sample, balanced accuracy (mean ± std over emotions × folds), and the ratios to the randomized
network. ``rvfl+search`` is the randomized network including its inner-fold search over
``train.selection`` (λ grid, widths) on the training subjects, as the workflow runs it.

The issue's bar: the randomized network trains at least 20× faster than the MLP at a balanced
accuracy no worse than 2 points below it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from emoflow.layout import ResultsLayout

REPO = Path(__file__).resolve().parents[1]
BAR_SPEED, BAR_POINTS = 20.0, 2.0


def _config_sections(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    import yaml

    return dict((yaml.safe_load(path.read_text()) or {}).get("train", {}))


def _load(args: argparse.Namespace) -> Any:
    from emoflow.features import FeatureSet, load_features
    from emoflow.synthetic import planted_features

    if args.synthetic:
        data = planted_features(n_subjects=8, repetitions=3, n_frames=8, seed=args.seed)
        return FeatureSet(
            features=data.features,
            video_ids=data.video_ids,
            subjects=data.subjects,
            emotions=data.emotions,
            emotion_names=sorted(set(data.emotions.tolist())),
            settings={"n_frames": 8},
        )
    if not args.features.exists():
        sys.exit(
            f"{args.features} does not exist: run the workflow first (`make demo`, or "
            "`.venv/bin/snakemake --cores 2 results/features.zarr`), pass --features PATH, "
            "or use --synthetic for planted synthetic features"
        )
    return load_features(args.features)


def _timed_fit(kind: str, settings: Any, inputs, labels, groups, device: str) -> tuple[Any, float]:
    from emoflow.models import clear_random_weight_cache, make_model

    clear_random_weight_cache()
    start = time.perf_counter()
    model = make_model(kind, settings, device=device).fit(inputs, labels, groups=groups)
    return model, time.perf_counter() - start


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Fit and score every model kind on every emotion and fold; return the raw records."""
    import torch

    from emoflow.metrics import binary_metrics, subject_folds
    from emoflow.models import MODEL_KINDS, make_settings, time_inference
    from emoflow.training import SelectionSettings, select_hyperparameters

    torch.set_num_threads(args.threads)
    feature_set = _load(args)
    train_config = _config_sections(args.config)
    sections = {
        "model": {k: v for k, v in (train_config.get("model") or {}).items() if k != "kind"},
        "backprop": train_config.get("backprop"),
    }
    settings = {
        kind: make_settings(kind, sections[cls.settings_section])
        for kind, cls in MODEL_KINDS.items()
    }
    selection = SelectionSettings(**(train_config.get("selection") or {}))
    folds = subject_folds(
        feature_set.subjects, args.folds, labels=feature_set.emotions, seed=args.seed
    )
    emotions = args.emotions or feature_set.emotion_names
    kinds = list(args.kinds)
    # one untimed fit per model kind first: the first call of a kernel pays its set-up
    warm_labels = feature_set.labels_for(emotions[0])
    for kind in MODEL_KINDS:
        if any(k.startswith(kind) for k in kinds):
            _timed_fit(
                kind,
                settings[kind],
                feature_set.features,
                warm_labels,
                feature_set.subjects,
                args.device,
            )
    records: list[dict[str, Any]] = []
    for emotion in emotions:
        labels = feature_set.labels_for(emotion)
        for fold, test_index in enumerate(folds):
            train = np.setdiff1d(np.arange(len(labels)), test_index)
            x_train, y_train = feature_set.features[train], labels[train]
            groups = feature_set.subjects[train]
            x_test, y_test = feature_set.features[test_index], labels[test_index]
            for name in kinds:
                kind, _, search = name.partition("+")
                if search:
                    start = time.perf_counter()
                    chosen = select_hyperparameters(
                        kind,
                        settings[kind],
                        x_train,
                        y_train,
                        groups,
                        selection,
                        need_scores=False,
                        seed=args.seed,
                        device=args.device,
                    )
                    search_time = time.perf_counter() - start
                    model, fit_time = _timed_fit(
                        kind, chosen.settings, x_train, y_train, groups, args.device
                    )
                    fit_time += search_time
                else:
                    model, fit_time = _timed_fit(
                        kind, settings[kind], x_train, y_train, groups, args.device
                    )
                scores = model.decision_function(x_test)
                records.append(
                    {
                        "kind": name,
                        "emotion": emotion,
                        "fold": fold,
                        "train_time_s": fit_time,
                        "inference_ms_per_sample": 1e3 * time_inference(model, x_test),
                        "balanced_accuracy": binary_metrics(y_test, scores)["balanced_accuracy"],
                        "n_parameters": model.n_parameters(),
                        "epochs": getattr(model, "n_epochs_", None),
                        "best_epoch": getattr(model, "best_epoch_", None),
                    }
                )
            print(f"  {emotion} fold {fold} done", file=sys.stderr, flush=True)
    return {
        "features": "synthetic" if args.synthetic else str(args.features),
        "n_samples": len(feature_set.video_ids),
        "sample_shape": list(feature_set.features.shape[1:]),
        "n_subjects": len(np.unique(feature_set.subjects)),
        "n_folds": args.folds,
        "device": args.device,
        "threads": args.threads,
        "settings": {k: vars(v) for k, v in settings.items()},
        "records": records,
    }


def summarise(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The side-by-side table (text) and its numbers."""
    records = result["records"]
    kinds = list(dict.fromkeys(r["kind"] for r in records))
    rows: dict[str, dict[str, float]] = {}
    for kind in kinds:
        mine = [r for r in records if r["kind"] == kind]
        train = np.array([r["train_time_s"] for r in mine])
        infer = np.array([r["inference_ms_per_sample"] for r in mine])
        accuracy = np.array([r["balanced_accuracy"] for r in mine])
        parameters = mine[0]["n_parameters"]
        epochs = [r["epochs"] for r in mine if r.get("epochs")]
        best = [r["best_epoch"] for r in mine if r.get("best_epoch")]
        rows[kind] = {
            "epochs": float(np.mean(epochs)) if epochs else float("nan"),
            "best_epoch": float(np.mean(best)) if best else float("nan"),
            "train_s": float(np.mean(train)),
            "train_s_std": float(np.std(train)),
            "infer_ms": float(np.median(infer)),
            "bacc": float(np.mean(accuracy)),
            "bacc_std": float(np.std(accuracy)),
            "parameters": int(parameters["random"] + parameters["trained"]),
            "trained_parameters": int(parameters["trained"]),
        }
    reference = rows.get("rvfl") or rows[kinds[0]]
    lines = [
        f"features: {result['features']} — {result['n_samples']} samples of shape "
        f"{tuple(result['sample_shape'])}, {result['n_subjects']} subjects, "
        f"{result['n_folds']} subject folds; device {result['device']}, "
        f"{result['threads']} thread(s); one fit per emotion × fold",
        "",
        f"{'model':<12} {'train s/fit':>14} {'× rvfl':>8} {'infer ms/sample':>16} {'× rvfl':>8} "
        f"{'balanced acc.':>15} {'Δ vs rvfl':>10} {'parameters (trained)':>22} "
        f"{'epochs (best)':>14}",
    ]
    for kind, row in rows.items():
        lines.append(
            f"{kind:<12} {row['train_s']:>8.3f} ±{row['train_s_std']:<5.3f}"
            f"{row['train_s'] / reference['train_s']:>8.1f} {row['infer_ms']:>16.4f} "
            f"{row['infer_ms'] / reference['infer_ms']:>8.1f} "
            f"{row['bacc']:>8.3f} ±{row['bacc_std']:<5.3f} "
            f"{100 * (row['bacc'] - reference['bacc']):>+9.1f}p "
            f"{row['parameters']:>11,d} ({row['trained_parameters']:,d})"
            + (
                f" {row['epochs']:>7.1f} ({row['best_epoch']:.1f})"
                if np.isfinite(row["epochs"])
                else f" {'—':>7}"
            )
        )
    emotions = list(dict.fromkeys(r["emotion"] for r in records))
    lines += ["", "balanced accuracy per emotion (mean over folds):"]
    lines.append(f"{'emotion':<12}" + "".join(f"{k:>13}" for k in kinds))
    for emotion in emotions:
        values = [
            np.mean(
                [
                    r["balanced_accuracy"]
                    for r in records
                    if r["kind"] == k and r["emotion"] == emotion
                ]
            )
            for k in kinds
        ]
        lines.append(f"{emotion:<12}" + "".join(f"{v:>13.3f}" for v in values))
    verdict: dict[str, Any] = {}
    if "rvfl" in rows and "mlp" in rows:
        speedup = rows["mlp"]["train_s"] / rows["rvfl"]["train_s"]
        median_speedup = float(
            np.median([r["train_time_s"] for r in records if r["kind"] == "mlp"])
            / np.median([r["train_time_s"] for r in records if r["kind"] == "rvfl"])
        )
        gap = 100 * (rows["mlp"]["bacc"] - rows["rvfl"]["bacc"])
        met = speedup >= BAR_SPEED and gap <= BAR_POINTS
        verdict = {
            "speedup_vs_mlp": speedup,
            "median_speedup_vs_mlp": median_speedup,
            "points_below_mlp": gap,
            "bar_met": met,
        }
        lines += [
            "",
            f"bar (rvfl ≥ {BAR_SPEED:.0f}× faster to train than mlp, balanced accuracy ≥ mlp − "
            f"{BAR_POINTS:.0f} points): {speedup:.1f}× faster (mean fit times; median fit "
            f"times give {median_speedup:.1f}×), balanced accuracy "
            f"{abs(gap):.1f} points {'below' if gap > 0 else 'above'} mlp → "
            f"{'MET' if met else 'NOT MET'}",
        ]
    return "\n".join(lines), {"rows": rows, **verdict}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", type=Path, default=ResultsLayout(REPO / "results").features)
    parser.add_argument("--synthetic", action="store_true", help="planted synthetic features")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads, all models")
    from emoflow.models import MODEL_KINDS

    kinds = [*MODEL_KINDS, *(f"{kind}+search" for kind in MODEL_KINDS)]
    parser.add_argument(
        "--kinds",
        nargs="+",
        default=["rvfl", "rvfl+search", "mlp", "temporal"],
        choices=kinds,
        help="model kinds; KIND+search adds the inner-fold search over train.selection",
    )
    parser.add_argument("--emotions", nargs="+", default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the raw records")
    args = parser.parse_args(argv)
    result = run(args)
    table, numbers = summarise(result)
    print(table)
    if args.json:
        args.json.write_text(json.dumps({**result, "summary": numbers}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

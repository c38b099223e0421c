"""Subject-level bootstrap intervals: emoflow's vectorised resampling against the plain loop.

Usage::

    .venv/bin/python benchmarks/uncertainty.py [--resamples 2000] [--sizes 100 300 1000]
        [--loop-resamples 200]

For each data size (samples; 10 per subject, half of them positive) it times
:func:`emoflow.uncertainty.bootstrap_interval` and :func:`~emoflow.uncertainty.paired_interval`
(balanced accuracy and ROC-AUC), and the plain way: one scikit-learn call per resample on the
written-out resampled data (timed over ``--loop-resamples`` resamples and scaled to
``--resamples``). Wall and CPU time side by side, the fastest of three runs, and the ratio.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np


def _fastest(function: Callable[[], object], repeats: int = 3) -> tuple[float, float]:
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def _row(
    metric: str,
    truth: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    subjects: np.ndarray,
    score: Callable[..., float],
    resamples: int,
    loop_resamples: int,
) -> tuple[tuple[float, float], ...]:
    """Times of one metric: the interval, the paired interval, the loop scaled to
    ``resamples``."""
    from emoflow.uncertainty import bootstrap_interval, paired_interval, resample_counts

    single = _fastest(
        lambda: bootstrap_interval(truth, first, subjects, metric=metric, n_resamples=resamples)
    )
    paired = _fastest(
        lambda: paired_interval(
            truth, first, second, subjects, metric=metric, n_resamples=resamples
        )
    )

    def loop() -> None:
        counts, codes = resample_counts(subjects, loop_resamples, seed=0)
        members = [np.flatnonzero(codes == s) for s in range(counts.shape[1])]
        for row in counts:
            rows = np.concatenate([np.tile(members[s], c) for s, c in enumerate(row)])
            if truth[rows].min() != truth[rows].max():
                score(truth[rows], first[rows])

    wall, cpu = _fastest(loop, repeats=1)
    scale = resamples / loop_resamples
    return single, paired, (wall * scale, cpu * scale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--loop-resamples", type=int, default=200)
    args = parser.parse_args()

    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    print(f"{args.resamples} resamples; ms, the fastest of 3 runs (wall / CPU)")
    header = ("samples", "metric", "interval", "paired", "sklearn loop")
    print(f"{header[0]:>8} {header[1]:>18} {header[2]:>15} {header[3]:>15} {header[4]:>15} ratio")
    for n in args.sizes:
        rng = np.random.default_rng(n)
        subjects = np.repeat(np.arange(n // 10), 10)
        truth = np.tile(np.arange(10) % 2, n // 10)
        scores = rng.normal(size=len(truth)) + truth
        other = scores + rng.normal(scale=0.5, size=len(truth))
        for metric, first, second, score in (
            ("balanced_accuracy", scores > 0, other > 0, balanced_accuracy_score),
            ("roc_auc", scores, other, roc_auc_score),
        ):
            single, paired, looped = _row(
                metric, truth, first, second, subjects, score, args.resamples, args.loop_resamples
            )
            print(
                f"{n:>8} {metric:>18} "
                f"{1e3 * single[0]:>7.1f} /{1e3 * single[1]:>6.1f} "
                f"{1e3 * paired[0]:>7.1f} /{1e3 * paired[1]:>6.1f} "
                f"{1e3 * looped[0]:>7.0f} /{1e3 * looped[1]:>6.0f} "
                f"{looped[1] / single[1]:.0f}x"
            )


if __name__ == "__main__":
    main()

"""How often do the nested evaluation's intervals hold chance when the labels carry no signal?

Usage::

    .venv/bin/python benchmarks/null_coverage.py [--datasets 20] [--subjects 10] [--iterations 2]

Makes ``--datasets`` landmark-feature sets in which no emotion moves any landmark (the planted
generator with ``signal=0``: blinks, jitter and noise only) and every video's label is drawn
at random, runs the whole procedure with its nested evaluation on each
(:func:`emoflow.evaluation.run_procedure`: chains on each outer fold's training subjects,
counts chosen on inner folds), and prints, for the full landmark set and for the selected
(pruned) model, the share of intervals that hold 0.5 (the coverage; nominal 95 %), the mean
estimate (its bias; 0.5 is unbiased) and the spread of the estimates. Then the same for the
deployed chain's own cross-validation score of its selected model (the number the
single-level chain reported): optimistic where the selection is.

Labels are drawn independently, not permuted: see tests/test_evaluation.py for why a
permutation of a small data set is not a clean null.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from emoflow.evaluation import CHAIN, FULL, run_procedure
from emoflow.synthetic import planted_features

EMOTIONS = ("happiness", "sadness", "surprise", "anger")
TRAIN = {
    "n_folds": 3,
    "test_subjects": 2,
    "device": "cpu",
    "model": {"width": 32, "n_layers": 1},
    "selection": {"ridge_grid": [1.0, 100.0], "n_inner_folds": 2},
}


def one(seed: int, subjects: int, iterations: int) -> pl.DataFrame:
    data = planted_features(
        emotions=EMOTIONS,
        n_subjects=subjects,
        repetitions=2,
        n_frames=4,
        n_landmarks=48,
        signal=0.0,
        seed=seed,
    )
    rng = np.random.default_rng(1000 + seed)
    labels = rng.choice(np.asarray(EMOTIONS), size=len(data.emotions))
    with tempfile.TemporaryDirectory() as folder:
        store = dataclasses.replace(data, emotions=labels).write_store(Path(folder) / "f.zarr")
        tables = run_procedure(
            store,
            Path(folder) / "results",
            train=TRAIN,
            attribution={"n_steps": 4, "n_baselines": 2},
            prune={"iterations": iterations, "fraction": 0.5, "min_landmarks": 6},
            evidence={"n_resamples": 1000},
        )
    return tables["estimates"].with_columns(dataset=pl.lit(seed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--subjects", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=100)
    args = parser.parse_args(argv)
    start, cpu = time.perf_counter(), time.process_time()
    parts = []
    for seed in range(args.first_seed, args.first_seed + args.datasets):
        try:
            parts.append(one(seed, args.subjects, args.iterations))
        except Exception as err:  # a data set the protocol refuses (a fold without a class)
            print(f"data set {seed}: skipped ({err})")
    found = pl.concat(parts).filter(pl.col("emotion") != "combined")
    print(f"{len(parts)} data sets × {len(EMOTIONS)} emotions, {args.subjects} subjects each")
    print("| scope | model | coverage of 0.5 | mean estimate | std of estimates | n |")
    print("|---|---|---|---|---|---|")
    for scope in ("nested", "validation"):
        for procedure in (FULL, CHAIN):
            rows = found.filter((pl.col("scope") == scope) & (pl.col("procedure") == procedure))
            holds = ((rows["ci_low"] <= 0.5) & (rows["ci_high"] >= 0.5)).mean()
            print(
                f"| {scope} | {procedure} | {holds:.3f} | {rows['estimate'].mean():.3f} "
                f"| {rows['estimate'].std():.3f} | {rows.height} |"
            )
    print(f"wall {time.perf_counter() - start:.0f} s, CPU {time.process_time() - cpu:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

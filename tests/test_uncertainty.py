"""Subject-level bootstrap intervals, paired differences, pooled data seeds and verdicts."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

import emoflow.uncertainty as uncertainty
from emoflow.errors import ConfigError, DataError
from emoflow.uncertainty import (
    LOSS,
    MIN_SUBJECTS,
    NO_DIFFERENCE,
    TOO_FEW,
    UNDEFINED,
    WIN,
    Interval,
    bootstrap_interval,
    expanded_tail,
    interval_of,
    paired_interval,
    pooled_interval,
    resample_counts,
    resampled_scores,
    verdict,
)


def _data(
    rng: np.random.Generator, n_subjects: int = 12, per_subject: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, real scores (informative) and subjects; every subject has both classes."""
    subjects = np.repeat([f"s{i:02d}" for i in range(n_subjects)], per_subject)
    truth = np.tile(np.arange(per_subject) % 2, n_subjects)
    scores = rng.normal(size=len(truth)) + 1.2 * truth - 0.6
    return truth, scores, subjects


def _expanded(counts_row: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Sample indices of one resample, written out: each drawn subject's samples, as often
    as it was drawn."""
    return np.concatenate(
        [np.tile(np.flatnonzero(codes == s), c) for s, c in enumerate(counts_row) if c]
    )


def test_resampled_scores_equal_scikit_learn_on_the_written_out_resamples(rng) -> None:
    truth, scores, subjects = _data(rng)
    scores = np.round(scores, 1)  # ties
    counts, codes = resample_counts(subjects, 20, seed=3)
    assert counts.shape == (20, 12) and (counts.sum(axis=1) == 12).all()
    accuracy = resampled_scores(truth, scores > 0, subjects, n_resamples=20, seed=3)
    auc = resampled_scores(truth, scores, subjects, metric="roc_auc", n_resamples=20, seed=3)
    for b in range(20):
        rows = _expanded(counts[b], codes)
        assert accuracy[b] == pytest.approx(balanced_accuracy_score(truth[rows], scores[rows] > 0))
        assert auc[b] == pytest.approx(roc_auc_score(truth[rows], scores[rows]))


def test_an_interval_reports_estimate_counts_and_is_seeded(rng) -> None:
    truth, scores, subjects = _data(rng)
    interval = bootstrap_interval(truth, scores > 0, subjects, n_resamples=500, seed=1)
    assert interval.estimate == pytest.approx(balanced_accuracy_score(truth, scores > 0))
    assert interval.low <= interval.estimate <= interval.high
    assert (interval.n_subjects, interval.n_samples, interval.n_resamples) == (12, 120, 500)
    assert interval.n_undefined == 0 and interval.level == 0.95
    assert bootstrap_interval(truth, scores > 0, subjects, n_resamples=500, seed=1) == interval
    assert bootstrap_interval(truth, scores > 0, subjects, n_resamples=500, seed=2) != interval
    auc = bootstrap_interval(truth, scores, subjects, metric="roc_auc", n_resamples=500)
    assert auc.estimate == pytest.approx(roc_auc_score(truth, scores))
    record = json.loads(json.dumps(interval.to_dict()))
    assert record["estimate"] == interval.estimate and record["n_subjects"] == 12
    assert "verdict" not in record
    assert interval.describe().endswith(", 12 subjects")


def test_undefined_resamples_are_counted_and_left_out() -> None:
    """Positives from two of six subjects only: resamples that draw neither have no balanced
    accuracy. They are counted, not scored 0.5."""
    subjects = np.repeat(list("abcdef"), 4)
    truth = np.where(np.isin(subjects, ["a", "b"]), np.tile([1, 0], 12), 0)
    predicted = truth.copy()
    interval = bootstrap_interval(truth, predicted, subjects, n_resamples=2000, seed=0)
    # P(neither a nor b among 6 draws) = (4/6)^6 ≈ 0.088
    assert 0.06 * 2000 < interval.n_undefined < 0.12 * 2000
    assert interval.estimate == 1.0 and interval.low == interval.high == 1.0
    no_positive = bootstrap_interval(np.zeros(6, int), np.zeros(6, int), np.arange(6))
    assert math.isnan(no_positive.estimate) and not no_positive.defined
    assert no_positive.n_undefined == no_positive.n_resamples
    assert no_positive.to_dict()["low"] is None
    assert no_positive.describe() == "n/a [n/a], 6 subjects"


def test_one_subject_gives_no_interval() -> None:
    interval = bootstrap_interval([1, 0, 1, 0], [1, 0, 0, 0], ["a"] * 4, n_resamples=50)
    assert interval.estimate == 0.75 and not interval.defined


def test_a_difference_planted_on_every_subject_is_a_win() -> None:
    """The first procedure is right on every sample, the second wrong on a quarter of every
    subject's samples: the paired interval lies above 0."""
    rng = np.random.default_rng(0)
    truth, _, subjects = _data(rng, n_subjects=10)
    first = truth.copy()
    second = truth.copy()
    for subject in np.unique(subjects):
        rows = np.flatnonzero(subjects == subject)
        flip = rng.choice(rows, size=len(rows) // 4, replace=False)
        second[flip] = 1 - second[flip]
    difference = paired_interval(truth, first, second, subjects, seed=0)
    assert difference.difference and difference.low > 0
    assert verdict(difference) == WIN
    assert verdict(paired_interval(truth, second, first, subjects, seed=0)) == LOSS
    assert difference.to_dict()["verdict"] == WIN
    assert difference.describe().startswith("+")


def test_pure_noise_shows_no_difference() -> None:
    """Two procedures that guess at random: in 95 % of such data sets the paired interval
    should contain 0."""
    rng = np.random.default_rng(1)
    shown = []
    for _ in range(100):
        truth, _, subjects = _data(rng, n_subjects=10)
        first = rng.integers(0, 2, size=len(truth))
        second = rng.integers(0, 2, size=len(truth))
        shown.append(verdict(paired_interval(truth, first, second, subjects, n_resamples=500)))
    assert set(shown) <= {WIN, LOSS, NO_DIFFERENCE}
    assert shown.count(NO_DIFFERENCE) >= 88


def test_paired_intervals_are_narrower_than_the_scores_they_compare() -> None:
    """Subjects that are hard for both procedures cancel in the paired difference."""
    rng = np.random.default_rng(2)
    subjects = np.repeat(np.arange(16), 10)
    truth = np.tile(np.arange(10) % 2, 16)
    hard = rng.uniform(0.5, 1.0, size=16)[subjects]  # per-subject accuracy, shared
    common = rng.random(len(truth)) < hard
    first = np.where(common, truth, 1 - truth)
    second = first.copy()
    second[rng.random(len(truth)) < 0.05] ^= 1
    single = bootstrap_interval(truth, first, subjects)
    paired = paired_interval(truth, first, second, subjects)
    assert paired.high - paired.low < 0.5 * (single.high - single.low)


def test_interval_coverage_is_near_95_percent() -> None:
    """Simulated studies from a population whose balanced accuracy is 0.75: subjects differ in
    how well they are read (recall ~ Beta mean 0.8, specificity ~ Beta mean 0.7); the 95 %
    interval should contain 0.75 in about 95 % of the studies."""
    rng = np.random.default_rng(7)
    n_subjects, per_class = 30, 4
    subjects = np.repeat(np.arange(n_subjects), 2 * per_class)
    truth = np.tile(np.repeat([1, 0], per_class), n_subjects)
    covered = 0
    n_studies = 300
    for study in range(n_studies):
        recall = rng.beta(8, 2, size=n_subjects)[subjects]
        specificity = rng.beta(7, 3, size=n_subjects)[subjects]
        right = rng.random(len(truth)) < np.where(truth == 1, recall, specificity)
        predicted = np.where(right, truth, 1 - truth)
        interval = bootstrap_interval(truth, predicted, subjects, n_resamples=1000, seed=study)
        covered += interval.contains(0.75)
    assert 0.90 <= covered / n_studies <= 0.99


def test_pooled_seeds_resample_within_each_data_set() -> None:
    rng = np.random.default_rng(3)
    sets = [_data(rng, n_subjects=8) for _ in range(3)]
    truth = [t for t, _, _ in sets]
    subjects = [s for _, _, s in sets]
    first = [scores > 0 for _, scores, _ in sets]
    second = [scores > 0.8 for _, scores, _ in sets]
    pooled = pooled_interval(truth, first, subjects, second, n_resamples=400, seed=4)
    each = [
        paired_interval(t, a, b, s)
        for t, a, b, s in zip(truth, first, second, subjects, strict=True)
    ]
    assert pooled.estimate == pytest.approx(np.mean([i.estimate for i in each]))
    assert (pooled.n_datasets, pooled.n_subjects, pooled.n_samples) == (3, 24, 240)
    # its resamples are each data set's own, drawn from the seed sequence [seed, 21, g]
    draws = np.mean(
        [
            resampled_scores(t, a, s, n_resamples=400, seed=[4, 21, g])
            - resampled_scores(t, b, s, n_resamples=400, seed=[4, 21, g])
            for g, (t, a, b, s) in enumerate(zip(truth, first, second, subjects, strict=True))
        ],
        axis=0,
    )
    tail = expanded_tail(0.95, 24)  # the expanded percentile interval of 24 subjects
    assert 1.5 < tail < 2.5
    assert pooled.low == pytest.approx(np.percentile(draws, tail))
    assert pooled.high == pytest.approx(np.percentile(draws, 100 - tail))
    # more seeds, narrower: the pooled interval is narrower than one data set's
    assert pooled.high - pooled.low < np.mean([i.high - i.low for i in each])
    assert "over 3 data sets" in pooled.describe()


def test_multiclass_balanced_accuracy(rng) -> None:
    names = np.array(["anger", "fear", "joy"])
    subjects = np.repeat(np.arange(8), 6)
    truth = names[np.tile(np.arange(6) % 3, 8)]
    predicted = np.where(rng.random(len(truth)) < 0.7, truth, names[rng.integers(0, 3, 48)])
    interval = bootstrap_interval(truth, predicted, subjects, n_resamples=200)
    assert interval.estimate == pytest.approx(balanced_accuracy_score(truth, predicted))


def test_bad_input_is_refused(rng) -> None:
    truth, scores, subjects = _data(rng)
    with pytest.raises(DataError, match="predicted classes"):
        bootstrap_interval(truth, scores, subjects)
    with pytest.raises(DataError, match="shapes"):
        bootstrap_interval(truth, scores[:-1] > 0, subjects)
    with pytest.raises(ConfigError, match="metric"):
        bootstrap_interval(truth, scores > 0, subjects, metric="f1")
    with pytest.raises(ConfigError, match="level"):
        bootstrap_interval(truth, scores > 0, subjects, level=95)
    with pytest.raises(DataError, match="0/1"):
        bootstrap_interval(truth + 1, scores, subjects, metric="roc_auc")


def test_verdicts() -> None:
    def interval(low: float, high: float, subjects: int = 8) -> Interval:
        return Interval("balanced_accuracy", 0.0, low, high, 0.95, subjects, 16, 10, 0, 1, True)

    assert verdict(interval(0.01, 0.2)) == WIN
    assert verdict(interval(-0.2, -0.01)) == LOSS
    assert verdict(interval(-0.1, 0.1)) == NO_DIFFERENCE
    assert verdict(interval(0.0, 0.1)) == NO_DIFFERENCE  # touching 0 is no difference shown
    assert verdict(interval(float("nan"), float("nan"))) == UNDEFINED
    assert verdict(interval(0.01, 0.2, subjects=4)) == TOO_FEW  # 4 subjects: no interval
    assert MIN_SUBJECTS == 5


def test_the_expanded_interval_widens_with_few_subjects() -> None:
    """Hesterberg's expanded percentile interval: tails of 0.6 % with 8 subjects, nearly the
    nominal 2.5 % with many; no interval under MIN_SUBJECTS subjects."""
    assert expanded_tail(0.95, 8) == pytest.approx(0.57, abs=0.05)
    assert expanded_tail(0.95, 20) == pytest.approx(1.6, abs=0.1)
    assert 2.3 < expanded_tail(0.95, 1000) < 2.5
    values = np.linspace(0, 1, 1001)
    wide = interval_of(0.5, values, n_subjects=8, n_samples=80)
    narrow = interval_of(0.5, values, n_subjects=1000, n_samples=8000)
    assert wide.low < narrow.low and wide.high > narrow.high
    none = interval_of(0.5, values, n_subjects=4, n_samples=40)
    assert not none.defined and none.too_few and none.n_resamples == 1001


def test_the_expanded_tail_is_scipy_stats_to_the_last_bit_without_importing_it() -> None:
    """The tail comes from scipy.special's stdtrit and ndtr, which scipy.stats.t.ppf and
    scipy.stats.norm.sf evaluate: the same floats, and a process that computes an interval
    never imports scipy.stats (0.4 s of CPU more than scipy.special; evaluate_nested)."""
    import subprocess
    import sys

    from scipy import stats

    for n_subjects in (2, 3, 5, 8, 20, 57, 100, 1000):
        for level in (0.5, 0.8, 0.9, 0.95, 0.99):
            quantile = math.sqrt(n_subjects / (n_subjects - 1)) * stats.t.ppf(
                0.5 + level / 2, n_subjects - 1
            )
            assert expanded_tail(level, n_subjects) == float(100 * stats.norm.sf(quantile))
    code = (
        "import sys, numpy as np\n"
        "from emoflow.uncertainty import interval_of\n"
        "found = interval_of(0.5, np.linspace(0, 1, 101), n_subjects=8, n_samples=80)\n"
        "assert found.defined and 'scipy.special' in sys.modules\n"
        "print(sorted(m for m in sys.modules if m.startswith('scipy.stats')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_the_examples_in_the_docstrings_hold() -> None:
    failures, tried = doctest.testmod(uncertainty, extraglobs={"np": np})
    assert tried >= 4 and failures == 0

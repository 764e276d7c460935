"""Bootstrap intervals and McNemar's test."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from llm.stats import bootstrap_diff, bootstrap_mean, mcnemar

outcomes = st.lists(st.booleans(), min_size=1, max_size=60)


@given(outcomes)
def test_interval_contains_estimate_and_stays_in_unit_range(xs):
    iv = bootstrap_mean(np.array(xs), resamples=500)
    assert 0.0 <= iv.low <= iv.estimate <= iv.high <= 1.0
    assert iv.estimate == pytest.approx(np.mean(xs))


def test_interval_width_shrinks_like_one_over_sqrt_n():
    rng = np.random.default_rng(1)
    small = bootstrap_mean(rng.random(100) < 0.5)
    large = bootstrap_mean(rng.random(10_000) < 0.5)
    ratio = (small.high - small.low) / (large.high - large.low)
    assert 7 < ratio < 13  # sqrt(100) = 10
    # Normal approximation at n = 10000: half-width 1.96 * sqrt(p (1 - p) / n) ~ 0.0098.
    assert (large.high - large.low) / 2 == pytest.approx(0.0098, rel=0.1)


@given(outcomes, st.integers(0, 10_000))
def test_mcnemar_matches_binomial_on_discordant_pairs(xs, seed):
    a = np.array(xs)
    b = np.random.default_rng(seed).random(a.size) < 0.5
    p = mcnemar(a, b)
    wins, losses = int(np.sum(a & ~b)), int(np.sum(~a & b))
    expected = 1.0 if wins + losses == 0 else stats.binomtest(wins, wins + losses).pvalue
    assert p == pytest.approx(expected)
    assert mcnemar(b, a) == pytest.approx(p)  # symmetric


def test_mcnemar_detects_a_real_improvement():
    base = np.zeros(100, dtype=bool)
    treated = base.copy()
    treated[:20] = True
    assert mcnemar(treated, base) < 1e-5
    assert mcnemar(base, base) == 1.0


def test_paired_diff_interval():
    base = np.r_[np.ones(50), np.zeros(50)]
    treated = np.r_[np.ones(70), np.zeros(30)]
    iv = bootstrap_diff(treated, base)
    assert iv.estimate == pytest.approx(0.2)
    assert 0 < iv.low < 0.2 < iv.high


@pytest.mark.parametrize("bad", [[], [0.5, 1.0], [[1, 0]]])
def test_bad_outcomes_rejected(bad):
    with pytest.raises(ValueError, match="0/1|1-d"):
        bootstrap_mean(np.array(bad))

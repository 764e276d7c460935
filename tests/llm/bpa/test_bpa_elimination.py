"""The adaptive design's elimination rule (pure functions over counts)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llm.bpa.elimination as elimination
from llm.bpa.elimination import live, next_samples, prob_beats, schedule

counts = st.integers(0, 12).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


def test_doctests():
    assert doctest.testmod(elimination).failed == 0


def test_prob_beats_matches_monte_carlo():
    rng = np.random.default_rng(0)
    for s_a, n_a, s_0, n_0 in [(1, 4, 3, 4), (0, 2, 2, 2), (3, 7, 2, 9), (5, 5, 0, 1)]:
        a = rng.beta(1 + s_a, 1 + n_a - s_a, 200_000)
        b = rng.beta(1 + s_0, 1 + n_0 - s_0, 200_000)
        assert prob_beats(s_a, n_a, s_0, n_0) == pytest.approx((a > b).mean(), abs=0.005)


@settings(max_examples=200, deadline=None)
@given(counts, counts)
def test_prob_beats_is_a_probability_symmetric_and_monotone(a, b):
    (s_a, n_a), (s_0, n_0) = a, b
    p = prob_beats(s_a, n_a, s_0, n_0)
    assert 0 <= p <= 1
    assert p + prob_beats(s_0, n_0, s_a, n_a) == pytest.approx(1, abs=1e-9)
    if s_a < n_a:  # one more success for the item, at the same samples: more likely to beat silence
        assert prob_beats(s_a + 1, n_a, s_0, n_0) >= p - 1e-12
    if n_a == n_0 and s_a >= s_0:  # an item that did at least as well as silence on as many answers
        assert p >= 0.5 - 1e-12


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="successes"):
        prob_beats(3, 2, 0, 1)
    with pytest.raises(ValueError, match=">= 1"):
        schedule(0, 4)


def _run_design(rates, k0, k, delta, seed):
    """The design on one problem whose cells succeed with ``rates`` (last: none): the final counts, the number of
    rounds, and for each item cell that stopped short of ``k`` the probability that it beats silence when it did."""
    rng = np.random.default_rng(seed)
    m = len(rates)
    s, n = np.zeros(m, int), np.zeros(m, int)
    rounds, stops = 0, {}
    while (more := next_samples(s, n, m - 1, k0=k0, k=k, delta=delta)).any():
        for a in range(m - 1):
            if more[a] == 0 and n[a] < k and n[a] > 0 and a not in stops:
                stops[a] = prob_beats(int(s[a]), int(n[a]), int(s[-1]), int(n[-1]))
        s += rng.binomial(more, rates)
        n += more
        rounds += 1
        assert rounds <= len(schedule(k0, k))
    for a in range(m - 1):
        if n[a] < k and a not in stops:
            stops[a] = prob_beats(int(s[a]), int(n[a]), int(s[-1]), int(n[-1]))
    return s, n, rounds, stops


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=2, max_size=6), st.integers(1, 8), st.integers(1, 16),
       st.floats(0.01, 0.3), st.integers(0, 10**6))
def test_the_design_stops_within_k_and_only_cells_that_cannot_beat_silence(rates, k0, k, delta, seed):
    s, n, _, stops = _run_design(np.array(rates), k0, k, delta, seed)
    none = len(rates) - 1
    assert (n <= k).all() and (n >= min(k0, k)).all()
    assert n[none] == n.max()  # silence has as many answers as the furthest item
    assert set(stops) == {a for a in range(none) if n[a] < k}
    assert all(p < delta for p in stops.values())  # never stopped while its upper bound of the gain is above 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=2, max_size=6), st.integers(1, 12), st.integers(0, 10**6))
def test_with_a_first_round_of_k_it_is_the_grid(rates, k, seed):
    s, n, rounds, _ = _run_design(np.array(rates), k, k, 0.05, seed)
    assert rounds == 1 and (n == k).all()


def test_an_item_that_always_beats_silence_gets_every_sample():
    s, n, _, _ = _run_design(np.array([1.0, 0.0, 0.05, 0.6]), 2, 16, 0.05, 0)
    assert n[0] == 16 and n[1] < 16 and n[2] < 16 and n[3] == 16

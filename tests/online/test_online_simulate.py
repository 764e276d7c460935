"""Tests of the many-seed simulator: bookkeeping, determinism, common random numbers, input checks."""

import itertools

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from online_games import CHUNK, HORIZON, SEEDS, prosecutor

from persuasion.errors import GameError
from persuasion.online import doubling_schedule, full_disclosure_baseline, optimal_value, oracle, simulate


@given(st.integers(1, 10**6), st.integers(1, 1000))
def test_doubling_schedule(horizon, first):
    sched = doubling_schedule(horizon, first)
    assert all(b < horizon for b in sched)
    assert all(b2 == 2 * b1 for b1, b2 in itertools.pairwise(sched))
    assert (sched[0] == first) if first < horizon else sched == ()
    assert len(sched) <= np.log2(max(horizon / first, 1)) + 1


def test_fixed_scheme_regret_is_exactly_linear_and_realized_regret_is_close(prosecutor_runs):
    _, _, traces = prosecutor_runs
    tr = traces["full_disclosure"]
    assert tr.opt == pytest.approx(0.6, abs=1e-6)
    np.testing.assert_allclose(tr.regret, np.broadcast_to(0.3 * tr.t, tr.regret.shape), rtol=1e-4)
    assert tr.disobeyed.max() == 0 and tr.unpersuasive.max() == 0
    # realized regret: a sum of HORIZON i.i.d. terms of variance 0.21 per seed
    se = np.sqrt(0.21 * HORIZON / SEEDS)
    assert abs(tr.realized_regret[:, -1].mean() - tr.regret[:, -1].mean()) < 5 * se


def test_states_are_common_random_numbers_across_learners(prosecutor_runs):
    _, _, traces = prosecutor_runs
    robust, plugin = traces["robust"].final_state.counts, traces["plugin"].final_state.counts
    np.testing.assert_array_equal(np.asarray(robust), np.asarray(plugin))
    freq = np.asarray(robust).sum(axis=0) / (SEEDS * HORIZON)
    np.testing.assert_allclose(freq, [0.7, 0.3], atol=0.01)


def test_same_key_same_run_other_key_other_run():
    g = prosecutor()
    alg = full_disclosure_baseline(g)
    a = simulate(g, alg, jax.random.key(5), horizon=1000, seeds=SEEDS, chunk=CHUNK)
    b = simulate(g, alg, jax.random.key(5), horizon=1000, seeds=SEEDS, chunk=CHUNK)
    c = simulate(g, alg, jax.random.key(6), horizon=1000, seeds=SEEDS, chunk=CHUNK)
    np.testing.assert_array_equal(a.realized_regret, b.realized_regret)
    assert not np.array_equal(a.realized_regret, c.realized_regret)
    assert a.t.tolist() == list(range(100, 1001, 100))
    assert a.plans == 0


def test_optimal_value_is_the_lp_value():
    assert optimal_value(prosecutor()) == pytest.approx(0.6, abs=1e-6)


def test_simulate_rejects_bad_sizes():
    g = prosecutor()
    alg = oracle(g)
    with pytest.raises(GameError, match="multiple of chunk"):
        simulate(g, alg, jax.random.key(0), horizon=150, seeds=2, chunk=100)
    with pytest.raises(GameError, match="first_epoch"):
        simulate(g, alg, jax.random.key(0), horizon=1000, seeds=2, chunk=100, first_epoch=150)
    with pytest.raises(GameError, match="seeds"):
        simulate(g, alg, jax.random.key(0), horizon=1000, seeds=0, chunk=100)

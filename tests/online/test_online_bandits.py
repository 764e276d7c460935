"""Tests of the bandit-feedback learners (Exp3, explore-then-commit) for a receiver of unknown type."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from online_games import HORIZON, SEEDS

from persuasion.base import Feedback
from persuasion.errors import GameError
from persuasion.online import etc_bound, exp3, exp3_bound, explore_then_commit, make_env, optimal_value, outcome
from persuasion.online.exp3 import exp3_update
from persuasion.online.explore_then_commit import etc_exploration


def family_values(game, family):
    env = make_env(game)
    return np.array([float(outcome(env, jnp.asarray(f, jnp.float32)).value) for f in family])


def test_family_holds_the_optimum_for_the_true_type_prior(bandit_runs):
    g, family, _, _ = bandit_runs
    assert family_values(g, family).max() == pytest.approx(optimal_value(g), abs=1e-6)


def test_exp3_regret_within_its_bound_and_far_below_full_disclosure(bandit_runs):
    g, family, _, traces = bandit_runs
    final = traces["exp3"].regret[:, -1].mean()
    span = float(np.ptp(g.sender_utility))
    assert final <= exp3_bound(HORIZON, family.shape[0], span)
    assert final < 0.2 * traces["full_disclosure"].regret[:, -1].mean()


def test_exp3_concentrates_on_the_best_scheme(bandit_runs):
    g, family, _, traces = bandit_runs
    best = int(np.argmax(family_values(g, family)))
    loss = np.asarray(traces["exp3"].final_state.loss)
    assert np.mean(np.argmin(loss, axis=1) == best) >= 0.75


def test_etc_regret_within_its_bound_and_commits_to_the_best(bandit_runs):
    g, family, _, traces = bandit_runs
    F = family.shape[0]
    final = traces["etc"].regret[:, -1].mean()
    assert final <= etc_bound(HORIZON, F, float(np.ptp(g.sender_utility)))
    st_ = traces["etc"].final_state
    np.testing.assert_allclose(np.asarray(st_.pulls).sum(axis=1), HORIZON)
    assert int(np.asarray(st_.explore)[0]) == F * etc_exploration(HORIZON, F)
    best = int(np.argmax(family_values(g, family)))
    committed = np.argmax(np.asarray(st_.sums) / np.asarray(st_.pulls), axis=1)
    assert np.mean(committed == best) >= 0.75


def test_bandit_learners_are_always_obeyed(bandit_runs):
    _, _, _, traces = bandit_runs
    for name in ("exp3", "etc"):
        assert traces[name].disobeyed[:, -1].sum() == 0  # every family member is persuasive for every type


_exp3_update = jax.jit(exp3_update)


@given(st.integers(0, 3), st.floats(0.0, 1.0), st.integers(0, 1), st.integers(0, 3), st.integers(0, 1))
def test_exp3_update_charges_only_the_played_arm(arm, utility, state, signal, action):
    alg = exp3(np.full((4, 2, 2), 0.5), [[0.0, 1.0], [0.0, 1.0]], horizon=100)
    s0 = alg.init(jax.random.key(0))._replace(loss=jnp.asarray([0.5, 0.0, 1.0, 0.2], jnp.float32))
    fb = Feedback(jnp.int32(state), jnp.int32(signal), jnp.int32(arm), jnp.int32(action), jnp.float32(utility))
    s1 = _exp3_update(s0, fb)
    diff = np.asarray(s1.loss - s0.loss)
    assert np.all(np.delete(diff, arm) == 0)
    assert diff[arm] >= 0
    # bandit feedback: the update reads only the arm and the utility, never the state or the action
    other = fb._replace(state=jnp.int32(1 - state), action=jnp.int32(1 - action))
    np.testing.assert_array_equal(np.asarray(_exp3_update(s0, other).loss), np.asarray(s1.loss))


def test_bandit_constructors_reject_bad_families():
    with pytest.raises(GameError, match="shape"):
        exp3(np.ones((2, 2)), [[0.0]], horizon=10)
    with pytest.raises(GameError, match="simplex"):
        explore_then_commit(np.full((2, 2, 2), 0.7), horizon=10)
    with pytest.raises(GameError, match="horizon"):
        explore_then_commit(np.full((2, 2, 2), 0.5), horizon=0)
    assert SEEDS == 16

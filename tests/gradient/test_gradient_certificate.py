"""Tests of persuasion.gradient.certificate: the dual bound, obedience and the obedient repair."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import persuasion
from persuasion import testing
from persuasion.gradient.certificate import (
    dual_bound,
    full_disclosure_scheme,
    max_violation,
    mix_to_obedience,
    obedient_repair,
    scheme_value,
)


def _scale(game):
    return max(1.0, float(np.abs(game.sender_utility).max()), float(np.abs(game.receiver_utility).max()))


@settings(max_examples=30)
@given(testing.games(m=(1, 4), n=(1, 4)), st.integers(0, 2**31 - 1))
def test_any_prices_bound_the_optimum_and_the_lp_duals_are_tight(game, seed):
    sol = persuasion.solve(game)
    tol = 1e-7 * _scale(game)
    assert dual_bound(game.prior, game.sender_utility, game.receiver_utility, sol.obedience_dual) <= sol.value + tol
    y = np.random.default_rng(seed).exponential(size=(game.n, game.n))
    assert dual_bound(game.prior, game.sender_utility, game.receiver_utility, y) >= sol.value - tol


@settings(max_examples=30)
@given(testing.games(m=(1, 4), n=(1, 4)), st.integers(0, 2**31 - 1))
def test_repair_is_obedient_and_worth_what_a_best_responding_receiver_gives(game, seed):
    scheme = np.random.default_rng(seed).dirichlet(np.ones(game.n) * 0.5, size=game.m)
    fixed = obedient_repair(game.prior, game.sender_utility, game.receiver_utility, scheme)
    np.testing.assert_allclose(fixed.sum(axis=1), 1.0)
    assert max_violation(game.prior, game.receiver_utility, fixed) <= 1e-8 * _scale(game)
    assert scheme_value(game.prior, game.sender_utility, fixed) <= persuasion.solve(game).value + 1e-7 * _scale(game)
    # an obedient scheme is left as it is (up to ties the sender prefers)
    opt = persuasion.solve(game)
    again = obedient_repair(game.prior, game.sender_utility, game.receiver_utility, opt.scheme)
    assert scheme_value(game.prior, game.sender_utility, again) >= opt.value - 1e-7 * _scale(game)


@settings(max_examples=30)
@given(testing.games(m=(1, 4), n=(1, 4)), st.integers(0, 2**31 - 1))
def test_mixing_with_full_disclosure_makes_any_scheme_obedient(game, seed):
    prior, u_s, u_r = game.prior, game.sender_utility, game.receiver_utility
    tol = 1e-8 * _scale(game)
    assert max_violation(prior, u_r, full_disclosure_scheme(u_s, u_r)) <= tol
    scheme = np.random.default_rng(seed).dirichlet(np.ones(game.n), size=game.m)
    mixed, delta = mix_to_obedience(prior, u_s, u_r, scheme)
    assert 0.0 <= delta <= 1.0
    assert max_violation(prior, u_r, mixed) <= tol
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0)
    # an obedient scheme needs no mixing
    opt = persuasion.solve(game).scheme
    if max_violation(prior, u_r, opt) == 0.0:
        assert mix_to_obedience(prior, u_s, u_r, opt)[1] == 0.0


def test_batched_shapes():
    rng = np.random.default_rng(0)
    prior, u_s, u_r = rng.dirichlet(np.ones(3), size=5), rng.normal(size=(5, 3, 2)), rng.normal(size=(5, 3, 2))
    scheme = np.full((5, 3, 2), 0.5)
    assert scheme_value(prior, u_s, scheme).shape == (5,)
    assert max_violation(prior, u_r, scheme).shape == (5,)
    assert dual_bound(prior, u_s, u_r, np.zeros((5, 2, 2))).shape == (5,)

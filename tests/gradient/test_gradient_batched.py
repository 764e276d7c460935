"""Tests of persuasion.gradient.batched against the exact LP (persuasion.solve) on random games.

Every batch has one fixed shape (B = 6 games, 3 states, 3 actions) so the augmented Lagrangian compiles once.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import persuasion
from persuasion import testing
from persuasion.gradient import random_batch, solve_batch, stack_games
from persuasion.gradient.certificate import max_violation

B, M, N = 6, 3, 3


def _scale(game: persuasion.Game) -> float:
    return max(1.0, float(np.abs(game.sender_utility).max()), float(np.abs(game.receiver_utility).max()))


@settings(max_examples=8)
@given(st.lists(testing.games(m=M, n=N), min_size=B, max_size=B))
def test_batched_matches_the_lp_and_is_obedient(games):
    out = solve_batch(stack_games(games))
    for b, game in enumerate(games):
        exact = persuasion.solve(game).value
        assert out.value[b] == pytest.approx(exact, rel=1e-3, abs=1e-3 * _scale(game))
        assert out.violation[b] <= 1e-6
        testing.check_scheme(game, out.scheme[b], tol=1e-6)
        # the certificate is an upper bound on the optimum and the gap is what it says
        assert out.bound[b] >= exact - 1e-7 * _scale(game)
        assert out.gap[b] == pytest.approx(out.bound[b] - out.value[b])


@settings(max_examples=6)
@given(st.lists(testing.games(m=M, n=N), min_size=B, max_size=B))
def test_without_fallback_the_bound_is_still_valid_and_the_scheme_obedient(games):
    out = solve_batch(stack_games(games), fallback=False)
    assert not out.fallback.any()
    for b, game in enumerate(games):
        exact = persuasion.solve(game).value
        assert out.bound[b] >= exact - 1e-7 * _scale(game)
        assert out.value[b] <= exact + 1e-7 * _scale(game)
        assert out.violation[b] <= 1e-6


def test_most_random_games_are_certified_without_the_lp():
    batch = random_batch(3, 48, 8, 4)
    out = solve_batch(batch, fallback=False)
    exact = np.array([persuasion.solve(persuasion.Game(*(a[b] for a in batch), normalize=True)).value
                      for b in range(48)])
    assert np.all(out.bound >= exact - 1e-9)
    assert np.all(out.value <= exact + 1e-9)
    certified = out.gap <= 1e-7 * np.maximum(1.0, np.abs(out.bound))
    assert certified.mean() >= 0.5  # measured: ~0.7 on random 8 x 4 games (docs/jax.md)
    np.testing.assert_allclose(out.value[certified], exact[certified], atol=1e-6)
    # the gradient phase alone is close but not exactly obedient: the polish is what makes it exact
    assert np.median(out.gradient_violation) < 1e-2
    assert np.all(max_violation(batch.prior, batch.receiver_utility, out.scheme) <= 1e-6)


def test_prosecutor_batch_and_bad_input():
    out = solve_batch(stack_games([persuasion.example("prosecutor")] * 2))
    np.testing.assert_allclose(out.value, 0.6, atol=1e-9)
    assert np.all(out.gap <= 1e-9)
    with pytest.raises(persuasion.GameError, match="one shape"):
        stack_games([persuasion.example("prosecutor"), persuasion.example("recommendation")])

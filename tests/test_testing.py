"""Tests of persuasion.testing: the game strategies cover the degenerate cases and the checkers judge schemes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import persuasion
from persuasion.testing import certificate, check_bayes_plausible, check_optimal, check_scheme, games

PROSECUTOR = persuasion.example("prosecutor")


@settings(max_examples=40)
@given(games(m=(1, 3), n=2, types=(1, 3)))
def test_games_have_the_requested_shapes(game):
    assert 1 <= game.m <= 3 and game.n == 2 and 1 <= game.K <= 3
    assert game.has_types == (game.K > 1)


def test_games_draw_the_degenerate_cases():
    seen = set()

    @settings(max_examples=200, database=None)
    @given(games(m=(1, 3), n=(1, 3), types=(1, 2)))
    def collect(game):
        u_r = game.typed_receiver_utility()
        if np.any(game.prior == 0):
            seen.add("zero_prior")
        if game.n == 1:
            seen.add("one_action")
        if game.m == 1:
            seen.add("one_state")
        if np.array_equal(u_r[0], game.sender_utility) and game.n > 1:
            seen.add("identical")
        if game.K > 1:
            seen.add("types")
        if np.ptp(u_r) == 0 and game.n > 1:
            seen.add("indifferent")
        sol_ties = [np.unique(row).size < row.size for row in u_r[0]]
        if any(sol_ties):
            seen.add("ties")

    collect()
    assert seen >= {"zero_prior", "one_action", "one_state", "identical", "types", "indifferent", "ties"}


def test_bad_ranges_are_one_line_errors():
    @given(games(m=(3, 1)))
    def run(game):
        del game

    with pytest.raises(persuasion.GameError, match="m must be"):
        run()


@settings(max_examples=25)
@given(games(m=(1, 4), n=(1, 4)))
def test_the_lp_scheme_passes_every_checker(game):
    sol = persuasion.solve(game)
    cert = check_optimal(game, sol.scheme)
    assert cert.value == pytest.approx(sol.value, abs=1e-7)
    if len(sol.signals):
        check_bayes_plausible(game, sol.signal_prob, sol.posteriors)


def test_checkers_reject_bad_schemes():
    full = np.eye(2)  # obedient but worth 0.3 < 0.6
    check_scheme(PROSECUTOR, full)
    with pytest.raises(AssertionError, match="not optimal"):
        check_optimal(PROSECUTOR, full)
    cert = certificate(PROSECUTOR, full)
    assert cert.gap == pytest.approx(0.3) and cert.bound == pytest.approx(0.6)
    always_convict = [[0.0, 1.0], [0.0, 1.0]]  # reports value 1 but the judge acquits at P(guilty) = 0.3
    with pytest.raises(AssertionError, match="not obedient"):
        check_scheme(PROSECUTOR, always_convict)
    with pytest.raises(AssertionError, match="sum to 1"):
        check_scheme(PROSECUTOR, [[0.5, 0.4], [0.0, 1.0]])
    with pytest.raises(AssertionError, match="Bayes plausible"):
        check_bayes_plausible(PROSECUTOR, [0.5, 0.5], [[1.0, 0.0], [0.5, 0.5]])
    with pytest.raises(persuasion.GameError, match="single receiver type"):
        check_optimal(persuasion.example("two_judges"), np.eye(2))


@settings(max_examples=20)
@given(games(m=(1, 4), n=(1, 4)), st.integers(0, 2**31 - 1))
def test_any_prices_give_a_valid_bound(game, seed):
    """A user's own dual prices never certify a gap smaller than the true one."""
    scheme = np.random.default_rng(seed).dirichlet(np.ones(game.n), size=game.m)
    y = np.random.default_rng(seed + 1).exponential(size=(game.n, game.n))
    cert = certificate(game, scheme, obedience_prices=y)
    assert cert.bound >= persuasion.solve(game).value - 1e-7 * max(1.0, float(np.abs(game.sender_utility).max()))

"""Tests of persuasion.reference: best responses, full and no disclosure."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from persuasion import Game, GameError, solve, testing
from persuasion.reference import best_response, best_responses, full_disclosure, no_disclosure

PROSECUTOR = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])


def games(max_m: int = 4, max_n: int = 4) -> st.SearchStrategy[Game]:
    """Single-receiver games from :func:`persuasion.testing.games` (many ties, zero-prior states, identical interests)."""
    return testing.games(m=(1, max_m), n=(1, max_n))


def test_prosecutor_numbers():
    full, none = full_disclosure(PROSECUTOR), no_disclosure(PROSECUTOR)
    # Full disclosure: the judge convicts exactly the guilty (prob. 0.3) and is always right.
    assert full.value == pytest.approx(0.3)
    assert full.receiver_value == pytest.approx(1.0)
    np.testing.assert_allclose(full.scheme, np.eye(2))
    # No disclosure: P(guilty) = 0.3 < 0.5, so the judge acquits everyone and is right w.p. 0.7.
    assert none.value == pytest.approx(0.0)
    assert none.receiver_value == pytest.approx(0.7)
    np.testing.assert_allclose(none.scheme, [[1, 0], [1, 0]])
    assert (full.status, none.status, full.solver) == ("full_disclosure", "no_disclosure", "reference")
    assert solve(PROSECUTOR).value == pytest.approx(0.6)


def test_ties_go_to_the_sender():
    u_r, u_s = PROSECUTOR.receiver_utility, PROSECUTOR.sender_utility
    assert best_response(u_r, np.array([0.5, 0.5]), u_s) == 1  # judge indifferent: convicts
    assert best_response(u_r, np.array([0.5, 0.5])) == 0  # no sender utility: lowest index
    assert best_response(u_r, np.array([0.5, 0.5]), -u_s) == 0  # a sender who prefers acquittal gets it
    assert best_response(u_r, np.array([0.5 + 1e-6, 0.5 - 1e-6]), u_s) == 0  # a clear preference wins
    # The tolerance is explicit: a 1e-12 gap is a tie by default, not with tol=0.
    belief = np.array([0.5 + 1e-12, 0.5 - 1e-12])
    assert best_response(u_r, belief, u_s) == 1
    assert best_response(u_r, belief, u_s, tol=0.0) == 0
    # No disclosure at a prior that makes the judge indifferent convicts.
    assert no_disclosure(PROSECUTOR.with_prior([0.5, 0.5])).value == pytest.approx(1.0)


def test_errors():
    typed = Game([0.5, 0.5], [[0, 1], [0, 1]], [[[1, 0], [0, 1]]] * 2, type_prior=[0.5, 0.5])
    with pytest.raises(GameError, match="single receiver type"):
        full_disclosure(typed)
    with pytest.raises(GameError, match="single receiver type"):
        no_disclosure(typed)
    with pytest.raises(GameError, match="do not match"):
        best_response(np.eye(2), np.ones(3) / 3)
    with pytest.raises(GameError, match="u_S has shape"):
        best_response(np.eye(2), np.ones(2) / 2, np.ones((3, 2)))
    with pytest.raises(GameError, match="1-d"):
        best_response(np.eye(2), np.ones((2, 2)) / 2)


@given(games(), st.integers(0, 2**32 - 1))
def test_best_responses_matches_definition(game, seed):
    """Vectorised best responses: a maximiser of u_R within tolerance, and the sender's best among those."""
    beliefs = np.random.default_rng(seed).dirichlet(np.ones(game.m), size=8)
    u_r, u_s = game.receiver_utility, game.sender_utility
    acts = best_responses(u_r, beliefs, u_s)
    assert acts.shape == (8,)
    for mu, a in zip(beliefs, acts):
        assert best_response(u_r, mu, u_s) == a
        rec, send = mu @ u_r, mu @ u_s
        tol = 1e-9 * max(1.0, np.abs(u_r).max())
        assert rec[a] >= rec.max() - tol
        assert send[a] >= send[rec >= rec.max() - tol].max()


@given(games())
def test_optimum_beats_references(game):
    """solve(game).value >= max(full, no disclosure); both references are obedient; receiver values ordered."""
    sol, full, none = solve(game), full_disclosure(game), no_disclosure(game)
    tol = 1e-7 * max(1.0, np.abs(game.sender_utility).max(), np.abs(game.receiver_utility).max())
    assert sol.value >= max(full.value, none.value) - tol
    for ref in (full, none):
        np.testing.assert_allclose(ref.scheme.sum(axis=1), 1.0)
        assert ref.obedience_slack.min() >= -tol  # recommendations are best responses: valid revelation schemes
    # Any obedient scheme gives the receiver at most full information and at least no information.
    assert none.receiver_value - tol <= sol.receiver_value <= full.receiver_value + tol
    assert none.value == pytest.approx(
        float(game.prior @ game.sender_utility[:, none.signals[0]]), abs=1e-12
    )

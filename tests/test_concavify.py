"""Tests of persuasion.concavify: exact concave closure for two states against the LP and a brute force."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from persuasion import Game, GameError, solve
from persuasion.concavify import breakpoints, concavify, indirect_value, upper_hull

PROSECUTOR = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]], state_names=("innocent", "guilty"))


@st.composite
def two_state_games(draw, generic: bool = False) -> Game:
    """Random 2-state games: varied n, integer utilities (ties), identical interests, priors 0 or 1."""
    n = draw(st.integers(1, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if not generic and draw(st.booleans()):
        u_s, u_r = rng.integers(-3, 4, (2, n)).astype(float), rng.integers(-3, 4, (2, n)).astype(float)
    else:
        u_s, u_r = rng.normal(size=(2, n)), rng.normal(size=(2, n))
    if not generic and draw(st.integers(0, 4)) == 0:
        u_s = u_r.copy()
    kind = draw(st.integers(0, 5)) if not generic else 5
    q0 = {0: 0.0, 1: 1.0, 2: 0.5}.get(kind, float(rng.uniform()))
    return Game([1.0 - q0, q0], u_s, u_r)


def _brute_force(game: Game, points: int) -> float:
    """max over splits q1 <= q0 <= q2 on a grid of w1 V(q1) + w2 V(q2), with w1 q1 + w2 q2 = q0."""
    q0 = float(game.prior[1])
    q1 = np.linspace(0.0, q0, points)
    q2 = np.linspace(q0, 1.0, points)
    v1, _ = indirect_value(game, q1)
    v2, _ = indirect_value(game, q2)
    gap = q2[None, :] - q1[:, None]
    w2 = np.where(gap > 0, (q0 - q1[:, None]) / np.where(gap > 0, gap, 1.0), 0.0)
    return float((v1[:, None] + w2 * (v2[None, :] - v1[:, None])).max())


def test_prosecutor():
    c = concavify(PROSECUTOR)
    assert c.value_at_prior == pytest.approx(0.6)
    assert c.no_information_value == 0.0
    np.testing.assert_allclose(c.breakpoints, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(c.split_q, [0.0, 0.5])
    np.testing.assert_allclose(c.split_weights, [0.4, 0.6])
    assert c.split_actions == (0, 1)  # acquit at q = 0, convict at the indifference point q = 0.5
    # V is upper semicontinuous: at q = 0.5 the indifferent judge convicts.
    v, a = indirect_value(PROSECUTOR, np.array([0.4999, 0.5, 0.5001]))
    assert v.tolist() == [0.0, 1.0, 1.0] and a.tolist() == [0, 1, 1]
    np.testing.assert_allclose(c.closure_at(np.array([0.0, 0.25, 0.5, 1.0])), [0.0, 0.5, 1.0, 1.0])
    assert c.q[0] == 0.0 and c.q[-1] == 1.0 and 0.5 in c.q and 0.3 in c.q
    assert not c.q.flags.writeable


def test_no_split_when_it_gains_nothing():
    """A judge already convicting at the prior, or a single action: V is linear near q0, so no split."""
    for game in (PROSECUTOR.with_prior([0.4, 0.6]), Game([0.5, 0.5], [[1.0], [3.0]], [[0.0], [0.0]])):
        c = concavify(game)
        np.testing.assert_allclose(c.split_q, [c.prior, c.prior])
        np.testing.assert_allclose(c.split_weights, [1.0, 0.0])
        assert c.value_at_prior == pytest.approx(c.no_information_value)
    assert concavify(PROSECUTOR.with_prior([0.4, 0.6])).value_at_prior == pytest.approx(1.0)


def test_errors():
    with pytest.raises(GameError, match="exactly 2 states, the game has 3"):
        concavify(Game([0.2, 0.3, 0.5], np.zeros((3, 2)), np.zeros((3, 2))))
    typed = Game([0.5, 0.5], [[0, 1], [0, 1]], [[[1, 0], [0, 1]]] * 2, type_prior=[0.5, 0.5])
    with pytest.raises(GameError, match="single receiver type"):
        concavify(typed)
    with pytest.raises(GameError, match="grid"):
        concavify(PROSECUTOR, grid=1)
    with pytest.raises(GameError, match=r"\[0, 1\]"):
        indirect_value(PROSECUTOR, np.array([1.5]))


def test_upper_hull():
    x = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    assert upper_hull(x, np.array([0.0, 1.0, 0.0, 1.0, 0.0])).tolist() == [0, 1, 3, 4]
    assert upper_hull(x, x.copy()).tolist() == [0, 4]  # collinear points are dropped
    assert upper_hull(x, -((x - 0.5) ** 2)).tolist() == [0, 1, 2, 3, 4]  # strictly concave: all kept


def test_isolated_spike_at_a_triple_tie():
    """Three receiver lines meet at q = 0.4; the middle action is a best response only there."""
    u_r = np.array([[2.0, 0.0, -2.0], [-3.0, 0.0, 3.0]])  # U = 2 - 5q, 0, 5q - 2: all 0 at q = 0.4
    u_s = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    game = Game([0.8, 0.2], u_s, u_r)
    v, a = indirect_value(game, np.array([0.4 - 1e-9, 0.4, 0.4 + 1e-9]))
    assert v.tolist() == [0.0, 1.0, 0.0] and a.tolist() == [0, 1, 2]
    c = concavify(game)
    np.testing.assert_allclose(c.split_q, [0.0, 0.4])
    np.testing.assert_allclose(c.split_weights, [0.5, 0.5])
    assert c.value_at_prior == pytest.approx(0.5)
    assert c.value_at_prior == pytest.approx(solve(game).value, abs=1e-8)


@given(two_state_games())
def test_closure_matches_lp(game):
    """cav V(q0) equals the LP optimum, and the split is Bayes-plausible and attains it."""
    c = concavify(game, grid=51)
    assert c.value_at_prior == pytest.approx(solve(game).value, abs=1e-8)
    q1, q2 = c.split_q
    w1, w2 = c.split_weights
    assert 0.0 <= q1 <= c.prior <= q2 <= 1.0
    assert w1 >= 0 and w2 >= 0 and w1 + w2 == pytest.approx(1.0)
    assert w1 * q1 + w2 * q2 == pytest.approx(c.prior, abs=1e-12)
    v_split, a_split = indirect_value(game, c.split_q)
    assert float(c.split_weights @ v_split) == pytest.approx(c.value_at_prior, abs=1e-12)
    assert tuple(a_split) == c.split_actions
    assert c.value_at_prior >= c.no_information_value - 1e-12


@given(two_state_games())
def test_closure_is_the_least_concave_majorant(game):
    """cav V >= V everywhere, is concave, and touches V at its vertices."""
    c = concavify(game, grid=201)
    scale = max(1.0, np.abs(game.sender_utility).max())
    assert np.all(c.closure >= c.value - 1e-9 * scale)
    v_hull, _ = indirect_value(game, c.hull_q)
    np.testing.assert_allclose(v_hull, c.hull_value)
    assert c.hull_q[0] == 0.0 and c.hull_q[-1] == 1.0
    slopes = np.diff(c.hull_value) / np.diff(c.hull_q)
    assert np.all(np.diff(slopes) <= 1e-9 * scale)  # slopes decrease: concave
    assert set(c.breakpoints) <= set(c.q)


@given(two_state_games())
def test_brute_force_never_beats_the_closure(game):
    """No split found on a grid of posteriors beats cav V(q0) (it includes tied, degenerate games)."""
    c = concavify(game, grid=11)
    assert _brute_force(game, 201) <= c.value_at_prior + 1e-9


@given(two_state_games(generic=True))
def test_brute_force_gets_within_grid_resolution(game):
    """On generic games the best grid split is within O(h) of cav V(q0), h the grid step.

    Generic utilities make every indifference point a tie of exactly two actions, each a best response on one
    side, so a grid point within ``h`` of an optimal posterior on the right side loses at most
    ``(L + S) h`` with ``L`` the slope of ``V`` and ``S`` that of the closure (the chord through both).
    """
    c = concavify(game, grid=11)
    points = 401
    best = _brute_force(game, points)
    h = 1.0 / (points - 1)
    slope_v = np.abs(game.sender_utility[1] - game.sender_utility[0]).max()
    slope_cav = np.abs(np.diff(c.hull_value) / np.diff(c.hull_q)).max(initial=0.0)
    assert best <= c.value_at_prior + 1e-9
    assert best >= c.value_at_prior - 4 * (slope_v + slope_cav) * h - 1e-9


def test_breakpoints_include_every_indifference():
    u_r = np.array([[1.0, 0.0, 0.5, 1.0], [0.0, 1.0, 0.5, 0.0]])  # actions 0 and 3 identical for the receiver
    game = Game([0.5, 0.5], np.zeros((2, 4)), u_r)
    np.testing.assert_allclose(breakpoints(game), [0.0, 0.5, 1.0])

"""Tests of persuasion.robust: confidence sets, their vertices, and the robust LP."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persuasion.errors import GameError
from persuasion.game import Game
from persuasion.robust import (
    RobustSolver,
    confidence_radius,
    confidence_vertices,
    epoch_delta,
    obedience_slack,
    robust_obedience_slack,
    solve_robust,
    solve_robust_vertices,
    worst_case,
)
from persuasion.solve import evaluate, solve

TOL = 1e-6
PROSECUTOR = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])


@st.composite
def estimates(draw, m_min=2, m_max=5):
    m = draw(st.integers(m_min, m_max))
    w = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=m, max_size=m))) + 1e-3
    zero = draw(st.booleans())
    if zero:  # an estimate with an unseen state
        w[draw(st.integers(0, m - 1))] = 0.0
    mu = w / w.sum()
    r = draw(st.floats(0.0, 0.8))
    return mu, r


@st.composite
def games(draw, m_max=4, n_max=3):
    mu, r = draw(estimates(2, m_max))
    m = mu.size
    n = draw(st.integers(2, n_max))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    return rng.random((m, n)), rng.random((m, n)), mu, r


def in_set(mu: np.ndarray, mu_hat: np.ndarray, r: float) -> bool:
    return bool(np.all(mu >= -1e-12) and abs(mu.sum() - 1) < 1e-9 and np.abs(mu - mu_hat).sum() <= r + 1e-9)


# ------------------------------------------------------------------------------------------ radius
def test_radius_shrinks_with_t_and_grows_with_m_and_confidence():
    assert confidence_radius(100, 4, 0.05) > confidence_radius(10_000, 4, 0.05)
    assert confidence_radius(1000, 8, 0.05) > confidence_radius(1000, 4, 0.05)
    assert confidence_radius(1000, 4, 0.01) > confidence_radius(1000, 4, 0.1)
    assert confidence_radius(0, 4, 0.05) == 2.0
    ratio = confidence_radius(1000, 4, 0.05) / confidence_radius(4000, 4, 0.05)
    assert ratio == pytest.approx(2.0)  # r ~ 1 / sqrt(t)


def test_epoch_deltas_sum_to_delta():
    assert sum(epoch_delta(0.05, j) for j in range(100_000)) == pytest.approx(0.05, rel=1e-4)


def test_radius_covers_the_true_prior_with_probability_one_minus_delta():
    rng = np.random.default_rng(0)
    mu0 = np.array([0.5, 0.2, 0.2, 0.1])
    delta, t, trials = 0.2, 200, 4000
    r = confidence_radius(t, mu0.size, delta)
    mu_hat = rng.multinomial(t, mu0, size=trials) / t
    misses = np.mean(np.abs(mu_hat - mu0).sum(axis=1) > r)
    assert misses <= delta / 4  # Weissman's bound is loose: the true miss rate is far below delta


def test_radius_rejects_bad_input():
    with pytest.raises(GameError, match="delta"):
        confidence_radius(10, 2, 1.5)
    with pytest.raises(GameError, match="m must be"):
        confidence_radius(10, 0, 0.1)


# ------------------------------------------------------------------------------------------ vertices
@given(estimates())
def test_vertices_lie_in_the_set_and_on_its_boundary(est):
    mu_hat, r = est
    verts = confidence_vertices(mu_hat, r)
    assert len(verts) >= 1
    for v in verts:
        assert in_set(v, mu_hat, r)
        dist = np.abs(v - mu_hat).sum()
        # a vertex uses the whole radius unless it is a corner of the simplex
        assert dist >= r - 1e-9 or np.isclose(v.max(), 1.0)


@given(estimates(), st.integers(0, 2**31 - 1))
def test_worst_case_is_the_minimum_over_vertices_and_over_the_set(est, seed):
    mu_hat, r = est
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(3, mu_hat.size))
    verts = confidence_vertices(mu_hat, r)
    by_vertices = (c @ verts.T).min(axis=1)
    np.testing.assert_allclose(worst_case(c, mu_hat, r), by_vertices, atol=1e-9)
    # random points of the set never go below it
    for _ in range(20):
        v = verts[rng.integers(len(verts))]
        lam = rng.random()
        p = lam * v + (1 - lam) * mu_hat
        assert np.all(c @ p >= worst_case(c, mu_hat, r) - 1e-9)


def test_small_radius_has_m_times_m_minus_one_vertices():
    mu_hat = np.array([0.4, 0.3, 0.2, 0.1])
    verts = confidence_vertices(mu_hat, 0.1)
    assert len(verts) == 4 * 3
    assert sorted(np.round(np.abs(verts - mu_hat).max(axis=1), 9)) == [0.05] * 12


def test_zero_radius_is_the_point_itself():
    mu_hat = np.array([0.6, 0.4])
    np.testing.assert_array_equal(confidence_vertices(mu_hat, 0.0), mu_hat[None])


def test_huge_radius_gives_the_simplex_corners():
    verts = confidence_vertices(np.array([0.5, 0.3, 0.2]), 2.0)
    np.testing.assert_allclose(sorted(map(tuple, verts)), sorted(map(tuple, np.eye(3))))


def test_vertices_reject_bad_estimates():
    with pytest.raises(GameError, match="probability vector"):
        confidence_vertices(np.array([0.5, 0.6]), 0.1)
    with pytest.raises(GameError, match="radius"):
        confidence_vertices(np.array([0.5, 0.5]), -0.1)


# ------------------------------------------------------------------------------------------ robust LP
def test_robust_lp_is_dpp():
    assert RobustSolver(PROSECUTOR.sender_utility, PROSECUTOR.receiver_utility).problem.is_dpp()


def test_prosecutor_robust_value_by_hand():
    # P(guilty) may be as low as 0.25: convict iff 0.25 >= 0.75 p, so p = 1/3 and V = 0.3 + 0.7 / 3
    sol = solve_robust(PROSECUTOR, 0.1)
    assert sol.value == pytest.approx(0.3 + 0.7 / 3, abs=1e-7)
    np.testing.assert_allclose(sol.scheme, [[2 / 3, 1 / 3], [0, 1]], atol=1e-7)


@settings(max_examples=25)
@given(games())
def test_robust_scheme_is_obedient_at_every_vertex(data):
    u_s, u_r, mu_hat, r = data
    sol = RobustSolver(u_s, u_r).solve(mu_hat, r)
    np.testing.assert_allclose(sol.scheme.sum(axis=1), 1.0)
    assert np.all(sol.scheme >= 0)
    for v in confidence_vertices(mu_hat, r):  # checked directly, vertex by vertex
        slack = obedience_slack(sol.scheme, u_r, v)
        assert slack.min() >= -TOL, (v, slack)
    assert robust_obedience_slack(sol.scheme, u_r, mu_hat, r).min() >= -TOL


@settings(max_examples=20)
@given(games())
def test_dual_and_vertex_formulations_agree(data):
    u_s, u_r, mu_hat, r = data
    dual = RobustSolver(u_s, u_r).solve(mu_hat, r)
    verts = solve_robust_vertices(u_s, u_r, mu_hat, r)
    assert dual.value == pytest.approx(verts.value, abs=1e-6)


@settings(max_examples=20)
@given(games())
def test_zero_radius_gives_the_plain_lp(data):
    u_s, u_r, mu_hat, _ = data
    robust = RobustSolver(u_s, u_r).solve(mu_hat, 0.0)
    plain = solve(Game(mu_hat, u_s, u_r, normalize=True))
    assert robust.value == pytest.approx(plain.value, abs=1e-6)
    assert obedience_slack(robust.scheme, u_r, mu_hat).min() >= -TOL


@settings(max_examples=20)
@given(games())
def test_robust_value_falls_with_radius_and_beats_full_disclosure(data):
    u_s, u_r, mu_hat, r = data
    solver = RobustSolver(u_s, u_r)
    values = [solver.solve(mu_hat, x).value for x in (0.0, r / 2, r)]
    assert values[0] >= values[1] - 1e-7 >= values[2] - 2e-7
    # full disclosure (recommend a best response per state) is feasible for every radius
    full = np.zeros_like(u_s)
    for s in range(u_s.shape[0]):
        best = np.flatnonzero(u_r[s] >= u_r[s].max() - 1e-12)
        full[s, best[np.argmax(u_s[s, best])]] = 1.0
    game = Game(mu_hat, u_s, u_r, normalize=True)
    assert values[2] >= evaluate(game, full).value - 1e-7


def test_robust_scheme_is_persuasive_at_the_true_prior_inside_the_set():
    rng = np.random.default_rng(3)
    u_s, u_r = np.tile(rng.random(3), (4, 1)), rng.random((4, 3))
    mu0 = np.array([0.4, 0.3, 0.2, 0.1])
    mu_hat = rng.multinomial(2000, mu0) / 2000
    r = confidence_radius(2000, 4, 0.05)
    assert np.abs(mu_hat - mu0).sum() <= r
    sol = RobustSolver(u_s, u_r).solve(mu_hat, r)
    assert obedience_slack(sol.scheme, u_r, mu0).min() >= -TOL
    naive = solve(Game(mu_hat, u_s, u_r, normalize=True))  # binds at mu_hat: not robust
    assert naive.value >= sol.value - 1e-9


def test_robust_solver_checks_its_input():
    solver = RobustSolver(PROSECUTOR.sender_utility, PROSECUTOR.receiver_utility)
    with pytest.raises(GameError, match="compiled for m=2"):
        solver.solve(np.ones(3) / 3, 0.1)
    with pytest.raises(GameError, match="matching"):
        RobustSolver(np.ones((2, 2)), np.ones((3, 2)))
    with pytest.raises(GameError, match="unknown method"):
        solve_robust(PROSECUTOR, 0.1, method="magic")
    typed = Game([0.5, 0.5], [[0, 1], [0, 1]], [[[1, 0], [0, 1]]] * 2, type_prior=[0.5, 0.5])
    with pytest.raises(GameError, match="single receiver type"):
        solve_robust(typed, 0.1)

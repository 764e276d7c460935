"""Tests for persuasion.solve: optimality, the dual certificate, invariances and the three solve paths agree.

Reference values (no disclosure, full disclosure, the two-state concavification) are computed inline here, so the
tests do not depend on persuasion.reference.
"""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persuasion import testing
from persuasion.errors import GameError, SolverError
from persuasion.game import Game
from persuasion.solve import (
    ReusableSolver,
    Solution,
    all_pairs,
    dominated_actions,
    evaluate,
    mass_matrix,
    obedience_matrix,
    solve,
)

solve_module = importlib.import_module("persuasion.solve")

TIE = 1e-9  # receiver ties in the inline references, times the utility scale
TOL = 1e-7  # optimality / feasibility tolerance, times the utility scale


# ------------------------------------------------------------------------------------------- strategies
def games(max_m: int = 5, max_n: int = 5, m: int | None = None) -> st.SearchStrategy[Game]:
    """Single-receiver games from :func:`persuasion.testing.games`: ties, zero-prior states, one action or one
    state, identical sender and receiver utilities, an indifferent receiver, duplicated and dominated actions."""
    return testing.games(m=m if m is not None else (1, max_m), n=(1, max_n))


def scale(game: Game) -> float:
    return max(1.0, float(np.abs(game.receiver_utility).max()), float(np.abs(game.sender_utility).max()))


# ------------------------------------------------------------------------------------- inline references
def sender_best_response(game: Game, posterior: np.ndarray) -> int:
    """The receiver's best response to ``posterior``, ties broken in the sender's favour."""
    rec = posterior @ game.receiver_utility
    ties = np.flatnonzero(rec >= rec.max() - TIE * scale(game))
    return int(ties[np.argmax(posterior @ game.sender_utility[:, ties])])


def no_disclosure_value(game: Game) -> float:
    return float(game.prior @ game.sender_utility[:, sender_best_response(game, game.prior)])


def full_disclosure_value(game: Game) -> float:
    eye = np.eye(game.m)
    return float(sum(game.prior[s] * game.sender_utility[s, sender_best_response(game, eye[s])] for s in range(game.m)))


def two_state_value(game: Game, grid: int = 101, breakpoints: bool = True) -> float:
    """Brute force for ``m = 2``: the best split of ``mu0`` into two posteriors ``q1 <= q0 <= q2`` (``q`` the mass
    on state 0) over a grid, which with the receiver's indifference points added makes it exact."""
    u_r, q0 = game.receiver_utility, game.prior[0]
    qs = [np.linspace(0.0, 1.0, grid), [q0]]
    if breakpoints:
        d = u_r[0] - u_r[1]  # U_R(q, a) = u_r[1, a] + q d[a]
        a, b = np.triu_indices(game.n, 1)
        keep = d[a] != d[b]
        q = (u_r[1, b] - u_r[1, a])[keep] / (d[a] - d[b])[keep]
        qs.append(q[(q >= 0) & (q <= 1)])
    q = np.unique(np.concatenate(qs))
    value = np.array([game.sender_utility[:, sender_best_response(game, np.array([p, 1 - p]))] @ [p, 1 - p]
                      for p in q])
    lo, hi = q <= q0, q >= q0
    q1, q2 = q[lo][:, None], q[hi][None, :]
    v1, v2 = value[lo][:, None], value[hi][None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(q2 > q1, (q2 - q0) / (q2 - q1), 1.0)
    return float((w * v1 + (1 - w) * v2).max())


def certificate_errors(game: Game, sol: Solution) -> tuple[float, float, float]:
    """(duality gap |value - mu0 . z|, dual infeasibility, most negative y)."""
    u_s, u_r = game.sender_utility, game.receiver_utility
    y, z = sol.obedience_dual, sol.state_dual
    dual_rows = u_s + u_r * y.sum(axis=1)[None, :] - u_r @ y.T  # must be <= z[s]
    return abs(sol.value - float(game.prior @ z)), float((dual_rows - z[:, None]).max()), float(y.min())


def check_solution(game: Game, sol: Solution) -> None:
    """Feasibility, Bayes plausibility, consistency and the dual certificate of ``sol``."""
    tol = TOL * scale(game)
    m, n = game.m, game.n
    assert sol.status == "optimal"
    assert sol.scheme.shape == (m, n) and np.all(sol.scheme >= 0)
    assert np.allclose(sol.scheme.sum(axis=1), 1.0)
    joint = game.prior[:, None] * sol.scheme
    slack = joint.T @ game.receiver_utility
    slack = np.diag(slack)[:, None] - slack
    assert np.allclose(slack, sol.obedience_slack) and slack.min() >= -tol  # obedience
    assert np.isclose(sol.value, float((joint * game.sender_utility).sum()))
    assert np.isclose(sol.receiver_value, float((joint * game.receiver_utility).sum()))
    assert np.allclose(sol.signal_prob @ sol.posteriors, game.prior)  # Bayes plausibility
    assert np.isclose(sol.signal_prob.sum(), 1.0) and np.allclose(sol.posteriors.sum(axis=1), 1.0)
    for a, mu in zip(sol.signals, sol.posteriors):  # the recommended action is a best response to its posterior
        rec = mu @ game.receiver_utility
        assert rec[a] >= rec.max() - tol
    for s in np.flatnonzero(game.prior == 0):  # zero-prior rows recommend a receiver best response to that state
        used = sol.scheme[s] > 0
        assert np.all(game.receiver_utility[s, used] >= game.receiver_utility[s].max() - tol)
    gap, infeasible, y_min = certificate_errors(game, sol)
    assert gap <= tol and infeasible <= tol and y_min >= -tol


# ------------------------------------------------------------------------------------------- properties
@given(games())
def test_solution_is_feasible_certified_and_beats_the_references(game: Game) -> None:
    sol = solve(game)
    check_solution(game, sol)
    tol = TOL * scale(game)
    assert sol.value >= max(no_disclosure_value(game), full_disclosure_value(game)) - tol
    assert sol.value <= float(game.prior @ game.sender_utility.max(axis=1)) + tol
    assert set(sol.pruned).isdisjoint(sol.signals)


@given(games(m=2, max_n=5))
def test_two_states_match_brute_force(game: Game) -> None:
    value = solve(game).value
    tol = TOL * scale(game)
    assert abs(value - two_state_value(game)) <= tol
    assert two_state_value(game, breakpoints=False) <= value + tol  # the bare grid is a lower bound


@given(games(), st.data())
def test_invariant_under_permutations(game: Game, data: st.DataObject) -> None:
    perm_s = np.array(data.draw(st.permutations(range(game.m))))
    perm_a = np.array(data.draw(st.permutations(range(game.n))))
    permuted = Game(game.prior[perm_s], game.sender_utility[np.ix_(perm_s, perm_a)],
                    game.receiver_utility[np.ix_(perm_s, perm_a)])
    assert abs(solve(permuted).value - solve(game).value) <= TOL * scale(game)


@given(games(), st.floats(0.01, 100), st.floats(-50, 50), st.data())
def test_invariant_under_positive_affine_receiver_utility(game: Game, a: float, b: float, data) -> None:
    shift = np.array(data.draw(st.lists(st.floats(-5, 5), min_size=game.m, max_size=game.m)))
    for u_r in (a * game.receiver_utility + b, game.receiver_utility + shift[:, None]):
        changed = Game(game.prior, game.sender_utility, u_r)
        assert abs(solve(changed).value - solve(game).value) <= TOL * scale(game) * max(1.0, a)


@given(games(), st.booleans())
def test_aligned_utilities_give_full_information_value(game: Game, flip: bool) -> None:
    u = game.sender_utility
    aligned = Game(game.prior, u, u)
    expected = float(game.prior @ u.max(axis=1))
    sol = solve(aligned, row_generation=flip)
    assert abs(sol.value - expected) <= TOL * scale(game)
    assert abs(sol.value - full_disclosure_value(aligned)) <= TOL * scale(game)


_reusable_cache: dict[tuple[int, int], ReusableSolver] = {}


@settings(max_examples=25)
@given(games(max_m=4, max_n=4))
def test_all_paths_agree(game: Game) -> None:
    """Row generation (HiGHS), the one-shot LP (cvxpy), the cvxpy row generation (Clarabel) and both reusable
    solvers reach the same optimum, each with a valid certificate."""
    rowgen = solve(game)
    key = (game.m, game.n)
    if key not in _reusable_cache:
        _reusable_cache[key] = ReusableSolver(*key)
    others = [
        solve(game, row_generation=False),
        _reusable_cache[key].solve(game),
        ReusableSolver(game.m, game.n, receiver_utility=game.receiver_utility).solve(game),
    ]
    for sol in others:
        check_solution(game, sol)
        assert abs(sol.value - rowgen.value) <= TOL * scale(game)
    clarabel = solve(game, solvers=("CLARABEL",))
    assert clarabel.solver == "CLARABEL"
    assert abs(clarabel.value - rowgen.value) <= 1e-5 * scale(game)


@pytest.mark.parametrize("m, n, seed", [(8, 12, 0), (12, 8, 1), (15, 15, 2), (6, 30, 3)])
def test_larger_random_games_agree_with_full_lp(m: int, n: int, seed: int) -> None:
    game = Game.random(m, n, seed=seed)
    rowgen, full = solve(game), solve(game, row_generation=False)
    check_solution(game, rowgen)
    check_solution(game, full)
    assert abs(rowgen.value - full.value) <= 1e-8
    assert rowgen.rows < n * (n - 1) and rowgen.rounds >= 1
    assert len(rowgen.signals) <= m  # a vertex optimum needs at most m signals


@given(games(max_m=4, max_n=5), st.floats(0.05, 0.95))
def test_warm_start_gives_the_same_optimum(game: Game, eps: float) -> None:
    first = solve(game)
    other = game.with_prior((1 - eps) * game.prior + eps * np.roll(game.prior, 1), normalize=True)
    warm, cold = solve(other, warm_start=first), solve(other)
    check_solution(other, warm)
    assert abs(warm.value - cold.value) <= TOL * scale(game)


def test_warm_start_reuses_rows_and_basis() -> None:
    game = Game.random(20, 20, seed=4)
    first = solve(game)
    assert first.basis is not None and first.rows == len(first.pairs)
    other = game.with_prior(0.9 * game.prior + 0.1 / 20, normalize=True)
    warm = solve(other, warm_start=first)
    assert warm.rows >= first.rows and warm.rounds <= solve(other).rounds
    assert abs(warm.value - solve(other, row_generation=False).value) <= 1e-8
    # another support: the start is ignored and the answer is still right
    sparse = game.with_prior(np.r_[game.prior[:10], np.zeros(10)], normalize=True)
    assert abs(solve(sparse, warm_start=first).value - solve(sparse, row_generation=False).value) <= 1e-8


# --------------------------------------------------------------------------------------- known answers
def test_prosecutor_judge() -> None:
    g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]], state_names=["innocent", "guilty"])
    sol = solve(g)
    assert sol.value == pytest.approx(0.6) and sol.signals == (0, 1)
    assert sol.scheme[1, 1] == pytest.approx(1.0) and sol.scheme[0, 1] == pytest.approx(3 / 7)
    assert np.allclose(sol.posteriors[1], [0.5, 0.5])
    assert sol.obedience_dual[1, 0] > 0  # the binding constraint carries the shadow price
    d = sol.to_dict(g)
    json.dumps(d)
    assert d["states"] == ["innocent", "guilty"] and d["signals"][1]["action_name"] == "action1"


def test_degenerate_games() -> None:
    one_action = Game([0.2, 0.8], [[1.0], [3.0]], [[5.0], [-1.0]])
    sol = solve(one_action)
    assert sol.value == pytest.approx(2.6) and np.all(sol.scheme == 1.0)
    one_state = Game([1.0], [[1, 5, 3]], [[2, 2, 0]])
    sol = solve(one_state)
    assert sol.value == pytest.approx(5.0) and sol.pruned == (2,)
    flat = Game([0.5, 0.5], np.zeros((2, 3)), np.zeros((2, 3)))
    check_solution(flat, solve(flat))


def test_zero_prior_rows_recommend_a_receiver_best_response() -> None:
    g = Game([0.6, 0.0, 0.4], [[1, 0, 0], [0, 0, 5], [0, 1, 0]], [[1, 0, 0], [0, 2, 2], [0, 1, 0]])
    sol = solve(g)
    assert np.array_equal(sol.scheme[1], [0, 0, 1])  # u_R ties 1 and 2; the sender prefers 2
    check_solution(g, sol)


def test_dominated_actions_are_pruned_with_a_certificate() -> None:
    u_r = np.array([[1.0, 0.0, 2.0, 0.5], [1.0, 0.5, 0.0, 0.9]])
    assert dominated_actions(u_r).tolist() == [-1, 0, -1, 0]
    assert dominated_actions(u_r, np.array([1])).tolist()[2] >= 0  # on state 1 alone, action 2 is dominated too
    g = Game([0.5, 0.5], [[0, 9, 0, 9], [0, 9, 0, 9]], u_r)
    sol = solve(g)
    assert sol.pruned == (1, 3) and sol.scheme[:, [1, 3]].sum() == 0
    check_solution(g, sol)  # the dual rows of the pruned actions are covered by y[b, dominator]


@given(st.integers(1, 4), st.integers(1, 6), st.integers(0, 10**6))
def test_dominated_actions_are_strictly_dominated(m: int, n: int, seed: int) -> None:
    u = np.random.default_rng(seed).integers(0, 3, size=(m, n)).astype(float)
    dom = dominated_actions(u)
    for b in np.flatnonzero(dom >= 0):
        assert np.all(u[:, dom[b]] > u[:, b])
    for b in np.flatnonzero(dom < 0):
        assert not any(np.all(u[:, d] > u[:, b]) for d in range(n))


# ------------------------------------------------------------------------------------------ LP pieces
def test_obedience_and_mass_matrices() -> None:
    rng = np.random.default_rng(0)
    m, n = 3, 4
    u_r, x = rng.normal(size=(m, n)), rng.uniform(size=(m, n))
    pairs = all_pairs(n)
    assert pairs.shape == (n * (n - 1), 2) and not np.any(pairs[:, 0] == pairs[:, 1])
    rows = obedience_matrix(u_r, pairs) @ x.ravel()
    gram = x.T @ u_r
    assert np.allclose(rows, np.diag(gram)[pairs[:, 0]] - gram[pairs[:, 0], pairs[:, 1]])
    assert np.allclose(mass_matrix(m, n) @ x.ravel(), x.sum(axis=1))
    assert obedience_matrix(u_r, np.zeros((0, 2), dtype=int)).shape == (0, m * n)


# ------------------------------------------------------------------------------------------- reusable
def test_reusable_solver_is_dpp_and_reusable() -> None:
    g = Game.random(3, 4, seed=5)
    full = ReusableSolver(3, 4)
    fixed = ReusableSolver(3, 4, receiver_utility=g.receiver_utility)
    assert full.problem.is_dpp() and fixed.problem.is_dpp()
    assert full.parameters == ("prior", "sender_utility", "receiver_utility")
    assert fixed.parameters == ("prior", "sender_utility")
    rng = np.random.default_rng(1)
    for _ in range(3):
        prior = rng.dirichlet(np.ones(3))
        u_s = rng.normal(size=(3, 4))
        h = Game(prior, u_s, g.receiver_utility)
        expected = solve(h).value
        assert full.solve(h).value == pytest.approx(expected, abs=1e-8)
        assert fixed(h).value == pytest.approx(expected, abs=1e-8)
    other = Game(g.prior, g.sender_utility, rng.normal(size=(3, 4)))
    assert full.solve(other).value == pytest.approx(solve(other).value, abs=1e-8)
    with pytest.raises(GameError, match="fixed receiver_utility"):
        fixed.solve(other)


def test_reusable_solver_errors() -> None:
    with pytest.raises(GameError):
        ReusableSolver(0, 2)
    with pytest.raises(GameError, match="receiver_utility"):
        ReusableSolver(2, 2, receiver_utility=np.zeros((2, 3)))
    with pytest.raises(GameError, match="compiled for 2 states x 2 actions"):
        ReusableSolver(2, 2).solve(Game.random(3, 2))


# ------------------------------------------------------------------------------------------- evaluate
def test_evaluate_keeps_the_given_rows() -> None:
    g = Game([1.0, 0.0], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
    scheme = np.array([[0.25, 0.75], [0.5, 0.5]])
    sol = evaluate(g, scheme)
    assert np.array_equal(sol.scheme, scheme)  # the zero-prior row is not overwritten
    assert sol.value == pytest.approx(0.75) and sol.obedience_slack[1, 0] < 0  # not obedient, and reported
    assert np.all(sol.obedience_dual == 0) and sol.status == "evaluated"


@pytest.mark.parametrize("scheme", [
    np.ones((2, 3)) / 3, [[0.5, 0.6], [0.5, 0.5]], [[1.5, -0.5], [1, 0]], [[np.nan, 1], [1, 0]], "x",
])
def test_evaluate_rejects_bad_schemes(scheme) -> None:
    g = Game([0.5, 0.5], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
    with pytest.raises(GameError) as excinfo:
        evaluate(g, scheme)
    assert "\n" not in str(excinfo.value)


# --------------------------------------------------------------------------------------------- errors
def test_solve_rejects_types_and_bad_arguments() -> None:
    u = np.eye(2)
    typed = Game([0.5, 0.5], u, np.stack([u, 1 - u]), [0.5, 0.5])
    with pytest.raises(GameError, match="receiver types"):
        solve(typed)
    g = Game([0.5, 0.5], u, u)
    with pytest.raises(GameError, match="max_new_rows"):
        solve(g, max_new_rows=0)
    with pytest.raises(GameError, match="warm_start"):
        solve(g, warm_start="previous")  # type: ignore[arg-type]


def test_unknown_solver_raises_solver_error() -> None:
    g = Game.random(3, 3, seed=0)
    with pytest.raises(SolverError) as excinfo:
        solve(g, solvers=("NO_SUCH_SOLVER",))
    assert "\n" not in str(excinfo.value)


def test_highs_failure_falls_back_to_cvxpy(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self):
        raise SolverError("HiGHS: status kSolveError")

    g = Game.random(5, 6, seed=3)
    expected = solve(g).value
    monkeypatch.setattr(solve_module._HighsOracle, "solve", broken)
    sol = solve(g)
    assert sol.solver == "HIGHS" and sol.basis is None  # through cvxpy's HiGHS interface
    assert sol.value == pytest.approx(expected, abs=1e-8)
    check_solution(g, sol)

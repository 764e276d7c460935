"""Tests of persuasion.receiver_types: public and private signalling to a receiver with K types.

Checks against ``persuasion.solve`` (K = 1), against brute-force searches on small games, and the invariants:
obedience of every type, truthful reporting, ``no information <= public <= private <= sum_k lam_k V_k``
(``V_k`` the single-receiver optimum of type ``k``), identical types collapse to one receiver, and pruning does
not change the optimum.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persuasion import testing
from persuasion.errors import GameError
from persuasion.game import Game
from persuasion.receiver_types import (
    PRUNE_TOL,
    PrivateSolution,
    PublicSolution,
    action_profiles,
    region_tests_intervals,
    region_tests_lp,
    report_utilities,
    solve_private,
    solve_public,
)
from persuasion.solve import solve

# ------------------------------------------------------------------------------------------------- strategies
def games(
    k_range: tuple[int, int] = (1, 3),
    m_range: tuple[int, int] = (1, 4),
    n_range: tuple[int, int] = (1, 4),
    typed: bool = True,
    elements: st.SearchStrategy[float] | None = None,
) -> st.SearchStrategy[Game]:
    """Games from :func:`persuasion.testing.games`, with ``K`` types in ``k_range`` (one type unless ``typed``)."""
    return testing.games(m=m_range, n=n_range, types=k_range if typed else 1, elements=elements)


def _tol(game: Game) -> float:
    return 1e-6 * max(1.0, float(np.abs(game.receiver_utility).max()), float(np.abs(game.sender_utility).max()))


# ----------------------------------------------------------------------------------- independent references
def _favoured_value(game: Game, belief: np.ndarray) -> float:
    """Sender's expected utility at ``belief`` when each type best-responds, ties in the sender's favour."""
    total = 0.0
    for lam_k, u_k in zip(game.typed_type_prior(), game.typed_receiver_utility()):
        rec = belief @ u_k
        best = np.flatnonzero(rec >= rec.max() - 1e-9)
        total += lam_k * max(float(belief @ game.sender_utility[:, b]) for b in best)
    return total


def _check_public(game: Game, sol: PublicSolution) -> None:
    """Scheme is row-stochastic; every type obeys every sent profile; the value matches the scheme."""
    tol = _tol(game)
    u_r, lam = game.typed_receiver_utility(), game.typed_type_prior()
    assert sol.scheme.shape == (game.m, sol.profiles.shape[0])
    assert sol.profiles.shape[1] == game.K
    assert np.all(sol.scheme >= 0) and np.allclose(sol.scheme.sum(axis=1), 1.0)
    joint = game.prior[:, None] * sol.scheme
    value = 0.0
    receiver = 0.0
    for p, profile in enumerate(sol.profiles):
        mass = joint[:, p]
        for k in range(game.K):
            rec = mass @ u_r[k]
            assert rec[profile[k]] >= rec.max() - tol, f"type {k} disobeys profile {profile.tolist()}"
            value += lam[k] * mass @ game.sender_utility[:, profile[k]]
            receiver += lam[k] * mass @ u_r[k][:, profile[k]]
    assert value == pytest.approx(sol.value, abs=tol)
    assert receiver == pytest.approx(sol.receiver_value, abs=tol)
    assert np.isclose(sol.signal_prob.sum(), 1.0)
    assert np.allclose(sol.posteriors.sum(axis=1), 1.0)


def _check_private(game: Game, sol: PrivateSolution) -> None:
    """Menu rows are stochastic; each type obeys its scheme and prefers reporting truthfully."""
    tol = _tol(game)
    u_r, lam = game.typed_receiver_utility(), game.typed_type_prior()
    K = game.K
    assert sol.scheme.shape == (K, game.m, game.n)
    assert np.all(sol.scheme >= 0) and np.allclose(sol.scheme.sum(axis=2), 1.0)
    value = 0.0
    for k in range(K):
        joint = game.prior[:, None] * sol.scheme[k]
        gram = joint.T @ u_r[k]  # gram[a, b]: utility of b where a is recommended
        assert np.all(np.diag(gram)[:, None] >= gram - tol), f"type {k} disobeys its scheme"
        truthful = np.trace(gram)
        for kp in range(K):
            joint_kp = game.prior[:, None] * sol.scheme[kp]
            lie = sum(max(joint_kp[:, a] @ u_r[k][:, b] for b in range(game.n)) for a in range(game.n))
            assert truthful >= lie - tol, f"type {k} gains by reporting {kp}"
        value += lam[k] * (joint * game.sender_utility).sum()
    assert value == pytest.approx(sol.value, abs=tol)


def _single_values(game: Game) -> np.ndarray:
    return np.array([solve(game.for_type(k)).value for k in range(game.K)])


# ---------------------------------------------------------------------------------------------------- K = 1
@settings(max_examples=30)
@given(games(typed=False))
def test_one_type_matches_solve(game: Game) -> None:
    """Without types (and with one explicit type) both solvers equal the single-receiver LP."""
    ref = solve(game).value
    one = Game(game.prior, game.sender_utility, game.receiver_utility[None], type_prior=[1.0])
    for g in (game, one):
        pub = solve_public(g)
        assert pub.value == pytest.approx(ref, abs=_tol(g))
        assert solve_private(g).value == pytest.approx(ref, abs=_tol(g))
        _check_public(g, pub)


# -------------------------------------------------------------------------------------------- invariants
@settings(max_examples=30)
@given(games())
def test_invariants(game: Game) -> None:
    """Obedience, truthful reporting and ``no info <= public <= private <= sum_k lam_k V_k``.

    ``private >= public`` is a theorem: the marginals ``pi_k(a | s) = sum_{p: p_k = a} pi(p | s)`` of a public
    scheme form a menu that is obedient (best-response regions are convex) and truthful (type ``k`` obeying the
    full public signal gets at least what it gets from the coarser signal of another type's scheme).
    """
    tol = _tol(game)
    pub, priv = solve_public(game), solve_private(game)
    _check_public(game, pub)
    _check_private(game, priv)
    no_info = _favoured_value(game, game.prior)
    upper = float(game.typed_type_prior() @ _single_values(game))
    assert no_info <= pub.value + tol
    assert pub.value <= priv.value + tol
    assert priv.value <= upper + tol
    assert np.all(priv.report_slack >= -tol) and priv.min_obedience_slack >= -tol
    assert pub.min_obedience_slack >= -tol


@settings(max_examples=25)
@given(games(k_range=(2, 3), m_range=(1, 3), n_range=(1, 4)))
def test_pruning_keeps_the_optimum(game: Game) -> None:
    """Pruned profiles are a subset of all ``n^K`` and the LP optimum is unchanged."""
    pruned = action_profiles(game)
    full = action_profiles(game, prune=False)
    assert len(full) == game.n**game.K
    assert set(map(tuple, pruned)) <= set(map(tuple, full))
    assert solve_public(game).value == pytest.approx(solve_public(game, prune=False).value, abs=_tol(game))


@settings(max_examples=25)
@given(games(k_range=(1, 3), m_range=(2, 2), n_range=(1, 5)))
def test_interval_and_lp_region_tests_agree(game: Game) -> None:
    """For two states the closed-form interval tests give the same live actions and pairs as the LPs."""
    u_r = game.typed_receiver_utility()
    tol = PRUNE_TOL * max(1.0, float(np.abs(u_r).max()))
    live_lp, compat_lp = region_tests_lp(u_r, tol)
    live_iv, compat_iv = region_tests_intervals(u_r, tol)
    np.testing.assert_array_equal(live_lp, live_iv)
    assert compat_lp.keys() == compat_iv.keys()
    for key in compat_lp:
        np.testing.assert_array_equal(compat_lp[key], compat_iv[key])


@settings(max_examples=25)
@given(games(k_range=(2, 3), m_range=(2, 2), n_range=(1, 4), elements=st.integers(-2, 2).map(float)))
def test_two_state_pruning_is_exact(game: Game) -> None:
    """m = 2: the kept profiles are exactly those jointly best responses at some belief (integer utilities put
    every threshold on the grid i / 840, so checking the grid beliefs is exhaustive)."""
    u_r = game.typed_receiver_utility()
    q = np.arange(841) / 840
    rec = np.einsum("gs,ksa->gka", np.stack([1 - q, q], axis=1), u_r)
    ties = rec >= rec.max(axis=2, keepdims=True) - 1e-9  # (grid, K, n): best responses at each belief
    every = action_profiles(game, prune=False)
    jointly = ties[:, np.arange(game.K)[None, :], every].all(axis=2).any(axis=0)  # (P,)
    joint = set(map(tuple, every[jointly].tolist()))
    assert set(map(tuple, action_profiles(game).tolist())) == joint


@settings(max_examples=25)
@given(games(typed=False), st.integers(2, 3), st.data())
def test_identical_types_reduce_to_one_receiver(game: Game, K: int, data: st.DataObject) -> None:
    """K copies of one receiver: public and private both equal the single-receiver optimum."""
    lam = np.array(data.draw(st.lists(st.integers(1, 5), min_size=K, max_size=K)), float)
    typed = Game(game.prior, game.sender_utility, np.repeat(game.receiver_utility[None], K, axis=0),
                 type_prior=lam / lam.sum())
    ref = solve(game).value
    assert solve_public(typed).value == pytest.approx(ref, abs=_tol(game))
    assert solve_private(typed).value == pytest.approx(ref, abs=_tol(game))


def test_private_can_beat_public() -> None:
    """Reported types strictly help on a 2-state, 3-action game (so the two LPs differ)."""
    game = Game([0.5, 0.5], [[0, 1, 2], [0, 1, 2]], [[[0, 2, 3], [3, 2, 0]], [[2, 2, 2], [0, 2, 1]]],
                type_prior=[0.5, 0.5])
    pub, priv = solve_public(game), solve_private(game)
    _check_public(game, pub)
    _check_private(game, priv)
    assert priv.value > pub.value + 0.05


# ---------------------------------------------------------------------------------- brute force: public
def _split_value(game: Game, grid: int) -> float:
    """Best split of the prior (2 states) into two grid posteriors ``q1 <= mu0 <= q2`` (``q`` = P(state 1))."""
    q = np.arange(grid + 1) / grid
    v = np.array([_favoured_value(game, np.array([1 - x, x])) for x in q])
    mu = game.prior[1]
    lo, hi = q <= mu + 1e-15, q >= mu - 1e-15
    q1, q2 = q[lo][:, None], q[hi][None, :]
    v1, v2 = v[lo][:, None], v[hi][None, :]
    d = q2 - q1
    w = np.where(d > 0, (q2 - mu) / np.where(d > 0, d, 1.0), 1.0)  # weight on q1
    val = np.where(d > 0, w * v1 + (1 - w) * v2, np.where(np.isclose(q1, mu) & np.isclose(q2, mu), v1, -np.inf))
    return float(val.max())


@settings(max_examples=25)
@given(games(m_range=(2, 2), n_range=(1, 3), elements=st.integers(-2, 2).map(float)), st.integers(0, 840))
def test_public_two_states_exact_grid(game: Game, j: int) -> None:
    """Integer utilities in [-2, 2]: every best-response threshold ``d0 / (d0 - d1)`` has a denominator <= 8, so
    the grid ``i / 840`` contains them all and the best grid split (the concavification over the vertices of
    the sender's piecewise-linear value) equals the LP optimum."""
    game = game.with_prior([1 - j / 840, j / 840])
    lp = solve_public(game).value
    grid = _split_value(game, 840)
    assert grid <= lp + _tol(game)
    assert lp - grid <= _tol(game)


def test_public_two_states_float_grid() -> None:
    """Float utilities: the best split on a grid of resolution h = 1/1000 never beats the LP and is within
    ``2 h span(u_S)`` of it (seeded games)."""
    rng = np.random.default_rng(7)
    h = 1e-3
    for _ in range(20):
        K, n = rng.integers(1, 4), rng.integers(1, 5)
        game = Game(rng.dirichlet(np.ones(2)), rng.normal(size=(2, n)), rng.normal(size=(K, 2, n)),
                    type_prior=rng.dirichlet(np.ones(K)))
        lp = solve_public(game).value
        grid = _split_value(game, round(1 / h))
        assert grid <= lp + _tol(game)
        assert lp - grid <= 2 * h * np.ptp(game.sender_utility) + _tol(game)


# --------------------------------------------------------------------------------- brute force: private
def _menu_value(game: Game, grid: int) -> float:
    """Best menu ``(pi_1, pi_2)`` on a grid (2 types, 2 states, 2 actions) that is obedient and truthful.

    Each scheme is ``pi_k[s] = (g_s, 1 - g_s)`` with ``g_s`` on the grid; the constraints are checked exactly.
    """
    u_r, lam, u_s = game.typed_receiver_utility(), game.typed_type_prior(), game.sender_utility
    g = np.linspace(0, 1, grid)
    g0, g1 = (a.ravel() for a in np.meshgrid(g, g, indexing="ij"))
    pi = np.stack([np.stack([g0, 1 - g0], axis=1), np.stack([g1, 1 - g1], axis=1)], axis=1)  # (N, s, a)
    x = game.prior[None, :, None] * pi
    sender = np.einsum("Nsa,sa->N", x, u_s)
    obey, truth, lie = [], [], []
    for k in range(2):
        gram = np.einsum("Nsa,sb->Nab", x, u_r[k])
        obey.append(np.all(np.diagonal(gram, axis1=1, axis2=2)[:, :, None] >= gram - 1e-12, axis=(1, 2)))
        truth.append(np.einsum("Naa->N", gram))
        lie.append(gram.max(axis=2).sum(axis=1))  # type k facing scheme N, best-responding
    feasible = (obey[0][:, None] & obey[1][None, :] & (truth[0][:, None] >= lie[0][None, :] - 1e-12)
                & (truth[1][None, :] >= lie[1][:, None] - 1e-12))
    value = lam[0] * sender[:, None] + lam[1] * sender[None, :]
    return float(np.where(feasible, value, -np.inf).max())


@settings(max_examples=30)
@given(games(k_range=(2, 2), m_range=(2, 2), n_range=(2, 2)))
def test_private_grid_never_beats_lp(game: Game) -> None:
    """No obedient, truthful menu on a 21-point grid per coordinate beats the LP (including degenerate games)."""
    assert _menu_value(game, 21) <= solve_private(game).value + _tol(game)


def test_private_grid_gets_close() -> None:
    """Seeded noisy "two judges" games (truthful reporting binds in most): the best grid menu (h = 1/40) is
    within ``2 h span(u_S)`` of the LP and never above it."""
    rng = np.random.default_rng(3)
    grid, binding = 41, 0
    for _ in range(20):
        strict = rng.uniform(0.2, 3.0, size=2)  # type k convicts when P(guilty) >= strict_k / (1 + strict_k)
        u_r = np.array([[[c, 0.0], [0.0, 1.0]] for c in strict]) + rng.normal(scale=0.2, size=(2, 2, 2))
        u_s = np.array([[0.0, 1.0], [0.0, 1.0]]) + rng.normal(scale=0.2, size=(2, 2))
        mu = rng.uniform(0.05, 0.6)
        game = Game([1 - mu, mu], u_s, u_r, type_prior=rng.dirichlet(np.ones(2)))
        lp = solve_private(game).value
        binding += lp < game.type_prior @ _single_values(game) - 1e-3
        brute = _menu_value(game, grid)
        assert brute <= lp + _tol(game)
        assert lp - brute <= 2 * np.ptp(game.sender_utility) / (grid - 1) + _tol(game)
    assert binding >= 10  # the reporting constraints matter in these games


# ------------------------------------------------------------------------------------- limits and errors
def test_refuses_too_many_profiles() -> None:
    """An indifferent receiver keeps every profile: n^K above max_profiles is refused in one clear line."""
    game = Game([0.5, 0.5], [[0, 1, 2, 3]] * 2, np.zeros((3, 2, 4)), type_prior=[0.2, 0.3, 0.5])
    with pytest.raises(GameError, match=r"n\^K = 4\^3 = 64 .*max_profiles=50") as err:
        solve_public(game, max_profiles=50)
    assert "\n" not in str(err.value)
    assert solve_public(game, max_profiles=64).profiles.shape == (64, 3)
    with pytest.raises(GameError, match=r"4\^3 = 64 .*without pruning"):
        solve_public(game, max_profiles=63, prune=False)
    huge = Game([1.0], [[0.0] * 12], np.zeros((6, 1, 12)), type_prior=np.full(6, 1 / 6))
    with pytest.raises(GameError, match=r"12\^6 = 2985984 "):
        solve_public(huge)
    with pytest.raises(GameError, match="max_profiles must be >= 1"):
        solve_public(game, max_profiles=0)


def test_pruning_makes_large_two_state_games_tractable() -> None:
    """m = 2, K = 3, n = 30: n^K = 27000 exceeds the default limit, but few profiles are joint best responses."""
    rng = np.random.default_rng(11)
    game = Game([0.4, 0.6], rng.normal(size=(2, 30)), rng.normal(size=(3, 2, 30)), type_prior=[0.2, 0.3, 0.5])
    sol = solve_public(game)
    assert sol.total_profiles == 27_000 and len(sol.profiles) <= 3 * 30 + 1
    _check_public(game, sol)
    assert sol.value <= solve_private(game).value + _tol(game)


def test_game_without_types_is_one_type() -> None:
    """A game without types is accepted as K = 1 (documented), and bad inputs fail with one-line errors."""
    game = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
    assert solve_public(game).profiles.shape[1] == 1
    assert solve_private(game).scheme.shape == (1, 2, 2)
    with pytest.raises(GameError, match=r"scheme has shape \(2, 2\), expected \(1, 2, 2\)"):
        report_utilities(game, np.eye(2))


def test_to_dict_is_json_ready() -> None:
    """Both summaries serialise to JSON, with names, the value and a row-stochastic scheme."""
    game = Game([0.7, 0.3], [[0, 1], [0, 1]], [[[1, 0], [0, 1]], [[2, 0], [0, 1]]], type_prior=[0.5, 0.5],
                state_names=["innocent", "guilty"], action_names=["acquit", "convict"], type_names=["soft", "hard"])
    pub, priv = solve_public(game), solve_private(game)
    for sol in (pub, priv):
        data = json.loads(json.dumps(sol.to_dict(game)))
        assert {"value", "scheme", "receiver_value", "status", "states", "actions", "types"} <= set(data)
        assert data["value"] == pytest.approx(sol.value) and data["status"] == "optimal"
        assert data["types"] == ["soft", "hard"]
    pub_d = pub.to_dict(game)
    assert np.allclose(np.sum(pub_d["scheme"], axis=1), 1.0)
    assert len(pub_d["profiles"]) == len(pub_d["scheme"][0])
    assert all(set(sig["profile_names"]) == {"soft", "hard"} for sig in pub_d["signals"])
    assert priv.to_dict(game)["per_type"][1]["type_name"] == "hard"
    assert json.dumps(pub.to_dict()) and json.dumps(priv.to_dict())

"""Tests of the reference schemes and of the public LP over recommendation profiles."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from online_games import two_judges

from persuasion.game import Game
from persuasion.online import (
    PublicLP,
    full_disclosure,
    no_disclosure,
    optimal_scheme,
    profiles,
    public_lp,
    scheme_family,
)
from persuasion.online.schemes import simplex_grid
from persuasion.solve import solve


def typed_slack(game: Game, scheme: np.ndarray, prior: np.ndarray) -> float:
    """min over types k, signals sigma and actions b of sum_s mu(s) pi(sigma|s) (u_R^k(s, sigma_k) - u_R^k(s, b))."""
    prof = profiles(game.n, game.K)
    joint = prior[:, None] * scheme
    worst = np.inf
    for k, u in enumerate(game.typed_receiver_utility()):
        own = (joint * u[:, prof[:, k]]).sum(axis=0)  # (S,)
        worst = min(worst, float((own[:, None] - joint.T @ u).min()))
    return worst


@st.composite
def typed_games(draw, K_max=3):
    m, n, K = draw(st.integers(2, 4)), draw(st.integers(2, 3)), draw(st.integers(1, K_max))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    u_r = rng.random((K, m, n)) if K > 1 else rng.random((m, n))
    lam = rng.dirichlet(np.ones(K)) if K > 1 else None
    return Game(rng.dirichlet(np.ones(m)), rng.random((m, n)), u_r, type_prior=lam)


@given(typed_games(), st.integers(0, 2**31 - 1))
def test_full_disclosure_is_obedient_at_every_prior(game, seed):
    pi = full_disclosure(game)
    prior = np.random.default_rng(seed).dirichlet(np.ones(game.m))
    assert typed_slack(game, pi, prior) >= -1e-12
    assert typed_slack(game, no_disclosure(game), game.prior) >= -1e-12


@settings(max_examples=15)
@given(typed_games(K_max=2))
def test_public_lp_is_obedient_and_beats_the_trivial_schemes(game):
    pi, value = public_lp(game)
    np.testing.assert_allclose(pi.sum(axis=1), 1.0, atol=1e-9)
    assert typed_slack(game, pi, game.prior) >= -1e-6
    for ref in (full_disclosure(game), no_disclosure(game)):
        prof = profiles(game.n, game.K)
        ref_value = sum(
            lam * (game.prior[:, None] * ref * game.sender_utility[:, prof[:, k]]).sum()
            for k, lam in enumerate(game.typed_type_prior())
        )
        assert value >= ref_value - 1e-7


@settings(max_examples=10)
@given(typed_games(K_max=1))
def test_public_lp_with_copies_of_one_type_is_the_plain_lp(game):
    twin = Game(game.prior, game.sender_utility, np.stack([game.receiver_utility] * 2), type_prior=[0.3, 0.7])
    assert public_lp(twin)[1] == pytest.approx(solve(game).value, abs=1e-6)
    np.testing.assert_allclose(optimal_scheme(game), solve(game).scheme)


def test_two_judges_by_hand():
    lp = PublicLP(two_judges())
    assert lp.solve([1.0, 0.0])[1] == pytest.approx(0.6, abs=1e-7)  # the lenient judge alone: 0.3 + 0.7 * 3/7
    assert lp.solve([0.0, 1.0])[1] == pytest.approx(0.3 + 0.7 * 9 / 49, abs=1e-7)  # posterior 0.7
    assert lp.problem.is_dpp()


def test_scheme_family_is_deduplicated_and_holds_every_grid_optimum():
    g = two_judges()
    family = scheme_family(g, steps=10)
    assert family.ndim == 3 and family.shape[1:] == (2, 4)
    np.testing.assert_allclose(family.sum(axis=2), 1.0, atol=1e-9)
    for i in range(len(family)):
        for j in range(i):
            assert not np.allclose(family[i], family[j], atol=1e-7)
    lp = PublicLP(g)
    for lam in simplex_grid(2, 10):
        best, _ = lp.solve(lam)
        assert any(np.allclose(best, f, atol=1e-7) for f in family)
    assert any(np.allclose(full_disclosure(g), f) for f in family)


def test_simplex_grid_counts():
    assert simplex_grid(3, 4).shape == (15, 3)
    np.testing.assert_allclose(simplex_grid(3, 4).sum(axis=1), 1.0)

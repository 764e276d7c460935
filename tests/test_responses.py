"""Tests of persuasion.responses: the one tie tolerance, used by every consumer; profiles; reference schemes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import persuasion.lp.typed as typed
import persuasion.online.schemes as online_schemes
import persuasion.reference as reference
from persuasion import Game, GameError, evaluate, solve, solve_private, solve_public, testing
from persuasion.online.envs import profiles
from persuasion.online.games import persuasion_gap
from persuasion.responses import (
    TIE_TOL,
    all_profiles,
    best_response,
    best_responses,
    clean_scheme,
    full_disclosure_scheme,
    induced_value,
    no_disclosure_scheme,
    profile_index,
    scheme_from_joint,
    state_best_responses,
    tie_tolerance,
    type_best_responses,
)


def test_the_tolerance_is_documented_once_and_shared():
    assert TIE_TOL == 1e-9
    import persuasion.responses as responses

    assert "TIE_TOL" in responses.__doc__ and "1e-9" in responses.__doc__
    assert reference.TIE_TOL is TIE_TOL and reference.best_responses is best_responses
    assert online_schemes.full_disclosure is full_disclosure_scheme
    assert online_schemes.no_disclosure is no_disclosure_scheme
    assert tie_tolerance(np.array([[3.0, -5.0]])) == 5 * TIE_TOL and tie_tolerance(np.zeros((1, 1))) == TIE_TOL


def near_tie_game(gap: float) -> Game:
    """State 1 has zero prior; in it the receiver prefers acquit by ``gap`` and the sender wants convict."""
    return Game([1.0, 0.0], [[0.0, 1.0], [0.0, 1.0]], [[1.0, 0.0], [1.0 + gap, 1.0]])


@pytest.mark.parametrize("gap, favoured", [(0.5 * TIE_TOL, 1), (4 * TIE_TOL, 0)])
def test_every_consumer_breaks_a_near_tie_the_same_way(gap, favoured):
    """Within TIE_TOL the sender's favourite is played, beyond it the receiver's: in every module that decides."""
    game = near_tie_game(gap)
    typed_game = Game(game.prior, game.sender_utility, np.stack([game.receiver_utility] * 2), type_prior=[0.5, 0.5])
    e1 = np.array([0.0, 1.0])
    assert best_response(game.receiver_utility, e1, game.sender_utility) == favoured
    assert best_responses(game.receiver_utility, 7.0 * e1, game.sender_utility) == favoured  # unnormalised belief
    assert type_best_responses(typed_game, e1).tolist() == [favoured, favoured]
    assert state_best_responses(typed_game)[1].tolist() == [favoured, favoured]
    assert full_disclosure_scheme(game)[1, favoured] == 1.0
    assert reference.full_disclosure(game).scheme[1, favoured] == 1.0
    assert solve(game).scheme[1, favoured] == 1.0  # zero-prior row of the LP solution
    assert solve_private(typed_game).scheme[:, 1, favoured].tolist() == [1.0, 1.0]
    public = solve_public(typed_game)
    assert public.profiles[np.argmax(public.scheme[1])].tolist() == [favoured, favoured]
    twins = profile_index(np.array([favoured, favoured]), 2)
    assert typed.PublicLP(typed_game).solve([0.5, 0.5]).scheme[1, twins] == 1.0


@given(testing.games(m=(1, 4), n=(1, 4)), st.floats(1e-3, 1e3))
def test_best_responses_depend_only_on_the_posterior(game, scale):
    beliefs = np.vstack([np.eye(game.m), game.prior])
    base = best_responses(game.receiver_utility, beliefs, game.sender_utility)
    assert best_responses(game.receiver_utility, scale * beliefs, game.sender_utility).tolist() == base.tolist()


@given(testing.games(m=(1, 4), n=(1, 3), types=(2, 3)))
def test_typed_best_responses_are_each_types_own(game):
    beliefs = np.vstack([np.eye(game.m), game.prior])
    both = type_best_responses(game, beliefs)
    for k in range(game.K):
        own = best_responses(game.typed_receiver_utility()[k], beliefs, game.sender_utility)
        assert both[:, k].tolist() == own.tolist()
    assert state_best_responses(game).tolist() == both[: game.m].tolist()  # knowing the state = belief e_s


def test_bad_shapes_raise_one_line_errors():
    with pytest.raises(GameError, match="do not match"):
        best_responses(np.zeros((2, 2)), np.ones(3))
    with pytest.raises(GameError, match="one receiver type"):
        best_response(np.zeros((2, 2, 2)), np.ones(2))
    with pytest.raises(GameError, match="n >= 1"):
        all_profiles(0, 2)


@given(st.integers(1, 4), st.integers(1, 4))
def test_profiles_are_indexed_lexicographically(n, K):
    prof = all_profiles(n, K)
    assert prof.shape == (n**K, K)
    np.testing.assert_array_equal(profile_index(prof, n), np.arange(n**K))
    np.testing.assert_array_equal(profiles(n, K), prof)  # the environments' int32 copy


@given(testing.games(m=(1, 4), n=(1, 4)))
def test_reference_and_optimal_values_agree_with_evaluate(game):
    for scheme in (full_disclosure_scheme(game), no_disclosure_scheme(game), solve(game).scheme):
        assert induced_value(game, scheme) == pytest.approx(evaluate(game, scheme).value, abs=1e-7)


def test_induced_value_charges_disobedience():
    game = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
    always_convict = np.array([[0.0, 1.0], [0.0, 1.0]])  # the judge acquits on the uninformative signal
    assert evaluate(game, always_convict).value == pytest.approx(1.0)
    assert induced_value(game, always_convict) == pytest.approx(0.0)
    assert persuasion_gap(game) == pytest.approx(0.6 - 0.3)


def test_scheme_rows():
    x = np.array([[0.2, -1e-15, 0.6], [0.0, 0.0, 0.0]])
    fill = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(scheme_from_joint(x, np.array([0.8, 0.2]), fill), [[0.25, 0, 0.75], [0, 0, 1]])
    np.testing.assert_allclose(clean_scheme(np.array([[0.5, 1e-12, 0.5 - 1e-12]])), [[0.5, 0.0, 0.5]])

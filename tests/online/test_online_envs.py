"""Tests of the JAX environments: sampling, the receiver's response and the value of a scheme."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from online_games import prosecutor, two_judges

from persuasion.game import Game
from persuasion.online import draw, make_env, outcome, profiles, respond
from persuasion.online.envs import inverse_cdf
from persuasion.solve import evaluate


def test_profiles_enumerate_every_recommendation_tuple():
    p = profiles(3, 2)
    assert p.shape == (9, 2)
    assert len({tuple(r) for r in p}) == 9
    assert profiles(2, 1).tolist() == [[0], [1]]


def test_prosecutor_optimal_scheme_is_obeyed_with_ties_to_the_sender():
    env = make_env(prosecutor())
    out = outcome(env, jnp.asarray([[4 / 7, 3 / 7], [0.0, 1.0]], jnp.float32))
    assert out.response.tolist() == [[0, 1]]  # posterior exactly 1/2 after "convict": the judge convicts
    assert float(out.value) == pytest.approx(0.6, abs=1e-6)
    assert float(out.obey_prob) == pytest.approx(1.0, abs=1e-6)


def test_an_unpersuasive_recommendation_is_not_followed():
    env = make_env(prosecutor())
    always_convict = jnp.asarray([[0.0, 1.0], [0.0, 1.0]], jnp.float32)
    out = outcome(env, always_convict)
    assert int(respond(env, always_convict, jnp.int32(1), jnp.int32(0))) == 0  # acquits at P(guilty) = 0.3
    assert float(out.value) == pytest.approx(0.0, abs=1e-7)
    assert float(out.obey_prob) == pytest.approx(0.0, abs=1e-7)


@st.composite
def game_and_scheme(draw_):
    m, n = draw_(st.integers(2, 4)), draw_(st.integers(2, 3))
    rng = np.random.default_rng(draw_(st.integers(0, 2**31 - 1)))
    game = Game(rng.dirichlet(np.ones(m)), rng.random((m, n)), rng.random((m, n)))
    scheme = rng.dirichlet(np.ones(n) * 0.5, size=m)
    return game, scheme


@settings(max_examples=15)
@given(game_and_scheme())
def test_value_matches_evaluate_when_obedient_and_never_exceeds_the_receivers_choice(data):
    game, scheme = data
    env = make_env(game)
    out = outcome(env, jnp.asarray(scheme, jnp.float32))
    ref = evaluate(game, scheme)
    joint = game.prior[:, None] * scheme
    if ref.obedience_slack[~np.eye(game.n, dtype=bool)].min() > 1e-5:
        assert float(out.value) == pytest.approx(ref.value, abs=1e-5)
        assert float(out.obey_prob) == pytest.approx(1.0, abs=1e-5)
    # every response is a best response of the receiver to its posterior
    eu = joint.T @ game.receiver_utility
    resp = np.asarray(out.response)[0]
    assert np.all(eu[np.arange(game.n), resp] >= eu.max(axis=1) - 1e-5)
    assert 0.0 <= float(out.obey_prob) <= 1.0 + 1e-6


def test_draws_follow_the_prior_and_the_type_prior():
    env = make_env(two_judges())
    d = jax.jit(jax.vmap(lambda k: draw(env, k)))(jax.random.split(jax.random.key(0), 20_000))
    assert np.mean(np.asarray(d.state) == 1) == pytest.approx(0.3, abs=0.015)
    assert np.mean(np.asarray(d.type) == 0) == pytest.approx(0.6, abs=0.015)


_inverse_cdf = jax.jit(inverse_cdf)


@given(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4), st.floats(0.0, 0.999999))
def test_inverse_cdf_never_picks_a_zero_weight(weights, u):
    w = np.array(weights)
    if w.sum() <= 1e-6:
        w = w + 1.0
    idx = int(_inverse_cdf(jnp.asarray(w, jnp.float32), jnp.float32(u)))
    assert 0 <= idx < len(w)
    assert w[idx] > 0


def test_typed_environment_has_profile_signals():
    env = make_env(two_judges())
    assert env.intent.shape == (2, 4)
    assert env.receiver_utility.shape == (2, 2, 2)
    assert np.asarray(env.intent).T.tolist() == profiles(2, 2).tolist()

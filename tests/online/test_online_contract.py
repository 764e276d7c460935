"""One contract for every online learner: jit-able pure steps, finite outputs, state structure preserved."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from online_games import prosecutor, two_judges

from persuasion.base import Algorithm, Decision, Feedback
from persuasion.online import (
    exp3,
    explore_then_commit,
    fixed_scheme,
    full_disclosure_baseline,
    mirror_descent_learner,
    no_disclosure_baseline,
    oracle,
    plugin_learner,
    robust_learner,
    scheme_family,
)


def _robust():
    g = prosecutor()
    return g, robust_learner(g.sender_utility, g.receiver_utility)


def _plugin():
    g = prosecutor()
    return g, plugin_learner(g.sender_utility, g.receiver_utility)


def _exp3():
    g = two_judges()
    return g, exp3(scheme_family(g), g.sender_utility, horizon=1000)


def _etc():
    g = two_judges()
    return g, explore_then_commit(scheme_family(g), horizon=1000)


def _utilities(g):
    return g.sender_utility, g.receiver_utility


BUILDERS = {
    "robust": _robust,
    "plugin": _plugin,
    "oracle": lambda: (prosecutor(), oracle(prosecutor())),
    "full_disclosure": lambda: (prosecutor(), full_disclosure_baseline(prosecutor())),
    "no_disclosure": lambda: (prosecutor(), no_disclosure_baseline(prosecutor())),
    "fixed": lambda: (prosecutor(), fixed_scheme([[0.5, 0.5], [0.0, 1.0]])),
    "oracle_typed": lambda: (two_judges(), oracle(two_judges())),
    "exp3": _exp3,
    "etc": _etc,
    "mirror_descent": lambda: (prosecutor(), mirror_descent_learner(*_utilities(prosecutor()))),
}


def shapes(tree):
    return jax.tree_util.tree_map(lambda x: (x.shape, x.dtype), tree)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_learner_contract(name):
    game, alg = BUILDERS[name]()
    assert isinstance(alg, Algorithm)
    state = alg.init(jax.random.key(0))
    act, update = jax.jit(alg.act), jax.jit(alg.update)
    S = game.n**game.K
    for t in range(6):
        obs = jnp.int32(t % game.m)
        dec = act(state, jax.random.key(t), obs)
        assert isinstance(dec, Decision)
        scheme = np.asarray(dec.scheme)
        assert scheme.shape == (game.m, S)
        np.testing.assert_allclose(scheme.sum(axis=1), 1.0, atol=1e-6)
        assert 0 <= int(dec.signal) < S and scheme[int(obs), int(dec.signal)] > 0
        fb = Feedback(obs, dec.signal, dec.arm, jnp.int32(t % game.n), jnp.float32(game.sender_utility[0, t % game.n]))
        new = update(state, fb)
        assert jax.tree_util.tree_structure(new) == jax.tree_util.tree_structure(state)
        assert shapes(new) == shapes(state)
        assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(new) if x.dtype.kind == "f")
        state = new
    # the same key and state give the same decision (pure)
    a, b = act(state, jax.random.key(7), jnp.int32(0)), act(state, jax.random.key(7), jnp.int32(0))
    assert int(a.signal) == int(b.signal) and int(a.arm) == int(b.arm)
    if alg.plan is not None:  # host re-plan on a batch of 3 seeds keeps every shape
        batch = jax.tree_util.tree_map(lambda x: jnp.stack([x] * 3), state)
        planned = alg.plan(batch, 6)
        assert shapes(planned) == shapes(batch)
        np.testing.assert_allclose(np.asarray(planned.scheme).sum(axis=-1), 1.0, atol=1e-6)

"""Tests of persuasion.online.mirror_descent: it learns a near-optimal obedient scheme from feedback alone."""

import jax
import numpy as np
import pytest
from online_games import prosecutor

from persuasion.errors import GameError
from persuasion.online import mirror_descent_learner, simulate
from persuasion.online.envs import make_env, outcome


def test_it_runs_in_the_simulator_and_beats_no_disclosure():
    """Measured, not a guarantee: on the prosecutor game it loses ~0.26 per round at T = 4000 (OPT = 0.6, no
    disclosure loses 0.6, full disclosure 0.3); docs/jax.md reports its regret slope."""
    game = prosecutor()
    alg = mirror_descent_learner(game.sender_utility, game.receiver_utility)
    trace = simulate(game, alg, jax.random.key(0), horizon=4000, seeds=8, chunk=100)
    assert trace.regret[:, -1].mean() < 0.5 * 4000
    scheme = np.asarray(jax.nn.softmax(trace.final_state.logits, axis=-1))
    np.testing.assert_allclose(scheme.sum(axis=-1), 1.0, atol=1e-5)
    assert float(outcome(make_env(game), jax.numpy.asarray(scheme[0])).value) > 0.0


def test_bad_arguments():
    with pytest.raises(GameError, match="one shape"):
        mirror_descent_learner(np.zeros((2, 2)), np.zeros((3, 2)))
    with pytest.raises(GameError, match="eta > 0, rho > 0"):
        mirror_descent_learner(np.zeros((2, 2)), np.zeros((2, 2)), eta=0.0)

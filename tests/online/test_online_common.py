"""Tests of persuasion.online.common: the epoch planner and the known-utilities game shared by the epoch learners."""

import jax
import numpy as np
import pytest

from persuasion import GameError, RobustSolver, ReusableSolver
from persuasion.online import EpochPlanner, SchemeState, known_game, plugin_learner, robust_learner
from persuasion.online.common import scheme_state


def test_planner_hands_each_seed_its_estimate():
    seen = []

    def scheme_for(mu_hat, t, epoch):
        seen.append((mu_hat.tolist(), t, epoch))
        return np.tile(mu_hat, (2, 1))  # any (m, S) scheme: rows are the estimate itself

    start = scheme_state(np.eye(2))
    states = jax.tree.map(lambda x: np.stack([x, x]), start)  # two seeds
    states = states._replace(counts=np.array([[3.0, 1.0], [0.0, 2.0]]), epoch=np.array([0, 4]))
    out = EpochPlanner(scheme_for)(SchemeState(*states), 100)
    assert seen == [([0.75, 0.25], 4.0, 0), ([0.0, 1.0], 2.0, 4)]
    np.testing.assert_allclose(np.asarray(out.scheme)[1], [[0.0, 1.0], [0.0, 1.0]])
    assert np.asarray(out.epoch).tolist() == [1, 5]


def test_learners_expose_their_solver_on_the_planner():
    u_s, u_r = [[0, 1], [0, 1]], [[1, 0], [0, 1]]
    robust, plugin = robust_learner(u_s, u_r).plan, plugin_learner(u_s, u_r).plan
    assert isinstance(robust, EpochPlanner) and isinstance(robust.solver, RobustSolver)
    assert isinstance(plugin, EpochPlanner) and isinstance(plugin.solver, ReusableSolver)


def test_known_game_has_a_placeholder_prior_and_one_type():
    game = known_game([[0, 1], [0, 1], [1, 1]], [[1, 0], [0, 1], [0, 0]])
    np.testing.assert_allclose(game.prior, 1 / 3)
    with pytest.raises(GameError, match="one receiver type"):
        known_game([[0, 1]], [[[1, 0]], [[0, 1]]])

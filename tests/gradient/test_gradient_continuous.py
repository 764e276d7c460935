"""Tests of persuasion.gradient.continuous: the flax scheme against the closed form (d = 1) and the grid LP (d = 2)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import persuasion
from persuasion.gradient.continuous import (
    TrainConfig,
    evaluate_on_grid,
    grid,
    grid_game,
    hiring_game,
    scheme_at,
    threshold_game,
    threshold_value,
    train,
)


@pytest.mark.parametrize("theta", [0.3, 0.7, 0.9])
def test_threshold_closed_form_matches_the_grid_lp(theta):
    lp = persuasion.solve(grid_game(threshold_game(theta), 100)).value
    assert lp == pytest.approx(threshold_value(theta), abs=0.02)


def test_the_threshold_example_is_the_grid_game():
    ex = persuasion.example("threshold")
    g = grid_game(threshold_game(0.7), 20)
    np.testing.assert_allclose(ex.receiver_utility, g.receiver_utility, atol=1e-6)
    np.testing.assert_allclose(ex.sender_utility, g.sender_utility)


def test_d1_learned_scheme_is_within_one_percent_of_the_closed_form():
    game = threshold_game(0.7)
    state = train(game, jax.random.key(0))
    check = evaluate_on_grid(game, state.params, 200)
    assert check.value == pytest.approx(threshold_value(0.7), rel=0.01)
    assert check.relative_gap < 0.01
    # the learned scheme is (nearly) the optimal cutoff rule: act iff s >= 2 theta - 1 = 0.4
    pi = scheme_at(game, state.params, np.array([[0.2], [0.35], [0.45], [0.8]]))[:, 1]
    assert pi[0] < 0.05 and pi[2] > 0.95 and pi[3] > 0.95


def test_d2_learned_scheme_is_within_one_percent_of_the_grid_lp():
    game = hiring_game()
    state = train(game, jax.random.key(0))
    check = evaluate_on_grid(game, state.params, 30)
    assert check.relative_gap < 0.01
    assert check.value <= check.lp_value + 1e-9  # obedient (repaired) schemes never beat the LP


def test_grid_shapes():
    assert grid(2, 3).shape == (9, 2)
    assert grid(1, 4).ravel().tolist() == [0.125, 0.375, 0.625, 0.875]
    assert TrainConfig().margin > 0

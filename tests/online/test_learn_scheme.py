"""learn_scheme: the robust learner's final scheme on a known game, as the LLM pipeline reports it."""

import numpy as np

from persuasion.game import Game
from persuasion.online.robust_learner import learn_scheme
from persuasion.solve import evaluate


def test_learn_scheme_is_persuasive_and_near_the_lp():
    game = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
    out = learn_scheme(game, horizon=4000, seeds=4, seed=1)
    scheme = np.array(out["scheme"])
    assert np.allclose(scheme.sum(axis=1), 1.0)
    sol = evaluate(game, scheme)
    off = ~np.eye(2, dtype=bool)
    assert sol.obedience_slack[off].min() >= -1e-6  # persuasive at the true prior
    assert out["unpersuasive_rate"] == 0.0
    assert abs(out["lp_value"] - 0.6) < 1e-9
    assert 0.3 < out["value"] <= out["lp_value"] + 1e-9
    assert out["final_regret"] > 0 and out["lp_solves"] > 0

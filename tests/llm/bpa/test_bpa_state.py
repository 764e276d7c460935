"""The Advisor's state model (flax/optax head)."""

from __future__ import annotations

import numpy as np
import pytest

from llm.bpa.state import StateModel, featurize, fit_state_model

QS = ["Ava buys 3 apples and pays with a bill; how much change?"] * 4 + \
     ["The hens lay eggs every day and she sells the rest; how much money?"] * 4 + \
     ["Two trains travel at different speeds; how far apart are they?"] * 4


def _rates() -> np.ndarray:
    r = np.full((12, 4), 0.3)
    r[:4, 0] = 0.9
    r[4:8, 1] = 0.9
    r[8:, 3] = 0.6  # group 3: none (index 3) is best
    r[8:, :3] = 0.1
    return r


def test_features_are_normalised_and_deterministic():
    x = featurize(QS[:2] + QS[4:5], dim=64)
    assert x.shape == (3, 64) and np.allclose(np.linalg.norm(x, axis=1), 1.0)
    assert np.array_equal(x[0], x[1]) and not np.array_equal(x[0], x[2])
    assert featurize(QS, "none").shape == (12, 1)
    with pytest.raises(ValueError, match="state features"):
        featurize(QS, "magic")


def test_learns_which_item_helps_each_group_and_the_ablation_cannot(tmp_path):
    model = fit_state_model(QS, _rates(), np.full((12, 4), 4), none_index=3, seed=0)
    assert list(model.predict_states(QS)) == [0] * 4 + [1] * 4 + [3] * 4
    model.save(tmp_path / "s.npz")
    again = StateModel.load(tmp_path / "s.npz")
    assert np.array_equal(again.predict_states(QS), model.predict_states(QS))
    blind = fit_state_model(QS, _rates(), np.full((12, 4), 4), none_index=3, features="none")
    assert len(set(blind.predict_states(QS))) == 1  # one choice for every problem

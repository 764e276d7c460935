"""The Advisor's state model: a Bayesian linear model of each item's gain, and the do-no-harm rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.bpa.state import GainModel, featurize, fit_gain_model, parse_features

QS = ["Ava buys 3 apples and pays with a bill; how much change?"] * 8 + \
     ["The hens lay eggs every day and she sells the rest; how much money?"] * 8 + \
     ["Two trains travel at different speeds; how far apart are they?"] * 8


def _cells(k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Items 0, 1, 2 and none (3): item 0 helps group 0, item 1 group 1, nothing helps group 2."""
    r = np.full((24, 4), 0.375)
    r[:8, 0] = 1.0
    r[8:16, 1] = 1.0
    r[16:, :3] = 0.0
    return np.rint(r * k), np.full((24, 4), k)


def test_features_are_normalised_and_deterministic():
    x = featurize(QS[:2] + QS[8:9], dim=64)
    assert x.shape == (3, 64) and np.allclose(np.linalg.norm(x, axis=1), 1.0)
    assert np.array_equal(x[0], x[1]) and not np.array_equal(x[0], x[2])
    assert featurize(QS, "none").shape == (24, 0)
    with pytest.raises(ValueError, match="words"):
        featurize(QS, "magic")


def test_parse_features_names_the_problem():
    assert parse_features("words+prior") == ("words", "prior")
    for bad in ("magic", "", "none+words"):
        with pytest.raises(ValueError, match="state features"):
            parse_features(bad)


def test_learns_which_item_helps_each_group_and_the_ablation_cannot(tmp_path):
    s, n = _cells()
    phi = featurize(QS)
    model = fit_gain_model(phi, s, n, none_index=3, lam=1.0)
    assert list(model.choose(phi)) == [0] * 8 + [1] * 8 + [3] * 8
    model.save(tmp_path / "s.npz")
    again = GainModel.load(tmp_path / "s.npz")
    assert np.array_equal(again.choose(phi), model.choose(phi))
    blind = fit_gain_model(np.zeros((24, 0)), s, n, none_index=3, features=("none",))
    assert len(set(blind.choose(np.zeros((24, 0))))) == 1  # one choice for every problem


def test_a_high_threshold_silences_the_advisor():
    s, n = _cells()
    phi = featurize(QS)
    model = fit_gain_model(phi, s, n, none_index=3, lam=1.0, tau=0.99)
    assert set(model.choose(phi)) == {3}


def test_uncertainty_shrinks_with_more_samples():
    phi = featurize(QS)
    few = fit_gain_model(phi, *_cells(k=2), none_index=3, lam=1.0)
    many = fit_gain_model(phi, *_cells(k=32), none_index=3, lam=1.0)
    assert many.predict(phi)[1][:, :3].mean() < few.predict(phi)[1][:, :3].mean()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.0, 0.5))
def test_the_advisor_speaks_only_where_the_lower_bound_clears_tau(seed, tau):
    rng = np.random.default_rng(seed)
    n = np.full((12, 3), 4)
    s = rng.integers(0, 5, size=(12, 3))
    phi = rng.normal(size=(12, 5))
    model = fit_gain_model(phi, s, n, none_index=2, lam=3.0, tau=tau)
    lower = model.lower_bounds(phi)
    chosen = model.choose(phi)
    for i, c in enumerate(chosen):
        if c == 2:
            assert lower[i, :2].max() <= tau
        else:
            assert lower[i, c] > tau and lower[i, c] == lower[i, :2].max()

"""Tests of the regret analysis helpers: slopes, the (m, T) exponent fit, bands and summaries."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from persuasion.errors import FitError, GameError
from persuasion.online import band, fit_exponents, loglog_slope, seed_bound, summarize
from persuasion.online.analysis import log_grid
from persuasion.online.simulate import Trace


@given(st.floats(0.1, 1.5), st.floats(0.01, 100.0))
def test_slope_recovers_power_laws(beta, c):
    t = np.geomspace(100, 1e6, 40)
    assert loglog_slope(t, c * t**beta, 1e3, 1e5) == pytest.approx(beta, abs=1e-9)


def test_slope_is_nan_without_positive_data():
    t = np.array([1e3, 1e4, 1e5])
    assert math.isnan(loglog_slope(t, np.zeros(3)))
    assert math.isnan(loglog_slope(t, t, 2e5, 3e5))
    with pytest.raises(FitError, match="same shape"):
        loglog_slope(t, t[:2])


@given(st.floats(0.0, 2.0), st.floats(0.1, 1.0), st.floats(-3.0, 3.0), st.integers(0, 2**31 - 1))
def test_fit_exponents_recovers_alpha_and_beta(alpha, beta, log_c, seed):
    mm, tt = np.meshgrid([2.0, 4.0, 8.0, 16.0], np.geomspace(1e3, 1e5, 7))
    noise = np.exp(np.random.default_rng(seed).normal(0, 1e-3, mm.shape))
    fit = fit_exponents(mm.ravel(), tt.ravel(), (np.exp(log_c) * mm**alpha * tt**beta * noise).ravel())
    assert fit.alpha == pytest.approx(alpha, abs=0.01)
    assert fit.beta == pytest.approx(beta, abs=0.01)
    assert fit.r2 > 0.99


def test_fit_exponents_needs_two_values_of_each():
    with pytest.raises(FitError, match="two distinct"):
        fit_exponents(np.array([2.0, 2.0]), np.array([1e3, 1e4]), np.array([1.0, 2.0]))


def test_seed_bound_grows_like_m_to_three_halves():
    assert seed_bound(8, 1e4) / seed_bound(2, 1e4) == pytest.approx(8.0)


def test_band_orders_its_curves():
    v = np.random.default_rng(0).normal(size=(64, 10)).cumsum(axis=1)
    b = band(v)
    assert np.all(b.low <= b.mean) and np.all(b.mean <= b.high)
    assert np.all(b.ci_low <= b.mean) and np.all(b.ci_high - b.ci_low < b.high - b.low)


def test_log_grid_is_increasing_and_keeps_the_end():
    t = np.arange(1, 1001) * 100
    idx = log_grid(t, 30)
    assert np.all(np.diff(idx) > 0) and idx[-1] == 999 and len(idx) <= 31


def test_summarize_rates():
    t = np.array([100, 200, 300, 400])
    ones = np.ones((2, 4))
    tr = Trace(
        t,
        ones * t,
        ones * t,
        np.array([[0, 0, 0, 0], [0, 10, 20, 40]]),
        np.array([[0] * 4, [0, 0, 0, 80]]),
        0.5,
        0,
        0.0,
        0.0,
        None,
    )
    s = summarize(tr, 100, 400)
    assert s["slope"] == pytest.approx(1.0)
    assert s["final_regret"] == 400
    assert s["disobedience_rate"] == pytest.approx(20 / 400)
    assert s["violation_rate"] == pytest.approx(40 / 400)
    assert s["run_violation_rate"] == 0.5

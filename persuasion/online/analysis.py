"""Regret curves: log-log slopes, the joint (m, T) exponent fit, bands, and the reference bounds.

The seed paper (Bai et al. 2024, arXiv:2405.18718) bounds the Advisor's regret by ``O(m^{3/2} sqrt(T log T))``
for ``m`` information items (states) and ``T`` rounds. :func:`fit_exponents` measures both exponents from runs,

.. math:: \\log R(m, T) \\approx c + \\alpha \\log m + \\beta \\log T,

to set against ``alpha = 3/2`` and ``beta = 1/2`` (``sqrt(log T)`` bends ``beta`` up by
``1 / (2 log T)``, about 0.05 on ``[1e3, 1e5]``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from persuasion.errors import FitError
from persuasion.online.simulate import Trace


def seed_bound(m: int | np.ndarray, horizon: int | np.ndarray) -> np.ndarray:
    """``m^{3/2} sqrt(T ln T)``: the seed paper's bound with constant 1.

    Example:
        >>> round(float(seed_bound(4, 1000)), 2)
        664.9
    """
    T = np.asarray(horizon, dtype=float)
    return np.asarray(m, dtype=float) ** 1.5 * np.sqrt(T * np.log(np.maximum(T, 2.0)))


def loglog_slope(t: np.ndarray, y: np.ndarray, t_min: float = 1e3, t_max: float = 1e5) -> float:
    """Least-squares slope of ``log y`` against ``log t`` over ``t_min <= t <= t_max``.

    Returns NaN when fewer than 2 points qualify or ``y`` is not positive there (e.g. the oracle's zero regret).

    Example:
        >>> t = np.array([1e3, 1e4, 1e5]); round(loglog_slope(t, 3 * t ** 0.5), 6)
        0.5
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    if t.shape != y.shape:
        raise FitError(f"t and y must have the same shape, got {t.shape} and {y.shape}")
    sel = (t >= t_min) & (t <= t_max)
    if sel.sum() < 2 or np.any(y[sel] <= 0):
        return math.nan
    return float(np.polyfit(np.log(t[sel]), np.log(y[sel]), 1)[0])


class ExponentFit(NamedTuple):
    """``R ~ exp(log_c) m^alpha T^beta``."""

    alpha: float
    beta: float
    log_c: float
    r2: float  # coefficient of determination of the log-linear fit.


def fit_exponents(m: np.ndarray, t: np.ndarray, regret: np.ndarray) -> ExponentFit:
    """Fits ``log R = c + alpha log m + beta log T`` by least squares over matching 1-d arrays.

    Example:
        >>> mm, tt = np.meshgrid([2.0, 4.0, 8.0], [1e3, 1e4, 1e5])
        >>> f = fit_exponents(mm.ravel(), tt.ravel(), 0.1 * mm.ravel() ** 1.5 * tt.ravel() ** 0.5)
        >>> round(f.alpha, 6), round(f.beta, 6)
        (1.5, 0.5)
    """
    m, t, regret = (np.asarray(a, dtype=float).ravel() for a in (m, t, regret))
    if not (m.shape == t.shape == regret.shape):
        raise FitError("m, t and regret must have the same number of entries")
    if np.any(regret <= 0) or np.any(m <= 0) or np.any(t <= 0):
        raise FitError("fit_exponents needs positive m, t and regret")
    if len(np.unique(m)) < 2 or len(np.unique(t)) < 2:
        raise FitError("fit_exponents needs at least two distinct m and two distinct T")
    X = np.stack([np.ones_like(m), np.log(m), np.log(t)], axis=1)
    y = np.log(regret)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    r2 = 1.0 - float(resid @ resid) / max(float(((y - y.mean()) ** 2).sum()), 1e-300)
    return ExponentFit(float(coef[1]), float(coef[2]), float(coef[0]), r2)


class Band(NamedTuple):
    """Mean over seeds with a 95% spread band (2.5/97.5 percentiles) and a 95% CI of the mean."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray


def band(values: np.ndarray) -> Band:
    """:class:`Band` of ``values`` (seeds x points)."""
    v = np.asarray(values, dtype=float)
    mean = v.mean(axis=0)
    se = v.std(axis=0, ddof=1) / math.sqrt(v.shape[0]) if v.shape[0] > 1 else np.zeros_like(mean)
    return Band(mean, np.percentile(v, 2.5, axis=0), np.percentile(v, 97.5, axis=0), mean - 1.96 * se, mean + 1.96 * se)


def log_grid(t: np.ndarray, points: int = 50) -> np.ndarray:
    """Indices into the increasing ``t`` nearest to ``points`` log-spaced values (deduplicated, last included)."""
    t = np.asarray(t, dtype=float)
    targets = np.geomspace(t[0], t[-1], points)
    idx = np.unique(np.searchsorted(t, targets).clip(0, len(t) - 1))
    return np.union1d(idx, [len(t) - 1])


def summarize(trace: Trace, t_min: float = 1e3, t_max: float = 1e5) -> dict:
    """Scalar summary of a run: slope, final regret, violation and disobedience rates.

    ``violation_rate``: fraction of rounds whose committed scheme was not persuasive at the true prior (mean over
    seeds); ``run_violation_rate``: fraction of seeds with at least one such round (the event a robust learner's
    ``delta`` bounds); ``disobedience_rate``: fraction of rounds in which the receiver did not follow.
    """
    T = float(trace.t[-1])
    mean = trace.regret.mean(axis=0)
    final = trace.regret[:, -1]
    half = 1.96 * final.std(ddof=1) / math.sqrt(len(final)) if len(final) > 1 else 0.0
    slope = loglog_slope(trace.t, mean, t_min, t_max)
    return {
        "slope": None if math.isnan(slope) else slope,
        "final_regret": float(final.mean()),
        "final_regret_ci95": [float(final.mean() - half), float(final.mean() + half)],
        "final_realized_regret": float(trace.realized_regret[:, -1].mean()),
        "violation_rate": float(trace.unpersuasive[:, -1].mean() / T),
        "run_violation_rate": float((trace.unpersuasive[:, -1] > 0).mean()),
        "disobedience_rate": float(trace.disobeyed[:, -1].mean() / T),
        "opt": trace.opt,
        "horizon": int(T),
        "seeds": int(trace.regret.shape[0]),
        "plans": trace.plans,
        "seconds": trace.seconds,
        "plan_seconds": trace.plan_seconds,
    }

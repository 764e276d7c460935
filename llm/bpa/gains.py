"""Per-problem gains of information and how much of them is noise (pure functions over count arrays).

With ``S[x, a]`` successes in ``N[x, a]`` sampled answers of training problem ``x`` under item ``a`` (``none``
included), the smoothed rate and the observed gain over silence are

.. math::

    \\tilde r(x, a) = \\frac{S + 1/2}{N + 1}, \\qquad g(x, a) = \\tilde r(x, a) - \\tilde r(x, \\text{none}), \\qquad
    v(x, a) = \\frac{\\tilde r_a (1 - \\tilde r_a)}{N_a + 1} + \\frac{\\tilde r_0 (1 - \\tilde r_0)}{N_0 + 1},

``v`` the sampling variance of ``g`` (the two cells' answers taken as independent: conservative when they share
random numbers). With ``k = 4`` answers a cell, ``sqrt(v)`` is about 0.3: one problem's raw gain is mostly noise
(the winner's curse of "the largest gain > 0").

**Empirical Bayes** (:func:`shrink`). Per item, ``g(x, a) ~ N(theta(x, a), v(x, a))`` with the true gains
``theta(x, a) ~ N(mu_a, tau_a^2)`` across problems; ``mu_a`` is the item's main effect (precision-weighted mean) and
``tau_a^2 = max(0, mean (g - mu_a)^2 - mean v)`` (method of moments). The posterior of ``theta(x, a)`` is normal with

.. math::

    \\hat\\theta = \\mu_a + B (g - \\mu_a), \\qquad \\operatorname{sd} = \\sqrt{B v + (1 - B)^2 \\operatorname{var}\\hat\\mu_a},
    \\qquad B = \\frac{\\tau_a^2}{\\tau_a^2 + v}, \\qquad \\operatorname{var}\\hat\\mu_a = \\Big(\\sum_x 1 / v(x, a)\\Big)^{-1}:

a gain is pulled toward its item's main effect as far as its noise warrants (all the way when ``tau_a = 0``, where
only an item that helps credibly on average makes a state).

A single normal prior per item fits sparse, group-shaped effects badly: an item that helps one group in ten has a
small ``tau_a``, and the group's real gains are shrunk away while a broadly useful item's main effect wins
everywhere. The pipeline therefore shrinks toward what the state model, fitted on the *other* folds, predicts for the
problem from its features (``prior_mean``): the regression is the prior, and the problem's own samples update it.

**Credible states** (:func:`credible_states`). ``omega(x)`` is the item with the largest posterior mean among those
whose gain is credibly positive, ``hat theta - z sd > 0`` (one-sided level ``level``, default 0.95), else ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm


def _counts(successes: np.ndarray, counts: np.ndarray, none_index: int) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(successes, dtype=float)
    n = np.asarray(counts, dtype=float)
    if s.ndim != 2 or s.shape != n.shape:
        raise ValueError(f"successes and counts must be (problems, items) arrays of one shape, got {s.shape} and "
                         f"{n.shape}")
    if not 0 <= none_index < s.shape[1]:
        raise ValueError(f"none_index {none_index} is outside the {s.shape[1]} items")
    if np.any(n < 1) or np.any(s < 0) or np.any(s > n):
        raise ValueError("every cell needs counts >= 1 and 0 <= successes <= counts")
    return s, n


def observed_gains(successes: np.ndarray, counts: np.ndarray, none_index: int) -> tuple[np.ndarray, np.ndarray]:
    """``(g, v)``, each ``(P, m)``: the smoothed gain over silence and its sampling variance (module doc; the
    ``none`` column is 0 with variance 0)."""
    s, n = _counts(successes, counts, none_index)
    r = (s + 0.5) / (n + 1.0)
    var = r * (1 - r) / (n + 1.0)
    g = r - r[:, [none_index]]
    v = var + var[:, [none_index]]
    g[:, none_index] = 0.0
    v[:, none_index] = 0.0
    return g, v


@dataclass(frozen=True)
class Shrunk:
    """Posterior of the per-problem gains: ``mean``/``sd`` ``(P, m)``, item main effects ``mu`` and spreads
    ``tau`` ``(m,)`` (``none``: all 0)."""

    mean: np.ndarray
    sd: np.ndarray
    mu: np.ndarray
    tau: np.ndarray


def shrink(successes: np.ndarray, counts: np.ndarray, none_index: int, prior_mean: np.ndarray | None = None,
           prior_sd: np.ndarray | None = None) -> Shrunk:
    """Empirical-Bayes posterior of ``theta(x, a)`` (module doc).

    With ``prior_mean``/``prior_sd`` ``(P, m)`` (what the state model, fitted without problem ``x``, predicts for it:
    :mod:`llm.bpa.learnability`), the gains are shrunk toward that prediction instead of the item's main effect:
    ``theta(x, a) ~ N(m(x, a), s(x, a)^2 + tau_a^2)``, ``tau_a^2`` the spread the prediction leaves (moments)."""
    g, v = observed_gains(successes, counts, none_index)
    m = g.shape[1]
    if prior_mean is not None:
        pm = np.asarray(prior_mean, dtype=float).reshape(g.shape)
        ps2 = np.asarray(prior_sd, dtype=float).reshape(g.shape) ** 2 if prior_sd is not None else np.zeros(g.shape)
        mean, sd, tau = np.zeros_like(g), np.zeros_like(g), np.zeros(m)
        for a in range(m):
            if a == none_index:
                continue
            tau[a] = float(np.sqrt(max(0.0, np.mean((g[:, a] - pm[:, a]) ** 2 - v[:, a] - ps2[:, a]))))
            spread = ps2[:, a] + tau[a] ** 2
            b = spread / (spread + v[:, a])
            mean[:, a] = pm[:, a] + b * (g[:, a] - pm[:, a])
            sd[:, a] = np.sqrt(b * v[:, a])
        return Shrunk(mean, sd, pm.mean(axis=0), tau)
    mu, tau = np.zeros(m), np.zeros(m)
    mean, sd = np.zeros_like(g), np.zeros_like(g)
    for a in range(m):
        if a == none_index:
            continue
        w = 1.0 / np.maximum(v[:, a], 1e-12)
        mu[a] = float(np.sum(w * g[:, a]) / np.sum(w))
        tau[a] = float(np.sqrt(max(0.0, np.mean((g[:, a] - mu[a]) ** 2) - np.mean(v[:, a])))) if len(g) > 1 else 0.0
        b = tau[a] ** 2 / (tau[a] ** 2 + v[:, a])
        mean[:, a] = mu[a] + b * (g[:, a] - mu[a])
        sd[:, a] = np.sqrt(b * v[:, a] + (1 - b) ** 2 / np.sum(w))
    return Shrunk(mean, sd, mu, tau)


def z_value(level: float) -> float:
    """The one-sided normal quantile of ``level`` (``0.95`` -> 1.645)."""
    if not 0.5 <= level < 1:
        raise ValueError(f"confidence level must be in [0.5, 1), got {level}")
    return float(norm.ppf(level))


def credible_states(successes: np.ndarray, counts: np.ndarray, none_index: int, level: float = 0.95,
                    prior_mean: np.ndarray | None = None, prior_sd: np.ndarray | None = None) -> np.ndarray:
    """``omega(x)`` for every problem (item indices): the largest posterior mean among credibly positive gains,
    else ``none_index`` (module doc; ``prior_mean``/``prior_sd`` as in :func:`shrink`)."""
    post = shrink(successes, counts, none_index, prior_mean, prior_sd)
    lower = post.mean - z_value(level) * post.sd
    credible = (lower > 0) & (np.arange(post.mean.shape[1]) != none_index)
    score = np.where(credible, post.mean, -np.inf)
    return np.where(credible.any(axis=1), np.argmax(score, axis=1), none_index)

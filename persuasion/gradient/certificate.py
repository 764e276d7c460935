"""Checks any scheme against the persuasion LP, batched over games (NumPy, float64).

For a game ``(mu0, u_S, u_R)`` and a scheme ``pi`` (m x n, rows on the simplex) in joint form
``x[s, a] = mu0[s] pi[a | s]``:

* value: ``V(pi) = sum_{s,a} x[s, a] u_S[s, a]``;
* obedience slack: ``g[a, a'] = sum_s x[s, a] (u_R[s, a] - u_R[s, a'])`` (>= 0 for every ``a != a'`` iff the
  receiver follows every recommendation, ties broken in the sender's favour);
* dual bound: for ANY ``y >= 0`` (n x n), the smallest ``z`` that makes ``(z, y)`` feasible for the LP's dual,

  .. math::

      z_s(y) = \\max_a \\Big( u_S(s, a) + \\sum_{a'} y_{aa'} \\big(u_R(s, a) - u_R(s, a')\\big) \\Big),

  gives ``OPT <= mu0 . z(y)`` (weak duality: ``V(pi) = sum x u_S <= sum_s z_s sum_a x_sa - sum y g <= mu0 . z``
  for every obedient ``pi``). So ``mu0 . z(y) - V(pi)`` bounds the optimality gap of an obedient ``pi`` from the
  scheme and ``y`` alone, whatever value its author reported. With ``y`` the LP's obedience duals the bound is
  tight (0 gap at an optimum).

Every function takes arrays with any leading batch shape: ``prior (..., m)``, ``u (..., m, n)``,
``scheme (..., m, n)``, ``y (..., n, n)``.
"""

from __future__ import annotations

import numpy as np

#: Receiver ties within ``TIE_TOL`` (times the range of ``u_R``, per unit of posterior mass) count as ties in
#: :func:`obedient_repair`.
TIE_TOL = 1e-9


def joint(prior: np.ndarray, scheme: np.ndarray) -> np.ndarray:
    """``x[..., s, a] = mu0[s] pi[a | s]``."""
    return np.asarray(prior, float)[..., :, None] * np.asarray(scheme, float)


def scheme_value(prior: np.ndarray, u_s: np.ndarray, scheme: np.ndarray) -> np.ndarray:
    """The sender's value ``V(pi)`` under obedience, shape ``(...)``."""
    return np.einsum("...sa,...sa->...", joint(prior, scheme), np.asarray(u_s, float))


def obedience_slack(prior: np.ndarray, u_r: np.ndarray, scheme: np.ndarray) -> np.ndarray:
    """``g[..., a, a'] = sum_s x[s, a] (u_R[s, a] - u_R[s, a'])``, shape ``(..., n, n)`` (diagonal 0)."""
    gram = np.einsum("...sa,...sb->...ab", joint(prior, scheme), np.asarray(u_r, float))
    return np.diagonal(gram, axis1=-2, axis2=-1)[..., :, None] - gram


def max_violation(prior: np.ndarray, u_r: np.ndarray, scheme: np.ndarray) -> np.ndarray:
    """``max(0, -min_{a != a'} g[a, a'])``: the largest obedience violation (0 for an obedient scheme)."""
    g = obedience_slack(prior, u_r, scheme)
    n = g.shape[-1]
    if n < 2:
        return np.zeros(g.shape[:-2])
    off = np.where(np.eye(n, dtype=bool), np.inf, g)
    return np.maximum(0.0, -off.min(axis=(-2, -1)))


def dual_state_values(u_s: np.ndarray, u_r: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``z(y)``: the smallest dual-feasible state prices for obedience prices ``y`` (clipped to ``>= 0``)."""
    u_s, u_r = np.asarray(u_s, float), np.asarray(u_r, float)
    y = np.clip(np.asarray(y, float), 0.0, None)
    n = y.shape[-1]
    y = y * ~np.eye(n, dtype=bool)
    # sum_a' y[a, a'] (u_R[s, a] - u_R[s, a']) = u_R[s, a] * rowsum(y)[a] - (u_R @ y^T)[s, a]
    lifted = u_s + u_r * y.sum(axis=-1)[..., None, :] - np.einsum("...sb,...ab->...sa", u_r, y)
    return lifted.max(axis=-1)


def dual_bound(prior: np.ndarray, u_s: np.ndarray, u_r: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``mu0 . z(y)``: an upper bound on the optimal value for any ``y >= 0`` (module docstring)."""
    return np.einsum("...s,...s->...", np.asarray(prior, float), dual_state_values(u_s, u_r, y))


def obedient_repair(prior: np.ndarray, u_s: np.ndarray, u_r: np.ndarray, scheme: np.ndarray) -> np.ndarray:
    """Relabels every signal by the action the receiver actually takes; the result is obedient.

    Signal ``a`` with posterior mass ``x[:, a]`` is sent to ``b(a)``, the receiver's best response to it (ties,
    within ``TIE_TOL`` times the range of ``u_R``, broken in the sender's favour). The signals merged into ``b``
    each have ``b`` as a best response, so their mixture does too (obedience is linear in ``x``): the repaired
    scheme is obedient up to ``TIE_TOL`` and is worth exactly what the original scheme earns against a receiver
    who best-responds. Unsent signals (``x[:, a] = 0``) keep their label.
    """
    prior, u_s, u_r = np.asarray(prior, float), np.asarray(u_s, float), np.asarray(u_r, float)
    scheme = np.asarray(scheme, float)
    x = joint(prior, scheme)
    eu = np.einsum("...sa,...sb->...ab", x, u_r)  # eu[a, b]: receiver's utility of b after signal a (unnormalised)
    es = np.einsum("...sa,...sb->...ab", x, u_s)
    span = np.ptp(u_r, axis=(-2, -1))[..., None, None]
    mass = x.sum(axis=-2)[..., :, None]  # P(signal a)
    near = eu >= eu.max(axis=-1, keepdims=True) - TIE_TOL * np.maximum(span, 1e-300) * mass
    target = np.argmax(np.where(near, es, -np.inf), axis=-1)  # (..., n)
    n = scheme.shape[-1]
    sent = mass[..., 0] > 0
    target = np.where(sent, target, np.arange(n))
    move = (target[..., :, None] == np.arange(n)).astype(float)  # move[a, b] = 1 iff b(a) = b
    return np.einsum("...sa,...ab->...sb", scheme, move)


def full_disclosure_scheme(u_s: np.ndarray, u_r: np.ndarray) -> np.ndarray:
    """Each state recommends the receiver's best response to it (ties within ``TIE_TOL`` to the sender's taste).

    Obedient at every prior: each signal's posterior is a mixture of states that all have it as a best response.
    """
    u_s, u_r = np.asarray(u_s, float), np.asarray(u_r, float)
    span = np.ptp(u_r, axis=(-2, -1))[..., None, None]
    near = u_r >= u_r.max(axis=-1, keepdims=True) - TIE_TOL * np.maximum(span, 1e-300)
    best = np.argmax(np.where(near, u_s, -np.inf), axis=-1)
    return (best[..., None] == np.arange(u_s.shape[-1])).astype(float)


def mix_to_obedience(prior: np.ndarray, u_s: np.ndarray, u_r: np.ndarray, scheme: np.ndarray) -> tuple[
        np.ndarray, np.ndarray]:
    """The least mixture ``(1 - delta) pi + delta pi_FD`` with full disclosure that is obedient, and ``delta``.

    Obedience is linear in the scheme, so ``g(delta) = (1 - delta) g(pi) + delta g(pi_FD)`` with ``g(pi_FD) >= 0``;
    a violated row ``g(pi)[a, a'] < 0`` is fixed from ``delta = -g(pi) / (g(pi_FD) - g(pi))`` on. ``delta`` is the
    largest of these (1 when a violated row has ``g(pi_FD) = 0``). The value lost is at most ``delta`` times the
    utilities' range, so a nearly obedient scheme (a trained one) loses little, instead of losing a whole signal to
    :func:`obedient_repair`. Apply :func:`obedient_repair` afterwards to absorb rounding.
    """
    pi = np.asarray(scheme, float)
    fd = full_disclosure_scheme(u_s, u_r)
    g_pi, g_fd = obedience_slack(prior, u_r, pi), obedience_slack(prior, u_r, fd)
    bad = g_pi < 0
    denom = np.where(bad, g_fd - g_pi, 1.0)
    need = np.where(bad, np.where(denom > 0, -g_pi / np.where(denom > 0, denom, 1.0), 1.0), 0.0)
    delta = np.clip(need.max(axis=(-2, -1)), 0.0, 1.0)
    d = delta[..., None, None]
    return (1.0 - d) * pi + d * fd, delta

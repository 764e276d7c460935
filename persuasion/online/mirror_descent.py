"""Online mirror descent over the scheme, obedience priced from feedback (the batched solver's machinery, online).

Setting: as :mod:`persuasion.online.robust_learner` (unknown prior ``mu0``, the sender knows ``u_S`` and ``u_R``
and observes each state ``s_t``, then the action taken). The scheme is ``pi_t = softmax(theta_t)`` row by row.
After round ``t``, with ``mu_hat_t`` the empirical prior of the states seen, the learner takes ``inner``
mirror-descent steps on the augmented Lagrangian of the persuasion LP at ``mu_hat_t`` (utilities rescaled as in
:mod:`persuasion.gradient.batched`) with pessimistic obedience rows: the slack of signal ``a`` must exceed
``eps_t(a) = sum_s pi(a | s) w_t(s)``, ``w_t(s) = c sqrt(mu_hat_t(s) (1 - mu_hat_t(s)) / t)``, ``c`` standard
errors of the estimated state probabilities that the signal pools (the error of ``g_hat`` at ``mu_hat_t`` is at
most ``sum_s pi(a | s) |mu_hat_t(s) - mu0(s)|`` in rescaled units); then one multiplier step:

.. math::

    \\theta \\leftarrow \\theta + \\eta \\Big(u_S(s, a) + \\sum_{a'} \\nu_{aa'}
        \\big(u_R(s, a) - u_R(s, a') - w_t(s) / \\hat\\mu_t(s)\\big)\\Big), \\quad
    \\nu = \\max\\big(0, \\lambda - \\rho (\\hat g - \\varepsilon_t)\\big);
    \\qquad
    \\lambda_{t+1} = \\max\\big(0, \\lambda_t - \\rho (\\hat g_t - \\varepsilon_t)\\big)
        + \\kappa\\, 1[b_t \\ne \\sigma_t]\\, e_{\\sigma_t b_t},

where ``g_hat[a, a'] = sum_s mu_hat_t(s) pi(a | s) (u_R(s, a) - u_R(s, a'))``. The theta step is exponentiated
gradient (mirror descent with the entropy map) on each row, fed the gradient in the joint ``x = mu_hat pi`` as in
:func:`persuasion.gradient.al_update`; warm-started from the previous round, the iterates track the LP optimum at
``mu_hat_t`` as it moves. The last term is the feedback: when the receiver does not follow recommendation
``sigma_t`` and takes ``b_t``, the obedience row ``(sigma_t, b_t)`` is violated at the true prior, and its price
is raised by ``kappa``.

No regret bound is claimed for this learner: it is a gradient-based alternative to the LP-based learners, measured
against them in ``experiments/regret_toy.py`` (docs/jax.md reports its fitted regret slope).

References:
    A. Nemirovski, D. Yudin. Problem Complexity and Method Efficiency in Optimization. Wiley, 1983 (mirror descent).
    R. T. Rockafellar. A dual approach to solving nonlinear programming problems by unconstrained optimization.
        Math. Programming 5, 1973 (the augmented Lagrangian).
    Y. Zu, K. Iyer, H. Xu. Learning to Persuade on the Fly. EC 2021 (the setting).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from persuasion.errors import GameError
from persuasion.online import Algorithm, Decision, Feedback  # the package re-exports the learner interface


class MirrorDescentState(NamedTuple):
    """State of :func:`mirror_descent_learner`."""

    logits: jax.Array  # shape=(m, n), float32: theta, the scheme is softmax(theta, axis=-1).
    lam: jax.Array  # shape=(n, n), float32: obedience prices (diagonal 0).
    counts: jax.Array  # shape=(m,), float32: how often each state was observed.
    u_s: jax.Array  # shape=(m, n), float32: u_S rescaled to [0, 1].
    u_r: jax.Array  # shape=(m, n), float32: u_R shifted per state and rescaled to [-1, 0].
    eta: jax.Array  # shape=(), float32: mirror step.
    rho: jax.Array  # shape=(), float32: penalty weight (and multiplier step).
    margin: jax.Array  # shape=(), float32: c, the margin in standard errors of mu_hat.
    kappa: jax.Array  # shape=(), float32: price increase per observed deviation.


def _act(state: MirrorDescentState, key: jax.Array, obs: jax.Array) -> Decision:
    scheme = jax.nn.softmax(state.logits, axis=-1)
    signal = jax.random.categorical(key, jnp.log(jnp.maximum(scheme[obs], 1e-30))).astype(jnp.int32)
    return Decision(scheme, signal, jnp.zeros((), jnp.int32))


def _update(state: MirrorDescentState, feedback: Feedback, inner: int) -> MirrorDescentState:
    counts = state.counts.at[feedback.state].add(1.0)
    t = counts.sum()
    mu_hat = counts / t
    n = state.logits.shape[-1]
    off = 1.0 - jnp.eye(n, dtype=state.logits.dtype)
    # w(s) = c * standard error of mu_hat(s); eps[a] = sum_s pi(a|s) w(s), i.e. per unit of x: w(s) / mu_hat(s)
    w = state.margin * jnp.sqrt(mu_hat * (1.0 - mu_hat) / t)
    w_per_x = w / jnp.maximum(mu_hat, 1.0 / t)

    def pessimistic_slack(pi):
        gram = (mu_hat[:, None] * pi).T @ state.u_r
        return jnp.diag(gram)[:, None] - gram - (pi.T @ w)[:, None]  # g_hat[a, a'] - eps[a]

    def step(_, logits):
        pi = jax.nn.softmax(logits, axis=-1)
        nu = off * jnp.maximum(0.0, state.lam - state.rho * pessimistic_slack(pi))
        # d/dx[s, a] of V + <nu, g - eps>: u_S[s, a] + sum_a' nu[a, a'] (u_R[s, a] - u_R[s, a'] - w(s) / mu_hat(s))
        rows = nu.sum(axis=1)[None, :]
        ascent = state.u_s + state.u_r * rows - state.u_r @ nu.T - w_per_x[:, None] * rows
        logits = logits + state.eta * ascent
        return logits - logits.max(axis=-1, keepdims=True)  # softmax-invariant; keeps float32 in range

    logits = jax.lax.fori_loop(0, inner, step, state.logits)
    g = pessimistic_slack(jax.nn.softmax(logits, axis=-1))
    deviated = (feedback.action != feedback.signal).astype(logits.dtype)
    bump = state.kappa * deviated * jax.nn.one_hot(feedback.signal, n)[:, None] * jax.nn.one_hot(feedback.action, n)
    lam = off * (jnp.maximum(0.0, state.lam - state.rho * g) + bump)
    return state._replace(logits=logits, lam=lam, counts=counts)


def mirror_descent_learner(
    sender_utility: np.ndarray,
    receiver_utility: np.ndarray,
    *,
    eta: float = 0.5,
    rho: float = 5.0,
    margin: float = 2.0,
    kappa: float = 0.05,
    inner: int = 4,
) -> Algorithm:
    """The online mirror-descent learner for an unknown prior (module docstring).

    Args:
        sender_utility: ``u_S``, shape ``(m, n)``.
        receiver_utility: ``u_R``, shape ``(m, n)`` (the prior is not an argument: the sender does not know it).
        eta: mirror step, in rescaled utility units.
        rho: penalty weight of the augmented Lagrangian (also the multiplier step).
        margin: ``c``, the obedience margin in standard errors of the empirical prior (module docstring).
        kappa: price increase per observed deviation.
        inner: mirror steps per round.

    Example:
        >>> import jax
        >>> alg = mirror_descent_learner([[0, 1], [0, 1]], [[1, 0], [0, 1]])
        >>> alg.name, alg.init(jax.random.key(0)).logits.shape
        ('mirror_descent', (2, 2))
    """
    u_s = np.asarray(sender_utility, dtype=float)
    u_r = np.asarray(receiver_utility, dtype=float)
    if u_s.ndim != 2 or u_r.shape != u_s.shape or not (np.all(np.isfinite(u_s)) and np.all(np.isfinite(u_r))):
        raise GameError(f"mirror_descent_learner needs finite u_S and u_R of one shape (m, n), got {u_s.shape} "
                        f"and {u_r.shape}")
    if not (eta > 0 and rho > 0 and margin >= 0 and kappa >= 0 and inner >= 1):
        raise GameError(f"need eta > 0, rho > 0, margin >= 0, kappa >= 0, inner >= 1; got {eta}, {rho}, {margin}, "
                        f"{kappa}, {inner}")
    m, n = u_s.shape
    us = (u_s - u_s.min()) / max(float(np.ptp(u_s)), 1e-12)
    shifted = u_r - u_r.max(axis=1, keepdims=True)
    ur = shifted / max(float(-shifted.min()), 1e-12)
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    start = MirrorDescentState(
        logits=f32(np.zeros((m, n))), lam=f32(np.zeros((n, n))), counts=f32(np.zeros(m)), u_s=f32(us),
        u_r=f32(ur), eta=f32(eta), rho=f32(rho), margin=f32(margin), kappa=f32(kappa),
    )

    def init(key):
        del key
        return start

    return Algorithm(init, _act, partial(_update, inner=int(inner)), None, "mirror_descent")

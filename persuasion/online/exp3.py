"""Exp3 over a finite family of schemes, for a receiver of unknown type with bandit feedback.

Setting: the receiver's type ``k_t ~ lam`` is drawn each round from an unknown distribution (the sender knows
``mu0``, ``u_S`` and every type's ``u_R``); the sender commits to one of ``F`` schemes ``phi_1..phi_F``
(:func:`persuasion.online.schemes.scheme_family`), observes the state, signals, and sees only the action taken,
hence its own utility ``u_t = u_S(s_t, b_t)``, never ``k_t``.

Update (Exp3 with loss estimates, Lattimore & Szepesvari 2020, Alg. 9): with ``x_t = (u_t - u_min) / (u_max - u_min)``,

.. math::

    p_t(f) \\propto \\exp(-\\eta \\hat L_{t-1}(f)), \\qquad
    \\hat L_t(f) = \\hat L_{t-1}(f) + \\frac{1[f = f_t] (1 - x_t)}{p_t(f)}, \\qquad
    \\eta = \\sqrt{2 \\ln F / (T F)}.

Bound: ``E[R_T] <= (u_max - u_min) sqrt(2 T F ln F)`` against the best scheme of the family (Lattimore &
Szepesvari, Thm. 11.2), plus ``T * gap`` where ``gap = OPT - max_f V(phi_f)`` (0 when the family holds the
optimal scheme for ``lam``, as the family of LP vertices does for ``lam`` on its grid). For the full problem
Castiglioni et al. (2020) give ``O(T^{4/5})`` with partial feedback and Bernasconi et al. (2023) reach
``O~(sqrt T)``.

References:
    [1] P. Auer, N. Cesa-Bianchi, Y. Freund, R. Schapire. The nonstochastic multiarmed bandit problem. SIAM J.
        Comput. 2002.
    [2] T. Lattimore, C. Szepesvari. Bandit Algorithms. Cambridge University Press, 2020, Ch. 11.
    [3] M. Castiglioni, A. Celli, A. Marchesi, N. Gatti. Online Bayesian Persuasion. NeurIPS 2020.
    [4] M. Bernasconi, M. Castiglioni, A. Marchesi, N. Gatti, F. Trovo. Optimal Rates and Efficient Algorithms
        for Online Bayesian Persuasion. ICML 2023.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from persuasion.online.interface import Algorithm, Decision, Feedback
from persuasion.errors import GameError
from persuasion.online.envs import inverse_cdf


class Exp3State(NamedTuple):
    """Exp3 over a scheme family."""

    family: jax.Array  # shape=(F, m, S), float32: the schemes (arms).
    loss: jax.Array  # shape=(F,), float32: importance-weighted cumulative loss estimates L_hat.
    eta: jax.Array  # shape=(), float32: learning rate.
    low: jax.Array  # shape=(), float32: u_min (utility rescaling).
    span: jax.Array  # shape=(), float32: u_max - u_min.


def _check_family(family: np.ndarray) -> np.ndarray:
    family = np.asarray(family, dtype=float)
    if family.ndim != 3 or family.shape[0] < 1:
        raise GameError(f"family must have shape (F, m, S) with F >= 1, got {family.shape}")
    if np.any(family < 0) or not np.allclose(family.sum(axis=2), 1.0, atol=1e-6):
        raise GameError("every scheme of the family must have rows on the simplex")
    return family


def exp3_bound(horizon: int | np.ndarray, arms: int, span: float = 1.0) -> np.ndarray:
    """``span * sqrt(2 T F ln F)``: Exp3's expected-regret bound against the family's best scheme."""
    return span * np.sqrt(2.0 * np.asarray(horizon, dtype=float) * arms * math.log(max(arms, 1)))


def _probs(state: Exp3State) -> jax.Array:
    return jax.nn.softmax(-state.eta * (state.loss - state.loss.min()))


def exp3_act(state: Exp3State, key: jax.Array, obs: jax.Array) -> Decision:
    """Draws the arm ``f ~ p_t`` then the signal ``sigma ~ phi_f(. | obs)``."""
    u = jax.random.uniform(key, (2,), dtype=state.loss.dtype)
    arm = inverse_cdf(_probs(state), u[0])
    scheme = state.family[arm]
    return Decision(scheme, inverse_cdf(scheme[obs], u[1]), arm)


def exp3_update(state: Exp3State, feedback: Feedback) -> Exp3State:
    """Adds the importance-weighted loss of the played arm."""
    p = _probs(state)[feedback.arm]
    x = jnp.clip((feedback.utility - state.low) / state.span, 0.0, 1.0)
    return state._replace(loss=state.loss.at[feedback.arm].add((1.0 - x) / p))


def exp3(family: np.ndarray, sender_utility: np.ndarray, horizon: int) -> Algorithm:
    """Exp3 over ``family`` (F x m x S) tuned for ``horizon`` rounds.

    Args:
        family: candidate schemes, e.g. :func:`persuasion.online.schemes.scheme_family`.
        sender_utility: ``u_S`` (for the reward range).
        horizon: ``T`` (sets ``eta``).

    Example:
        >>> import jax
        >>> alg = exp3(np.ones((3, 2, 1)), [[0.0], [1.0]], horizon=100)
        >>> alg.init(jax.random.key(0)).loss.tolist()
        [0.0, 0.0, 0.0]
    """
    family = _check_family(family)
    if horizon < 1:
        raise GameError(f"horizon must be >= 1, got {horizon}")
    u_s = np.asarray(sender_utility, dtype=float)
    F = family.shape[0]
    low, high = float(u_s.min()), float(u_s.max())
    state = Exp3State(
        family=jnp.asarray(family, jnp.float32),
        loss=jnp.zeros(F, jnp.float32),
        eta=jnp.asarray(math.sqrt(2.0 * math.log(F) / (horizon * F)) if F > 1 else 0.0, jnp.float32),
        low=jnp.asarray(low, jnp.float32),
        span=jnp.asarray(max(high - low, 1e-12), jnp.float32),
    )

    def init(key):
        del key
        return state

    return Algorithm(init, exp3_act, exp3_update, None, "exp3")

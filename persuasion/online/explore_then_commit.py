"""Explore-then-commit over a finite family of schemes (unknown receiver type, bandit feedback).

Setting: as :mod:`persuasion.online.exp3`. Play each of the ``F`` schemes ``N`` times in turn, then commit to the
one with the highest mean observed utility. With

.. math:: N = \\big\\lceil (T / F)^{2/3} (\\ln T)^{1/3} \\big\\rceil

the expected regret against the family's best scheme is ``O(F^{1/3} T^{2/3} (log T)^{1/3})`` (utilities in a
range of width 1; Lattimore & Szepesvari 2020, Ch. 6, gap-free bound). It is simpler and slower than Exp3 and its
commit phase risks a wrong arm with probability ``~ F exp(-N gap^2 / 2)``.

References:
    [1] T. Lattimore, C. Szepesvari. Bandit Algorithms. Cambridge University Press, 2020, Ch. 6.
    [2] M. Castiglioni, A. Celli, A. Marchesi, N. Gatti. Online Bayesian Persuasion. NeurIPS 2020.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from persuasion.online.interface import Algorithm, Decision, Feedback
from persuasion.errors import GameError
from persuasion.online.envs import sample_index
from persuasion.online.exp3 import _check_family


class ETCState(NamedTuple):
    """Explore-then-commit over a scheme family."""

    family: jax.Array  # shape=(F, m, S), float32: the schemes (arms).
    sums: jax.Array  # shape=(F,), float32: total utility observed per arm.
    pulls: jax.Array  # shape=(F,), float32: rounds played per arm.
    t: jax.Array  # shape=(), int32: rounds so far.
    explore: jax.Array  # shape=(), int32: exploration rounds in all (F N).


def etc_exploration(horizon: int, arms: int) -> int:
    """``N = ceil((T/F)^{2/3} (ln T)^{1/3})`` rounds per arm, capped so that ``F N <= T``."""
    n = math.ceil((horizon / arms) ** (2.0 / 3.0) * math.log(max(horizon, 2)) ** (1.0 / 3.0))
    return max(1, min(n, horizon // arms))


def etc_bound(horizon: int | np.ndarray, arms: int, span: float = 1.0) -> np.ndarray:
    """``span * F^{1/3} T^{2/3} (ln T)^{1/3}``: the order of ETC's gap-free regret bound (constant 1)."""
    T = np.asarray(horizon, dtype=float)
    return span * arms ** (1.0 / 3.0) * T ** (2.0 / 3.0) * np.log(np.maximum(T, 2.0)) ** (1.0 / 3.0)


def etc_act(state: ETCState, key: jax.Array, obs: jax.Array) -> Decision:
    """Round-robin while exploring, then the empirically best arm."""
    F = state.family.shape[0]
    best = jnp.argmax(state.sums / jnp.maximum(state.pulls, 1.0)).astype(jnp.int32)
    arm = jnp.where(state.t < state.explore, (state.t % F).astype(jnp.int32), best)
    scheme = state.family[arm]
    return Decision(scheme, sample_index(key, scheme[obs]), arm)


def etc_update(state: ETCState, feedback: Feedback) -> ETCState:
    """Records the arm's utility."""
    return state._replace(
        sums=state.sums.at[feedback.arm].add(feedback.utility),
        pulls=state.pulls.at[feedback.arm].add(1.0),
        t=state.t + 1,
    )


def explore_then_commit(family: np.ndarray, horizon: int) -> Algorithm:
    """Explore-then-commit over ``family`` (F x m x S) tuned for ``horizon`` rounds.

    Example:
        >>> import jax
        >>> alg = explore_then_commit(np.ones((2, 2, 1)), horizon=1000)
        >>> etc_exploration(1000, 2), int(alg.init(jax.random.key(0)).explore)
        (120, 240)
    """
    family = _check_family(family)
    if horizon < 1:
        raise GameError(f"horizon must be >= 1, got {horizon}")
    F = family.shape[0]
    state = ETCState(
        family=jnp.asarray(family, jnp.float32),
        sums=jnp.zeros(F, jnp.float32),
        pulls=jnp.zeros(F, jnp.float32),
        t=jnp.zeros((), jnp.int32),
        explore=jnp.asarray(F * etc_exploration(horizon, F), jnp.int32),
    )

    def init(key):
        del key
        return state

    return Algorithm(init, etc_act, etc_update, None, "etc")

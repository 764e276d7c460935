"""What the learners that play one scheme per epoch share (robust, plug-in, baselines): state, steps, planning.

The scheme lives in the state, not in a closure, so ``act`` and ``update`` are the same functions for every game
of a given size and the simulator compiles them once. :class:`EpochPlanner` is the host-side ``plan`` of the
learners that re-solve an LP around each seed's empirical prior; :func:`known_game` is what such a learner knows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from persuasion.online.interface import Decision, Feedback
from persuasion.errors import GameError
from persuasion.game import Game
from persuasion.online.envs import sample_index


class SchemeState(NamedTuple):
    """State of a learner that commits to ``scheme`` until its next plan."""

    scheme: jax.Array  # shape=(m, S), float32: the scheme committed this epoch.
    counts: jax.Array  # shape=(m,), float32: how often each state was observed.
    epoch: jax.Array  # shape=(), int32: plans done so far.


def scheme_state(scheme: np.ndarray) -> SchemeState:
    """The initial state committing to ``scheme`` (rows on the simplex)."""
    scheme = np.asarray(scheme, dtype=float)
    if scheme.ndim != 2 or not np.all(np.isfinite(scheme)) or np.any(scheme < 0):
        raise GameError(f"scheme must be a finite non-negative (m, S) array, got shape {scheme.shape}")
    if not np.allclose(scheme.sum(axis=1), 1.0, atol=1e-6):
        raise GameError("scheme rows must sum to 1")
    return SchemeState(
        jnp.asarray(scheme, jnp.float32), jnp.zeros(scheme.shape[0], jnp.float32), jnp.zeros((), jnp.int32)
    )


def act_with_scheme(state: SchemeState, key: jax.Array, obs: jax.Array) -> Decision:
    """Sends ``sigma ~ scheme(. | obs)``."""
    return Decision(state.scheme, sample_index(key, state.scheme[obs]), jnp.zeros((), jnp.int32))


def update_counts(state: SchemeState, feedback: Feedback) -> SchemeState:
    """Counts the observed state: ``counts[s_t] += 1``."""
    return state._replace(counts=state.counts.at[feedback.state].add(1.0))


def estimates(states: SchemeState) -> tuple[np.ndarray, np.ndarray]:
    """Host side: the empirical priors ``mu_hat`` (seeds x m) and sample sizes ``t`` (seeds,) of batched states."""
    counts = np.asarray(jax.device_get(states.counts), dtype=float)
    t = counts.sum(axis=-1)
    return counts / np.maximum(t, 1.0)[..., None], t


def known_game(sender_utility: np.ndarray, receiver_utility: np.ndarray) -> Game:
    """A game over the known utilities with a placeholder uniform prior (never used as the truth).

    Raises:
        GameError: for receiver utilities with a type axis (the prior learners need one receiver type).
    """
    u_r = np.asarray(receiver_utility, dtype=float)
    if u_r.ndim != 2:
        raise GameError(f"the prior learners need one receiver type: receiver_utility has shape {u_r.shape}")
    u_s = np.asarray(sender_utility, dtype=float)
    return Game(np.full(u_s.shape[0], 1.0 / max(u_s.shape[0], 1)), u_s, u_r)


#: ``scheme_for(mu_hat, t, epoch) -> scheme``: one seed's scheme for the next epoch from its estimate ``mu_hat``
#: (m,), its sample size ``t`` and the epochs planned so far.
SchemeFor = Callable[[np.ndarray, float, int], np.ndarray]


class EpochPlanner:
    """The host-side ``plan`` of an epoch learner: every seed re-solves an LP around its empirical prior.

    Args:
        scheme_for: one seed's next scheme (:data:`SchemeFor`).
        solver: the LP solver ``scheme_for`` uses, kept as an attribute so callers can read its counters
            (e.g. ``RobustSolver.calls``).

    Calling it on batched states (leading axis: seeds) returns them with the new schemes and ``epoch + 1``.
    """

    def __init__(self, scheme_for: SchemeFor, solver: Any = None) -> None:
        self.scheme_for, self.solver = scheme_for, solver

    def __call__(self, states: SchemeState, t: int) -> SchemeState:
        del t
        mu_hat, counts = estimates(states)
        epochs = np.asarray(states.epoch)
        schemes = np.empty(np.shape(states.scheme))
        for i in np.ndindex(*mu_hat.shape[:-1]):
            schemes[i] = self.scheme_for(mu_hat[i], float(counts[i]), int(epochs[i]))
        return states._replace(scheme=jnp.asarray(schemes, jnp.float32), epoch=states.epoch + 1)

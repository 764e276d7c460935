"""The state and JAX steps shared by learners that play one scheme per epoch (robust, plug-in, baselines).

The scheme lives in the state, not in a closure, so ``act`` and ``update`` are the same functions for every game
of a given size and the simulator compiles them once.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from persuasion.base import Decision, Feedback
from persuasion.errors import GameError
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

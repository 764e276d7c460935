"""The interface shared by the online persuasion learners (in the manner of ``optax/_src/base.py``).

A learner is an :class:`Algorithm`: a tuple of pure functions over an explicit state ``NamedTuple``.

* ``init(key) -> state``: the state before round 1.
* ``act(state, key, obs) -> Decision``: the scheme ``pi`` committed this round (announced to the receiver) and the
  signal it sends for the realized state ``obs = s_t`` (``signal ~ pi(. | s_t)``). The committed scheme must not
  depend on ``obs``; only the signal does.
* ``update(state, feedback) -> state``: the state after the round's :class:`Feedback`.
* ``plan(states, t) -> states`` (optional, host side): runs at epoch boundaries on the states of every seed at once
  (leading axis); this is where LP solves happen, so a run costs one solve per seed and epoch, never one per round.

``init``, ``act`` and ``update`` are pure JAX (jit-able, vmap-able over seeds); ``plan`` is NumPy/cvxpy. The game
the sender knows is bound when the algorithm is built (as optax binds hyperparameters), so what a learner is
allowed to know is explicit in its constructor's signature: e.g. ``robust_learner`` takes the utilities
``u_S, u_R`` but never the prior ``mu0``.

Signals are integers in ``[0, S)``. For a single receiver type ``S = n`` and signal ``a`` recommends action ``a``
(revelation principle); for ``K`` receiver types ``S = n^K`` and a signal is a profile of recommendations, one per
type (see :func:`persuasion.responses.all_profiles`).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import jax

State = Any  # a NamedTuple of jax arrays (a pytree)


class Decision(NamedTuple):
    """What the sender does in one round."""

    scheme: jax.Array  # shape=(m, S), float32: pi(sigma | s), committed before the state is drawn.
    signal: jax.Array  # shape=(), int32: the signal sent for the observed state.
    arm: jax.Array  # shape=(), int32: index of the committed scheme in the learner's family (0 if it has none).


class Feedback(NamedTuple):
    """What the sender sees after one round (bandit feedback: never the receiver's type)."""

    state: jax.Array  # shape=(), int32: the realized state s_t (the sender observes it to signal).
    signal: jax.Array  # shape=(), int32: the signal sent.
    arm: jax.Array  # shape=(), int32: the committed scheme's index (Decision.arm).
    action: jax.Array  # shape=(), int32: the action the receiver took.
    utility: jax.Array  # shape=(), float32: the sender's utility u_S(s_t, action).


class InitFn(Protocol):
    def __call__(self, key: jax.Array) -> State:
        """The initial state."""


class ActFn(Protocol):
    def __call__(self, state: State, key: jax.Array, obs: jax.Array) -> Decision:
        """The committed scheme and the signal for the observed state ``obs`` (int32 scalar)."""


class UpdateFn(Protocol):
    def __call__(self, state: State, feedback: Feedback) -> State:
        """The state after one round."""


class PlanFn(Protocol):
    def __call__(self, states: State, t: int) -> State:
        """Host-side re-plan of every seed's state (leading axis) after ``t`` rounds."""


class Algorithm(NamedTuple):
    """An online persuasion learner: ``init`` / ``act`` / ``update`` (JAX) plus an optional host ``plan``."""

    init: InitFn
    act: ActFn
    update: UpdateFn
    plan: PlanFn | None = None
    name: str = ""

"""Repeated persuasion environments as pure JAX functions with explicit ``jax.random`` keys.

Each round: a state ``s ~ mu0`` and a receiver type ``k ~ lam`` are drawn i.i.d.; the sender commits to a scheme
``pi`` (m x S), observes ``s`` and sends ``sigma ~ pi(. | s)``; the receiver of type ``k`` forms the posterior with
the TRUE prior, ``mu(s | sigma) ∝ mu0(s) pi(sigma | s)``, and best-responds,

.. math:: b = \\arg\\max_{b} \\sum_s \\mu_0(s)\\, \\pi(\\sigma \\mid s)\\, u_R^k(s, b),

following the action ``intent[k, sigma]`` the signal recommends when it is among the best responses (ties broken
in the sender's favour, as in the LP), else taking the best response the sender likes most.

Two settings share these functions and differ in what the learner is told (its constructor's arguments):

* unknown prior, one receiver type (``K = 1``, ``S = n``): Zu, Iyer & Xu, "Learning to Persuade on the Fly", EC 2021;
* unknown type distribution ``lam`` (``K > 1``, ``S = n^K`` signals = recommendation profiles), bandit feedback:
  the sender sees the action taken, never the type (Castiglioni et al., NeurIPS 2020).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from persuasion.errors import GameError
from persuasion.game import Game
from persuasion.responses import all_profiles

#: Ties within ``TIE_TOL * max(1, max |u_R|)`` (joint-probability units) count as best responses (float32 noise).
TIE_TOL = 1e-6
#: A scheme is "not persuasive" when the receiver deviates with probability above this.
UNPERSUASIVE_TOL = 1e-6


class Env(NamedTuple):
    """A repeated persuasion game (the truth; only the simulator sees all of it)."""

    prior: jax.Array  # shape=(m,), float32: mu0.
    sender_utility: jax.Array  # shape=(m, n), float32: u_S.
    receiver_utility: jax.Array  # shape=(K, m, n), float32: u_R per type.
    type_prior: jax.Array  # shape=(K,), float32: lam.
    intent: jax.Array  # shape=(K, S), int32: action that signal sigma recommends to type k.
    tol: jax.Array  # shape=(), float32: tie tolerance.


class SchemeOutcome(NamedTuple):
    """What a committed scheme does against the true environment (not :class:`llm.empirical.Outcome`)."""

    response: jax.Array  # shape=(K, S), int32: action of type k after signal sigma.
    value: jax.Array  # shape=(), float32: expected sender utility E_{s, k, sigma}[u_S(s, response)].
    obey_prob: jax.Array  # shape=(), float32: probability that the receiver follows the recommendation.


#: The former name of :class:`SchemeOutcome`, kept importable.
Outcome = SchemeOutcome


class Draw(NamedTuple):
    """A round's hidden randomness."""

    state: jax.Array  # shape=(), int32.
    type: jax.Array  # shape=(), int32.


def profiles(n: int, K: int) -> np.ndarray:
    """All recommendation profiles ``sigma = (a_1, ..., a_K)``, shape ``(n^K, K)``, int32, at most 4096 of them.

    :func:`persuasion.responses.all_profiles` in the environments' dtype; index ``sum_k a_k n^(K-1-k)``.

    Example:
        >>> profiles(2, 2).tolist()
        [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    if n >= 1 and K >= 1 and n**K > 4096:
        raise GameError(f"{n}^{K} = {n**K} recommendation profiles is too many (at most 4096)")
    return all_profiles(n, K).astype(np.int32)


def signal_count(game: Game) -> int:
    """``S = n^K``: the number of signals of a game's environment."""
    return game.n**game.K


def make_env(game: Game) -> Env:
    """The environment of ``game`` (its prior and type prior are the hidden truth).

    Example:
        >>> env = make_env(Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]]))
        >>> env.intent.tolist()
        [[0, 1]]
    """
    u_r = game.typed_receiver_utility()
    return Env(
        prior=jnp.asarray(game.prior, jnp.float32),
        sender_utility=jnp.asarray(game.sender_utility, jnp.float32),
        receiver_utility=jnp.asarray(u_r, jnp.float32),
        type_prior=jnp.asarray(game.typed_type_prior(), jnp.float32),
        intent=jnp.asarray(profiles(game.n, game.K).T, jnp.int32),
        tol=jnp.asarray(TIE_TOL * max(1.0, float(np.abs(u_r).max(initial=0.0))), jnp.float32),
    )


def inverse_cdf(probs: jax.Array, u: jax.Array) -> jax.Array:
    """The index drawn from the (unnormalised, non-negative) weights ``probs`` by the uniform ``u`` in [0, 1).

    Never returns an index of zero weight; int32 scalar.
    """
    cdf = jnp.cumsum(probs)
    idx = jnp.sum(cdf <= u * cdf[-1])  # first index whose cdf exceeds u * total
    return jnp.minimum(idx, probs.shape[0] - 1).astype(jnp.int32)


def sample_index(key: jax.Array, probs: jax.Array) -> jax.Array:
    """One draw from the weights ``probs`` (see :func:`inverse_cdf`); int32 scalar."""
    return inverse_cdf(probs, jax.random.uniform(key, (), dtype=probs.dtype))


def draw(env: Env, key: jax.Array) -> Draw:
    """Draws the state ``s ~ mu0`` and the receiver type ``k ~ lam`` (one uniform each)."""
    u = jax.random.uniform(key, (2,), dtype=env.prior.dtype)
    return Draw(inverse_cdf(env.prior, u[0]), inverse_cdf(env.type_prior, u[1]))


def outcome(env: Env, scheme: jax.Array) -> SchemeOutcome:
    """Responses, sender value and obedience probability of ``scheme`` (m x S) under the true ``mu0`` and ``lam``.

    .. math::

        V(\\pi) = \\sum_k \\lambda_k \\sum_{s, \\sigma} \\mu_0(s) \\pi(\\sigma \\mid s) u_S(s, b_k(\\sigma)).
    """
    joint = env.prior[:, None] * scheme  # (m, S)
    eu = jnp.einsum("ms,kmb->ksb", joint, env.receiver_utility)  # receiver's unnormalised posterior utility
    es = joint.T @ env.sender_utility  # (S, n): sender's
    best = eu.max(axis=-1, keepdims=True)
    near = eu >= best - env.tol
    follows = jnp.take_along_axis(near, env.intent[..., None], axis=-1)[..., 0]  # (K, S)
    fallback = jnp.argmax(jnp.where(near, es[None], -jnp.inf), axis=-1)
    response = jnp.where(follows, env.intent, fallback).astype(jnp.int32)
    got = jnp.take_along_axis(jnp.broadcast_to(es[None], eu.shape), response[..., None], axis=-1)[..., 0]
    value = env.type_prior @ got.sum(axis=-1)
    obey = env.type_prior @ (follows * joint.sum(axis=0)[None]).sum(axis=-1)
    return SchemeOutcome(response, value, obey)


def respond(env: Env, scheme: jax.Array, signal: jax.Array, receiver_type: jax.Array) -> jax.Array:
    """The action (int32) of a receiver of type ``receiver_type`` after ``signal`` under ``scheme``."""
    return outcome(env, scheme).response[receiver_type, signal]

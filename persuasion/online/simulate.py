"""Many seeds of a learner against an environment at once: ``jax.vmap`` over seeds, ``lax.scan`` over rounds.

Rounds run in jitted chunks of ``chunk`` rounds; epoch boundaries (:func:`doubling_schedule`) fall on chunk ends,
and only there does the host call the learner's ``plan`` (the LP solves), once per seed and epoch.

Regret is in sender utility against the optimal scheme for the true parameters, ``OPT = V(pi*)``:

.. math:: R_T = \\sum_{t \\le T} \\big(\\mathrm{OPT} - V(\\pi_t)\\big),

where ``V(pi_t)`` is the expected utility of the scheme committed in round ``t`` against the true ``mu0``/``lam``
with the receiver's actual best responses (so rounds lost to disobedience are charged). The realized regret
``sum_t OPT - u_S(s_t, b_t)`` and the rounds in which the receiver did not follow the recommendation are counted
separately, as are the rounds whose committed scheme is not persuasive at the truth.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from persuasion.online.interface import Algorithm, Feedback
from persuasion.errors import GameError
from persuasion.game import Game
from persuasion.online.envs import UNPERSUASIVE_TOL, Env, draw, make_env, outcome
from persuasion.online.schemes import optimal_scheme
from persuasion.responses import clean_scheme


class Trace(NamedTuple):
    """Cumulative per-seed metrics at the end of every chunk."""

    t: np.ndarray  # shape=(C,), int64: rounds done at each chunk end.
    regret: np.ndarray  # shape=(seeds, C): cumulative expected regret sum OPT - V(pi_t).
    realized_regret: np.ndarray  # shape=(seeds, C): cumulative sum OPT - u_S(s_t, b_t).
    disobeyed: np.ndarray  # shape=(seeds, C): rounds in which the receiver did not follow the recommendation.
    unpersuasive: np.ndarray  # shape=(seeds, C): rounds whose committed scheme is not persuasive at the truth.
    opt: float  # OPT, the optimal expected utility per round.
    plans: int  # host plan calls (each solves one LP per seed).
    seconds: float  # wall-clock time of the run.
    plan_seconds: float  # of which spent in ``plan``.
    final_state: Any  # the learners' final states (leading axis: seeds).


def doubling_schedule(horizon: int, first: int) -> tuple[int, ...]:
    """Epoch boundaries ``first * 2^j < horizon`` (rounds after which the learner re-plans).

    Example:
        >>> doubling_schedule(1000, 100)
        (100, 200, 400, 800)
    """
    if first < 1:
        raise GameError(f"first epoch must be >= 1 round, got {first}")
    out, t = [], first
    while t < horizon:
        out.append(t)
        t *= 2
    return tuple(out)


def optimal_value(game: Game, env: Env | None = None) -> float:
    """``OPT``: the value of the optimal scheme for the true parameters, evaluated by :func:`envs.outcome`."""
    env = make_env(game) if env is None else env
    return float(outcome(env, jnp.asarray(clean_scheme(optimal_scheme(game)), jnp.float32)).value)


@functools.partial(jax.jit, static_argnums=2)
def round_keys(seed_keys: jax.Array, index: jax.Array, chunk: int) -> jax.Array:
    """Per-round keys of chunk ``index``: ``split(fold_in(seed_key, index), (chunk, 2))`` per seed (draw, act).

    Jitted apart from the learners' steps so that every learner and game shares one compiled copy.
    """
    return jax.vmap(lambda k: jax.random.split(jax.random.fold_in(k, index), (chunk, 2)))(seed_keys)


@functools.lru_cache(maxsize=64)
def _chunk_runner(act: Callable, update: Callable) -> Callable:
    """The jitted ``(env, states, keys, opt) -> (states, sums)`` over a batch of seeds (keys: seeds x chunk x 2)."""

    def one_seed(env: Env, state: Any, keys: jax.Array, opt: jax.Array):
        def body(st, k):
            k_draw, k_act = k[0], k[1]
            d = draw(env, k_draw)
            dec = act(st, k_act, d.state)
            out = outcome(env, dec.scheme)
            action = out.response[d.type, dec.signal]
            utility = env.sender_utility[d.state, action]
            st = update(st, Feedback(d.state, dec.signal, dec.arm, action, utility))
            metrics = jnp.stack(
                [
                    opt - out.value,
                    opt - utility,
                    (action != env.intent[d.type, dec.signal]).astype(jnp.float32),
                    (out.obey_prob < 1.0 - UNPERSUASIVE_TOL).astype(jnp.float32),
                ]
            )
            return st, metrics

        state, metrics = jax.lax.scan(body, state, keys)
        return state, metrics.sum(axis=0)

    return jax.jit(jax.vmap(one_seed, in_axes=(None, 0, 0, None)))


def simulate(
    game: Game,
    algorithm: Algorithm,
    key: jax.Array,
    *,
    horizon: int,
    seeds: int,
    chunk: int = 100,
    first_epoch: int | None = None,
    progress: bool = False,
) -> Trace:
    """Runs ``seeds`` independent copies of ``algorithm`` for ``horizon`` rounds against ``game``'s truth.

    Args:
        game: the true game (``mu0``, ``lam`` are hidden from the learner unless its constructor was given them).
        algorithm: the learner.
        key: a ``jax.random`` key; seed ``i`` inits with ``split(key, 2 seeds)[i]`` and plays with
            ``[seeds + i]``, so learners run on the same key see the same states (common random numbers).
        horizon: ``T``, a multiple of ``chunk``.
        seeds: independent runs (vmapped).
        chunk: rounds per jitted step; metrics are recorded at chunk ends.
        first_epoch: first epoch boundary (default ``chunk``), a multiple of ``chunk``; then doubling.
        progress: show a tqdm bar over chunks.

    Returns:
        The :class:`Trace`.
    """
    if seeds < 1 or chunk < 1 or horizon < chunk or horizon % chunk:
        raise GameError(
            f"need seeds >= 1 and horizon a positive multiple of chunk; got seeds={seeds}, "
            f"horizon={horizon}, chunk={chunk}"
        )
    first = chunk if first_epoch is None else first_epoch
    if first % chunk:
        raise GameError(f"first_epoch={first} must be a multiple of chunk={chunk}")
    start = time.perf_counter()
    env = make_env(game)
    opt = optimal_value(game, env)
    init_keys, loop_keys = jnp.split(jax.random.split(key, 2 * seeds), 2)
    states = jax.vmap(algorithm.init)(init_keys)  # leading axis: seeds (vmap broadcasts key-free states)
    runner = _chunk_runner(algorithm.act, algorithm.update)
    boundaries = set(doubling_schedule(horizon, first)) if algorithm.plan is not None else set()
    opt32 = jnp.asarray(opt, jnp.float32)
    chunks = range(horizon // chunk)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc=algorithm.name or "simulate", unit="chunk", leave=False)
    sums, plans, plan_seconds = [], 0, 0.0
    for c in chunks:
        if c * chunk in boundaries:
            t0 = time.perf_counter()
            states = algorithm.plan(states, c * chunk)
            plan_seconds += time.perf_counter() - t0
            plans += 1
        states, s = runner(env, states, round_keys(loop_keys, jnp.asarray(c, jnp.uint32), chunk), opt32)
        sums.append(s)
    per_chunk = np.asarray(jax.device_get(jnp.stack(sums, axis=1)), dtype=float)  # (seeds, C, 4)
    cum = np.cumsum(per_chunk, axis=1)
    return Trace(
        t=np.arange(1, horizon // chunk + 1, dtype=np.int64) * chunk,
        regret=cum[..., 0],
        realized_regret=cum[..., 1],
        disobeyed=cum[..., 2],
        unpersuasive=cum[..., 3],
        opt=opt,
        plans=plans,
        seconds=time.perf_counter() - start,
        plan_seconds=plan_seconds,
        final_state=states,
    )

"""Many persuasion games of one shape solved at once: softmax schemes, an augmented Lagrangian, an exact polish.

Each game ``b`` of a batch (``prior (B, m)``, ``u_S, u_R (B, m, n)``) gets a scheme ``pi = softmax(theta)`` over
recommendations (rows of ``theta (m, n)``), so the simplex constraints hold by construction. The obedience
constraints ``g_{aa'}(pi) = sum_s mu0(s) pi(a | s) (u_R(s, a) - u_R(s, a')) >= 0`` are handled by the augmented
Lagrangian for inequalities (Rockafellar 1973; Nocedal & Wright 2006, Sec. 17.4):

.. math::

    L_\\rho(\\theta, \\lambda) = -V(\\pi_\\theta) + \\frac{1}{2\\rho} \\sum_{a \\ne a'}
        \\Big(\\max(0, \\lambda_{aa'} - \\rho\\, g_{aa'}(\\pi_\\theta))^2 - \\lambda_{aa'}^2\\Big),
    \\qquad \\lambda \\leftarrow \\max(0, \\lambda - \\rho\\, g(\\pi_\\theta)).

Each outer step (:func:`al_update`) runs ``inner`` mirror-descent steps (optax SGD, exponentially decayed step) on
``theta`` for fixed ``lambda`` and then the multiplier step; ``rho`` grows geometrically up to ``rho_max``.
Why an augmented Lagrangian rather than a penalty or a projection: a pure penalty needs ``rho -> infinity``
(ill-conditioned) to reach feasibility, and projecting onto the obedience polytope is itself an LP; the multiplier
step reaches feasibility at a finite ``rho`` and its ``lambda`` converges to the LP's obedience duals ``y`` (up to
the utilities' scaling), which the polish and the certificate reuse. Utilities are
rescaled per game (``u_S`` to a unit range, ``u_R`` shifted per state and scaled to ``[-1, 0]``, which leaves
obedience unchanged) so one step size fits every game. The gradient is per game (``jax.vmap``) and the optimizer
is coordinate-wise, so the batch is B independent problems trained in one jitted ``lax.scan``.

Polish (:func:`polish`, NumPy float64): the gradient scheme is first made obedient (by relabelling signals or by
the least mixture with full disclosure, whichever is worth more); then the support of ``pi`` and the active
obedience rows are read off the gradient solution, the vertex they define is solved exactly (``pinv`` of the
equality system, batched), checked for feasibility, and made exactly obedient by
:func:`~persuasion.gradient.certificate.obedient_repair` (which never lowers the value against a best-responding
receiver). The dual system on the same active set, and ``lambda`` itself, give obedience prices ``y >= 0`` whose
repaired ``z(y)`` is dual feasible, so every game leaves with a certified upper bound ``mu0 . z(y) >= OPT`` and a
certified gap. Games whose gap exceeds ``gap_tol`` go to the exact LP (:func:`persuasion.solve`) when
``fallback=True``.

References:
    R. T. Rockafellar. A dual approach to solving nonlinear programming problems by unconstrained optimization.
        Math. Programming 5, 1973.
    J. Nocedal, S. Wright. Numerical Optimization, 2nd ed. Springer, 2006, Ch. 17.
    S. Dughmi, H. Xu. Algorithmic Bayesian Persuasion. STOC 2016. https://arxiv.org/abs/1503.05988
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import persuasion
from persuasion.gradient.certificate import (
    dual_bound,
    max_violation,
    mix_to_obedience,
    obedience_slack,
    obedient_repair,
    scheme_value,
)


class GameBatch(NamedTuple):
    """``B`` games of one shape ``(m, n)``, single receiver type (NumPy, float64)."""

    prior: np.ndarray  # shape=(B, m)
    sender_utility: np.ndarray  # shape=(B, m, n)
    receiver_utility: np.ndarray  # shape=(B, m, n)


def stack_games(games: Sequence[persuasion.Game]) -> GameBatch:
    """Stacks games of one shape (one receiver type each) into a :class:`GameBatch`."""
    games = list(games)
    if not games:
        raise persuasion.GameError("stack_games needs at least one game")
    shapes = {(g.m, g.n, g.K) for g in games}
    if len(shapes) != 1 or games[0].K != 1:
        raise persuasion.GameError(f"games must share one shape (m, n) and one receiver type, got {sorted(shapes)}")
    return GameBatch(
        np.stack([g.prior for g in games]),
        np.stack([g.sender_utility for g in games]),
        np.stack([g.receiver_utility for g in games]),
    )


def random_batch(seed: int, batch: int, m: int, n: int) -> GameBatch:
    """``batch`` random games: ``mu0 ~ Dirichlet(1)``, ``u_S, u_R`` i.i.d. standard normal."""
    rng = np.random.default_rng(seed)
    return GameBatch(rng.dirichlet(np.ones(m), size=batch), rng.normal(size=(batch, m, n)),
                     rng.normal(size=(batch, m, n)))


def game_of(batch: GameBatch, b: int) -> persuasion.Game:
    """The ``b``-th game of ``batch`` as a :class:`persuasion.Game`."""
    return persuasion.Game(batch.prior[b], batch.sender_utility[b], batch.receiver_utility[b], normalize=True)


# ------------------------------------------------------------------------------------ augmented Lagrangian
@dataclass(frozen=True)
class ALConfig:
    """Hyperparameters of the augmented Lagrangian (defaults tuned on random 8 x 4 games, docs/jax.md)."""

    outer: int = 100  # multiplier steps
    inner: int = 25  # mirror steps per multiplier step
    learning_rate: float = 5.0  # initial step, decayed exponentially to ``learning_rate * final_lr_ratio``
    final_lr_ratio: float = 0.01
    rho: float = 20.0  # initial penalty weight (units: rescaled utilities)
    rho_growth: float = 1.03  # rho <- min(rho * rho_growth, rho_max) after each multiplier step
    rho_max: float = 1e4
    optimizer: str = "sgd"  # "sgd" (plain mirror descent) or "adam" (optax)


class ALState(NamedTuple):
    """State of the batched augmented Lagrangian (JAX arrays, float32)."""

    logits: jax.Array  # shape=(B, m, n): theta, pi = softmax(theta, axis=-1).
    opt_state: Any  # optax optimizer state of logits.
    lam: jax.Array  # shape=(B, n, n): multipliers of the obedience rows (diagonal unused, 0).
    rho: jax.Array  # shape=(): penalty weight.


class Scaled(NamedTuple):
    """Per-game rescaled data (JAX, float32) and the scales that undo it."""

    prior: jax.Array  # (B, m)
    u_s: jax.Array  # (B, m, n), (u_S - min) / range
    u_r: jax.Array  # (B, m, n), (u_R - max_a u_R[s]) / range, in [-1, 0]
    s_scale: jax.Array  # (B,) range of u_S
    r_scale: jax.Array  # (B,) range of the shifted u_R


def rescale(batch: GameBatch) -> Scaled:
    """Rescales each game's utilities (obedience and the optimal scheme are unchanged)."""
    u_s = np.asarray(batch.sender_utility, float)
    u_r = np.asarray(batch.receiver_utility, float)
    lo = u_s.min(axis=(1, 2), keepdims=True)
    s_scale = np.maximum(np.ptp(u_s, axis=(1, 2)), 1e-12)
    shifted = u_r - u_r.max(axis=2, keepdims=True)
    r_scale = np.maximum(-shifted.min(axis=(1, 2)), 1e-12)
    f32 = partial(jnp.asarray, dtype=jnp.float32)
    return Scaled(f32(batch.prior), f32((u_s - lo) / s_scale[:, None, None]),
                  f32(shifted / r_scale[:, None, None]), f32(s_scale), f32(r_scale))


def _slack(prior: jax.Array, u_r: jax.Array, pi: jax.Array) -> jax.Array:
    """``g[a, a']`` of one game, shape (n, n)."""
    gram = (prior[:, None] * pi).T @ u_r
    return jnp.diag(gram)[:, None] - gram


def _lagrangian(x: jax.Array, lam: jax.Array, rho: jax.Array, u_s: jax.Array, u_r: jax.Array) -> jax.Array:
    """``L_rho`` of one game as a function of the joint ``x[s, a] = mu0(s) pi(a | s)`` (module docstring)."""
    value = jnp.sum(x * u_s)
    off = 1.0 - jnp.eye(x.shape[-1], dtype=x.dtype)
    gram = x.T @ u_r
    g = jnp.diag(gram)[:, None] - gram
    penalty = jnp.sum(off * (jnp.maximum(0.0, lam - rho * g) ** 2 - lam**2)) / (2.0 * rho)
    return -value + penalty


def _optimizer(config: ALConfig) -> optax.GradientTransformation:
    steps = max(1, config.outer * config.inner)
    schedule = optax.exponential_decay(config.learning_rate, steps, config.final_lr_ratio)
    return optax.adam(schedule) if config.optimizer == "adam" else optax.sgd(schedule)


def al_init(data: Scaled, config: ALConfig = ALConfig()) -> ALState:
    """The uniform scheme (``theta = 0``), zero multipliers."""
    batch, m = data.prior.shape
    n = data.u_s.shape[-1]
    logits = jnp.zeros((batch, m, n), jnp.float32)
    return ALState(logits, _optimizer(config).init(logits), jnp.zeros((batch, n, n), jnp.float32),
                   jnp.asarray(config.rho, jnp.float32))


@partial(jax.jit, static_argnums=2)
def al_update(state: ALState, data: Scaled, config: ALConfig = ALConfig()) -> ALState:
    """One outer step: ``inner`` mirror steps on ``theta`` at fixed ``lambda``, then the multiplier step.

    The step on ``theta`` is fed ``dL/dx`` (the gradient in the joint ``x``, not in ``theta``): with
    ``pi = softmax(theta)`` this is mirror descent with the entropy mirror map on each row of the scheme (the
    exponentiated-gradient update ``pi <- pi exp(-eta dL/dx) / Z``), which, unlike the plain gradient in ``theta``,
    does not vanish as ``pi(a | s) -> 0`` and so converges to the LP's vertices.
    """
    opt = _optimizer(config)
    grad_x = jax.vmap(jax.grad(_lagrangian), in_axes=(0, 0, None, 0, 0))

    def step(carry, _):
        logits, opt_state = carry
        x = data.prior[..., None] * jax.nn.softmax(logits, axis=-1)
        grads = grad_x(x, state.lam, state.rho, data.u_s, data.u_r)
        updates, opt_state = opt.update(grads, opt_state, logits)
        return (optax.apply_updates(logits, updates), opt_state), None

    (logits, opt_state), _ = jax.lax.scan(step, (state.logits, state.opt_state), None, length=config.inner)
    pi = jax.nn.softmax(logits, axis=-1)
    g = jax.vmap(_slack)(data.prior, data.u_r, pi)
    off = 1.0 - jnp.eye(pi.shape[-1], dtype=pi.dtype)
    lam = off * jnp.maximum(0.0, state.lam - state.rho * g)
    return ALState(logits, opt_state, lam, jnp.minimum(state.rho * config.rho_growth, config.rho_max))


@partial(jax.jit, static_argnums=2)
def al_run(state: ALState, data: Scaled, config: ALConfig = ALConfig()) -> ALState:
    """``config.outer`` calls of :func:`al_update` in one compiled loop."""
    return jax.lax.fori_loop(0, config.outer, lambda _, s: al_update(s, data, config), state)


# ---------------------------------------------------------------------------------------------- polish
def _pairs(n: int) -> np.ndarray:
    a, b = np.nonzero(~np.eye(n, dtype=bool))
    return np.stack([a, b], axis=1)


def _system(batch: GameBatch) -> tuple[np.ndarray, np.ndarray]:
    """The equality system ``A x = b`` of the LP's rows: ``m`` mass rows then the ``n (n-1)`` obedience rows.

    ``A`` has shape ``(B, m + P, m n)`` over ``x.ravel()``; ``b = (mu0, 0)``.
    """
    prior, u_r = batch.prior, batch.receiver_utility
    B, m, n = u_r.shape
    pairs = _pairs(n)
    P = len(pairs)
    A = np.zeros((B, m + P, m, n))
    A[:, np.arange(m), np.arange(m), :] = 1.0
    diff = u_r[:, :, pairs[:, 0]] - u_r[:, :, pairs[:, 1]]  # (B, m, P)
    A[:, m + np.arange(P), :, pairs[:, 0]] = diff.transpose(2, 0, 1)  # advanced indices first: (P, B, m)
    rhs = np.concatenate([prior, np.zeros((B, P))], axis=1)
    return A.reshape(B, m + P, m * n), rhs


def _vertex(A: np.ndarray, rhs: np.ndarray, support: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Least-norm ``x`` with ``x = 0`` off ``support`` solving the ``active`` rows exactly (batched pinv)."""
    Am = A * active[:, :, None] * support[:, None, :]
    return np.einsum("bij,bj->bi", np.linalg.pinv(Am, rcond=1e-11), rhs * active)


def _prices(A: np.ndarray, c: np.ndarray, support: np.ndarray, active: np.ndarray, m: int, n: int) -> np.ndarray:
    """Obedience prices ``y (B, n, n)`` from the dual equalities on ``support`` columns with ``active`` rows.

    Dual of ``max c.x, Mass x = mu0, O x >= 0, x >= 0``: ``Mass^T z - O^T y >= c`` with equality on the support.
    """
    sign = np.concatenate([np.ones(m), -np.ones(n * (n - 1))])
    At = np.swapaxes(A * (sign[None, :, None] * active[:, :, None]), 1, 2) * support[:, :, None]
    w = np.einsum("bij,bj->bi", np.linalg.pinv(At, rcond=1e-11), c * support)
    y = np.zeros((A.shape[0], n, n))
    pairs = _pairs(n)
    y[:, pairs[:, 0], pairs[:, 1]] = np.clip(w[:, m:], 0.0, None)
    return y


def _price_unsent(batch: GameBatch, y: np.ndarray, sent: np.ndarray) -> np.ndarray:
    """Completes prices ``y`` with rows for the actions never recommended (``~sent``, shape (B, n)).

    With ``z`` the state prices the sent actions' columns need, an unsent action ``a`` is priced against one
    alternative ``a'``: ``y[a, a'] = max(0, max_s (u_S[s, a] - z_s) / (u_R[s, a'] - u_R[s, a]))`` over the states
    with ``u_R[s, a'] > u_R[s, a]``; among the ``a'`` it takes the one whose columns then exceed ``z`` least (as
    ``persuasion.solve`` prices dominated actions). :func:`dual_bound` repairs whatever remains, so the bound stays
    valid whatever this chooses.
    """
    prior, u_s, u_r = batch
    n = u_s.shape[-1]
    lifted = u_s + u_r * y.sum(axis=-1)[:, None, :] - np.einsum("bsc,bac->bsa", u_r, y)
    z = np.where(sent[:, None, :], lifted, -np.inf).max(axis=-1)  # (B, m)
    z = np.where(np.isfinite(z), z, lifted.max(axis=-1))
    live = prior > 0
    y = y.copy()
    for a in range(n):
        todo = ~sent[:, a]
        if not todo.any():
            continue
        num = u_s[:, :, a] - z  # (B, m)
        best_y, best_excess = np.zeros(len(y)), np.full(len(y), np.inf)
        choice = np.full(len(y), -1)
        for alt in range(n):
            if alt == a:
                continue
            den = u_r[:, :, alt] - u_r[:, :, a]
            pos = live & (den > 0)
            need = np.where(pos, num / np.where(pos, den, 1.0), -np.inf).max(axis=1)
            need = np.clip(need, 0.0, None)
            excess = np.where(live, num - need[:, None] * den, -np.inf).max(axis=1)
            better = excess < best_excess
            best_y, best_excess = np.where(better, need, best_y), np.where(better, excess, best_excess)
            choice = np.where(better, alt, choice)
        rows = np.flatnonzero(todo & (choice >= 0))
        y[rows, a, :] = 0.0
        y[rows, a, choice[rows]] = best_y[rows]
    return y


def _feasible_scheme(batch: GameBatch, x: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """The scheme of joint ``x`` (B, m, n) and whether ``x`` was feasible within ``tol`` (relative)."""
    prior = batch.prior
    B, m, n = batch.sender_utility.shape
    mass = x.sum(axis=2)
    span = np.maximum(np.ptp(batch.receiver_utility, axis=(1, 2)), 1e-300)
    ok = (x.min(axis=(1, 2)) >= -tol) & (np.abs(mass - prior).max(axis=1) <= tol)
    xc = np.clip(x, 0.0, None)
    rows = xc.sum(axis=2, keepdims=True)
    scheme = np.where(rows > 0, xc / np.where(rows > 0, rows, 1.0), 1.0 / n)
    ok &= max_violation(prior, batch.receiver_utility, scheme) <= tol * span
    return scheme, ok


class BatchSolution(NamedTuple):
    """Solutions of a :class:`GameBatch` (NumPy)."""

    scheme: np.ndarray  # shape=(B, m, n): obedient schemes (violation <= certificate.TIE_TOL * range(u_R)).
    value: np.ndarray  # shape=(B,): their sender values.
    bound: np.ndarray  # shape=(B,): certified upper bounds on the optimal values (mu0 . z(y), LP dual).
    gap: np.ndarray  # shape=(B,): bound - value >= 0 (up to rounding): certified optimality gaps.
    violation: np.ndarray  # shape=(B,): largest obedience violation of ``scheme``.
    polished: np.ndarray  # shape=(B,), bool: the exact polish found a feasible vertex.
    fallback: np.ndarray  # shape=(B,), bool: solved by ``persuasion.solve`` (gap above ``gap_tol``).
    gradient_value: np.ndarray  # shape=(B,): value of the raw gradient scheme (before polish; may be infeasible).
    gradient_violation: np.ndarray  # shape=(B,): its largest obedience violation.
    seconds: dict[str, float]  # wall-clock seconds of the phases ("gradient", "polish", "fallback").


def polish(batch: GameBatch, scheme: np.ndarray, lam: np.ndarray, *, feas_tol: float = 1e-9,
           gap_tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact polish of approximate schemes; returns ``(scheme, bound, polished)`` (module docstring).

    Candidate active sets are tried in turn (support thresholds ``1e-3, 1e-2, 1e-4`` of ``pi``; active rows by
    ``lambda`` or by a small slack), each only on the games not yet certified to ``gap_tol`` (relative).

    Args:
        batch: the games.
        scheme: approximate schemes ``(B, m, n)`` (e.g. the augmented Lagrangian's).
        lam: approximate obedience prices ``(B, n, n)`` in the games' own units (``y``).
        feas_tol: feasibility tolerance of a polished vertex (relative to the utilities' range).
        gap_tol: relative certified gap at which a game is done.
    """
    prior, u_s, u_r = batch
    B, m, n = u_s.shape
    pairs = _pairs(n)
    x_approx = prior[:, :, None] * scheme
    g = obedience_slack(prior, u_r, scheme)
    span = np.maximum(np.ptp(u_r, axis=(1, 2)), 1e-300)
    sent = x_approx.sum(axis=1) > 1e-6  # (B, n)
    # feasible starting points: relabel every signal by the receiver's best response, or mix with full disclosure
    relabelled = obedient_repair(prior, u_s, u_r, scheme)
    mixed = obedient_repair(prior, u_s, u_r, mix_to_obedience(prior, u_s, u_r, scheme)[0])
    v_relabelled, v_mixed = scheme_value(prior, u_s, relabelled), scheme_value(prior, u_s, mixed)
    best_scheme = np.where((v_mixed > v_relabelled)[:, None, None], mixed, relabelled)
    best_value = np.maximum(v_mixed, v_relabelled)
    polished = np.zeros(B, dtype=bool)
    bound = dual_bound(prior, u_s, u_r, lam)
    lam_pairs = lam[:, pairs[:, 0], pairs[:, 1]]
    g_pairs = g[:, pairs[:, 0], pairs[:, 1]] / span[:, None]
    scale_lam = np.maximum(lam_pairs.max(axis=1, keepdims=True), 1e-12)
    by_lam, by_slack = lam_pairs > 1e-3 * scale_lam, np.abs(g_pairs) < 1e-3
    for supp_tol in (1e-3, 1e-2, 1e-4):
        for rows in (by_lam, by_slack):
            idx = np.flatnonzero(bound - best_value > gap_tol * np.maximum(1.0, np.abs(bound)))
            if not len(idx):
                return best_scheme, bound, polished
            sub = GameBatch(prior[idx], u_s[idx], u_r[idx])
            A, rhs = _system(sub)
            support = ((x_approx[idx] > supp_tol * prior[idx, :, None]) & (prior[idx, :, None] > 0)).reshape(-1, m * n)
            active = np.concatenate([prior[idx] > 0, rows[idx] & sent[idx][:, pairs[:, 0]]], axis=1)
            x = _vertex(A, rhs, support, active).reshape(-1, m, n)
            cand, ok = _feasible_scheme(sub, x, feas_tol)
            cand = obedient_repair(sub.prior, sub.sender_utility, sub.receiver_utility, cand)
            val = scheme_value(sub.prior, sub.sender_utility, cand)
            better = ok & (val > best_value[idx])
            best_scheme[idx[better]] = cand[better]
            best_value[idx[better]] = val[better]
            polished[idx] |= ok
            # dual prices on the vertex's own support and tight rows (square when the vertex is non-degenerate)
            xv = np.clip(x, 0.0, None)
            gv = obedience_slack(sub.prior, sub.receiver_utility, xv / np.maximum(sub.prior, 1e-300)[:, :, None])
            tight = (np.abs(gv[:, pairs[:, 0], pairs[:, 1]]) <= 1e-9 * span[idx, None]) & (
                xv.sum(axis=1) > 1e-12)[:, pairs[:, 0]]
            v_active = np.concatenate([sub.prior > 0, tight], axis=1)
            y = _prices(A, sub.sender_utility.reshape(-1, m * n), (xv > 1e-12).reshape(-1, m * n), v_active, m, n)
            y = _price_unsent(sub, y, xv.sum(axis=1) > 1e-12)
            bound[idx] = np.minimum(bound[idx], dual_bound(sub.prior, sub.sender_utility, sub.receiver_utility, y))
    return best_scheme, bound, polished


def solve_batch(
    batch: GameBatch,
    config: ALConfig = ALConfig(),
    *,
    fallback: bool = True,
    gap_tol: float = 1e-7,
) -> BatchSolution:
    """Solves every game of ``batch``: augmented Lagrangian on the device, exact polish and certificate on the host.

    Args:
        batch: ``B`` games of one shape (:func:`stack_games` or :func:`random_batch`).
        config: the augmented Lagrangian's hyperparameters.
        fallback: solve the games whose certified gap exceeds ``gap_tol * max(1, |bound|)`` with
            :func:`persuasion.solve` (so every returned scheme is optimal within the LP's tolerance).
        gap_tol: relative certified gap accepted without the LP.

    Example:
        >>> out = solve_batch(stack_games([persuasion.example("prosecutor")] * 3))
        >>> np.round(out.value, 6).tolist(), bool(out.gap.max() < 1e-6)
        ([0.6, 0.6, 0.6], True)
    """
    prior, u_s, u_r = (np.asarray(a, float) for a in batch)
    if prior.ndim != 2 or u_s.shape != u_r.shape or u_s.shape[:2] != prior.shape:
        raise persuasion.GameError(f"batch shapes do not match: prior {prior.shape}, u_S {u_s.shape}, u_R {u_r.shape}")
    batch = GameBatch(prior, u_s, u_r)
    times = {}
    t0 = time.perf_counter()
    data = rescale(batch)
    state = jax.block_until_ready(al_run(al_init(data, config), data, config))
    times["gradient"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    raw = np.asarray(jax.nn.softmax(state.logits.astype(jnp.float64) if jax.config.jax_enable_x64
                                    else state.logits, axis=-1), dtype=float)
    raw = raw / raw.sum(axis=-1, keepdims=True)
    ratio = np.asarray(data.s_scale, float) / np.asarray(data.r_scale, float)
    y = np.asarray(state.lam, float) * ratio[:, None, None]
    scheme, bound, polished = polish(batch, raw, y, gap_tol=gap_tol)
    value = scheme_value(prior, u_s, scheme)
    times["polish"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    gap = bound - value
    use_lp = (gap > gap_tol * np.maximum(1.0, np.abs(bound))) if fallback else np.zeros(len(value), dtype=bool)
    for b in np.flatnonzero(use_lp):
        sol = persuasion.solve(game_of(batch, b))
        scheme[b] = sol.scheme
        value[b] = sol.value
        bound[b] = min(bound[b], float(prior[b] @ sol.state_dual))
    times["fallback"] = time.perf_counter() - t0
    return BatchSolution(
        scheme=scheme,
        value=value,
        bound=bound,
        gap=bound - value,
        violation=max_violation(prior, u_r, scheme),
        polished=polished,
        fallback=use_lp,
        gradient_value=scheme_value(prior, u_s, raw),
        gradient_violation=max_violation(prior, u_r, raw),
        seconds=times,
    )

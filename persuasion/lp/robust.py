"""Signalling schemes persuasive for every prior in an L1 confidence set (Zu, Iyer & Xu, EC 2021).

The sender estimates the prior by ``mu_hat`` from ``t`` i.i.d. states; the receiver computes posteriors with the
TRUE prior ``mu0``. Obedience of a scheme ``pi`` (m x n, rows on the simplex) at a prior ``mu`` is linear in ``mu``:

.. math::

    g_{aa'}(\\mu) = \\sum_s \\mu(s)\\, \\pi(a \\mid s)\\, \\big(u_R(s, a) - u_R(s, a')\\big) \\ge 0
    \\quad \\forall a \\ne a'.

With the confidence set ``B = {mu in simplex : ||mu - mu_hat||_1 <= r}``, which contains ``mu0`` with probability
at least ``1 - delta`` when ``r = confidence_radius(t, m, delta)`` (Weissman et al. 2003), the robust LP is

.. math::

    \\max_{\\pi} \\sum_{s,a} \\hat\\mu(s)\\, \\pi(a \\mid s)\\, u_S(s, a)
    \\quad \\text{s.t.} \\quad \\min_{\\mu \\in B} g_{aa'}(\\mu) \\ge 0 \\;\\forall a \\ne a', \\qquad
    \\pi(\\cdot \\mid s) \\in \\Delta_n.

``B`` is a polytope, so the inner minimum is attained at a vertex (:func:`confidence_vertices`, ~m^2 of them for
small ``r``). :class:`RobustSolver` instead imposes it for the whole polytope through LP duality, which keeps the
LP's size fixed (DPP-compiled once per game): writing ``mu = mu_hat - q + p`` with ``0 <= q <= mu_hat``,
``p >= 0``, ``1.q = 1.p <= r/2``, and ``c_s = pi(a|s) (u_R(s,a) - u_R(s,a'))``,

.. math::

    \\min_{\\mu \\in B} c^\\top \\mu \\ge 0 \\iff \\exists\\, \\beta \\ge 0, \\gamma, \\tau \\ge 0: \\;
    \\hat\\mu^\\top (c - \\beta) - \\tfrac{r}{2} \\tau \\ge 0, \\;\\;
    \\beta_s \\ge c_s - \\gamma - \\tau, \\;\\; \\gamma \\le c_s \\;\\forall s.

The robust LP is always feasible (full disclosure is obedient at every prior), and with ``r = 0`` it is the plain
persuasion LP at ``mu_hat``.

References:
    [1] Y. Zu, K. Iyer, H. Xu. Learning to Persuade on the Fly: Robustness Against Ignorance. EC 2021.
        https://arxiv.org/abs/2102.10156
    [2] T. Weissman, E. Ordentlich, G. Seroussi, S. Verdu, M. Weinberger. Inequalities for the L1 deviation of the
        empirical distribution. HP Labs Tech. Rep. HPL-2003-97, 2003.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import cvxpy as cp
import numpy as np

from persuasion.errors import GameError
from persuasion.game import Game
from persuasion.lp.backend import DEFAULT_SOLVERS, solve_problem
from persuasion.lp.single import all_pairs
from persuasion.responses import clean_scheme
from persuasion.results import ResultMixin


def confidence_radius(t: float, m: int, delta: float) -> float:
    """L1 radius ``r`` with ``P(||mu_hat_t - mu0||_1 > r) <= delta`` after ``t`` i.i.d. samples of ``m`` states.

    Weissman et al. (2003): ``P(||mu_hat - mu0||_1 >= eps) <= (2^m - 2) exp(-t eps^2 / 2)``, so

    .. math:: r = \\sqrt{\\tfrac{2}{t} \\ln \\tfrac{\\max(2^m - 2, 1)}{\\delta}} \\sim \\sqrt{m / t}.

    Capped at 2, the L1 diameter of the simplex (``t = 0`` gives 2).

    Example:
        >>> round(confidence_radius(1000, 2, 0.05), 4)
        0.0859
    """
    if not 0 < delta < 1:
        raise GameError(f"delta must be in (0, 1), got {delta}")
    if m < 1:
        raise GameError(f"m must be >= 1, got {m}")
    if t <= 0:
        return 2.0
    log_count = math.log(max(2.0**m - 2.0, 1.0))
    return min(2.0, math.sqrt(2.0 * (log_count + math.log(1.0 / delta)) / t))


def epoch_delta(delta: float, epoch: int) -> float:
    """Failure probability spent on epoch ``epoch`` (0-based): ``6 delta / (pi^2 (epoch + 1)^2)``, summing to delta."""
    return 6.0 * delta / (math.pi**2 * (epoch + 1) ** 2)


def _check_estimate(mu_hat: np.ndarray, radius: float) -> tuple[np.ndarray, float]:
    mu_hat = np.asarray(mu_hat, dtype=float)
    if mu_hat.ndim != 1 or mu_hat.size == 0:
        raise GameError(f"mu_hat must be a non-empty 1-d array, got shape {mu_hat.shape}")
    if not np.all(np.isfinite(mu_hat)) or np.any(mu_hat < -1e-12) or abs(mu_hat.sum() - 1.0) > 1e-9:
        raise GameError(f"mu_hat must be a probability vector, got {mu_hat.tolist()}")
    radius = float(radius)
    if not math.isfinite(radius) or radius < 0:
        raise GameError(f"radius must be finite and >= 0, got {radius}")
    return np.clip(mu_hat, 0.0, None), radius


def worst_case(c: np.ndarray, mu_hat: np.ndarray, radius: float) -> np.ndarray:
    """``min_{mu in B} c . mu`` over ``B = {mu in simplex: ||mu - mu_hat||_1 <= radius}``, for each row of ``c``.

    Greedy and exact: move mass ``r/2`` from the states with the largest ``c_s`` (at most ``mu_hat(s)`` from each)
    to ``argmin_s c_s``.

    Args:
        c: coefficients, shape ``(..., m)``.
        mu_hat: centre, shape ``(m,)``.
        radius: ``r >= 0``.

    Returns:
        The minima, shape ``c.shape[:-1]``.

    Example:
        >>> float(worst_case(np.array([1.0, 0.0]), np.array([0.5, 0.5]), 0.2))
        0.4
    """
    mu_hat, radius = _check_estimate(mu_hat, radius)
    c = np.asarray(c, dtype=float)
    order = np.argsort(-c, axis=-1, kind="stable")
    c_sorted = np.take_along_axis(c, order, axis=-1)
    mass = mu_hat[order]
    before = np.cumsum(mass, axis=-1) - mass
    moved = np.clip(radius / 2.0 - before, 0.0, mass)
    gain = (moved * (c_sorted - c.min(axis=-1, keepdims=True))).sum(axis=-1)
    return c @ mu_hat - gain


def obedience_slack(scheme: np.ndarray, receiver_utility: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """``slack[a, a'] = sum_s mu(s) pi(a|s) (u_R(s,a) - u_R(s,a'))`` at ``prior``, shape ``(n, n)`` (>= 0: obedient)."""
    joint = np.asarray(prior, dtype=float)[:, None] * np.asarray(scheme, dtype=float)
    gram = joint.T @ np.asarray(receiver_utility, dtype=float)
    return np.diag(gram)[:, None] - gram


def robust_obedience_slack(
    scheme: np.ndarray, receiver_utility: np.ndarray, mu_hat: np.ndarray, radius: float
) -> np.ndarray:
    """``min_{mu in B} slack[a, a'](mu)``, shape ``(n, n)``: the scheme is persuasive on all of ``B`` iff >= 0."""
    scheme = np.asarray(scheme, dtype=float)
    u_r = np.asarray(receiver_utility, dtype=float)
    diff = u_r[:, :, None] - u_r[:, None, :]  # diff[s, a, a'] = u_R(s,a) - u_R(s,a')
    c = np.moveaxis(scheme[:, :, None] * diff, 0, -1)  # c[a, a', s]
    return worst_case(c, mu_hat, radius)


def _grow_vertices(
    mu_hat: np.ndarray,
    j: int,
    others: list[int],
    half: float,
    eps: float,
    start: int,
    emptied: list[int],
    mass: float,
    emit: Callable[[np.ndarray], None],
) -> None:
    """Depth-first over emptied sets ``F`` (increasing indices into ``others``); the partial state ``k`` is outside."""
    for k in others:
        if k in emptied:
            continue
        if mass + mu_hat[k] > half + eps:  # k is the partially emptied state
            v = mu_hat.copy()
            v[emptied] = 0.0
            v[k] -= half - mass
            v[j] += half
            emit(v)
    for idx in range(start, len(others)):
        s = others[idx]
        if mass + mu_hat[s] < half - eps:
            _grow_vertices(mu_hat, j, others, half, eps, idx + 1, [*emptied, s], mass + mu_hat[s], emit)


def confidence_vertices(mu_hat: np.ndarray, radius: float, max_vertices: int = 200_000) -> np.ndarray:
    """Every vertex of ``B = {mu in simplex : ||mu - mu_hat||_1 <= radius}``, shape ``(V, m)``.

    A vertex moves mass ``min(r/2, 1 - mu_hat(j))`` onto one state ``j``, taken by emptying a set ``F`` of other
    states and part of one more state ``k`` (``sum_F mu_hat < r/2 < sum_F mu_hat + mu_hat(k)``); when
    ``r/2 >= 1 - mu_hat(j)`` the vertex is ``e_j``. For ``r`` below the smallest prior mass, ``F`` is empty and there
    are ``m (m - 1)`` vertices ``mu_hat + (r/2)(e_j - e_k)``. ``r = 0`` gives ``mu_hat`` alone.

    Raises:
        GameError: if there are more than ``max_vertices`` vertices (large ``r`` with many small masses).

    Example:
        >>> confidence_vertices(np.array([0.5, 0.5]), 0.2).round(2).tolist()
        [[0.6, 0.4], [0.4, 0.6]]
    """
    mu_hat, radius = _check_estimate(mu_hat, radius)
    m = mu_hat.size
    half = radius / 2.0
    eps = 1e-12
    if half <= eps or m == 1:
        return mu_hat[None].copy()
    out: list[np.ndarray] = []

    def emit(v: np.ndarray) -> None:
        out.append(v)
        if len(out) > max_vertices:
            raise GameError(f"the confidence set has more than {max_vertices} vertices (radius {radius:g}, m={m})")

    for j in range(m):
        if 1.0 - mu_hat[j] <= half + eps:
            emit(np.eye(m)[j])
            continue
        others = [s for s in range(m) if s != j and mu_hat[s] > eps]
        _grow_vertices(mu_hat, j, others, half, eps, 0, [], 0.0, emit)
    verts = np.clip(np.array(out), 0.0, None)
    _, keep = np.unique(np.round(verts, 12), axis=0, return_index=True)
    return verts[np.sort(keep)]


@dataclass(frozen=True, eq=False)
class RobustSolution(ResultMixin):
    """A scheme persuasive on the whole confidence set (``kind = "robust"``).

    Attributes:
        scheme: ``pi(a | s)``, shape ``(m, n)``, rows on the simplex (LP noise cleaned, :func:`clean_scheme`).
        value: the sender's utility at the estimate ``mu_hat``.
        status: solver status.
        solver: the backend that solved it.
        solve_time: seconds.
        radius: the L1 radius ``r`` of the confidence set.
    """

    scheme: np.ndarray
    value: float
    status: str
    solver: str
    solve_time: float
    radius: float = 0.0
    kind: ClassVar[str] = "robust"

    def _details(self, game: Game | None) -> dict[str, Any]:
        del game
        return {"radius": self.radius}


def _check_utilities(sender_utility: np.ndarray, receiver_utility: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u_s = np.asarray(sender_utility, dtype=float)
    u_r = np.asarray(receiver_utility, dtype=float)
    if u_s.ndim != 2 or u_r.shape != u_s.shape or u_s.size == 0:
        raise GameError(
            f"sender/receiver utilities must be matching non-empty (m, n) arrays, got {u_s.shape}, {u_r.shape}"
        )
    if not (np.all(np.isfinite(u_s)) and np.all(np.isfinite(u_r))):
        raise GameError("utilities contain NaN or infinite entries")
    return u_s, u_r


class RobustSolver:
    """The robust LP compiled once (cvxpy DPP) for one game's utilities; re-solved for new ``(mu_hat, r)``.

    Parameters are ``mu_hat`` (m,) and ``r / 2``; obedience over the whole set uses the dual certificate in the
    module docstring, with ``n (n - 1) (m + 2)`` auxiliary variables.

    Example (the prosecutor: with ``r = 0`` this is the plain LP, value 0.6):
        >>> rs = RobustSolver([[0, 1], [0, 1]], [[1, 0], [0, 1]])
        >>> round(rs.solve([0.7, 0.3], 0.0).value, 6), round(rs.solve([0.7, 0.3], 0.1).value, 6)
        (0.6, 0.533333)
    """

    def __init__(
        self, sender_utility: np.ndarray, receiver_utility: np.ndarray, solvers: tuple[str, ...] = DEFAULT_SOLVERS
    ) -> None:
        u_s, u_r = _check_utilities(sender_utility, receiver_utility)
        self.sender_utility, self.receiver_utility, self.solvers = u_s, u_r, solvers
        m, n = u_s.shape
        self.m, self.n = m, n
        self.calls = 0
        self.mu_hat = cp.Parameter(m, nonneg=True, name="mu_hat")
        self.half_radius = cp.Parameter(nonneg=True, name="half_radius")
        self.pi = cp.Variable((m, n), nonneg=True, name="pi")
        cons = [cp.sum(self.pi, axis=1) == 1]
        pairs = all_pairs(n)
        if len(pairs):
            npairs = len(pairs)
            select = np.zeros((n, npairs))
            select[pairs[:, 0], np.arange(npairs)] = 1.0
            diff = u_r[:, pairs[:, 0]] - u_r[:, pairs[:, 1]]  # (m, P)
            c = cp.multiply(self.pi @ select, diff)  # c[s, p] = pi(a_p|s) d_p(s)
            beta = cp.Variable((m, npairs), nonneg=True, name="beta")
            gamma = cp.Variable((1, npairs), name="gamma")
            tau = cp.Variable((1, npairs), nonneg=True, name="tau")
            ones = np.ones((m, 1))
            cons += [
                c - ones @ gamma >= 0,
                beta - c + ones @ gamma + ones @ tau >= 0,
                self.mu_hat @ (c - beta) - self.half_radius * cp.reshape(tau, (npairs,), order="F") >= 0,
            ]
        objective = cp.Maximize(self.mu_hat @ cp.sum(cp.multiply(self.pi, u_s), axis=1))
        self.problem = cp.Problem(objective, cons)

    def solve(self, mu_hat: np.ndarray, radius: float) -> RobustSolution:
        """The robust scheme for the set ``{mu : ||mu - mu_hat||_1 <= radius}``."""
        mu_hat, radius = _check_estimate(mu_hat, radius)
        if mu_hat.size != self.m:
            raise GameError(f"mu_hat has {mu_hat.size} entries, the solver was compiled for m={self.m}")
        t0 = time.perf_counter()
        self.mu_hat.value = mu_hat
        self.half_radius.value = radius / 2.0
        solver = solve_problem(self.problem, self.solvers, what="robust LP")
        self.calls += 1
        scheme = clean_scheme(self.pi.value)
        value = float(mu_hat @ (scheme * self.sender_utility).sum(axis=1))
        return RobustSolution(scheme, value, self.problem.status, solver, time.perf_counter() - t0, radius)

    __call__ = solve


def solve_robust_vertices(
    sender_utility: np.ndarray,
    receiver_utility: np.ndarray,
    mu_hat: np.ndarray,
    radius: float,
    solvers: tuple[str, ...] = DEFAULT_SOLVERS,
) -> RobustSolution:
    """The robust LP with obedience imposed at each vertex of the set (:func:`confidence_vertices`).

    Same optimum as :class:`RobustSolver`; ``V n (n - 1)`` rows, so use it for checks and small ``m``.
    """
    u_s, u_r = _check_utilities(sender_utility, receiver_utility)
    mu_hat, radius = _check_estimate(mu_hat, radius)
    m, n = u_s.shape
    if mu_hat.size != m:
        raise GameError(f"mu_hat has {mu_hat.size} entries, expected {m}")
    t0 = time.perf_counter()
    verts = confidence_vertices(mu_hat, radius)
    pi = cp.Variable((m, n), nonneg=True)
    cons = [cp.sum(pi, axis=1) == 1]
    pairs = all_pairs(n)
    if len(pairs):
        diff = u_r[:, pairs[:, 0]] - u_r[:, pairs[:, 1]]  # (m, P)
        coef = verts[:, :, None] * diff[None]  # (V, m, P)
        rows = coef.transpose(0, 2, 1).reshape(-1, m)  # (V P, m): coefficient of pi[s, a_p]
        col_a = np.tile(pairs[:, 0], len(verts))  # action a_p of each row
        mat = np.zeros((rows.shape[0], m * n))
        for s in range(m):
            mat[np.arange(rows.shape[0]), s * n + col_a] = rows[:, s]
        cons.append(mat @ cp.vec(pi, order="C") >= 0)
    problem = cp.Problem(cp.Maximize(mu_hat @ cp.sum(cp.multiply(pi, u_s), axis=1)), cons)
    solver = solve_problem(problem, solvers, what="robust LP")
    scheme = clean_scheme(pi.value)
    value = float(mu_hat @ (scheme * u_s).sum(axis=1))
    return RobustSolution(scheme, value, problem.status, solver, time.perf_counter() - t0, radius)


def solve_robust(game: Game, radius: float, *, method: str = "dual") -> RobustSolution:
    """The scheme persuasive for every prior within L1 distance ``radius`` of ``game.prior`` (the estimate).

    Args:
        game: a single-receiver game whose ``prior`` is the sender's estimate ``mu_hat``.
        radius: L1 radius ``r >= 0`` (``r = 0``: the plain persuasion LP).
        method: ``"dual"`` (:class:`RobustSolver`, fixed size) or ``"vertices"`` (:func:`solve_robust_vertices`).

    Example:
        >>> g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
        >>> round(solve_robust(g, 0.1, method="vertices").value, 6)
        0.533333
    """
    if game.has_types:
        raise GameError(f"solve_robust needs a single receiver type, the game has {game.K}")
    if method == "dual":
        return RobustSolver(game.sender_utility, game.receiver_utility).solve(game.prior, radius)
    if method == "vertices":
        return solve_robust_vertices(game.sender_utility, game.receiver_utility, game.prior, radius)
    raise GameError(f"unknown method {method!r}; use 'dual' or 'vertices'")

"""The concavification picture of Bayesian persuasion for two states, computed exactly.

With two states write ``q = P(state 1)``. The receiver's expected utility of action ``a`` at ``q`` is linear,
``U_a(q) = (1 - q) u_R(0, a) + q u_R(1, a)``, and the sender's indirect value is

.. math::

    V(q) = S_{a^*(q)}(q), \\qquad S_a(q) = (1 - q) u_S(0, a) + q u_S(1, a),

where ``a*(q)`` is the receiver's best response with ties broken in the sender's favour (so ``V`` is upper
semicontinuous). The optimal sender value at the prior ``q0`` is the concave closure
``cav V(q0) = max {w1 V(q1) + w2 V(q2) : w1 q1 + w2 q2 = q0, w1 + w2 = 1, w >= 0}`` (Kamenica & Gentzkow 2011,
Corollary 2).

Exactness: the set of best responses is constant on each open interval between consecutive indifference points
``q`` with ``U_a(q) = U_b(q)``, so ``V`` is a maximum of linear functions (convex) there, and at an indifference
point it is at least both one-sided limits. Hence ``cav V`` is the upper concave hull of the finitely many points
``(q, V(q))`` for ``q`` in the indifference points plus ``{0, 1}``; it is built with a monotone-chain upper hull,
never on a grid. The grid in :class:`Concavification` is only for display.

Reference: Kamenica, E. & Gentzkow, M. (2011). Bayesian Persuasion. AER 101(6), 2590-2615.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from persuasion.errors import GameError
from persuasion.game import Game
from persuasion.responses import TIE_TOL, best_responses

#: Hull vertices whose cross product is within this (times the utility scale) of 0 are dropped as collinear.
COLLINEAR_TOL = 1e-12


@dataclass(frozen=True, eq=False)
class Concavification:
    """The indirect value ``V``, its concave closure ``cav V`` and the optimal split for a two-state game.

    Attributes:
        q: display grid of beliefs ``q = P(state 1)``, sorted, in ``[0, 1]``; it contains every breakpoint.
        value: ``V(q)`` on the grid (sender-preferred ties), shape like ``q``.
        action: ``a*(q)`` on the grid, shape like ``q``.
        closure: ``cav V(q)`` on the grid, shape like ``q``.
        breakpoints: ``0``, ``1`` and the receiver's indifference points in between, sorted.
        hull_q: beliefs at the vertices of the upper concave hull, sorted, from 0 to 1.
        hull_value: ``V`` at those vertices.
        prior: ``q0 = mu0[1]``.
        value_at_prior: ``cav V(q0)``, the optimal sender value.
        no_information_value: ``V(q0)``, the value without information.
        split_q: the optimal posteriors ``(q1, q2)`` with ``q1 <= q0 <= q2``; ``(q0, q0)`` when no split
            beats ``V(q0)`` (by more than ``COLLINEAR_TOL`` times the utility scale).
        split_weights: their probabilities ``(w1, w2)``, with ``w1 q1 + w2 q2 = q0``; ``(1, 0)`` without a split.
        split_actions: the receiver's responses ``(a*(q1), a*(q2))``.
    """

    q: np.ndarray
    value: np.ndarray
    action: np.ndarray
    closure: np.ndarray
    breakpoints: np.ndarray
    hull_q: np.ndarray
    hull_value: np.ndarray
    prior: float
    value_at_prior: float
    no_information_value: float
    split_q: np.ndarray
    split_weights: np.ndarray
    split_actions: tuple[int, int]

    def closure_at(self, q: float | np.ndarray) -> np.ndarray:
        """``cav V`` at arbitrary beliefs ``q`` in ``[0, 1]`` (piecewise linear between hull vertices)."""
        return np.interp(q, self.hull_q, self.hull_value)


def _check_two_states(game: Game) -> None:
    if game.has_types:
        raise GameError(f"concavify needs a single receiver type, the game has {game.K}; use game.for_type(k)")
    if game.m != 2:
        raise GameError(f"concavify needs exactly 2 states, the game has {game.m}")


def _beliefs(q: np.ndarray) -> np.ndarray:
    return np.stack([1.0 - q, q], axis=-1)


def indirect_value(game: Game, q: float | np.ndarray, *, tol: float = TIE_TOL) -> tuple[np.ndarray, np.ndarray]:
    """``V(q)`` and ``a*(q)`` at beliefs ``q = P(state 1)`` for a two-state, single-receiver game.

    Example:
        >>> g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
        >>> v, a = indirect_value(g, np.array([0.3, 0.5]))
        >>> v.tolist(), a.tolist()
        ([0.0, 1.0], [0, 1])
    """
    _check_two_states(game)
    q = np.asarray(q, dtype=float)
    if np.any(~np.isfinite(q)) or np.any(q < 0) or np.any(q > 1):
        raise GameError("beliefs q = P(state 1) must lie in [0, 1]")
    beliefs = _beliefs(q)
    actions = best_responses(game.receiver_utility, beliefs, game.sender_utility, tol=tol)
    sender = beliefs @ game.sender_utility
    value = np.take_along_axis(sender, actions[..., None], axis=-1)[..., 0]
    return value, actions


def breakpoints(game: Game) -> np.ndarray:
    """``0``, ``1`` and every ``q`` in ``(0, 1)`` where two receiver actions are indifferent, sorted and unique.

    For actions ``a, b`` with ``d_s = u_R(s, a) - u_R(s, b)``, ``U_a(q) = U_b(q)`` at ``q = d_0 / (d_0 - d_1)``.
    """
    _check_two_states(game)
    u_r = game.receiver_utility
    d0 = u_r[0][:, None] - u_r[0][None, :]
    d1 = u_r[1][:, None] - u_r[1][None, :]
    denom = d0 - d1
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = np.where(denom != 0, d0 / np.where(denom != 0, denom, 1.0), np.nan)
    inner = cross[np.isfinite(cross) & (cross > 0) & (cross < 1)]
    return np.unique(np.concatenate([[0.0, 1.0], inner]))


def upper_hull(x: np.ndarray, y: np.ndarray, tol: float = 0.0) -> np.ndarray:
    """Indices of the upper concave hull of points ``(x, y)`` with ``x`` sorted strictly increasing.

    Andrew's monotone chain, upper half: a point is popped while the last turn is not strictly clockwise
    (cross product ``>= -tol``), so collinear points are dropped. The first and last points are always kept.

    Example:
        >>> upper_hull(np.array([0.0, 0.5, 1.0]), np.array([0.0, 1.0, 0.0])).tolist()
        [0, 1, 2]
        >>> upper_hull(np.array([0.0, 0.5, 1.0]), np.array([1.0, 0.0, 1.0])).tolist()
        [0, 2]
    """
    hull: list[int] = []
    for i in range(len(x)):
        while len(hull) >= 2:
            o, a = hull[-2], hull[-1]
            cross = (x[a] - x[o]) * (y[i] - y[o]) - (y[a] - y[o]) * (x[i] - x[o])
            if cross >= -tol:
                hull.pop()
            else:
                break
        hull.append(i)
    return np.array(hull, dtype=np.int64)


def concavify(game: Game, grid: int = 501, *, tol: float = TIE_TOL) -> Concavification:
    """The exact concavification of a two-state, single-receiver game.

    Args:
        game: a game with ``m = 2`` states and one receiver type.
        grid: number of evenly spaced display beliefs in ``[0, 1]`` (the breakpoints and the prior are added).
        tol: relative tie tolerance of the receiver's best response (see :func:`persuasion.reference.best_responses`).

    Returns:
        The :class:`Concavification`; ``value_at_prior`` equals ``solve(game).value``.

    Example (prosecutor: split 0.3 into P(guilty) 0 w.p. 0.4 and 0.5 w.p. 0.6):
        >>> c = concavify(Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]]))
        >>> round(c.value_at_prior, 6), c.split_q.round(6).tolist(), c.split_weights.round(6).tolist()
        (0.6, [0.0, 0.5], [0.4, 0.6])
    """
    _check_two_states(game)
    if int(grid) < 2:
        raise GameError(f"grid must have at least 2 points, got {grid}")
    q0 = float(game.prior[1])
    bps = breakpoints(game)
    v_bps, _ = indirect_value(game, bps, tol=tol)
    scale = max(1.0, float(np.abs(game.sender_utility).max(initial=0.0)))
    idx = upper_hull(bps, v_bps, tol=COLLINEAR_TOL * scale)
    hull_q, hull_v = bps[idx], v_bps[idx]

    # The hull segment [q1, q2] containing q0; no split when q0 is a vertex or splitting gains nothing.
    v0 = float(indirect_value(game, q0, tol=tol)[0])
    j = int(np.searchsorted(hull_q, q0, side="left"))
    q1, q2, weights = q0, q0, np.array([1.0, 0.0])
    if not (j < len(hull_q) and hull_q[j] == q0):
        lo, hi = float(hull_q[j - 1]), float(hull_q[j])
        w2 = (q0 - lo) / (hi - lo)
        if (1.0 - w2) * hull_v[j - 1] + w2 * hull_v[j] > v0 + COLLINEAR_TOL * scale:
            q1, q2, weights = lo, hi, np.array([1.0 - w2, w2])
    split_q = np.array([q1, q2])
    split_v, split_a = indirect_value(game, split_q, tol=tol)
    value_at_prior = float(weights @ split_v)

    q = np.unique(np.concatenate([np.linspace(0.0, 1.0, int(grid)), bps, [q0]]))
    value, action = indirect_value(game, q, tol=tol)
    arrays = dict(q=q, value=value, action=action, closure=np.interp(q, hull_q, hull_v), breakpoints=bps,
                  hull_q=hull_q, hull_value=hull_v, split_q=split_q, split_weights=weights)
    for arr in arrays.values():
        arr.setflags(write=False)
    return Concavification(
        **arrays,
        prior=q0,
        value_at_prior=value_at_prior,
        no_information_value=v0,
        split_actions=(int(split_a[0]), int(split_a[1])),
    )

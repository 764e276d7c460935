"""Reference schemes (full and no disclosure) and the receiver's sender-preferred best response.

At a belief ``mu`` over states the receiver's expected utility of action ``a`` is ``sum_s mu[s] u_R[s, a]``; among
the maximisers (within a tie tolerance) the receiver takes the one the sender prefers,
``argmax_a sum_s mu[s] u_S[s, a]``. This is the tie-breaking of the weak obedience constraints of
:func:`persuasion.solve`, so the value of any scheme here is a lower bound on ``solve(game).value``:

.. math::

    V_{\\text{full}} = \\sum_s \\mu_0(s)\\, u_S(s, a^*(e_s)), \\qquad
    V_{\\text{none}} = \\sum_s \\mu_0(s)\\, u_S(s, a^*(\\mu_0)).

Reference: Kamenica, E. & Gentzkow, M. (2011). Bayesian Persuasion. AER 101(6), 2590-2615.
"""

from __future__ import annotations

import numpy as np

from persuasion.errors import GameError
from persuasion.game import Game
from persuasion.solve import Solution, evaluate

#: Actions within ``TIE_TOL * max(1, max |u_R|)`` of the receiver's best expected utility count as tied.
TIE_TOL = 1e-9


def tie_tolerance(u_r: np.ndarray, tol: float = TIE_TOL) -> float:
    """The absolute tie tolerance ``tol * max(1, max |u_R|)`` for receiver utilities ``u_r``."""
    return tol * max(1.0, float(np.abs(u_r).max(initial=0.0)))


def best_responses(
    u_r: np.ndarray, beliefs: np.ndarray, u_s: np.ndarray | None = None, *, tol: float = TIE_TOL
) -> np.ndarray:
    """The receiver's best response to each belief, ties broken in the sender's favour.

    Args:
        u_r: receiver utility ``u_R[s, a]``, shape ``(m, n)``.
        beliefs: beliefs over states, shape ``(..., m)`` (rows need not be normalised; only ratios matter).
        u_s: sender utility ``u_S[s, a]``, shape ``(m, n)``; without it ties go to the lowest action index.
        tol: relative tie tolerance: ``a`` is a best response when its expected utility is within
            ``tol * max(1, max |u_R|)`` of the best.

    Returns:
        Integer actions, shape ``beliefs.shape[:-1]``.

    Example:
        >>> u_r = np.array([[1.0, 0.0], [0.0, 1.0]]); u_s = np.array([[0.0, 1.0], [0.0, 1.0]])
        >>> best_responses(u_r, np.array([[0.5, 0.5], [0.7, 0.3]]), u_s).tolist()
        [1, 0]
    """
    u_r = np.asarray(u_r, dtype=float)
    beliefs = np.asarray(beliefs, dtype=float)
    if u_r.ndim != 2 or beliefs.shape[-1:] != (u_r.shape[0],):
        raise GameError(f"beliefs of shape {beliefs.shape} do not match u_R of shape {u_r.shape}")
    rec = beliefs @ u_r  # (..., n)
    tied = rec >= rec.max(axis=-1, keepdims=True) - tie_tolerance(u_r, tol)
    if u_s is None:
        return np.argmax(tied, axis=-1)
    u_s = np.asarray(u_s, dtype=float)
    if u_s.shape != u_r.shape:
        raise GameError(f"u_S has shape {u_s.shape}, expected {u_r.shape} like u_R")
    send = np.where(tied, beliefs @ u_s, -np.inf)
    return np.argmax(send, axis=-1)


def best_response(
    u_r: np.ndarray, belief: np.ndarray, u_s: np.ndarray | None = None, *, tol: float = TIE_TOL
) -> int:
    """The receiver's best response ``a*(mu)`` to one belief ``mu`` (shape ``(m,)``), sender-favourable ties.

    See :func:`best_responses` for the arguments.

    Example (the judge convicts at P(guilty) = 0.5 when the prosecutor prefers it):
        >>> best_response(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.5, 0.5]), np.array([[0, 1], [0, 1]]))
        1
    """
    belief = np.asarray(belief, dtype=float)
    if belief.ndim != 1:
        raise GameError(f"belief must be 1-d, got shape {belief.shape}")
    return int(best_responses(u_r, belief, u_s, tol=tol))


def _single_receiver(game: Game, what: str) -> None:
    if game.has_types:
        raise GameError(f"{what} needs a single receiver type, the game has {game.K}; use game.for_type(k)")


def full_disclosure(game: Game, *, tol: float = TIE_TOL) -> Solution:
    """The fully informative scheme: state ``s`` recommends ``a*(e_s)``, the best response to knowing ``s``.

    Example:
        >>> g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
        >>> round(full_disclosure(g).value, 6)
        0.3
    """
    _single_receiver(game, "full_disclosure")
    actions = best_responses(game.receiver_utility, np.eye(game.m), game.sender_utility, tol=tol)
    scheme = np.zeros((game.m, game.n))
    scheme[np.arange(game.m), actions] = 1.0
    return evaluate(game, scheme, status="full_disclosure", solver="reference")


def no_disclosure(game: Game, *, tol: float = TIE_TOL) -> Solution:
    """The uninformative scheme: every state recommends ``a*(mu0)``, the best response to the prior.

    Example:
        >>> g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
        >>> no_disclosure(g).value
        0.0
    """
    _single_receiver(game, "no_disclosure")
    action = best_response(game.receiver_utility, game.prior, game.sender_utility, tol=tol)
    scheme = np.zeros((game.m, game.n))
    scheme[:, action] = 1.0
    return evaluate(game, scheme, status="no_disclosure", solver="reference")

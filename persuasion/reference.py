"""Reference schemes (full and no disclosure) as :class:`~persuasion.Solution` objects of a single-receiver game.

The schemes and the receiver's sender-preferred best response (with the package's one tie tolerance
``TIE_TOL``) live in :mod:`persuasion.responses`, re-exported here. Sender-preferred ties are the tie-breaking of
the weak obedience constraints of :func:`persuasion.solve`, so these values are lower bounds on
``solve(game).value``:

.. math::

    V_{\\text{full}} = \\sum_s \\mu_0(s)\\, u_S(s, a^*(e_s)), \\qquad
    V_{\\text{none}} = \\sum_s \\mu_0(s)\\, u_S(s, a^*(\\mu_0)).

Reference: Kamenica, E. & Gentzkow, M. (2011). Bayesian Persuasion. AER 101(6), 2590-2615.
"""

from __future__ import annotations

from persuasion.errors import GameError
from persuasion.game import Game
from persuasion.lp.single import Solution, evaluate
from persuasion.responses import (
    TIE_TOL,
    best_response,
    best_responses,
    full_disclosure_scheme,
    no_disclosure_scheme,
    tie_tolerance,
)

__all__ = ["TIE_TOL", "best_response", "best_responses", "full_disclosure", "no_disclosure", "tie_tolerance"]


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
    return evaluate(game, full_disclosure_scheme(game, tol=tol), status="full_disclosure", solver="reference")


def no_disclosure(game: Game, *, tol: float = TIE_TOL) -> Solution:
    """The uninformative scheme: every state recommends ``a*(mu0)``, the best response to the prior.

    Example:
        >>> g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
        >>> no_disclosure(g).value
        0.0
    """
    _single_receiver(game, "no_disclosure")
    return evaluate(game, no_disclosure_scheme(game, tol=tol), status="no_disclosure", solver="reference")

"""Schemes in the environments' signal space (``S = n^K`` recommendation profiles; ``S = n`` if K = 1).

* :func:`full_disclosure`, :func:`no_disclosure`: the reference schemes of :mod:`persuasion.responses`
  (``full_disclosure_scheme``, ``no_disclosure_scheme``), re-exported under their online names;
* :func:`public_lp`: the optimal public scheme for ``K`` receiver types with known ``lam``
  (:class:`persuasion.lp.typed.PublicLP`), the LP over profiles

.. math::

    \\max_{x \\ge 0} \\sum_k \\lambda_k \\sum_{s,\\sigma} x_{s\\sigma} u_S(s, \\sigma_k) \\;\\; \\text{s.t.} \\;\\;
    \\sum_\\sigma x_{s\\sigma} = \\mu_0(s), \\;\\;
    \\sum_s x_{s\\sigma} \\big(u_R^k(s, \\sigma_k) - u_R^k(s, b)\\big) \\ge 0 \\;\\; \\forall k, \\sigma, b,

  whose feasible set does not depend on ``lam`` (so a family of its vertices serves every ``lam``);
* :func:`scheme_family`: the finite family that the bandit learners choose from.
"""

from __future__ import annotations

import numpy as np

from persuasion.game import Game
from persuasion.lp.single import solve
from persuasion.lp.typed import PublicLP, SchemeValue
from persuasion.responses import full_disclosure_scheme as full_disclosure
from persuasion.responses import no_disclosure_scheme as no_disclosure
from persuasion.simplex import simplex_grid

__all__ = [
    "PublicLP",
    "full_disclosure",
    "no_disclosure",
    "optimal_scheme",
    "public_lp",
    "scheme_family",
    "simplex_grid",
]


def public_lp(game: Game) -> SchemeValue:
    """The optimal public scheme (m x n^K) for the game's true type prior, and its value (a 2-tuple)."""
    return PublicLP(game).solve(game.typed_type_prior())


def optimal_scheme(game: Game) -> np.ndarray:
    """The optimal scheme for the true parameters, shape ``(m, n^K)`` (the plain LP when ``K = 1``)."""
    if not game.has_types:
        return np.asarray(solve(game).scheme, dtype=float)
    return public_lp(game).scheme


def scheme_family(game: Game, steps: int = 10) -> np.ndarray:
    """A finite family of schemes for an unknown type prior, shape ``(F, m, n^K)``, duplicates removed.

    The optimal public schemes for every ``lam`` on :func:`simplex_grid` (``steps``), then full and no
    disclosure. Uses ``mu0``, ``u_S`` and each type's ``u_R``, never the true ``lam``.
    """
    lp = PublicLP(game)
    members = [lp.solve(lam).scheme for lam in simplex_grid(game.K, steps)]
    members += [full_disclosure(game), no_disclosure(game)]
    out: list[np.ndarray] = []
    for pi in members:
        if not any(np.allclose(pi, q, atol=1e-7) for q in out):
            out.append(pi)
    return np.stack(out)

"""Baselines that never learn: the oracle, full disclosure and no disclosure.

* :func:`oracle`: knows ``mu0`` (and ``lam``) and plays the optimal scheme (:func:`schemes.optimal_scheme`);
  regret 0 by definition, the reference the others are measured against.
* :func:`full_disclosure_baseline`: reveals the state; needs only ``u_S, u_R``; obedient at every prior, regret
  ``(OPT - V_full) T`` (linear unless revealing is optimal).
* :func:`no_disclosure_baseline`: reveals nothing (the receiver acts on ``mu0``); regret ``(OPT - V_none) T``.
"""

from __future__ import annotations

import numpy as np

from persuasion.online.interface import Algorithm
from persuasion.game import Game
from persuasion.online.common import act_with_scheme, scheme_state, update_counts
from persuasion.online.schemes import full_disclosure, no_disclosure, optimal_scheme
from persuasion.responses import clean_scheme


def fixed_scheme(scheme: np.ndarray, name: str = "fixed") -> Algorithm:
    """Plays ``scheme`` (m x S) in every round.

    Example:
        >>> import jax
        >>> fixed_scheme([[1.0, 0.0], [0.5, 0.5]]).init(jax.random.key(0)).scheme.tolist()
        [[1.0, 0.0], [0.5, 0.5]]
    """
    state = scheme_state(scheme)

    def init(key):
        del key
        return state

    return Algorithm(init, act_with_scheme, update_counts, None, name)


def oracle(game: Game) -> Algorithm:
    """The optimal scheme for the true parameters (``mu0``, ``lam``)."""
    return fixed_scheme(clean_scheme(optimal_scheme(game)), "oracle")


def full_disclosure_baseline(game: Game) -> Algorithm:
    """Full disclosure (uses only the utilities)."""
    return fixed_scheme(full_disclosure(game), "full_disclosure")


def no_disclosure_baseline(game: Game) -> Algorithm:
    """No disclosure: the profile of best responses to ``mu0`` in every state."""
    return fixed_scheme(no_disclosure(game), "no_disclosure")

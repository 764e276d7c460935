"""Naive plug-in baseline: the plain persuasion LP on the empirical prior (NOT robust).

Setting: as :mod:`persuasion.online.robust_learner` (unknown prior ``mu0``, the sender observes the states).
At each epoch boundary it solves the revelation-principle LP for ``mu_hat = counts / t`` with
:class:`persuasion.ReusableSolver`. The LP makes obedience bind at ``mu_hat``; at the true ``mu0`` a binding
constraint is violated whenever ``mu_hat`` errs on the wrong side, which happens in a constant fraction of epochs,
so the receiver disobeys in a constant fraction of rounds (no persuasiveness guarantee). Its value gap
``OPT(mu0) - V(pi_hat)`` is then of constant order whenever a violated signal flips the receiver's action, so its
regret can be linear. It is the ablation that motivates the robust LP (Zu et al. 2021, Sec. 1).
"""

from __future__ import annotations

import numpy as np

from persuasion.game import Game
from persuasion.lp.single import ReusableSolver
from persuasion.online.common import EpochPlanner, SchemeState, act_with_scheme, known_game, scheme_state, update_counts
from persuasion.online.interface import Algorithm
from persuasion.responses import clean_scheme, full_disclosure_scheme

PluginState = SchemeState


def plugin_learner(sender_utility: np.ndarray, receiver_utility: np.ndarray) -> Algorithm:
    """The non-robust plug-in learner (full disclosure until the first plan, then the LP at ``mu_hat``).

    Example:
        >>> import jax
        >>> alg = plugin_learner([[0, 1], [0, 1]], [[1, 0], [0, 1]])
        >>> alg.name, alg.init(jax.random.key(0)).epoch.tolist()
        ('plugin', 0)
    """
    known = known_game(sender_utility, receiver_utility)
    start = scheme_state(full_disclosure_scheme(known))
    solver = ReusableSolver(known.m, known.n, receiver_utility=known.receiver_utility)  # u_R fixed: a smaller LP

    def init(key):
        del key
        return start

    def scheme_for(mu_hat: np.ndarray, t: float, epoch: int) -> np.ndarray:
        del t, epoch
        game = Game(mu_hat, known.sender_utility, known.receiver_utility, normalize=True)
        return clean_scheme(solver.solve(game).scheme)

    return Algorithm(init, act_with_scheme, update_counts, EpochPlanner(scheme_for, solver), "plugin")

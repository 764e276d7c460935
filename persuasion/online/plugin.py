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

import jax.numpy as jnp
import numpy as np

from persuasion.base import Algorithm
from persuasion.game import Game
from persuasion.online.common import SchemeState, act_with_scheme, estimates, scheme_state, update_counts
from persuasion.online.robust_learner import _knowledge
from persuasion.online.schemes import full_disclosure
from persuasion.robust import clean_scheme
from persuasion.solve import ReusableSolver

PluginState = SchemeState


def plugin_learner(sender_utility: np.ndarray, receiver_utility: np.ndarray) -> Algorithm:
    """The non-robust plug-in learner (full disclosure until the first plan, then the LP at ``mu_hat``).

    Example:
        >>> import jax
        >>> alg = plugin_learner([[0, 1], [0, 1]], [[1, 0], [0, 1]])
        >>> alg.name, alg.init(jax.random.key(0)).epoch.tolist()
        ('plugin', 0)
    """
    known = _knowledge(sender_utility, receiver_utility)
    start = full_disclosure(known)
    solver = ReusableSolver(known.m, known.n, receiver_utility=known.receiver_utility)  # u_R fixed: a smaller LP

    def init(key):
        del key
        return scheme_state(start)

    def plan(states: PluginState, t: int) -> PluginState:
        del t
        mu_hat, _ = estimates(states)
        schemes = np.empty(np.shape(states.scheme))
        for i in np.ndindex(*mu_hat.shape[:-1]):
            game = Game(mu_hat[i], known.sender_utility, known.receiver_utility, normalize=True)
            schemes[i] = clean_scheme(solver.solve(game).scheme)
        return states._replace(scheme=jnp.asarray(schemes, jnp.float32), epoch=states.epoch + 1)

    return Algorithm(init, act_with_scheme, update_counts, plan, "plugin")

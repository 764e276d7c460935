"""Robust learning of an unknown prior (Zu, Iyer & Xu, "Learning to Persuade on the Fly", EC 2021).

Setting: states ``s_t ~ mu0`` i.i.d., ``mu0`` unknown to the sender (who knows ``u_S`` and ``u_R``) and known to
the receiver, who best-responds to the posterior computed with ``mu0``. The sender observes each ``s_t``.

Algorithm (epoch/doubling form): play full disclosure (obedient at every prior) until the first epoch boundary;
at each boundary ``t_j`` re-solve the robust LP (:class:`persuasion.robust.RobustSolver`) around the empirical
prior ``mu_hat = counts / t`` with the L1 radius

.. math:: r_j = c \\sqrt{\\tfrac{2}{t_j} \\ln \\tfrac{\\max(2^m - 2, 1)}{\\delta_j}}, \\qquad
          \\delta_j = \\tfrac{6 \\delta}{\\pi^2 (j + 1)^2},

so that ``mu0`` lies in every epoch's set with probability at least ``1 - delta`` (union bound), and the
committed schemes are then persuasive in every round. With doubling epochs a run costs ``O(log T)`` LP solves.

Bound: expected regret ``O(sqrt(T log T))`` against the optimal scheme for ``mu0`` (the per-epoch loss is
``O(r_j)``, summed over doubling epochs), with persuasiveness in all rounds with probability ``>= 1 - delta``
(Zu et al. 2021; their constants depend on ``m`` and on how far ``mu0`` is from the boundary of the simplex).
The seed paper (Bai et al. 2024, arXiv:2405.18718) states ``O(m^{3/2} sqrt(T log T))`` for the same setting.

References:
    [1] Y. Zu, K. Iyer, H. Xu. Learning to Persuade on the Fly: Robustness Against Ignorance. EC 2021.
        https://arxiv.org/abs/2102.10156
    [2] F. Bai et al. Efficient Model-agnostic Alignment via Bayesian Persuasion. 2024. arXiv:2405.18718
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import numpy as np

from persuasion.errors import GameError
from persuasion.game import Game
from persuasion.lp.robust import RobustSolver, confidence_radius, epoch_delta
from persuasion.lp.single import evaluate, solve
from persuasion.online.common import EpochPlanner, SchemeState, act_with_scheme, known_game, scheme_state, update_counts
from persuasion.online.interface import Algorithm
from persuasion.online.simulate import simulate
from persuasion.responses import full_disclosure_scheme
from persuasion.results import ResultMixin

RobustLearnerState = SchemeState


def robust_learner(
    sender_utility: np.ndarray,
    receiver_utility: np.ndarray,
    *,
    delta: float = 0.05,
    radius_scale: float = 1.0,
) -> Algorithm:
    """The robust epoch learner for an unknown prior.

    Args:
        sender_utility: ``u_S``, shape ``(m, n)``.
        receiver_utility: ``u_R``, shape ``(m, n)`` (the prior is NOT an argument: the sender does not know it).
        delta: target probability that some round's scheme is not persuasive at ``mu0``.
        radius_scale: ``c`` above; 1 is the radius the guarantee needs, smaller trades safety for regret.

    Returns:
        An :class:`~persuasion.online.interface.Algorithm` whose ``plan`` (an :class:`EpochPlanner`) re-solves the
        robust LP for each seed; ``plan.solver`` is the :class:`RobustSolver` (``plan.solver.calls`` counts solves).

    Example:
        >>> import jax
        >>> alg = robust_learner([[0, 1], [0, 1]], [[1, 0], [0, 1]])
        >>> alg.init(jax.random.key(0)).scheme.tolist()  # full disclosure until the first plan
        [[1.0, 0.0], [0.0, 1.0]]
    """
    if not 0 < delta < 1:
        raise GameError(f"delta must be in (0, 1), got {delta}")
    if not radius_scale >= 0:
        raise GameError(f"radius_scale must be >= 0, got {radius_scale}")
    known = known_game(sender_utility, receiver_utility)
    start = scheme_state(full_disclosure_scheme(known))
    solver = RobustSolver(known.sender_utility, known.receiver_utility)

    def init(key):
        del key
        return start

    def scheme_for(mu_hat: np.ndarray, t: float, epoch: int) -> np.ndarray:
        r = radius_scale * confidence_radius(t, known.m, epoch_delta(delta, epoch))
        return solver.solve(mu_hat, r).scheme

    return Algorithm(init, act_with_scheme, update_counts, EpochPlanner(scheme_for, solver), "robust")


@dataclass(frozen=True, eq=False)
class LearnedScheme(ResultMixin):
    """The robust learner's final scheme against a game taken as the hidden truth (``kind = "learned"``).

    Attributes:
        scheme: seed 0's final scheme, shape ``(m, n)``.
        value: its sender value at the true prior.
        value_mean: the final schemes' value, mean over seeds.
        lp_value: the LP optimum at the true prior.
        final_regret: mean cumulative regret at ``horizon``.
        unpersuasive_rate: fraction of rounds whose committed scheme was not persuasive at the truth.
        disobeyed_rate: fraction of rounds in which the receiver did not follow.
        horizon: rounds.
        seeds: independent runs.
        lp_solves: robust LP solves in all.
        solve_time: seconds.
    """

    scheme: np.ndarray
    value: float
    value_mean: float
    lp_value: float
    final_regret: float
    unpersuasive_rate: float
    disobeyed_rate: float
    horizon: int
    seeds: int
    lp_solves: int
    solve_time: float = 0.0
    status: str = "learned"
    solver: str = "robust_learner"
    kind: ClassVar[str] = "learned"

    def _details(self, game: Game | None) -> dict[str, Any]:
        del game
        return {
            "value_mean": self.value_mean,
            "lp_value": self.lp_value,
            "final_regret": self.final_regret,
            "unpersuasive_rate": self.unpersuasive_rate,
            "disobeyed_rate": self.disobeyed_rate,
            "horizon": self.horizon,
            "seeds": self.seeds,
            "lp_solves": self.lp_solves,
        }


def learn(game: Game, *, seed: int = 0, horizon: int = 20_000, seeds: int = 8, delta: float = 0.05) -> LearnedScheme:
    """Runs the robust learner against ``game`` as the (hidden) truth; its final scheme as a :class:`LearnedScheme`.

    Used by the LLM pipeline to set the online learner's scheme beside the LP optimum on an empirical game.
    ``horizon`` is rounded down to a multiple of 100 rounds (at least 100).
    """
    t0 = time.perf_counter()
    alg = robust_learner(game.sender_utility, game.receiver_utility, delta=delta)
    chunk = 100
    horizon = max(chunk, horizon - horizon % chunk)
    trace = simulate(game, alg, jax.random.key(seed), horizon=horizon, seeds=seeds, chunk=chunk)
    schemes = np.asarray(trace.final_state.scheme, dtype=float)
    schemes = np.clip(schemes, 0.0, None)
    schemes /= schemes.sum(axis=-1, keepdims=True)
    values = [evaluate(game, s).value for s in schemes]
    return LearnedScheme(
        scheme=schemes[0],
        value=float(values[0]),
        value_mean=float(np.mean(values)),
        lp_value=float(solve(game).value),
        final_regret=float(trace.regret[:, -1].mean()),
        unpersuasive_rate=float(trace.unpersuasive[:, -1].mean() / horizon),
        disobeyed_rate=float(trace.disobeyed[:, -1].mean() / horizon),
        horizon=int(horizon),
        seeds=int(seeds),
        lp_solves=int(trace.plans * seeds),
        solve_time=time.perf_counter() - t0,
    )


def learn_scheme(game: Game, *, seed: int = 0, horizon: int = 20_000, seeds: int = 8, delta: float = 0.05) -> dict:
    """:func:`learn` as a JSON-ready dict (``LearnedScheme.to_dict()``: ``scheme``, ``value``, ``value_mean``,
    ``lp_value``, ``final_regret``, ``unpersuasive_rate``, ``disobeyed_rate``, ``horizon``, ``seeds``, ``lp_solves``,
    and the common fields of :mod:`persuasion.results`)."""
    return learn(game, seed=seed, horizon=horizon, seeds=seeds, delta=delta).to_dict()

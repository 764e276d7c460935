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

import jax.numpy as jnp
import numpy as np

from persuasion.base import Algorithm
from persuasion.errors import GameError
from persuasion.game import Game
from persuasion.online.common import SchemeState, act_with_scheme, estimates, scheme_state, update_counts
from persuasion.online.schemes import full_disclosure
from persuasion.robust import RobustSolver, confidence_radius, epoch_delta

RobustLearnerState = SchemeState


def _knowledge(sender_utility: np.ndarray, receiver_utility: np.ndarray) -> Game:
    """A game over the known utilities with a placeholder uniform prior (never used as the truth)."""
    u_r = np.asarray(receiver_utility, dtype=float)
    if u_r.ndim != 2:
        raise GameError(f"the prior learners need one receiver type: receiver_utility has shape {u_r.shape}")
    u_s = np.asarray(sender_utility, dtype=float)
    return Game(np.full(u_s.shape[0], 1.0 / max(u_s.shape[0], 1)), u_s, u_r)


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
        An :class:`~persuasion.base.Algorithm` whose ``plan`` re-solves the robust LP for each seed.

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
    known = _knowledge(sender_utility, receiver_utility)
    start = full_disclosure(known)
    solver = RobustSolver(known.sender_utility, known.receiver_utility)

    def init(key):
        del key
        return scheme_state(start)

    def plan(states: RobustLearnerState, t: int) -> RobustLearnerState:
        del t
        mu_hat, counts = estimates(states)
        epochs = np.asarray(states.epoch)
        schemes = np.empty(np.shape(states.scheme))
        for i in np.ndindex(*mu_hat.shape[:-1]):
            r = radius_scale * confidence_radius(counts[i], known.m, epoch_delta(delta, int(epochs[i])))
            schemes[i] = solver.solve(mu_hat[i], r).scheme
        return states._replace(scheme=jnp.asarray(schemes, jnp.float32), epoch=states.epoch + 1)

    plan.solver = solver  # type: ignore[attr-defined]  # exposes the LP-call counter (solver.calls)
    return Algorithm(init, act_with_scheme, update_counts, plan, "robust")


def learn_scheme(game: Game, *, seed: int = 0, horizon: int = 20_000, seeds: int = 8, delta: float = 0.05) -> dict:
    """Runs the robust learner against ``game`` as the (hidden) truth and reports its final scheme.

    Used by the LLM pipeline to set the online learner's scheme beside the LP optimum on an empirical game.

    Returns:
        A JSON-ready dict: ``scheme`` (seed 0's final scheme), ``value`` (its sender value at the true prior, mean
        over seeds in ``value_mean``), ``lp_value``, ``final_regret`` (mean cumulative regret at ``horizon``),
        ``unpersuasive_rate`` and ``disobeyed_rate`` (fractions of rounds), ``horizon``, ``seeds``, ``lp_solves``.
    """
    import jax

    from persuasion.online.simulate import simulate
    from persuasion.solve import evaluate, solve

    alg = robust_learner(game.sender_utility, game.receiver_utility, delta=delta)
    chunk = 100
    horizon = max(chunk, horizon - horizon % chunk)
    trace = simulate(game, alg, jax.random.key(seed), horizon=horizon, seeds=seeds, chunk=chunk)
    schemes = np.asarray(trace.final_state.scheme, dtype=float)
    schemes = np.clip(schemes, 0.0, None)
    schemes /= schemes.sum(axis=-1, keepdims=True)
    values = [evaluate(game, s).value for s in schemes]
    return {
        "scheme": schemes[0].tolist(),
        "value": float(values[0]),
        "value_mean": float(np.mean(values)),
        "lp_value": float(solve(game).value),
        "final_regret": float(trace.regret[:, -1].mean()),
        "unpersuasive_rate": float(trace.unpersuasive[:, -1].mean() / horizon),
        "disobeyed_rate": float(trace.disobeyed[:, -1].mean() / horizon),
        "horizon": int(horizon),
        "seeds": int(seeds),
        "lp_solves": int(trace.plans * seeds),
    }

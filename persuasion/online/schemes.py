"""Reference schemes in the environments' signal space (``S = n^K`` recommendation profiles; ``S = n`` if K = 1).

* :func:`full_disclosure`: recommend each type its best action in the realized state (obedient at every prior);
* :func:`no_disclosure`: one signal, the profile of best responses to the prior (needs ``mu0``);
* :func:`public_lp`: the optimal public scheme for ``K`` receiver types with known ``lam``, the LP over profiles

.. math::

    \\max_{x \\ge 0} \\sum_k \\lambda_k \\sum_{s,\\sigma} x_{s\\sigma} u_S(s, \\sigma_k) \\;\\; \\text{s.t.} \\;\\;
    \\sum_\\sigma x_{s\\sigma} = \\mu_0(s), \\;\\;
    \\sum_s x_{s\\sigma} \\big(u_R^k(s, \\sigma_k) - u_R^k(s, b)\\big) \\ge 0 \\;\\; \\forall k, \\sigma, b,

  whose feasible set does not depend on ``lam`` (so a family of its vertices serves every ``lam``);
* :func:`scheme_family`: the finite family that the bandit learners choose from.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from persuasion.errors import GameError
from persuasion.game import Game
from persuasion.online.envs import profiles
from persuasion.robust import solve_lp
from persuasion.solve import DEFAULT_SOLVERS, solve


def best_responses(game: Game, belief: np.ndarray) -> np.ndarray:
    """Each type's best response to the (unnormalised) ``belief`` over states, ties to the sender; shape ``(K,)``."""
    u_r = game.typed_receiver_utility()
    eu = np.einsum("s,ksb->kb", belief, u_r)
    es = belief @ game.sender_utility
    near = eu >= eu.max(axis=1, keepdims=True) - 1e-12
    return np.argmax(np.where(near, es[None], -np.inf), axis=1)


def _profile_index(game: Game, actions: np.ndarray) -> int:
    return int(np.ravel_multi_index(tuple(int(a) for a in actions), (game.n,) * game.K))


def full_disclosure(game: Game) -> np.ndarray:
    """Reveal the state: signal the profile of the types' best actions in state ``s``; shape ``(m, n^K)``.

    Uses only ``u_S`` and ``u_R``. Obedient at every prior: after a signal every state in its support makes the
    recommended action a best response.

    Example:
        >>> full_disclosure(Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    scheme = np.zeros((game.m, game.n**game.K))
    for s in range(game.m):
        scheme[s, _profile_index(game, best_responses(game, np.eye(game.m)[s]))] = 1.0
    return scheme


def no_disclosure(game: Game) -> np.ndarray:
    """Reveal nothing: one signal recommending each type its best response to ``mu0``; shape ``(m, n^K)``.

    Example:
        >>> no_disclosure(Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])).tolist()
        [[1.0, 0.0], [1.0, 0.0]]
    """
    scheme = np.zeros((game.m, game.n**game.K))
    scheme[:, _profile_index(game, best_responses(game, game.prior))] = 1.0
    return scheme


class PublicLP:
    """The public-signal LP over recommendation profiles, compiled once (DPP) with the type prior as Parameter.

    Example (two judges, thresholds 0.5 and 0.7 on P(guilty)):
        >>> g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[[0.5, 0], [0, 0.5]], [[0.7, 0], [0, 0.3]]],
        ...          type_prior=[1.0, 0.0])
        >>> round(PublicLP(g).solve([1.0, 0.0])[1], 6)
        0.6
    """

    def __init__(self, game: Game, solvers: tuple[str, ...] = DEFAULT_SOLVERS) -> None:
        self.game, self.solvers = game, solvers
        m, n, K = game.m, game.n, game.K
        prof = profiles(n, K)  # (S, K)
        S = prof.shape[0]
        u_r = game.typed_receiver_utility()
        self.x = cp.Variable((m, S), nonneg=True, name="x")
        self.weight = cp.Parameter(K, nonneg=True, name="lam")
        # sender's utility of signal sigma in state s when type k obeys: u_S(s, sigma_k), shape (K, m, S)
        self._u_s = game.sender_utility[:, prof.T].transpose(1, 0, 2)
        cons = [cp.sum(self.x, axis=1) == game.prior]
        for k in range(K):
            own = u_r[k][:, prof[:, k]]  # (m, S): u_R^k(s, sigma_k)
            diag = cp.sum(cp.multiply(self.x, own), axis=0)  # (S,)
            gram = self.x.T @ u_r[k]  # (S, n)
            cons.append(cp.reshape(diag, (S, 1), order="F") @ np.ones((1, n)) - gram >= 0)
        objective = sum(self.weight[k] * cp.sum(cp.multiply(self.x, self._u_s[k])) for k in range(K))
        self.problem = cp.Problem(cp.Maximize(objective), cons)

    def solve(self, type_prior: np.ndarray) -> tuple[np.ndarray, float]:
        """The optimal public scheme ``pi`` (m x S) for type prior ``lam`` and its value."""
        lam = np.asarray(type_prior, dtype=float)
        if lam.shape != (self.game.K,) or np.any(lam < 0) or abs(lam.sum() - 1) > 1e-9:
            raise GameError(f"type_prior must be a distribution over {self.game.K} types, got {lam.tolist()}")
        self.weight.value = lam
        solve_lp(self.problem, self.solvers)
        x = np.clip(np.asarray(self.x.value), 0.0, None)
        x[x < 1e-12] = 0.0
        prior = self.game.prior
        scheme = full_disclosure(self.game)
        pos = prior > 0
        rows = x[pos].sum(axis=1, keepdims=True)
        scheme[pos] = x[pos] / np.where(rows > 0, rows, 1.0)
        value = float(np.einsum("k,kms,ms->", lam, self._u_s, prior[:, None] * scheme))
        return scheme, value


def public_lp(game: Game) -> tuple[np.ndarray, float]:
    """The optimal public scheme (m x n^K) for the game's true type prior, and its value."""
    return PublicLP(game).solve(game.typed_type_prior())


def optimal_scheme(game: Game) -> np.ndarray:
    """The optimal scheme for the true parameters, shape ``(m, n^K)`` (the plain LP when ``K = 1``)."""
    if not game.has_types:
        return np.asarray(solve(game).scheme, dtype=float)
    return public_lp(game)[0]


def simplex_grid(K: int, steps: int) -> np.ndarray:
    """Points of the simplex with coordinates in ``{0, 1/steps, ..., 1}``, shape ``(C(steps + K - 1, K - 1), K)``."""
    if K < 1 or steps < 1:
        raise GameError(f"simplex_grid needs K >= 1 and steps >= 1, got K={K}, steps={steps}")
    if K == 1:
        return np.ones((1, 1))
    pts = [np.array(c) for c in np.ndindex(*([steps + 1] * (K - 1))) if sum(c) <= steps]
    return np.array([np.append(c, steps - c.sum()) for c in pts], dtype=float) / steps


def scheme_family(game: Game, steps: int = 10) -> np.ndarray:
    """A finite family of schemes for an unknown type prior, shape ``(F, m, n^K)``, duplicates removed.

    The optimal public schemes for every ``lam`` on :func:`simplex_grid` (``steps``), then full and no
    disclosure. Uses ``mu0``, ``u_S`` and each type's ``u_R``, never the true ``lam``.
    """
    lp = PublicLP(game)
    members = [lp.solve(lam)[0] for lam in simplex_grid(game.K, steps)]
    members += [full_disclosure(game), no_disclosure(game)]
    out: list[np.ndarray] = []
    for pi in members:
        if not any(np.allclose(pi, q, atol=1e-7) for q in out):
            out.append(pi)
    return np.stack(out)

"""Persuasion of a receiver with ``K`` private types: public signalling and private signalling with reported types.

The game carries ``u_R[k, s, a]`` of shape ``(K, m, n)`` and a type distribution ``lam`` of shape ``(K,)``
(:meth:`Game.typed_receiver_utility`, :meth:`Game.typed_type_prior`). The sender utility ``u_S[s, a]`` is
type-free: the sender's payoff is ``sum_k lam[k] u_S[s, a_k]`` where ``a_k`` is the action type ``k`` takes.
A game without types is the case ``K = 1`` (both solvers accept it, and then agree with
:func:`persuasion.solve`).

**Public signalling** (one signal seen by every type, :func:`solve_public`). By the revelation principle the
signals are action profiles ``p = (a_1, ..., a_K)``, one recommended action per type. In joint variables
``x[s, p] = mu0[s] pi(p | s)``:

.. math::

    \\max_{x \\ge 0} \\sum_{s,p} x_{sp} \\sum_k \\lambda_k u_S(s, p_k)
    \\quad \\text{s.t.} \\quad \\sum_p x_{sp} = \\mu_0(s), \\qquad
    \\sum_s x_{sp} \\big(u_k(s, p_k) - u_k(s, b)\\big) \\ge 0 \\;\\forall p, k, b.

There are ``n^K`` profiles; optimal public signalling to a receiver of unknown type is hard to approximate in
general (Castiglioni, Celli, Marchesi & Gatti 2020; for public persuasion of several receivers, Dughmi & Xu
2017, Xu 2020), so the profile set is pruned exactly and its size capped (``max_profiles``).

**Private signalling with reported types** (:func:`solve_private`). The sender commits to a menu
``(pi_1, ..., pi_K)``; the receiver reports a type ``k`` and receives a recommendation drawn from ``pi_k``
(Kolotilin, Mylovanov, Zapechelnyuk & Li 2017; Castiglioni, Marchesi & Gatti 2022). With
``x_k[s, a] = mu0[s] pi_k(a | s)`` and auxiliary ``t[k, k', a]`` (type ``k``'s payoff from recommendation ``a``
of ``pi_k'``, best-responding to it):

.. math::

    \\max \\sum_k \\lambda_k \\sum_{s,a} x_{k,sa} u_S(s, a) \\quad \\text{s.t.} \\quad
    \\sum_a x_{k,sa} = \\mu_0(s), \\quad
    \\sum_s x_{k,sa} \\big(u_k(s, a) - u_k(s, b)\\big) \\ge 0, \\\\
    t_{kk'a} \\ge \\sum_s x_{k',sa} u_k(s, b) \\;\\forall b, \\qquad
    \\sum_{s,a} x_{k,sa} u_k(s, a) \\ge \\sum_a t_{kk'a} \\;\\forall k \\ne k'.

Every public scheme induces a feasible menu with the same sender value (``pi_k`` is the marginal of the
profile's ``k``-th coordinate: obedience holds because best-response regions are convex, truthful reporting
because a coarsened public signal is worth less to type ``k`` than the public signal itself, by Blackwell), so
``solve_private(g).value >= solve_public(g).value`` on every game; both are at most
``sum_k lam[k] solve(g.for_type(k)).value``. All weak inequalities break ties in the sender's favour.

References:
    Kolotilin, Mylovanov, Zapechelnyuk & Li (2017), "Persuasion of a privately informed receiver",
    Econometrica 85(6), 1949-1964.
    Castiglioni, Marchesi & Gatti (2022), "Bayesian persuasion meets mechanism design: going beyond
    intractability with type reporting", AAMAS 2022 (the type-reporting LP).
    Castiglioni, Celli, Marchesi & Gatti (2020), "Online Bayesian persuasion", NeurIPS 2020 (hardness of
    signalling to a receiver of unknown type).
    Xu (2020), "On the tractability of public persuasion with no externalities", SODA 2020.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from persuasion.errors import GameError, SolverError
from persuasion.game import Game
from persuasion.lp.backend import DEFAULT_SOLVERS, solve_problem
from persuasion.lp.single import all_pairs, obedience_matrix
from persuasion.responses import (
    all_profiles,
    clean_scheme,
    full_disclosure_scheme,
    profile_index,
    scheme_from_joint,
    state_best_responses,
    tie_tolerance,
)
from persuasion.results import ResultMixin, frozen, offdiag_min, type_names

#: Slack (times ``max(1, max |u_R|)``) allowed in the pruning feasibility tests, so pruning only drops profiles
#: that are infeasible by a clear margin (it is conservative: it never drops a feasible profile).
PRUNE_TOL = 1e-9
#: Probabilities below this count as zero when listing the signals sent.
PROB_TOL = 1e-12


# --------------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class PublicSolution(ResultMixin):
    """An optimal public signalling scheme for ``K`` receiver types (``kind = "public"``).

    Attributes:
        scheme: ``pi[s, p] = P(send profile p | s)``, shape ``(m, P)``, rows on the simplex. Rows of zero-prior
            states send the profile of each type's sender-preferred best response to that state.
        profiles: the candidate action profiles, shape ``(P, K)``, ``profiles[p, k]`` = action recommended to
            type ``k`` by signal ``p`` (after pruning; see :func:`solve_public`).
        value: sender's expected utility ``sum_{s,p} mu0[s] pi[s, p] sum_k lam[k] u_S[s, p_k]``.
        receiver_value: ``lam``-weighted receivers' expected utility under obedience.
        type_values: receiver's expected utility per type, shape ``(K,)``.
        signals: indices into ``profiles`` of the profiles sent with positive probability.
        signal_prob: their probabilities, shape ``(k,)``.
        posteriors: the common posterior after each signal, shape ``(k, m)``.
        min_obedience_slack: ``min_{p sent, k, b} mu_p . (u_k[:, p_k] - u_k[:, b])``: 0 when every type obeys
            (``b = p_k`` is included), negative only by solver error.
        status: solver status (``"optimal"``).
        solver: the backend that produced it.
        solve_time: wall-clock seconds spent in :func:`solve_public` (pruning included).
        total_profiles: ``n ** K``, the profiles before pruning.
    """

    scheme: np.ndarray
    profiles: np.ndarray
    value: float
    receiver_value: float
    type_values: np.ndarray
    signals: tuple[int, ...]
    signal_prob: np.ndarray
    posteriors: np.ndarray
    min_obedience_slack: float
    status: str
    solver: str
    solve_time: float
    total_profiles: int

    kind: ClassVar[str] = "public"

    def _used(self) -> np.ndarray:
        return np.flatnonzero(self.scheme.max(axis=0, initial=0.0) > PROB_TOL)

    def _scheme_list(self) -> Any:
        """``scheme`` restricted to the profiles it sends (all other columns are zero): rows still sum to 1."""
        return self.scheme[:, self._used()].tolist()

    def _details(self, game: Game | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "receiver_value": self.receiver_value,
            "type_values": self.type_values.tolist(),
            "profiles": self.profiles[self._used()].tolist(),
            "signals": [
                {"profile": self.profiles[p].tolist(), "probability": float(q), "posterior": mu.tolist()}
                for p, q, mu in zip(self.signals, self.signal_prob, self.posteriors)
            ],
            "min_obedience_slack": self.min_obedience_slack,
            "candidate_profiles": int(self.profiles.shape[0]),
            "total_profiles": self.total_profiles,
        }
        if game is not None:
            out["types"] = type_names(game)
            for sig in out["signals"]:
                sig["profile_names"] = _profile_names(game, sig["profile"])
        return out


@dataclass(frozen=True, eq=False)
class PrivateSolution(ResultMixin):
    """An optimal menu of signalling schemes, one per reported type (``kind = "private"``).

    Attributes:
        scheme: ``pi[k, s, a] = P(recommend a | s, reported type k)``, shape ``(K, m, n)``, rows on the simplex.
            Rows of zero-prior states recommend type ``k``'s sender-preferred best response to that state.
        value: sender's expected utility ``sum_k lam[k] sum_{s,a} mu0[s] pi[k, s, a] u_S[s, a]``.
        receiver_value: ``lam``-weighted receivers' expected utility (truthful and obedient).
        type_values: receiver's expected utility per type, shape ``(K,)``.
        sender_type_values: sender's expected utility per type, shape ``(K,)``.
        action_prob: ``P(recommend a | type k)``, shape ``(K, n)``.
        posteriors: posterior over states after recommendation ``a`` to type ``k``, shape ``(K, n, m)``; rows of
            recommendations never made are zero.
        report_slack: ``slack[k, k']`` = type ``k``'s truthful utility minus its utility from reporting ``k'``
            and best-responding, shape ``(K, K)``, >= 0 up to solver error (zero diagonal).
        min_obedience_slack: ``min_{k, a, b} sum_s x_k[s, a] (u_k[s, a] - u_k[s, b])``: 0 when every type
            obeys (``b = a`` is included), negative only by solver error.
        status: solver status (``"optimal"``).
        solver: the backend that produced it.
        solve_time: wall-clock seconds spent in :func:`solve_private`.
    """

    scheme: np.ndarray
    value: float
    receiver_value: float
    type_values: np.ndarray
    sender_type_values: np.ndarray
    action_prob: np.ndarray
    posteriors: np.ndarray
    report_slack: np.ndarray
    min_obedience_slack: float
    status: str
    solver: str
    solve_time: float

    kind: ClassVar[str] = "private"

    def _details(self, game: Game | None) -> dict[str, Any]:
        K = self.scheme.shape[0]
        per_type = []
        for k in range(K):
            sent = np.flatnonzero(self.action_prob[k] > PROB_TOL)
            per_type.append(
                {
                    "type": k,
                    "receiver_value": float(self.type_values[k]),
                    "sender_value": float(self.sender_type_values[k]),
                    "signals": [
                        {"action": int(a), "probability": float(self.action_prob[k, a]),
                         "posterior": self.posteriors[k, a].tolist()}
                        for a in sent
                    ],
                }
            )
        out: dict[str, Any] = {
            "receiver_value": self.receiver_value,
            "type_values": self.type_values.tolist(),
            "per_type": per_type,
            "min_report_slack": offdiag_min(self.report_slack),
            "min_obedience_slack": self.min_obedience_slack,
        }
        if game is not None:
            out["types"] = names = type_names(game)
            for entry in per_type:
                entry["type_name"] = names[entry["type"]]
                for sig in entry["signals"]:
                    sig["action_name"] = game.action_names[sig["action"]]
        return out


class _SchemeValueFields(NamedTuple):
    scheme: np.ndarray  # shape=(m, n^K): pi(sigma | s), rows on the simplex.
    value: float  # the sender's expected utility for the type prior it was solved for.


class SchemeValue(_SchemeValueFields, ResultMixin):
    """A scheme over the ``n^K`` profile signals and its value; a 2-tuple ``(scheme, value)``, ``kind = "scheme"``."""

    __slots__ = ()
    kind: ClassVar[str] = "scheme"


def _profile_names(game: Game, profile: list[int]) -> dict[str, str]:
    return {t: game.action_names[a] for t, a in zip(type_names(game), profile)}


def _feasible_blocks(diffs: np.ndarray, tol: float) -> np.ndarray:
    """Which of ``B`` polytopes ``{mu in simplex : diffs[j] @ mu <= tol}`` are non-empty, with one LP.

    ``diffs`` has shape ``(B, r, m)``. Block ``j`` gets its own ``(mu_j, t_j)`` with ``sum mu_j = t_j``,
    ``diffs[j] mu_j <= tol t_j``, ``0 <= t_j <= 1``; maximising ``sum_j t_j`` puts ``t_j = 1`` on every
    non-empty polytope and ``t_j = 0`` on the others (the constraints are a cone in ``(mu_j, t_j)``).
    """
    B, r, m = diffs.shape
    if B == 0:
        return np.zeros(0, dtype=bool)
    nv = B * (m + 1)  # block j: mu_j at j*(m+1) .. j*(m+1)+m-1, t_j at j*(m+1)+m
    base = np.arange(B) * (m + 1)
    rows = np.repeat(np.arange(B * r), m + 1)
    cols = (base[:, None, None] + np.arange(m + 1)[None, None, :]).repeat(r, axis=1).reshape(-1)
    vals = np.concatenate([diffs, np.full((B, r, 1), -tol)], axis=2).reshape(-1)
    a_ub = sp.csr_matrix((vals, (rows, cols)), shape=(B * r, nv))
    eq_rows = np.repeat(np.arange(B), m + 1)
    eq_cols = (base[:, None] + np.arange(m + 1)[None, :]).reshape(-1)
    eq_vals = np.tile(np.r_[np.ones(m), -1.0], B)
    a_eq = sp.csr_matrix((eq_vals, (eq_rows, eq_cols)), shape=(B, nv))
    c = np.zeros(nv)
    c[base + m] = -1.0
    bounds = np.zeros((nv, 2))
    bounds[:, 1] = np.inf
    bounds[base + m, 1] = 1.0
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(B * r), A_eq=a_eq, b_eq=np.zeros(B), bounds=bounds, method="highs")
    if res.status != 0:
        raise SolverError(f"profile-pruning LP failed: {res.message}")
    return res.x[base + m] > 0.5


def _region_diffs(u_r: np.ndarray, k: np.ndarray, a: np.ndarray, live: np.ndarray) -> np.ndarray:
    """Rows ``u_k[:, b] - u_k[:, a]`` for the deviations ``b`` in ``live`` (shared by all ``k`` given).

    ``a`` is a best response of type ``k`` where all are <= 0. Returns shape ``(len(k), len(live), m)``.
    """
    ut = u_r.transpose(0, 2, 1)  # (K, n, m)
    return ut[k][:, live] - ut[k, a][:, None, :]


def region_tests_lp(u_r: np.ndarray, tol: float) -> tuple[np.ndarray, dict[tuple[int, int], np.ndarray]]:
    """Which best-response regions are non-empty, and which pairs of them intersect, by batched LPs.

    The region of action ``a`` of type ``k`` is ``R_ka = {mu in simplex : mu . (u_k[:, b] - u_k[:, a]) <= tol
    for all b}``. One LP (:func:`_feasible_blocks`) tests every ``R_ka``; then one LP per pair of types
    ``i < j`` tests ``R_ia & R_jb`` for the live ``a, b``, with deviation rows restricted to live actions (a
    never-best-response action is beaten at every belief by a live one, so its rows are implied).

    Returns:
        ``live`` of shape ``(K, n)`` and ``compat[(i, j)]`` of shape ``(n, n)`` for ``i < j``.
    """
    K, m, n = u_r.shape
    kk, aa = np.divmod(np.arange(K * n), n)
    live = _feasible_blocks(_region_diffs(u_r, kk, aa, np.arange(n)), tol).reshape(K, n)
    cands = [np.flatnonzero(live[k]) for k in range(K)]
    compat: dict[tuple[int, int], np.ndarray] = {}
    for i, j in zip(*np.triu_indices(K, 1)):  # K (K - 1) / 2 LPs, one per pair of types
        ai, aj = (g.ravel() for g in np.meshgrid(cands[i], cands[j], indexing="ij"))
        rows_i = _region_diffs(u_r, np.full(ai.size, i), ai, cands[i])
        rows_j = _region_diffs(u_r, np.full(aj.size, j), aj, cands[j])
        table = np.zeros((n, n), dtype=bool)
        table[ai, aj] = _feasible_blocks(np.concatenate([rows_i, rows_j], axis=1), tol)
        compat[(int(i), int(j))] = table
    return live, compat


def region_tests_intervals(u_r: np.ndarray, tol: float) -> tuple[np.ndarray, dict[tuple[int, int], np.ndarray]]:
    """:func:`region_tests_lp` in closed form for two states (``m = 2``), where every region is an interval.

    With ``q = mu[1]`` and ``d = u_k[:, b] - u_k[:, a]``, the constraint ``d_0 + q (d_1 - d_0) <= tol`` bounds
    ``q`` above (``d_1 > d_0``) or below (``d_1 < d_0``), or holds for all ``q`` or none (``d_1 = d_0``).
    """
    K, m, n = u_r.shape
    if m != 2:
        raise GameError(f"interval region tests need 2 states, got {m}")
    d = u_r[:, :, None, :] - u_r[:, :, :, None]  # d[k, s, a, b] = u_k[s, b] - u_k[s, a]
    d0, e = d[:, 0], d[:, 1] - d[:, 0]  # (K, n, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (tol - d0) / e
    lo = np.maximum(0.0, np.where(e < 0, bound, -np.inf).max(axis=2))
    hi = np.minimum(1.0, np.where(e > 0, bound, np.inf).min(axis=2))
    flat_fail = ((e == 0) & (d0 > tol)).any(axis=2)
    slack = 1e-12  # keep regions that touch up to rounding (conservative)
    live = (lo <= hi + slack) & ~flat_fail
    compat: dict[tuple[int, int], np.ndarray] = {}
    for i, j in zip(*np.triu_indices(K, 1)):
        meet = np.maximum(lo[i][:, None], lo[j][None, :]) <= np.minimum(hi[i][:, None], hi[j][None, :]) + slack
        compat[(int(i), int(j))] = meet & live[i][:, None] & live[j][None, :]
    return live, compat


def action_profiles(game: Game, *, max_profiles: int = 20_000, prune: bool = True) -> np.ndarray:
    """The action profiles a public scheme may need to send, shape ``(P, K)``, in lexicographic order.

    A profile ``p`` can carry probability only if some belief ``mu`` makes every ``p_k`` a best response of type
    ``k`` (otherwise obedience forces ``x[:, p] = 0``), so dropping the other profiles leaves the optimum
    unchanged. With ``prune``, two exact tests (conservative up to ``PRUNE_TOL``) are applied: (1) per type, the
    actions that are a best response somewhere on the simplex; (2) per pair of types, the pairs of such actions
    whose best-response regions intersect (:func:`region_tests_intervals` in closed form for ``m = 2``,
    :func:`region_tests_lp` by batched LPs otherwise). Profiles are then built type by type, keeping the
    pairwise compatible ones. For ``K <= 2``, or ``m = 2`` (intervals, Helly's theorem), this keeps exactly the
    profiles with a joint best-response belief; otherwise a superset.

    Raises:
        GameError: when the profiles (or a prefix ``(a_1..a_j)`` of them, while building) exceed
            ``max_profiles``.
    """
    u_r = game.typed_receiver_utility()
    K, m, n = u_r.shape
    total = n**K

    def refuse(count: int, note: str) -> GameError:
        return GameError(
            f"public signalling over {K} receiver types needs n^K = {n}^{K} = {total} action profiles "
            f"({count} {note}), above max_profiles={max_profiles}; raise max_profiles or use solve_private"
        )

    if max_profiles < 1:
        raise GameError(f"max_profiles must be >= 1, got {max_profiles}")
    if not prune:
        if total > max_profiles:
            raise refuse(total, "without pruning")
        return all_profiles(n, K)

    tol = tie_tolerance(u_r, PRUNE_TOL)
    live, compat = (region_tests_intervals if m == 2 else region_tests_lp)(u_r, tol)
    cands = [np.flatnonzero(live[k]) for k in range(K)]
    partial = cands[0][:, None]
    if len(partial) > max_profiles:
        raise refuse(len(partial), "after pruning, already for the first type")
    for j in range(1, K):
        keep = np.ones((len(partial), len(cands[j])), dtype=bool)
        for i in range(j):
            keep &= compat[(i, j)][partial[:, i]][:, cands[j]]
        rows, cols = np.nonzero(keep)
        partial = np.concatenate([partial[rows], cands[j][cols][:, None]], axis=1)
        if len(partial) > max_profiles:
            note = "after pruning" if j == K - 1 else f"after pruning, already for the first {j + 1} types"
            raise refuse(len(partial), note)
    return partial.astype(np.int64)


def public_obedience_matrix(
    u_r: np.ndarray, profiles: np.ndarray, deviations: np.ndarray | None = None
) -> sp.csr_matrix:
    """Sparse obedience rows of the public LP over ``x.ravel()`` (``x`` is ``m x P``, column ``s * P + p``).

    Row ``(p, k, b)`` holds ``u_k[s, p_k] - u_k[s, b]`` at column ``s * P + p`` for every state ``s``. Left out:
    ``b = p_k``, rows with no negative entry (implied by ``x >= 0``) and, when ``deviations`` (a ``(K, n)``
    mask) is given, deviations ``b`` of type ``k`` outside it.
    """
    K, m, n = u_r.shape
    P = profiles.shape[0]
    ut = u_r.transpose(0, 2, 1)  # (K, n, m)
    rec = ut[np.arange(K)[None, :], profiles]  # (P, K, m): u_k[:, p_k]
    diffs = rec[:, :, None, :] - ut[None, :, :, :]  # (P, K, n, m)
    keep = diffs.min(axis=3) < 0  # excludes b = p_k (all zeros) and rows implied by x >= 0
    if deviations is not None:
        keep &= deviations[None, :, :]
    p_idx, _, _ = np.nonzero(keep)
    vals = diffs[keep]  # (R, m)
    R = vals.shape[0]
    rows = np.repeat(np.arange(R), m)
    cols = (np.arange(m)[None, :] * P + p_idx[:, None]).ravel()
    return sp.csr_matrix((vals.ravel(), (rows, cols)), shape=(R, m * P))


# ------------------------------------------------------------------------------------------------------ public
class PublicLP:
    """The public-signalling LP of the module docstring, compiled once (DPP) with the type prior ``lam`` a Parameter.

    Its feasible set does not depend on ``lam`` (only the objective does), so one compiled LP serves every type
    prior: :meth:`solution` gives the full :class:`PublicSolution`, :meth:`solve` the scheme over all ``n^K``
    profile signals (the online environments' signal space, :func:`persuasion.responses.profile_index`) and its
    value. Profiles are pruned exactly (:func:`action_profiles`), so the optimum is that over all ``n^K``.

    Args:
        game: a game with ``K`` receiver types (a game without types is ``K = 1``).
        solvers: cvxpy solver names tried in order (HiGHS, then Clarabel).
        max_profiles: refuse (``GameError``) when more profiles than this remain after pruning.
        prune: drop profiles that are never jointly best responses (default); ``False`` keeps all ``n^K``.

    Example (two judges, thresholds 0.5 and 0.7 on P(guilty)):
        >>> g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[[0.5, 0], [0, 0.5]], [[0.7, 0], [0, 0.3]]],
        ...          type_prior=[1.0, 0.0])
        >>> round(PublicLP(g).solve([1.0, 0.0]).value, 6)
        0.6
    """

    def __init__(
        self,
        game: Game,
        solvers: tuple[str, ...] = DEFAULT_SOLVERS,
        *,
        max_profiles: int = 20_000,
        prune: bool = True,
    ) -> None:
        t0 = time.perf_counter()
        self.game, self.solvers = game, solvers
        self.profiles = profiles = action_profiles(game, max_profiles=max_profiles, prune=prune)
        u_r = game.typed_receiver_utility()
        K, m, n = u_r.shape
        P = profiles.shape[0]
        self._sender = game.sender_utility[:, profiles]  # (m, P, K): u_S(s, p_k)
        self.x = cp.Variable(m * P, nonneg=True, name="x")  # x[s, p] at s * P + p
        self.weight = cp.Parameter(K, nonneg=True, name="lam")
        mass = sp.kron(sp.identity(m, format="csr"), np.ones((1, P)), format="csr")
        cons = [mass @ self.x == game.prior]
        # An action in no candidate profile is never a best response: it is beaten at every belief by one that is,
        # so its deviation rows are implied by the others and left out.
        used = np.zeros((K, n), dtype=bool)
        used[np.arange(K)[None, :], profiles] = True
        obey = public_obedience_matrix(u_r, profiles, used)
        if obey.shape[0]:
            cons.append(obey @ self.x >= 0)
        per_type = self._sender.transpose(2, 0, 1).reshape(K, m * P)  # row k: u_S(s, p_k) over x
        self.problem = cp.Problem(cp.Maximize(self.weight @ (per_type @ self.x)), cons)
        favoured = state_best_responses(game)  # (m, K): zero-prior rows send this profile when kept
        hit = (profiles[None, :, :] == favoured[:, None, :]).all(axis=2)  # (m, P)
        self._fill = hit & (np.cumsum(hit, axis=1) == 1)  # the first match only (profiles are distinct anyway)
        self.setup_time = time.perf_counter() - t0

    def _check_lam(self, type_prior: Any) -> np.ndarray:
        K = self.game.K
        lam = np.asarray(self.game.typed_type_prior() if type_prior is None else type_prior, dtype=float)
        if lam.shape != (K,) or not np.all(np.isfinite(lam)) or np.any(lam < 0) or abs(lam.sum() - 1) > 1e-9:
            raise GameError(f"type_prior must be a distribution over {K} types, got {lam.tolist()}")
        return lam

    def _joint(self, lam: np.ndarray) -> tuple[np.ndarray, str]:
        """Solves for ``lam``; the optimal ``x`` (m x P) and the backend's name."""
        self.weight.value = lam
        solver = solve_problem(self.problem, self.solvers, what="public signalling LP")
        return np.asarray(self.x.value, dtype=float).reshape(self.game.m, -1), solver

    def solution(self, type_prior: Any = None) -> PublicSolution:
        """The :class:`PublicSolution` for ``type_prior`` (default: the game's ``lam``)."""
        t0 = time.perf_counter()
        lam = self._check_lam(type_prior)
        x, solver = self._joint(lam)
        game, profiles = self.game, self.profiles
        u_r = game.typed_receiver_utility()
        K, m, n = u_r.shape
        fill = self._fill.astype(float)
        if len(fill) and not np.all(fill.sum(axis=1) > 0):  # a favoured profile was pruned: send the most used
            fill[fill.sum(axis=1) == 0, int(np.argmax(np.clip(x, 0.0, None).sum(axis=0)))] = 1.0
        scheme = scheme_from_joint(x, game.prior, fill)
        sender = self._sender @ lam  # (m, P): sum_k lam_k u_S(s, p_k)
        joint = game.prior[:, None] * scheme
        prob = joint.sum(axis=0)
        signals = np.flatnonzero(prob > PROB_TOL)
        posteriors = (joint[:, signals] / prob[signals]).T
        taken = u_r[np.arange(K)[None, None, :], np.arange(m)[:, None, None], profiles[None, :, :]]  # (m, P, K)
        type_values = np.einsum("sp,spk->k", joint, taken)
        gains = np.einsum("js,ksb->jkb", posteriors, u_r)  # (signals, K, n): mu_p . u_k[:, b]
        chosen = np.take_along_axis(gains, profiles[signals][:, :, None], axis=2)[:, :, 0]
        slack = float((chosen[:, :, None] - gains).min(initial=0.0)) if len(signals) else 0.0
        signal_prob = prob[signals]
        frozen(scheme, type_values, signal_prob, posteriors)
        return PublicSolution(
            scheme=scheme,
            profiles=profiles,
            value=float((joint * sender).sum()),
            receiver_value=float(lam @ type_values),
            type_values=type_values,
            signals=tuple(int(p) for p in signals),
            signal_prob=signal_prob,
            posteriors=posteriors,
            min_obedience_slack=slack,
            status=self.problem.status,
            solver=solver,
            solve_time=time.perf_counter() - t0,
            total_profiles=n**K,
        )

    def solve(self, type_prior: Any) -> SchemeValue:
        """The optimal public scheme over all ``n^K`` profile signals (m x n^K) for ``type_prior``, and its value."""
        lam = self._check_lam(type_prior)
        x, _ = self._joint(lam)
        game = self.game
        full = np.zeros((game.m, game.n**game.K))
        full[:, profile_index(self.profiles, game.n)] = x
        scheme = clean_scheme(scheme_from_joint(full, game.prior, full_disclosure_scheme(game)))
        sender = np.zeros_like(full)
        sender[:, profile_index(self.profiles, game.n)] = self._sender @ lam
        return SchemeValue(scheme, float((game.prior[:, None] * scheme * sender).sum()))


def solve_public(
    game: Game,
    *,
    max_profiles: int = 20_000,
    prune: bool = True,
    solvers: tuple[str, ...] = DEFAULT_SOLVERS,
) -> PublicSolution:
    """Optimal public signalling scheme when every receiver type sees the same signal.

    Solves the profile LP of the module docstring (:class:`PublicLP`) over the profiles of :func:`action_profiles`
    (pruned exactly: the optimum equals that of the LP over all ``n^K`` profiles). Sizes: ``m P`` variables and at
    most ``P K (n - 1)`` obedience rows with ``m`` entries each.

    Args:
        game: a game with ``K`` receiver types (a game without types is ``K = 1``).
        max_profiles: refuse (``GameError``) when more profiles than this remain after pruning.
        prune: drop profiles that are never jointly best responses (default); ``False`` keeps all ``n^K``.
        solvers: cvxpy solver names tried in order (HiGHS, then Clarabel).

    Returns:
        The :class:`PublicSolution` (``solve_time`` includes pruning and building the LP).

    Example (two judges: one convicts when P(guilty) >= 1/2, the other when P(guilty) >= 2/3):
        >>> g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[[1, 0], [0, 1]], [[2, 0], [0, 1]]], type_prior=[0.5, 0.5])
        >>> round(solve_public(g).value, 6)  # one signal: posterior 2/3 (both convict) or 0
        0.45
    """
    lp = PublicLP(game, solvers, max_profiles=max_profiles, prune=prune)
    sol = lp.solution()
    return dataclasses.replace(sol, solve_time=sol.solve_time + lp.setup_time)


# ----------------------------------------------------------------------------------------------------- private
def _report_matrices(u_r: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """Sparse pieces of the truthful-reporting constraints over ``X`` (``K m n``, ``[k, s, a]``) and ``t``.

    For each ordered pair ``q = (k, k')``, ``k != k'``, and each ``a, b``: row ``(q, a, b)`` of
    ``bound_x @ X - bound_t @ t <= 0`` reads ``sum_s X[k', s, a] u_k[s, b] <= t[q, a]``; row ``q`` of
    ``truth_x @ X - truth_t @ t >= 0`` reads ``sum_{s,a} X[k, s, a] u_k[s, a] >= sum_a t[q, a]``.
    Returns ``(bound_x, bound_t, truth_x, pairs)`` (``truth_t`` sums ``t[q, :]``, built by the caller).
    """
    K, m, n = u_r.shape
    pairs = all_pairs(K)  # (Q, 2) ordered (k, k') with k != k'
    Q = len(pairs)
    k, kp = pairs[:, 0], pairs[:, 1]
    # bound rows: index (q, a, b) -> q * n * n + a * n + b; entries at X[k', s, a] with value u_k[s, b]
    q_i, a_i, b_i, s_i = np.meshgrid(np.arange(Q), np.arange(n), np.arange(n), np.arange(m), indexing="ij")
    rows = (q_i * n * n + a_i * n + b_i).ravel()
    cols = (kp[q_i] * m * n + s_i * n + a_i).ravel()
    vals = u_r[k[q_i], s_i, b_i].ravel()
    bound_x = sp.csr_matrix((vals, (rows, cols)), shape=(Q * n * n, K * m * n))
    t_rows = np.arange(Q * n * n)
    bound_t = sp.csr_matrix((np.ones(Q * n * n), (t_rows, t_rows // n)), shape=(Q * n * n, Q * n))
    # truth rows: q -> entries at X[k, s, a] with value u_k[s, a]
    tq, ts, ta = np.meshgrid(np.arange(Q), np.arange(m), np.arange(n), indexing="ij")
    truth_x = sp.csr_matrix(
        (u_r[k[tq], ts, ta].ravel(), (tq.ravel(), (k[tq] * m * n + ts * n + ta).ravel())), shape=(Q, K * m * n)
    )
    return bound_x, bound_t, truth_x, pairs


def report_utilities(game: Game, scheme: np.ndarray) -> np.ndarray:
    """``V[k, k']``: type ``k``'s expected utility from reporting ``k'`` and best-responding to each recommendation.

    ``V[k, k'] = sum_a max_b sum_s mu0[s] pi[k', s, a] u_k[s, b]``. Truthful reporting holds when
    ``V[k, k]`` (obeying is then a best response) is the row maximum.

    Args:
        game: the game (``K`` types).
        scheme: ``pi``, shape ``(K, m, n)``.
    """
    u_r = game.typed_receiver_utility()
    scheme = np.asarray(scheme, dtype=float)
    if scheme.shape != u_r.shape:
        raise GameError(f"scheme has shape {scheme.shape}, expected {u_r.shape} (K, m, n)")
    joint = game.prior[None, :, None] * scheme  # (K', m, n)
    payoff = np.einsum("jsa,ksb->kjab", joint, u_r)  # [k, k', a, b]
    return payoff.max(axis=3).sum(axis=2)


def solve_private(game: Game, *, solvers: tuple[str, ...] = DEFAULT_SOLVERS) -> PrivateSolution:
    """Optimal menu of signalling schemes when the receiver reports its type (private signalling).

    Solves the type-reporting LP of the module docstring (Castiglioni, Marchesi & Gatti 2022; the screening
    view of Kolotilin, Mylovanov, Zapechelnyuk & Li 2017): ``K m n`` scheme variables, ``K (K - 1) n`` auxiliary
    ``t``, ``K n (n - 1)`` obedience rows and ``K (K - 1) (n^2 + 1)`` reporting rows. Its value is at least
    :func:`solve_public`'s and at most ``sum_k lam[k] solve(game.for_type(k)).value``.

    Args:
        game: a game with ``K`` receiver types (a game without types is ``K = 1``: then it equals ``solve``).
        solvers: cvxpy solver names tried in order (HiGHS, then Clarabel).

    Returns:
        The :class:`PrivateSolution`.

    Example (the two judges of :func:`solve_public`: persuading the lenient judge with posterior 1/2 would make
    it report as the strict one, whose signal is more informative; private equals public here, as Kolotilin et
    al. show for threshold types):
        >>> g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[[1, 0], [0, 1]], [[2, 0], [0, 1]]], type_prior=[0.5, 0.5])
        >>> round(solve_private(g).value, 6)
        0.45
    """
    t0 = time.perf_counter()
    u_r = game.typed_receiver_utility()
    lam = game.typed_type_prior()
    prior, u_s = game.prior, game.sender_utility
    K, m, n = u_r.shape
    X = cp.Variable(K * m * n, nonneg=True)
    mass = sp.kron(sp.identity(K * m, format="csr"), np.ones((1, n)), format="csr")
    cons = [mass @ X == np.tile(prior, K)]
    if n > 1:
        pairs_a = all_pairs(n)
        cons.append(sp.block_diag([obedience_matrix(u_r[k], pairs_a) for k in range(K)], format="csr") @ X >= 0)
    if K > 1:
        bound_x, bound_t, truth_x, pairs_k = _report_matrices(u_r)
        Q = len(pairs_k)
        t = cp.Variable(Q * n)
        truth_t = sp.kron(sp.identity(Q, format="csr"), np.ones((1, n)), format="csr")
        cons += [bound_x @ X <= bound_t @ t, truth_x @ X >= truth_t @ t]
    objective = np.kron(lam, u_s.ravel())
    problem = cp.Problem(cp.Maximize(objective @ X), cons)
    solver = solve_problem(problem, solvers, what="private signalling LP")
    xv = np.clip(np.asarray(X.value, dtype=float).reshape(K, m, n), 0.0, None)

    fill = np.zeros((K, m, n))  # zero-prior rows: each type's sender-preferred best response to the state
    fill[np.arange(K)[None, :], np.arange(m)[:, None], state_best_responses(game)] = 1.0
    scheme = np.stack([scheme_from_joint(xv[k], prior, fill[k]) for k in range(K)])
    joint = prior[None, :, None] * scheme  # (K, m, n)
    action_prob = joint.sum(axis=1)
    posteriors = np.zeros((K, n, m))
    sent = action_prob > PROB_TOL
    posteriors[sent] = joint.transpose(0, 2, 1)[sent] / action_prob[sent][:, None]
    type_values = np.einsum("ksa,ksa->k", joint, u_r)
    sender_type_values = np.einsum("ksa,sa->k", joint, u_s)
    gram = np.einsum("ksa,ksb->kab", joint, u_r)  # gram[k, a, b] = sum_s x_k[s, a] u_k[s, b]
    obey_slack = np.diagonal(gram, axis1=1, axis2=2)[:, :, None] - gram
    report = report_utilities(game, scheme)
    report_slack = np.diagonal(report)[:, None] - report
    frozen(scheme, type_values, sender_type_values, action_prob, posteriors, report_slack)
    return PrivateSolution(
        scheme=scheme,
        value=float(lam @ sender_type_values),
        receiver_value=float(lam @ type_values),
        type_values=type_values,
        sender_type_values=sender_type_values,
        action_prob=action_prob,
        posteriors=posteriors,
        report_slack=report_slack,
        min_obedience_slack=float(obey_slack.min(initial=0.0)),
        status=problem.status,
        solver=solver,
        solve_time=time.perf_counter() - t0,
    )

"""Phase 2, the game: the problem's state is the item that helps, and the Advisor commits to a scheme over it.

From the feedback cells (template hints only), with ``r(x, a)`` the Receiver's success rate on training problem
``x`` with item ``a``'s information (``k`` samples) and ``r(x, none)`` its rate with none:

.. math::

    g(x, a) = r(x, a) - r(x, \\text{none}), \\qquad
    \\omega(x) = \\arg\\max_a \\hat\\theta(x, a) \\text{ over the credibly positive gains, else none},

with ``hat theta`` the empirical-Bayes posterior mean of the gain, shrunk toward the item's main effect, and
"credibly positive" its lower bound at level ``level`` above 0 (:func:`llm.bpa.gains.credible_states`: with ``k = 4``
answers a cell, the largest raw gain is mostly the winner's curse). The state is what the Advisor knows (or learns: phase 3's state
model) and the Receiver does not. The empirical game (:func:`llm.game.empirical.estimate_game`) has the items as states
and actions, prior ``mu0(omega)`` = smoothed state frequencies, sender utility ``u_S(omega, a)`` = smoothed mean of
``r(x, a)`` over the problems in state ``omega``, and Receiver utility ``u_R(omega, a) = 1[a = omega]`` (it wants
to act on the information that helps; full disclosure is then optimal). With a follow cost ``c > 0``
(``BPAConfig.follow_cost``) it is the cost game instead, ``u_R(omega, a) = u_S(omega, a) - c 1[a != none]``: the
Receiver acts on a hint only when its expected gain pays ``c``, and the LP pools states so that a hint is acted on
where its gain alone would not pay (docs/method.md, "A game where commitment matters"). The Advisor's scheme
``pi(sigma | omega)`` is the robust online learner's
(default, :func:`persuasion.online.robust_learner.learn_scheme`, obedient under prior uncertainty) or the plug-in
LP's (``persuasion.solve`` on the estimate); both are recorded in ``game.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from llm.game.catalogue import NONE_ID, Catalogue
from llm.game.empirical import Outcome, estimate_game
from llm.rows import FeedbackRow
from llm.store import write_json_atomic

@dataclass(frozen=True)
class ItemRates:
    """``r(x, a)`` for the training problems: ``rates[i, a]`` for problem ``problem_ids[i]`` and catalogue item
    ``a`` (template hints), with ``samples[i, a]`` answers behind each."""

    problem_ids: tuple[str, ...]
    rates: np.ndarray
    samples: np.ndarray

    @property
    def successes(self) -> np.ndarray:
        """``S[i, a]``: correct answers behind ``rates[i, a]``."""
        return np.rint(self.rates * self.samples)

    def gains(self, catalogue: Catalogue) -> np.ndarray:
        """``g(x, a) = r(x, a) - r(x, none)``, shape ``(P, m)``."""
        return self.rates - self.rates[:, [catalogue.index(NONE_ID)]]


def item_rates(rows: Sequence[FeedbackRow], catalogue: Catalogue) -> ItemRates:
    """The template cells as a ``(P, m)`` table (problems whose cells are incomplete are left out)."""
    cells: dict[str, dict[str, FeedbackRow]] = {}
    for r in rows:
        if r.source == "template":
            cells.setdefault(r.problem_id, {})[r.item] = r
    ids = tuple(pid for pid, c in cells.items() if all(i in c for i in catalogue.ids))
    rates = np.array([[cells[pid][i].rate for i in catalogue.ids] for pid in ids], dtype=float).reshape(len(ids), catalogue.m)
    samples = np.array([[cells[pid][i].samples for i in catalogue.ids] for pid in ids]).reshape(len(ids), catalogue.m)
    return ItemRates(ids, rates, samples)


def problem_states(rates: ItemRates, catalogue: Catalogue, level: float = 0.95, prior: Any = None) -> np.ndarray:
    """``omega(x)`` for every problem, as catalogue indices (module doc; ``prior``: ``(mean, sd)`` ``(P, m)``, the
    state model's out-of-fold prediction to shrink toward, :func:`llm.bpa.gains.shrink`)."""
    from llm.bpa.gains import credible_states

    mean, sd = prior if prior is not None else (None, None)
    return credible_states(rates.successes, rates.samples, catalogue.index(NONE_ID), level, mean, sd)


def helpful_game(rates: ItemRates, states: np.ndarray, catalogue: Catalogue, *, alpha: float = 1.0,
                 follow_cost: float = 0.0):
    """The empirical game over the items (module doc); returns :class:`llm.game.empirical.EmpiricalGame`.

    ``follow_cost = 0``: ``u_R(omega, a) = 1[a = omega]``; ``c > 0``: ``u_R = u_S - c 1[a != none]`` (the cost game).
    """
    records = [Outcome(pid, catalogue.ids[int(s)], a, float(rates.rates[i, k]))
               for i, (pid, s) in enumerate(zip(rates.problem_ids, states)) for k, a in enumerate(catalogue.ids)]
    if follow_cost > 0:
        return estimate_game(records, catalogue, alpha=alpha, receiver="success", follow_cost=follow_cost,
                             name=f"{catalogue.task} (helpful item, cost {follow_cost:g})")
    return estimate_game(records, catalogue, alpha=alpha, receiver="match", name=f"{catalogue.task} (helpful item)")


@dataclass(frozen=True)
class GameResult:
    """What phase 2 decided (``game.json``).

    Attributes:
        scheme: the scheme the Advisor uses, ``(m, m)``: ``pi[omega, sigma]``.
        scheme_name: ``robust`` or ``plugin``.
        states: ``omega(x)`` of each training problem (item ids).
        details: everything written to ``game.json``.
    """

    scheme: np.ndarray
    scheme_name: str
    states: Mapping[str, str]
    details: Mapping[str, Any]


def solve_game(rows: Sequence[FeedbackRow], catalogue: Catalogue, *, scheme: str = "robust", seed: int = 0,
               level: float = 0.95, prior: Mapping[str, Any] | None = None, path: Any = None,
               follow_cost: float = 0.0) -> GameResult:
    """Phase 2: states, the empirical game (the cost game when ``follow_cost > 0``), the plug-in LP and robust
    schemes, reference values.

    ``prior``: ``{"problem_ids", "mean", "sd"}``, the state model's out-of-fold predictions (``held_out.npz``): the
    gains are shrunk toward them (default: toward each item's main effect).

    Raises:
        ValueError: no training problem has complete feedback.
    """
    import persuasion
    from persuasion.online.robust_learner import learn_scheme
    from persuasion.reference import full_disclosure, no_disclosure

    rates = item_rates(rows, catalogue)
    if not rates.problem_ids:
        raise ValueError("no training problem has feedback for every item: nothing to build the game from")
    toward = None
    if prior is not None:
        where = {p: i for i, p in enumerate(prior["problem_ids"])}
        rows_ = [where[p] for p in rates.problem_ids]
        toward = (np.asarray(prior["mean"])[rows_], np.asarray(prior["sd"])[rows_])
    states = problem_states(rates, catalogue, level, toward)
    emp = helpful_game(rates, states, catalogue, follow_cost=follow_cost)
    lp = persuasion.solve(emp.game)
    robust = learn_scheme(emp.game, seed=seed)
    chosen = np.asarray(robust["scheme"] if scheme == "robust" else lp.scheme, dtype=float)
    state_ids = {pid: catalogue.ids[int(s)] for pid, s in zip(rates.problem_ids, states)}
    counts = {i: int(np.sum(states == k)) for k, i in enumerate(catalogue.ids)}
    details = {
        "scheme_used": scheme,
        "follow_cost": follow_cost,
        "scheme": chosen.tolist(),
        "empirical_game": emp.to_dict(),
        "plugin": lp.to_dict(emp.game),
        "robust": robust,
        "full_disclosure_value": full_disclosure(emp.game).value,
        "no_disclosure_value": no_disclosure(emp.game).value,
        "state_counts": counts,
        "states": state_ids,
        "mean_rate": dict(zip(catalogue.ids, rates.rates.mean(axis=0).tolist())),
        "oracle_rate": float(rates.rates.max(axis=1).mean()),
        "problems": len(rates.problem_ids),
    }
    if path is not None:
        write_json_atomic(path, details)
    return GameResult(chosen, scheme, state_ids, details)


def load_game(details: Mapping[str, Any]) -> GameResult:
    """A :class:`GameResult` from ``game.json``'s content."""
    return GameResult(np.asarray(details["scheme"], dtype=float), details["scheme_used"], details["states"], details)

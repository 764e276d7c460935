"""The empirical persuasion game estimated from Receiver outcomes, ready for :func:`persuasion.solve`.

One record (:class:`Outcome`) is one Receiver answer: on problem ``x`` the Advisor observed item ``omega``
(``item``, the state), its signal spoke for item ``a`` (``signal_item``, the recommendation), the Receiver answered
and was ``correct`` (0/1, or a fraction such as the share of unit tests passed). Its action is the item it acted on:
``followed`` when recorded (e.g. the mode of its measured posterior ``mu_x^g``), else ``signal_item`` (obedience).

With ``N[omega, a]`` records and ``S[omega, a]`` summed correctness in cell ``(omega, a)``, smoothing ``alpha > 0``:

.. math::

    u_S(\\omega, a) = \\frac{S_{\\omega a} + \\alpha}{N_{\\omega a} + 2\\alpha}, \\qquad
    \\mathrm{se}(\\omega, a) = \\sqrt{\\frac{u_S(1 - u_S)}{N_{\\omega a} + 2\\alpha + 1}},

the mean and standard deviation of the Beta(``alpha + S``, ``alpha + N - S``) posterior (``alpha = 1``: Laplace's
rule of succession). The prior counts each distinct ``(problem, item)`` pair once, ``P_omega`` pairs in state
``omega`` and ``P`` in all: ``mu0(omega) = (P_omega + alpha) / (P + m alpha)`` (Dirichlet posterior mean), or a
given vector (e.g. the Receiver's mean measured prior :func:`llm.game.beliefs.mean_belief`).

Receiver utility, ``receiver=``:

* ``"match"`` (default): ``u_R(omega, a) = 1[a = omega]``. The Receiver wants to act on the true item, so its best
  response to a belief is the belief's mode: it is consistent with acting on ``argmax mu_x^g``.
* ``"success"``: ``u_R = u_S``. A Receiver that cares about correctness exactly as the Advisor does (aligned
  interests; full disclosure is then optimal).
* ``"success"`` with ``follow_cost = c > 0``: ``u_R(omega, a) = u_S(omega, a) - c 1[a != none]``. The Receiver pays
  ``c`` to act on a hint, so it ignores a hint whose expected gain is below ``c`` and the Advisor gains by pooling
  states (docs/method.md, "A game where commitment matters").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, Union

import numpy as np

from llm.game.catalogue import NONE_ID, Catalogue
from persuasion.errors import GameError
from persuasion.game import Game

RECEIVER_UTILITIES = ("match", "success")
PRIORS = ("empirical", "uniform")


@dataclass(frozen=True)
class Outcome:
    """One Receiver answer.

    Attributes:
        problem_id: the problem ``x``.
        item: id of the item ``omega`` the Advisor observed (the state).
        signal_item: id of the item the Advisor's signal spoke for (the recommended action).
        correct: the Receiver's score in ``[0, 1]`` (a bool is 0 or 1).
        followed: id of the item the Receiver acted on, when measured; ``None`` means ``signal_item``.
    """

    problem_id: str
    item: str
    signal_item: str
    correct: float
    followed: str | None = None

    @property
    def action(self) -> str:
        """The item the Receiver acted on: ``followed``, else ``signal_item``."""
        return self.signal_item if self.followed is None else self.followed

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Outcome":
        """Reads the fields above from a dict; other keys (a result row's ``key``, texts, ...) are ignored."""
        if not isinstance(row, Mapping):
            raise GameError(f"a record must be an Outcome or a dict, got {type(row).__name__}")
        missing = [k for k in ("problem_id", "item", "signal_item", "correct") if k not in row]
        if missing:
            raise GameError(f"record is missing the field(s) {', '.join(missing)}")
        return cls(str(row["problem_id"]), row["item"], row["signal_item"], row["correct"], row.get("followed"))


Record = Union[Outcome, Mapping[str, Any]]


@dataclass(frozen=True, eq=False)
class EmpiricalGame:
    """A persuasion game estimated from records, with the counts and standard errors behind it.

    Attributes:
        game: the :class:`persuasion.Game`: states and actions are the catalogue's item ids.
        catalogue: the items.
        counts: ``N[omega, a]``, records per (state, action), shape ``(m, m)``.
        successes: ``S[omega, a]``, summed correctness, shape ``(m, m)``.
        sender_se: standard error of ``u_S``, shape ``(m, m)``.
        state_counts: ``P_omega``, distinct (problem, item) pairs per state, shape ``(m,)``.
        prior_se: standard error of ``mu0`` (zeros when the prior was given, not estimated), shape ``(m,)``.
        alpha: the smoothing pseudo-count.
        receiver: ``"match"`` or ``"success"``.
        prior_source: ``"empirical"``, ``"uniform"`` or ``"given"``.
    """

    game: Game
    catalogue: Catalogue
    counts: np.ndarray
    successes: np.ndarray
    sender_se: np.ndarray
    state_counts: np.ndarray
    prior_se: np.ndarray
    alpha: float
    receiver: str
    prior_source: str

    @property
    def n_records(self) -> int:
        """Number of records the game was estimated from."""
        return int(self.counts.sum())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the game (as :meth:`persuasion.Game.to_dict`) plus the statistics."""
        return {
            "game": self.game.to_dict(),
            "catalogue": self.catalogue.task,
            "counts": self.counts.tolist(),
            "successes": self.successes.tolist(),
            "sender_se": self.sender_se.tolist(),
            "state_counts": self.state_counts.tolist(),
            "prior_se": self.prior_se.tolist(),
            "alpha": self.alpha,
            "receiver": self.receiver,
            "prior_source": self.prior_source,
        }


def _outcome(record: Record, k: int, catalogue: Catalogue) -> tuple[str, int, int, float]:
    try:
        rec = record if isinstance(record, Outcome) else Outcome.from_dict(record)
    except GameError as exc:
        raise GameError(f"record {k}: {exc}") from None
    ids = catalogue.ids
    for field_name in ("item", "signal_item", "followed"):
        value = getattr(rec, field_name)
        if field_name == "followed" and value is None:
            continue
        if value not in ids:
            raise GameError(
                f"record {k}: {field_name} {value!r} is not in catalogue '{catalogue.task}' (ids: {', '.join(ids)})"
            )
    correct = rec.correct
    if isinstance(correct, (bool, np.bool_)):
        correct = float(correct)
    try:
        score = float(correct)
    except (TypeError, ValueError):
        raise GameError(f"record {k}: correct must be a number in [0, 1] or a bool, got {correct!r}") from None
    if not (math.isfinite(score) and 0.0 <= score <= 1.0):
        raise GameError(f"record {k}: correct must be in [0, 1], got {score!r}")
    return str(rec.problem_id), ids.index(rec.item), ids.index(rec.action), score


def _none_index(catalogue: Catalogue) -> int:
    """The index of ``none`` (-1 when the catalogue has none: then no action is free)."""
    return catalogue.index(NONE_ID) if NONE_ID in catalogue.ids else -1


def estimate_game(
    records: Sequence[Record],
    catalogue: Catalogue,
    *,
    alpha: float = 1.0,
    prior: str | Sequence[float] | np.ndarray = "empirical",
    receiver: str = "match",
    name: str | None = None,
    follow_cost: float = 0.0,
) -> EmpiricalGame:
    """Estimates the persuasion game over the catalogue's items from Receiver outcomes (definitions in the module doc).

    Args:
        records: :class:`Outcome` objects or dicts with the same keys.
        catalogue: the ``m`` items; states and actions are both indexed by it.
        alpha: smoothing pseudo-count, ``> 0`` (1 is Laplace).
        prior: ``"empirical"`` (smoothed state frequencies), ``"uniform"``, or a vector ``mu0`` of shape ``(m,)``.
        receiver: ``"match"`` (``u_R = identity``) or ``"success"`` (``u_R = u_S - c 1[a != none]``).
        name: the game's name (default ``"<task> (empirical)"``).
        follow_cost: ``c`` in ``[0, 1]``, the Receiver's cost of acting on a hint (``"success"`` only; the catalogue
            needs a ``none`` item when ``c > 0``).

    Returns:
        The :class:`EmpiricalGame`; ``persuasion.solve(result.game)`` gives the optimal scheme.

    Example:
        >>> from llm.game.catalogue import load_catalogue
        >>> cat = load_catalogue("math")
        >>> recs = [Outcome("p1", "work_backwards", "work_backwards", 1.0),
        ...         Outcome("p1", "work_backwards", "unit_rates", 0.0)]
        >>> emp = estimate_game(recs, cat)
        >>> round(float(emp.game.sender_utility[cat.index("work_backwards"), cat.index("unit_rates")]), 3)
        0.333
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (math.isfinite(alpha) and alpha > 0):
        raise GameError(f"alpha must be a positive finite number, got {alpha!r}")
    if receiver not in RECEIVER_UTILITIES:
        raise GameError(f"receiver must be one of {', '.join(RECEIVER_UTILITIES)}, got {receiver!r}")
    if isinstance(follow_cost, bool) or not isinstance(follow_cost, (int, float)) or not 0 <= follow_cost <= 1:
        raise GameError(f"follow_cost must be a number in [0, 1], got {follow_cost!r}")
    if follow_cost > 0 and (receiver != "success" or NONE_ID not in catalogue.ids):
        raise GameError("follow_cost > 0 needs receiver='success' and a catalogue with the 'none' item")
    if isinstance(records, (str, bytes, Mapping)) or not hasattr(records, "__iter__"):
        raise GameError(f"records must be a sequence of Outcome or dict, got {type(records).__name__}")
    records = list(records)
    if not records:
        raise GameError("no records: the game needs at least one Receiver outcome")
    m = catalogue.m
    counts = np.zeros((m, m))
    successes = np.zeros((m, m))
    pairs: set[tuple[str, int]] = set()
    for k, record in enumerate(records):
        problem, state, action, score = _outcome(record, k, catalogue)
        counts[state, action] += 1
        successes[state, action] += score
        pairs.add((problem, state))
    u_s = (successes + alpha) / (counts + 2 * alpha)
    sender_se = np.sqrt(u_s * (1 - u_s) / (counts + 2 * alpha + 1))
    state_counts = np.bincount([s for _, s in pairs], minlength=m).astype(float)
    if isinstance(prior, str):
        if prior not in PRIORS:
            raise GameError(f"prior must be one of {', '.join(PRIORS)} or a vector, got {prior!r}")
        if prior == "empirical":
            total = state_counts.sum() + m * alpha
            mu0 = (state_counts + alpha) / total
            prior_se = np.sqrt(mu0 * (1 - mu0) / (total + 1))
        else:
            mu0, prior_se = np.full(m, 1.0 / m), np.zeros(m)
        source = prior
    else:
        mu0, prior_se, source = prior, np.zeros(m), "given"
    u_r = np.eye(m) if receiver == "match" else u_s - float(follow_cost) * (np.arange(m) != _none_index(catalogue))
    game = Game(
        mu0,
        u_s,
        u_r,
        state_names=catalogue.ids,
        action_names=catalogue.ids,
        name=f"{catalogue.task} (empirical)" if name is None else name,
    )
    for arr in (counts, successes, sender_se, state_counts, prior_se):
        arr.setflags(write=False)
    return EmpiricalGame(game, catalogue, counts, successes, sender_se, state_counts, prior_se, float(alpha),
                         receiver, source)

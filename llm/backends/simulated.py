"""A simulated Receiver with a known optimum: the ground truth that shows the persuasion machinery works.

The Receiver answers the synthetic task's problems (:mod:`llm.tasks.synthetic`), whose templates are the problem
*groups* ``g``. Its behaviour is fixed by a frozen :class:`SimulatedSpec`:

* ``success[g][a]``: the probability ``p(g, a)`` that its answer is correct when it *acts on* item ``a`` (an item id
  of the catalogue, ``"none"`` = no information);
* ``obedience`` ``rho``: when the prompt carries item ``a``'s information, it acts on ``a`` with probability
  ``rho`` and on ``"none"`` otherwise; with no item in the prompt it acts on ``"none"``;
* ``prior``: its belief over the items when the prompt carries no information;
* ``hint_noise`` ``s`` (default 0): every distinct prompt ``t`` of a problem ``x`` shifts the success probability by
  ``s z(x, t)``, ``z`` uniform on ``[-1, 1]`` and fixed per (spec seed, question, prompt text). This is what a real
  Receiver does under any change of its prompt (a content-free hint included): a per-problem perturbation that no
  feature of the question predicts. With ``s = 0`` the Receiver is the group model below exactly.
* ``follow_cost`` ``c``: once the Advisor has published (committed to) its scheme
  (:meth:`SimulatedReceiver.committed_to`), the Receiver acts on a hint only when its posterior expected gain is
  at least ``c``, and otherwise answers as with no information; :func:`committed_value` is the exact value of any
  scheme against it. Before a commitment it acts on every hint as above.

So (with ``s = 0``) the success probability of a prompt carrying item ``a`` on a problem of group ``g`` is

.. math:: v(g, a) = \\rho\\, p(g, a) + (1 - \\rho)\\, p(g, \\text{none})

(so ``v(g, none) = p(g, none)``),

the best item of a group is ``a*(g) = argmax_a v(g, a)`` (``"none"`` when every hint lowers success), and the
optimal per-group choice has the exact value ``sum_g w_g max_a v(g, a)`` (:meth:`SimulatedSpec.optimal_value`).

:class:`SimulatedReceiver` implements :class:`llm.lm.LanguageModel`:

* ``generate``: finds the problem (the last line of the prompt, after an optional ``"Label:"`` prefix, whose text is
  a generated synthetic question: :func:`llm.tasks.synthetic.find`), the item whose name or ``hint_text`` occurs in
  the rest of the prompt (the ``"Possible approaches:"`` options line of belief prompts is ignored; the earliest
  occurrence wins, the longer text on a tie), and draws the action and the outcome with :func:`respond` from
  uniforms that depend only on ``(spec.seed, question, sample)``: common random numbers, so the same sample of the
  same question succeeds under item ``a`` whenever it succeeds under any item ``b`` with ``p(g, b) <= p(g, a)``
  (and the Receiver obeyed in both). ``temperature = 0``: sample ``"greedy"`` (deterministic per prompt, whatever
  the ``seed``); ``temperature > 0``: sample ``seed + j`` where ``j`` counts earlier copies of the same prompt in
  the call, so ``k`` copies of a prompt in one call are the ``k`` samples of ``k`` calls with seeds
  ``seed, ..., seed + k - 1``. A correct answer is the problem's worked solution; a wrong one is the same steps ending in a wrong
  number (:func:`llm.tasks.synthetic.with_final_answer`). ``max_new_tokens`` does not cut the text; token counts
  are whitespace-separated words.
* ``logprob``: for a belief continuation ``" <item name>."`` (:func:`llm.game.beliefs.belief_requests`) it returns
  ``log mu(item)`` with ``mu`` the prior, or ``rho * delta_a + (1 - rho) * prior`` when the prompt carries item
  ``a``'s information, so :func:`llm.game.beliefs.receiver_beliefs` recovers exactly these beliefs. Other continuations
  raise a one-line :class:`~llm.lm.LMError`.

``load_model("simulated")`` gives the Receiver of :func:`default_spec`; ``load_model("simulated:PATH.json")`` one of
a spec file (:meth:`SimulatedSpec.to_json` writes one).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

from llm.backends.registry import LoadOptions
from llm.game.catalogue import NONE_ID, Catalogue, CatalogueError, load_catalogue
from llm.lm import Capabilities, Generation, LMError, Prompt, check_continuations, check_prompts, check_sampling
from llm.tasks.base import Problem
from llm.tasks.synthetic import find, with_final_answer

#: Tolerance on "sums to 1" for the prior.
PRIOR_TOL = 1e-6
#: The label line of belief prompts that lists every item (ignored when looking for the item in a prompt).
OPTIONS_PREFIX = "possible approaches:"
_LABEL = re.compile(r"^[A-Za-z][A-Za-z' ]{0,39}:\s*")


class SimulatedSpecError(LMError):
    """A malformed simulated-Receiver spec (one line, naming the field)."""


def _probability(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise SimulatedSpecError(f"{where} must be a probability in [0, 1], got {value!r}")
    return float(value)


@dataclass(frozen=True)
class SimulatedSpec:
    """The simulated Receiver's behaviour (see the module docstring for the model).

    Attributes:
        success: ``group -> item id -> p(g, a)``, the probability of a correct answer when acting on item ``a``;
            every row lists every item of the catalogue and ``"none"``.
        prior: ``item id -> mu0(a)``, the belief with no information in the prompt (on the simplex, same items).
        obedience: ``rho``, the probability of acting on the item whose information is in the prompt.
        seed: the seed of every draw (answers and obedience).
        catalogue: built-in catalogue name or path (its items plus ``"none"`` are the items).
        name: the model name the Receiver reports.
        hint_noise: ``s``, the half-width of the per-(problem, prompt) perturbation of the success probability.
        follow_cost: ``c``, what acting on a hint costs the Receiver once a scheme is committed to it
            (:meth:`SimulatedReceiver.committed_to`, :func:`committed_value`); without a commitment it is unused.

    Raises:
        SimulatedSpecError: a missing or unknown item or group, a value outside ``[0, 1]``, a prior that does not
            sum to 1, a non-integer seed.
    """

    success: Mapping[str, Mapping[str, float]]
    prior: Mapping[str, float]
    obedience: float = 0.9
    seed: int = 0
    catalogue: str = "math"
    name: str = "simulated"
    hint_noise: float = 0.0
    follow_cost: float = 0.0
    _cat: Catalogue = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            cat = load_catalogue(self.catalogue).with_none()
        except CatalogueError as exc:  # a GameError: re-raised as a spec error (an LMError), one line
            raise SimulatedSpecError(f"simulated spec catalogue: {exc}") from None
        object.__setattr__(self, "_cat", cat)
        items = set(cat.ids)
        if not isinstance(self.success, Mapping) or not self.success:
            raise SimulatedSpecError("simulated spec 'success' must be a non-empty mapping group -> item -> p")
        rows: dict[str, Mapping[str, float]] = {}
        for group, row in self.success.items():
            if not isinstance(group, str) or not group:
                raise SimulatedSpecError(f"simulated spec group names must be non-empty str, got {group!r}")
            if not isinstance(row, Mapping):
                raise SimulatedSpecError(f"simulated spec success[{group!r}] must be a mapping item -> p")
            self._check_items(set(row), items, f"success[{group!r}]")
            rows[group] = MappingProxyType(
                {i: _probability(row[i], f"success[{group!r}][{i!r}]") for i in cat.ids}
            )
        object.__setattr__(self, "success", MappingProxyType(rows))
        if not isinstance(self.prior, Mapping):
            raise SimulatedSpecError("simulated spec 'prior' must be a mapping item -> probability")
        self._check_items(set(self.prior), items, "prior")
        prior = {i: _probability(self.prior[i], f"prior[{i!r}]") for i in cat.ids}
        if abs(sum(prior.values()) - 1.0) > PRIOR_TOL:
            raise SimulatedSpecError(f"simulated spec prior sums to {sum(prior.values())!r}, not 1")
        object.__setattr__(self, "prior", MappingProxyType(prior))
        object.__setattr__(self, "obedience", _probability(self.obedience, "obedience"))
        object.__setattr__(self, "hint_noise", _probability(self.hint_noise, "hint_noise"))
        object.__setattr__(self, "follow_cost", _probability(self.follow_cost, "follow_cost"))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise SimulatedSpecError(f"simulated spec seed must be an int, got {self.seed!r}")
        if not isinstance(self.name, str) or not self.name:
            raise SimulatedSpecError(f"simulated spec name must be a non-empty str, got {self.name!r}")

    def _check_items(self, got: set, items: set, where: str) -> None:
        missing, unknown = sorted(items - got), sorted(map(str, got - items))
        problems = ([f"missing items {missing}"] if missing else []) + ([f"unknown items {unknown}"] if unknown else [])
        if problems:
            raise SimulatedSpecError(
                f"simulated spec {where}: {'; '.join(problems)} (catalogue {self.catalogue!r} plus 'none')"
            )

    # --- the items and groups -----------------------------------------------------------------------------------
    @property
    def catalogue_items(self) -> Catalogue:
        """The catalogue with the ``none`` item: the items, in the order of every array below."""
        return self._cat

    @property
    def items(self) -> tuple[str, ...]:
        """Item ids in catalogue order (``"none"`` included)."""
        return self._cat.ids

    @property
    def groups(self) -> tuple[str, ...]:
        """Group names in spec order."""
        return tuple(self.success)

    @property
    def none_index(self) -> int:
        """The index of ``"none"`` in :attr:`items`."""
        return self.items.index(NONE_ID)

    def group_index(self, group: str) -> int:
        """The row of ``group`` in :meth:`success_table`; a one-line error for an unknown group."""
        try:
            return self.groups.index(group)
        except ValueError:
            known = ", ".join(self.groups)
            raise SimulatedSpecError(f"simulated spec has no group {group!r} (groups: {known})") from None

    # --- the exact quantities ---------------------------------------------------------------------------------------
    def success_table(self) -> np.ndarray:
        """``p[g, a]``, shape ``(G, m)``: groups in :attr:`groups` order, items in :attr:`items` order."""
        return np.array([[self.success[g][i] for i in self.items] for g in self.groups], dtype=float)

    def prior_vector(self) -> np.ndarray:
        """``mu0``, shape ``(m,)`` in :attr:`items` order."""
        return np.array([self.prior[i] for i in self.items], dtype=float)

    def belief(self, item: str | None = None) -> np.ndarray:
        """The Receiver's belief: the prior (``item=None``) or ``rho * delta_item + (1 - rho) * prior``."""
        mu = (1.0 - self.obedience) * self.prior_vector() if item is not None else self.prior_vector()
        if item is not None:
            mu[self.items.index(item)] += self.obedience
        return mu

    def value_table(self) -> np.ndarray:
        """``v[g, a] = rho p[g, a] + (1 - rho) p[g, none]``, shape ``(G, m)``: success with item ``a``'s hint."""
        p = self.success_table()
        return self.obedience * p + (1.0 - self.obedience) * p[:, [self.none_index]]

    def value(self, group: str, item: str) -> float:
        """``v(g, a)``: the probability of a correct answer on group ``g`` when the prompt carries item ``a``."""
        return float(self.value_table()[self.group_index(group), self.items.index(item)])

    def best_item(self, group: str) -> str:
        """``a*(g) = argmax_a v(g, a)`` (the first in catalogue order on a tie; ``"none"`` when silence is best)."""
        return self.items[int(np.argmax(self.value_table()[self.group_index(group)]))]

    def group_weight_vector(self, group_weights: Mapping[str, float] | None = None) -> np.ndarray:
        """Normalised group weights in :attr:`groups` order (uniform when ``None``: the synthetic generator's)."""
        if group_weights is None:
            return np.full(len(self.groups), 1.0 / len(self.groups))
        unknown = sorted(set(group_weights) - set(self.groups))
        if unknown:
            raise SimulatedSpecError(f"group_weights name unknown groups {unknown}")
        w = np.array([float(group_weights.get(g, 0.0)) for g in self.groups])
        if np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise SimulatedSpecError("group_weights must be finite, non-negative and not all 0")
        return w / w.sum()

    def optimal_value(self, group_weights: Mapping[str, float] | None = None) -> float:
        """``sum_g w_g max_a v(g, a)``: the success rate of the best per-group choice (weights normalised)."""
        return float(self.group_weight_vector(group_weights) @ self.value_table().max(axis=1))

    def item_value(self, item: str, group_weights: Mapping[str, float] | None = None) -> float:
        """``sum_g w_g v(g, item)``: the success rate of sending ``item`` on every problem (``"none"``: baseline)."""
        return float(self.group_weight_vector(group_weights) @ self.value_table()[:, self.items.index(item)])

    # --- JSON -------------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that :meth:`from_dict` reads back."""
        return {
            "name": self.name, "catalogue": self.catalogue, "obedience": self.obedience, "seed": self.seed,
            "hint_noise": self.hint_noise, "follow_cost": self.follow_cost, "prior": dict(self.prior),
            "success": {g: dict(r) for g, r in self.success.items()},
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "simulated spec") -> SimulatedSpec:
        """Reads :meth:`to_dict`'s format (``follow_cost`` may be absent: 0); unknown keys are an error."""
        if not isinstance(data, Mapping):
            raise SimulatedSpecError(f"{where} must be a JSON object, got {type(data).__name__}")
        keys = {"name", "catalogue", "obedience", "seed", "prior", "success", "hint_noise", "follow_cost"}
        unknown = sorted(set(data) - keys)
        if unknown or "success" not in data or "prior" not in data:
            raise SimulatedSpecError(
                f"{where}: unknown keys {unknown}" if unknown else f"{where} needs 'success' and 'prior'"
            )
        return cls(**{k: data[k] for k in keys if k in data})

    def to_json(self, path: str | Path | None = None) -> str:
        """The spec as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


def load_spec(path: str | Path | None = None) -> SimulatedSpec:
    """The spec in the JSON file ``path``, a built-in spec by name (:data:`SPECS`: ``grouped``, ``unlearnable``), or
    :func:`default_spec` when ``path`` is ``None`` (one-line errors)."""
    if path is None:
        return default_spec()
    if str(path) in SPECS:
        return SPECS[str(path)]()
    p = Path(path)
    if not p.is_file():
        raise SimulatedSpecError(f"simulated spec file not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SimulatedSpecError(f"simulated spec {p} is not valid JSON: {exc}") from None
    return SimulatedSpec.from_dict(data, where=f"simulated spec {p.name}")


# --- the default spec: math catalogue x the synthetic task's templates ---------------------------------------------

#: Each synthetic template: ``(p(g, none), {item: p(g, item)})``; unlisted items distract: ``p(g, none) - 0.10``.
#: Different groups need different items, and on ``sharing`` and ``savings`` every hint lowers success.
DEFAULT_SUCCESS: Mapping[str, tuple[float, Mapping[str, float]]] = MappingProxyType({
    "ages": (0.30, {"write_equation": 0.70, "break_into_steps": 0.38, "guess_and_check": 0.40}),
    "discount": (0.40, {"fractions_percents": 0.78, "break_into_steps": 0.47}),
    "distance": (0.50, {"make_table": 0.76, "unit_rates": 0.60, "break_into_steps": 0.60}),
    "fraction": (0.35, {"fractions_percents": 0.75, "break_into_steps": 0.42}),
    "harvest": (0.45, {"break_into_steps": 0.80, "make_table": 0.60}),
    "production": (0.40, {"break_into_steps": 0.80, "unit_rates": 0.50}),
    "reading": (0.50, {"work_backwards": 0.68, "break_into_steps": 0.62}),
    "savings": (0.75, {"break_into_steps": 0.68}),
    "sharing": (0.70, {"break_into_steps": 0.63}),
    "shopping": (0.55, {"unit_rates": 0.85, "break_into_steps": 0.60}),
})
#: The default Receiver's prior belief: it favours "break into steps" (unlisted items share the rest equally).
DEFAULT_PRIOR: Mapping[str, float] = MappingProxyType({"break_into_steps": 0.30, "write_equation": 0.15, NONE_ID: 0.10})
DISTRACTION = 0.10


def default_spec(*, obedience: float = 0.9, seed: int = 0, catalogue: str = "math") -> SimulatedSpec:
    """The default Receiver: :data:`DEFAULT_SUCCESS` over the synthetic templates, :data:`DEFAULT_PRIOR`, ``rho = 0.9``.

    Items of the catalogue that :data:`DEFAULT_SUCCESS` does not list get ``p(g, none) - DISTRACTION``, so a catalogue
    with more items still gives a valid spec (the table's items must exist in it).
    """
    return _table_spec(DEFAULT_SUCCESS, "default", obedience=obedience, seed=seed, catalogue=catalogue)


def _table_spec(table: Mapping[str, tuple[float, Mapping[str, float]]], what: str, **kwargs: Any) -> SimulatedSpec:
    """A spec from ``group -> (p(g, none), {item: p(g, item)})`` (unlisted items: ``p(g, none) - DISTRACTION``) and
    :data:`DEFAULT_PRIOR`; ``kwargs`` are the other :class:`SimulatedSpec` fields."""
    catalogue = kwargs.get("catalogue", "math")
    ids = load_catalogue(catalogue).with_none().ids
    success: dict[str, dict[str, float]] = {}
    for group, (p_none, special) in table.items():
        unknown = sorted(set(special) - set(ids))
        if unknown:
            raise SimulatedSpecError(f"the {what} spec needs items {unknown}, missing from catalogue {catalogue!r}")
        success[group] = {i: special.get(i, p_none if i == NONE_ID else round(p_none - DISTRACTION, 6)) for i in ids}
    rest = [i for i in ids if i not in DEFAULT_PRIOR]
    left = 1.0 - sum(DEFAULT_PRIOR[i] for i in ids if i in DEFAULT_PRIOR)
    prior = {i: DEFAULT_PRIOR.get(i, left / len(rest)) for i in ids}
    return SimulatedSpec(success, prior, **kwargs)


#: The game where commitment matters (docs/method.md, "A game where commitment matters"): on ``harvest``,
#: ``production`` and ``savings`` the Receiver fails without help and "check with estimation" catches its slips; on
#: four templates it mostly succeeds anyway, and "write an equation" (or "check with estimation", nearly as good)
#: adds less than the cost of acting on a hint; on ``discount`` and ``fraction`` "convert fractions and percents"
#: pays on its own; on ``sharing`` every hint hurts.
COMMITMENT_SUCCESS: Mapping[str, tuple[float, Mapping[str, float]]] = MappingProxyType({
    **{g: (0.30, {"estimate_check": 0.95}) for g in ("harvest", "production", "savings")},
    "discount": (0.35, {"fractions_percents": 0.95}),
    "fraction": (0.35, {"fractions_percents": 0.95}),
    **{g: (0.75, {"write_equation": 0.95, "estimate_check": 0.93})
       for g in ("ages", "distance", "reading", "shopping")},
    "sharing": (0.70, {"break_into_steps": 0.63}),
})
#: The cost ``c`` of acting on a hint in :func:`commitment_spec`: above every gain ``v(g, a) - v(g, none)`` on the four
#: templates the Receiver mostly solves anyway, below the pooled gain of "check with estimation".
COMMITMENT_COST = 0.3


def commitment_spec(*, follow_cost: float = COMMITMENT_COST, obedience: float = 0.9, seed: int = 0,
                    catalogue: str = "math") -> SimulatedSpec:
    """A Receiver for which the committed scheme beats full disclosure: :data:`COMMITMENT_SUCCESS`, cost ``c``.

    Revealing the helpful item leaves the four templates it mostly solves anyway without help (their gains are below
    ``c``); the LP's scheme recommends "check with estimation" there too, pooled with ``harvest``, ``production``
    and ``savings``, and is obeyed (:func:`committed_value`; the numbers are in docs/method.md).
    """
    return _table_spec(COMMITMENT_SUCCESS, "commitment", obedience=obedience, seed=seed, catalogue=catalogue,
                       name="simulated-commitment", follow_cost=follow_cost)


def unlearnable_spec(*, harm: float = 0.10, hint_noise: float = 0.35, seed: int = 0,
                     catalogue: str = "math") -> SimulatedSpec:
    """A Receiver on which nothing is learnable from the question: every item lowers every group's success by
    ``harm`` on average, and every prompt (item hint or not) perturbs it by ``hint_noise * z(x, t)``
    (:class:`SimulatedSpec`). Some item beats silence on many single problems, but which one is a per-problem
    accident, no better than a content-free hint's. The do-no-harm Advisor must stay silent here."""
    cat = load_catalogue(catalogue).with_none()
    success = {g: {i: p_none if i == NONE_ID else round(max(0.0, p_none - harm), 6) for i in cat.ids}
               for g, (p_none, _) in DEFAULT_SUCCESS.items()}
    base = default_spec(catalogue=catalogue)
    return SimulatedSpec(success, dict(base.prior), obedience=base.obedience, seed=seed, catalogue=catalogue,
                         name="simulated-unlearnable", hint_noise=hint_noise)


#: Built-in specs by name (``load_model("simulated:<name>")``): item effects that follow the problem groups, and
#: item effects that are per-problem accidents (:func:`unlearnable_spec`).
SPECS: Mapping[str, Any] = MappingProxyType({"grouped": default_spec, "unlearnable": unlearnable_spec})


# --- the response rule, shared with experiments/bpa_regret.py -------------------------------------------------------

def respond(success: Any, obedience: Any, none_index: int, group: Any, item: Any, u_obey: Any, u_correct: Any,
            offset: Any = 0.0):
    """The simulated Receiver's action and outcome, elementwise over NumPy or JAX arrays.

    .. math:: a = \\text{item if } u_{obey} < \\rho \\text{ else none}, \\qquad
              \\text{correct} = u_{correct} < p[g, a] + \\text{offset}

    (``offset``: the prompt's perturbation ``s z(x, t)``; ``u < p + offset`` is ``u < clip(p + offset, 0, 1)``).

    Args:
        success: ``p``, shape ``(G, m)`` (:meth:`SimulatedSpec.success_table`).
        obedience: ``rho``.
        none_index: the index of ``"none"``.
        group, item: group and item indices (the item whose information is in the prompt; ``none_index`` if none).
        u_obey, u_correct: uniforms in ``[0, 1)``; the same ones across items give common random numbers.

    Returns:
        ``(acted, correct)``: the item index acted on and a boolean.
    """
    follow = u_obey < obedience
    acted = follow * item + (1 - follow) * none_index
    return acted, u_correct < success[group, acted] + offset


# --- the Receiver ---------------------------------------------------------------------------------------------------

def _text(prompt: Prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n".join(str(m["content"]) for m in prompt)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def uniform(*parts: Any) -> float:
    """A uniform in ``[0, 1)`` from a hash of ``parts`` (stable across runs, platforms and Python versions)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


class Reading(NamedTuple):
    """What the Receiver reads in a prompt."""

    problem: Problem | None  # the synthetic problem asked (None: no known question)
    item: str | None  # the item whose information is in the prompt (None: none)


class Decision(NamedTuple):
    """One simulated answer: what the Receiver read, did and got."""

    problem_id: str
    group: str
    item: str  # the item whose information was in the prompt ("none" if none)
    acted: str  # the item acted on
    correct: bool


class SimulatedReceiver:
    """A :class:`llm.lm.LanguageModel` whose answers follow a :class:`SimulatedSpec` (see the module docstring).

    Args:
        spec: the behaviour; :func:`default_spec` when ``None``.
        name: the reported model name (default ``spec.name``).

    Example:
        >>> from llm.tasks.synthetic import synthetic_arithmetic
        >>> rx = SimulatedReceiver()
        >>> p = synthetic_arithmetic(1, seed=0)[0]
        >>> rx.read("Question: " + p.question + "\\nAnswer:").problem.group == p.group
        True
    """

    def __init__(self, spec: SimulatedSpec | None = None, *, name: str | None = None) -> None:
        self.spec = default_spec() if spec is None else spec
        if not isinstance(self.spec, SimulatedSpec):
            raise SimulatedSpecError(f"spec must be a SimulatedSpec, got {type(self.spec).__name__}")
        self.name = name or self.spec.name
        self.capabilities = Capabilities(chat_template=False, token_logprobs=True, white_box=False)
        self._table = self.spec.success_table()
        cat = self.spec.catalogue_items
        patterns = []
        for item in cat.items:
            for text in (item.name, item.hint_text):
                if _norm(text):
                    patterns.append((_norm(text), item.id))
        self._patterns = [(re.compile(r"(?<!\w)" + re.escape(t) + r"(?!\w)"), t, i) for t, i in patterns]
        self._names = {_norm(item.name): item.id for item in cat.items}
        self._obey: tuple[bool, ...] | None = None  # per item: a hint acted on (None: no scheme committed, all are)

    # --- commitment -------------------------------------------------------------------------------------------
    def committed_to(self, scheme: Any, states: Sequence[str], items: Sequence[str] | None = None,
                     group_weights: Mapping[str, float] | None = None) -> SimulatedReceiver:
        """This Receiver after the Advisor has published its scheme: it acts on a hint only if it pays ``c``.

        The publication is the commitment (Kamenica and Gentzkow's Sender commits before seeing the state): the
        Receiver reads ``scheme`` (rows ``states``, columns ``items``), maps each group to the state the Advisor
        observes (:func:`group_states`) and, for each item, decides once whether a hint for it is worth
        ``spec.follow_cost`` (:func:`committed_value`'s ``obeyed``). Every hint it reads afterwards, from any
        condition, is judged so; an ignored hint is answered, and believed, as no information (the same draws as
        the baseline). Without a commitment it acts on every hint (obedience ``rho``), as when feedback is
        collected.

        Args:
            scheme: ``pi[s, sigma]``, shape ``(S, m)``.
            states: the item id of each row.
            items: the item id of each column (default: :attr:`SimulatedSpec.items`, which it must equal).
            group_weights: the Receiver's prior over groups (uniform when ``None``: the synthetic generator's).

        Returns:
            A new Receiver (this one is unchanged).
        """
        if items is not None and tuple(items) != self.spec.items:
            raise SimulatedSpecError(f"the committed scheme's signals {list(items)} are not the Receiver's items "
                                     f"{list(self.spec.items)}")
        out = SimulatedReceiver(self.spec, name=self.name)
        result = committed_value(self.spec, scheme, group_states(self.spec, states), group_weights)
        out._obey = tuple(bool(b) for b in result.obeyed)
        return out

    @property
    def obeyed(self) -> dict[str, bool] | None:
        """Whether a hint for each item is acted on (``None`` before a commitment: every hint is)."""
        return None if self._obey is None else dict(zip(self.spec.items, self._obey))

    def _uses(self, item: str) -> str:
        """The information the Receiver uses when the prompt carries ``item``'s: ``item``, or ``none`` if ignored."""
        k = self.spec.items.index(item)
        return item if self._obey is None or self._obey[k] else NONE_ID

    # --- reading a prompt -------------------------------------------------------------------------------------
    def read(self, prompt: Prompt) -> Reading:
        """The problem (last line holding a known synthetic question) and the item in the rest of the prompt."""
        lines = _text(prompt).splitlines()
        problem, question_lines = None, set()
        for k, line in enumerate(lines):
            for candidate in (line, _LABEL.sub("", line.strip(), count=1)):
                found = find(candidate) if candidate.strip() else None
                if found is not None:
                    problem = found
                    question_lines.add(k)
                    break
        rest = " ".join(
            line for k, line in enumerate(lines)
            if k not in question_lines and not _norm(line).startswith(OPTIONS_PREFIX)
        )
        return Reading(problem, self._item_in(_norm(rest)))

    def _item_in(self, text: str) -> str | None:
        best: tuple[int, int, str] | None = None
        for pattern, raw, item in self._patterns:
            match = pattern.search(text)
            if match is not None:
                key = (match.start(), -len(raw), item)
                if best is None or key < best:
                    best = key
        return None if best is None else best[2]

    def decide(self, prompts: Sequence[Prompt], temperature: float = 0.0, seed: int = 0) -> list[Decision]:
        """The Receiver's action and outcome for each prompt (what :meth:`generate` writes out as text).

        Raises:
            LMError: a prompt holds no known synthetic question, or its group is not in the spec (one line).
        """
        return [d for d, _ in self._decide(check_prompts(prompts), temperature, seed)]

    def _decide(self, prompts: Sequence[Prompt], temperature: float, seed: int) -> list[tuple[Decision, Problem]]:
        seen: dict[str, int] = {}
        out = []
        for k, prompt in enumerate(prompts):
            text = _text(prompt)
            reading = self.read(prompt)
            if reading.problem is None:
                first = next((line for line in text.splitlines() if line.strip()), "")
                raise LMError(
                    f"simulated receiver {self.name!r}: prompt {k} holds no known synthetic question "
                    f"(it answers only llm.tasks.synthetic problems; first line {first[:70]!r})"
                )
            problem = reading.problem
            if problem.group not in self.spec.success:
                raise LMError(f"simulated receiver {self.name!r}: prompt {k} is of group {problem.group!r}, "
                              f"which the spec does not list")
            if temperature > 0:  # copy c of seed s is the sample of seed s + c (the 0: keys of earlier versions)
                sample: tuple[Any, ...] = (seed + seen.get(text, 0), 0)
                seen[text] = seen.get(text, 0) + 1
            else:
                sample = ("greedy",)
            key = (self.spec.seed, problem.question, *sample)
            item = reading.item or NONE_ID
            offset = (self.spec.hint_noise * (2.0 * uniform(self.spec.seed, problem.question, text, "perturb") - 1.0)
                      if self.spec.hint_noise else 0.0)
            acted, correct = respond(
                self._table, self.spec.obedience, self.spec.none_index, self.spec.group_index(problem.group),
                self.spec.items.index(self._uses(item)), uniform(*key, "obey"), uniform(*key, "correct"), offset,
            )
            out.append((Decision(problem.id, problem.group, item, self.spec.items[int(acted)], bool(correct)), problem))
        return out

    # --- LanguageModel ----------------------------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Prompt],
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> list[Generation]:
        """One answer per prompt: the worked solution, with a wrong final number when the draw fails."""
        stops = check_sampling(max_new_tokens, temperature, seed, stop)
        prompts = check_prompts(prompts)
        out = []
        for prompt, (d, problem) in zip(prompts, self._decide(prompts, temperature, seed)):
            text = problem.solution
            if not d.correct:
                right = int(problem.answer)
                key = (self.spec.seed, problem.question, d.item, d.acted)
                text = with_final_answer(problem.solution, right + 1 + int(9 * uniform(*key, "wrong")))
            text = " " + text
            for s in stops:
                text = text.split(s, 1)[0]
            out.append(Generation(text, len(_text(prompt).split()), len(text.split()), "stop"))
        return out

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        """``log mu(item)`` for belief continuations ``" <item name>."`` (prior, or the posterior after an item)."""
        prompts = check_prompts(prompts)
        continuations = check_continuations(prompts, continuations)
        out = np.empty(len(prompts))
        beliefs: dict[str | None, np.ndarray] = {}
        for k, (prompt, cont) in enumerate(zip(prompts, continuations)):
            label = _norm(cont)
            label = label[:-1].rstrip() if label.endswith(".") else label
            if label not in self._names:
                raise LMError(
                    f"simulated receiver {self.name!r} scores only item names as continuations (\" <name>.\"), "
                    f"got {cont[:60]!r} for prompt {k}"
                )
            item = self.read(prompt).item
            if item not in beliefs:
                beliefs[item] = self.spec.belief(None if item is None or self._uses(item) != item else item)
            mass = beliefs[item][self.spec.items.index(self._names[label])]
            out[k] = math.log(mass) if mass > 0 else -math.inf
        return out



# --- the persuasion game of the simulated Receiver (the ground truth of experiments/bpa_regret.py) -----------------

#: Default cost ``c`` the Receiver pays for acting on a hint (see :func:`persuasion_game`).
FOLLOW_COST = 0.25


class SimulatedGame(NamedTuple):
    """The persuasion game whose states are the groups' helpful items.

    ``game.action_names`` are all items (:attr:`SimulatedSpec.items`); ``states[k]`` is the item id of state ``k``;
    ``group_state[g]`` is the state of group ``g`` (groups in :attr:`SimulatedSpec.groups` order).
    """

    game: Any  # persuasion.Game
    states: tuple[str, ...]
    group_state: np.ndarray  # shape=(G,), int


def persuasion_game(
    spec: SimulatedSpec, group_weights: Mapping[str, float] | None = None, follow_cost: float = FOLLOW_COST
) -> SimulatedGame:
    """The finite persuasion game the simulated Receiver induces, with a known optimum.

    The state of a problem of group ``g`` is its helpful item ``omega(g) = a*(g)``; the states are the distinct
    helpful items (``"none"`` where silence is best), with prior ``mu0(omega) = sum_{g: a*(g) = omega} w_g``. The
    Receiver's action is the item it acts on, and

    .. math::

        u_S(\\omega, a) = \\frac{\\sum_{g: a^*(g) = \\omega} w_g\\, v(g, a)}{\\mu_0(\\omega)}, \\qquad
        u_R(\\omega, a) = u_S(\\omega, a) - c\\, 1[a \\ne \\text{none}]:

    the Advisor wants a correct answer; the Receiver wants one too but pays ``c`` (``follow_cost``) for acting on a
    hint, so with full information it ignores items whose gain over silence is below ``c``, and the Advisor can
    only get them followed by pooling states (the obedience constraints bind, and the optimal scheme depends on
    ``mu0``). With ``c = 0`` the interests agree and full disclosure is optimal with value
    :meth:`SimulatedSpec.optimal_value`.
    """
    from persuasion.game import Game

    if not 0.0 <= float(follow_cost) <= 1.0:
        raise SimulatedSpecError(f"follow_cost must be in [0, 1], got {follow_cost!r}")
    w = spec.group_weight_vector(group_weights)
    v = spec.value_table()
    best = v.argmax(axis=1)
    live = sorted({int(b) for b, wg in zip(best, w) if wg > 0})
    states = tuple(spec.items[b] for b in live)
    group_state = np.array([live.index(int(b)) if int(b) in live else -1 for b in best])
    prior = np.array([w[best == b].sum() for b in live])
    u_s = np.array([w[best == b] @ v[best == b] / w[best == b].sum() for b in live])
    cost = np.full(len(spec.items), float(follow_cost))
    cost[spec.none_index] = 0.0
    game = Game(prior, u_s, u_s - cost, state_names=states, action_names=spec.items,
                name=f"{spec.name}-c{follow_cost:g}", normalize=True)
    return SimulatedGame(game, states, group_state)


# --- a Receiver that knows the committed scheme: the exact value of any scheme --------------------------------------

#: Obedience ties: a posterior expected gain within ``OBEY_TOL`` of ``c`` counts as ``c`` and the hint is acted on (the
#: Advisor's favour, as in the LP's weak obedience rows; above the LP's feasibility tolerance, so the binding rows of
#: a :func:`persuasion.solve` scheme are obeyed).
OBEY_TOL = 1e-7


class CommittedValue(NamedTuple):
    """The exact outcome of a committed scheme against the simulated Receiver (:func:`committed_value`).

    Signals are the items (:attr:`SimulatedSpec.items` order): signal ``sigma`` is a hint for item ``sigma``.
    """

    value: float  # V(pi): the expected success rate
    obeyed: np.ndarray  # shape=(m,), bool: whether a hint for sigma is acted on ("none": True, there is none)
    signal_prob: np.ndarray  # shape=(m,): P(sigma)
    gain: np.ndarray  # shape=(m,): E[v(g, sigma) - v(g, none) | sigma] (under the prior where P(sigma) = 0)


def committed_value(
    spec: SimulatedSpec,
    scheme: Any,
    group_state: Any,
    group_weights: Mapping[str, float] | None = None,
    follow_cost: float | None = None,
    estimate: Any = None,
) -> CommittedValue:
    """The exact success rate of a committed scheme against a Receiver that knows it and pays ``c`` to act on a hint.

    The Advisor observes the state ``s(g)`` of a problem of group ``g`` and sends ``sigma ~ pi(. | s(g))``. The
    Receiver knows ``pi``, the group weights ``w`` and the map ``s``; after a hint for item ``sigma`` it forms the
    posterior over groups and acts on the hint only if the expected gain pays the cost, otherwise it answers as with
    no information (``Delta(g, a) = v(g, a) - v(g, none)``, :meth:`SimulatedSpec.value_table`):

    .. math::

        P(\\sigma) = \\sum_g w_g \\pi(\\sigma \\mid s(g)), \\qquad
        \\bar\\Delta(\\sigma) = \\frac{\\sum_g w_g \\pi(\\sigma \\mid s(g)) \\Delta(g, \\sigma)}{P(\\sigma)}, \\qquad
        \\text{obey}(\\sigma) = 1[\\bar\\Delta(\\sigma) \\ge c],

        V(\\pi) = \\sum_g w_g \\sum_\\sigma \\pi(\\sigma \\mid s(g))
                  \\big(v(g, \\text{none}) + \\text{obey}(\\sigma)\\, \\Delta(g, \\sigma)\\big)

    (ties within :data:`OBEY_TOL` go to the Advisor; an off-path hint, ``P(sigma) = 0``, is read at the prior). An
    Advisor that estimates the state (the pipeline's state model) sends from ``omega_hat`` with
    ``Q(omega_hat | g)`` (``estimate``) instead of ``s(g)``: ``pi(sigma | s(g))`` becomes
    ``sum_s Q(s | g) pi(sigma | s)`` in ``V`` while the Receiver, who knows only the commitment, still reads ``sigma`` with ``s``. The
    Receiver's choice is binary, the hint or nothing: it cannot act on an item whose information it was not given.
    So an obedient scheme of :func:`persuasion_game` (obedient against every item, ``none`` included) has
    ``V(pi) = sum_s mu0(s) sum_a pi(a | s) u_S(s, a)``, its LP value.

    Args:
        spec: the Receiver.
        scheme: ``pi[s, sigma]``, shape ``(S, m)``, rows on the simplex; columns in :attr:`SimulatedSpec.items` order.
        group_state: ``s(g)``, shape ``(G,)``, ints in ``[0, S)`` (groups in :attr:`SimulatedSpec.groups` order; ``-1``
            only for groups of weight 0), e.g. :attr:`SimulatedGame.group_state` or :func:`group_states`.
        group_weights: ``w`` (uniform when ``None``; normalised).
        follow_cost: ``c`` (default ``spec.follow_cost``), in ``[0, 1]``.
        estimate: ``Q[g, s]``, shape ``(G, S)``, rows on the simplex: the states the Advisor actually sends from
            (default: ``s(g)`` exactly).

    Returns:
        :class:`CommittedValue`: ``V(pi)``, and per signal whether it is obeyed, ``P(sigma)`` and the posterior gain.

    Raises:
        SimulatedSpecError: a scheme of the wrong shape or not row-stochastic, a bad map, estimate or cost (one
            line).

    Example:
        >>> spec = commitment_spec()
        >>> sim = persuasion_game(spec, follow_cost=spec.follow_cost)
        >>> import persuasion
        >>> lp = persuasion.solve(sim.game)
        >>> abs(committed_value(spec, lp.scheme, sim.group_state).value - lp.value) < 1e-9
        True
    """
    c = spec.follow_cost if follow_cost is None else follow_cost
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0.0 <= float(c) <= 1.0:
        raise SimulatedSpecError(f"follow_cost must be in [0, 1], got {c!r}")
    m, G = len(spec.items), len(spec.groups)
    try:
        pi = np.asarray(scheme, dtype=float)
        s = np.asarray(group_state)
    except (TypeError, ValueError):
        raise SimulatedSpecError("scheme and group_state must be numeric arrays") from None
    if pi.ndim != 2 or pi.shape[1] != m or pi.shape[0] < 1:
        raise SimulatedSpecError(f"scheme must have shape (states, {m}) (one column per item), got {pi.shape}")
    if not np.all(np.isfinite(pi)) or np.any(pi < -1e-12) or not np.allclose(pi.sum(axis=1), 1.0, atol=1e-6):
        raise SimulatedSpecError("scheme rows must be probability distributions (non-negative, summing to 1)")
    w = spec.group_weight_vector(group_weights)
    if s.shape != (G,) or not np.issubdtype(s.dtype, np.integer):
        raise SimulatedSpecError(f"group_state must be {G} ints (one state per group), got shape {s.shape}")
    if np.any(s >= pi.shape[0]) or np.any((s < 0) & (w > 0)) or np.any(s < -1):
        raise SimulatedSpecError(f"group_state must be in [0, {pi.shape[0]}) for every group of positive weight")
    v = spec.value_table()
    delta = v - v[:, [spec.none_index]]  # Delta(g, sigma)
    joint = w[:, None] * np.clip(pi, 0.0, None)[np.maximum(s, 0)]  # w_g pi(sigma | s(g)), shape (G, m)
    prob = joint.sum(axis=0)
    on_path = prob > 0
    gain = np.where(on_path, (joint * delta).sum(axis=0) / np.where(on_path, prob, 1.0), w @ delta)
    obeyed = gain >= float(c) - OBEY_TOL
    obeyed[spec.none_index] = True
    sent = joint
    if estimate is not None:
        q = np.asarray(estimate, dtype=float)
        if q.shape != (G, pi.shape[0]) or np.any(~np.isfinite(q)) or np.any(q < 0) or not np.allclose(q.sum(1), 1.0):
            raise SimulatedSpecError(f"estimate must be {G} rows on the simplex over {pi.shape[0]} states")
        sent = w[:, None] * (q @ np.clip(pi, 0.0, None))
    value = float((sent * (v[:, [spec.none_index]] + obeyed * delta)).sum())
    return CommittedValue(value, obeyed, prob, gain)


def group_states(spec: SimulatedSpec, states: Sequence[str]) -> np.ndarray:
    """``s(g)``: the row of ``states`` (item ids naming a scheme's rows) holding each group's helpful item ``a*(g)``.

    This is what the Advisor of the pipeline observes (``llm.bpa.game``: the item with the largest gain), so it is
    how the Receiver reads a scheme over those states. Raises a one-line error if some ``a*(g)`` is not a state.
    """
    names = list(states)
    missing = sorted({spec.best_item(g) for g in spec.groups} - set(names))
    if missing:
        raise SimulatedSpecError(f"the committed scheme has no state for the helpful item(s) {missing}")
    return np.array([names.index(spec.best_item(g)) for g in spec.groups], dtype=int)


def load(spec: str, options: LoadOptions) -> SimulatedReceiver:
    """The registry's loader: ``simulated`` (the default spec) or ``simulated:NAME_OR_PATH`` (:func:`load_spec`)."""
    del options  # nothing to place or reach
    return SimulatedReceiver(load_spec(spec.partition(":")[2] or None))

"""The typed rows an experiment writes: one schema for Bayesian persuasion and the decoupled methods.

:class:`FeedbackRow` is one cell of the training feedback (one problem, one piece of information, ``k`` sampled
answers); :class:`EvalRow` is one graded answer of one Receiver to one test problem under one condition. Both are
frozen dataclasses written to JSONL by :class:`llm.store.ResultStore` (``to_dict``) and read back with
``from_dict`` (unknown keys of older files are ignored, missing optional ones take their defaults).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping, TypeVar

T = TypeVar("T")


def _from(cls: type[T], data: Mapping[str, Any]) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {k: v for k, v in data.items() if k in names}
    for k in ("correct", "flags"):  # tuples in FeedbackRow; JSON gives lists
        if cls is FeedbackRow and isinstance(values.get(k), list):
            values[k] = tuple(values[k])
    return cls(**values)


@dataclass(frozen=True)
class FeedbackRow:
    """The Receiver's ``k`` sampled answers to one training problem with one piece of information.

    Attributes:
        key: ``feedback|<receiver>|<problem>|<item>|<source>`` (unique).
        receiver: the Receiver that answered (training is keyed by it).
        problem_id: the training problem ``x``.
        item: the item ``a`` whose information was shown (``none``: nothing shown).
        source: ``template`` (the catalogue's hint) or ``advisor<j>`` (the Advisor's ``j``-th written signal).
        signal: the text shown (``None`` for ``none``).
        correct: the ``k`` answers' grades.
        flags: suspect answers (``Generation.flag``), if any.
        seconds: wall time of the cell's share of the batched calls.
        new_tokens: tokens generated for the cell.
    """

    key: str
    receiver: str
    problem_id: str
    item: str
    source: str
    signal: str | None
    correct: tuple[bool, ...]
    flags: tuple[str, ...] = ()
    seconds: float = 0.0
    new_tokens: int = 0

    @property
    def successes(self) -> int:
        return int(sum(self.correct))

    @property
    def samples(self) -> int:
        return len(self.correct)

    @property
    def rate(self) -> float:
        """Success rate ``r(x, a)`` of the cell."""
        return self.successes / self.samples if self.samples else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FeedbackRow":
        return _from(cls, data)


@dataclass(frozen=True)
class EvalRow:
    """One graded answer of one Receiver to one test problem under one condition.

    Attributes:
        key: ``<problem>|<condition>|<receiver>`` (unique).
        problem_id, condition, receiver: what was evaluated.
        method: the method the condition belongs to (:data:`llm.methods.METHOD_OF_CONDITION`).
        prompt: the Receiver's prompt (a chat as JSON).
        response: the Receiver's answer; ``correct`` its grade.
        information: which information reached the Receiver: an item id (its template hint), ``advisor:<item>``
            (the Advisor's own text for that item), or ``None`` (nothing). An ``oracle`` row records the first
            item that solved the problem (``none``: silence did) or ``unsolved`` (no item did).
        state: the Advisor's estimate of the problem's state ``omega`` (the item that helps), if any.
        signal_item: the item ``sigma`` the Advisor's scheme recommended, if any.
        acted_item: the item the Receiver acts on (mode of its measured posterior), if measured.
        signal: the Advisor's text, if any.
        prior, posterior: the Receiver's measured beliefs over the catalogue, if measured.
        seconds, new_tokens: the generation this row adds: the Receiver's share of its batched call (rows of
            conditions that share a prompt repeat one generation), for a corrector's row its correction.
        calls, tokens, cost_seconds: the inference cost of the row (``llm.methods.cost``).
        flag: a suspect but well-formed answer (empty text, truncated log-probs), if any.
        original_response, original_correct, fired, p_correct, rewritten, changed: the decoupled methods' record
            of what they corrected (``None`` elsewhere).
    """

    key: str
    problem_id: str
    condition: str
    method: str
    receiver: str
    prompt: str
    response: str
    correct: bool
    information: str | None = None
    state: str | None = None
    signal_item: str | None = None
    acted_item: str | None = None
    signal: str | None = None
    prior: list[float] | None = None
    posterior: list[float] | None = None
    seconds: float = 0.0
    new_tokens: int = 0
    calls: int = 1
    tokens: int = 0
    cost_seconds: float = 0.0
    flag: str | None = None
    original_response: str | None = None
    original_correct: bool | None = None
    fired: bool | None = None
    p_correct: float | None = None
    rewritten: str | None = None
    changed: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EvalRow":
        return _from(cls, data)

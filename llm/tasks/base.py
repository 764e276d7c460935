"""The records every task works with: a math ``Problem`` and a ``CodeProblem``, and the task errors.

A math problem has a question and a reference final answer (a number for GSM8K and the synthetic task, a LaTeX
expression for MATH-style data); a code problem has a prompt, test code and the name of the function under test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Union

class TaskError(ValueError):
    """Bad task input: an unknown split or task name, a malformed record, an unusable argument (one line)."""


class DataNotFoundError(FileNotFoundError):
    """The benchmark files could not be found locally (one line, naming ``PERSUASION_DATA``)."""


@dataclass(frozen=True)
class Problem:
    """One math word problem with a known answer.

    Attributes:
        id: unique id, e.g. ``"gsm8k/test/0"``.
        question: the problem text shown to the model.
        answer: the reference final answer as text (``"18"``; a LaTeX expression for MATH-style data).
        solution: worked reasoning ending in the GSM8K convention ``"#### <answer>"`` ("" when unknown).
        split: ``"train"``, ``"test"``, ...
        source: the task it came from (``"gsm8k"``, ``"synthetic"``).
        metadata: anything else (template name, original line number); not compared.
        group: the problem's natural group ("" when none): the synthetic task's template name.
    """

    id: str
    question: str
    answer: str
    solution: str = ""
    split: str = "test"
    source: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    group: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))


@dataclass(frozen=True)
class CodeProblem:
    """One Python programming problem graded by running tests.

    Attributes:
        id: unique id, e.g. ``"HumanEval/0"`` or ``"mbpp/11"``.
        prompt: HumanEval: the function signature and docstring to complete; MBPP: the task description.
        test: test code that raises on a wrong solution (HumanEval: a ``check(candidate)`` function; MBPP: asserts).
        entry_point: the name of the function under test.
        canonical_solution: the reference solution (HumanEval: the function body; MBPP: the whole code).
        setup: MBPP ``test_setup_code`` run between the solution and the asserts ("" for HumanEval).
        split: ``"test"``, ``"train"``, ``"validation"`` or ``"prompt"``.
        source: ``"humaneval"`` or ``"mbpp"``.
        metadata: anything else (MBPP challenge tests, the raw test list); not compared.
    """

    id: str
    prompt: str
    test: str
    entry_point: str
    canonical_solution: str
    setup: str = ""
    split: str = "test"
    source: str = "humaneval"
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))


AnyProblem = Union[Problem, CodeProblem]


@dataclass(frozen=True)
class Grade:
    """Both verdicts on one response (see :func:`llm.tasks.grading.grade_math`).

    Attributes:
        strict: correct, reading only an answer the response marks as final (math: ``#### N``, ``\\boxed{...}``
            or ``The answer is N``; code: the tests pass).
        flexible: correct, reading the marked answer if there is one, else the last number (code: as ``strict``).
        extracted: what was compared with the reference (math: the marked answer, else the last number; code: the
            cleaned program text); ``None`` when the response has nothing to compare.
        marked: the response marks a final answer (math) or defines a function or returns a value (code).
    """

    strict: bool
    flexible: bool
    extracted: str | None
    marked: bool

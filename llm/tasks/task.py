"""One benchmark behind one interface: :class:`Task` (load, few-shot, prompt, grade) and its :class:`AnswerFormat`.

A task is data: its splits, loader, prompt formatter, stop strings, budgets and the format its answers take. The
format of a kind of task (``"math"``: ``#### N``, graded by :mod:`llm.tasks.grading`; ``"code"``: a program run
against its tests in :mod:`llm.sandbox`) is one :class:`AnswerFormat` (``MATH`` in :mod:`llm.tasks.gsm8k`, ``CODE``
in :mod:`llm.tasks.execution`), so the task never branches on its kind or its name. Each benchmark module defines
its own ``TASK``; :mod:`llm.tasks.registry` only collects them.

Each task owns its answer format and where information reaches the Receiver: callers pass ``hint=`` to
:meth:`Task.prompt` and use :meth:`Task.reference_response`, :meth:`Task.wrong_response`,
:meth:`Task.has_final_answer` and :meth:`Task.final_answer` instead of writing the format themselves.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from llm.lm import Prompt
from llm.tasks.base import AnyProblem, Grade, TaskError

PathLike = str | os.PathLike[str] | None
SHOT_POOL = 2000  # few-shot examples are drawn from the first SHOT_POOL problems of the shot split


@dataclass(frozen=True)
class AnswerFormat:
    """How the answers of one kind of task are written and graded.

    Attributes:
        kind: ``"math"`` or ``"code"``.
        grade_detail: ``(problem, response) -> Grade``: strict and flexible verdicts.
        grade_details: ``(problems, responses, workers) -> [Grade]``: strict and flexible verdicts per pair.
        has_final_answer: ``response -> bool``: it states a final answer in the format (the inspector's feature).
        final_answer: ``(problem, response) -> str | None``: what grading compares.
        reference_response: ``problem -> str``: a response that grades correct.
        wrong_response: ``problem -> str``: a response that grades wrong, strictly and flexibly.
        answer_instruction: one sentence asking for the format, for prompts that callers write ("" if the prompt's
            own layout carries it).
    """

    kind: str
    grade_detail: Callable[[Any, str], Grade]
    grade_details: Callable[[Sequence[Any], Sequence[str], int], list[Grade]]
    has_final_answer: Callable[[str], bool]
    final_answer: Callable[[Any, str], str | None]
    reference_response: Callable[[Any], str]
    wrong_response: Callable[[Any], str]
    answer_instruction: str = ""


@dataclass(frozen=True)
class Task:
    """A benchmark behind one interface.

    Attributes:
        name: registry key.
        splits: the splits :meth:`load` accepts; ``default_split`` is the one to report on.
        shot_split: the split few-shot examples come from (``None``: zero-shot only).
        stop: stop sequences for completion-style prompts.
        loader: ``loader(split, path, limit) -> problems``.
        formatter: ``formatter(problem, shots, chat, hint) -> Prompt``.
        answers: the task's answer format (:class:`AnswerFormat`).
        max_new_tokens: the Receiver's default answer budget.
        default_shots: the default number of few-shot examples.
        shot_order: ``pool -> pool`` in the order few-shot examples are taken (``None``: a seeded random sample).
        train_task: the task whose train split trains the Advisor when this one has none (``None``: itself).
        smoke_task: the task ``--smoke`` runs instead of this one (``None``: itself).
        experiment_defaults: experiment settings this task needs (``--task NAME`` applies them before the user's).
    """

    name: str
    splits: tuple[str, ...]
    default_split: str
    shot_split: str | None
    stop: tuple[str, ...]
    loader: Callable[[str, PathLike, int | None], list]
    formatter: Callable[[Any, Sequence[Any], bool, str | None], Prompt]
    answers: AnswerFormat
    max_new_tokens: int = 512
    default_shots: int = 0
    shot_order: Callable[[list], list] | None = None
    train_task: str | None = None
    smoke_task: str | None = None
    experiment_defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def kind(self) -> str:
        """``"math"`` or ``"code"`` (the answer format's)."""
        return self.answers.kind

    def load(self, split: str | None = None, path: PathLike = None, limit: int | None = None) -> list[AnyProblem]:
        """The problems of ``split`` (default: ``default_split``), at most ``limit`` of them.

        Raises:
            TaskError: an unknown split or a negative limit.
            DataNotFoundError: no data files.
        """
        split = self.default_split if split is None else split
        if split not in self.splits:
            raise TaskError(f"task {self.name!r} has no split {split!r}; expected one of {self.splits}")
        if limit is not None and limit < 0:
            raise TaskError(f"limit must be non-negative, got {limit}")
        return self.loader(split, path, limit)

    def few_shot(self, k: int | None = None, seed: int = 0, path: PathLike = None) -> list[AnyProblem]:
        """``k`` worked examples (default :attr:`default_shots`) from ``shot_split``: the first ``k`` of
        :attr:`shot_order`, else drawn with ``random.Random(seed)``.

        Raises:
            TaskError: ``k`` negative or larger than the pool, or a zero-shot task asked for ``k > 0``.
        """
        k = self.default_shots if k is None else k
        if k == 0:
            return []
        if k < 0 or self.shot_split is None:
            raise TaskError(f"task {self.name!r} cannot give {k} few-shot examples")
        pool = self.load(self.shot_split, path, limit=SHOT_POOL)
        if k > len(pool):
            raise TaskError(f"task {self.name!r} has only {len(pool)} few-shot examples, asked for {k}")
        if self.shot_order is not None:
            return self.shot_order(pool)[:k]
        return random.Random(seed).sample(pool, k)

    def prompt(self, problem: AnyProblem, shots: Sequence[AnyProblem] = (), chat: bool = False,
               hint: str | None = None) -> Prompt:
        """The Receiver's prompt for ``problem`` (a string, or chat messages when ``chat``), with optional worked
        ``shots`` and the information item's text ``hint`` placed where the task expects it.

        Math: the line ``Hint: ...`` before the question (chat: in the last user message). Code in completion mode:
        a top-of-file ``# Hint: ...`` comment before the signature (MBPP: after ``[BEGIN]``); code chat: a
        ``Hint: ...`` line in the user message. ``hint=None`` (or blank: the ``none`` item) leaves the prompt as it
        is without one. A shot with the problem's own id is left out (training problems come from the shot split),
        so a problem is never its own worked example.
        """
        if hint is not None and not isinstance(hint, str):
            raise TaskError(f"hint must be a str or None, got {type(hint).__name__}")
        shots = [s for s in shots if s.id != problem.id]
        return self.formatter(problem, shots, chat, hint)

    def grade_detail(self, problem: AnyProblem, response: str) -> Grade:
        """Both verdicts on ``response`` (math: :func:`llm.tasks.grading.grade_math`; code: strict = flexible =
        the tests pass in the sandbox, ``extracted`` the cleaned program)."""
        return self.answers.grade_detail(problem, response)

    def grade(self, problem: AnyProblem, response: str, *, strict: bool = False) -> bool:
        """Whether ``response`` solves ``problem``: math by the flexible reading unless ``strict`` (see
        :mod:`llm.tasks.grading`); code: the tests pass in the sandbox."""
        detail = self.grade_detail(problem, response)
        return detail.strict if strict else detail.flexible

    def grade_details(self, problems: Sequence[AnyProblem], responses: Sequence[str],
                      workers: int = 2) -> list[Grade]:
        """:meth:`grade_detail` over pairs; code runs in the sandbox with ``workers`` processes.

        Raises:
            TaskError: ``problems`` and ``responses`` differ in length.
        """
        if len(problems) != len(responses):
            raise TaskError(f"{len(problems)} problems but {len(responses)} responses")
        return self.answers.grade_details(problems, responses, workers)

    def grade_many(self, problems: Sequence[AnyProblem], responses: Sequence[str], workers: int = 2,
                   *, strict: bool = False) -> list[bool]:
        """:meth:`grade` over pairs (flexible unless ``strict``); code runs in the sandbox with ``workers`` processes.

        Raises:
            TaskError: ``problems`` and ``responses`` differ in length.
        """
        return [g.strict if strict else g.flexible for g in self.grade_details(problems, responses, workers)]

    def has_final_answer(self, response: str) -> bool:
        """Whether ``response`` states a final answer in the task's format (math: ``#### N``, ``\\boxed{...}`` or
        ``The answer is N``; code: a ``def`` or ``return`` line). The inspector's ``has_final_answer`` feature."""
        return self.answers.has_final_answer(response)

    def final_answer(self, problem: AnyProblem, response: str) -> str | None:
        """What grading compares: math: the marked answer, else the last number (``None``: no number); code: the
        cleaned program text (:func:`llm.tasks.code.clean_completion`)."""
        return self.answers.final_answer(problem, response)

    def reference_response(self, problem: AnyProblem) -> str:
        """A response in the task's answer format that grades correct (math: the worked solution ending in
        ``#### N``; code: the canonical solution): the simulated Receiver's right answer, the corrector's target."""
        return self.answers.reference_response(problem)

    def wrong_response(self, problem: AnyProblem) -> str:
        """A response in the task's answer format that grades wrong, strictly and flexibly (math: ``#### N+1``;
        code: a function raising ``NotImplementedError``): the simulated Receiver's wrong answer."""
        return self.answers.wrong_response(problem)

    @property
    def answer_instruction(self) -> str:
        """One sentence asking for the task's answer format, for prompts that callers write (math: the ``#### N``
        line; code: empty, the prompt's own code layout carries the format)."""
        return self.answers.answer_instruction

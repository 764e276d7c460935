"""The task registry: one uniform :class:`Task` per benchmark (load, few-shot, prompt, grade).

``TASKS["synthetic"]`` is the offline default (no files needed); ``"gsm8k"``, ``"humaneval"`` and ``"mbpp"`` read
local files (``path=`` or ``$PERSUASION_DATA``, else ``../shared/data``) or a hub name. Math tasks grade the final
answer, strictly and flexibly (:mod:`llm.tasks.grading`; ``grade`` is flexible by default); code tasks run the tests
in :mod:`llm.sandbox`. Each task owns its answer format and where information reaches the Receiver: callers pass
``hint=`` to :meth:`Task.prompt` and use :meth:`Task.reference_response`, :meth:`Task.wrong_response`,
:meth:`Task.has_final_answer` and :meth:`Task.final_answer` instead of writing the format themselves.

Defaults per task (``max_new_tokens``, ``default_shots``), and why:

* ``gsm8k``: 512 tokens (a zero-shot chat answer of a 0.5B model ran past 256 tokens in 9 of 16 answers, while
  the reference solutions take a median 81, 95th percentile 168 and at most 341 Qwen2.5 tokens over the first 2000
  train problems); 5 shots (lm-eval's GSM8K default; the worked examples teach the ``#### N`` line that strict
  grading reads, which a completion-mode Receiver cannot otherwise know, and show the length expected). Cost: the
  median prompt of the first 200 test problems grows from 60 to 796 Qwen2.5 tokens in completion mode (94 to 858
  in chat; 3 shots: 488 / 539; 8 shots: 1176 / 1255), prefill that is cheap next to 512 decoding steps.
* ``synthetic``: 512 tokens, 3 shots (two to four short steps per problem: three examples show the format).
* ``humaneval``: 512 tokens, 0 shots (the benchmark's zero-shot protocol; a completion stops at the next
  top-level statement, so the budget only bounds chat replies).
* ``mbpp``: 512 tokens, 3 shots (Austin et al.'s prompt: task_ids 2, 3, 4).

Examples:
    >>> task = TASKS["synthetic"]
    >>> problem = task.load("test", limit=1)[0]
    >>> task.grade(problem, f"... so the total is {problem.answer}.")
    True
    >>> task.grade(problem, f"... so the total is {problem.answer}.", strict=True)
    False
"""

from __future__ import annotations

import functools
import os
import random
from dataclasses import dataclass
from typing import Callable, Sequence

from llm.lm import Prompt
from llm.tasks import code as code_format
from llm.tasks import gsm8k as math_format
from llm.tasks.base import AnyProblem, CodeProblem, Grade, Problem, TaskError
from llm.tasks.code import HUMANEVAL_STOP, MBPP_SHOT_IDS, MBPP_STOP, clean_completion, format_code_prompt
from llm.tasks.execution import grade_code, grade_code_many
from llm.tasks.gsm8k import STOP as MATH_STOP
from llm.tasks.gsm8k import format_math_prompt, load_gsm8k
from llm.tasks.grading import extract_answer, grade_math, has_final_answer
from llm.tasks.humaneval import load_humaneval
from llm.tasks.mbpp import SPLITS as MBPP_SPLITS
from llm.tasks.mbpp import load_mbpp
from llm.tasks.synthetic import synthetic_arithmetic

PathLike = str | os.PathLike[str] | None

# The synthetic "splits" are disjoint seeds; default sizes match GSM8K (7473 train, 1319 test).
SYNTHETIC_SEEDS = {"test": 0, "train": 1, "validation": 2}
SYNTHETIC_SIZES = {"test": 1319, "train": 7473, "validation": 500}
SHOT_POOL = 2000  # few-shot examples are drawn from the first SHOT_POOL problems of the shot split


#: Split precedence for de-duplication: a question generated for an earlier split is dropped from later ones.
SYNTHETIC_PRECEDENCE = ("test", "validation", "train")


@functools.lru_cache(maxsize=None)
def _synthetic_split(split: str) -> tuple[Problem, ...]:
    """A synthetic split with the questions of the splits before it in :data:`SYNTHETIC_PRECEDENCE` removed.

    Different seeds can draw the same template with the same numbers (about 9% of the test questions recur in the
    train seed), so disjoint seeds alone do not make disjoint splits; this does, and training never sees a test
    question."""
    earlier = SYNTHETIC_PRECEDENCE[: SYNTHETIC_PRECEDENCE.index(split)]
    seen = {p.question for e in earlier for p in _synthetic_split(e)}
    problems = synthetic_arithmetic(SYNTHETIC_SIZES[split], SYNTHETIC_SEEDS[split], split)
    return tuple(p for p in problems if p.question not in seen)


def _load_synthetic(split: str, path: PathLike, limit: int | None) -> list[Problem]:
    if path is not None:
        raise TaskError(f"the synthetic task is generated, it reads no files (got path={path!r})")
    problems = _synthetic_split(split)
    return list(problems if limit is None else problems[:limit])


def _math(problem: AnyProblem) -> Problem:
    if not isinstance(problem, Problem):
        raise TaskError(f"{problem.id} is not a math problem")
    return problem


def _code(problem: AnyProblem) -> CodeProblem:
    if not isinstance(problem, CodeProblem):
        raise TaskError(f"{problem.id} is not a code problem")
    return problem


@dataclass(frozen=True)
class Task:
    """A benchmark behind one interface.

    Attributes:
        name: registry key.
        kind: ``"math"`` or ``"code"``.
        splits: the splits :meth:`load` accepts; ``default_split`` is the one to report on.
        shot_split: the split few-shot examples come from (``None``: zero-shot only).
        stop: stop sequences for completion-style prompts.
        loader: ``loader(split, path, limit) -> problems``.
        formatter: ``formatter(problem, shots, chat, hint) -> Prompt``.
        max_new_tokens: the Receiver's default answer budget (see the module docstring).
        default_shots: the default number of few-shot examples (see the module docstring).
    """

    name: str
    kind: str
    splits: tuple[str, ...]
    default_split: str
    shot_split: str | None
    stop: tuple[str, ...]
    loader: Callable[[str, PathLike, int | None], list]
    formatter: Callable[[AnyProblem, Sequence[AnyProblem], bool, str | None], Prompt]
    max_new_tokens: int = 512
    default_shots: int = 0

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
        """``k`` worked examples (default :attr:`default_shots`) from ``shot_split``, drawn with
        ``random.Random(seed)`` (MBPP: task_ids 2, 3, 4 first).

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
        if self.name == "mbpp":
            first = [p for i in MBPP_SHOT_IDS for p in pool if p.metadata["task_id"] == i]
            return (first + [p for p in pool if p not in first])[:k]
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
        if self.kind == "code":
            code = _code(problem)
            ok = grade_code(code, response)
            return Grade(ok, ok, self.final_answer(code, response), self.has_final_answer(response))
        return grade_math(response, _math(problem).answer)

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
        if self.kind == "code":
            codes = [_code(p) for p in problems]
            passed = grade_code_many(codes, list(responses), workers=workers)
            return [Grade(ok, ok, self.final_answer(p, r), self.has_final_answer(r))
                    for p, r, ok in zip(codes, responses, passed)]
        return [grade_math(r, _math(p).answer) for p, r in zip(problems, responses)]

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
        if self.kind == "code":
            return code_format.has_code_answer(response)
        return has_final_answer(response)

    def final_answer(self, problem: AnyProblem, response: str) -> str | None:
        """What grading compares: math: the marked answer, else the last number (``None``: no number); code: the
        cleaned program text (:func:`llm.tasks.code.clean_completion`)."""
        if self.kind == "code":
            return clean_completion(_code(problem), response).strip()
        _math(problem)
        return extract_answer(response)

    def reference_response(self, problem: AnyProblem) -> str:
        """A response in the task's answer format that grades correct (math: the worked solution ending in
        ``#### N``; code: the canonical solution): the simulated Receiver's right answer, the corrector's target."""
        if self.kind == "code":
            return code_format.reference_response(_code(problem))
        return math_format.reference_response(_math(problem))

    def wrong_response(self, problem: AnyProblem) -> str:
        """A response in the task's answer format that grades wrong, strictly and flexibly (math: ``#### N+1``;
        code: a function raising ``NotImplementedError``): the simulated Receiver's wrong answer."""
        if self.kind == "code":
            return code_format.wrong_response(_code(problem))
        return math_format.wrong_response(_math(problem))

    @property
    def answer_instruction(self) -> str:
        """One sentence asking for the task's answer format, for prompts that callers write (math: the ``#### N``
        line; code: empty, the prompt's own code layout carries the format)."""
        return math_format.ANSWER_INSTRUCTION if self.kind == "math" else ""


def _load_gsm8k(split: str, path: PathLike, limit: int | None) -> list[Problem]:
    return load_gsm8k(split, path, limit)


def _load_humaneval(split: str, path: PathLike, limit: int | None) -> list[CodeProblem]:
    del split  # one split: "test"
    return load_humaneval(path)[:limit]


def _load_mbpp(split: str, path: PathLike, limit: int | None) -> list[CodeProblem]:
    return load_mbpp(split, path)[:limit]


TASKS: dict[str, Task] = {
    "synthetic": Task("synthetic", "math", tuple(SYNTHETIC_SEEDS), "test", "train", MATH_STOP, _load_synthetic,
                      format_math_prompt, max_new_tokens=512, default_shots=3),  # type: ignore[arg-type]
    "gsm8k": Task("gsm8k", "math", ("train", "test"), "test", "train", MATH_STOP, _load_gsm8k,
                  format_math_prompt, max_new_tokens=512, default_shots=5),  # type: ignore[arg-type]
    "humaneval": Task("humaneval", "code", ("test",), "test", None, HUMANEVAL_STOP, _load_humaneval,
                      format_code_prompt, max_new_tokens=512, default_shots=0),  # type: ignore[arg-type]
    "mbpp": Task("mbpp", "code", MBPP_SPLITS, "test", "prompt", MBPP_STOP, _load_mbpp,
                 format_code_prompt, max_new_tokens=512, default_shots=3),  # type: ignore[arg-type]
}


def get_task(name: str) -> Task:
    """``TASKS[name]``, with a one-line error naming the known tasks.

    Raises:
        TaskError: an unknown name.
    """
    try:
        return TASKS[name]
    except KeyError:
        raise TaskError(f"unknown task {name!r}; expected one of {sorted(TASKS)}") from None

"""The task registry: one uniform :class:`Task` per benchmark (load, few-shot, prompt, grade).

``TASKS["synthetic"]`` is the offline default (no files needed); ``"gsm8k"``, ``"humaneval"`` and ``"mbpp"`` read
local files (``path=`` or ``$PERSUASION_DATA``, else ``../shared/data``) or a hub name. Math tasks grade by the
final number (:func:`llm.tasks.answers.grade_gsm8k`); code tasks by running the tests in :mod:`llm.sandbox`.

Examples:
    >>> task = TASKS["synthetic"]
    >>> problem = task.load("test", limit=1)[0]
    >>> task.grade(problem, f"... so the total is {problem.answer}.")
    True
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Callable, Sequence

from llm.lm import Prompt
from llm.tasks.answers import grade_gsm8k
from llm.tasks.base import AnyProblem, CodeProblem, Problem, TaskError
from llm.tasks.code import HUMANEVAL_STOP, MBPP_SHOT_IDS, MBPP_STOP, format_code_prompt
from llm.tasks.execution import grade_code, grade_code_many
from llm.tasks.gsm8k import STOP as MATH_STOP
from llm.tasks.gsm8k import format_math_prompt, load_gsm8k
from llm.tasks.humaneval import load_humaneval
from llm.tasks.mbpp import SPLITS as MBPP_SPLITS
from llm.tasks.mbpp import load_mbpp
from llm.tasks.synthetic import synthetic_arithmetic

PathLike = str | os.PathLike[str] | None

# The synthetic "splits" are disjoint seeds; default sizes match GSM8K (7473 train, 1319 test).
SYNTHETIC_SEEDS = {"test": 0, "train": 1, "validation": 2}
SYNTHETIC_SIZES = {"test": 1319, "train": 7473, "validation": 500}
SHOT_POOL = 2000  # few-shot examples are drawn from the first SHOT_POOL problems of the shot split


def _load_synthetic(split: str, path: PathLike, limit: int | None) -> list[Problem]:
    if path is not None:
        raise TaskError(f"the synthetic task is generated, it reads no files (got path={path!r})")
    n = SYNTHETIC_SIZES[split] if limit is None else limit
    return synthetic_arithmetic(n, SYNTHETIC_SEEDS[split], split)


def _grade_math(problem: AnyProblem, response: str) -> bool:
    if not isinstance(problem, Problem):
        raise TaskError(f"{problem.id} is not a math problem")
    return grade_gsm8k(response, problem.answer)


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
        formatter: ``formatter(problem, shots, chat) -> Prompt``.
    """

    name: str
    kind: str
    splits: tuple[str, ...]
    default_split: str
    shot_split: str | None
    stop: tuple[str, ...]
    loader: Callable[[str, PathLike, int | None], list]
    formatter: Callable[[AnyProblem, Sequence[AnyProblem], bool], Prompt]

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

    def few_shot(self, k: int, seed: int = 0, path: PathLike = None) -> list[AnyProblem]:
        """``k`` worked examples from ``shot_split``, drawn with ``random.Random(seed)`` (MBPP: task_ids 2, 3, 4 first).

        Raises:
            TaskError: ``k`` negative or larger than the pool, or a zero-shot task asked for ``k > 0``.
        """
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

    def prompt(self, problem: AnyProblem, shots: Sequence[AnyProblem] = (), chat: bool = False) -> Prompt:
        """The prompt for ``problem`` (a string, or chat messages when ``chat``), with optional worked ``shots``."""
        return self.formatter(problem, shots, chat)

    def grade(self, problem: AnyProblem, response: str) -> bool:
        """Whether ``response`` solves ``problem`` (math: final number; code: the tests pass in the sandbox)."""
        if self.kind == "code":
            if not isinstance(problem, CodeProblem):
                raise TaskError(f"{problem.id} is not a code problem")
            return grade_code(problem, response)
        return _grade_math(problem, response)

    def grade_many(self, problems: Sequence[AnyProblem], responses: Sequence[str], workers: int = 2) -> list[bool]:
        """:meth:`grade` over pairs; code runs in the sandbox with ``workers`` processes.

        Raises:
            TaskError: ``problems`` and ``responses`` differ in length.
        """
        if len(problems) != len(responses):
            raise TaskError(f"{len(problems)} problems but {len(responses)} responses")
        if self.kind == "code":
            return grade_code_many(problems, responses, workers=workers)  # type: ignore[arg-type]
        return [_grade_math(p, r) for p, r in zip(problems, responses)]


def _load_gsm8k(split: str, path: PathLike, limit: int | None) -> list[Problem]:
    return load_gsm8k(split, path, limit)


def _load_humaneval(split: str, path: PathLike, limit: int | None) -> list[CodeProblem]:
    del split  # one split: "test"
    return load_humaneval(path)[:limit]


def _load_mbpp(split: str, path: PathLike, limit: int | None) -> list[CodeProblem]:
    return load_mbpp(split, path)[:limit]


TASKS: dict[str, Task] = {
    "synthetic": Task("synthetic", "math", tuple(SYNTHETIC_SEEDS), "test", "train", MATH_STOP, _load_synthetic,
                      format_math_prompt),  # type: ignore[arg-type]
    "gsm8k": Task("gsm8k", "math", ("train", "test"), "test", "train", MATH_STOP, _load_gsm8k,
                  format_math_prompt),  # type: ignore[arg-type]
    "humaneval": Task("humaneval", "code", ("test",), "test", None, HUMANEVAL_STOP, _load_humaneval,
                      format_code_prompt),  # type: ignore[arg-type]
    "mbpp": Task("mbpp", "code", MBPP_SPLITS, "test", "prompt", MBPP_STOP, _load_mbpp,
                 format_code_prompt),  # type: ignore[arg-type]
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

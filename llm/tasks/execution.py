"""Grading code completions by running their test programs in :mod:`llm.sandbox` (never in this process).

A completion passes iff its program (:func:`llm.tasks.code.build_program`) exits cleanly within the time and
memory limits; the sandbox result's ``ok`` flag says so.
"""

from __future__ import annotations

from typing import Sequence

from llm.sandbox import run_many, run_program
from llm.tasks.base import CodeProblem, TaskError
from llm.tasks.code import build_program

TIMEOUT_S = 10.0  # per program; HumanEval's own harness uses 3 s, loosened for a shared 2-core machine
MEMORY_MB = 1024


def grade_code(
    problem: CodeProblem, completion: str, *, timeout: float = TIMEOUT_S, memory_mb: int = MEMORY_MB
) -> bool:
    """Whether ``completion`` passes ``problem``'s tests in the sandbox."""
    return bool(run_program(build_program(problem, completion), timeout=timeout, memory_mb=memory_mb).ok)


def grade_code_many(
    problems: Sequence[CodeProblem],
    completions: Sequence[str],
    *,
    workers: int = 2,
    timeout: float = TIMEOUT_S,
    memory_mb: int = MEMORY_MB,
) -> list[bool]:
    """:func:`grade_code` over pairs, ``workers`` sandboxed programs at a time.

    Raises:
        TaskError: ``problems`` and ``completions`` differ in length.
    """
    if len(problems) != len(completions):
        raise TaskError(f"{len(problems)} problems but {len(completions)} completions")
    programs = [build_program(p, c) for p, c in zip(problems, completions)]
    results = run_many(programs, workers=workers, timeout=timeout, memory_mb=memory_mb)
    return [bool(r.ok) for r in results]

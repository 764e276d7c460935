"""Grading code completions by running their test programs in :mod:`llm.sandbox` (never in this process).

A completion passes iff its program (:func:`llm.tasks.code.build_program`) exits cleanly within the time and
memory limits; the sandbox result's ``ok`` flag says so.

Model-written code runs only under at least ``min_isolation``: by default every layer this machine offers
(:func:`llm.sandbox.platform_isolation`); below that the grader refuses in one line
(:class:`llm.sandbox.IsolationError`) instead of grading. ``min_isolation=None`` (or the environment variable
``PERSUASION_SANDBOX_MIN_ISOLATION=none``) is the explicit opt-out.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from llm.sandbox import run_many, run_program
from llm.tasks.base import AnyProblem, CodeProblem, Grade, TaskError
from llm.tasks.code import build_program, clean_completion, has_code_answer, reference_response, wrong_response
from llm.tasks.task import AnswerFormat

TIMEOUT_S = 10.0  # per program; HumanEval's own harness uses 3 s, loosened for a shared 2-core machine
MEMORY_MB = 1024

MinIsolation = str | Iterable[str] | None


def grade_code(
    problem: CodeProblem,
    completion: str,
    *,
    timeout: float = TIMEOUT_S,
    memory_mb: int = MEMORY_MB,
    min_isolation: MinIsolation = "platform",
) -> bool:
    """Whether ``completion`` passes ``problem``'s tests in the sandbox.

    Raises:
        llm.sandbox.IsolationError: a layer of ``min_isolation`` is not in force (nothing was run).
    """
    program = build_program(problem, completion)
    return bool(run_program(program, timeout=timeout, memory_mb=memory_mb, min_isolation=min_isolation).ok)


def grade_code_many(
    problems: Sequence[CodeProblem],
    completions: Sequence[str],
    *,
    workers: int = 2,
    timeout: float = TIMEOUT_S,
    memory_mb: int = MEMORY_MB,
    min_isolation: MinIsolation = "platform",
) -> list[bool]:
    """:func:`grade_code` over pairs, ``workers`` sandboxed programs at a time.

    Raises:
        TaskError: ``problems`` and ``completions`` differ in length.
        llm.sandbox.IsolationError: a layer of ``min_isolation`` is not in force (nothing was run).
    """
    if len(problems) != len(completions):
        raise TaskError(f"{len(problems)} problems but {len(completions)} completions")
    programs = [build_program(p, c) for p, c in zip(problems, completions)]
    results = run_many(programs, workers=workers, timeout=timeout, memory_mb=memory_mb, min_isolation=min_isolation)
    return [bool(r.ok) for r in results]


def _code(problem: AnyProblem) -> CodeProblem:
    if not isinstance(problem, CodeProblem):
        raise TaskError(f"{problem.id} is not a code problem")
    return problem


def _final(problem: AnyProblem, response: str) -> str:
    return clean_completion(_code(problem), response).strip()


def _grade_detail(problem: AnyProblem, response: str) -> Grade:
    code = _code(problem)
    ok = grade_code(code, response)
    return Grade(ok, ok, _final(code, response), has_code_answer(response))


def _grade_details(problems: Sequence[AnyProblem], responses: Sequence[str], workers: int) -> list[Grade]:
    codes = [_code(p) for p in problems]
    passed = grade_code_many(codes, list(responses), workers=workers)
    return [Grade(ok, ok, _final(p, r), has_code_answer(r)) for p, r, ok in zip(codes, responses, passed)]


#: The answer format of code tasks: a program, graded by running the problem's tests in the sandbox (strict =
#: flexible = the tests pass); its final answer is the cleaned program.
CODE = AnswerFormat(
    kind="code", grade_detail=_grade_detail, grade_details=_grade_details, has_final_answer=has_code_answer,
    final_answer=_final, reference_response=lambda p: reference_response(_code(p)),
    wrong_response=lambda p: wrong_response(_code(p)),
)

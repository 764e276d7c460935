"""The task registry: it only collects each benchmark module's ``TASK`` (:class:`llm.tasks.task.Task`).

``TASKS["synthetic"]`` is the offline default (no files needed); ``"gsm8k"``, ``"humaneval"`` and ``"mbpp"`` read
local files (``path=`` or ``$PERSUASION_DATA``, else ``../shared/data``) or a hub name. Math tasks grade the final
answer, strictly and flexibly (:mod:`llm.tasks.grading`; ``grade`` is flexible by default); code tasks run the tests
in :mod:`llm.sandbox`. Each module documents its defaults (``max_new_tokens``, ``default_shots``) and why.

Adding a task:

1. write one module ``llm/tasks/<name>.py`` with a loader, a prompt formatter and ``TASK = Task(...)``: its splits,
   stop strings, budgets, and an answer format (``MATH`` of :mod:`llm.tasks.gsm8k`, ``CODE`` of
   :mod:`llm.tasks.execution`, or a new :class:`llm.tasks.task.AnswerFormat`);
2. add one line to :data:`TASKS` below.

Examples:
    >>> task = TASKS["synthetic"]
    >>> problem = task.load("test", limit=1)[0]
    >>> task.grade(problem, f"... so the total is {problem.answer}.")
    True
    >>> task.grade(problem, f"... so the total is {problem.answer}.", strict=True)
    False
"""

from __future__ import annotations

from llm.tasks import gsm8k, humaneval, mbpp, synthetic
from llm.tasks.base import TaskError
from llm.tasks.task import Task

TASKS: dict[str, Task] = {task.name: task for task in (
    synthetic.TASK,
    gsm8k.TASK,
    humaneval.TASK,
    mbpp.TASK,
)}


def get_task(name: str) -> Task:
    """``TASKS[name]``, with a one-line error naming the known tasks.

    Raises:
        TaskError: an unknown name.
    """
    try:
        return TASKS[name]
    except KeyError:
        raise TaskError(f"unknown task {name!r}; expected one of {sorted(TASKS)}") from None

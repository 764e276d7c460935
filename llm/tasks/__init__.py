"""Benchmarks for the Advisor/Receiver experiments: GSM8K, a seeded synthetic arithmetic task, HumanEval, MBPP.

Loaders read local files (``path=``, ``$PERSUASION_DATA`` or ``../shared/data``) or a hub name; graders check
final answers strictly and flexibly (:func:`grade_math`: ``#### N``, ``\\boxed{}`` via math-verify, ``The answer
is N``, else the last number) and code (tests in :mod:`llm.sandbox`); ``pass_at_k`` is the unbiased estimator of
Chen et al. (2021); each benchmark module defines its :class:`Task` and ``TASKS`` collects them, which also owns the answer format and where an
information item's text (``hint=``) goes in the Receiver's prompt.
"""

from llm.tasks.answers import extract_gsm8k_answer, grade_gsm8k, last_number, marked_answer, numeric_equal, parse_number
from llm.tasks.base import CodeProblem, DataNotFoundError, Grade, Problem, TaskError
from llm.tasks.code import build_program, clean_completion, format_code_prompt
from llm.tasks.data import ENV_VAR, resolve_data_root
from llm.tasks.execution import grade_code, grade_code_many
from llm.tasks.grading import grade_math
from llm.tasks.gsm8k import format_math_prompt, load_gsm8k
from llm.tasks.humaneval import load_humaneval
from llm.tasks.math_answers import math_equal
from llm.tasks.mbpp import load_mbpp
from llm.tasks.passk import mean_pass_at_k, pass_at_k
from llm.tasks.registry import TASKS, get_task
from llm.tasks.synthetic import synthetic_arithmetic
from llm.tasks.task import AnswerFormat, Task

__all__ = [
    "ENV_VAR",
    "TASKS",
    "AnswerFormat",
    "CodeProblem",
    "DataNotFoundError",
    "Grade",
    "Problem",
    "Task",
    "TaskError",
    "build_program",
    "clean_completion",
    "extract_gsm8k_answer",
    "format_code_prompt",
    "format_math_prompt",
    "get_task",
    "grade_code",
    "grade_code_many",
    "grade_gsm8k",
    "grade_math",
    "last_number",
    "load_gsm8k",
    "load_humaneval",
    "load_mbpp",
    "marked_answer",
    "math_equal",
    "mean_pass_at_k",
    "numeric_equal",
    "parse_number",
    "pass_at_k",
    "resolve_data_root",
    "synthetic_arithmetic",
]

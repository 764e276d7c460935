"""Strict and flexible grading of a math response, in the manner of lm-evaluation-harness.

lm-eval reports two GSM8K metrics: ``strict-match`` reads only an answer written in the expected format and
``flexible-extract`` takes the last number in the text. Here:

* **strict**: the response's :func:`~llm.tasks.answers.marked_answer` (first ``#### N`` line, else the last
  ``\\boxed{...}``, else the last ``The answer is N``) equals the reference; a response that marks no answer is wrong.
* **flexible**: the answer the response ends with (:func:`~llm.tasks.answers.final_answer`) equals the reference:
  lm-eval's flexible-extract (the last number), except that a final ``\\boxed{...}`` is read whole.

The two are independent, as in lm-eval: a reply that writes ``#### 120`` first and ends its working with ``540``
is strict-wrong and flexible-right against 540 (Qwen2.5-Coder-0.5B does this on GSM8K), and strict-right,
flexible-wrong against 120. Numbers compare exactly as rationals (:func:`~llm.tasks.answers.numeric_equal`);
a box whose content is not a single number (``\\frac{\\sqrt3}{2}``, ``2\\pi``), and any answer to a reference that
is not a number (MATH-style LaTeX), are compared by math-verify (:func:`~llm.tasks.math_answers.math_equal`).
The tasks' ``grade`` uses the flexible verdict by default (it gives a weak model credit for a right final number
written in the wrong format); both verdicts are available through ``grade_detail``.

References:
    EleutherAI lm-evaluation-harness, ``lm_eval/tasks/gsm8k/gsm8k.yaml`` (filters ``strict-match``,
    ``flexible-extract``), https://github.com/EleutherAI/lm-evaluation-harness
"""

from __future__ import annotations

from llm.tasks.answers import _normalize, _numbers, final_answer, marked_answer, numeric_equal, parse_number
from llm.tasks.base import Grade
from llm.tasks.math_answers import math_equal


def same_answer(answer: str | None, reference: str, boxed: bool = False) -> bool:
    """Whether an extracted ``answer`` equals ``reference``: exact rational equality for numbers, math-verify for
    a box holding an expression and for a non-numeric reference."""
    if answer is None:
        return False
    numeric_ref = parse_number(reference) is not None
    if boxed:
        found = _numbers(_normalize(answer))
        if len(found) == 1 and numeric_ref:
            return numeric_equal(found[0], reference)
        return math_equal(f"\\boxed{{{answer}}}", reference)
    if numeric_ref:
        return numeric_equal(answer, reference)
    return math_equal(answer, reference)


def extract_answer(response: str) -> str | None:
    """The answer flexible grading reads (:func:`~llm.tasks.answers.final_answer`: a final box's LaTeX content
    as written, else the last number); ``None`` when there is neither."""
    final = final_answer(response)
    return final[0] if final is not None else None


def grade_math(response: str, reference: str) -> Grade:
    """Both verdicts on a math ``response`` against the ``reference`` answer (see the module docstring).

    ``extracted`` is the flexible reading; ``marked`` whether the response marks an answer at all.

    Examples:
        >>> grade_math("3 + 4 = 7\\n#### 7", "7")
        Grade(strict=True, flexible=True, extracted='7', marked=True)
        >>> grade_math("so she has 7 apples.", "7")
        Grade(strict=False, flexible=True, extracted='7', marked=False)
    """
    marked = marked_answer(response)
    strict = marked is not None and same_answer(marked[1], reference, boxed=marked[0] == "boxed")
    final = final_answer(response)
    flexible = final is not None and same_answer(final[0], reference, boxed=final[1])
    return Grade(strict, flexible, final[0] if final is not None else None, marked is not None)


def has_final_answer(response: str) -> bool:
    """Whether a math response marks a final answer (``#### N``, ``\\boxed{...}`` or ``The answer is N``)."""
    return marked_answer(response) is not None

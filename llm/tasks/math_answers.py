"""MATH-style answer checking through Hugging Face ``math-verify`` (parse to SymPy, then compare).

``math_equal(pred, ref)`` is ``verify(parse(ref), parse(pred))``: LaTeX or plain expressions, compared as strings,
numerically and symbolically (``\\frac12 == 0.5``, ``\\sqrt2/2 == \\frac{\\sqrt2}{2}``, sets, intervals).

.. warning::
   math-verify bounds each parse and comparison with ``signal.alarm``, which works only in the main thread. Off
   the main thread this module turns those timeouts off (they would raise) and instead bounds the work by
   truncating the response to its last ``max_chars`` characters; run long grading jobs in the main thread.

References:
    Hugging Face, Math-Verify, https://github.com/huggingface/Math-Verify
"""

from __future__ import annotations

import threading
from types import ModuleType

from llm.tasks.base import TaskError


def _math_verify() -> ModuleType:
    try:
        import math_verify
    except ImportError:
        raise TaskError("math_equal needs the math-verify package: pip install 'math-verify>=0.7'") from None
    return math_verify


def _as_gold(ref: str) -> str:
    """Wraps a bare reference answer in ``\\boxed{}`` so math-verify reads it as LaTeX (``\\frac12`` alone fails)."""
    return ref if ("$" in ref or "\\boxed" in ref or "\\(" in ref or "\\[" in ref) else f"\\boxed{{{ref}}}"


def math_equal(pred: str, ref: str, *, timeout_s: int = 5, max_chars: int = 4000) -> bool:
    """Whether the final answer in ``pred`` equals the reference answer ``ref`` (math-verify).

    Args:
        pred: a model response (its last ``\\boxed{}``, LaTeX or plain expression is taken as the answer).
        ref: the reference answer, bare (``"\\frac{1}{2}"``) or already delimited (``"$\\frac12$"``).
        timeout_s: per-step limit in whole seconds (main thread only; see the module warning).
        max_chars: off the main thread, only the last ``max_chars`` characters of ``pred`` are parsed.

    Returns:
        ``True`` iff both parse and math-verify finds them equal; parse failures and timeouts give ``False``.

    Raises:
        TaskError: math-verify is not installed, or a non-positive ``timeout_s``/``max_chars``.

    Examples:
        >>> math_equal("so the answer is $\\\\boxed{0.5}$", "\\\\frac{1}{2}")
        True
    """
    if timeout_s < 1 or max_chars < 1:
        raise TaskError(f"timeout_s and max_chars must be positive, got {timeout_s} and {max_chars}")
    mv = _math_verify()
    from math_verify.errors import TimeoutException

    main = threading.current_thread() is threading.main_thread()
    limit = int(timeout_s) if main else None
    if not main:
        pred = pred[-max_chars:]
    try:
        gold = mv.parse(_as_gold(ref), parsing_timeout=limit)
        answer = mv.parse(pred, parsing_timeout=limit)
        if not gold or not answer:
            return False
        return bool(mv.verify(gold, answer, timeout_seconds=limit))
    except (Exception, TimeoutException):
        return False

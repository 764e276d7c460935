"""MATH-style answer checking through math-verify (llm/tasks/math_answers.py)."""

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("math_verify", reason="math-verify is part of the [llm] extra")

import math_verify.grader  # noqa: E402
from math_verify.errors import TimeoutException  # noqa: E402

from llm.tasks.base import TaskError  # noqa: E402
from llm.tasks.math_answers import math_equal  # noqa: E402


@pytest.mark.parametrize(
    ("pred", "ref", "expected"),
    [
        ("So the answer is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}", True),
        ("so we get 0.5", "\\frac12", True),
        ("$\\boxed{\\sqrt{2}/2}$", "\\frac{\\sqrt2}{2}", True),
        ("The result is $\\boxed{2\\pi}$", "2\\pi", True),
        ("$\\boxed{(1, 2)}$", "(1,2)", True),
        ("\\boxed{1,000}", "1000", True),
        ("The answer is 4", "5", False),
        ("$\\boxed{\\frac{1}{3}}$", "\\frac12", False),
        ("garbage {{{", "1", False),
        ("", "1", False),
    ],
)
def test_examples(pred: str, ref: str, expected: bool) -> None:
    assert math_equal(pred, ref) is expected


@given(p=st.integers(-50, 50), q=st.integers(1, 12), shift=st.integers(1, 5))
def test_fractions(p: int, q: int, shift: int) -> None:
    ref = f"\\frac{{{p}}}{{{q}}}"
    assert math_equal(f"$\\boxed{{\\frac{{{2 * p}}}{{{2 * q}}}}}$", ref)
    assert not math_equal(f"$\\boxed{{\\frac{{{p + shift}}}{{{q}}}}}$", ref)


def test_works_off_the_main_thread() -> None:
    # math-verify's signal.alarm timeouts raise outside the main thread; math_equal must still answer.
    results: list[bool] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.extend([math_equal("$\\boxed{0.5}$", "\\frac12"), math_equal("$\\boxed{3}$", "4")])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not errors and results == [True, False]


def test_slow_comparison_times_out_to_false(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*args: object, **kwargs: object) -> bool:
        time.sleep(5)
        return True

    assert math_equal("$\\boxed{4/2}$", "2") is True  # the strings differ, so only sympy can say "equal"
    monkeypatch.setattr(math_verify.grader, "sympy_expr_eq", slow)
    start = time.perf_counter()
    assert math_equal("$\\boxed{4/2}$", "2", timeout_s=1) is False
    assert time.perf_counter() - start < 4


@pytest.mark.parametrize("exc", [RuntimeError("boom"), TimeoutException("late")])
def test_parse_errors_are_wrong_answers(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def broken(*args: object, **kwargs: object) -> list:
        raise exc

    monkeypatch.setattr(math_verify, "parse", broken)
    assert math_equal("$\\boxed{2}$", "2") is False


def test_bad_limits() -> None:
    with pytest.raises(TaskError, match="positive"):
        math_equal("1", "1", timeout_s=0)

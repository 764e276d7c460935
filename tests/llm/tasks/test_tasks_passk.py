"""The unbiased pass@k estimator (llm/tasks/passk.py) against its combinatorial definition."""

import math
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from llm.tasks.passk import mean_pass_at_k, pass_at_k


@st.composite
def nck(draw: st.DrawFn, max_n: int = 200) -> tuple[int, int, int]:
    n = draw(st.integers(1, max_n))
    return n, draw(st.integers(0, n)), draw(st.integers(1, n))


@given(nck())
def test_matches_binomial_formula(args: tuple[int, int, int]) -> None:
    n, c, k = args
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))  # comb(n-c, k) = 0 when n - c < k
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-12)


@given(nck())
def test_k_equal_one_is_the_pass_rate(args: tuple[int, int, int]) -> None:
    n, c, _ = args
    assert pass_at_k(n, c, 1) == pytest.approx(c / n, abs=1e-12)


@given(nck())
def test_one_when_fewer_failures_than_k(args: tuple[int, int, int]) -> None:
    n, c, k = args
    assume(n - c < k)
    assert pass_at_k(n, c, k) == 1.0


@given(nck())
def test_monotone_in_c_and_k(args: tuple[int, int, int]) -> None:
    n, c, k = args
    value = pass_at_k(n, c, k)
    assert 0.0 <= value <= 1.0
    if c < n:
        assert pass_at_k(n, c + 1, k) >= value - 1e-12
    if k < n:
        assert pass_at_k(n, c, k + 1) >= value - 1e-12
    if c == 0:
        assert value == 0.0


def test_stable_for_large_n() -> None:
    # comb(10000, 5000) overflows float; the product form does not.
    value = pass_at_k(10_000, 10, 5_000)
    assert math.isfinite(value) and value == pytest.approx(1 - 0.5**10, rel=1e-2)


@pytest.mark.parametrize(("n", "c", "k"), [(0, 0, 1), (5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6), (5.0, 2, 1)])
def test_bad_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_mean_over_problems() -> None:
    assert mean_pass_at_k([4, 4], [0, 4], 1) == 0.5
    with pytest.raises(ValueError, match="lengths"):
        mean_pass_at_k([4], [1, 2], 1)

"""GSM8K answer extraction and numeric equality (llm/tasks/answers.py)."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm.tasks.answers import extract_gsm8k_answer, grade_gsm8k, numeric_equal, parse_number

integers = st.integers(min_value=-10**9, max_value=10**9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n#### 18", "18"),
        ("The total is 5.\n#### 1,080", "1080"),
        ("#### $70,000.", "70000"),
        ("16-3-4=9 eggs", "9"),  # "-3" here is subtraction, not a negative number
        ("The temperature fell to -5.", "-5"),
        ("He lost -$3 overall", "-3"),
        ("The answer is 3/4 of the cake, i.e. 6 slices of 8", "3/4"),
        ("So $\\boxed{\\frac{3}{4}}$ of them.", "3/4"),
        ("so x = .5", "0.5"),
        ("Answer: **42**\nCheck: 1 + 1 = 2", "42"),
        ("First 12, then 15, then finally 27 apples.", "27"),
        ("It costs $1,234.50.", "1234.50"),
        ("#### 12\n\nQuestion: Tom has 3 cats ...\nAnswer: ... #### 3", "12"),
        ("the answer is 7, wait, no: the answer is 9", "9"),
        ("####\nso the answer is 4", "4"),
        ("\u22127 degrees", "-7"),
        ("no numbers at all", None),
        ("", None),
    ],
)
def test_extract_examples(text: str, expected: str | None) -> None:
    assert extract_gsm8k_answer(text) == expected


@given(n=integers, decoy=integers, style=st.sampled_from(["hashes", "answer_is", "boxed", "last"]))
def test_extract_roundtrips_formatted_integers(n: int, decoy: int, style: str) -> None:
    shown = f"{'-' if n < 0 else ''}${abs(n):,}"
    text = {
        "hashes": f"First {decoy} items.\n#### {shown}",
        "answer_is": f"We had {decoy} before. The answer is {shown}.",
        "boxed": f"We had {decoy} before, so $\\boxed{{{n}}}$ is it.",
        "last": f"We had {decoy} before; in the end we get {shown}.",
    }[style]
    got = extract_gsm8k_answer(text)
    assert got is not None and parse_number(got) == n
    assert grade_gsm8k(text, n)
    assert not grade_gsm8k(text, n + 1)


@given(num=st.integers(-10**6, 10**6), den=st.integers(1, 10**4))
def test_fraction_and_decimal_forms_agree(num: int, den: int) -> None:
    exact = Fraction(num, den)
    assert parse_number(f"{num}/{den}") == exact
    assert numeric_equal(f"{num}/{den}", exact)
    assert numeric_equal(f"{float(exact):.12f}", exact)


@given(a=integers, b=integers)
def test_numeric_equal_is_exact_on_integers(a: int, b: int) -> None:
    assert numeric_equal(str(a), b) == (a == b)
    assert numeric_equal(a, str(b)) == numeric_equal(b, str(a))


@given(x=st.floats(-1e6, 1e6, allow_nan=False), eps=st.floats(0, 1))
def test_numeric_equal_respects_abs_tol(x: float, eps: float) -> None:
    delta = Fraction(eps)
    assert numeric_equal(Fraction(x) + delta, x, rel_tol=0.0, abs_tol=1.0)
    assert numeric_equal(Fraction(x) + delta, x, rel_tol=0.0, abs_tol=0.5) == (delta <= Fraction(0.5))


@pytest.mark.parametrize("bad", [None, "", "abc", "1/0", float("nan"), float("inf"), True])
def test_unparseable_answers_are_wrong(bad: object) -> None:
    assert parse_number(bad) is None  # type: ignore[arg-type]
    assert not numeric_equal(bad, 1)  # type: ignore[arg-type]
    assert not numeric_equal(1, bad)  # type: ignore[arg-type]


def test_decimal_and_integer_forms_match() -> None:
    assert numeric_equal("18.00", "18") and numeric_equal("$1,000.", 1000) and numeric_equal("-0.5", "-1/2")
    assert not numeric_equal("18.01", "18")


def test_negative_tolerance_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        numeric_equal(1, 1, abs_tol=-1.0)

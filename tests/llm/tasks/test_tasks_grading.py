"""Strict and flexible math grading (llm/tasks/grading.py) and the marked-answer readers (llm/tasks/answers.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm.tasks.answers import boxed_content, last_number, marked_answer
from llm.tasks.base import Grade
from llm.tasks.grading import extract_answer, grade_math, has_final_answer


@pytest.mark.parametrize(
    ("response", "reference", "strict", "flexible", "extracted"),
    [
        ("9 * 2 = 18\n#### 18", "18", True, True, "18"),
        ("So the total is 18 dollars.", "18", False, True, "18"),          # no marked answer: last number
        ("The answer is 18.", "18", True, True, "18"),
        ("Answer: $1,080", "1080", True, True, "1080"),
        ("#### 17\nSo in fact she pays 18.", "18", False, True, "18"),     # a guess first, then the working
        ("#### 18\nThen 17 more.", "18", True, False, "17"),               # strict and flexible are independent
        ("so $\\boxed{18}$ (from 3 steps)", "18", True, False, "3"),         # lm-eval: the last number
        ("Thus $\\boxed{18}$.", "18", True, True, "18"),
        ("Thus $\\boxed{18 \\text{ dollars}}$.", "18", True, True, "18 \\text{ dollars}"),
        ("Thus $\\boxed{\\frac{3}{4}}$.", "0.75", True, True, "3/4"),
        ("so $\\boxed{\\frac{\\sqrt{3}}{2}}$", "\\frac{\\sqrt3}{2}", True, True, "\\frac{\\sqrt{3}}{2}"),  # math-verify
        ("so $\\boxed{2\\pi}$", "2\\pi", True, True, "2\\pi"),
        ("so $\\boxed{3\\pi}$", "2\\pi", False, False, "3\\pi"),
        ("we get 0.5", "\\frac12", False, True, "0.5"),                     # non-numeric reference: math-verify
        ("I do not know.", "18", False, False, None),
        ("", "18", False, False, None),
    ],
)
def test_strict_and_flexible_examples(response, reference, strict, flexible, extracted):
    marked = response.startswith(("9 *", "The answer", "Answer", "####", "Thus", "so $"))
    assert grade_math(response, reference) == Grade(strict, flexible, extracted, marked)
    assert extract_answer(response) == extracted


@given(n=st.integers(-10**6, 10**6), decoy=st.integers(0, 10**6),
       style=st.sampled_from(["hashes", "answer_is", "boxed", "prose"]))
def test_strict_implies_flexible_and_prose_is_flexible_only(n, decoy, style):
    text = {
        "hashes": f"First {decoy} items.\n#### {n}",
        "answer_is": f"We had {decoy} before. The answer is {n}.",
        "boxed": f"We had {decoy} before, so $\\boxed{{{n}}}$.",
        "prose": f"We had {decoy} before; in the end we get {n}.",
    }[style]
    right, wrong = grade_math(text, str(n)), grade_math(text, str(n + 1))
    assert right.flexible and not wrong.flexible and not wrong.strict
    assert right.strict == (style != "prose") == right.marked == has_final_answer(text)


@given(st.text(max_size=80), st.integers(-999, 999))
def test_flexible_reads_the_last_number_unless_a_box_ends_the_text(text, ref):
    g = grade_math(text, str(ref))
    if "boxed" not in text:
        assert g.extracted == last_number(text)
    ending = f"{text}\n#### {ref}"  # a marked answer that is also the last number: strict implies flexible
    h = grade_math(ending, str(ref))
    assert h.strict and h.flexible


def test_boxed_content_balances_braces_and_skips_an_unclosed_box():
    assert boxed_content("\\boxed{\\frac{\\sqrt{3}}{2}}") == "\\frac{\\sqrt{3}}{2}"
    assert boxed_content("\\boxed{1} then \\boxed{2}") == "2"
    assert boxed_content("\\boxed{7} and finally \\boxed{\\frac{1}{") == "7"  # cut by the token limit
    assert boxed_content("no box") is None


def test_marked_answer_order_and_last_number():
    assert marked_answer("The answer is 3.\n#### 4\n\\boxed{5}") == ("hashes", "4")
    assert marked_answer("The answer is 3. Or \\boxed{5}") == ("boxed", "5")
    assert marked_answer("the answer is 7, wait, no: the answer is 9") == ("answer_is", "9")
    assert marked_answer("####\n12 apples") is None  # a #### line without a number marks nothing
    assert last_number("12 apples and 3 pears") == "3" and last_number("none") is None

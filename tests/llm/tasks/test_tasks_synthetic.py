"""The seeded synthetic arithmetic task (llm/tasks/synthetic.py)."""

import ast
import operator
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm.tasks.answers import extract_gsm8k_answer, grade_gsm8k
from llm.tasks.base import TaskError
from llm.tasks.synthetic import TEMPLATES, synthetic_arithmetic

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_EQUATION = re.compile(r"((?:\d+\s*[-+*/]\s*)+\d+)\s*=\s*(\d+)")


def _arith(node: ast.AST) -> float:
    """Evaluates + - * / over integer literals only (a tiny checker, not eval)."""
    if isinstance(node, ast.Expression):
        return _arith(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.left), _arith(node.right))
    raise AssertionError(f"unexpected syntax {ast.dump(node)}")


seeds = st.integers(0, 2**31)


@given(seed=seeds)
def test_every_step_is_correct_and_ends_in_the_answer(seed: int) -> None:
    for problem in synthetic_arithmetic(10, seed):
        equations = _EQUATION.findall(problem.solution)
        assert len(equations) >= 2, problem.solution  # multi-step
        for expr, result in equations:
            assert _arith(ast.parse(expr, mode="eval")) == int(result), (expr, result)
        assert int(equations[-1][1]) == int(problem.answer)
        assert problem.solution.endswith(f"\n#### {problem.answer}")
        assert int(problem.answer) >= 0
        assert extract_gsm8k_answer(problem.solution) == problem.answer
        assert grade_gsm8k(problem.solution, problem.answer)


@given(seed=seeds, n=st.integers(0, 30))
def test_deterministic_and_prefix_stable(seed: int, n: int) -> None:
    first = synthetic_arithmetic(n, seed)
    assert first == synthetic_arithmetic(n, seed)
    assert synthetic_arithmetic(n + 5, seed)[:n] == first
    assert [p.id for p in first] == [f"synthetic/{seed}/{i}" for i in range(n)]


def test_seeds_give_different_problems() -> None:
    a, b = synthetic_arithmetic(50, 0), synthetic_arithmetic(50, 1)
    assert len({p.question for p in a} & {p.question for p in b}) == 0


def test_templates_are_varied_and_all_used() -> None:
    problems = synthetic_arithmetic(400, 7)
    used = {p.metadata["template"] for p in problems}
    assert used == set(TEMPLATES) and len(TEMPLATES) >= 8
    assert len({p.question for p in problems}) == len(problems)
    assert len({p.answer for p in problems}) > 100


def test_pinned_first_problem() -> None:
    # Pins the generator across runs and Python versions: a change of template or seeding shows up here.
    p = synthetic_arithmetic(1, seed=0)[0]
    assert p.question == (
        "Lena buys 6 apples that cost $14 per apple. She pays with a $100 bill. "
        "How much change, in dollars, does she get back?"
    )
    assert (p.answer, p.metadata["template"], p.split, p.source) == ("16", "shopping", "test", "synthetic")


def test_negative_count_rejected() -> None:
    with pytest.raises(TaskError, match="non-negative"):
        synthetic_arithmetic(-1, 0)


def test_group_is_the_template_and_find_returns_the_problem() -> None:
    from llm.tasks.synthetic import find

    for split, seed in (("test", 0), ("train", 1), ("validation", 2)):
        for problem in synthetic_arithmetic(40, seed, split):
            assert problem.group == problem.metadata["template"] in TEMPLATES
            found = find("  " + problem.question + "\n")
            assert found is not None
            assert (found.question, found.answer, found.group) == (problem.question, problem.answer, problem.group)
    assert find("What is the airspeed of an unladen swallow?") is None
    assert find(synthetic_arithmetic(1, 12345)[0].question + " extra") is None


@given(seed=seeds, answer=st.integers(0, 10**6))
def test_with_final_answer_changes_only_the_answer(seed: int, answer: int) -> None:
    from llm.tasks.synthetic import with_final_answer

    problem = synthetic_arithmetic(1, seed)[0]
    text = with_final_answer(problem.solution, answer)
    assert text.splitlines()[:-1] == problem.solution.splitlines()[:-1]
    assert extract_gsm8k_answer(text) == str(answer)
    assert grade_gsm8k(text, answer) and (grade_gsm8k(text, problem.answer) == (str(answer) == problem.answer))

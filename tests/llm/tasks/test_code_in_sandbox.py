"""Code grading end to end: build_program + llm.sandbox (the only place model or test code ever runs).

With the shared data present: every HumanEval canonical solution passes and wrong completions fail; MBPP
reference solutions pass (including both tasks whose setup code needs the solution's ``Node`` class).
"""

import pytest

from llm.tasks import TASKS, build_program
from llm.tasks.base import CodeProblem, DataNotFoundError
from llm.tasks.execution import grade_code, grade_code_many
from llm.tasks.humaneval import load_humaneval
from llm.tasks.mbpp import load_mbpp

TOY = CodeProblem(
    id="HumanEval/toy",
    prompt='def add(a, b):\n    """Return a + b."""\n',
    test="def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n",
    entry_point="add",
    canonical_solution="    return a + b\n",
)


def _or_skip(loader, *args):  # type: ignore[no-untyped-def]
    try:
        return loader(*args)
    except DataNotFoundError as exc:
        pytest.skip(f"benchmark files absent ({exc})")


def test_right_and_wrong_completions_of_a_toy_problem() -> None:
    completions = [
        TOY.canonical_solution,  # completion model: a body
        "    return a + b\n\ndef unrelated():\n    raise SystemExit(1)\n",  # body, then junk after a stop sequence
        "Sure!\n```python\ndef add(a, b):\n    return b + a\n\nassert add(1, 1) == 3\n```",  # chat: whole function
        "    return a - b\n",  # wrong answer
        "    raise ValueError('no')\n",  # crashes
        "    return a +\n",  # syntax error
        "    while True:\n        pass\n",  # never returns
    ]
    graded = grade_code_many([TOY] * len(completions), completions, workers=2, timeout=3.0)
    assert graded == [True, True, True, False, False, False, False]
    assert grade_code(TOY, TOY.canonical_solution) and not grade_code(TOY, "    return 0\n")


@pytest.fixture(scope="module")
def humaneval() -> list[CodeProblem]:
    return _or_skip(load_humaneval)


def test_every_humaneval_canonical_solution_passes(humaneval: list[CodeProblem]) -> None:
    assert len(humaneval) == 164
    graded = grade_code_many(humaneval, [p.canonical_solution for p in humaneval], workers=2)
    assert [p.id for p, ok in zip(humaneval, graded) if not ok] == []


def test_humaneval_wrong_completions_fail_and_chat_answers_pass(humaneval: list[CodeProblem]) -> None:
    few = humaneval[:6]
    wrong = ["    return None\n", "    raise NotImplementedError\n"]
    chat = [f"Here is the function:\n```python\n{p.prompt}{p.canonical_solution}```\nDone." for p in few]
    problems = [p for p in few for _ in wrong] + few
    graded = TASKS["humaneval"].grade_many(problems, [w for _ in few for w in wrong] + chat)
    assert graded == [False] * (2 * len(few)) + [True] * len(few)


def test_mbpp_reference_solutions_pass() -> None:
    every = {p.id: p for p in _or_skip(load_mbpp, "all")}
    # Two test-split tasks, both tasks whose setup builds the solution's Node objects, one train, one validation.
    chosen = [every[i] for i in ("mbpp/11", "mbpp/12", "mbpp/367", "mbpp/927", "mbpp/601", "mbpp/511")]
    completions = [f"[BEGIN]\n{p.canonical_solution}\n[DONE]\nYou are an expert" for p in chosen]
    assert TASKS["mbpp"].grade_many(chosen, completions) == [True] * len(chosen)
    first = chosen[0]
    assert not TASKS["mbpp"].grade(first, f"def {first.entry_point}(*args):\n    return None\n")
    assert "Node(1)" in build_program(every["mbpp/367"], every["mbpp/367"].canonical_solution)


def test_graders_refuse_to_run_code_below_the_minimum_isolation() -> None:
    """A grader never runs model-written code with a required layer missing; ``min_isolation=None`` opts out."""
    import os

    from llm.sandbox import IsolationError

    lacking = "userns" if os.geteuid() == 0 else "uid"  # root never needs a user namespace; others get no fresh uid
    with pytest.raises(IsolationError, match=f"{lacking} not in force") as info:
        grade_code(TOY, TOY.canonical_solution, min_isolation=["rlimits", lacking])
    assert "\n" not in str(info.value)
    with pytest.raises(IsolationError):
        grade_code_many([TOY, TOY], [TOY.canonical_solution] * 2, min_isolation=[lacking])
    assert grade_code(TOY, TOY.canonical_solution, min_isolation=None)  # the explicit opt-out
    assert grade_code_many([TOY], [TOY.canonical_solution]) == [True]  # default: what this platform offers

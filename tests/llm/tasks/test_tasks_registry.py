"""The uniform Task interface and the TASKS registry (llm/tasks/task.py, llm/tasks/registry.py)."""

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm.tasks import TASKS, Task, get_task
from llm.tasks.base import CodeProblem, Problem, TaskError
from llm.tasks.synthetic import synthetic_arithmetic


def test_registry_keys_and_kinds() -> None:
    assert set(TASKS) == {"gsm8k", "synthetic", "humaneval", "mbpp"}
    assert {name: t.kind for name, t in TASKS.items()} == {
        "gsm8k": "math", "synthetic": "math", "humaneval": "code", "mbpp": "code"}
    assert all(isinstance(t, Task) and t.name == name and t.default_split in t.splits for name, t in TASKS.items())
    with pytest.raises(TaskError, match="unknown task 'math'"):
        get_task("math")


def test_synthetic_splits_are_disjoint_seeds() -> None:
    task = TASKS["synthetic"]
    test, train = task.load("test", limit=20), task.load("train", limit=20)
    assert test == synthetic_arithmetic(20, 0) and all(p.split == "train" for p in train)
    assert not {p.question for p in test} & {p.question for p in train}
    assert len(task.load()) == 1319
    with pytest.raises(TaskError, match="reads no files"):
        task.load(path="/tmp")
    with pytest.raises(TaskError, match="no split 'dev'"):
        task.load("dev")
    with pytest.raises(TaskError, match="limit"):
        task.load(limit=-1)


@given(index=st.integers(0, 200), wrong=st.integers(1, 1000))
def test_synthetic_grading(index: int, wrong: int) -> None:
    task = TASKS["synthetic"]
    problem = synthetic_arithmetic(index + 1, 0)[index]
    assert task.grade(problem, problem.solution)
    assert task.grade(problem, f"Let me think. The answer is {int(problem.answer):,}.")
    assert not task.grade(problem, f"#### {int(problem.answer) + wrong}")
    assert not task.grade(problem, "I don't know.")
    assert task.grade_many([problem, problem], [problem.solution, "0.5"]) == [True, False]


def test_few_shot_prompts() -> None:
    task = TASKS["synthetic"]
    shots = task.few_shot(3, seed=5)
    assert shots == task.few_shot(3, seed=5) and shots != task.few_shot(3, seed=6)
    assert all(s.split == "train" for s in shots) and task.few_shot(0) == []
    problem = task.load(limit=1)[0]
    prompt = task.prompt(problem, shots)
    assert isinstance(prompt, str) and prompt.count("Question:") == 4 and prompt.endswith("\nAnswer:")
    assert all(s.solution.split("\n")[0] in prompt for s in shots)
    assert not any(stop in prompt.rsplit("Question:", 1)[1] for stop in task.stop if stop != "Question:")
    chat = task.prompt(problem, shots, chat=True)
    assert [m["role"] for m in chat] == ["system"] + ["user", "assistant"] * 3 + ["user"]
    assert "####" in chat[0]["content"] and chat[-1]["content"] == problem.question
    with pytest.raises(TaskError, match="no solution"):
        task.prompt(problem, [Problem(id="x", question="q", answer="1")])
    with pytest.raises(TaskError, match="cannot give"):
        TASKS["humaneval"].few_shot(1)


def test_gsm8k_task_on_local_files(tmp_path: Path) -> None:
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    rows = [{"question": f"q{i}", "answer": f"{i} + {i} = <<{i}+{i}={2 * i}>>{2 * i}\n#### {2 * i}"} for i in range(5)]
    for split in ("train", "test"):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = get_task("gsm8k")
    problems = task.load("test", path=tmp_path, limit=3)
    assert [p.answer for p in problems] == ["0", "2", "4"]
    shots = task.few_shot(2, seed=0, path=tmp_path)
    prompt = task.prompt(problems[2], shots)
    assert "<<" not in prompt and prompt.endswith("Question: q2\nAnswer:")
    assert task.grade_many(problems, ["#### 0", "The answer is 2.", "3"]) == [True, True, False]


def test_grading_rejects_the_wrong_problem_kind() -> None:
    code = CodeProblem(id="c", prompt="", test="", entry_point="f", canonical_solution="")
    with pytest.raises(TaskError, match="not a math problem"):
        TASKS["synthetic"].grade(code, "1")
    with pytest.raises(TaskError, match="not a code problem"):
        TASKS["mbpp"].grade(synthetic_arithmetic(1, 0)[0], "def f(): pass")
    with pytest.raises(TaskError, match="responses"):
        TASKS["synthetic"].grade_many(synthetic_arithmetic(2, 0), ["1"])



def test_defaults_per_task() -> None:
    assert {n: (t.max_new_tokens, t.default_shots) for n, t in TASKS.items()} == {
        "synthetic": (512, 3), "gsm8k": (512, 5), "humaneval": (512, 0), "mbpp": (512, 3)}
    task = TASKS["synthetic"]
    assert task.few_shot() == task.few_shot(3) and len(task.few_shot()) == 3
    assert TASKS["humaneval"].few_shot() == []


@pytest.mark.parametrize("chat", [False, True])
def test_math_prompt_without_hint_is_unchanged(chat: bool) -> None:
    task = TASKS["synthetic"]
    problem, shots = task.load(limit=1)[0], task.few_shot(2)
    assert task.prompt(problem, shots, chat=chat) == task.prompt(problem, shots, chat=chat, hint=None)
    assert task.prompt(problem, shots, chat=chat) == task.prompt(problem, shots, chat=chat, hint="  \n ")


def test_math_hint_is_a_line_before_the_question() -> None:
    task = TASKS["synthetic"]
    problem, shots = task.load(limit=1)[0], task.few_shot(2)
    plain = task.prompt(problem, shots)
    hinted = task.prompt(problem, shots, hint="Work out\n the total first.")
    head, tail = plain.rsplit("Question:", 1)
    assert hinted == f"{head}Hint: Work out the total first.\nQuestion:{tail}"
    assert hinted.count("Hint:") == 1 and hinted.endswith("\nAnswer:")
    chat = task.prompt(problem, shots, chat=True, hint="Work out the total first.")
    assert chat[:-1] == task.prompt(problem, shots, chat=True)[:-1]  # system and shots untouched
    assert chat[-1] == {"role": "user", "content": f"Hint: Work out the total first.\n\n{problem.question}"}


def test_hint_must_be_text() -> None:
    task = TASKS["synthetic"]
    with pytest.raises(TaskError, match="hint must be a str or None, got int"):
        task.prompt(task.load(limit=1)[0], hint=3)  # type: ignore[arg-type]


def test_a_problem_is_never_its_own_shot() -> None:
    task = TASKS["synthetic"]
    train = task.load("train", limit=3)
    prompt = task.prompt(train[0], train)
    assert prompt.count("Question:") == 3 and prompt.count(train[0].question) == 1


@given(index=st.integers(0, 300))
def test_reference_and_wrong_responses_grade_as_intended(index: int) -> None:
    task = TASKS["synthetic"]
    problem = synthetic_arithmetic(index + 1, 7)[index]
    right, wrong = task.reference_response(problem), task.wrong_response(problem)
    assert task.grade_detail(problem, right) == task.grade_detail(problem, right)
    assert task.grade_detail(problem, right).strict and task.has_final_answer(right)
    assert not task.grade_detail(problem, wrong).flexible and task.has_final_answer(wrong)
    assert task.final_answer(problem, right) == problem.answer
    assert task.final_answer(problem, wrong) != problem.answer


def test_math_responses_for_problems_without_solution_or_number() -> None:
    task = TASKS["gsm8k"]
    bare = Problem(id="x", question="q", answer="1,500")
    assert task.reference_response(bare) == "#### 1,500" and task.grade(bare, task.reference_response(bare))
    assert task.wrong_response(Problem(id="y", question="q", answer="0.5")) == "#### 3/2"
    latex = Problem(id="z", question="q", answer="\\frac{\\sqrt3}{2}")
    assert not task.grade(latex, task.wrong_response(latex))


def test_strict_grading_on_request() -> None:
    task = TASKS["synthetic"]
    problem = task.load(limit=1)[0]
    prose = f"So it is {problem.answer}."
    assert task.grade(problem, prose) and not task.grade(problem, prose, strict=True)
    assert task.grade_many([problem] * 2, [prose, f"#### {problem.answer}"], strict=True) == [False, True]
    assert [g.marked for g in task.grade_details([problem] * 2, [prose, "#### 1"])] == [False, True]
    assert "####" in task.answer_instruction and TASKS["mbpp"].answer_instruction == ""


def test_code_reference_and_wrong_responses_in_the_sandbox() -> None:
    he = CodeProblem(id="HumanEval/t", prompt='def add(a, b):\n    """Return a + b."""\n',
                     test="def check(candidate):\n    assert candidate(2, 3) == 5\n", entry_point="add",
                     canonical_solution="    return a + b\n")
    mb = CodeProblem(id="mbpp/t", prompt="Add two numbers.", test="assert add(1, 2) == 3", entry_point="add",
                     canonical_solution="def add(a, b):\n    return a + b", source="mbpp")
    for name, problem in (("humaneval", he), ("mbpp", mb)):
        task = TASKS[name]
        right, wrong = task.reference_response(problem), task.wrong_response(problem)
        grades = task.grade_details([problem, problem], [right, wrong])
        assert [(g.strict, g.flexible) for g in grades] == [(True, True), (False, False)]
        assert task.has_final_answer(right) and not task.has_final_answer("I cannot help.")
        assert task.final_answer(problem, "```python\ndef add(a, b):\n    return a + b\n```").startswith("def add")


def _shared(task: Task, split: str, limit: int) -> list:
    from llm.tasks.base import DataNotFoundError

    try:
        return task.load(split, limit=limit)
    except DataNotFoundError as exc:
        pytest.skip(f"benchmark files absent ({exc})")


@pytest.mark.parametrize("chat", [False, True])
def test_default_gsm8k_shots_teach_the_strict_format(chat: bool) -> None:
    task = get_task("gsm8k")
    problem = _shared(task, "test", 1)[0]
    shots = task.few_shot()
    assert len(shots) == task.default_shots == 5
    assert all(task.grade_detail(s, task.reference_response(s)).strict for s in shots)
    prompt = task.prompt(problem, shots, chat=chat, hint="Find the cost of one item first.")
    if chat:
        assert [m["role"] for m in prompt] == ["system"] + ["user", "assistant"] * 5 + ["user"]
        assert all(m["content"].rstrip().split("\n")[-1].startswith("####") for m in prompt[2:-1:2])
        assert prompt[-1]["content"].startswith("Hint: Find the cost") and prompt[-1]["content"].endswith(
            problem.question)
    else:
        assert prompt.count("\nQuestion:") == 5 and prompt.count("####") == 5 and prompt.count("Hint:") == 1
        assert prompt.endswith(f"Hint: Find the cost of one item first.\nQuestion: {problem.question}\nAnswer:")


@pytest.mark.parametrize("chat", [False, True])
def test_default_mbpp_shots_are_austin_et_al(chat: bool) -> None:
    task = get_task("mbpp")
    problem = _shared(task, "test", 1)[0]
    shots = task.few_shot()
    assert [s.metadata["task_id"] for s in shots] == [2, 3, 4]
    prompt = task.prompt(problem, shots, chat=chat, hint="Use a set.")
    if chat:
        assert [m["role"] for m in prompt] == ["user", "assistant"] * 3 + ["user"]
        assert "Hint: Use a set." in prompt[-1]["content"] and "Hint" not in "".join(m["content"] for m in prompt[:-1])
    else:
        assert prompt.count("[BEGIN]") == 4 and prompt.endswith("[BEGIN]\n")  # the hint precedes the task block
        assert "[DONE]\n\n# Hint: Use a set.\nYou are an expert Python programmer" in prompt

"""Completion clean-up, program assembly and code prompts (llm/tasks/code.py); nothing is executed here."""

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm.tasks.base import CodeProblem, DataNotFoundError, TaskError
from llm.tasks.code import (
    HUMANEVAL_STOP,
    build_program,
    clean_completion,
    drop_top_level_statements,
    extract_fenced,
    format_code_prompt,
    truncate_at_stop,
)

HE = CodeProblem(
    id="HumanEval/x",
    prompt='import math\n\n\ndef helper(x):\n    return x\n\n\ndef add(a, b):\n    """Add two numbers."""\n',
    test="def check(candidate):\n    assert candidate(1, 2) == 3\n",
    entry_point="add",
    canonical_solution="    return a + b\n",
)
MB = CodeProblem(
    id="mbpp/11",
    prompt="Write a function to add two numbers.",
    test="assert add(1, 2) == 3\nassert add(0, 0) == 0",
    entry_point="add",
    canonical_solution="def add(a, b):\n  return a + b",
    setup="x = Node(1)",
    source="mbpp",
)


def _top_level_functions(program: str) -> list[str]:
    return [n.name for n in ast.parse(program).body if isinstance(n, ast.FunctionDef)]


def test_humaneval_program_layout() -> None:
    program = build_program(HE, HE.canonical_solution)
    assert program.startswith(HE.prompt + HE.canonical_solution)
    assert program.rstrip().endswith("check(add)")
    assert _top_level_functions(program) == ["helper", "add", "check"]


def test_completion_model_body_is_cut_at_stop() -> None:
    completion = "    return a + b\n\n\ndef add_three(a, b, c):\n    return a + b + c\n\nprint(add(1, 2))"
    assert clean_completion(HE, completion) == "    return a + b\n\n"
    assert _top_level_functions(build_program(HE, completion)) == ["helper", "add", "check"]


def test_chat_model_whole_function_in_fence() -> None:
    reply = (
        "Here you go:\n```python\nimport math\n\ndef add(a, b):\n    return a + b\n\n"
        "print(add(2, 2))\nassert add(1, 1) == 2\nif __name__ == '__main__':\n    add(0, 0)\n```\nHope it helps."
    )
    code = clean_completion(HE, reply)
    assert code == "import math\n\ndef add(a, b):\n    return a + b\n"
    program = build_program(HE, reply)
    # The stub from the prompt is redefined by the model's function, then the test runs.
    assert _top_level_functions(program) == ["helper", "add", "add", "check"]


def test_fence_choice_prefers_the_entry_point() -> None:
    reply = "```\npip install x\n```\nthen\n```py\ndef add(a, b):\n    return a + b\n```"
    assert extract_fenced(reply, "add").startswith("def add")
    assert extract_fenced(reply).startswith("pip install")
    assert extract_fenced("```python\ndef add(a, b):\n    return a", "add") == "def add(a, b):\n    return a"
    assert extract_fenced("no fence here", "add") == "no fence here"


def test_mbpp_program_and_markers() -> None:
    completion = "[BEGIN]\ndef add(a, b):\n  return a + b\n[DONE]\n\nYou are an expert Python programmer ..."
    program = build_program(MB, completion)
    expected = "def add(a, b):\n  return a + b\n\n\nx = Node(1)\n\nassert add(1, 2) == 3\nassert add(0, 0) == 0\n"
    assert program == expected
    assert build_program(MB, MB.canonical_solution).index("def add") < program.index("x = Node(1)")
    ast.parse(program)


def test_drop_top_level_statements_keeps_functions() -> None:
    code = "def f():\n    assert True\n    print(1)\nprint(\n    f())\nassert f() is None\n\ndef g():\n    pass"
    # Blank lines inside a dropped block go with it (they may separate its indented lines).
    assert drop_top_level_statements(code) == "def f():\n    assert True\n    print(1)\ndef g():\n    pass"


@given(body=st.text(alphabet="abc \n()=+", max_size=40), stop=st.sampled_from(HUMANEVAL_STOP), tail=st.text(max_size=9))
def test_truncate_at_stop_removes_everything_from_the_first_stop(body: str, stop: str, tail: str) -> None:
    out = truncate_at_stop(body + stop + tail, HUMANEVAL_STOP)
    assert (body + stop).startswith(out) and not any(s in out for s in HUMANEVAL_STOP)
    assert len(out) <= len(body)


def test_prompts() -> None:
    assert format_code_prompt(HE) == HE.prompt
    chat = format_code_prompt(HE, chat=True)
    assert isinstance(chat, list) and HE.prompt in chat[-1]["content"]
    text = format_code_prompt(MB, shots=[MB])
    assert isinstance(text, str) and text.count("[BEGIN]") == 2 and text.count("[DONE]") == 1
    assert text.endswith("assert add(0, 0) == 0\n[BEGIN]\n")
    messages = format_code_prompt(MB, shots=[MB], chat=True)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    with pytest.raises(TaskError, match="zero-shot"):
        format_code_prompt(HE, shots=[HE])


def test_unknown_source() -> None:
    other = CodeProblem(id="x", prompt="", test="", entry_point="f", canonical_solution="", source="apps")
    with pytest.raises(TaskError, match="unknown source"):
        build_program(other, "def f(): pass")


def test_all_shared_reference_programs_parse() -> None:
    from llm.tasks.humaneval import load_humaneval
    from llm.tasks.mbpp import load_mbpp

    try:
        problems = [*load_humaneval(), *load_mbpp("all")]
    except DataNotFoundError as exc:
        pytest.skip(f"benchmark files absent ({exc})")
    for problem in problems:
        ast.parse(build_program(problem, problem.canonical_solution))  # syntax only; nothing runs


HINT = "Sort the input first.\nThen scan neighbours once."


def _comment_text(source: str) -> str:
    import io
    import tokenize

    return " ".join(t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)
                    if t.type == tokenize.COMMENT)


def test_humaneval_completion_hint_is_a_top_of_file_comment() -> None:
    prompt = format_code_prompt(HE, hint=HINT)
    assert isinstance(prompt, str)
    assert prompt == "# Hint: Sort the input first.\n# Then scan neighbours once.\n" + HE.prompt
    program = prompt + HE.canonical_solution
    assert ast.dump(ast.parse(program)) == ast.dump(ast.parse(HE.prompt + HE.canonical_solution))
    assert "Sort the input first." in _comment_text(program) and "Then scan" in _comment_text(program)
    assert format_code_prompt(HE, hint=None) == format_code_prompt(HE, hint=" ") == HE.prompt


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_no_hint_text_can_change_the_humaneval_program(hint: str) -> None:
    prompt = format_code_prompt(HE, hint=hint)
    assert isinstance(prompt, str) and prompt.endswith(HE.prompt)
    assert ast.dump(ast.parse(prompt + HE.canonical_solution)) == ast.dump(ast.parse(HE.prompt + HE.canonical_solution))


def test_mbpp_completion_hint_precedes_the_task_block() -> None:
    text = format_code_prompt(MB, shots=[MB], hint=HINT)
    plain = format_code_prompt(MB, shots=[MB])
    assert text.endswith("# Hint: Sort the input first.\n# Then scan neighbours once.\nYou are an expert Python "
                         f"programmer, and here is your task: {MB.prompt} Your code should pass these tests:\n\n"
                         f"{MB.test}\n[BEGIN]\n")
    assert text.replace("# Hint: Sort the input first.\n# Then scan neighbours once.\n", "") == plain


def test_code_chat_hint_is_a_line_in_the_user_message() -> None:
    chat = format_code_prompt(HE, chat=True, hint=HINT)
    content = chat[-1]["content"]
    assert "Hint: Sort the input first. Then scan neighbours once.\n\n```python\n" + HE.prompt in content
    messages = format_code_prompt(MB, shots=[MB], chat=True, hint=HINT)
    assert messages[:-1] == format_code_prompt(MB, shots=[MB], chat=True)[:-1]
    assert messages[-1]["content"].startswith("Hint: Sort the input first. Then scan neighbours once.\n\nYou are")


@pytest.mark.parametrize("chat", [False, True])
def test_every_code_task_places_the_hint_right_before_the_problem_statement(chat: bool) -> None:
    """One placement in every code task (issue 17): the hinted prompt is the plain one with the hint inserted
    immediately before the problem's own statement, so the answer starts where the baseline's does."""
    marker = "Hint: Sort the input first. Then scan neighbours once.\n\n" if chat else \
        "# Hint: Sort the input first.\n# Then scan neighbours once.\n"
    for problem, shots, statement in ((HE, [], HE.prompt), (MB, [MB], f"You are an expert Python programmer, "
                                                                       f"and here is your task: {MB.prompt}")):
        plain, hinted = (format_code_prompt(problem, shots, chat=chat, hint=h) for h in (None, HINT))
        plain_text = plain[-1]["content"] if chat else plain
        hinted_text = hinted[-1]["content"] if chat else hinted
        if chat and problem is HE:
            statement = "```python\n" + statement
        at = plain_text.rindex(statement)
        assert hinted_text == plain_text[:at] + marker + plain_text[at:], problem.id


def test_every_shared_humaneval_prompt_takes_each_catalogue_hint_as_a_comment() -> None:
    import json
    from pathlib import Path

    from llm.tasks.humaneval import load_humaneval

    try:
        problems = load_humaneval()
    except DataNotFoundError as exc:
        pytest.skip(f"benchmark files absent ({exc})")
    catalogue = json.loads((Path(__file__).parents[3] / "llm" / "game" / "catalogues" / "code.json").read_text())
    hints = [item["hint_text"] for item in catalogue["items"] if item.get("hint_text")]
    for problem in problems:
        plain = ast.dump(ast.parse(problem.prompt + problem.canonical_solution))
        for hint in hints:
            source = format_code_prompt(problem, hint=hint) + problem.canonical_solution
            assert ast.dump(ast.parse(source)) == plain, (problem.id, hint)

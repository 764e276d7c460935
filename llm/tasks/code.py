"""Turning a model's code completion into a test program (HumanEval, MBPP), and running it in the sandbox.

A completion model continues the prompt and is cut at stop sequences; a chat model answers with a whole function,
usually in a markdown fence. :func:`clean_completion` handles both:

* the first fenced block (preferring one that defines the entry point) replaces the text when there is a fence;
* HumanEval: when the code defines ``entry_point`` at top level it is kept whole (helpers and imports included)
  and placed after the prompt, redefining the stub; otherwise it is a function body, cut at the first of
  :data:`HUMANEVAL_STOP`;
* MBPP: the text is cut at ``[DONE]`` and loses a leading ``[BEGIN]``;
* top-level ``assert``/``print(``/``if __name__`` statements the model added are dropped in whole-code mode.

Program layout: HumanEval ``prompt + completion + test + "check(entry_point)"``; MBPP ``completion + setup +
asserts`` (the setup runs after the solution because two MBPP setups build ``Node`` objects the solution defines).

Model-written code is only ever run through :mod:`llm.sandbox`, never in this process.
"""

from __future__ import annotations

import re
from typing import Sequence

from llm.game.prompts import has_hint, hint_comment, hint_line
from llm.lm import Prompt
from llm.tasks.base import CodeProblem, TaskError

HUMANEVAL_STOP = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ", "\n```")
MBPP_STOP = ("[DONE]",)
MBPP_SHOT_IDS = (2, 3, 4)  # the three few-shot examples of Austin et al. (2021)
HUMANEVAL_CHAT = "Complete the following Python function. Reply with the whole function in one ```python code block."
MBPP_CHAT = "Reply with the Python code only, in one ```python code block."

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_TOP_LEVEL_JUNK = re.compile(r"(assert\b|print\(|if\s+__name__\s*==)")
_CODE_FINAL = re.compile(r"^\s*(?:def|return)\b", re.MULTILINE)


def extract_fenced(text: str, entry_point: str | None = None) -> str:
    """The code of the first markdown fence in ``text`` (one defining ``entry_point`` if any), else ``text``.

    An unclosed fence (a reply cut by the token limit) runs to the end of the text.
    """
    blocks = _FENCE.findall(text)
    if not blocks:
        return text
    if entry_point is not None:
        for block in blocks:
            if _defines(block, entry_point):
                return block
    return blocks[0]


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to (excluding) the earliest occurrence of any stop sequence."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=len(text))
    return text[:cut]


def drop_top_level_statements(code: str) -> str:
    """``code`` without top-level ``assert``, ``print(...)`` and ``if __name__ == ...`` blocks (model-added tests)."""
    out: list[str] = []
    skipping = False
    for line in code.split("\n"):
        top = bool(line) and not line[0].isspace()
        if top:
            skipping = _TOP_LEVEL_JUNK.match(line) is not None
        if not skipping:
            out.append(line)
    return "\n".join(out)


def clean_completion(problem: CodeProblem, completion: str) -> str:
    """The code to insert into the program for ``completion`` (see the module docstring for the rules)."""
    code = extract_fenced(completion.replace("\r\n", "\n"), problem.entry_point)
    if problem.source == "mbpp":
        code = truncate_at_stop(code, MBPP_STOP)
        code = re.sub(r"^\s*\[BEGIN\]\s*\n?", "", code)
        return drop_top_level_statements(code).strip("\n") + "\n"
    if _defines(code, problem.entry_point):
        return drop_top_level_statements(code).strip("\n") + "\n"
    return truncate_at_stop(code, HUMANEVAL_STOP)


def build_program(problem: CodeProblem, completion: str, clean: bool = True) -> str:
    """The self-checking program for ``completion``: it exits 0 iff every test passes.

    Args:
        problem: a HumanEval or MBPP problem.
        completion: the raw model output (or a reference solution).
        clean: apply :func:`clean_completion` first.

    Raises:
        TaskError: an unknown ``problem.source``.
    """
    code = clean_completion(problem, completion) if clean else completion
    if problem.source == "humaneval":
        joint = "\n" if _defines(code, problem.entry_point) else ""
        return f"{problem.prompt}{joint}{code}\n\n{problem.test}\n\ncheck({problem.entry_point})\n"
    if problem.source == "mbpp":
        return f"{code}\n\n{problem.setup}\n\n{problem.test}\n"
    raise TaskError(f"cannot build a program for {problem.id}: unknown source {problem.source!r}")


def _mbpp_block(problem: CodeProblem) -> str:
    return (f"You are an expert Python programmer, and here is your task: {problem.prompt} "
            f"Your code should pass these tests:\n\n{problem.test}\n")


def format_code_prompt(problem: CodeProblem, shots: Sequence[CodeProblem] = (), chat: bool = False,
                       hint: str | None = None) -> Prompt:
    """The prompt for a code problem, optionally with a hint.

    HumanEval: the prompt itself (completion style, zero-shot; stop at :data:`HUMANEVAL_STOP`), or a chat asking
    for the whole function. MBPP: the format of Austin et al. (2021), ``"You are an expert Python programmer ...
    [BEGIN]\\n<code>\\n[DONE]"`` per shot (usually task_ids 2-4 of the prompt split), ending in ``"[BEGIN]\\n"``
    (stop at ``[DONE]``); in chat, user/assistant pairs with fenced code.

    A ``hint`` goes at one place in every code task: immediately before the problem's own statement
    (:func:`_with_hint`), so that the statement and the point where the answer starts are the baseline's. Completion
    style: the comment :data:`llm.game.prompts.HINT_COMMENT` (HumanEval: at the top of the file, before the imports and
    the signature; MBPP: before the problem's task block, after the worked examples), a comment because prose before
    Python source cost 22 points on HumanEval. Chat: the line :data:`llm.game.prompts.HINT_LINE` in the last user
    message, before the code block (HumanEval) or the task block (MBPP). Without a hint (``None`` or blank) the
    prompt is unchanged.

    Raises:
        TaskError: an unknown ``problem.source``, or shots for HumanEval.
    """
    h = hint if has_hint(hint) else None
    if problem.source == "humaneval":
        if shots:
            raise TaskError("HumanEval prompts are zero-shot; pass no shots")
        if chat:
            code = _with_hint(f"```python\n{problem.prompt}```", h, chat)
            return [{"role": "user", "content": f"{HUMANEVAL_CHAT}\n\n{code}"}]
        return _with_hint(problem.prompt, h, chat)
    if problem.source != "mbpp":
        raise TaskError(f"cannot format a prompt for {problem.id}: unknown source {problem.source!r}")
    if chat:
        messages = []
        for shot in shots:
            messages.append({"role": "user", "content": f"{_mbpp_block(shot)}{MBPP_CHAT}"})
            messages.append({"role": "assistant", "content": f"```python\n{shot.canonical_solution.strip()}\n```"})
        messages.append({"role": "user", "content": f"{_with_hint(_mbpp_block(problem), h, chat)}{MBPP_CHAT}"})
        return messages
    parts = [f"{_mbpp_block(s)}[BEGIN]\n{s.canonical_solution.strip()}\n[DONE]\n\n" for s in shots]
    return "".join(parts) + _with_hint(_mbpp_block(problem), h, chat) + "[BEGIN]\n"


def _with_hint(statement: str, hint: str | None, chat: bool) -> str:
    """``statement`` (a code problem's own text) with ``hint`` right before it: the :data:`llm.game.prompts.HINT_COMMENT`
    lines in completion style, the :data:`llm.game.prompts.HINT_LINE` and a blank line in chat; unchanged without one."""
    if hint is None:
        return statement
    return (f"{hint_line(hint)}\n\n" if chat else hint_comment(hint)) + statement


def reference_response(problem: CodeProblem) -> str:
    """A response that passes the tests: the canonical solution (HumanEval: the function body that continues the
    prompt; MBPP: the whole code), without surrounding blank lines."""
    return problem.canonical_solution.strip("\n") + "\n"


def wrong_response(problem: CodeProblem) -> str:
    """A response that fails the tests: the entry point raising ``NotImplementedError`` (HumanEval: as a body)."""
    body = "    raise NotImplementedError\n"
    if problem.source == "humaneval":
        return body
    return f"def {problem.entry_point}(*args, **kwargs):\n{body}"


def has_code_answer(response: str) -> bool:
    """Whether a code response defines a function or returns a value (a ``def`` or ``return`` line)."""
    return _CODE_FINAL.search(response) is not None

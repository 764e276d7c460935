"""GSM8K (Cobbe et al., 2021): grade-school math word problems with a final integer answer after ``####``.

Local files: ``<root>/gsm8k/{train,test}.jsonl`` with keys ``question`` and ``answer`` (worked solution with
calculator annotations ``<<a*b=c>>`` and a last line ``#### N``). Hub: ``"hf:openai/gsm8k"`` (config ``main``).

References:
    Cobbe et al. 2021, "Training Verifiers to Solve Math Word Problems", https://arxiv.org/abs/2110.14168
"""

from __future__ import annotations

import os
import re
from typing import Any, Sequence

from llm.game.prompts import has_hint, hint_line
from llm.lm import Prompt
from llm.tasks.answers import parse_number
from llm.tasks.base import AnyProblem, Grade, Problem, TaskError
from llm.tasks.data import hub_name, load_hub, locate, read_jsonl, require
from llm.tasks.grading import extract_answer, grade_math, has_final_answer
from llm.tasks.task import AnswerFormat, PathLike, Task

SPLITS = ("train", "test")
STOP = ("Question:", "\n\n\n")
ANSWER_INSTRUCTION = "End your reply with a last line of the form '#### <number>'."
SYSTEM = f"Solve the math word problem step by step. {ANSWER_INSTRUCTION}"
_CALC = re.compile(r"<<[^>]*>>")


def clean_solution(solution: str) -> str:
    """A GSM8K solution without its calculator annotations (``"9*2=<<9*2=18>>18"`` becomes ``"9*2=18"``)."""
    return _CALC.sub("", solution)


def final_answer(solution: str, where: str = "solution") -> str:
    """The reference answer after the last ``####`` of a GSM8K solution, without thousands commas.

    Raises:
        TaskError: the solution has no ``####`` line.
    """
    if "####" not in solution:
        raise TaskError(f"{where}: GSM8K solution has no '#### <answer>' line")
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def _problem(record: dict[str, Any], split: str, index: int, where: str) -> Problem:
    require(record, ("question", "answer"), where)
    return Problem(
        id=f"gsm8k/{split}/{index}",
        question=str(record["question"]),
        answer=final_answer(str(record["answer"]), where),
        solution=str(record["answer"]),
        split=split,
        source="gsm8k",
        metadata={"index": index},
    )


def load_gsm8k(
    split: str = "test", path: str | os.PathLike[str] | None = None, limit: int | None = None
) -> list[Problem]:
    """GSM8K problems of one split, in file order.

    Args:
        split: ``"train"`` (7473) or ``"test"`` (1319).
        path: the data root, the ``gsm8k`` folder, the ``.jsonl`` file, or a hub name (``"hf:openai/gsm8k"``);
            ``None`` resolves ``$PERSUASION_DATA`` then ``../shared/data``.
        limit: keep only the first ``limit`` problems.

    Raises:
        TaskError: an unknown split, a negative limit, or a malformed record.
        DataNotFoundError: no local files (or ``datasets`` missing for a hub name).
    """
    if split not in SPLITS:
        raise TaskError(f"unknown GSM8K split {split!r}; expected one of {SPLITS}")
    if limit is not None and limit < 0:
        raise TaskError(f"limit must be non-negative, got {limit}")
    hub = hub_name(path)
    if hub is not None:
        records: Any = load_hub(hub, "main", split)
        where = f"hub {hub}"
    else:
        file = locate(path, "gsm8k", f"{split}.jsonl")
        records, where = read_jsonl(file), str(file)
    problems = []
    for index, record in enumerate(records):
        if limit is not None and index >= limit:
            break
        problems.append(_problem(record, split, index, f"{where} record {index}"))
    return problems


def format_math_prompt(problem: Problem, shots: Sequence[Problem] = (), chat: bool = False,
                       hint: str | None = None) -> Prompt:
    """The prompt for a math word problem, optionally few-shot, optionally with a hint.

    Completion style: ``"Question: q_i\\nAnswer: s_i\\n\\n" ... "Question: q\\nAnswer:"`` (stop at
    :data:`STOP`); chat style: a system instruction asking for a ``#### N`` line, then one user/assistant pair per
    shot, then the question. Shot solutions lose their ``<<...>>`` annotations. A ``hint`` becomes the line
    :data:`llm.game.prompts.HINT_LINE` just before the final ``Question:`` (chat: before the question in the last user
    message, separated by a blank line); without one (``None`` or blank) the prompt is unchanged.

    Args:
        problem: the question to ask.
        shots: worked examples (their ``solution`` must be non-empty).
        chat: build a list of chat messages instead of one string.
        hint: the information item's text shown to the Receiver.

    Raises:
        TaskError: a shot without a solution.
    """
    for shot in shots:
        if not shot.solution:
            raise TaskError(f"few-shot example {shot.id} has no solution")
    lead = hint_line(hint) if hint is not None and has_hint(hint) else ""
    if chat:
        messages = [{"role": "system", "content": SYSTEM}]
        for shot in shots:
            messages.append({"role": "user", "content": shot.question})
            messages.append({"role": "assistant", "content": clean_solution(shot.solution)})
        messages.append({"role": "user", "content": f"{lead}\n\n{problem.question}" if lead else problem.question})
        return messages
    parts = [f"Question: {s.question}\nAnswer: {clean_solution(s.solution)}\n\n" for s in shots]
    return "".join(parts) + (f"{lead}\n" if lead else "") + f"Question: {problem.question}\nAnswer:"


def reference_response(problem: Problem) -> str:
    """A response in the task's answer format that grades correct: the worked solution without calculator marks
    (it ends in ``#### N``), or ``"#### N"`` when the problem has no solution."""
    if problem.solution:
        return clean_solution(problem.solution).strip()
    return f"#### {problem.answer}"


def wrong_response(problem: Problem) -> str:
    """A response in the task's answer format that grades wrong under both readings: ``"#### N+1"`` (or, for a
    non-numeric reference, a reply with no number)."""
    value = parse_number(problem.answer)
    if value is None:
        return "I cannot solve this problem."
    wrong = value + 1
    return f"#### {wrong.numerator if wrong.denominator == 1 else wrong}"


def _math(problem: AnyProblem) -> Problem:
    if not isinstance(problem, Problem):
        raise TaskError(f"{problem.id} is not a math problem")
    return problem


def _final(problem: AnyProblem, response: str) -> str | None:
    _math(problem)
    return extract_answer(response)


def _grade_details(problems: Sequence[AnyProblem], responses: Sequence[str], workers: int) -> list[Grade]:
    del workers  # grading a number runs no program
    return [grade_math(r, _math(p).answer) for p, r in zip(problems, responses)]


#: The answer format of math tasks: worked steps ending in ``#### N``, graded strictly and flexibly
#: (:mod:`llm.tasks.grading`); the synthetic task shares it.
MATH = AnswerFormat(
    kind="math", grade_detail=lambda p, r: grade_math(r, _math(p).answer), grade_details=_grade_details,
    has_final_answer=has_final_answer, final_answer=_final, reference_response=lambda p: reference_response(_math(p)),
    wrong_response=lambda p: wrong_response(_math(p)), answer_instruction=ANSWER_INSTRUCTION,
)


def _load(split: str, path: PathLike, limit: int | None) -> list[Problem]:
    return load_gsm8k(split, path, limit)


#: GSM8K: 512 tokens (a zero-shot chat answer of a 0.5B model ran past 256 tokens in 9 of 16 answers, while the
#: reference solutions take a median 81, 95th percentile 168 and at most 341 Qwen2.5 tokens over the first 2000
#: train problems); 5 shots (lm-eval's GSM8K default; the worked examples teach the ``#### N`` line that strict
#: grading reads, which a completion-mode Receiver cannot otherwise know, and show the length expected). Cost: the
#: median prompt of the first 200 test problems grows from 60 to 796 Qwen2.5 tokens in completion mode (94 to 858
#: in chat; 3 shots: 488 / 539; 8 shots: 1176 / 1255), prefill that is cheap next to 512 decoding steps. A smoke
#: run uses the embedded synthetic task instead (no data files).
TASK = Task("gsm8k", SPLITS, "test", "train", STOP, _load, format_math_prompt, MATH,
            max_new_tokens=512, default_shots=5, smoke_task="synthetic")

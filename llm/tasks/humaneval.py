"""HumanEval (Chen et al., 2021): 164 hand-written Python functions to complete, graded by unit tests.

Local file: ``<root>/humaneval/HumanEval.jsonl.gz`` with keys ``task_id``, ``prompt``, ``canonical_solution``,
``test`` (defines ``check(candidate)``) and ``entry_point``. Hub: ``"hf:openai/openai_humaneval"``.

References:
    Chen et al. 2021, "Evaluating Large Language Models Trained on Code", https://arxiv.org/abs/2107.03374
"""

from __future__ import annotations

import os
from typing import Any

from llm.tasks.base import CodeProblem
from llm.tasks.code import HUMANEVAL_STOP, format_code_prompt
from llm.tasks.data import hub_name, load_hub, locate, read_jsonl, require
from llm.tasks.execution import CODE
from llm.tasks.task import PathLike, Task

KEYS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")


def _problem(record: dict[str, Any], where: str) -> CodeProblem:
    require(record, KEYS, where)
    return CodeProblem(
        id=str(record["task_id"]),
        prompt=str(record["prompt"]),
        test=str(record["test"]),
        entry_point=str(record["entry_point"]),
        canonical_solution=str(record["canonical_solution"]),
        split="test",
        source="humaneval",
    )


def load_humaneval(path: str | os.PathLike[str] | None = None) -> list[CodeProblem]:
    """The HumanEval problems (one ``test`` split of 164) in file order.

    Args:
        path: the data root, the ``humaneval`` folder, the ``.jsonl.gz`` file, or a hub name
            (``"hf:openai/openai_humaneval"``); ``None`` resolves ``$PERSUASION_DATA`` then ``../shared/data``.

    Raises:
        TaskError: a malformed record.
        DataNotFoundError: no local file (or ``datasets`` missing for a hub name).
    """
    hub = hub_name(path)
    if hub is not None:
        return [_problem(r, f"hub {hub} record {i}") for i, r in enumerate(load_hub(hub, None, "test"))]
    file = locate(path, "humaneval", "HumanEval.jsonl.gz")
    return [_problem(r, f"{file} record {i}") for i, r in enumerate(read_jsonl(file))]


def _load(split: str, path: PathLike, limit: int | None) -> list[CodeProblem]:
    del split  # one split: "test"
    return load_humaneval(path)[:limit]


#: HumanEval: 512 tokens, 0 shots (the benchmark's zero-shot protocol; a completion stops at the next top-level
#: statement, so the budget only bounds chat replies). It has no train split: the Advisor trains on MBPP's.
TASK = Task("humaneval", ("test",), "test", None, HUMANEVAL_STOP, _load, format_code_prompt, CODE,
            max_new_tokens=512, default_shots=0, train_task="mbpp")

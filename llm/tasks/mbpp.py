"""MBPP (Austin et al., 2021): 974 crowd-sourced Python tasks, each with three ``assert`` tests.

Local file: ``<root>/mbpp/mbpp.jsonl`` with keys ``task_id``, ``text``, ``code``, ``test_setup_code``,
``test_list``, ``challenge_test_list``. Standard splits by ``task_id``: prompt 1-10 (few-shot examples),
test 11-510, validation 511-600, train 601-974. Hub: ``"hf:google-research-datasets/mbpp"`` (config ``full``,
the same four splits).

References:
    Austin et al. 2021, "Program Synthesis with Large Language Models", https://arxiv.org/abs/2108.07732
"""

from __future__ import annotations

import os
import re
from typing import Any

from llm.tasks.base import CodeProblem, TaskError
from llm.tasks.code import MBPP_SHOT_IDS, MBPP_STOP, format_code_prompt
from llm.tasks.data import hub_name, load_hub, locate, read_jsonl, require
from llm.tasks.execution import CODE
from llm.tasks.task import PathLike, Task

SPLIT_IDS: dict[str, range] = {
    "prompt": range(1, 11),
    "test": range(11, 511),
    "validation": range(511, 601),
    "train": range(601, 975),
}
SPLITS = (*SPLIT_IDS, "all")
KEYS = ("task_id", "text", "code", "test_list")
_DEF = re.compile(r"^def\s+(\w+)\s*\(", re.MULTILINE)


def split_of(task_id: int) -> str:
    """The standard split holding ``task_id`` (``"test"`` for 11-510, ...).

    Raises:
        TaskError: ``task_id`` outside 1-974.
    """
    for name, ids in SPLIT_IDS.items():
        if task_id in ids:
            return name
    raise TaskError(f"MBPP task_id {task_id} is outside 1-974")


def entry_point(code: str, tests: str) -> str:
    """The function under test: the first top-level ``def`` of ``code`` that ``tests`` call (else the last one).

    Raises:
        TaskError: ``code`` defines no top-level function.
    """
    names = _DEF.findall(code)
    if not names:
        raise TaskError(f"MBPP reference code defines no top-level function: {code[:60]!r}")
    called = [n for n in names if re.search(rf"\b{re.escape(n)}\s*\(", tests)]
    return called[0] if called else names[-1]


def _problem(record: dict[str, Any], where: str) -> CodeProblem:
    require(record, KEYS, where)
    task_id = int(record["task_id"])
    tests = [str(t) for t in record["test_list"]]
    code = str(record["code"]).replace("\r\n", "\n")
    test = "\n".join(tests)
    return CodeProblem(
        id=f"mbpp/{task_id}",
        prompt=str(record["text"]),
        test=test,
        entry_point=entry_point(code, test),
        canonical_solution=code,
        setup=str(record.get("test_setup_code") or "").replace("\r\n", "\n"),
        split=split_of(task_id),
        source="mbpp",
        metadata={"task_id": task_id, "test_list": tuple(tests),
                  "challenge_test_list": tuple(str(t) for t in record.get("challenge_test_list") or ())},
    )


def load_mbpp(split: str = "test", path: str | os.PathLike[str] | None = None) -> list[CodeProblem]:
    """MBPP problems of one standard split, ordered by ``task_id``.

    Args:
        split: ``"test"`` (500), ``"train"`` (374), ``"validation"`` (90), ``"prompt"`` (10) or ``"all"`` (974).
        path: the data root, the ``mbpp`` folder, the ``.jsonl`` file, or a hub name
            (``"hf:google-research-datasets/mbpp"``); ``None`` resolves ``$PERSUASION_DATA`` then ``../shared/data``.

    Raises:
        TaskError: an unknown split or a malformed record.
        DataNotFoundError: no local file (or ``datasets`` missing for a hub name).
    """
    if split not in SPLITS:
        raise TaskError(f"unknown MBPP split {split!r}; expected one of {SPLITS}")
    hub = hub_name(path)
    if hub is not None:
        names = tuple(SPLIT_IDS) if split == "all" else (split,)
        records = [(f"hub {hub} {s} record {i}", r) for s in names for i, r in enumerate(load_hub(hub, "full", s))]
    else:
        file = locate(path, "mbpp", "mbpp.jsonl")
        records = [(f"{file} record {i}", r) for i, r in enumerate(read_jsonl(file))]
    problems = [_problem(r, where) for where, r in records]
    if split != "all":
        problems = [p for p in problems if p.split == split]
    return sorted(problems, key=lambda p: p.metadata["task_id"])


def _load(split: str, path: PathLike, limit: int | None) -> list[CodeProblem]:
    return load_mbpp(split, path)[:limit]


def shot_order(pool: list[CodeProblem]) -> list[CodeProblem]:
    """Austin et al.'s few-shot examples (task_ids 2, 3, 4) first, then the rest of the pool in order."""
    first = [p for i in MBPP_SHOT_IDS for p in pool if p.metadata["task_id"] == i]
    return first + [p for p in pool if p not in first]


#: MBPP: 512 tokens, 3 shots (Austin et al.'s prompt: task_ids 2, 3, 4).
TASK = Task("mbpp", SPLITS, "test", "prompt", MBPP_STOP, _load, format_code_prompt, CODE, max_new_tokens=512,
            default_shots=3, shot_order=shot_order)

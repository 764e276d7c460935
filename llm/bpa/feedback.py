"""Phase 1, feedback (training split only): how well the Receiver does on each problem with each information.

For every training problem ``x`` and every item ``a`` of the catalogue, ``none`` included, the training Receiver
answers ``k`` times (``samples``) at temperature ``T > 0`` with the item's template hint in its prompt; with
``signal_candidates = c > 0`` the Advisor also writes ``c`` signals per (x, a != none), each scored the same way.
Each cell is one :class:`llm.rows.FeedbackRow` in ``train.jsonl``, appended as soon as its ``k`` answers are
graded, keyed by the Receiver: feedback from another Receiver never mixes in.

Sample ``j`` of every cell of a chunk comes from one ``generate`` call with seed ``(seed, j)``, so an endpoint that
honours seeds gives ``k`` different samples, and cells of one problem share their random numbers (common random
numbers across items).
"""

from __future__ import annotations

from typing import Any, Sequence

from tqdm.auto import tqdm

from llm.bpa.context import Context, answer, chunks, hint_text, question, uses_chat
from llm.catalogue import NONE_ID, Item
from llm.lm import PartialResults
from llm.results import ResultStore
from llm.rows import FeedbackRow
from llm.signals import advisor_signals

#: Temperature of the Advisor's candidate signals (diverse candidates for DPO pairs).
CANDIDATE_TEMPERATURE = 0.8


def feedback_key(receiver: str, problem_id: str, item: str, source: str) -> str:
    return f"feedback|{receiver}|{problem_id}|{item}|{source}"


def cell_plan(ctx: Context, problems: Sequence[Any]) -> list[tuple[Any, Item, str]]:
    """Every (problem, item, source) cell the feedback phase scores."""
    writes = ctx.config.advisor != "template"
    sources = ["template"] + [f"advisor{j}" for j in range(ctx.config.signal_candidates if writes else 0)]
    return [(p, it, s) for p in problems for it in ctx.catalogue.items for s in sources
            if s == "template" or it.id != NONE_ID]


def collect_feedback(ctx: Context, problems: Sequence[Any]) -> list[FeedbackRow]:
    """Phase 1: the training Receiver's feedback rows for ``problems`` (resumed: only missing cells are scored)."""
    cfg = ctx.config
    spec = cfg.training_receiver
    store = ResultStore(ctx.out / "train.jsonl")
    plan = cell_plan(ctx, problems)
    todo = [c for c in plan if feedback_key(spec, c[0].id, c[1].id, c[2]) not in store.done()]
    if todo:
        receiver = ctx.model(spec)
        advisor = ctx.model(cfg.advisor) if any(c[2] != "template" for c in todo) else None
        todo_ids = list(dict.fromkeys(c[0].id for c in todo))
        with tqdm(total=len(todo_ids), desc=f"feedback {spec}", unit="problem") as bar:  # closed before an error
            for ids in chunks(todo_ids, max(1, cfg.chunk)):
                cells = [c for c in todo if c[0].id in set(ids)]
                _score_cells(ctx, receiver, advisor, cells, store, spec)
                bar.update(len(ids))
    wanted = {feedback_key(spec, p.id, it.id, s) for p, it, s in plan}
    return [FeedbackRow.from_dict(r) for r in store.rows() if r["key"] in wanted]


def _score_cells(ctx: Context, receiver: Any, advisor: Any, cells: list[tuple[Any, Item, str]], store: ResultStore,
                 spec: str) -> None:
    cfg = ctx.config
    texts: list[str | None] = [hint_text(it) for _, it, s in cells if s == "template"]
    order = [c for c in cells if c[2] == "template"]
    written = [c for c in cells if c[2] != "template"]
    if written:
        sigs = []
        for j in range(cfg.signal_candidates):  # candidate j of every (x, a) comes from one call, seed (seed, j)
            group = [c for c in written if c[2] == f"advisor{j}"]
            out = advisor_signals(advisor, [question(p) for p, _, _ in group], [it for _, it, _ in group],
                                  max_new_tokens=cfg.signal_tokens, temperature=CANDIDATE_TEMPERATURE,
                                  seed=cfg.seed * 1000 + j, chat=uses_chat(advisor, cfg.chat))
            sigs += list(zip(group, out))
        order += [c for c, _ in sigs]
        texts += [s.text for _, s in sigs]
    problems = [p for p, _, _ in order]
    grades: list[list[bool | None]] = [[None] * cfg.samples for _ in order]
    flags: list[list[str]] = [[] for _ in order]
    new_tokens = [0] * len(order)
    seconds = 0.0
    failure: PartialResults | None = None
    for j in range(cfg.samples):
        ans = answer(ctx, receiver, problems, texts, temperature=cfg.temperature, seed=cfg.seed * 1000 + j)
        seconds += ans.seconds
        for i in range(len(order)):
            if not ans.complete(i):
                continue  # the cell is scored again on resume
            grades[i][j] = ans.correct[i]
            new_tokens[i] += ans.new_tokens[i]
            if ans.flags[i]:
                flags[i].append(ans.flags[i])
        if ans.failure is not None:
            failure = ans.failure
    done = store.done()
    for i, (p, it, source) in enumerate(order):
        key = feedback_key(spec, p.id, it.id, source)
        if key in done or any(g is None for g in grades[i]):
            continue
        store.append(FeedbackRow(key, spec, p.id, it.id, source, texts[i], tuple(bool(g) for g in grades[i]),
                                 tuple(flags[i]), seconds / max(1, len(order)), new_tokens[i]).to_dict())
    if failure is not None:
        raise failure


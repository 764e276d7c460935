"""Phase 1, feedback (training split only): how well the Receiver does on each problem with each information.

For every training problem ``x`` and every item ``a`` of the catalogue, ``none`` included, the training Receiver
answers ``k`` times (``samples``) at temperature ``T > 0`` with the item's template hint in its prompt; with
``signal_candidates = c > 0`` the Advisor also writes ``c`` signals per (x, a != none), each scored the same way.
Each cell is one :class:`llm.rows.FeedbackRow` in ``train.jsonl``, appended as soon as its ``k`` answers are
graded, keyed by the Receiver: feedback from another Receiver never mixes in.

The ``k`` answers of a cell are ``k`` copies of its prompt in one ``generate`` call (with the copies of the chunk's
other cells), so a backend that computes a batch's shared prefix once prefills the prompt once (:mod:`llm.backends.hf`) and
an endpoint with prefix caching reuses it. A round that starts at sample ``n`` calls with seed ``seed * 1000 + n``;
copy ``c`` of a prompt is sample ``n + c`` of its cell (the simulated Receiver gives copy ``c`` of seed ``s`` the
answer of seed ``s + c``, so cells of one problem share their random numbers across items).

``feedback_design``: ``grid`` gives every cell its ``k`` answers in one round; ``adaptive`` samples in rounds and
stops the cells that cannot beat silence (:mod:`llm.bpa.elimination`). A cell that needs another round keeps its
answers so far in ``train_rounds.jsonl`` (keyed by cell and first sample), so a killed run resumes without redoing
finished rounds; a finished cell is one ``FeedbackRow`` with as many grades as answers it got. What the design
spent against the full grid is in ``feedback.json`` of the training folder (:func:`feedback_report`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from llm.bpa.context import Context, answer, chunks, hint_text, question, uses_chat
from llm.bpa.elimination import next_samples
from llm.game.catalogue import NONE_ID, Item
from llm.game.signals import advisor_signals
from llm.lm import PartialResults
from llm.rows import FeedbackRow
from llm.store import ResultStore, write_json_atomic

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


def round_key(cell_key: str, first: int) -> str:
    """The key of a cell's answers ``first, first + 1, ...`` kept between rounds (``train_rounds.jsonl``)."""
    return f"round|{cell_key}|{first}"


def design(ctx: Context) -> dict[str, Any]:
    """``k0``, ``k`` and ``delta`` of :func:`llm.bpa.elimination.next_samples` for the config's design (the grid is
    the design whose first round is all ``k``)."""
    cfg = ctx.config
    k0 = cfg.samples if cfg.feedback_design == "grid" else min(cfg.first_samples, cfg.samples)
    return {"k0": k0, "k": cfg.samples, "delta": cfg.elimination_level}


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
        opened: list[ResultStore] = []

        def rounds() -> ResultStore:  # opened (created) only when a cell needs another round
            if not opened:
                opened.append(ResultStore(_rounds_path(ctx)))
            return opened[0]

        todo_ids = list(dict.fromkeys(c[0].id for c in todo))
        with tqdm(total=len(todo_ids), desc=f"feedback {spec}", unit="problem") as bar:  # closed before an error
            for ids in chunks(todo_ids, max(1, cfg.chunk)):
                cells = [c for c in plan if c[0].id in set(ids)]
                _score_cells(ctx, receiver, advisor, cells, store, rounds, spec)
                bar.update(len(ids))
    wanted = {feedback_key(spec, p.id, it.id, s) for p, it, s in plan}
    rows = [FeedbackRow.from_dict(r) for r in store.rows() if r["key"] in wanted]
    report = feedback_report(rows, cfg.samples, cfg.feedback_design)
    write_json_atomic(ctx.train_dir / "feedback.json", report)
    ctx.log(f"feedback ({report['design']}): {report['generations']} answers for {report['cells']} cells, "
            f"{report['saved']:.0%} fewer than the grid's {report['grid_generations']}")
    return rows


def _rounds_path(ctx: Context) -> Path:
    return ctx.out / "train_rounds.jsonl"


def feedback_report(rows: Sequence[FeedbackRow], k: int, design_name: str) -> dict[str, Any]:
    """What the feedback design spent: answers generated against the full grid's ``k`` per cell, and how many
    cells got how many answers (``feedback.json``)."""
    n = [r.samples for r in rows]
    grid = k * len(rows)
    return {"design": design_name, "cells": len(rows), "generations": int(sum(n)), "grid_generations": grid,
            "saved": 1.0 - sum(n) / grid if grid else 0.0, "cells_at_full_k": int(sum(x >= k for x in n)),
            "samples_per_cell": {str(v): n.count(v) for v in sorted(set(n))}}


class _Cell:
    """A cell's answers so far (grades in sample order)."""

    def __init__(self, text: str | None) -> None:
        self.text = text
        self.correct: list[bool] = []
        self.flags: list[str] = []
        self.seconds = 0.0
        self.new_tokens = 0

    def add(self, correct: Sequence[bool], flags: Sequence[str], seconds: float, new_tokens: int) -> None:
        self.correct += list(correct)
        self.flags += list(flags)
        self.seconds += seconds
        self.new_tokens += new_tokens


def _score_cells(ctx: Context, receiver: Any, advisor: Any, cells: list[tuple[Any, Item, str]], store: ResultStore,
                 rounds: Callable[[], ResultStore], spec: str) -> None:
    """Scores the unfinished ``cells`` of a chunk of problems, round after round, until the design stops them."""
    keys = [feedback_key(spec, p.id, it.id, s) for p, it, s in cells]
    finished = {r["key"]: FeedbackRow.from_dict(r) for r in store.rows() if r["key"] in set(keys)}
    kept: dict[str, list[dict[str, Any]]] = {}
    for r in rounds().rows() if ctx.config.feedback_design == "adaptive" or _rounds_path(ctx).exists() else []:
        if r.get("cell") in set(keys) and r["cell"] not in finished:
            kept.setdefault(r["cell"], []).append(r)
    state: dict[str, _Cell] = {}
    for key, (p, it, source) in zip(keys, cells):
        if key in finished:
            continue
        parts = sorted(kept.get(key, []), key=lambda r: r["first"])
        state[key] = cell = _Cell(parts[0]["signal"] if parts else hint_text(it) if source == "template" else None)
        for r in parts:
            if r["first"] == len(cell.correct):
                cell.add(r["correct"], r["flags"], r["seconds"], r["new_tokens"])
    _write_signals(ctx, advisor, [(c, state[k]) for k, c in zip(keys, cells) if k in state and state[k].text is None
                                  and c[2] != "template"])
    plan = design(ctx)
    while True:
        need = _need(cells, keys, finished, state, plan)
        for key, cell in zip(keys, cells):  # stopped before a resume, not written yet
            if key in state and need[key] == 0:
                _finish(store, finished, state, key, cell, spec)
        batch = [(key, cell, need[key]) for key, cell in zip(keys, cells) if need.get(key, 0) > 0]
        if not batch:
            return
        records, failure = _sample_round(ctx, receiver, batch, state)
        need = _need(cells, keys, finished, state, plan)
        for key, cell in zip(keys, cells):
            if key not in records:
                continue
            if need[key] == 0:
                _finish(store, finished, state, key, cell, spec)  # the grid's cells all finish here
            else:
                rounds().append(records[key])
        if failure is not None:
            raise failure


def _need(cells: list[tuple[Any, Item, str]], keys: list[str], finished: dict[str, FeedbackRow],
          state: dict[str, _Cell], plan: dict[str, Any]) -> dict[str, int]:
    """More answers each unfinished cell needs now (:func:`llm.bpa.elimination.next_samples` per problem)."""
    by_problem: dict[str, list[int]] = {}
    for i, (p, _, _) in enumerate(cells):
        by_problem.setdefault(p.id, []).append(i)
    need: dict[str, int] = {}
    for idx in by_problem.values():
        grades = [finished[keys[i]].correct if keys[i] in finished else state[keys[i]].correct for i in idx]
        nones = [j for j, i in enumerate(idx) if cells[i][1].id == NONE_ID and cells[i][2] == "template"]
        more = next_samples(np.array([sum(g) for g in grades]), np.array([len(g) for g in grades]), nones[0], **plan)
        need.update({keys[i]: int(m) for i, m in zip(idx, more) if keys[i] in state})
    return need


def _finish(store: ResultStore, finished: dict[str, FeedbackRow], state: dict[str, _Cell], key: str,
            cell: tuple[Any, Item, str], spec: str) -> None:
    p, it, source = cell
    c = state.pop(key)
    row = FeedbackRow(key, spec, p.id, it.id, source, c.text, tuple(bool(g) for g in c.correct), tuple(c.flags),
                      c.seconds, c.new_tokens)
    store.append(row.to_dict())
    finished[key] = row


def _write_signals(ctx: Context, advisor: Any, todo: list[tuple[tuple[Any, Item, str], _Cell]]) -> None:
    """The Advisor's written signals for cells that have none yet (candidate ``j`` of every (x, a) from one call,
    seed ``(seed, j)``)."""
    cfg = ctx.config
    for j in range(cfg.signal_candidates):
        group = [(c, cell) for c, cell in todo if c[2] == f"advisor{j}"]
        if not group:
            continue
        out = advisor_signals(advisor, [question(p) for (p, _, _), _ in group], [it for (_, it, _), _ in group],
                              max_new_tokens=cfg.signal_tokens, temperature=CANDIDATE_TEMPERATURE,
                              seed=cfg.seed * 1000 + j, chat=uses_chat(advisor, cfg.chat))
        for (_, cell), sig in zip(group, out):
            cell.text = sig.text


def _sample_round(ctx: Context, receiver: Any, batch: list[tuple[str, tuple[Any, Item, str], int]],
                  state: dict[str, _Cell]) -> tuple[dict[str, dict[str, Any]], PartialResults | None]:
    """One round: the ``n`` more answers of each cell in ``batch`` as ``n`` copies of its prompt, one call per first
    sample (the seed). Returns each complete cell's new answers (a ``train_rounds.jsonl`` record, already added to
    ``state``) and a backend's partial failure, if any."""
    cfg = ctx.config
    records: dict[str, dict[str, Any]] = {}
    failure = None
    for first in sorted({len(state[key].correct) for key, _, _ in batch}):
        group = [(key, cell, n) for key, cell, n in batch if len(state[key].correct) == first]
        copies = [(key, cell) for key, cell, n in group for _ in range(n)]
        ans = answer(ctx, receiver, [cell[0] for _, cell in copies], [state[key].text for key, _ in copies],
                     temperature=cfg.temperature, seed=cfg.seed * 1000 + first)
        spans, at = {}, 0
        for key, _, n in group:
            spans[key], at = range(at, at + n), at + n
        broken = {cell[0].id if cfg.feedback_design == "adaptive" else key  # adaptive: a problem's cells in step
                  for key, cell, _ in group if not all(ans.complete(i) for i in spans[key])}
        for key, cell, n in group:
            span = spans[key]
            if key in broken or cell[0].id in broken:
                continue  # sampled again on resume
            records[key] = {"key": round_key(key, first), "cell": key, "first": first, "signal": state[key].text,
                            "correct": [bool(ans.correct[i]) for i in span],
                            "flags": [ans.flags[i] for i in span if ans.flags[i]],
                            "seconds": ans.seconds * n / max(1, len(copies)),
                            "new_tokens": int(sum(ans.new_tokens[i] for i in span))}
            state[key].add(records[key]["correct"], records[key]["flags"], records[key]["seconds"],
                           records[key]["new_tokens"])
        failure = failure or ans.failure
    return records, failure

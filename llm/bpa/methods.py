"""The decoupled methods inside the BPA pipeline (:func:`llm.bpa.pipeline.run`): training data, training, evaluation rows.

Phase 3b (training split, only for ``aligner`` / ``aligner-squad``):

1. the training Receiver answers each training problem greedily, without a signal: rows ``qa|<problem>|<receiver>``
   of ``qa.jsonl`` (resumable) with the answer ``y_o``, its grade and the reference solution;
2. the corrector is fine-tuned on the Q-A-C pairs (``aligner/``, resumable; ``aligner.json`` when done);
3. for the squad, the inspector is fit on the same answers' features and grades (``inspector.json``).

Both live in the training Receiver's folder (``training/<receiver>/``), like the Advisor.

Phase 4 rows ``<problem>|<condition>|<receiver>`` for the methods: the correctors rewrite the chunk's baseline
answers (so ``original_response`` is exactly the baseline row's answer to the same prompt), Linear Alignment decodes
the baseline prompt anew. Each row records ``fired``, ``p_correct``, ``changed`` (the graded final answer differs
from the original's: the number for math, the cleaned code for code) and its cost (``calls``, ``tokens``,
``cost_seconds``: the Receiver's answer plus the method's extra work).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from llm.bpa.context import Context, answer, chunks, receiver_prompts, receiver_stop
from llm.lm import LanguageModel, LMError, Prompt
from llm.methods import METHOD_OF_CONDITION
from llm.methods.aligner import AlignedModel, Correction, QARecord, question_text, train_corrector
from llm.methods.cost import Cost
from llm.methods.inspector import Inspector, SquadModel, answer_features, fit_inspector
from llm.rows import EvalRow
from llm.store import ResultStore, write_json_atomic


@dataclass(frozen=True)
class Correctors:
    """What phase 3b produced: the trained corrector's folder, the scorer spec and the inspector (squad only)."""

    corrector: str
    scorer: str
    inspector: Inspector | None


def final_key(task: Any, problem: Any, text: str) -> str | None:
    """What grading looks at: the task's final answer (the number for math, the cleaned program for code)."""
    return task.final_answer(problem, text)


# ------------------------------------------------------------------------------------------- 3b. correctors
def collect_answers(ctx: Context, problems: Sequence[Any], spec: str) -> ResultStore:
    """Rows ``qa|<problem>|<spec>``: the Receiver's plain greedy answer to each training problem, graded."""
    cfg = ctx.config
    store = ResultStore(ctx.out / "qa.jsonl")
    todo = [p for p in problems if f"qa|{p.id}|{spec}" not in store.done()]
    if not todo:
        return store
    receiver = ctx.model(spec)
    with tqdm(total=len(todo), desc="Q-A set", unit="problem") as bar:  # closed before an error is printed
        for chunk in chunks(todo, max(1, cfg.chunk)):
            ans = answer(ctx, receiver, chunk, [None] * len(chunk))
            for j, p in enumerate(chunk):
                if not ans.complete(j):
                    continue
                store.append({
                    "key": f"qa|{p.id}|{spec}", "problem_id": p.id, "receiver": spec,
                    "question": question_text(ans.prompts[j]), "response": ans.responses[j],
                    "correct": bool(ans.correct[j]), "reference": ctx.task.reference_response(p),
                    "seconds": ans.seconds / len(chunk), "new_tokens": ans.new_tokens[j],
                })
            if ans.failure is not None:
                raise ans.failure
            bar.update(len(chunk))
    return store


def prepare_correctors(ctx: Context, train: Sequence[Any]) -> Correctors:
    """Phase 3b: the Q-A set, the trained corrector (``aligner.json``) and, for the squad, the inspector."""
    from llm.backends.models import resolve
    from llm.train import TrainConfig

    cfg, mc = ctx.config, ctx.config.methods
    spec = cfg.training_receiver
    ids = {p.id for p in train}
    rows = [r for r in collect_answers(ctx, train, spec).rows() if r["receiver"] == spec and r["problem_id"] in ids]
    records = [QARecord(r["question"], r["response"], r["correct"], r["reference"]) for r in rows]
    scorer = mc.corrector or cfg.advisor
    start = resolve(scorer)
    info_path = ctx.train_dir / "aligner.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
    else:
        tc = TrainConfig(learning_rate=mc.aligner_lr, epochs=mc.aligner_epochs, batch_size=mc.aligner_batch,
                         seed=cfg.seed, max_steps=mc.aligner_max_steps, save_every=25)
        ctx.log(f"training the corrector on {len(records)} Q-A-C pairs ({sum(not r.correct for r in records)} "
                "wrong answers) ...")
        info = train_corrector(start, records, ctx.train_dir / "aligner", tc, warmup=mc.aligner_warmup)
        write_json_atomic(info_path, info)
    inspector = None
    if "aligner-squad" in cfg.conditions:
        insp_path = ctx.train_dir / "inspector.json"
        if insp_path.exists():
            inspector = Inspector.from_dict(json.loads(insp_path.read_text()))
        else:
            t0 = time.perf_counter()
            feats, _ = answer_features(ctx.model(scorer), [r.question for r in records],
                                       [r.answer for r in records], ctx.task.has_final_answer)
            labels = np.array([r.correct for r in records], dtype=float)
            inspector = fit_inspector(feats, labels, l2=mc.inspector_l2)
            p = inspector.predict(feats)
            write_json_atomic(insp_path, {
                **inspector.to_dict(), "scorer": scorer, "train_n": len(records),
                "train_correct": int(labels.sum()), "threshold": mc.squad_threshold,
                "train_fire_rate": float(np.mean(p < mc.squad_threshold)),
                "train_accuracy": float(np.mean((p >= 0.5) == (labels == 1))),
                "seconds": time.perf_counter() - t0,
            })
    return Correctors(info["model"], scorer, inspector)


# -------------------------------------------------------------------------------------------- 4. evaluation
def principle_for(ctx: Context) -> str:
    """Linear Alignment's principle: the configured one, else the default of the task kind."""
    from llm.methods.linear_alignment import principle_for_task

    mc = ctx.config.methods
    return mc.la_principle if mc.la_principle is not None else principle_for_task(ctx.task)


def method_wrappers(ctx: Context, receiver: LanguageModel, correctors: Correctors | None) -> dict[str, Any]:
    """The wrapped Receiver of each decoupled condition in the run.

    Raises:
        LMError: a corrector condition without trained ``correctors`` (phase 3b, :func:`prepare_correctors`).
    """
    cfg, mc = ctx.config, ctx.config.methods
    fixers = [c for c in ("aligner", "aligner-squad") if c in cfg.conditions]
    if fixers and (correctors is None or ("aligner-squad" in fixers and correctors.inspector is None)):
        raise LMError(f"condition {fixers[-1]!r} needs the trained corrector and inspector of prepare_correctors")
    out: dict[str, Any] = {}
    budget = mc.correction_tokens or ctx.max_new_tokens
    if correctors is not None and "aligner" in fixers:
        out["aligner"] = AlignedModel(receiver, ctx.model(correctors.corrector), correction_tokens=budget)
    if correctors is not None and correctors.inspector is not None and "aligner-squad" in fixers:
        out["aligner-squad"] = SquadModel(receiver, ctx.model(correctors.corrector), ctx.model(correctors.scorer),
                                          correctors.inspector, threshold=mc.squad_threshold,
                                          has_final=ctx.task.has_final_answer, correction_tokens=budget)
    if "linear-alignment" in cfg.conditions:
        from llm.methods.linear_alignment import LinearAlignedModel

        out["linear-alignment"] = LinearAlignedModel(receiver, principle_for(ctx), ratio=mc.la_ratio,
                                                     top_p=mc.la_top_p)
    return out


def _row(p: Any, cond: str, spec: str, prompt: Prompt, response: str, correct: bool, cost: Cost,
         prior: list[float] | None) -> EvalRow:
    return EvalRow(key=f"{p.id}|{cond}|{spec}", problem_id=p.id, condition=cond, method=METHOD_OF_CONDITION[cond],
                   receiver=spec, prompt=prompt if isinstance(prompt, str) else json.dumps(prompt),
                   response=response, correct=bool(correct), prior=prior, seconds=cost.seconds,
                   new_tokens=cost.new_tokens, calls=cost.calls, tokens=cost.tokens, cost_seconds=cost.seconds)


def method_rows(ctx: Context, spec: str, receiver: LanguageModel, chunk: Sequence[Any],
                base: dict[str, tuple[Prompt, str, bool, Cost]], wrappers: dict[str, Any], done: set[str],
                priors: np.ndarray | None) -> list[EvalRow]:
    """The decoupled methods' rows for one chunk (those not ``done``).

    Args:
        base: problem id -> (prompt, baseline answer, its grade, its cost), from the chunk's Receiver call.
        wrappers: from :func:`method_wrappers`.
        priors: the chunk's Receiver priors (stored in the rows when measured), or ``None``.
    """
    cfg = ctx.config
    rows: list[EvalRow] = []
    prior_of = {p.id: priors[i].tolist() for i, p in enumerate(chunk)} if priors is not None else {}
    for cond in ("aligner", "aligner-squad"):
        todo = [p for p in chunk if cond in wrappers and f"{p.id}|{cond}|{spec}" not in done]
        if not todo:
            continue
        fixes: list[Correction] = wrappers[cond].correct([base[p.id][0] for p in todo],
                                                         [base[p.id][1] for p in todo],
                                                         max_new_tokens=ctx.max_new_tokens, seed=cfg.seed)
        graded = ctx.task.grade_many(list(todo), [f.final for f in fixes])
        for p, f, ok in zip(todo, fixes, graded):
            prompt, original, was_ok, cost = base[p.id]
            row = _row(p, cond, spec, prompt, f.final, ok, cost + f.cost, prior_of.get(p.id))
            # the row's generation is the correction; the answer it corrects is the baseline row's
            rows.append(replace(row, seconds=f.cost.seconds, new_tokens=f.cost.new_tokens,
                                original_response=original, original_correct=was_ok, fired=f.fired,
                                p_correct=f.p_correct, rewritten=f.rewritten,
                                changed=final_key(ctx.task, p, f.final) != final_key(ctx.task, p, original)))
    cond = "linear-alignment"
    todo = [p for p in chunk if cond in wrappers and f"{p.id}|{cond}|{spec}" not in done]
    if todo:
        model = wrappers[cond]
        prompts = receiver_prompts(ctx, receiver, todo, [None] * len(todo))
        gens = model.generate(prompts, max_new_tokens=ctx.max_new_tokens, temperature=0.0, seed=cfg.seed,
                              stop=receiver_stop(ctx, receiver))
        graded = ctx.task.grade_many(list(todo), [g.text for g in gens])
        for p, prompt, g, ok, cost in zip(todo, prompts, gens, graded, model.last):
            row = _row(p, cond, spec, prompt, g.text, ok, cost, prior_of.get(p.id))
            if p.id in base:
                original = base[p.id][1]
                row = replace(row, original_response=original, original_correct=base[p.id][2],
                              changed=final_key(ctx.task, p, g.text) != final_key(ctx.task, p, original))
            rows.append(row)
    return rows

"""Phase 4, evaluation on the test split: the paper's conditions, the analysis conditions, the decoupled methods.

Per Receiver and test problem ``x``, with the Receiver's measured prior ``mu_x^0`` over the items, the Advisor's
state estimate ``omega_hat(x)`` (its state model) and its signal ``sigma ~ pi(. | omega_hat)`` (its scheme):

* ``baseline``: no information;
* ``prior``: the template hint of an item drawn from the Receiver's own prior, ``a ~ mu_x^0``;
* ``posterior``: the Advisor's signal for ``sigma`` is shown to the Receiver's belief prompt, giving its measured
  posterior ``mu_x^g``; the Receiver then answers with the template hint of ``a ~ mu_x^g``;
* ``signal``: the Advisor's own text for ``sigma`` as written (nothing for ``sigma = none``);
* ``random``: the template hint of a uniform item (``none`` included);
* ``matched``: the rate-matched random comparator: with probability ``q``, the share of the test problems the
  Advisor speaks on (``sigma != none``), the template hint of a uniform item other than ``none``; else nothing. An
  Advisor that speaks at random scores like ``matched``; one that targets beats it;
* ``oracle``: every item's hint is tried and the problem counts as solved if any solved it (the hindsight-best
  item: an upper bound, charged ``m`` calls); its ``information`` is the first item that solved it (``none`` only
  when silence did) or :data:`UNSOLVED`;

and the decoupled methods of :mod:`llm.methods` (``aligner``, ``aligner-squad``, ``linear-alignment``).
Obedience is measured, not assumed: ``acted_item`` is the mode of ``mu_x^g``. In the cost game
(``follow_cost > 0``) the scheme is first published to the Receivers that accept a commitment (:func:`commit`).
Every draw is a function of ``(seed, condition, problem)`` only (common random numbers across Receivers), answers are greedy (or sampled at
``eval_temperature`` with the run's seed, one answer per prompt: ``docs/method.md`` "Feedback at scale"), and a prompt
that two conditions share (``prior`` drawing ``none`` is the baseline) is answered once.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np
from tqdm.auto import tqdm

from llm.bpa.context import Context, answer, chunks, hint_text, question, rng, uses_chat
from llm.bpa.game import GameResult
from llm.bpa.state import GainModel
from llm.game.beliefs import receiver_beliefs
from llm.game.catalogue import NONE_ID
from llm.game.signals import advisor_signals, draw_signal_item, template_signal
from llm.lm import LMError
from llm.methods import METHOD_OF_CONDITION, Cost, Metered
from llm.rows import EvalRow
from llm.store import ResultStore

#: Conditions that need the Receiver's beliefs (token log-probabilities).
BELIEF_CONDITIONS = ("prior", "posterior")
#: Conditions that need the Advisor (state model, scheme, signal).
ADVISOR_CONDITIONS = ("posterior", "signal", "matched")
#: The ``information`` of an ``oracle`` row that no item (silence included) solved.
UNSOLVED = "unsolved"


class Advisor:
    """What the trained Advisor does at test time: estimate the state, draw the signal, write it."""

    def __init__(self, ctx: Context, state_model: GainModel, game: GameResult, writer: str) -> None:
        self.ctx, self.state_model, self.game, self.writer = ctx, state_model, game, writer
        self._drawn: dict[str, tuple[int, int]] = {}

    def draw(self, problems: Sequence[Any]) -> tuple[list[int], list[int]]:
        """``omega_hat`` (the state model's do-no-harm choice) and ``sigma ~ pi(. | omega_hat)``, item indices
        (computed once per problem: the features may cost model calls)."""
        from llm.bpa.features import feature_blocks
        from llm.bpa.learnability import combine

        ctx = self.ctx
        new = list({p.id: p for p in problems if p.id not in self._drawn}.values())
        if new:
            feats = self.state_model.features
            phi = combine(feature_blocks(ctx, new, feats), feats, len(new))
            scheme = self.game.scheme
            for p, s in zip(new, self.state_model.choose(phi)):
                sigma = draw_signal_item(scheme, s, rng(ctx.config.seed, "signal", p.id))
                self._drawn[p.id] = (int(s), sigma)
        return [self._drawn[p.id][0] for p in problems], [self._drawn[p.id][1] for p in problems]

    def speaking_rate(self, problems: Sequence[Any]) -> float:
        """The share of ``problems`` with ``sigma != none`` (the ``matched`` comparator's rate ``q``)."""
        none = self.ctx.catalogue.index(NONE_ID)
        return float(np.mean([s != none for s in self.draw(problems)[1]])) if problems else 0.0

    def signals(self, problems: Sequence[Any]) -> tuple[list[int], list[int], list[str | None], list[Cost]]:
        """``omega_hat``, ``sigma`` (item indices), the signal texts (``None`` for ``none``) and their costs."""
        ctx, items = self.ctx, self.ctx.catalogue.items
        states, sigmas = self.draw(problems)
        texts: list[str | None] = [None] * len(problems)
        costs = [Cost() for _ in problems]
        speak = [i for i, s in enumerate(sigmas) if items[s].id != NONE_ID]
        if speak and self.writer == "template":
            for i in speak:
                texts[i] = template_signal(items[sigmas[i]]).text
        elif speak:
            model = Metered(ctx.model(self.writer))
            sigs = advisor_signals(model, [question(problems[i]) for i in speak], [items[sigmas[i]] for i in speak],
                                   max_new_tokens=ctx.config.signal_tokens, seed=ctx.config.seed,
                                   chat=uses_chat(model, ctx.config.chat))
            for i, s, c in zip(speak, sigs, model.last):
                texts[i], costs[i] = s.text, c
        return [int(s) for s in states], sigmas, texts, costs


def _draw(seed: int, cond: str, pid: str, p: np.ndarray) -> int:
    p = np.clip(np.asarray(p, dtype=float), 0, None)
    return int(rng(seed, cond, pid).choice(len(p), p=p / p.sum()))


def commit(ctx: Context, receiver: Any, advisor: Advisor | None) -> Any:
    """The Receiver once the Advisor has published its scheme, in the cost game (``follow_cost > 0``) only.

    Commitment is public in persuasion: the Receiver knows ``pi(sigma | omega)`` before it reads a signal. A Receiver
    that can take the scheme (``committed_to(scheme, states, items)``, e.g. :class:`llm.backends.simulated.SimulatedReceiver`)
    gets it here; any other Receiver, and every Receiver when ``follow_cost = 0``, is returned unchanged.
    """
    if advisor is None or ctx.config.follow_cost <= 0 or not hasattr(receiver, "committed_to"):
        return receiver
    ids = ctx.catalogue.ids
    out = receiver.committed_to(advisor.game.scheme, ids, ids)
    ignored = [i for i, ok in (getattr(out, "obeyed", None) or {}).items() if not ok]
    ctx.log(f"published the scheme to {getattr(receiver, 'name', 'the Receiver')}; it ignores hints for "
            f"{', '.join(ignored) or 'no item'}")
    return out


def evaluate(ctx: Context, problems: Sequence[Any], advisor: Advisor | None, correctors: Any = None) -> ResultStore:
    """Phase 4: rows ``<problem>|<condition>|<receiver>`` (:class:`llm.rows.EvalRow`) for every Receiver and
    condition of the config, appended per chunk (resumable)."""
    from llm.bpa.methods import method_rows, method_wrappers

    cfg = ctx.config
    conds = cfg.conditions
    store = ResultStore(ctx.out / "eval.jsonl")
    rate = advisor.speaking_rate(problems) if advisor is not None and "matched" in conds else None
    for spec in cfg.receivers:
        todo = [p for p in problems if any(f"{p.id}|{c}|{spec}" not in store.done() for c in conds)]
        if not todo:
            continue
        receiver = commit(ctx, ctx.model(spec), advisor)
        if any(c in conds for c in BELIEF_CONDITIONS) and not receiver.capabilities.token_logprobs:
            raise LMError(f"conditions {BELIEF_CONDITIONS} need the Receiver's token log-probabilities; "
                          f"{spec} gives none")
        wrappers = method_wrappers(ctx, receiver, correctors)
        with tqdm(total=len(todo), desc=f"eval {spec}", unit="problem") as bar:  # closed before an error
            for chunk in chunks(todo, max(1, cfg.chunk)):
                rows, base, priors, failure = _bpa_rows(ctx, spec, receiver, chunk, advisor, store.done(), rate)
                for row in rows:
                    store.append(row.to_dict())
                if failure is not None:
                    raise failure
                for row in method_rows(ctx, spec, receiver, chunk, base, wrappers, store.done(), priors):
                    store.append(row.to_dict())
                bar.update(len(chunk))
        if spec not in (cfg.advisor, getattr(advisor, "writer", None)):
            ctx.drop(spec)
    return store


def _bpa_rows(ctx: Context, spec: str, receiver: Any, chunk: Sequence[Any], advisor: Advisor | None,
              done: set[str], rate: float | None = None
              ) -> tuple[list[EvalRow], dict[str, Any], np.ndarray | None, Exception | None]:
    """The chunk's BPA rows, the baseline answers the decoupled methods correct, the priors, and a failure."""
    cfg, items = ctx.config, ctx.catalogue.items
    m, none = len(items), ctx.catalogue.index(NONE_ID)
    conds = [c for c in cfg.conditions if c in METHOD_OF_CONDITION and METHOD_OF_CONDITION[c] in ("baseline", "bpa")]
    need_base = "baseline" in cfg.conditions or any(c in cfg.conditions for c in ("aligner", "aligner-squad"))
    questions = [question(p) for p in chunk]
    priors = receiver_beliefs(receiver, questions, ctx.catalogue) if any(
        c in conds for c in BELIEF_CONDITIONS) else None
    adv = None
    if any(c in conds for c in ("posterior", "signal")):
        if advisor is None:
            raise LMError("the posterior and signal conditions need the trained Advisor (run the training phases)")
        adv = advisor.signals(chunk)
        posts = receiver_beliefs(receiver, questions, ctx.catalogue, adv[2])
    # plan: (problem index, condition, information label, hint text, extra fields)
    plan: list[tuple[int, str, str | None, str | None, dict[str, Any]]] = []
    for i, p in enumerate(chunk):
        if need_base:
            plan.append((i, "baseline", None, None, {}))
        if "prior" in conds:
            a = _draw(cfg.seed, "prior", p.id, priors[i])  # type: ignore[index]
            plan.append((i, "prior", items[a].id, hint_text(items[a]), {"prior": priors[i].tolist()}))  # type: ignore[index]
        if adv is not None:
            states, sigmas, texts, costs = adv
            extra = {"state": items[states[i]].id, "signal_item": items[sigmas[i]].id, "signal": texts[i],
                     "acted_item": items[int(np.argmax(posts[i]))].id, "posterior": posts[i].tolist(),
                     "prior": priors[i].tolist() if priors is not None else None, "_cost": costs[i]}
            if "posterior" in conds:
                a = _draw(cfg.seed, "posterior", p.id, posts[i])
                plan.append((i, "posterior", items[a].id, hint_text(items[a]), extra))
            if "signal" in conds:
                label = None if texts[i] is None else f"advisor:{items[sigmas[i]].id}"
                plan.append((i, "signal", label, texts[i], extra))
        if "random" in conds:
            a = int(rng(cfg.seed, "random", p.id).integers(m))
            plan.append((i, "random", items[a].id, hint_text(items[a]), {}))
        if "matched" in conds:
            if rate is None:
                raise LMError("the matched comparator needs the trained Advisor's speaking rate")
            draw = rng(cfg.seed, "matched", p.id)
            speaks = draw.random() < rate
            a = int(draw.choice([k for k in range(m) if k != none])) if speaks else none
            plan.append((i, "matched", items[a].id, hint_text(items[a]), {}))
        if "oracle" in conds:
            for a in [none] + [k for k in range(m) if k != none]:
                plan.append((i, "oracle", items[a].id, hint_text(items[a]), {}))
    # answer each distinct (problem, hint) once
    distinct = list(dict.fromkeys((i, h) for i, _, _, h, _ in plan))
    ans = answer(ctx, receiver, [chunk[i] for i, _ in distinct], [h for _, h in distinct],
                 temperature=ctx.config.eval_temperature)
    where = {key: j for j, key in enumerate(distinct)}
    share = ans.seconds / max(1, len(distinct))

    def cost(j: int) -> Cost:
        return Cost(1, ans.prompt_tokens[j], ans.new_tokens[j], share)

    rows: list[EvalRow] = []
    base: dict[str, Any] = {}
    for i, p in enumerate(chunk):
        mine = [(c, label, h, extra) for k, c, label, h, extra in plan if k == i]
        by_cond: dict[str, list[tuple[str | None, str | None, dict[str, Any]]]] = {}
        for c, label, h, extra in mine:
            by_cond.setdefault(c, []).append((label, h, extra))
        for c, entries in by_cond.items():
            js = [where[(i, h)] for _, h, _ in entries]
            if not all(ans.complete(j) for j in js):
                continue
            if c == "baseline":
                j = js[0]
                prompt = ans.prompts[j]
                base[p.id] = (prompt, ans.responses[j], bool(ans.correct[j]), cost(j))
            key = f"{p.id}|{c}|{spec}"
            if key in done or c not in conds:
                continue
            if c == "oracle":  # solved if any item's information solved it; the first such item is recorded
                hits = [k for k, j in enumerate(js) if ans.correct[j]]
                k = hits[0] if hits else 0  # unsolved: the answer kept is silence's, the label says none solved it
                total = sum((cost(j) for j in js), Cost())
                label, _, extra = entries[k]
                label = label if hits else UNSOLVED
                j, ok, row_cost = js[k], bool(hits), total
            else:
                (label, _, extra), j = entries[0], js[0]
                ok, row_cost = bool(ans.correct[j]), cost(j) + extra.get("_cost", Cost())
            prompt = ans.prompts[j]
            fields = {k: v for k, v in extra.items() if not k.startswith("_")}
            rows.append(EvalRow(
                key=key, problem_id=p.id, condition=c, method=METHOD_OF_CONDITION[c], receiver=spec,
                prompt=prompt if isinstance(prompt, str) else json.dumps(prompt), response=ans.responses[j],
                correct=ok, information=label, seconds=share, new_tokens=ans.new_tokens[j], calls=row_cost.calls,
                tokens=row_cost.tokens, cost_seconds=row_cost.seconds, flag=ans.flags[j], **fields))
    return rows, base, priors, ans.failure

"""Bayesian Persuasion Alignment end to end: collect Receiver feedback, solve the game, train the Advisor, evaluate.

The protocol (symbols of ``docs/method.md``):

1. **Feedback** (training split only). For each training problem ``x`` the Receiver's prior ``mu_x^0`` over the
   catalogue is measured and a state ``omega ~ mu_x^0`` is drawn. For every item ``a`` the Advisor writes a signal
   for ``(x, a)``, the Receiver answers with it, and the answer is graded: one row
   ``(x, omega, a, signal, response, correct, posterior mode)``.
2. **Finite game.** :func:`llm.empirical.estimate_game` turns the rows into a game over the items;
   :func:`persuasion.solve` gives the LP-optimal scheme ``pi*(a | omega)``.
3. **Advisor training.** Rejection-sampling SFT on the signals that led to correct answers (``llm.train``), and
   optionally DPO on (correct, incorrect) signal pairs of the same problem.
4. **Evaluation** (test split), per Receiver and problem: ``baseline`` (question only), ``prior`` (the hint of an
   item drawn from the Receiver's own prior ``mu_x^0``) and ``persuasion`` (``omega ~ mu_x^0``, ``a ~ pi*(.|omega)``,
   the trained Advisor's signal for ``(x, a)``); and, side by side, the decoupled alignment methods of
   :mod:`llm.methods` (``aligner``, ``aligner-squad``, ``linear-alignment``; the corrector is trained on the
   training split in phase 3b, see ``docs/methods.md``). Every row carries its ``method`` and its inference cost
   (``calls``, ``tokens``, ``cost_seconds``).

Every row is appended to crash-safe JSONL (:class:`llm.results.ResultStore`) under a unique key, so a killed run
resumes with nothing lost or duplicated; all random draws are functions of (seed, problem, receiver, condition).
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence

import numpy as np
from tqdm.auto import tqdm

from llm.beliefs import receiver_beliefs
from llm.catalogue import Catalogue, load_catalogue
from llm.lm import LanguageModel, LMError, Prompt
from llm.methods import BPA_CONDITIONS, CONDITIONS, METHOD_OF_CONDITION, Cost, Metered, MethodsConfig
from llm.prompts import receiver_prompt
from llm.results import ResultStore, write_json_atomic
from llm.signals import Signal, advisor_signals, template_signal
from llm.stats import bootstrap_diff, bootstrap_mean, mcnemar
from llm.tasks import get_task

if TYPE_CHECKING:
    from llm.methods.pipeline import Correctors

__all__ = [
    "BPA_CONDITIONS",
    "CONDITIONS",
    "BPAConfig",
    "Context",
    "collect_feedback",
    "evaluate",
    "methods_markdown",
    "run",
    "solve_game",
    "summarize",
    "summary_markdown",
    "train_advisor",
    "with_signal",
]


@dataclass(frozen=True)
class BPAConfig:
    """One experiment; saved next to its results (``config.json``).

    Attributes:
        task: ``gsm8k``, ``synthetic``, ``humaneval`` or ``mbpp`` (evaluated on its test split).
        train_task: the task whose ``train`` split trains the Advisor and the corrector (default: ``task``;
            ``mbpp`` for ``humaneval``, which has only a test split).
        catalogue: the information items (built-in name or JSON path).
        advisor: the Advisor (short name, local folder, hub id).
        receivers: the Receivers (short names, folders, hub ids or ``http(s)://host/v1#model`` endpoints).
        train_receiver: the Receiver whose feedback trains the Advisor (default: the first).
        data: data root or file (default: ``$PERSUASION_DATA``, then ``../shared/data``).
        limit: test problems (``None``: the whole split).
        train_limit: training problems for feedback.
        conditions: evaluation conditions, a subset of :data:`CONDITIONS` (default: BPA's three).
        max_new_tokens: Receiver answer budget.
        signal_tokens: Advisor signal budget.
        chat: ``auto`` (chat template if the model has one), ``yes`` or ``no``.
        shots: few-shot examples in the Receiver's prompt.
        sft_epochs, sft_lr, sft_batch, sft_max_steps: Advisor SFT.
        dpo: follow SFT with DPO on signal pairs.
        seed: master seed.
        batch_size: prompts per model call.
        chunk: problems per resumable chunk.
        device, dtype: local model placement (default: automatic).
        methods: settings of the decoupled alignment methods (:class:`llm.methods.MethodsConfig`).
    """

    task: str = "gsm8k"
    train_task: str | None = None
    catalogue: str = "math"
    advisor: str = "smollm2-135m"
    receivers: tuple[str, ...] = ("smollm2-135m",)
    train_receiver: str | None = None
    data: str | None = None
    limit: int | None = 20
    train_limit: int = 16
    conditions: tuple[str, ...] = BPA_CONDITIONS
    max_new_tokens: int = 256
    signal_tokens: int = 48
    chat: str = "auto"
    shots: int = 0
    sft_epochs: int = 2
    sft_lr: float = 5e-5
    sft_batch: int = 4
    sft_max_steps: int | None = None
    dpo: bool = False
    seed: int = 0
    batch_size: int = 8
    chunk: int = 8
    device: str | None = None
    dtype: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    methods: MethodsConfig = field(default_factory=MethodsConfig)

    def __post_init__(self) -> None:
        bad = sorted(set(self.conditions) - set(CONDITIONS))
        if bad:
            raise ValueError(f"unknown condition(s) {bad}; choose from {list(CONDITIONS)}")
        if not self.receivers:
            raise ValueError("at least one --receiver is needed")
        if self.chat not in ("auto", "yes", "no"):
            raise ValueError(f"chat must be auto, yes or no, got {self.chat!r}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")
        if self.train_limit < 1:
            raise ValueError(f"train_limit must be >= 1, got {self.train_limit}")


def _rng(*parts: Any) -> np.random.Generator:
    """A generator that depends only on ``parts`` (stable across runs and resumes)."""
    return np.random.default_rng(zlib.crc32("|".join(map(str, parts)).encode()))


def uses_chat(model: LanguageModel, mode: str) -> bool:
    """Whether prompts for ``model`` are sent as chats (``auto``: it has a chat template, or is an HTTP model)."""
    if mode != "auto":
        return mode == "yes"
    tok = getattr(model, "tokenizer", None)
    if tok is None:
        return True  # HTTP endpoints: chat completions
    return bool(getattr(tok, "chat_template", None))


def with_signal(prompt: Prompt, signal: str | None) -> Prompt:
    """The Receiver's prompt with the signal in front (in the last user message for a chat)."""
    if signal is None:
        return prompt
    if isinstance(prompt, str):
        return receiver_prompt(prompt, signal)
    messages = [dict(m) for m in prompt]
    for m in reversed(messages):
        if m.get("role") == "user":
            m["content"] = receiver_prompt(m["content"], signal)
            break
    return messages


def _chunks(seq: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [seq[i : i + size] for i in range(0, len(seq), size)]


def _question(problem: Any) -> str:
    return getattr(problem, "question", None) or getattr(problem, "prompt")


def training_task(config: BPAConfig) -> str:
    """The task whose train split trains the Advisor and the corrector (HumanEval has none: MBPP's)."""
    return config.train_task or ("mbpp" if config.task == "humaneval" else config.task)


@dataclass
class Context:
    """Loaded pieces of a run (models are loaded once and shared between phases)."""

    config: BPAConfig
    out: Path
    task: Any
    catalogue: Catalogue
    loader: Callable[[str], LanguageModel]
    _models: dict[str, LanguageModel] = field(default_factory=dict)
    log: Callable[[str], None] = print

    def model(self, spec: str) -> LanguageModel:
        if spec not in self._models:
            self.log(f"loading {spec} ...")
            self._models[spec] = self.loader(spec)
        return self._models[spec]

    def drop(self, spec: str) -> None:
        self._models.pop(spec, None)


class Answers(NamedTuple):
    """The Receiver's graded answers to a batch of prompts (``seconds``: the whole batch)."""

    prompts: list[Prompt]
    responses: list[str]
    correct: list[bool]
    seconds: float
    new_tokens: list[int]
    prompt_tokens: list[int]


def receiver_prompts(ctx: Context, receiver: LanguageModel, problems: Sequence[Any],
                     signals: Sequence[str | None]) -> list[Prompt]:
    """The Receiver's prompts for ``problems`` (chat or text as :func:`uses_chat` decides), signals in front."""
    cfg = ctx.config
    chat = uses_chat(receiver, cfg.chat)
    shots = ctx.task.few_shot(cfg.shots, seed=cfg.seed, path=cfg.data) if cfg.shots else []
    return [with_signal(ctx.task.prompt(p, shots, chat=chat), s) for p, s in zip(problems, signals)]


def receiver_stop(ctx: Context, receiver: LanguageModel) -> tuple[str, ...]:
    """Stop strings for the Receiver: the task's for text prompts, none for chats."""
    return () if uses_chat(receiver, ctx.config.chat) else tuple(ctx.task.stop)


def _answer(ctx: Context, receiver: LanguageModel, problems: Sequence[Any], signals: Sequence[str | None]) -> Answers:
    """Generates and grades the Receiver's answers (greedy, ``max_new_tokens``)."""
    cfg = ctx.config
    prompts = receiver_prompts(ctx, receiver, problems, signals)
    t0 = time.perf_counter()
    gens = receiver.generate(prompts, max_new_tokens=cfg.max_new_tokens, temperature=0.0, seed=cfg.seed,
                             stop=receiver_stop(ctx, receiver))
    seconds = time.perf_counter() - t0
    responses = [g.text for g in gens]
    correct = ctx.task.grade_many(list(problems), responses)
    return Answers(prompts, responses, list(correct), seconds, [g.new_tokens for g in gens],
                   [g.prompt_tokens for g in gens])


def _advisor_chat(ctx: Context, advisor: LanguageModel) -> bool:
    return uses_chat(advisor, ctx.config.chat)


# ------------------------------------------------------------------------------------------------ 1. feedback
def collect_feedback(ctx: Context, problems: Sequence[Any]) -> ResultStore:
    """Phase 1: rows ``train|<problem>|<item>`` with the Receiver's graded answer to each item's signal."""
    cfg = ctx.config
    store = ResultStore(ctx.out / "train.jsonl")
    spec = cfg.train_receiver or cfg.receivers[0]
    items = ctx.catalogue.items
    todo = [p for p in problems if any(f"train|{p.id}|{it.id}" not in store.done() for it in items)]
    if not todo:
        return store
    advisor, receiver = ctx.model(cfg.advisor), ctx.model(spec)
    bar = tqdm(total=len(todo), desc="feedback", unit="problem")
    for chunk in _chunks(todo, max(1, cfg.chunk)):
        questions = [_question(p) for p in chunk]
        priors = receiver_beliefs(receiver, questions, ctx.catalogue)
        pairs = [(p, it) for p in chunk for it in items]
        signals = advisor_signals(advisor, [_question(p) for p, _ in pairs], [it for _, it in pairs],
                                  max_new_tokens=cfg.signal_tokens, seed=cfg.seed, chat=_advisor_chat(ctx, advisor))
        prompts, responses, correct, seconds, new, _ = _answer(ctx, receiver, [p for p, _ in pairs],
                                                              [s.text for s in signals])
        posts = receiver_beliefs(receiver, [_question(p) for p, _ in pairs], ctx.catalogue, [s.text for s in signals])
        for i, ((p, it), sig) in enumerate(zip(pairs, signals)):
            q = chunk.index(p)
            state = items[int(_rng(cfg.seed, "state", p.id).choice(len(items), p=priors[q]))].id
            key = f"train|{p.id}|{it.id}"
            if key in store.done():
                continue
            store.append({
                "key": key, "problem_id": p.id, "receiver": spec, "item": state, "signal_item": it.id,
                "signal": sig.text, "signal_source": sig.source, "response": responses[i],
                "correct": bool(correct[i]), "posterior_mode": items[int(np.argmax(posts[i]))].id,
                "prior": priors[q].tolist(), "posterior": posts[i].tolist(),
                "seconds": seconds / len(pairs), "new_tokens": new[i],
            })
        bar.update(len(chunk))
    bar.close()
    return store


# -------------------------------------------------------------------------------------------- 2. finite game
def solve_game(ctx: Context, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Phase 2: the empirical game, its LP-optimal scheme and reference values (written to ``game.json``)."""
    import persuasion
    from llm.empirical import estimate_game
    from persuasion.reference import full_disclosure, no_disclosure

    records = [{k: r[k] for k in ("problem_id", "item", "signal_item", "correct")} for r in rows]
    emp = estimate_game(records, ctx.catalogue)
    sol = persuasion.solve(emp.game)
    full = full_disclosure(emp.game)
    none = no_disclosure(emp.game)
    obey = float(np.mean([r["posterior_mode"] == r["signal_item"] for r in rows])) if rows else float("nan")
    out = {
        "empirical_game": emp.to_dict(),
        "lp": sol.to_dict(emp.game),
        "full_disclosure_value": full.value,
        "no_disclosure_value": none.value,
        "measured_obedience_rate": obey,
    }
    try:
        from persuasion.online.robust_learner import learn_scheme  # type: ignore[import-not-found]
    except ImportError:
        learn_scheme = None
    if learn_scheme is not None:
        out["robust_learner"] = learn_scheme(emp.game, seed=ctx.config.seed)
    write_json_atomic(ctx.out / "game.json", out)
    return out


# ---------------------------------------------------------------------------------------- 3. advisor training
def advisor_training_data(ctx: Context, advisor: Any, rows: Sequence[dict[str, Any]], scheme: np.ndarray | None = None):
    """SFT pairs (rendered Advisor prompt, signal) from successful signals; DPO triples from mixed problems.

    When no signal succeeded (weak Receivers, smoke runs) and a scheme is given, the SFT targets fall back to the
    catalogue hint of the item the scheme recommends most in each problem's state (``source = "template"``).
    """
    from llm.prompts import advisor_prompt

    chat = _advisor_chat(ctx, advisor)
    by_id = {it.id: it for it in ctx.catalogue.items}

    def render(r: dict[str, Any]) -> str:
        it = by_id[r["signal_item"]]
        text = advisor_prompt(r["question"], it.name, it.description)
        prompt = [{"role": "user", "content": text}] if chat else text
        return advisor.render(prompt)[0] if hasattr(advisor, "render") else text

    good = [r for r in rows if r["correct"] and r["signal_source"] == "advisor"]
    pairs = [(render(r), " " + r["signal"]) for r in good]
    if not pairs and scheme is not None:
        ids = [it.id for it in ctx.catalogue.items]
        seen: set[str] = set()
        for r in rows:
            if r["problem_id"] in seen:
                continue
            seen.add(r["problem_id"])
            best = ctx.catalogue.items[int(np.argmax(scheme[ids.index(r["item"])]))]
            pairs.append((render({**r, "signal_item": best.id}), " " + template_signal(best).text))
    triples = []
    by_problem: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["signal_source"] == "advisor":
            by_problem.setdefault(r["problem_id"], []).append(r)
    for prs in by_problem.values():
        wins = [r for r in prs if r["correct"]]
        losses = [r for r in prs if not r["correct"]]
        for w, lo in zip(wins, losses):
            triples.append((render(w), " " + w["signal"], " " + lo["signal"]))
    return pairs, triples


def train_advisor(ctx: Context, rows: Sequence[dict[str, Any]], scheme: np.ndarray | None = None) -> str:
    """Phase 3: fine-tunes the Advisor; returns the folder of the trained model (the start model if no data)."""
    from llm.models import resolve
    from llm.train import TrainConfig, train_dpo, train_sft

    cfg = ctx.config
    start = resolve(cfg.advisor)
    advisor = ctx.model(cfg.advisor)
    pairs, triples = advisor_training_data(ctx, advisor, rows, scheme)
    n_good = sum(1 for r in rows if r["correct"] and r["signal_source"] == "advisor")
    info = {"sft_pairs": len(pairs), "sft_source": "successful signals" if n_good else "template fallback",
            "dpo_triples": len(triples), "start": start}
    if not pairs:
        ctx.log("no successful advisor signals: the Advisor stays untrained")
        write_json_atomic(ctx.out / "advisor.json", {**info, "model": start})
        return start
    tc = TrainConfig(learning_rate=cfg.sft_lr, epochs=cfg.sft_epochs, batch_size=cfg.sft_batch, seed=cfg.seed,
                     max_steps=cfg.sft_max_steps, save_every=25)
    res = train_sft(start, pairs, ctx.out / "advisor_sft", tc)
    model_dir = res.output_dir
    info["sft"] = {"steps": res.steps, "first_loss": res.losses[0], "last_loss": res.losses[-1]}
    if cfg.dpo and triples:
        res = train_dpo(model_dir, triples, ctx.out / "advisor_dpo", replace(tc, learning_rate=cfg.sft_lr / 5))
        model_dir = res.output_dir
        info["dpo"] = {"steps": res.steps, "first_loss": res.losses[0], "last_loss": res.losses[-1]}
    write_json_atomic(ctx.out / "advisor.json", {**info, "model": model_dir})
    return model_dir


# ---------------------------------------------------------------------------------------------- 4. evaluation
def evaluate(ctx: Context, problems: Sequence[Any], advisor_spec: str, scheme: np.ndarray | None,
             correctors: Correctors | None = None) -> ResultStore:
    """Phase 4: rows ``<problem>|<condition>|<receiver>`` for every Receiver and condition.

    The BPA conditions share one Receiver call per chunk; the decoupled methods (:mod:`llm.methods.pipeline`)
    correct this chunk's baseline answers (``aligner``, ``aligner-squad``; trained ``correctors`` from phase 3b)
    or decode anew (``linear-alignment``). Each row is charged its inference cost: ``calls`` (model requests),
    ``tokens`` (read and generated) and ``cost_seconds``, the Advisor's signal included for ``persuasion``.
    """
    from llm.methods.pipeline import method_rows, method_wrappers

    cfg = ctx.config
    conds = cfg.conditions
    store = ResultStore(ctx.out / "eval.jsonl")
    items = ctx.catalogue.items
    m = len(items)
    pi = np.full((m, m), 1.0 / m) if scheme is None else np.asarray(scheme)
    signalled_conds = "prior" in conds or "persuasion" in conds
    need_base = "baseline" in conds or "aligner" in conds or "aligner-squad" in conds
    for spec in cfg.receivers:
        todo = [p for p in problems if any(f"{p.id}|{c}|{spec}" not in store.done() for c in conds)]
        if not todo:
            continue
        receiver = ctx.model(spec)
        wrappers = method_wrappers(ctx, receiver, correctors)
        bar = tqdm(total=len(todo), desc=f"eval {spec}", unit="problem")
        for chunk in _chunks(todo, max(1, cfg.chunk)):
            questions = [_question(p) for p in chunk]
            priors = receiver_beliefs(receiver, questions, ctx.catalogue) if signalled_conds else None
            plan: list[tuple[Any, str, Signal | None, int | None]] = []
            for i, p in enumerate(chunk):
                if need_base:
                    plan.append((p, "baseline", None, None))
                if not signalled_conds:
                    continue
                # common random numbers: the draws depend on the problem, not on how the Receiver is named
                state = int(_rng(cfg.seed, "state", p.id).choice(m, p=priors[i]))
                if "prior" in conds:
                    plan.append((p, "prior", template_signal(items[state]), state))
                if "persuasion" in conds:
                    a = int(_rng(cfg.seed, "signal", p.id).choice(m, p=pi[state] / pi[state].sum()))
                    plan.append((p, "persuasion", a, state))  # signal text generated below
            persuade = [j for j, row in enumerate(plan) if row[1] == "persuasion"]
            extra: dict[int, Cost] = {}
            if persuade:
                advisor = Metered(ctx.model(advisor_spec))
                sigs = advisor_signals(advisor, [_question(plan[j][0]) for j in persuade],
                                       [items[plan[j][2]] for j in persuade], max_new_tokens=cfg.signal_tokens,
                                       seed=cfg.seed, chat=_advisor_chat(ctx, advisor))
                for j, s, c in zip(persuade, sigs, advisor.last):
                    plan[j] = (plan[j][0], "persuasion", s, plan[j][3])
                    extra[j] = c
            base: dict[str, tuple[Prompt, str, bool, Cost]] = {}
            if plan:
                texts = [s.text if s is not None else None for _, _, s, _ in plan]
                ans = _answer(ctx, receiver, [r[0] for r in plan], texts)
                signalled = [j for j, t in enumerate(texts) if t is not None]
                posts = receiver_beliefs(receiver, [_question(plan[j][0]) for j in signalled], ctx.catalogue,
                                         [texts[j] for j in signalled]) if signalled else np.zeros((0, m))
                post_of = {j: posts[k] for k, j in enumerate(signalled)}
                for j, (p, cond, sig, state) in enumerate(plan):
                    share = ans.seconds / len(plan)
                    cost = Cost(1, ans.prompt_tokens[j], ans.new_tokens[j], share) + extra.get(j, Cost())
                    if cond == "baseline":
                        base[p.id] = (ans.prompts[j], ans.responses[j], bool(ans.correct[j]), cost)
                    key = f"{p.id}|{cond}|{spec}"
                    if key in store.done() or cond not in conds:
                        continue
                    q = chunk.index(p)
                    store.append({
                        "key": key, "problem_id": p.id, "condition": cond, "method": METHOD_OF_CONDITION[cond],
                        "receiver": spec,
                        "prompt": ans.prompts[j] if isinstance(ans.prompts[j], str) else json.dumps(ans.prompts[j]),
                        "state": None if state is None else items[state].id,
                        "signal_item": None if sig is None else sig.item_id,
                        "signal": texts[j], "response": ans.responses[j], "correct": bool(ans.correct[j]),
                        "prior": priors[q].tolist() if priors is not None else None,
                        "posterior": post_of[j].tolist() if j in post_of else None,
                        "seconds": share, "new_tokens": ans.new_tokens[j],
                        "calls": cost.calls, "tokens": cost.tokens, "cost_seconds": cost.seconds,
                    })
            for row in method_rows(ctx, spec, receiver, chunk, base, wrappers, store.done(), priors):
                store.append(row)
            bar.update(len(chunk))
        bar.close()
        if spec != cfg.advisor and spec != advisor_spec:
            ctx.drop(spec)
    return store


# ------------------------------------------------------------------------------------------------- 5. summary
def summarize(rows: Sequence[dict[str, Any]], conditions: Sequence[str], seed: int = 0) -> dict[str, Any]:
    """Per Receiver and condition: n, accuracy, 95% bootstrap interval, McNemar p-value vs. the baseline.

    Also, where the rows carry them: the paired bootstrap interval of the accuracy difference (``diff_ci95``),
    the mean inference cost per problem (``cost``) and its excess over the baseline on the same problems
    (``extra_cost``), and for the correctors how often they fired, changed the final answer, fixed a wrong
    answer or broke a right one (``corrections``).
    """
    out: dict[str, Any] = {}
    receivers = sorted({r["receiver"] for r in rows})
    for rec in receivers:
        by_cond = {c: {r["problem_id"]: r for r in rows if r["receiver"] == rec and r["condition"] == c}
                   for c in conditions}
        base = by_cond.get("baseline", {})
        entry: dict[str, Any] = {}
        for c in conditions:
            got = by_cond[c]
            if not got:
                continue
            ids = sorted(got)
            acc = np.array([got[i]["correct"] for i in ids], dtype=float)
            iv = bootstrap_mean(acc, seed=seed)
            res: dict[str, Any] = {"n": len(ids), "accuracy": iv.estimate, "ci95": [iv.low, iv.high],
                                   "tokens_per_s": _throughput(got.values())}
            shared = [i for i in ids if i in base]
            if c != "baseline" and shared:
                a = np.array([got[i]["correct"] for i in shared], dtype=float)
                b = np.array([base[i]["correct"] for i in shared], dtype=float)
                res["paired_n"] = len(shared)
                res["p_value_vs_baseline"] = mcnemar(a, b)
                res["abs_improvement"] = float(a.mean() - b.mean())
                res["rel_improvement"] = float((a.mean() - b.mean()) / b.mean()) if b.mean() > 0 else None
                d = bootstrap_diff(a, b, seed=seed)
                res["diff_ci95"] = [d.low, d.high]
            res["method"] = METHOD_OF_CONDITION.get(c, c)
            res.update(_costs(got, base))
            fixes = [got[i] for i in ids if "fired" in got[i]]
            if fixes:
                res["corrections"] = {
                    "n": len(fixes),
                    "fire_rate": float(np.mean([r["fired"] for r in fixes])),
                    "changed_rate": float(np.mean([r["changed"] for r in fixes])),
                    "fixed": int(sum(r["correct"] and not r["original_correct"] for r in fixes)),
                    "broken": int(sum(r["original_correct"] and not r["correct"] for r in fixes)),
                }
            entry[c] = res
        out[rec] = entry
    return out


_COST_FIELDS = (("calls", "calls"), ("tokens", "tokens"), ("seconds", "cost_seconds"))


def _costs(got: dict[str, dict[str, Any]], base: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean cost per problem of a condition's rows, and its excess over the baseline on shared problems."""
    rows = list(got.values())
    if not rows or not all("calls" in r for r in rows):
        return {}
    out: dict[str, Any] = {"cost": {k: float(np.mean([r[f] for r in rows])) for k, f in _COST_FIELDS}}
    shared = [i for i in got if i in base and "calls" in base[i]]
    if shared:
        out["extra_cost"] = {k: float(np.mean([got[i][f] - base[i][f] for i in shared])) for k, f in _COST_FIELDS}
    return out


def _throughput(rows: Any) -> float | None:
    rows = list(rows)
    secs = sum(r.get("seconds", 0.0) for r in rows)
    toks = sum(r.get("new_tokens", 0) for r in rows)
    return float(toks / secs) if secs > 0 else None


def summary_markdown(summary: dict[str, Any], header: str = "") -> str:
    """The summary as a markdown table."""
    lines = [header, "", "| receiver | condition | n | accuracy | 95% CI | abs. Δ | rel. Δ | McNemar p |",
             "|---|---|---|---|---|---|---|---|"]
    for rec, conds in summary.items():
        for c, r in conds.items():
            rel = r.get("rel_improvement")
            lines.append(
                f"| {rec} | {c} | {r['n']} | {r['accuracy']:.3f} | [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}] | "
                + (f"{r['abs_improvement']:+.3f} | " if "abs_improvement" in r else "– | ")
                + (f"{rel:+.1%} | " if rel is not None else "– | ")
                + (f"{r['p_value_vs_baseline']:.3g} |" if "p_value_vs_baseline" in r else "– |")
            )
    return "\n".join(lines) + "\n"


def methods_markdown(summary: dict[str, Any], header: str = "") -> str:
    """The side-by-side comparison: accuracy, paired difference and test, cost, and what the correctors did."""
    lines = [header, "",
             "| receiver | method | condition | n | accuracy [95% CI] | Δ vs baseline [95% CI] | McNemar p | "
             "calls/problem | tokens/problem | s/problem | fired | answer changed | fixed / broken |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for rec, conds in summary.items():
        for c, r in conds.items():
            cost, fix = r.get("cost"), r.get("corrections")
            diff = (f"{r['abs_improvement']:+.3f} [{r['diff_ci95'][0]:+.3f}, {r['diff_ci95'][1]:+.3f}]"
                    if "diff_ci95" in r else "–")
            lines.append(" | ".join([
                f"| {Path(rec).name or rec}", r.get("method", c), c, str(r["n"]),
                f"{r['accuracy']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]", diff,
                f"{r['p_value_vs_baseline']:.3g}" if "p_value_vs_baseline" in r else "–",
                f"{cost['calls']:.2f}" if cost else "–", f"{cost['tokens']:.0f}" if cost else "–",
                f"{cost['seconds']:.2f}" if cost else "–",
                f"{fix['fire_rate']:.0%}" if fix else "–", f"{fix['changed_rate']:.0%}" if fix else "–",
                f"{fix['fixed']} / {fix['broken']} |" if fix else "– |",
            ]))
    return "\n".join(lines) + "\n"


def plot_methods(summary: dict[str, Any], out: Path) -> Path:
    """``methods.png``: accuracy (95% CI) and tokens per problem of every condition, side by side per Receiver."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = list(summary)
    conds = [c for c in CONDITIONS if any(c in summary[r] for r in recs)]
    fig, axes = plt.subplots(1, 2, figsize=(4 + 3.2 * len(recs), 3.8))
    width = 0.8 / max(1, len(conds))
    for k, c in enumerate(conds):
        xs = [i + (k - (len(conds) - 1) / 2) * width for i in range(len(recs))]
        acc = [summary[r][c]["accuracy"] if c in summary[r] else np.nan for r in recs]
        err = [[a - summary[r][c]["ci95"][0] if c in summary[r] else 0 for a, r in zip(acc, recs)],
               [summary[r][c]["ci95"][1] - a if c in summary[r] else 0 for a, r in zip(acc, recs)]]
        axes[0].bar(xs, acc, width, yerr=err, capsize=3, label=c)
        toks = [summary[r][c].get("cost", {}).get("tokens", np.nan) if c in summary[r] else np.nan for r in recs]
        axes[1].bar(xs, toks, width, label=c)
    names = [Path(r).name or r for r in recs]
    for ax in axes:
        ax.set_xticks(range(len(recs)), names, rotation=15)
    axes[0].set_ylabel("accuracy (95% bootstrap CI)")
    axes[0].set_ylim(0, 1)
    axes[0].set_title("accuracy by method")
    axes[1].set_ylabel("tokens processed per problem")
    axes[1].set_title("inference cost")
    axes[1].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    path = out / "methods.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_results(rows: Sequence[dict[str, Any]], summary: dict[str, Any], catalogue: Catalogue,
                 out: Path) -> list[Path]:
    """Accuracy with intervals per Receiver and condition; the Receivers' mean prior vs. posterior over items."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    recs = list(summary)
    conds = [c for c in CONDITIONS if any(c in summary[r] for r in recs)]
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(recs), 3.6))
    width = 0.8 / max(1, len(conds))
    for k, c in enumerate(conds):
        xs = [i + (k - (len(conds) - 1) / 2) * width for i in range(len(recs))]
        acc = [summary[r].get(c, {}).get("accuracy", np.nan) for r in recs]
        lo = [a - summary[r][c]["ci95"][0] if c in summary[r] else 0 for a, r in zip(acc, recs)]
        hi = [summary[r][c]["ci95"][1] - a if c in summary[r] else 0 for a, r in zip(acc, recs)]
        ax.bar(xs, acc, width, yerr=[lo, hi], capsize=3, label=c)
    ax.set_xticks(range(len(recs)), [Path(r).name or r for r in recs], rotation=15)
    ax.set_ylabel("accuracy (95% bootstrap CI)")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False)
    ax.set_title("Receiver accuracy by condition")
    fig.tight_layout()
    paths.append(out / "accuracy.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    names = [it.name for it in catalogue.items]
    fig, axes = plt.subplots(1, len(recs), figsize=(4.5 * len(recs), 3.6), squeeze=False)
    for ax, rec in zip(axes[0], recs):
        rr = [r for r in rows if r["receiver"] == rec]
        with_prior = [r["prior"] for r in rr if r.get("prior") is not None]
        prior = np.mean(with_prior, axis=0) if with_prior else np.zeros(len(names))
        post_rows = [r["posterior"] for r in rr if r["condition"] == "persuasion" and r.get("posterior")]
        xs = np.arange(len(names))
        ax.bar(xs - 0.2, prior, 0.4, label="prior $\\mu_x^0$")
        if post_rows:
            ax.bar(xs + 0.2, np.mean(post_rows, axis=0), 0.4, label="posterior $\\mu_x^g$ (persuasion)")
        ax.set_xticks(xs, names, rotation=60, ha="right", fontsize=7)
        ax.set_title(Path(rec).name or rec, fontsize=9)
        ax.set_ylabel("mean belief")
        ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    paths.append(out / "beliefs.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


# ---------------------------------------------------------------------------------------------------- driver
def _jsonable_config(value: Any) -> Any:
    """A config value as it reads back from ``config.json`` (tuples become lists)."""
    return json.loads(json.dumps(value))


def check_config(out: Path, config: BPAConfig) -> None:
    """Refuses to resume ``out`` with a different configuration (``limit``, ``receivers``, ``conditions`` may
    change; a setting missing from an older ``config.json`` counts as its default)."""
    path = out / "config.json"
    if not path.exists():
        return
    old = json.loads(path.read_text())
    new, default = _jsonable_config(asdict(config)), _jsonable_config(asdict(BPAConfig()))
    changed = sorted(k for k in new if k not in ("limit", "receivers", "conditions")
                     and old.get(k, default.get(k)) != new[k])
    if changed:
        raise ValueError(f"{out} holds a run with a different configuration ({', '.join(changed)}); "
                         "use another --out or delete it")


def run(config: BPAConfig, out: str | Path, loader: Callable[[str], LanguageModel] | None = None,
        log: Callable[[str], None] = print, publish: str | Path | None = None) -> dict[str, Any]:
    """Runs (or resumes) every phase; writes ``summary.json``, ``summary.md``, ``methods.md`` and plots to ``out``.

    Args:
        config: the experiment.
        out: its folder (resumed if it exists).
        loader: ``spec -> model`` (default :func:`llm.load.load_model` with the config's placement).
        log: progress messages.
        publish: also copy the side-by-side table and plot to ``<publish>.md`` and ``<publish>.png``.

    Raises:
        ValueError: a different configuration in ``out``, or overlapping training and test problems.
        LMError: ``linear-alignment`` asked of an HTTP Receiver, or a model problem.
    """
    from llm.load import load_model

    out = Path(out)
    conds = config.conditions
    if "linear-alignment" in conds:
        http = [r for r in config.receivers if r.startswith(("http://", "https://"))]
        if http:
            raise LMError(f"linear-alignment needs local white-box Receivers; {http[0]} is an HTTP endpoint")
    out.mkdir(parents=True, exist_ok=True)
    check_config(out, config)
    cfg_dict = asdict(config)
    write_json_atomic(out / "config.json", cfg_dict)
    loader = loader or (lambda spec: load_model(spec, batch_size=config.batch_size, device=config.device,
                                                dtype=config.dtype))
    task = get_task(config.task)
    ctx = Context(config, out, task, load_catalogue(config.catalogue), loader, log=log)
    t0 = time.perf_counter()
    trains = "persuasion" in conds or "aligner" in conds or "aligner-squad" in conds
    train_task = get_task(training_task(config))
    if trains and ("train" not in train_task.splits or train_task.kind != task.kind):
        raise ValueError(f"cannot train on task {train_task.name!r}: choose a {task.kind} task with a train split")
    train_ctx = replace(ctx, task=train_task)  # shares the loaded models
    train = train_task.load("train", path=config.data, limit=config.train_limit) if trains else []
    test = task.load(None, path=config.data, limit=config.limit)
    if {p.id for p in train} & {p.id for p in test}:
        raise ValueError("training and test problems overlap: refusing to train on the test split")

    scheme = None
    advisor_spec = config.advisor
    if "persuasion" in conds:
        store = collect_feedback(train_ctx, train)
        qmap = {p.id: _question(p) for p in train}
        rows = [{**r, "question": qmap.get(r["problem_id"], "")} for r in store.rows()]
        game = solve_game(ctx, rows)
        scheme = np.array(game["lp"]["scheme"])
        trained = json.loads((out / "advisor.json").read_text()) if (out / "advisor.json").exists() else None
        advisor_spec = trained["model"] if trained else train_advisor(ctx, rows, scheme)
        ctx.drop(config.advisor)
    correctors = None
    if "aligner" in conds or "aligner-squad" in conds:
        from llm.methods.pipeline import prepare_correctors

        correctors = prepare_correctors(train_ctx, train)  # phase 3b
    store = evaluate(ctx, test, advisor_spec, scheme, correctors)
    # a resumed folder may hold more problems or Receivers than this call asks for: summarise only those asked
    ids = {p.id for p in test}
    rows = [r for r in store.rows() if r["problem_id"] in ids and r["receiver"] in config.receivers]
    summary = summarize(rows, conds, seed=config.seed)
    result = {"config": cfg_dict, "receivers": summary, "wall_seconds_this_call": time.perf_counter() - t0,
              "rows": len(rows)}
    if (out / "game.json").exists():
        game = json.loads((out / "game.json").read_text())
        result["game"] = {k: game[k] for k in ("full_disclosure_value", "no_disclosure_value",
                                               "measured_obedience_rate")}
        result["game"]["lp_value"] = game["lp"]["value"]
    for name in ("aligner", "inspector"):
        if (out / f"{name}.json").exists():
            result[name] = {k: v for k, v in json.loads((out / f"{name}.json").read_text()).items()
                            if k not in ("mean", "scale")}
    write_json_atomic(out / "summary.json", result)
    header = f"# {config.task}: {len(test)} test problems"
    (out / "summary.md").write_text(summary_markdown(summary, header))
    mc = config.methods
    notes = (f"{header}\n\nAdvisor: `{config.advisor}`; corrector start: `{mc.corrector or config.advisor}`; "
             f"squad threshold {mc.squad_threshold}; Linear Alignment r = {mc.la_ratio}, top-p = {mc.la_top_p}; "
             f"seed {config.seed}. Cost per problem: model requests, tokens read and generated, wall seconds "
             "(the Receiver's own answer included; see docs/methods.md).")
    (out / "methods.md").write_text(methods_markdown(summary, notes))
    plot_results(rows, summary, ctx.catalogue, out)
    plot_methods(summary, out)
    if publish is not None:
        import shutil

        target = Path(publish)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "methods.md", target.with_name(target.name + ".md"))
        shutil.copyfile(out / "methods.png", target.with_name(target.name + ".png"))
    return result

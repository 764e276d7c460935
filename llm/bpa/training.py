"""Phase 3, training the Advisor from counterfactual credit.

The credit of a piece of information ``s`` (an item's template hint, or one of the Advisor's written signals for an
item) on training problem ``x`` is what it changed, measured on the same Receiver with ``k`` sampled answers each:

.. math::

    \\mathrm{reward}(x, s) = r(x, s) - r(x, \\text{none}).

* **State model** (:mod:`llm.bpa.state`): learns every item's gain ``r(x, a) - r(x, none)`` from the problem's
  features, with its uncertainty, hence the state ``omega(x)`` (silence unless a lower bound clears ``tau``); the
  features, ``lambda`` and ``tau`` are chosen by cross-fitting (:mod:`llm.bpa.learnability`). This is what the
  Advisor knows and the Receiver does not.
* **Signal writer** (the Advisor LM, when ``signal_candidates > 0``): SFT on the best signal of each problem, its
  own or the item's template hint (the largest reward, and only if it is positive: a problem where everything hurts teaches silence, which the scheme
  sends), so it does not learn hints for problems the Receiver solves anyway; then, with ``dpo``, DPO on pairs of
  signals for the *same* problem and the *same* item (hence the same rendered Advisor prompt), chosen = the higher
  reward, ties dropped. DPO runs policy and reference with dropout off (:func:`llm.train.train_dpo`).

Everything here reads training feedback only; the test split never reaches this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import numpy as np

from llm.bpa.context import Context, uses_chat
from llm.bpa.game import item_rates
from llm.bpa.state import GainModel, fit_gain_model
from llm.game.catalogue import NONE_ID
from llm.game.prompts import advisor_prompt
from llm.lm import white_box
from llm.rows import FeedbackRow
from llm.store import write_json_atomic


@dataclass(frozen=True)
class Credit:
    """One piece of information on one training problem and its counterfactual reward."""

    problem_id: str
    item: str
    source: str
    signal: str | None
    reward: float


def signal_rewards(rows: Sequence[FeedbackRow]) -> list[Credit]:
    """``reward(x, s) = r(x, s) - r(x, none)`` for every cell except ``none`` itself (cells of problems without a
    ``none`` cell are skipped)."""
    base = {r.problem_id: r.rate for r in rows if r.item == NONE_ID and r.source == "template"}
    return [Credit(r.problem_id, r.item, r.source, r.signal, r.rate - base[r.problem_id])
            for r in rows if r.item != NONE_ID and r.problem_id in base]


def advisor_examples(credits: Sequence[Credit], questions: Mapping[str, str], render: Any, catalogue: Any,
                     *, written_only: bool = False) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """SFT pairs ``(prompt, best signal)`` and DPO triples ``(prompt, chosen, rejected)`` (module doc).

    Args:
        credits: :func:`signal_rewards`.
        questions: problem id -> question text.
        render: ``advisor prompt text -> the string the Advisor model sees`` (its chat template, if any).
        catalogue: the items (for the Advisor prompt's name and description).
        written_only: learn only from the Advisor's own signals. By default the catalogue's template hints, scored
            like any signal, compete too: a small Advisor whose own texts never beat silence (they rarely name the
            item) still has a positive example to imitate and a better text to prefer in DPO.
    """
    pool = [c for c in credits if c.signal and (c.source != "template" or not written_only)]

    def prompt(c: Credit) -> str:
        it = catalogue.get(c.item)
        return render(advisor_prompt(questions[c.problem_id], it.name, it.description))

    by_problem: dict[str, list[Credit]] = {}
    for c in pool:
        by_problem.setdefault(c.problem_id, []).append(c)
    sft = []
    for pid in sorted(by_problem):
        best = max(by_problem[pid], key=lambda c: (c.reward, c.source == "template"))
        if best.reward > 0:
            sft.append((prompt(best), " " + str(best.signal)))
    dpo = []
    groups: dict[tuple[str, str], list[Credit]] = {}
    for c in pool:
        groups.setdefault((c.problem_id, c.item), []).append(c)
    for key in sorted(groups):
        cs = sorted(groups[key], key=lambda c: c.source)
        for i, a in enumerate(cs):
            for b in cs[i + 1:]:
                if a.reward != b.reward and a.signal != b.signal:
                    hi, lo = (a, b) if a.reward > b.reward else (b, a)
                    dpo.append((prompt(hi), " " + str(hi.signal), " " + str(lo.signal)))
    return sft, dpo


def fit_advisor_state(ctx: Context, rows: Sequence[FeedbackRow], problems: Sequence[Any]) -> GainModel:
    """The state model from the template cells, its design chosen by cross-fitting (``state_model.npz``,
    ``design.json`` and the out-of-fold predictions ``held_out.npz`` in the training folder; reused if present)."""
    from llm.bpa.features import feature_blocks
    from llm.bpa.learnability import choose_design, combine, design_grid

    path = ctx.train_dir / "state_model.npz"
    if path.exists():
        return GainModel.load(path)
    cfg = ctx.config
    rates = item_rates(rows, ctx.catalogue)
    by_id = {p.id: p for p in problems}
    trained = [by_id[i] for i in rates.problem_ids]
    candidates = design_grid(cfg.feature_candidates)
    blocks = feature_blocks(ctx, trained, {k for c in candidates for k in c})
    none = ctx.catalogue.index(NONE_ID)
    s, n = rates.successes, rates.samples
    design = choose_design(blocks, s, n, none, candidates=candidates, folds=cfg.folds, level=cfg.confidence,
                           seed=cfg.seed, tau=cfg.tau)
    oof = design.pop("held_out")
    np.savez(ctx.train_dir / "held_out.npz", problem_ids=np.array(rates.problem_ids), mean=oof.mean, sd=oof.sd)
    chosen, tau = design["chosen"], design["tau_used"]
    feats = tuple(chosen["features"].split("+"))
    model = fit_gain_model(combine(blocks, feats, len(trained)), s, n, none, features=feats, lam=chosen["lam"],
                           tau=tau, level=cfg.confidence)
    write_json_atomic(ctx.train_dir / "design.json", design)
    model.save(path)
    ctx.log(f"state model: features {chosen['features']}, lambda {chosen['lam']:g}, tau {tau:g} "
            f"({design['tau_source']}); cross-fitted value {chosen['value']['mean']:+.3f} "
            f"[{chosen['value']['lo']:+.3f}, {chosen['value']['hi']:+.3f}], speaking rate {chosen['speaking_rate']:.0%}")
    return model


def train_advisor(ctx: Context, rows: Sequence[FeedbackRow], questions: Mapping[str, str]) -> str:
    """Fine-tunes the Advisor's signal writer; returns the model to write signals with (``advisor.json``).

    Returns ``"template"`` when the Advisor writes no signals (``advisor = "template"`` or
    ``signal_candidates = 0``): it then sends the catalogue's template hints.
    """
    from llm.backends.models import resolve
    from llm.train import TrainConfig, train_dpo, train_sft

    cfg = ctx.config
    info_path = ctx.train_dir / "advisor.json"
    if info_path.exists():
        return json.loads(info_path.read_text())["model"]
    if cfg.signal_candidates == 0 or cfg.advisor == "template":
        write_json_atomic(info_path, {"model": "template", "reason": "the Advisor sends the template hints"})
        return "template"
    advisor = ctx.model(cfg.advisor)
    start = resolve(cfg.advisor)
    if not advisor.capabilities.white_box:
        ctx.log(f"the Advisor {cfg.advisor} is not a local model: it writes signals untrained")
        write_json_atomic(info_path, {"model": cfg.advisor, "reason": "not fine-tunable"})
        return cfg.advisor
    chat = uses_chat(advisor, cfg.chat)

    def render(text: str) -> str:
        return white_box(advisor).render([{"role": "user", "content": text}] if chat else text)[0]

    credits = signal_rewards(rows)
    sft, dpo = advisor_examples(credits, questions, render, ctx.catalogue)
    info: dict[str, Any] = {"start": start, "sft_pairs": len(sft), "dpo_pairs": len(dpo), "trained_by":
                            cfg.training_receiver, "credits": len(credits),
                            "positive_credits": int(sum(c.reward > 0 for c in credits))}
    model_dir = start
    tc = TrainConfig(learning_rate=cfg.sft_lr, epochs=cfg.sft_epochs, batch_size=cfg.sft_batch, seed=cfg.seed,
                     max_steps=cfg.sft_max_steps, save_every=25)
    if sft:
        res = train_sft(start, sft, ctx.train_dir / "advisor_sft", tc)
        model_dir = res.output_dir
        info["sft"] = {"steps": res.steps, "first_loss": res.losses[0], "last_loss": res.losses[-1]}
    else:
        ctx.log("no written signal beat silence: the Advisor's writer stays untrained")
    if cfg.dpo and dpo:
        res = train_dpo(model_dir, dpo, ctx.train_dir / "advisor_dpo", replace(tc, learning_rate=cfg.sft_lr / 5))
        model_dir = res.output_dir
        info["dpo"] = {"steps": res.steps, "first_loss": res.losses[0], "last_loss": res.losses[-1]}
    info["model"] = model_dir
    write_json_atomic(info_path, info)
    ctx.drop(cfg.advisor)
    return model_dir


def reward_table(credits: Sequence[Credit]) -> dict[str, float]:
    """Mean reward of each source over problems (for the report)."""
    out: dict[str, list[float]] = {}
    for c in credits:
        out.setdefault(c.source, []).append(c.reward)
    return {k: float(np.mean(v)) for k, v in sorted(out.items())}

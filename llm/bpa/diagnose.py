"""The learnability phase, run before any Advisor is trained for real: feedback with placebo arms on training
problems, then the diagnostics of :mod:`llm.bpa.learnability` (``experiments/learnability.py`` is its CLI).

Every training problem gets the full grid: each catalogue item, ``none``, and one content-free placebo hint per
item (:func:`llm.bpa.learnability.placebo_items`), ``k`` sampled answers each (``samples``; 8 splits 4/4). Writes
``learnability.json``, ``learnability.md`` and ``learnability.png`` (the learning curve) to the output folder;
the feedback (``train.jsonl``) resumes like the pipeline's.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from llm.bpa.config import BPAConfig
from llm.bpa.context import Context, config_loader, local_receiver_engine
from llm.bpa.feedback import collect_feedback
from llm.bpa.learnability import (choose_design, design_grid, outcomes, placebo_check, placebo_items,
                                  split_sample, used_design)
from llm.bpa.report import design_flip_rate, hint_flip_rate
from llm.game.catalogue import NONE_ID, Catalogue, load_catalogue
from llm.lm import LanguageModel
from llm.runinfo import run_facts, run_facts_markdown
from llm.stats import design_discordance, n_paired
from llm.store import OutputLock, write_json_atomic
from llm.tasks import get_task


def run_learnability(config: BPAConfig, out: str | Path, loader: Callable[[str], LanguageModel] | None = None,
                     log: Callable[[str], None] = print) -> dict[str, Any]:
    """Feedback with placebo arms on ``config.training_task``'s train split, then the diagnostics (module doc)."""
    from llm.bpa.features import feature_blocks

    out = Path(out)
    config = replace(config, advisor="template")  # the diagnostics score the catalogue's hints, no written signals
    base = load_catalogue(config.catalogue)
    items = tuple(it for it in base.items if it.id != NONE_ID)
    placebo = placebo_items(base.with_none())
    catalogue = Catalogue(base.task, items + placebo, base.description).with_none()
    task = get_task(config.training_task)
    if "train" not in task.splits:
        raise ValueError(f"task {task.name!r} has no train split to diagnose")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with OutputLock(out):
        ctx = Context(config, out, task, catalogue, loader or config_loader(config), log=log)
        problems = task.load("train", path=config.data, limit=config.train_limit)
        rows = collect_feedback(ctx, problems)
        item_arms = tuple(it.id for it in items) + (NONE_ID,)
        placebo_arms = tuple(it.id for it in placebo) + (NONE_ID,)
        data = outcomes(rows, item_arms + placebo_arms[:-1])
        y_items, y_placebo = data.select(item_arms), data.select(placebo_arms)
        none = len(item_arms) - 1
        by_id = {p.id: p for p in problems}
        trained = [by_id[i] for i in data.problem_ids]
        candidates = design_grid(config.feature_candidates)
        item_ctx = replace(ctx, catalogue=base.with_none())  # features (the prior) over the real items only
        blocks = feature_blocks(item_ctx, trained, {k for c in candidates for k in c})
        s = y_items.sum(axis=2)
        n = np.full(s.shape, y_items.shape[2])
        design = choose_design(blocks, s, n, none, candidates=candidates, folds=config.folds,
                               level=config.confidence, seed=config.seed, tau=config.tau)
        design.pop("held_out")
        result = {
            "config": config.to_dict(), "training_task": config.training_task,
            "training_receiver": config.training_receiver, "problems": len(trained), "samples": int(y_items.shape[2]),
            "items": list(item_arms), "placebo": [it.to_dict() for it in placebo],
            "placebo_check": placebo_check(y_items, y_placebo, seed=config.seed),
            "split_sample": split_sample(y_items, y_placebo, none, seed=config.seed),
            "cross_fit": design, "learning_curve": design["learning_curve"],
            "learning_curve_tau": design["learning_curve_tau"],
            "expectation": expectation(design, hint_flip_rate([r for r in rows if r.item in item_arms])),
            "wall_seconds_this_call": time.perf_counter() - t0,
        }
        result["run"] = run_facts(config, ctx.engines, {"feedback": rows}, result["wall_seconds_this_call"],
                                  local_receiver_engine(config))
        write_json_atomic(out / "learnability.json", result)
        (out / "learnability.md").write_text(learnability_markdown(result))
        plot_learning_curve(result, out / "learnability.png")
    return result


def expectation(design: dict[str, Any], flip_rate: float | None, alpha: float = 0.05,
                power: float = 0.8) -> dict[str, Any] | None:
    """What a test run of the design the Advisor uses (:func:`llm.bpa.learnability.used_design`) can expect, if test
    problems and answers are like the training ones.

    The predicted paired difference ``signal - baseline`` is that design's held-out value ``v`` (mean and interval).
    The design discordance is ``psi = q d`` (:func:`llm.stats.design_discordance`): ``q`` its held-out speaking
    rate, ``d`` the chance an item's hint flips an answer on this feedback (:func:`llm.bpa.report.hint_flip_rate`;
    :func:`llm.bpa.report.design_flip_rate` without one). ``d`` averages over every item and problem, while the
    Advisor speaks where its item helps, so a paired difference ``v`` needs a discordance of at least ``v``: each
    ``n`` uses ``max(psi, v)``. ``pairs`` is the number of test problems a two-sided level-``alpha`` McNemar test
    needs to detect ``v`` with probability ``power`` (:func:`llm.stats.n_paired`), at the mean and the interval's
    ends; ``None`` where ``v <= 0``. ``None`` as a whole when ``--tau`` set a threshold the cross-fit did not score.
    """
    used = used_design(design)
    if used is None:
        return None
    value, q = used["value"], used["speaking_rate"]
    d, source = design_flip_rate(flip_rate)
    psi = design_discordance(q, d)

    def pairs(v: float) -> int | None:
        return int(n_paired(v, max(psi, v), alpha, power)) if v > 0 else None

    return {"effect": value, "tau": used["tau"], "speaking_rate": q, "flip_rate": d,
            "flip_rate_source": source, "discordance": psi,
            "alpha": alpha, "power": power,
            "pairs": {"mean": pairs(value["mean"]), "lo": pairs(value["lo"]), "hi": pairs(value["hi"])},
            "silent": q == 0.0}


def expectation_markdown(e: dict[str, Any] | None, candidates: int, temperature: float) -> str:
    """Section (d) of the page: :func:`expectation` in words."""
    if e is None:
        return "No prediction: `--tau` set a threshold that the cross-fit did not score."
    if e["silent"]:
        return ("The Advisor's design speaks on no held-out problem (tau = " + f"{e['tau']:g}" + "), so it stays "
                "silent: a test run should find `signal` equal to `baseline` on every problem, and a null result "
                "is the expected one.")

    def n(v: int | None) -> str:
        return "none (no gain to detect)" if v is None else f"{v:,}"

    v, p = e["effect"], e["pairs"]
    return f"""If test problems are like these and the test Receiver answers like this sampled feedback:

| | |
|---|---|
| predicted `signal - baseline` (held-out value of the design used, tau = {e['tau']:g}) | **{_ci(v)}** |
| speaking rate `q` | {e['speaking_rate']:.0%} |
| flip rate `d` (an item's hint against silence, {e['flip_rate_source']}) | {e['flip_rate']:.3f} |
| design discordance `psi = q d` (each `n` below uses at least the effect itself) | {e['discordance']:.4f} |
| test problems for {e['power']:.0%} power (McNemar, two-sided {e['alpha']:g}) at the predicted mean | {n(p['mean'])} |
| ... at the interval's upper / lower end | {n(p['hi'])} / {n(p['lo'])} |

The prediction is optimistic: it is the best of {candidates} candidate designs on these same problems, and the test
answers are greedy while this feedback was sampled at T = {temperature:g}. With fewer test problems than the number
above, the test has less than {e['power']:.0%} power: even if the prediction holds, its interval includes 0 more
than {1 - e['power']:.0%} of the time."""


def _ci(r: dict[str, float], spec: str = "+.3f") -> str:
    return f"{r['mean']:{spec}} [{r['lo']:{spec}}, {r['hi']:{spec}}]"


def learnability_markdown(result: dict[str, Any]) -> str:
    """The diagnostics as a Markdown page (every number with its 95% bootstrap interval over problems)."""
    pc, ss, cf = result["placebo_check"], result["split_sample"], result["cross_fit"]
    cfg = result["config"]
    rows = "\n".join(f"| `{c['features']}` | {c['lam']:g} | {c['tau']:g} | {_ci(c['value'])} | {c['speaking_rate']:.0%} |"
                     for c in cf["candidates"])
    curve = "\n".join(f"| {r['train_size']} | {_ci(r['value'])} | {r['speaking_rate']:.0%} |"
                      for r in result["learning_curve"])
    ch = cf["chosen"]
    return f"""# Learnability: `{result['training_task']}` train with `{result['training_receiver']}`

{result['problems']} training problems, k = {result['samples']} samples per cell at T = {cfg['temperature']}, {len(result['items'])} arms
(the items and `none`) and as many placebo arms (`none` and content-free hints of matched length); seed
{cfg['seed']}. Intervals: 95% bootstrap over problems.

{run_facts_markdown(result["run"]) if "run" in result else ""}

## (a) Placebo oracle: is there item-specific headroom?

| best of m arms, per sample | value |
|---|---|
| items (the oracle) | {_ci(pc['oracle'])} |
| placebo hints | {_ci(pc['placebo_oracle'])} |
| **item-specific headroom** | **{_ci(pc['headroom'])}** |

## (b) Split-sample check (k split {result['samples'] // 2}/{result['samples'] - result['samples'] // 2}): is it real?

| | items | placebo |
|---|---|---|
| problem x arm interaction variance that survives | {_ci(ss['items']['interaction_variance'], '.4f')} | {_ci(ss['placebo']['interaction_variance'], '.4f')} |
| cross-fitted gain over silence (choose on one half, score on the other) | {_ci(ss['items']['cross_fit_gain'])} | {_ci(ss['placebo']['cross_fit_gain'])} |

Item-specific cross-fitted gain (items minus placebo, per problem): **{_ci(ss['item_specific_cross_fit_gain'])}**.

## (c) Cross-validated policy value: can a state model find it?

{cf['folds']}-fold over problems; value = held-out `r(x, chosen) - r(x, none)` per problem.

| features | lambda | tau | held-out value | speaking rate |
|---|---|---|---|---|
{rows}

Chosen: `{ch['features']}`, lambda {ch['lam']:g}, tau {ch['tau']:g}: **{_ci(ch['value'])}**, speaking rate
{ch['speaking_rate']:.0%} (the best of {len(cf['candidates'])} candidates: optimistic by that selection). Always silent: 0.
Best single item: {_ci(cf['best_single_item'])}.

Learning curve (tau = {result['learning_curve_tau']:g}):

| training problems | held-out value | speaking rate |
|---|---|---|
{curve}

## (d) What a test run can expect

{expectation_markdown(result['expectation'], len(cf['candidates']), cfg['temperature'])
 if 'expectation' in result else ''}
"""


def plot_learning_curve(result: dict[str, Any], path: Path) -> Path:
    """The held-out policy value against the number of training problems, with its interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = result["learning_curve"]
    x = [r["train_size"] for r in curve]
    mean = np.array([r["value"]["mean"] for r in curve])
    lo = np.array([r["value"]["lo"] for r in curve])
    hi = np.array([r["value"]["hi"] for r in curve])
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.fill_between(x, lo, hi, alpha=0.25, label="95% bootstrap interval")
    ax.plot(x, mean, "o-", label="state model (held out)")
    ax.axhline(0.0, color="k", lw=0.8, label="always silent")
    ax.axhline(result["cross_fit"]["best_single_item"]["mean"], color="C3", ls="--", label="best single item")
    ax.set_xscale("log")
    ax.set_xlabel("training problems")
    ax.set_ylabel("gain over silence per problem")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def summary_line(result: dict[str, Any]) -> str:
    """One line for the terminal."""
    pc, ss, ch = result["placebo_check"], result["split_sample"], result["cross_fit"]["chosen"]
    return (f"headroom {_ci(pc['headroom'])}; item-specific cross-fitted gain {_ci(ss['item_specific_cross_fit_gain'])}"
            f"; cross-validated policy value {_ci(ch['value'])} at speaking rate {ch['speaking_rate']:.0%}")


"""Phase 5, the report: per Receiver and condition, the paired comparison with the baseline, accuracy with its
interval, what information reached the Receiver, how often the Advisor spoke and whether the Receiver followed,
cost; markdown tables and plots.

Statistics (:mod:`llm.stats`): the paired difference with the baseline on the same problems and its Newcombe 95%
interval (the primary statement); the Wilson 95% interval of each accuracy; the exact McNemar p-value,
Holm-adjusted across the conditions of the summary (the analysis conditions ``random``, ``matched`` and ``oracle``
are not in the family: their ``p_holm`` is ``None``); and the minimum detectable effect at 80% power from the *design*
(``mde80``): with ``q`` the share of problems whose prompt the condition changes (:func:`prompt_change_rate`, fixed
by the draws before any answer) and ``d`` the probability that a change flips the outcome (:func:`hint_flip_rate`
on the training feedback, else :data:`DEFAULT_FLIP_RATE`), ``mde_paired(n, q d)``. The MDE at the observed
discordance is kept as ``mde80_observed``, a post-hoc number. Absolute (``diff``) and relative (``rel_diff``) gains
are reported separately.

Every condition whose rows carry the Advisor's ``signal_item`` (``signal``, ``posterior`` and any later one) also
reports its ``speaking_rate`` (:func:`speaking_rate`), the ``obedience`` over the problems the Advisor spoke to
(:func:`spoke`), and the same comparison restricted to those problems (``spoken_to``): on a silent problem
``signal`` is the baseline and ``posterior`` answers with a draw from the Receiver's prior, so the whole-sample
numbers mix the Advisor's effect with silence. Each condition's rows are also broken down by the information they
carried (:func:`by_information`): solved with it against the baseline on the same problems, so a reader sees
whether each hint went where it helps.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from llm.game.catalogue import NONE_ID
from llm.methods import CONDITIONS, METHOD_CONDITIONS, METHOD_OF_CONDITION
from llm.rows import EvalRow, FeedbackRow
from llm.stats import design_discordance, flip_probability, summarize_conditions, wilson

#: Bounds and references, not hypotheses: kept out of the Holm family (their p-values are not adjusted).
ANALYSIS_CONDITIONS = ("random", "matched", "oracle")
#: Conditions whose information is chosen after the answers (the hindsight-best item): no design, no design MDE.
POST_HOC_CONDITIONS = ("oracle",)
#: The flip rate ``d`` when no training feedback gives one: the largest chance that a prompt change which leaves
#: the success rate ``r`` unchanged flips an outcome, ``2 r (1 - r)`` at ``r = 1/2`` (conservative: a larger ``d``
#: gives a larger MDE).
DEFAULT_FLIP_RATE = 0.5

_COST_FIELDS = (("calls", "calls"), ("tokens", "tokens"), ("seconds", "cost_seconds"))


def _rows(rows: Sequence[EvalRow | Mapping[str, Any]]) -> list[EvalRow]:
    return [r if isinstance(r, EvalRow) else EvalRow.from_dict({"key": "", "method": "", "prompt": "",
                                                                "response": "", **r}) for r in rows]


def summarize(rows: Sequence[EvalRow | Mapping[str, Any]], conditions: Sequence[str],
              flip_rate: float | None = None) -> dict[str, Any]:
    """Per Receiver and condition (module doc). All conditions of a Receiver are compared on the problems they
    share with each other (paired), so every ``n`` of a Receiver is the same.

    Args:
        rows: the evaluation rows.
        conditions: the conditions to summarise, in order.
        flip_rate: ``d``, the probability that a prompt change flips an outcome (:func:`hint_flip_rate` of the
            training feedback); ``None``: :data:`DEFAULT_FLIP_RATE`. Each condition's ``design`` records it.

    Raises:
        ValueError: ``flip_rate`` outside [0, 1].
    """
    rows = _rows(rows)
    flip, source = design_flip_rate(flip_rate)
    design_discordance(1.0, flip)  # one-line error for a bad flip rate, before any work
    out: dict[str, Any] = {}
    for rec in sorted({r.receiver for r in rows}):
        by = {c: {r.problem_id: r for r in rows if r.receiver == rec and r.condition == c} for c in conditions}
        present = [c for c in conditions if by[c]]
        if not present:
            continue
        ids = sorted(set.intersection(*(set(by[c]) for c in present)))
        has_base = "baseline" in present and bool(ids)
        designs = {c: _design([by[c][i] for i in ids], flip, source) for c in present if _has_design(c)}
        entry: dict[str, Any] = {}
        if has_base:
            family = [c for c in present if c not in ANALYSIS_CONDITIONS + ("baseline",)]
            stats = summarize_conditions({c: [by[c][i].correct for i in ids] for c in present}, family=family,
                                         discordance={c: d["discordance"] for c, d in designs.items()})
            base_acc = stats[present.index("baseline")].accuracy
            for s in stats:
                d = s.to_dict()
                d["rel_diff"] = (s.diff / base_acc) if s.diff is not None and base_acc > 0 else None
                entry[s.condition] = d
        else:
            for c in present:
                k = sum(by[c][i].correct for i in ids)
                iv = wilson(k, len(ids))
                entry[c] = {"condition": c, "n": len(ids), "correct": k, "accuracy": iv.estimate,
                            "ci95": [iv.low, iv.high]}
        for c in present:
            got = [by[c][i] for i in ids]
            base = [by["baseline"][i] for i in ids] if has_base else []
            e = entry[c]
            e["method"] = METHOD_OF_CONDITION.get(c, c)
            e["information"] = dict(Counter(_information(r) for r in got).most_common())
            if c in designs:
                e["design"] = designs[c]
            if base and c != "baseline":
                e["by_information"] = by_information(got, base)
            e.update(_advisor(c, got, base, flip, source))
            flagged = Counter(r.flag for r in got if r.flag)
            if flagged:
                e["flagged"] = dict(flagged)
            e.update(_costs(got, base))
            e["tokens_per_s"] = _throughput(got)
            fixes = [r for r in got if r.fired is not None]
            if fixes:
                e["corrections"] = {
                    "n": len(fixes), "fire_rate": float(np.mean([r.fired for r in fixes])),
                    "changed_rate": float(np.mean([bool(r.changed) for r in fixes])),
                    "fixed": int(sum(r.correct and not r.original_correct for r in fixes)),
                    "broken": int(sum(bool(r.original_correct) and not r.correct for r in fixes)),
                }
        out[rec] = entry
    return out


def spoke(row: EvalRow) -> bool:
    """Whether the Advisor's scheme sent a signal on ``row``'s problem: ``signal_item`` is set and is not
    ``none``. Fixed before the Receiver answers."""
    return row.signal_item is not None and row.signal_item != NONE_ID


def speaking_rate(rows: Sequence[EvalRow]) -> float | None:
    """The share of problems the Advisor spoke to, ``|{x : sigma(x) != none}| / n`` over the rows that carry a
    ``signal_item`` (``None`` when none does: the condition has no Advisor)."""
    carried = [r for r in rows if r.signal_item is not None]
    return float(np.mean([spoke(r) for r in carried])) if carried else None


def prompt_change_rate(rows: Sequence[EvalRow]) -> float:
    """``q``: the share of ``rows`` whose prompt differs from the baseline's, i.e. whose information is not
    ``none``. For every condition but ``oracle`` the information is drawn before the Receiver answers, so ``q`` is
    part of the design.

    Raises:
        ValueError: no rows.
    """
    if not rows:
        raise ValueError("the prompt change rate needs at least one row")
    return float(np.mean([_information(r) != NONE_ID for r in rows]))


def hint_flip_rate(feedback: Sequence[FeedbackRow]) -> float | None:
    """``d``: the probability that showing information flips an answer, from the training feedback.

    For every training problem ``x`` (per Receiver) and every feedback cell ``(x, s)`` with information ``s``
    (an item's hint or an Advisor's signal, ``s != none``) whose ``k`` samples give the success rate ``r_s``,
    against the problem's ``none`` cell ``r_0``:

    .. math:: d = \\operatorname{mean}_{(x, s)} \\big[ r_s (1 - r_0) + r_0 (1 - r_s) \\big]

    (:func:`llm.stats.flip_probability`: two independent answers, one with and one without ``s``, differ). It is
    the training Receiver's on the training task, sampled at the feedback temperature: an estimate fixed before
    the test answers, not the test's own discordance.

    Returns:
        ``d``, or ``None`` when no problem has both a ``none`` cell and another cell with samples.
    """
    silent = {(r.receiver, r.problem_id): r.rate for r in feedback
              if r.item == NONE_ID and r.source == "template" and r.samples}
    flips = [flip_probability(r.rate, silent[(r.receiver, r.problem_id)]) for r in feedback
             if r.item != NONE_ID and r.samples and (r.receiver, r.problem_id) in silent]
    return float(np.mean(flips)) if flips else None


def design_flip_rate(flip_rate: float | None) -> tuple[float, str]:
    """``d`` and where it came from: the training feedback's flip rate, else :data:`DEFAULT_FLIP_RATE`."""
    return (DEFAULT_FLIP_RATE, "default") if flip_rate is None else (float(flip_rate), "feedback")


def _has_design(condition: str) -> bool:
    """Whether the condition's prompt changes are fixed before the answers (every information condition but the
    post-hoc ``oracle``; the decoupled methods change answers, not prompts, and have no design rate)."""
    return condition != "baseline" and condition not in POST_HOC_CONDITIONS + METHOD_CONDITIONS


def _design(rows: Sequence[EvalRow], flip: float, source: str) -> dict[str, Any]:
    """The design of a condition on ``rows``: ``q``, ``d``, where ``d`` came from, and ``psi = q d``."""
    q = prompt_change_rate(rows)
    return {"change_rate": q, "flip_rate": flip, "flip_rate_source": source,
            "discordance": design_discordance(q, flip)}


def _advisor(c: str, got: Sequence[EvalRow], base: Sequence[EvalRow], flip: float,
             source: str) -> dict[str, Any]:
    """For a condition whose rows carry ``signal_item``: the speaking rate, the obedience and state agreement over
    the problems spoken to, and (with a baseline) the paired comparison on those problems (``spoken_to``)."""
    rate = speaking_rate(got)
    if rate is None:
        return {}
    out: dict[str, Any] = {"speaking_rate": rate}
    spoken = [k for k, r in enumerate(got) if spoke(r)]
    followed = [got[k] for k in spoken if got[k].acted_item is not None]
    if followed:
        out["obedience"] = float(np.mean([r.acted_item == r.signal_item for r in followed]))
        out["state_signal_agreement"] = float(np.mean([r.state == r.signal_item for r in followed]))
    if base and spoken:
        sub = [got[k] for k in spoken]
        design = {c: _design(sub, flip, source)["discordance"]} if _has_design(c) else {}
        _, stats = summarize_conditions({"baseline": [base[k].correct for k in spoken], c: [r.correct for r in sub]},
                                        family=[], discordance=design)
        sub_base = sum(base[k].correct for k in spoken)
        out["spoken_to"] = {**{k: v for k, v in stats.to_dict().items() if k != "p_holm"},
                            "baseline_correct": sub_base, "baseline_accuracy": sub_base / len(spoken)}
    elif spoken:
        k = sum(got[j].correct for j in spoken)
        iv = wilson(k, len(spoken))
        out["spoken_to"] = {"n": len(spoken), "correct": k, "accuracy": iv.estimate, "ci95": [iv.low, iv.high]}
    return out


def _information(row: EvalRow) -> str:
    """What reached the Receiver in ``row``, by name: ``none`` for no information."""
    return row.information or "none"


def by_information(got: Sequence[EvalRow], base: Sequence[EvalRow]) -> dict[str, dict[str, int]]:
    """Where each piece of information went and what it did there: for every ``information`` value of a
    condition's rows ``got``, the number of problems ``n`` that received it, how many were solved with it
    (``correct``), and how many the baseline solved on those same problems (``baseline_correct``; ``base`` is
    paired with ``got`` row by row). An Advisor that informs sends a hint where it beats silence: ``correct >
    baseline_correct`` within each item, not just overall."""
    out: dict[str, dict[str, int]] = {}
    for r, b in zip(got, base):
        cell = out.setdefault(_information(r), {"n": 0, "correct": 0, "baseline_correct": 0})
        cell["n"] += 1
        cell["correct"] += int(r.correct)
        cell["baseline_correct"] += int(b.correct)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["n"]))


def _costs(got: Sequence[EvalRow], base: Sequence[EvalRow]) -> dict[str, Any]:
    """Mean cost per problem, and its excess over the baseline on the same problems."""
    if not got:
        return {}
    out: dict[str, Any] = {"cost": {k: float(np.mean([getattr(r, f) for r in got])) for k, f in _COST_FIELDS}}
    if base:
        out["extra_cost"] = {k: float(np.mean([getattr(a, f) - getattr(b, f) for a, b in zip(got, base)]))
                             for k, f in _COST_FIELDS}
    return out


def _throughput(rows: Sequence[EvalRow]) -> float | None:
    secs = sum(r.seconds for r in rows)
    return float(sum(r.new_tokens for r in rows) / secs) if secs > 0 else None


def _fmt(x: float | None, spec: str) -> str:
    return "–" if x is None else format(x, spec)


def _p(r: Mapping[str, Any]) -> str:
    """``p (Holm)``, ``p`` alone outside the Holm family, ``–`` without a comparison."""
    if r.get("p_mcnemar") is None:
        return "–"
    return f"{r['p_mcnemar']:.3g}" + (f" ({r['p_holm']:.3g})" if r.get("p_holm") is not None else "")


def _accuracy(r: Mapping[str, Any]) -> str:
    return f"{r['accuracy']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]"


def _diff(r: Mapping[str, Any]) -> str:
    if r.get("diff") is None:
        return "–"
    return f"{r['diff']:+.3f} [{r['diff_ci95'][0]:+.3f}, {r['diff_ci95'][1]:+.3f}]"


def summary_markdown(summary: Mapping[str, Any], header: str = "", design: Mapping[str, Any] | None = None) -> str:
    """The summary as markdown: one row per Receiver and condition (the paired difference first), the training
    prediction against the outcome (:func:`prediction_markdown`, given the trained ``design``), the comparison on
    the problems the Advisor spoke to (:func:`spoken_markdown`) and the breakdown by information
    (:func:`breakdown_markdown`)."""
    lines = [header, "",
             "| receiver | condition | n | Δ vs baseline [95%] | accuracy [Wilson 95%] | rel. Δ | McNemar p (Holm) | "
             "MDE 80% (design) | information | spoke to | obedience (spoken to) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for rec, conds in summary.items():
        for c, r in conds.items():
            info = ", ".join(f"{k} {v}" for k, v in list(r.get("information", {}).items())[:4])
            lines.append(" | ".join([
                f"| {Path(rec).name or rec}", c, str(r["n"]), _diff(r), _accuracy(r),
                _fmt(r.get("rel_diff"), "+.1%"), _p(r), _fmt(r.get("mde80"), ".3f"), info or "–",
                _fmt(r.get("speaking_rate"), ".0%"), _fmt(r.get("obedience"), ".0%") + " |"]))
    return ("\n".join(lines) + "\n" + _design_note(summary) + prediction_markdown(summary, design)
            + spoken_markdown(summary) + breakdown_markdown(summary))


def prediction_markdown(summary: Mapping[str, Any], design: Mapping[str, Any] | None) -> str:
    """The training prediction next to what came out: the cross-fitted value (the predicted ``signal - baseline``)
    and speaking rate of the design the Advisor uses (``design["used"]``,
    :func:`llm.bpa.learnability.used_design`) against each Receiver's observed paired difference and speaking rate.
    Empty without such a design (none trained, or ``--tau`` off the cross-fit's grid) or a ``signal`` compared
    with ``baseline``."""
    used = (design or {}).get("used")
    if not used:
        return ""
    v = used["value"]
    lines: list[str] = []
    for rec, conds in summary.items():
        r = conds.get("signal")
        if not r or r.get("diff") is None:
            continue
        lo, hi = r["diff_ci95"]
        verdict = ("inside" if lo <= v["mean"] <= hi else "below" if v["mean"] < lo else "above")
        lines.append(" | ".join([f"| {Path(rec).name or rec}", f"{v['mean']:+.3f} [{v['lo']:+.3f}, {v['hi']:+.3f}]",
                                 _diff(r), f"{verdict} the observed interval", f"{used['speaking_rate']:.0%}",
                                 _fmt(r.get("speaking_rate"), ".0%") + " |"]))
    if not lines:
        return ""
    return "\n".join(["", "Predicted on the training problems (the cross-fitted value of the design used: features "
                      f"`{used['features']}`, tau {used['tau']:g}) against what came out:", "",
                      "| receiver | predicted `signal - baseline` | observed [95%] | prediction | predicted speaking "
                      "rate | observed |", "|---|---|---|---|---|---|", *lines]) + "\n"


def _design_note(summary: Mapping[str, Any]) -> str:
    """One line saying where the MDE column comes from (the flip rate and its source)."""
    design = next((r["design"] for conds in summary.values() for r in conds.values() if "design" in r), None)
    if design is None:
        return ""
    source = ("the training feedback" if design["flip_rate_source"] == "feedback"
              else "a default, no training feedback")
    return (f"\nMDE 80% (design): `mde_paired(n, q d)`, `q` the share of problems whose prompt the condition changes "
            f"(drawn before answering), `d` = {design['flip_rate']:.3f} the chance a change flips an answer "
            f"({source}); `–` for `oracle` and the decoupled methods (no design) or when nothing is detectable.\n")


def spoken_markdown(summary: Mapping[str, Any]) -> str:
    """Per Receiver and condition that carries the Advisor's signal, the comparison with the baseline on the
    problems the Advisor spoke to (``spoken_to``). Empty when no condition has one."""
    lines: list[str] = []
    for rec, conds in summary.items():
        for c, r in conds.items():
            sub = r.get("spoken_to")
            if not sub or sub.get("diff") is None:
                continue
            if not lines:
                lines = ["", "On the problems the Advisor spoke to (`signal_item` != none). On the others `signal` "
                         "shows nothing (the baseline's prompt) and `posterior` answers with a draw from the "
                         "Receiver's prior:", "",
                         "| receiver | condition | spoke to | n | Δ vs baseline [95%] | accuracy [Wilson 95%] | "
                         "baseline accuracy | McNemar p | MDE 80% (design) | obedience |",
                         "|---|---|---|---|---|---|---|---|---|---|"]
            lines.append(" | ".join([
                f"| {Path(rec).name or rec}", c, _fmt(r.get("speaking_rate"), ".0%"), str(sub["n"]), _diff(sub),
                _accuracy(sub), f"{sub['baseline_accuracy']:.3f}", _fmt(sub.get("p_mcnemar"), ".3g"),
                _fmt(sub.get("mde80"), ".3f"), _fmt(r.get("obedience"), ".0%") + " |"]))
    return "\n".join(lines) + ("\n" if lines else "")


#: The conditions whose information the Advisor chose; their breakdown goes into ``summary.md``.
ADVISOR_CONDITIONS = ("signal", "posterior")


def breakdown_markdown(summary: Mapping[str, Any]) -> str:
    """Per Receiver and Advisor condition, the :func:`by_information` table: what was sent, to how many problems,
    solved with it against the baseline on the same problems. Empty when no such condition has a baseline."""
    lines: list[str] = []
    for rec, conds in summary.items():
        for c in ADVISOR_CONDITIONS:
            cells = conds.get(c, {}).get("by_information")
            if not cells:
                continue
            if not lines:
                lines = ["", "What the Advisor's conditions sent, and how the problems that got each did with it "
                         "and without (baseline, same problems):", "",
                         "| receiver | condition | information | n | solved with it | solved by baseline | Δ |",
                         "|---|---|---|---|---|---|---|"]
            for item, k in cells.items():
                lines.append(f"| {Path(rec).name or rec} | {c} | {item} | {k['n']} | {k['correct']} | "
                             f"{k['baseline_correct']} | {k['correct'] - k['baseline_correct']:+d} |")
    return "\n".join(lines) + ("\n" if lines else "")


def methods_markdown(summary: Mapping[str, Any], header: str = "") -> str:
    """The side-by-side comparison: accuracy, paired difference and test, cost, and what the correctors did."""
    lines = [header, "",
             "| receiver | method | condition | n | accuracy [95% CI] | Δ vs baseline [95% CI] | McNemar p (Holm) | "
             "calls/problem | tokens/problem | s/problem | fired | answer changed | fixed / broken |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for rec, conds in summary.items():
        for c, r in conds.items():
            cost, fix = r.get("cost"), r.get("corrections")
            lines.append(" | ".join([
                f"| {Path(rec).name or rec}", r.get("method", c), c, str(r["n"]),
                _accuracy(r), _diff(r),
                _p(r),
                f"{cost['calls']:.2f}" if cost else "–", f"{cost['tokens']:.0f}" if cost else "–",
                f"{cost['seconds']:.2f}" if cost else "–",
                f"{fix['fire_rate']:.0%}" if fix else "–", f"{fix['changed_rate']:.0%}" if fix else "–",
                f"{fix['fixed']} / {fix['broken']} |" if fix else "– |",
            ]))
    return "\n".join(lines) + "\n"


def _bars(ax: Any, summary: Mapping[str, Any], recs: list[str], conds: list[str], value: str) -> None:
    width = 0.8 / max(1, len(conds))
    for k, c in enumerate(conds):
        xs = [i + (k - (len(conds) - 1) / 2) * width for i in range(len(recs))]
        if value == "accuracy":
            acc = [summary[r][c]["accuracy"] if c in summary[r] else np.nan for r in recs]
            err = [[a - summary[r][c]["ci95"][0] if c in summary[r] else 0 for a, r in zip(acc, recs)],
                   [summary[r][c]["ci95"][1] - a if c in summary[r] else 0 for a, r in zip(acc, recs)]]
            ax.bar(xs, acc, width, yerr=err, capsize=3, label=c)
        else:
            ax.bar(xs, [summary[r][c].get("cost", {}).get("tokens", np.nan) if c in summary[r] else np.nan
                        for r in recs], width, label=c)
    ax.set_xticks(range(len(recs)), [Path(r).name or r for r in recs], rotation=15)


def plot_results(rows: Sequence[EvalRow], summary: Mapping[str, Any], catalogue: Any, out: Path) -> list[Path]:
    """``accuracy.png`` (accuracy with Wilson intervals per Receiver and condition), ``methods.png`` (accuracy and
    tokens per problem), ``beliefs.png`` (mean prior vs measured posterior over the items)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = list(summary)
    conds = [c for c in CONDITIONS if any(c in summary[r] for r in recs)]
    paths = []
    fig, ax = plt.subplots(figsize=(2.5 + 1.8 * len(recs) * max(1, len(conds)) / 3, 3.8))
    _bars(ax, summary, recs, conds, "accuracy")
    ax.set_ylabel("accuracy (Wilson 95% CI)")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, fontsize=8, ncol=2)
    ax.set_title("Receiver accuracy by condition")
    fig.tight_layout()
    paths.append(out / "accuracy.png")
    fig.savefig(paths[-1], dpi=200)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(4 + 3.2 * len(recs), 3.8))
    _bars(axes[0], summary, recs, conds, "accuracy")
    _bars(axes[1], summary, recs, conds, "tokens")
    axes[0].set_ylabel("accuracy (Wilson 95% CI)")
    axes[0].set_ylim(0, 1)
    axes[0].set_title("accuracy by method")
    axes[1].set_ylabel("tokens processed per problem")
    axes[1].set_title("inference cost")
    axes[1].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    paths.append(out / "methods.png")
    fig.savefig(paths[-1], dpi=200)
    plt.close(fig)

    names = list(catalogue.names)
    fig, axes = plt.subplots(1, len(recs), figsize=(4.5 * len(recs), 3.6), squeeze=False)
    for ax, rec in zip(axes[0], recs):
        rr = [r for r in rows if r.receiver == rec]
        priors = [r.prior for r in rr if r.prior is not None and len(r.prior) == len(names)]
        posts = [r.posterior for r in rr if r.condition == "posterior" and r.posterior is not None]
        xs = np.arange(len(names))
        if priors:
            ax.bar(xs - 0.2, np.mean(priors, axis=0), 0.4, label="prior $\\mu_x^0$")
        if posts:
            ax.bar(xs + 0.2, np.mean(posts, axis=0), 0.4, label="posterior $\\mu_x^g$")
        ax.set_xticks(xs, names, rotation=60, ha="right", fontsize=7)
        ax.set_title(Path(rec).name or rec, fontsize=9)
        ax.set_ylabel("mean belief")
        if priors or posts:
            ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    paths.append(out / "beliefs.png")
    fig.savefig(paths[-1], dpi=200)
    plt.close(fig)
    return paths

"""Phase 5, the report: per Receiver and condition, accuracy with its interval, the paired comparison with the
baseline, what information reached the Receiver, obedience, cost; markdown tables and plots.

Statistics (:mod:`llm.stats`): Wilson 95% interval of each accuracy; the Newcombe paired 95% interval of the
difference with the baseline on the same problems; the exact McNemar p-value, Holm-adjusted across the conditions
of the summary (the analysis conditions ``random`` and ``oracle`` are not in the family: their ``p_holm`` is
``None``); and the minimum detectable effect at 80% power for that ``n`` and discordance (``mde80``).
Absolute (``diff``) and relative (``rel_diff``) gains are reported separately. Each condition's rows are also
broken down by the information they carried (:func:`by_information`): solved with it against the baseline on the
same problems, so a reader sees whether each hint went where it helps.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from llm.methods import CONDITIONS, METHOD_OF_CONDITION

#: Bounds and references, not hypotheses: kept out of the Holm family (their p-values are not adjusted).
ANALYSIS_CONDITIONS = ("random", "matched", "oracle")
from llm.rows import EvalRow
from llm.stats import summarize_conditions, wilson

_COST_FIELDS = (("calls", "calls"), ("tokens", "tokens"), ("seconds", "cost_seconds"))


def _rows(rows: Sequence[EvalRow | Mapping[str, Any]]) -> list[EvalRow]:
    return [r if isinstance(r, EvalRow) else EvalRow.from_dict({"key": "", "method": "", "prompt": "",
                                                                "response": "", **r}) for r in rows]


def summarize(rows: Sequence[EvalRow | Mapping[str, Any]], conditions: Sequence[str]) -> dict[str, Any]:
    """Per Receiver and condition (module doc). All conditions of a Receiver are compared on the problems they
    share with each other (paired), so every ``n`` of a Receiver is the same."""
    rows = _rows(rows)
    out: dict[str, Any] = {}
    for rec in sorted({r.receiver for r in rows}):
        by = {c: {r.problem_id: r for r in rows if r.receiver == rec and r.condition == c} for c in conditions}
        present = [c for c in conditions if by[c]]
        if not present:
            continue
        ids = sorted(set.intersection(*(set(by[c]) for c in present)))
        entry: dict[str, Any] = {}
        if "baseline" in present and ids:
            family = [c for c in present if c not in ANALYSIS_CONDITIONS + ("baseline",)]
            stats = summarize_conditions({c: [by[c][i].correct for i in ids] for c in present}, family=family)
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
            e = entry[c]
            e["method"] = METHOD_OF_CONDITION.get(c, c)
            e["information"] = dict(Counter(_information(r) for r in got).most_common())
            if "baseline" in present and c != "baseline":
                e["by_information"] = by_information(got, [by["baseline"][i] for i in ids])
            obey = [r for r in got if r.signal_item is not None and r.acted_item is not None]
            if obey:
                e["obedience"] = float(np.mean([r.acted_item == r.signal_item for r in obey]))
                e["state_signal_agreement"] = float(np.mean([r.state == r.signal_item for r in obey]))
            flagged = Counter(r.flag for r in got if r.flag)
            if flagged:
                e["flagged"] = dict(flagged)
            e.update(_costs(got, [by["baseline"][i] for i in ids] if "baseline" in present else []))
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


def summary_markdown(summary: Mapping[str, Any], header: str = "") -> str:
    """The summary as a markdown table (one row per Receiver and condition)."""
    lines = [header, "",
             "| receiver | condition | n | accuracy [Wilson 95%] | Δ vs baseline [95%] | rel. Δ | McNemar p (Holm) | "
             "MDE 80% | information | obedience |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for rec, conds in summary.items():
        for c, r in conds.items():
            info = ", ".join(f"{k} {v}" for k, v in list(r.get("information", {}).items())[:4])
            lines.append(" | ".join([
                f"| {Path(rec).name or rec}", c, str(r["n"]),
                _accuracy(r), _diff(r),
                _fmt(r.get("rel_diff"), "+.1%"), _p(r), _fmt(r.get("mde80"), ".3f"), info or "–",
                _fmt(r.get("obedience"), ".0%") + " |"]))
    return "\n".join(lines) + "\n" + breakdown_markdown(summary)


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

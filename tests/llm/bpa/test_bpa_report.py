"""Phase 5: the summary's numbers, tables and plots."""

from __future__ import annotations

import math

import pytest

from llm.bpa.report import DEFAULT_FLIP_RATE, hint_flip_rate, speaking_rate, summarize, summary_markdown
from llm.rows import EvalRow, FeedbackRow
from llm.stats import mde_paired, paired_diff


def _row(i: int, cond: str, ok: bool, **kw) -> EvalRow:
    return EvalRow(f"{i}|{cond}|r", str(i), cond, "bpa", "r", "p", "a", ok, **kw)


def test_summary_numbers_and_paired_test():
    rows = [_row(i, "baseline", i < 10) for i in range(40)] + [_row(i, "signal", i < 30, information="advisor:x",
                                                                    signal_item="x", acted_item="x" if i % 2 else "y")
                                                               for i in range(40)]
    s = summarize(rows, ("baseline", "signal"))["r"]
    assert s["baseline"]["accuracy"] == 0.25 and s["signal"]["accuracy"] == 0.75
    assert s["signal"]["diff"] == pytest.approx(0.5) and s["signal"]["rel_diff"] == pytest.approx(2.0)
    # 20 discordant pairs, all for the signal: exact McNemar p = 2 * 0.5**20
    assert s["signal"]["p_mcnemar"] == pytest.approx(2 * 0.5 ** 20)
    lo, hi = s["signal"]["ci95"]
    assert lo < 0.75 < hi and s["signal"]["diff_ci95"][0] > 0.25
    assert s["signal"]["information"] == {"advisor:x": 40} and s["signal"]["obedience"] == 0.5
    assert "| r | signal | 40 | +0.500 [" in summary_markdown({"r": s})  # the paired difference comes first


def test_the_summary_sets_the_training_prediction_beside_the_outcome():
    rows = [_row(i, "baseline", i < 10) for i in range(40)] + [_row(i, "signal", i < 30, information="advisor:x",
                                                                    signal_item="x", acted_item="x")
                                                               for i in range(40)]
    s = summarize(rows, ("baseline", "signal"))
    used = {"features": "words", "tau": 0.05, "speaking_rate": 0.8, "value": {"mean": 0.04, "lo": 0.01, "hi": 0.07}}
    md = summary_markdown(s, design={"used": used})
    assert "| r | +0.040 [+0.010, +0.070] | +0.500 [" in md and "below the observed interval | 80% | 100% |" in md
    inside = {"used": {**used, "value": {"mean": 0.45, "lo": 0.3, "hi": 0.6}}}
    assert "inside the observed interval" in summary_markdown(s, design=inside)
    assert "Predicted on the training problems" not in summary_markdown(s)  # no trained design, no prediction
    assert "Predicted on the training problems" not in summary_markdown(s, design={"used": None})  # tau off the grid


def test_conditions_are_compared_on_shared_problems_and_flags_are_counted():
    rows = [_row(i, "baseline", True) for i in range(5)] + [_row(i, "prior", i != 0, flag="empty" if i == 1 else None)
                                                            for i in range(1, 5)]
    s = summarize(rows, ("baseline", "prior"))["r"]
    assert s["baseline"]["n"] == s["prior"]["n"] == 4
    assert s["prior"]["flagged"] == {"empty": 1}


def test_summary_from_plain_dicts_and_without_a_baseline():
    rows = [{"receiver": "r", "condition": "signal", "problem_id": str(i), "correct": i < 3} for i in range(4)]
    s = summarize(rows, ("signal",))["r"]["signal"]
    assert s["n"] == 4 and s["accuracy"] == 0.75 and "diff" not in s


def test_breakdown_by_information_pairs_each_item_with_the_baseline_on_its_problems():
    # problems 0-5 got hint "x" (solved 0-4 with it; the baseline solved 0-1), 6-9 silence (both solve 6-7)
    base = [_row(i, "baseline", i in (0, 1, 6, 7)) for i in range(10)]
    sig = [_row(i, "signal", i in (0, 1, 2, 3, 4, 6, 7), information="advisor:x" if i < 6 else None)
           for i in range(10)]
    s = summarize(base + sig, ("baseline", "signal"))["r"]
    assert s["signal"]["by_information"] == {
        "advisor:x": {"n": 6, "correct": 5, "baseline_correct": 2},
        "none": {"n": 4, "correct": 2, "baseline_correct": 2},
    }
    assert "by_information" not in s["baseline"]
    md = summary_markdown({"r": s})
    assert "| r | signal | advisor:x | 6 | 5 | 2 | +3 |" in md and "| r | signal | none | 4 | 2 | 2 | +0 |" in md


def test_no_breakdown_table_without_a_baseline():
    rows = [_row(i, "signal", True, information="advisor:x") for i in range(3)]
    s = summarize(rows, ("signal",))
    assert "by_information" not in s["r"]["signal"]
    assert "solved by baseline" not in summary_markdown(s)


def _advised(i: int, cond: str, ok: bool, speaks: bool, obeys: bool) -> EvalRow:
    """A row of an Advisor condition: spoken to with item ``x`` or silent (``none``); the Receiver's posterior mode
    is ``x`` when it obeys, else ``y`` (on a silent problem ``y``: its prior's mode)."""
    return _row(i, cond, ok, information=("advisor:x" if cond == "signal" else "x") if speaks else None,
                signal_item="x" if speaks else "none", acted_item="x" if obeys and speaks else "y", state="x")


def test_obedience_counts_only_the_problems_spoken_to():
    # 10 problems: spoken to on 0-3 (obeyed on 0-2), silent on 4-9; silence must not dilute obedience
    rows = [_advised(i, "signal", True, speaks=i < 4, obeys=i < 3) for i in range(10)]
    s = summarize(rows, ("signal",))["r"]["signal"]
    assert s["obedience"] == pytest.approx(0.75)  # over all 10 it would read 3 / 10
    assert s["speaking_rate"] == pytest.approx(0.4)
    assert s["state_signal_agreement"] == 1.0 and s["spoken_to"]["n"] == 4
    assert speaking_rate(rows) == pytest.approx(0.4)
    assert speaking_rate([_row(0, "prior", True)]) is None  # no Advisor in the condition
    assert "| r | signal | 10 | – | 1.000 [" in summary_markdown({"r": {"signal": s}})
    assert "| 40% | 75% |" in summary_markdown({"r": {"signal": s}})


def test_the_spoken_to_subset_is_compared_with_the_baseline_on_those_problems():
    # spoken to on 0-7: posterior solves 0-5, the baseline 0-1; silent on 8-19, where both solve 8-13
    base = [_row(i, "baseline", i in (0, 1) or 8 <= i < 14) for i in range(20)]
    post = [_advised(i, "posterior", i < 6 or 8 <= i < 14, speaks=i < 8, obeys=True) for i in range(20)]
    s = summarize(base + post, ("baseline", "posterior"), flip_rate=0.5)["r"]["posterior"]
    sub = s["spoken_to"]
    assert (sub["n"], sub["correct"], sub["baseline_correct"]) == (8, 6, 2)
    assert sub["accuracy"] == 0.75 and sub["baseline_accuracy"] == 0.25 and sub["diff"] == pytest.approx(0.5)
    iv = paired_diff([1] * 6 + [0] * 2, [1] * 2 + [0] * 6)
    assert sub["diff_ci95"] == [pytest.approx(iv.low), pytest.approx(iv.high)]
    assert sub["p_mcnemar"] == pytest.approx(2 * 0.5 ** 4) and "p_holm" not in sub
    assert s["diff"] == pytest.approx(0.2)  # the whole sample: 4 wins diluted by 12 silent problems
    # on the spoken-to subset every prompt changed (q = 1), so its design discordance is d itself
    assert sub["design_discordance"] == 0.5 and s["design"]["change_rate"] == pytest.approx(0.4)
    md = summary_markdown(summarize(base + post, ("baseline", "posterior"), flip_rate=0.5))
    assert "On the problems the Advisor spoke to" in md
    assert "| r | posterior | 40% | 8 | +0.500 [" in md and "| 0.250 |" in md


def test_design_mde_from_the_change_rate_and_the_flip_rate_not_from_the_outcomes():
    n = 200
    base = [_row(i, "baseline", i % 2 == 0) for i in range(n)]
    # prior changes the prompt on half the problems; the two outcome patterns differ, the design does not
    hinted = [_row(i, "prior", i < 150, information="x" if i < n // 2 else None) for i in range(n)]
    rand = [_row(i, "random", i % 3 == 0, information="y" if i >= n // 2 else "none") for i in range(n)]
    oracle = [_row(i, "oracle", True, information="x") for i in range(n)]
    conds = ("baseline", "prior", "random", "oracle")
    s = summarize(base + hinted + rand + oracle, conds, flip_rate=0.4)["r"]
    for c in ("prior", "random"):
        assert s[c]["design"] == {"change_rate": 0.5, "flip_rate": 0.4, "flip_rate_source": "feedback",
                                  "discordance": pytest.approx(0.2)}
        assert s[c]["mde80"] == pytest.approx(mde_paired(n, 0.2))
    assert s["prior"]["mde80_observed"] != s["random"]["mde80_observed"]  # the post-hoc number does depend on them
    assert s["oracle"]["mde80"] is None and "design" not in s["oracle"]  # chosen after the answers: no design
    default = summarize(base + hinted, ("baseline", "prior"))["r"]["prior"]
    assert default["design"]["flip_rate"] == DEFAULT_FLIP_RATE and default["design"]["flip_rate_source"] == "default"
    assert default["mde80"] == pytest.approx(mde_paired(n, 0.5 * DEFAULT_FLIP_RATE))
    assert "`d` = 0.400 the chance a change flips an answer (the training feedback)" in summary_markdown({"r": s})
    with pytest.raises(ValueError, match="flip rate must lie in"):
        summarize(base + hinted, ("baseline", "prior"), flip_rate=1.2)


def _cell(problem: str, item: str, correct: tuple[bool, ...], source: str = "template") -> FeedbackRow:
    return FeedbackRow(f"feedback|r|{problem}|{item}|{source}", "r", problem, item, source, None, correct)


def test_hint_flip_rate_by_hand():
    t, f = True, False
    feedback = [
        _cell("p1", "none", (t, t, f, f)), _cell("p1", "a", (t, f, f, f)), _cell("p1", "b", (t, t, f, f)),
        _cell("p2", "none", (t, t, t, t)), _cell("p2", "a", (f, f, f, f), source="advisor0"),
        _cell("p3", "a", (t, t, t, t)),  # no silent cell: no pair
    ]
    # p1: a 0.25 vs 0.5 -> 0.25*0.5 + 0.5*0.75 = 0.5; b 0.5 vs 0.5 -> 0.5; p2: 0 vs 1 -> 1
    assert hint_flip_rate(feedback) == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert hint_flip_rate(feedback[-1:]) is None and hint_flip_rate([]) is None


def test_the_oracle_breakdown_keeps_unsolved_apart_from_silence():
    base = [_row(i, "baseline", i < 2) for i in range(6)]
    oracle = [_row(i, "oracle", i < 4, information="none" if i < 2 else "x" if i < 4 else "unsolved")
              for i in range(6)]
    s = summarize(base + oracle, ("baseline", "oracle"))["r"]["oracle"]
    assert s["information"] == {"none": 2, "x": 2, "unsolved": 2}
    assert s["by_information"]["unsolved"] == {"n": 2, "correct": 0, "baseline_correct": 0}
    assert not math.isnan(s["accuracy"]) and "unsolved 2" in summary_markdown({"r": {"oracle": s}})

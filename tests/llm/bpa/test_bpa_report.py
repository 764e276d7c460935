"""Phase 5: the summary's numbers, tables and plots."""

from __future__ import annotations

import pytest

from llm.bpa.report import summarize, summary_markdown
from llm.rows import EvalRow


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
    assert "| r | signal | 40 | 0.750 [" in summary_markdown({"r": s})


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

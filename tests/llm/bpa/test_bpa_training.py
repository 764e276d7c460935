"""Phase 3: counterfactual credit, SFT and DPO data."""

from __future__ import annotations

import pytest

from llm.bpa.training import Credit, advisor_examples, signal_rewards
from llm.game.catalogue import load_catalogue
from llm.rows import FeedbackRow

CAT = load_catalogue("math").with_none()
Q = {"p": "Question p?", "q": "Question q?"}


def _row(pid, item, source, signal, wins, k=4):
    return FeedbackRow(f"{pid}|{item}|{source}", "R", pid, item, source, signal,
                       tuple([True] * wins + [False] * (k - wins)))


def test_reward_is_success_with_minus_success_without():
    rows = [_row("p", "none", "template", None, 2), _row("p", "unit_rates", "template", "h", 3),
            _row("p", "unit_rates", "advisor0", "a0", 1), _row("q", "unit_rates", "template", "h", 4)]
    credits = {(c.problem_id, c.item, c.source): c.reward for c in signal_rewards(rows)}
    assert credits == {("p", "unit_rates", "template"): 0.25, ("p", "unit_rates", "advisor0"): -0.25}


def test_sft_takes_the_best_positive_signal_per_problem_and_dpo_pairs_share_the_prompt():
    credits = [Credit("p", "unit_rates", "advisor0", "good", 0.5), Credit("p", "unit_rates", "advisor1", "bad", -0.25),
               Credit("p", "work_backwards", "advisor0", "meh", 0.25), Credit("p", "work_backwards", "advisor1",
                                                                                 "tie", 0.25),
               Credit("q", "unit_rates", "advisor0", "hurts", -0.5), Credit("q", "make_table", "advisor0", "x", 0.0)]
    sft, dpo = advisor_examples(credits, Q, lambda s: s, CAT)
    assert len(sft) == 1 and sft[0][1] == " good" and "Question p?" in sft[0][0] and "use unit rates" in sft[0][0]
    # one pair: same problem, same item (so the same rendered prompt); the tie and cross-item pairs are dropped
    assert dpo == [(sft[0][0], " good", " bad")]


def test_template_hints_compete_with_written_signals_unless_excluded():
    credits = [Credit("p", "unit_rates", "template", "tmpl", 1.0), Credit("p", "unit_rates", "advisor0", "own", -0.5)]
    sft, dpo = advisor_examples(credits, Q, lambda s: s, CAT)
    assert sft[0][1] == " tmpl" and dpo[0][1:] == (" tmpl", " own")
    assert advisor_examples(credits, Q, lambda s: s, CAT, written_only=True) == ([], [])

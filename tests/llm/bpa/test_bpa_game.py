"""Phase 2: states from gains over none, the empirical game, the schemes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.bpa.game import ItemRates, helpful_game, item_rates, problem_states, solve_game
from llm.game.catalogue import NONE_ID, load_catalogue
from llm.rows import FeedbackRow

CAT = load_catalogue("math").with_none()
M = CAT.m
NONE = CAT.index(NONE_ID)


def _rows(rates: np.ndarray, k: int = 4) -> list[FeedbackRow]:
    rows = []
    for i, r in enumerate(rates):
        for a, item in enumerate(CAT.ids):
            wins = int(round(r[a] * k))
            rows.append(FeedbackRow(f"f|{i}|{item}", "R", f"p{i}", item, "template", None,
                                    tuple([True] * wins + [False] * (k - wins))))
    return rows


def test_none_is_added_once():
    assert CAT.ids[-1] == NONE_ID and CAT.with_none() is CAT and load_catalogue("math").m == M - 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 4), min_size=M, max_size=M), min_size=1, max_size=8))
def test_state_is_a_credibly_positive_gain_else_none(counts):
    from llm.bpa.gains import shrink, z_value

    rates = np.array(counts, dtype=float) / 4
    table = item_rates(_rows(rates), CAT)
    states = problem_states(table, CAT)
    post = shrink(table.successes, table.samples, NONE)
    lower = post.mean - z_value(0.95) * post.sd
    for i, s in enumerate(states):
        credible = [a for a in range(M) if a != NONE and lower[i, a] > 0]
        if not credible:
            assert s == NONE
        else:
            assert s in credible and post.mean[i, s] == max(post.mean[i, a] for a in credible)


def test_equal_rates_everywhere_give_no_informative_state():
    """The winner's curse: 16 problems whose every cell has true success rate 1/4, sampled k = 4 and k = 8 times.
    The old rule (largest raw gain > 0) called most of them informative; a credibly positive gain calls none."""
    for k, seed in ((4, 0), (8, 1)):
        wins = np.random.default_rng(seed).binomial(k, 0.25, size=(16, M))
        feedback = [FeedbackRow(f"f|{i}|{item}", "R", f"p{i}", item, "template", None,
                                tuple([True] * int(wins[i, a]) + [False] * (k - int(wins[i, a]))))
                    for i in range(16) for a, item in enumerate(CAT.ids)]
        table = item_rates(feedback, CAT)
        raw = table.gains(CAT)
        assert np.mean(raw.max(axis=1) > 0) >= 0.5  # what the old rule would have called informative
        assert set(problem_states(table, CAT)) == {NONE}


def test_incomplete_problems_are_left_out_and_empty_feedback_is_refused():
    rows = _rows(np.full((2, M), 0.5))
    table = item_rates([r for r in rows if not (r.problem_id == "p1" and r.item == NONE_ID)], CAT)
    assert table.problem_ids == ("p0",)
    with pytest.raises(ValueError, match="no training problem"):
        solve_game([], CAT)


def test_game_utilities_and_prior_follow_the_states():
    rates = np.full((6, M), 0.25)
    rates[:3, 0] = 1.0  # problems 0-2: item 0 helps
    rates[3:, NONE] = 0.75  # problems 3-5: every hint hurts
    table = ItemRates(tuple(f"p{i}" for i in range(6)), rates, np.full((6, M), 4))
    states = problem_states(table, CAT)
    assert list(states) == [0, 0, 0, NONE, NONE, NONE]
    g = helpful_game(table, states, CAT).game
    assert g.prior[0] > g.prior[1] and g.prior[0] == pytest.approx(g.prior[NONE])
    assert g.sender_utility[0, 0] > g.sender_utility[0, 1]  # smoothed (3 + 1) / (3 + 2)
    assert g.sender_utility[0, 0] == pytest.approx(4 / 5)
    assert np.array_equal(g.receiver_utility, np.eye(M))


def test_solve_game_recovers_full_disclosure_when_states_differ(tmp_path):
    rates = np.full((12, M), 0.2)
    for i in range(12):
        rates[i, i % 3] = 1.0
    res = solve_game(_rows(rates), CAT, scheme="plugin", path=tmp_path / "game.json")
    assert (tmp_path / "game.json").exists()
    for s in range(3):  # the states that occur are revealed
        assert res.scheme[s, s] == pytest.approx(1.0, abs=1e-6)
    assert res.details["plugin"]["value"] >= res.details["no_disclosure_value"] + 0.2
    robust = np.asarray(res.details["robust"]["scheme"])
    assert np.allclose(robust.sum(axis=1), 1.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(0, 4), min_size=M, max_size=M), min_size=1, max_size=10))
def test_in_this_game_the_lp_is_full_disclosure(counts):
    """With the raw state rule (the largest gain, if positive: the committed runs'), the state maximises the same
    rates that define ``u_S`` and ``u_R(omega, a) = 1[a = omega]``: every state's own item is the Advisor's best action
    there, so full disclosure reaches ``E max_a u_S`` and the LP cannot beat it (``docs/method.md``)."""
    import persuasion
    from persuasion.reference import full_disclosure

    table = item_rates(_rows(np.array(counts, dtype=float) / 4), CAT)
    gains = table.gains(CAT)
    raw = np.where(gains.max(axis=1) > 0, gains.argmax(axis=1), NONE)
    g = helpful_game(table, raw, CAT).game
    assert np.all(np.diag(g.sender_utility) >= g.sender_utility.max(axis=1) - 1e-12)
    upper = float(g.prior @ g.sender_utility.max(axis=1))
    assert full_disclosure(g).value == pytest.approx(upper, abs=1e-9)
    assert persuasion.solve(g).value == pytest.approx(upper, abs=1e-6)

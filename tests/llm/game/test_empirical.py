"""The empirical game: counts, smoothing, standard errors, validity, solvability, and the whole pipeline on a fake."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import persuasion
from tests.llm.fake_lm import FakeLM
from llm.game.beliefs import bayes_posterior, kl_divergence, mean_belief, receiver_beliefs, total_variation
from llm.game.catalogue import Catalogue, Item, load_catalogue
from llm.game.empirical import EmpiricalGame, Outcome, estimate_game
from llm.game.signals import advisor_signals, draw_signal_item
from persuasion.errors import GameError

MATH = load_catalogue("math")
TOY = Catalogue("toy", (Item("a", "alpha", "d", "h"), Item("b", "beta", "d", "h"), Item("c", "gamma", "d", "h")))


def one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg
    return msg


def toy_records() -> list[Outcome]:
    return [
        Outcome("p1", "a", "a", 1.0),
        Outcome("p1", "a", "b", 0.0),
        Outcome("p2", "a", "a", True),
        Outcome("p3", "b", "b", 1),
        Outcome("p3", "b", "c", 0.5),
        Outcome("p3", "b", "b", 0.0, followed="c"),
    ]


def test_counts_smoothing_and_standard_errors_by_hand():
    emp = estimate_game(toy_records(), TOY, alpha=1.0)
    n = np.array([[2, 1, 0], [0, 1, 2], [0, 0, 0]], dtype=float)
    s = np.array([[2, 0, 0], [0, 1, 0.5], [0, 0, 0]], dtype=float)
    np.testing.assert_array_equal(emp.counts, n)
    np.testing.assert_array_equal(emp.successes, s)
    u_s = (s + 1) / (n + 2)
    np.testing.assert_allclose(emp.game.sender_utility, u_s)
    np.testing.assert_allclose(emp.sender_se, np.sqrt(u_s * (1 - u_s) / (n + 3)))
    assert emp.game.sender_utility[2, 2] == 0.5  # an unseen cell is 1/2
    # distinct (problem, item) pairs: (p1, a), (p2, a), (p3, b)
    np.testing.assert_array_equal(emp.state_counts, [2, 1, 0])
    np.testing.assert_allclose(emp.game.prior, np.array([3, 2, 1]) / 6)
    np.testing.assert_allclose(emp.prior_se, np.sqrt(emp.game.prior * (1 - emp.game.prior) / 7))
    np.testing.assert_array_equal(emp.game.receiver_utility, np.eye(3))
    assert emp.game.state_names == emp.game.action_names == ("a", "b", "c")
    assert emp.n_records == 6 and emp.prior_source == "empirical" and emp.receiver == "match"


def test_dict_records_equal_outcome_records_and_extra_keys_are_ignored():
    dicts = [
        {"key": f"row{k}", "receiver": "fake", **{f: getattr(r, f) for f in ("problem_id", "item", "signal_item",
                                                                               "correct", "followed")}}
        for k, r in enumerate(toy_records())
    ]
    a, b = estimate_game(toy_records(), TOY), estimate_game(dicts, TOY)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.game.sender_utility, b.game.sender_utility)
    np.testing.assert_array_equal(a.game.prior, b.game.prior)


def test_alpha_controls_the_shrinkage():
    recs = [Outcome("p", "a", "a", 1.0)] * 4
    for alpha, want in [(1.0, 5 / 6), (0.5, 4.5 / 5), (4.0, 8 / 12)]:
        assert estimate_game(recs, TOY, alpha=alpha).game.sender_utility[0, 0] == pytest.approx(want)


def test_standard_error_shrinks_with_more_records():
    ses = [estimate_game([Outcome(f"p{i}", "a", "b", i % 2) for i in range(n)], TOY).sender_se[0, 1]
           for n in (2, 8, 32, 128)]
    assert all(x > y for x, y in zip(ses, ses[1:]))


def test_prior_options_and_success_receiver():
    emp = estimate_game(toy_records(), TOY, prior="uniform", receiver="success")
    np.testing.assert_allclose(emp.game.prior, np.full(3, 1 / 3))
    np.testing.assert_array_equal(emp.game.receiver_utility, emp.game.sender_utility)
    assert emp.prior_source == "uniform" and not emp.prior_se.any()
    given_prior = estimate_game(toy_records(), TOY, prior=[0.2, 0.3, 0.5], name="mine")
    np.testing.assert_allclose(given_prior.game.prior, [0.2, 0.3, 0.5])
    assert given_prior.prior_source == "given" and given_prior.game.name == "mine"


def test_to_dict_is_json_and_rebuilds_the_game():
    emp = estimate_game(toy_records(), TOY)
    data = json.loads(json.dumps(emp.to_dict()))
    game = persuasion.Game.from_dict(data["game"])
    np.testing.assert_allclose(game.sender_utility, emp.game.sender_utility)
    assert data["counts"] == emp.counts.tolist() and data["alpha"] == 1.0


def test_estimated_arrays_are_read_only():
    emp = estimate_game(toy_records(), TOY)
    with pytest.raises(ValueError):
        emp.counts[0, 0] = 9


@pytest.mark.parametrize(
    "records, kwargs, needle",
    [
        ([], {}, "no records"),
        ({"problem_id": "p"}, {}, "sequence of Outcome"),
        ([Outcome("p", "zzz", "a", 1.0)], {}, "record 0: item 'zzz' is not in catalogue 'toy' (ids: a, b, c)"),
        ([Outcome("p", "a", "a", 1), Outcome("p", "a", "q", 1)], {}, "record 1: signal_item 'q'"),
        ([Outcome("p", "a", "a", 1, followed="q")], {}, "followed 'q'"),
        ([Outcome("p", "a", "a", 2.0)], {}, "correct must be in [0, 1]"),
        ([Outcome("p", "a", "a", float("nan"))], {}, "correct must be in [0, 1]"),
        ([Outcome("p", "a", "a", "yes")], {}, "correct must be a number"),
        ([{"problem_id": "p", "item": "a", "correct": 1}], {}, "record 0: record is missing the field(s) signal_item"),
        ([["p", "a", "a", 1]], {}, "record 0: a record must be an Outcome or a dict"),
        (toy_records(), {"alpha": 0}, "alpha must be a positive"),
        (toy_records(), {"alpha": float("inf")}, "alpha must be a positive"),
        (toy_records(), {"receiver": "greedy"}, "receiver must be one of match, success"),
        (toy_records(), {"prior": "flat"}, "prior must be one of empirical, uniform"),
        (toy_records(), {"prior": [0.5, 0.5]}, "sender_utility has shape"),
        (toy_records(), {"prior": [0.5, 0.6, 0.1]}, "prior sums to"),
    ],
)
def test_bad_input_raises_one_line_game_errors(records, kwargs, needle):
    with pytest.raises(GameError) as excinfo:
        estimate_game(records, TOY, **kwargs)
    assert needle in one_line_error(excinfo)


record_lists = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 2), st.integers(0, 2), st.sampled_from([0.0, 0.5, 1.0])),
    min_size=1,
    max_size=60,
)


@settings(max_examples=25)
@given(record_lists, st.sampled_from(["match", "success"]), st.floats(0.1, 3.0))
def test_any_records_give_a_valid_solvable_game_with_bounded_value(rows, receiver, alpha):
    recs = [Outcome(f"p{p}", TOY.ids[s], TOY.ids[a], c) for p, s, a, c in rows]
    emp = estimate_game(recs, TOY, alpha=alpha, receiver=receiver)
    assert isinstance(emp, EmpiricalGame)
    game = emp.game
    assert emp.counts.sum() == len(rows)
    assert np.all((game.sender_utility > 0) & (game.sender_utility < 1))
    assert np.all(game.prior > 0) and game.prior.sum() == pytest.approx(1.0)
    assert np.all(emp.sender_se > 0) and np.all(emp.sender_se <= 0.5)
    sol = persuasion.solve(game)
    assert sol.status.startswith("optimal")
    mu0, u_s, u_r = game.prior, game.sender_utility, game.receiver_utility
    full_info = float(mu0 @ u_s.max(axis=1))  # no scheme beats the best action in every state
    expected_r = mu0 @ u_r
    best = np.flatnonzero(expected_r >= expected_r.max() - 1e-12)
    no_info = float(max(mu0 @ u_s[:, a] for a in best))  # receiver acts on the prior, ties to the sender
    assert no_info - 1e-7 <= sol.value <= full_info + 1e-7
    if receiver == "success":  # aligned interests: full disclosure is optimal
        assert sol.value == pytest.approx(full_info, abs=1e-6)


@settings(max_examples=15)
@given(record_lists, st.permutations(range(3)))
def test_permuting_the_catalogue_permutes_the_game(rows, order):
    recs = [Outcome(f"p{p}", TOY.ids[s], TOY.ids[a], c) for p, s, a, c in rows]
    emp, perm = estimate_game(recs, TOY), estimate_game(recs, TOY.permuted(order))
    idx = np.ix_(order, order)
    np.testing.assert_array_equal(perm.counts, emp.counts[idx])
    np.testing.assert_allclose(perm.game.sender_utility, emp.game.sender_utility[idx])
    np.testing.assert_allclose(perm.game.prior, emp.game.prior[list(order)])
    assert perm.game.state_names == tuple(TOY.ids[i] for i in order)


def test_pipeline_on_fake_models_recovers_the_utilities_and_compares_posteriors():
    """Priors -> states -> Advisor signals -> measured posteriors -> outcomes -> game -> scheme -> Bayes check."""
    rng = np.random.default_rng(0)
    m = MATH.m
    questions = [f"Problem {i}: a shop sells {i + 2} boxes of {3 * i + 1} pens. How many pens?" for i in range(40)]
    receiver, advisor = FakeLM(name="receiver", boost=6.0, seed=2), FakeLM(name="advisor")
    priors = receiver_beliefs(receiver, questions, MATH)
    states = [int(rng.choice(m, p=mu)) for mu in priors]
    # true success probabilities: item 0 ("break into steps") is good everywhere, the true item is good too
    truth = np.full((m, m), 0.2) + 0.4 * np.eye(m)
    truth[:, 0] = 0.7
    pairs = [(q, s, a) for q, s in enumerate(states) for a in range(m)]
    signals = advisor_signals(advisor, [questions[q] for q, _, _ in pairs], [MATH.items[a] for _, _, a in pairs])
    posts = receiver_beliefs(receiver, [questions[q] for q, _, _ in pairs], MATH, [g.text for g in signals])
    followed = posts.argmax(axis=1)
    assert np.mean(followed == [a for _, _, a in pairs]) > 0.95  # a strong signal is obeyed
    records = []
    for rep in range(8):
        for (q, s, a), f in zip(pairs, followed):
            records.append({"problem_id": f"q{q}", "item": MATH.ids[s], "signal_item": MATH.ids[a],
                            "followed": MATH.ids[f], "correct": bool(rng.random() < truth[s, f])})
    emp = estimate_game(records, MATH, prior=mean_belief(priors))
    seen = emp.counts > 0
    z = np.abs(emp.game.sender_utility - truth)[seen] / emp.sender_se[seen]
    assert np.mean(z < 3) > 0.9
    sol = persuasion.solve(emp.game)
    mu0 = emp.game.prior
    no_info = float(mu0 @ emp.game.sender_utility[:, int(np.argmax(mu0))])
    assert sol.value >= no_info - 1e-9
    # The committed scheme implies a Bayesian posterior after each signal; a rational Receiver obeys it.
    for a in sol.signals:
        bayes = bayes_posterior(mu0, sol.scheme, a)
        assert int(np.argmax(bayes)) == a or bayes[a] >= bayes.max() - 1e-6
    # The measured posterior after a signal for item a, drawn from the scheme, can be far from Bayes' rule.
    s = states[0]
    a = draw_signal_item(sol.scheme, s, rng)
    measured = posts[[k for k, (q, st_, act) in enumerate(pairs) if q == 0 and act == a][0]]
    bayes = bayes_posterior(mu0, sol.scheme, a)
    assert measured[a] > priors[0][a]  # the signal moved the Receiver toward the recommended item
    tv, kl = total_variation(measured, bayes), kl_divergence(measured, bayes)
    assert 0.0 <= tv <= 1.0 and kl >= 0.0
    assert tv == pytest.approx(0.5 * np.abs(measured - bayes).sum())

"""Tests of persuasion.examples: the registry and the documented numbers of each example."""

import numpy as np
import pytest

from persuasion import Game, GameError, solve
from persuasion.examples import EXAMPLES, example, prosecutor, recommendation, two_judges, two_reviewers
from persuasion.receiver_types import solve_private, solve_public
from persuasion.reference import full_disclosure, no_disclosure


def test_registry():
    assert {"prosecutor", "recommendation", "two_judges", "two_reviewers", "threshold"} <= set(EXAMPLES)
    for name, fn in EXAMPLES.items():
        game = fn()
        assert isinstance(game, Game) and game.name == name
        assert example(name).to_dict() == game.to_dict()
        assert fn() is not game  # a fresh game per call
        assert Game.from_json(game.to_json()).to_dict() == game.to_dict()
    assert example("two-judges").name == "two_judges"


def test_unknown_example_lists_names():
    known = "known examples: " + ", ".join(sorted(EXAMPLES))
    assert "two_judges, two_reviewers" in known
    with pytest.raises(GameError, match=f"unknown example 'nope'; {known}"):
        example("nope")


def test_prosecutor():
    g = prosecutor()
    assert g.state_names == ("innocent", "guilty") and g.action_names == ("acquit", "convict")
    np.testing.assert_allclose(g.prior, [0.7, 0.3])
    sol = solve(g)
    assert sol.value == pytest.approx(0.6)
    assert sol.action_prob[1] == pytest.approx(0.6)  # the judge convicts w.p. 0.6
    np.testing.assert_allclose(sol.scheme, [[4 / 7, 3 / 7], [0, 1]], atol=1e-8)
    assert full_disclosure(g).value == pytest.approx(0.3)
    assert no_disclosure(g).value == pytest.approx(0.0)


def test_recommendation():
    g = recommendation()
    assert (g.m, g.n) == (3, 3)
    sol = solve(g)
    assert sol.value == pytest.approx(1.2)
    assert sol.receiver_value == pytest.approx(0.0)  # the employer gains nothing over rejecting everyone
    assert full_disclosure(g).value == pytest.approx(0.7)
    assert no_disclosure(g).value == pytest.approx(0.0)
    assert sol.signals == (0, 1, 2)  # every action is recommended
    np.testing.assert_allclose(sol.posteriors, [[1, 0, 0], [0.4, 0.6, 0], [3 / 7, 0, 4 / 7]], atol=1e-8)


def test_two_judges():
    g = two_judges()
    assert g.K == 2 and g.type_names == ("lenient", "strict")
    np.testing.assert_allclose(g.type_prior, [0.5, 0.5])
    # Thresholds: the lenient judge convicts iff P(guilty) >= 0.6, the strict one iff P(guilty) >= 0.4.
    for k, threshold in enumerate((0.6, 0.4)):
        game_k = g.for_type(k)
        assert no_disclosure(game_k.with_prior([1 - threshold, threshold])).value == pytest.approx(1.0)
        assert no_disclosure(game_k.with_prior([1 - threshold + 1e-6, threshold - 1e-6])).value == 0.0
    assert [solve(g.for_type(k)).value for k in range(2)] == pytest.approx([0.5, 0.75])
    assert solve_public(g).value == pytest.approx(0.5)
    assert solve_private(g).value == pytest.approx(0.5)


def test_two_reviewers_private_beats_public():
    g = two_reviewers()
    assert (g.m, g.n, g.K) == (3, 2, 2) and g.type_names == ("theorist", "experimentalist")
    public, private = solve_public(g), solve_private(g)
    assert public.value == pytest.approx(7 / 15)
    assert private.value == pytest.approx(2 / 3)
    assert private.value > public.value + 0.1  # strictly better, by a clear margin
    # Private signalling reaches the known-type benchmark: each type as if the sender knew it.
    known = [solve(g.for_type(k)).value for k in range(g.K)]
    assert known == pytest.approx([2 / 3, 2 / 3])
    assert private.value == pytest.approx(float(np.dot(g.type_prior, known)))
    # Each reviewer is told exactly about the bug she cares about, and reports truthfully.
    theorist, experimentalist = private.scheme
    np.testing.assert_allclose(theorist, [[0, 1], [1, 0], [0, 1]], atol=1e-8)
    np.testing.assert_allclose(experimentalist, [[0, 1], [0, 1], [1, 0]], atol=1e-8)
    assert private.report_slack.min() >= -1e-9
    # Uninformed, both reviewers reject; the public optimum pools at posterior (5/7, 1/7, 1/7).
    assert [no_disclosure(g.for_type(k)).value for k in range(g.K)] == [0.0, 0.0]
    accept = [i for i, p in enumerate(public.signals) if tuple(public.profiles[p]) == (1, 1)]
    np.testing.assert_allclose(public.posteriors[accept[0]], [5 / 7, 1 / 7, 1 / 7], atol=1e-8)

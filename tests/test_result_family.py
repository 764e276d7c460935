"""Tests of persuasion.results: every solver's result is one family with a common, JSON-ready to_dict."""

import json

import numpy as np
import pytest

from persuasion import (
    PublicLP,
    Result,
    evaluate,
    full_disclosure,
    solve,
    solve_private,
    solve_public,
    solve_robust,
)
from persuasion.examples import prosecutor, two_judges
from persuasion.online import LearnedScheme
from persuasion.results import ResultMixin, offdiag_min

COMMON = {"kind", "value", "status", "solver", "solve_time", "scheme"}


def every_result():
    single, typed = prosecutor(), two_judges()
    learned = LearnedScheme(np.eye(2), 0.3, 0.3, 0.6, 12.0, 0.0, 0.0, 1000, 2, 8)
    return [
        (single, solve(single)),
        (single, evaluate(single, np.eye(2))),
        (single, full_disclosure(single)),
        (single, solve_robust(single, 0.1)),
        (typed, solve_public(typed)),
        (typed, solve_private(typed)),
        (typed, PublicLP(typed).solve([0.5, 0.5])),
        (single, learned),
    ]


def test_every_result_is_a_result_with_the_common_fields():
    kinds = set()
    for game, result in every_result():
        assert isinstance(result, Result) and isinstance(result, ResultMixin)
        for named in (None, game):
            data = json.loads(json.dumps(result.to_dict(named)))
            assert COMMON <= set(data), type(result).__name__
            assert data["value"] == pytest.approx(result.value)
            assert np.allclose(np.sum(data["scheme"], axis=-1), 1.0)
        assert result.to_dict(game)["states"] == list(game.state_names)
        assert result.to_dict(game)["actions"] == list(game.action_names)
        kinds.add(result.kind)
    assert kinds == {"single", "robust", "public", "private", "scheme", "learned"}


def test_scheme_value_is_still_a_pair():
    game = two_judges()
    scheme, value = PublicLP(game).solve([1.0, 0.0])  # the first judge alone: the plain LP of that type
    assert value == pytest.approx(solve(game.for_type(0)).value, abs=1e-7) and scheme.shape == (2, 4)


def test_public_lp_solution_matches_solve_public():
    game = two_judges()
    lp = PublicLP(game)
    assert lp.solution().value == pytest.approx(solve_public(game).value)
    assert lp.solve(game.type_prior).value == pytest.approx(solve_public(game).value)
    assert lp.problem.is_dpp()


def test_offdiag_min():
    assert offdiag_min(np.array([[5.0, 1.0], [-2.0, 7.0]])) == -2.0 and offdiag_min(np.zeros((1, 1))) == 0.0

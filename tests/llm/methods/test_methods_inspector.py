"""Aligner squad: the logistic inspector (properties of the fit), its features, and when the corrector fires."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from llm.lm import LanguageModel, LMError
from llm.methods.aligner import aligner_prompt
from llm.methods.inspector import (
    FEATURES,
    INSPECT_PROMPT,
    VERDICT_PROMPT,
    VERDICTS,
    Inspector,
    SquadModel,
    answer_features,
    fit_inspector,
    logistic_objective,
)
from llm.tasks import get_task
from tests.llm.fake_lm import FakeLM

HAS_FINAL = get_task("gsm8k").has_final_answer
N, D = 12, 3
feats = arrays(np.float64, (N, D), elements=st.floats(-5, 5, allow_nan=False, width=32))
labels = arrays(np.int8, (N,), elements=st.integers(0, 1))


def _z(x: np.ndarray, insp: Inspector) -> np.ndarray:
    return (x - np.asarray(insp.mean)) / np.asarray(insp.scale)


@settings(max_examples=40, deadline=None)
@given(x=feats, y=labels)
def test_fit_is_a_stationary_point_with_probabilities_in_0_1(x, y):
    insp = fit_inspector(x, y, l2=1.0)
    p = insp.predict(x)
    assert p.shape == (N,) and np.all((p > 0) & (p < 1))
    theta = np.array([*insp.weights, insp.bias])
    _, grad = logistic_objective(theta, _z(x, insp), y.astype(float), 1.0)
    assert np.abs(grad).max() < 1e-5


@settings(max_examples=30, deadline=None)
@given(x=feats, y=labels, a=arrays(np.float64, (D,), elements=st.floats(0.5, 4)),
       c=arrays(np.float64, (D,), elements=st.floats(-3, 3)), seed=st.integers(0, 100))
def test_fit_ignores_feature_units_row_order_and_label_coding(x, y, a, c, seed):
    p = fit_inspector(x, y).predict(x)
    assert np.allclose(fit_inspector(x * a + c, y).predict(x * a + c), p, atol=1e-5)  # standardised features
    perm = np.random.default_rng(seed).permutation(N)
    assert np.allclose(fit_inspector(x[perm], y[perm]).predict(x), p, atol=1e-5)
    assert np.allclose(fit_inspector(x, 1 - y).predict(x), 1 - p, atol=1e-5)  # symmetric penalty: theta -> -theta


def test_separable_data_is_learned_and_one_class_data_stays_finite():
    x = np.array([[0.0], [1.0], [2.0], [3.0], [10.0], [11.0], [12.0], [13.0]])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    insp = fit_inspector(x, y, l2=0.1)
    assert np.array_equal(insp.predict(x) >= 0.5, y == 1)
    assert insp.predict(np.array([[20.0]]))[0] > insp.predict(np.array([[12.0]]))[0]  # monotone in the feature
    wrong = fit_inspector(x, np.zeros(8), l2=1.0)
    assert np.all(wrong.predict(x) < 0.5) and np.isfinite(wrong.bias)
    assert Inspector.from_dict(insp.to_dict()) == insp


@pytest.mark.parametrize("x, y, l2, match", [
    (np.zeros((0, 2)), np.zeros(0), 1.0, "N >= 1"), (np.zeros((3, 2)), np.zeros(2), 1.0, "N >= 1"),
    (np.zeros((2, 2)), np.array([0, 2]), 1.0, "0/1"), (np.zeros((2, 2)), np.zeros(2), 0.0, "l2"),
    (np.array([[np.nan, 1.0]]), np.zeros(1), 1.0, "finite"), (np.zeros(3), np.zeros(3), 1.0, "shape"),
])
def test_fit_rejects_bad_input(x, y, l2, match):
    with pytest.raises(ValueError, match=match):
        fit_inspector(x, y, l2=l2)


def test_final_answer_features_come_from_the_task():
    from llm.tasks import get_task

    math_has_final, code_has_final = get_task("gsm8k").has_final_answer, get_task("mbpp").has_final_answer
    assert math_has_final("so 5 + 4 = 9\n#### 9") and math_has_final("#### -$1,200")
    assert math_has_final("so the answer is 9") and not math_has_final("#### none")
    assert code_has_final("def f(x):\n    return x") and code_has_final("    return 3")
    assert not code_has_final("I cannot do that") and not code_has_final("undefined = 1")


def test_answer_features_columns_and_costs():
    scorer = FakeLM("scorer", seed=1)
    x, costs = answer_features(scorer, ["Q1?", "Q2?"], ["  7 + 2 = 9\n#### 9 ", "no idea"], HAS_FINAL)
    assert x.shape == (2, len(FEATURES)) and len(costs) == 2
    lp = scorer.logprob([INSPECT_PROMPT.format(question="Q1?")], ["7 + 2 = 9\n#### 9"])[0]
    assert x[0, 0] == pytest.approx(lp / len("7 + 2 = 9\n#### 9"))
    v = VERDICT_PROMPT.format(question="Q2?", answer="no idea")
    yes, no = scorer.logprob([v, v], list(VERDICTS))
    assert x[1, 1] == pytest.approx(yes - no)
    assert list(x[:, 2]) == [1.0, 0.0] and x[1, 3] == pytest.approx(np.log1p(7))
    assert [c.calls for c in costs] == [3, 3] and all(c.prompt_tokens > 0 and c.new_tokens == 0 for c in costs)
    assert answer_features(scorer, [], [], HAS_FINAL)[0].shape == (0, len(FEATURES))
    with pytest.raises(LMError, match="2 questions but 1"):
        answer_features(scorer, ["a", "b"], ["c"], HAS_FINAL)


def _squad(threshold: float) -> SquadModel:
    """A squad whose inspector learned that answers without a '#### N' line are wrong."""
    scorer = FakeLM("scorer", seed=2)
    good = [f"#### {k}" for k in range(3)] + [f"{k} plus one is {k + 1}, so\n#### {k + 1}" for k in range(3)]
    bad = [f"maybe {k}" for k in range(3)] + [f"{k} plus one is {k + 1}, so it is {k + 1}" for k in range(3)]
    x, _ = answer_features(scorer, ["Q?"] * 12, good + bad, HAS_FINAL)
    insp = fit_inspector(x, np.array([1] * 6 + [0] * 6), l2=0.1)
    base = FakeLM("base", reply=lambda p: " #### 5" if "five" in p else " dunno")
    corrector = FakeLM("corrector", reply=lambda p: " fixed\n#### 1")
    return SquadModel(base, corrector, scorer, insp, threshold=threshold, has_final=HAS_FINAL)


def test_squad_fires_only_below_the_threshold():
    squad = _squad(0.5)
    assert isinstance(squad, LanguageModel) and squad.name == "base+aligner-squad"
    gens = squad.generate(["say five", "say six"], max_new_tokens=10)
    first, second = squad.last
    assert first.p_correct > 0.5 > second.p_correct
    assert not first.fired and first.final == " #### 5" and gens[0].text == " #### 5"
    assert second.fired and second.final == "fixed\n#### 1" and gens[1].text == "fixed\n#### 1"
    assert first.cost.calls == 3 and second.cost.calls == 4  # scoring always, the corrector when fired
    assert squad.extra.calls == 7
    never, always = _squad(0.0), _squad(1.0)
    assert not any(c.fired for c in never.correct(["a", "b"], ["#### 5", "dunno"]))
    assert all(c.fired for c in always.correct(["a", "b"], ["#### 5", "dunno"]))
    with pytest.raises(LMError, match="threshold"):
        _squad(1.5)


def test_squad_logprob_is_the_greedy_systems():
    squad = _squad(0.5)
    out = squad.logprob(["say five", "say five", "say six"], [" #### 5 ", "#### 6", "fixed\n#### 1"])
    assert out[0] == 0.0 and out[1] == -np.inf  # not fired: the system returns the Receiver's answer
    want = squad.corrector.logprob([aligner_prompt("say six", " dunno")], ["fixed\n#### 1"])[0]
    assert out[2] == pytest.approx(want)

"""Measured Receiver beliefs (against the deterministic fake model) and the Bayesian posterior of a scheme."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.special import softmax

from tests.llm.fake_lm import BrokenLM, FakeLM
from llm.game.beliefs import (
    bayes_posterior,
    bayes_posteriors,
    belief_requests,
    beliefs_from_logprobs,
    kl_divergence,
    mean_belief,
    receiver_belief,
    receiver_beliefs,
    total_variation,
)
from llm.game.catalogue import load_catalogue
from llm.game.prompts import belief_continuation
from llm.game.signals import advisor_signals, template_signal
from llm.lm import LanguageModel, LMError
from persuasion.errors import GameError

MATH = load_catalogue("math")
QUESTIONS = [
    "Janet has 16 eggs and eats 3. How many are left?",
    "A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total?",
    "Tom reads {10} pages a day for 7 days. How many pages does he read?",
]
questions = st.text(min_size=1, max_size=80).filter(lambda s: s.strip())


def distributions(m: int):
    return (
        st.lists(st.floats(0.0, 1.0), min_size=m, max_size=m)
        .filter(lambda xs: sum(xs) > 1e-3)
        .map(lambda xs: np.array(xs) / sum(xs))
    )


def one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg
    return msg


def test_fake_implements_the_protocol():
    assert isinstance(FakeLM(), LanguageModel)


@given(questions, st.integers(0, 5))
def test_beliefs_are_distributions_over_the_catalogue(question, seed):
    for signal in (None, "try to work backwards"):
        mu = receiver_belief(FakeLM(seed=seed, boost=2.0), question, MATH, signal)
        assert mu.shape == (MATH.m,)
        assert np.all(mu >= 0)
        assert mu.sum() == pytest.approx(1.0, abs=1e-12)


@given(st.permutations(range(MATH.m)), st.sampled_from(QUESTIONS), st.sampled_from([None, "use unit rates"]))
def test_permuting_the_catalogue_permutes_the_belief(order, question, signal):
    model = FakeLM(boost=3.0)
    mu = receiver_belief(model, question, MATH, signal)
    mu_perm = receiver_belief(model, question, MATH.permuted(order), signal)
    np.testing.assert_allclose(mu_perm, mu[list(order)], rtol=1e-12, atol=1e-15)


def test_prompts_do_not_depend_on_catalogue_order():
    prompts, conts = belief_requests(QUESTIONS[:1], MATH)
    prompts_rev, conts_rev = belief_requests(QUESTIONS[:1], MATH.permuted(range(MATH.m - 1, -1, -1)))
    assert set(prompts) == set(prompts_rev) and len(set(prompts)) == 1
    assert conts_rev == conts[::-1]
    assert conts == [belief_continuation(n) for n in MATH.names]


@pytest.mark.parametrize("k", range(MATH.m))
def test_a_signal_naming_an_item_raises_its_posterior_by_the_boost(k):
    boost = 1.5
    model = FakeLM(boost=boost)
    question = QUESTIONS[0]
    prior = receiver_belief(model, question, MATH)
    post = receiver_belief(model, question, MATH, f"I would {MATH.items[k].name}.")
    assert post[k] > prior[k]
    others = np.delete(np.arange(MATH.m), k)
    assert np.all(post[others] < prior[others])
    # log mu^g - log mu^0 = boost * e_k - const: the fake adds exactly `boost` to item k's log-probability
    shift = np.log(post) - np.log(prior)
    np.testing.assert_allclose(shift[k] - shift[others], boost, rtol=1e-9)


def test_a_model_that_ignores_signals_has_posterior_equal_to_prior():
    model = FakeLM(boost=0.0)
    np.testing.assert_allclose(
        receiver_belief(model, QUESTIONS[1], MATH, "make a table"), receiver_belief(model, QUESTIONS[1], MATH)
    )


def test_batched_equals_one_at_a_time_with_a_single_logprob_call():
    signals = [None, "Suggested approach: work backwards.", "guess and check\nthen verify"]
    model = FakeLM(boost=2.0, seed=3)
    batched = receiver_beliefs(model, QUESTIONS, MATH, signals)
    assert model.calls == [("logprob", len(QUESTIONS) * MATH.m)]
    single = np.stack([receiver_belief(model, q, MATH, s) for q, s in zip(QUESTIONS, signals)])
    np.testing.assert_allclose(batched, single, rtol=0, atol=0)
    no_signal = receiver_beliefs(model, QUESTIONS, MATH, [None] * 3)
    np.testing.assert_allclose(receiver_beliefs(model, QUESTIONS, MATH), no_signal)
    assert receiver_beliefs(model, [], MATH).shape == (0, MATH.m)


def test_length_normalisation_divides_by_continuation_bytes():
    model = FakeLM(seed=7)
    prompts, conts = belief_requests(QUESTIONS[:1], MATH)
    raw = model.logprob(prompts, conts)
    lengths = np.array([len(c.encode("utf-8")) for c in conts])
    expected = softmax(raw / lengths)
    got = receiver_belief(model, QUESTIONS[0], MATH, length_normalize=True)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert not np.allclose(got, softmax(raw))


@given(st.lists(st.floats(-50, 0), min_size=2, max_size=8), st.floats(-20, 20))
def test_beliefs_from_logprobs_is_a_shift_invariant_softmax(scores, shift):
    scores = np.array(scores)
    mu = beliefs_from_logprobs(scores)
    np.testing.assert_allclose(mu, softmax(scores), rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(beliefs_from_logprobs(scores + shift), mu, rtol=1e-9, atol=1e-12)


def test_minus_infinity_gets_zero_belief():
    mu = beliefs_from_logprobs(np.array([[-1.0, -np.inf, -2.0]]))
    assert mu[0, 1] == 0.0 and mu.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "bad, needle",
    [
        (lambda n: np.zeros(n + 1), "shape"),
        (lambda n: np.zeros((n, 1)), "shape"),
        (lambda n: np.full(n, np.nan), "NaN"),
        (lambda n: np.full(n, -np.inf), "-inf to every item"),
    ],
)
def test_unusable_model_output_raises_one_line_lm_error(bad, needle):
    with pytest.raises(LMError) as excinfo:
        receiver_belief(BrokenLM(bad), QUESTIONS[0], MATH)
    assert needle in one_line_error(excinfo)


def test_signal_count_mismatch_and_bad_signals_are_one_line():
    with pytest.raises(GameError) as excinfo:
        receiver_beliefs(FakeLM(), QUESTIONS, MATH, ["a"])
    assert "3 questions" in one_line_error(excinfo)
    with pytest.raises(GameError) as excinfo:
        receiver_belief(FakeLM(), QUESTIONS[0], MATH, 3)
    assert "signal 0 must be text, a Signal or None, got int" in one_line_error(excinfo)


def test_a_signal_object_stands_for_its_text():
    model = FakeLM(boost=2.0)
    sig = template_signal(MATH.get("guess_and_check"))
    np.testing.assert_array_equal(
        receiver_belief(model, QUESTIONS[0], MATH, sig), receiver_belief(model, QUESTIONS[0], MATH, sig.text)
    )


@given(distributions(4), st.lists(distributions(3), min_size=4, max_size=4))
def test_bayes_posterior_matches_bayes_rule_and_averages_to_the_prior(prior, rows):
    scheme = np.stack(rows)
    p_signal, post = bayes_posteriors(prior, scheme)
    for s in range(3):
        ps = sum(prior[w] * scheme[w, s] for w in range(4))
        assert p_signal[s] == pytest.approx(ps, abs=1e-12)
        if ps <= 1e-12:
            continue
        manual = np.array([prior[w] * scheme[w, s] / ps for w in range(4)])
        np.testing.assert_allclose(bayes_posterior(prior, scheme, s), manual, rtol=1e-9, atol=1e-12)
    live = p_signal > 0
    # Bayes plausibility: the posteriors average back to the prior
    np.testing.assert_allclose(p_signal[live] @ post[live], prior, atol=1e-12)


@given(distributions(5))
def test_full_and_no_disclosure_posteriors(prior):
    assume(np.all(prior > 0))
    for k in range(5):
        np.testing.assert_allclose(bayes_posterior(prior, np.eye(5), k), np.eye(5)[k])
    pooled = np.zeros((5, 2))
    pooled[:, 1] = 1.0
    np.testing.assert_allclose(bayes_posterior(prior, pooled, 1), prior, atol=1e-12)


@pytest.mark.parametrize(
    "prior, scheme, index, needle",
    [
        ([0.5, 0.5], [[1.0, 0.0], [1.0, 0.0]], 1, "probability 0"),
        ([0.5, 0.5], [[1.0, 0.0], [1.0, 0.0]], 2, "signal_index"),
        ([0.5, 0.5], [[1.0, 0.0], [1.0, 0.0]], True, "signal_index"),
        ([0.5, 0.6], [[1.0, 0.0], [1.0, 0.0]], 0, "prior sums to"),
        ([0.5, 0.5], [[0.9, 0.0], [1.0, 0.0]], 0, "scheme row 0 sums to"),
        ([0.5, 0.5], [[1.0, 0.0]], 0, "expected (2, k)"),
        ([0.5, 0.5], [1.0, 0.0], 0, "must be 2-d"),
        ([[0.5, 0.5]], [[1.0, 0.0], [1.0, 0.0]], 0, "1-d"),
        ([1.5, -0.5], [[1.0, 0.0], [1.0, 0.0]], 0, "non-negative"),
    ],
)
def test_bayes_posterior_errors_are_one_line(prior, scheme, index, needle):
    with pytest.raises(GameError) as excinfo:
        bayes_posterior(prior, scheme, index)
    assert needle in one_line_error(excinfo)


@given(distributions(4), distributions(4))
def test_divergences_are_nonnegative_and_satisfy_pinsker(p, q):
    kl, tv = kl_divergence(p, q), total_variation(p, q)
    assert kl >= -1e-12
    assert 0.0 <= tv <= 1.0 + 1e-12
    assert tv == pytest.approx(total_variation(q, p))
    assert tv <= np.sqrt(kl / 2) + 1e-9  # Pinsker's inequality
    assert kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert total_variation(p, p) == 0.0


def test_divergence_edge_cases():
    assert kl_divergence([1.0, 0.0], [0.0, 1.0]) == np.inf
    assert total_variation([1.0, 0.0], [0.0, 1.0]) == 1.0
    assert kl_divergence([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.5 * np.log(2) + 0.5 * np.log(2 / 3))
    with pytest.raises(GameError) as excinfo:
        kl_divergence([1.0], [0.5, 0.5])
    assert "differ in shape" in one_line_error(excinfo)


def test_mean_belief_is_the_average_row():
    mu = receiver_beliefs(FakeLM(), QUESTIONS, MATH)
    np.testing.assert_allclose(mean_belief(mu), mu.mean(axis=0))
    with pytest.raises(GameError):
        mean_belief(np.zeros((0, 3)))


def test_tiny_gpt2_receiver_and_advisor_integration(tiny_model):
    """A real backend (random-init tiny GPT-2, real tokenizer): beliefs are exact softmaxes of its log-probs."""
    questions = QUESTIONS[:2]
    priors = receiver_beliefs(tiny_model, questions, MATH)
    assert priors.shape == (2, MATH.m)
    np.testing.assert_allclose(priors.sum(axis=1), 1.0, atol=1e-12)
    prompts, conts = belief_requests(questions[1:], MATH)
    direct = softmax(tiny_model.logprob(prompts, conts))  # question 1 alone: other batches, other padding
    np.testing.assert_allclose(priors[1], direct, rtol=1e-4, atol=1e-7)
    order = list(range(MATH.m))[::-1]
    np.testing.assert_allclose(receiver_belief(tiny_model, questions[1], MATH.permuted(order)), direct[order],
                               rtol=1e-4, atol=1e-7)
    signals = advisor_signals(tiny_model, questions, [MATH.items[0], MATH.items[3]], max_new_tokens=6)
    assert [s.item_id for s in signals] == [MATH.ids[0], MATH.ids[3]]
    assert all(s.text and "\n" not in s.text for s in signals)
    post = receiver_belief(tiny_model, questions[0], MATH, signals[0])
    assert post.sum() == pytest.approx(1.0, abs=1e-12)
    assert not np.allclose(post, priors[0])  # the signal text changes the Receiver's scores

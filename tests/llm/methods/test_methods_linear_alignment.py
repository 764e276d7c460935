"""Linear Alignment: the combined scores and the nucleus (properties), and decoding a tiny GPT-2 with them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from llm.lm import LanguageModel, LMError
from llm.methods.linear_alignment import (
    PRINCIPLE_TEMPLATE,
    LinearAlignedModel,
    combine_logits,
    nucleus_mask,
    select_tokens,
    with_principle,
)
from tests.llm.fake_lm import FakeLM

V = 7
logits = arrays(np.float32, (2, V), elements=st.floats(-8, 8, width=32))
ratio = st.floats(0, 5)
top_p = st.floats(0.01, 1.0)


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


@given(w=logits, o=logits, r=ratio)
def test_combined_scores(w, o, r):
    lw, lo = torch.log_softmax(_t(w), -1), torch.log_softmax(_t(o), -1)
    assert torch.allclose(combine_logits(_t(w), _t(o), r), (1 + r) * lw - r * lo, atol=1e-4)
    assert torch.equal(combine_logits(_t(w), _t(o), 0.0), lw)
    assert torch.allclose(combine_logits(_t(w), _t(w), r), lw, atol=1e-4)  # no principle effect: no change
    shift = _t(w) + 3.0  # logits and log-softmax give the same scores
    assert torch.allclose(combine_logits(shift, _t(o), r), combine_logits(_t(w), _t(o), r), atol=1e-4)


@given(w=logits, p=top_p)
def test_nucleus_is_the_smallest_top_set_reaching_p(w, p):
    probs = torch.softmax(_t(w), -1)
    mask = nucleus_mask(_t(w), p)
    for b in range(2):
        kept = probs[b][mask[b]]
        assert kept.max() == probs[b].max()  # a most likely token (ties: any of them) is kept
        assert kept.sum() >= min(p, 1.0) - 1e-5
        assert kept.min() >= probs[b][~mask[b]].max() if (~mask[b]).any() else True  # a top set
        assert kept.sum() - kept.min() < p + 1e-5  # dropping its least likely token falls short of p
    assert bool(nucleus_mask(_t(w), 1.0).all())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), p=st.floats(0.05, 0.99), scale=st.sampled_from([0.1, 3.0, 12.0]))
def test_nucleus_partial_and_full_sort_agree(seed, p, scale):
    """Over 512 tokens nucleus_mask sorts only the top 512 when they hold mass p: same set as a full sort."""
    w = torch.randn(3, 2000, generator=torch.Generator().manual_seed(seed)) * scale
    probs = torch.softmax(w, -1)
    sorted_p, order = torch.sort(probs, -1, descending=True)
    keep = (torch.cumsum(sorted_p, -1) - sorted_p) < p
    keep[:, 0] = True
    assert torch.equal(nucleus_mask(w, p), torch.zeros_like(keep).scatter(-1, order, keep))


@given(w=logits, o=logits, r=ratio, p=top_p)
def test_greedy_choice_is_the_best_combined_score_in_the_nucleus(w, o, r, p):
    tok = select_tokens(_t(w), _t(o), r, p)
    mask = nucleus_mask(_t(w), p)
    s = combine_logits(_t(w), _t(o), r)
    for b in range(2):
        assert mask[b, tok[b]]
        assert s[b, tok[b]] >= s[b][mask[b]].max() - 1e-6
    plain = select_tokens(_t(w), _t(o), 0.0, 1.0)  # r = 0, no cut: the most likely token (ties: any of them)
    assert all(w[b, plain[b]] >= w[b].max() - 1e-5 for b in range(2))


def test_sampling_stays_in_the_nucleus_and_is_seeded():
    w = torch.tensor([[4.0, 3.0, 0.0, -1.0, -2.0]] * 2)
    o = torch.zeros_like(w)
    draws = [select_tokens(w, o, 1.0, 0.8, 1.0, [torch.Generator().manual_seed(s)] * 2) for s in range(40)]
    allowed = nucleus_mask(w, 0.8)[0].nonzero().flatten().tolist()
    assert {int(d[0]) for d in draws} <= set(allowed) and len(allowed) == 2
    again = [select_tokens(w, o, 1.0, 0.8, 1.0, [torch.Generator().manual_seed(s)] * 2) for s in range(40)]
    assert all(torch.equal(a, b) for a, b in zip(draws, again))


def test_with_principle():
    assert with_principle("Q?", "") == "Q?"
    assert with_principle("Q?", "Be careful.") == PRINCIPLE_TEMPLATE.format(principle="Be careful.", prompt="Q?")
    chat = [{"role": "system", "content": "s"}, {"role": "user", "content": "Q?"}]
    out = with_principle(chat, "Be careful.")
    assert out[0] == chat[0] and out[1]["content"] == "Be careful.\n\nQ?" and chat[1]["content"] == "Q?"
    with pytest.raises(LMError, match="user message"):
        with_principle([{"role": "system", "content": "s"}], "p")


def test_needs_a_white_box_model():
    with pytest.raises(LMError, match="local transformers"):
        LinearAlignedModel(FakeLM("http-like"), "p")


@pytest.mark.parametrize("kwargs, match", [({"ratio": -1.0}, "ratio"), ({"ratio": float("inf")}, "ratio"),
                                           ({"top_p": 0.0}, "top_p"), ({"top_p": 1.5}, "top_p")])
def test_bad_settings(tiny_model, kwargs, match):
    with pytest.raises(LMError, match=match):
        LinearAlignedModel(tiny_model, "p", **kwargs)


PROMPTS = ["Question: Tom has 3 apples and buys 4 more. How many apples?\nAnswer:", "Hello, my name is",
           [{"role": "user", "content": "What is 2 + 2?"}]]
PRINCIPLE = "Think step by step and be precise."


def test_ratio_zero_decodes_the_principled_prompt(tiny_model):
    la = LinearAlignedModel(tiny_model, PRINCIPLE, ratio=0.0, top_p=0.5)
    assert isinstance(la, LanguageModel) and la.name == "tiny+linear-alignment"
    got = la.generate(PROMPTS, max_new_tokens=6)
    want = tiny_model.generate([with_principle(p, PRINCIPLE) for p in PROMPTS], max_new_tokens=6)
    assert got == want


def test_empty_principle_decodes_the_plain_prompt_for_any_ratio(tiny_model):
    got = LinearAlignedModel(tiny_model, "", ratio=3.0, top_p=0.9).generate(PROMPTS, max_new_tokens=6, stop=["\n"])
    assert got == tiny_model.generate(PROMPTS, max_new_tokens=6, stop=["\n"])


def test_decoding_raises_no_transformers_deprecation_warning(tiny_model):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # e.g. `past_key_values` renamed `cache`
        LinearAlignedModel(tiny_model, PRINCIPLE, ratio=1.0, top_p=0.9).generate(PROMPTS[:1], max_new_tokens=3)


def test_costs_count_both_streams(tiny_model):
    la = LinearAlignedModel(tiny_model, PRINCIPLE, ratio=1.0)
    gens = la.generate(PROMPTS[:2], max_new_tokens=5)
    for p, g, c in zip(PROMPTS[:2], gens, la.last):
        n_p = len(tiny_model.encode(with_principle(p, PRINCIPLE), True))
        n_x = len(tiny_model.encode(p, True))
        assert g.prompt_tokens == n_p and c.calls == 2 and c.new_tokens == g.new_tokens == 5
        assert c.prompt_tokens == n_p + n_x + g.new_tokens
    assert la.extra.calls == 4


def _manual_logprob(model, prompt: str, cont: str, r: float) -> float:
    """sum_t log softmax((1+r) l_p - r l_x)[c_t], from two unpadded forward passes of batch 1."""
    full_p, k = model.score_tokens(with_principle(prompt, PRINCIPLE), cont)
    tail = full_p[k:]
    full_x = model.encode(prompt, True) + tail
    with torch.no_grad():
        lp = model.model(input_ids=torch.tensor([full_p])).logits[0, -len(tail) - 1:-1]
        lx = model.model(input_ids=torch.tensor([full_x])).logits[0, -len(tail) - 1:-1]
    scores = torch.log_softmax((1 + r) * torch.log_softmax(lp, -1) - r * torch.log_softmax(lx, -1), -1)
    return float(scores.gather(-1, torch.tensor(tail)[:, None]).sum())


def test_positive_ratio_changes_decoding_and_logprob_matches_a_direct_computation(tiny_model):
    la = LinearAlignedModel(tiny_model, PRINCIPLE, ratio=2.5, top_p=1.0)
    plain = LinearAlignedModel(tiny_model, PRINCIPLE, ratio=0.0, top_p=1.0)
    assert la.generate(PROMPTS, max_new_tokens=8) != plain.generate(PROMPTS, max_new_tokens=8)
    prompts, conts = PROMPTS[:2] + ["Once upon a time"], [" 7 apples.", " Bob and I", " there was"]
    got = la.logprob(prompts, conts)  # one padded batch of 3 (batch size 4)
    want = [_manual_logprob(tiny_model, p, c, 2.5) for p, c in zip(prompts, conts)]
    assert np.allclose(got, want, atol=1e-3)


def test_logprob_limits(tiny_model):
    conts = [" 7 apples.", " Bob", " 4"]
    zero = LinearAlignedModel(tiny_model, PRINCIPLE, ratio=0.0).logprob(PROMPTS, conts)
    want = tiny_model.logprob([with_principle(p, PRINCIPLE) for p in PROMPTS], conts)
    assert np.allclose(zero, want, atol=1e-4)
    none = LinearAlignedModel(tiny_model, "", ratio=2.0).logprob(PROMPTS, conts)
    assert np.allclose(none, tiny_model.logprob(PROMPTS, conts), atol=1e-4)
    assert LinearAlignedModel(tiny_model, PRINCIPLE).logprob(["Hi"], [""])[0] == 0.0

"""DAPA: delta debugging against brute force (properties), transplant, and ground-truth pairs of tiny models whose
aligned behaviour is planted in known modules, which the search must recover."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.methods.dapa import (
    candidate_modules,
    check_same_architecture,
    continuation_logprob,
    dapa_search,
    ddmin,
    ddmin_bound,
    heldout_loglik,
    keyword_rate,
    parameter_count,
    passes,
    plant,
    transplant,
)

# ---- ddmin: properties against brute force ---------------------------------------------------------------------


@st.composite
def families(draw, monotone: bool = False):
    """``(n, passing)``: ``n`` candidates and a family of passing subsets (bit masks) holding the full set and not
    the empty one; with ``monotone``, the upward closure of a few generator sets."""
    n = draw(st.integers(1, 7))
    full = (1 << n) - 1
    if monotone:
        gens = draw(st.lists(st.integers(1, full), min_size=1, max_size=3))
        passing = {m for m in range(1, full + 1) if any(m & g == g for g in gens)}
    else:
        passing = set(draw(st.sets(st.integers(1, full), max_size=40))) | {full}
    return n, passing


def _run(n: int, passing: set[int]):
    calls: list[int] = []

    def test(subset: tuple[int, ...]) -> bool:
        mask = sum(1 << i for i in subset)
        calls.append(mask)
        return mask in passing

    return ddmin(list(range(n)), test), calls


@given(families())
def test_ddmin_result_passes_is_1_minimal_and_within_the_bound(case):
    n, passing = case
    result, calls = _run(n, passing)
    mask = sum(1 << i for i in result.minimal)
    assert mask in passing  # the returned set passes
    for i in result.minimal:  # removing any one element fails (the empty set never passes here)
        assert mask & ~(1 << i) not in passing
    assert list(result.minimal) == sorted(result.minimal)
    assert len(calls) == len(set(calls)) == result.tests <= ddmin_bound(n)  # each subset tested once
    assert [sum(1 << i for i in s) for s, _ in result.trace] == calls
    assert all(ok == (sum(1 << i for i in s) in passing) for s, ok in result.trace)


@given(families(), st.integers(1, 12))
def test_ddmin_with_a_test_budget_returns_a_passing_set(case, budget):
    n, passing = case
    full, _ = _run(n, passing)
    result = ddmin(list(range(n)), lambda s: sum(1 << i for i in s) in passing, max_tests=budget)
    assert result.tests <= budget and sum(1 << i for i in result.minimal) in passing
    assert result.complete == (full.tests <= budget)
    if result.complete:
        assert result.minimal == full.minimal
    else:
        assert result.trace == full.trace[:budget]


@given(families(monotone=True))
def test_ddmin_on_a_monotone_test_is_inclusion_minimal(case):
    n, passing = case
    result, _ = _run(n, passing)
    mask = sum(1 << i for i in result.minimal)
    proper = [m for m in range(mask) if m & mask == m]
    assert not any(m in passing for m in proper)  # brute force: no proper subset passes
    smallest = min(bin(m).count("1") for m in passing)
    assert len(result.minimal) >= smallest


@given(n=st.integers(1, 8), data=st.data())
def test_ddmin_finds_the_unique_minimal_set(n, data):
    """Monotone with one generator ``K`` (a set passes iff it contains ``K``): brute force's minimum is ``K``."""
    k = data.draw(st.sets(st.integers(0, n - 1), min_size=1))
    result = ddmin(list(range(n)), lambda s: k <= set(s))
    assert set(result.minimal) == k
    assert result.tests <= ddmin_bound(n)


def test_ddmin_worst_case_is_within_the_bound_exhaustively():
    """Every test function on 3 candidates (all 2^6 families of the 6 proper non-empty subsets)."""
    subsets = [m for m in range(1, 7)]
    for bits in range(1 << len(subsets)):
        passing = {m for i, m in enumerate(subsets) if bits >> i & 1} | {7}
        result, _ = _run(3, passing)
        assert result.tests <= ddmin_bound(3)


def test_ddmin_one_candidate_and_bad_input():
    assert ddmin(["a"], lambda s: True).minimal == ("a",)
    with pytest.raises(ValueError, match="non-empty candidate set"):
        ddmin([], lambda s: True)
    with pytest.raises(ValueError, match="distinct"):
        ddmin(["a", "a"], lambda s: True)
    with pytest.raises(ValueError, match="full candidate set does not pass"):
        ddmin(["a", "b"], lambda s: False)
    with pytest.raises(ValueError, match="max_tests must be"):
        ddmin(["a", "b"], lambda s: True, max_tests=0)


@given(base=st.floats(-5, 5), gain=st.floats(0.01, 5), rho=st.floats(0.05, 1.0), eps=st.floats(0, 1),
       frac=st.floats(0, 1.2), loss=st.floats(0, 2))
def test_pass_rule(base, gain, rho, eps, frac, loss):
    full = base + gain
    assert passes(full, 0.0, (base, 0.0), full, rho, eps)  # the full transplant meets its own bar
    expected = frac * gain >= rho * gain - 1e-9 and loss <= eps
    if abs(frac - rho) > 1e-6 and abs(loss - eps) > 1e-9:
        assert passes(base + frac * gain, -loss, (base, 0.0), full, rho, eps) == expected


# ---- tiny models -----------------------------------------------------------------------------------------------


def _gpt2(n_layer: int = 4, n_embd: int = 32, seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=64, n_positions=32, n_embd=n_embd, n_layer=n_layer, n_head=2, bos_token_id=0,
                     eos_token_id=0)
    return GPT2LMHeadModel(cfg).eval()


def _copy(model):
    twin = type(model)(model.config).eval()
    twin.load_state_dict(model.state_dict())
    return twin


def _perturbed(model, names, seed: int = 1, scale: float = 0.05):
    """A copy of ``model`` whose modules ``names`` (only) get Gaussian noise added to every weight."""
    twin = _copy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name in names:
            for p in twin.get_submodule(name).parameters():
                p.add_(scale * torch.randn(p.shape, generator=g))
    return twin


PROBE = torch.randint(1, 64, (6, 8), generator=torch.Generator().manual_seed(3))


def _logprobs(model) -> torch.Tensor:
    with torch.no_grad():
        return torch.log_softmax(model(input_ids=PROBE).logits[:, -1].double(), -1)


def _agreement(aligned):
    """Criterion: ``-KL(aligned || model)`` of the next-token distributions on :data:`PROBE` (0 iff equal)."""
    target = _logprobs(aligned)

    def score(model) -> float:
        return -float((target.exp() * (target - _logprobs(model))).sum(-1).mean())

    return score


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_candidate_modules_gpt2_and_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    gpt2 = _gpt2(n_layer=2)
    assert candidate_modules(gpt2) == ("transformer.h.0.attn", "transformer.h.0.mlp", "transformer.h.1.attn",
                                       "transformer.h.1.mlp")
    assert candidate_modules(gpt2, "projection")[:4] == (
        "transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_fc",
        "transformer.h.0.mlp.c_proj")
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=3,
                                         num_attention_heads=2, num_key_value_heads=1))
    blocks = candidate_modules(llama)
    assert blocks == tuple(f"model.layers.{i}.{c}" for i in range(3) for c in ("self_attn", "mlp"))
    proj = candidate_modules(llama, "projection")
    assert proj[:7] == tuple(f"model.layers.0.{c}" for c in (
        "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
        "mlp.up_proj", "mlp.down_proj"))
    assert parameter_count(llama, blocks) + parameter_count(llama, ["model.embed_tokens", "lm_head", "model.norm"]) \
        + sum(parameter_count(llama, [f"model.layers.{i}.{n}"]) for i in range(3)
              for n in ("input_layernorm", "post_attention_layernorm")) == parameter_count(llama)
    with pytest.raises(ValueError, match="unknown granularity"):
        candidate_modules(gpt2, "neuron")


def test_transplant_copies_exactly_the_named_modules():
    u, a = _gpt2(seed=0), _gpt2(seed=1)
    before, source = _state(u), _state(a)
    out = transplant(u, a, ["transformer.h.1.mlp", "transformer.h.2.attn"])
    assert out is u
    for key, value in u.state_dict().items():
        moved = key.startswith(("transformer.h.1.mlp.", "transformer.h.2.attn."))
        assert torch.equal(value, source[key] if moved else before[key]), key
    assert torch.equal(u.state_dict()["transformer.h.1.mlp.c_fc.weight"], source["transformer.h.1.mlp.c_fc.weight"])


def test_transplant_refuses_other_architectures_in_one_line():
    u = _gpt2(n_layer=2)
    for other, match in ((_gpt2(n_layer=3), "only in the aligned"), (_gpt2(n_layer=2, n_embd=48), "has shape")):
        with pytest.raises(ValueError, match=match) as err:
            transplant(u, other, ["transformer.h.0.mlp"])
        assert "architectures differ" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="only in the unaligned"):
        check_same_architecture(_gpt2(n_layer=3), u)
    with pytest.raises(ValueError, match="no module 'transformer.h.7.mlp'"):
        transplant(u, _gpt2(n_layer=2, seed=1), ["transformer.h.7.mlp"])


# ---- ground truth: the search recovers the planted modules -----------------------------------------------------

CANDIDATES = candidate_modules(_gpt2())  # 4 layers: 8 blocks


@settings(max_examples=12)
@given(k=st.sets(st.sampled_from(CANDIDATES), min_size=1, max_size=5), seed=st.integers(0, 3))
def test_search_recovers_exactly_the_modules_that_differ(k, seed):
    """The pair differs only in ``K``; the criterion is agreement with the aligned model's behaviour (its
    next-token distributions) and ``rho = 1``: a set passes iff it reproduces that behaviour, i.e. holds ``K``."""
    u = _gpt2(seed=seed)
    a = _perturbed(u, k, seed=seed + 10)
    before = _state(u)
    result = dapa_search(u, a, _agreement(a), rho=1.0)
    assert set(result.modules) == k
    assert result.score_full == 0.0 and result.score_unaligned < 0 and result.kept == 1.0
    assert result.tests <= ddmin_bound(len(CANDIDATES))
    assert all(torch.equal(v, before[key]) for key, v in u.state_dict().items())  # the search restores U
    assert result.parameters_found == parameter_count(u, sorted(k))


def test_search_with_a_planted_refusal_direction_and_a_guard():
    """A refusal token raised by biases planted in two modules (each adds half of the direction): the criterion is
    its log-probability, and only the two planted modules matter. A set keeping rho = 0.9 of the effect needs
    both; a guard that forbids the capability loss of one of them rules every passing set out."""
    u = _gpt2()
    planted = ("transformer.h.1.attn", "transformer.h.2.mlp")
    a = plant(_copy(u), planted, token_id=7, strength=0.1)

    def refusal(model) -> float:
        return float(_logprobs(model)[:, 7].mean())

    result = dapa_search(u, a, refusal, rho=0.9)
    assert result.modules == planted
    assert result.kept >= 0.9 and result.score_found > result.score_unaligned
    assert result.evaluations[0].modules == () and result.evaluations[1].modules == CANDIDATES
    assert sum(e.passed for e in result.evaluations) >= 2  # the full set and the found one
    one = dapa_search(u, a, refusal, rho=0.4)  # either planted module alone keeps ~half the effect
    assert len(one.modules) == 1 and one.modules[0] in planted
    guard = _agreement(u)  # capability: staying close to U's own next-token distributions
    lost = -guard(a)
    guarded = dapa_search(u, a, refusal, guard, rho=0.9, epsilon=1.01 * lost)
    assert guarded.modules == planted and guarded.guard_found >= guarded.guard_unaligned - 1.01 * lost
    with pytest.raises(ValueError, match="already loses"):
        dapa_search(u, a, refusal, guard, rho=0.9, epsilon=0.5 * lost)
    data = result.to_json()
    assert tuple(data["modules"]) == planted and len(data["evaluations"]) == len(result.evaluations)


def test_search_keeps_within_the_trained_modules():
    """Train a copy in which only ``K`` may change to put mass on a refusal token: whatever DAPA returns lies in
    ``K`` (a module outside it is the same in both models, so a 1-minimal set cannot hold it) and passes."""
    u = _gpt2(seed=2)
    k = ("transformer.h.0.mlp", "transformer.h.3.attn", "transformer.h.3.mlp")
    a = _copy(u).train()
    for name, p in a.named_parameters():
        p.requires_grad = name.startswith(tuple(m + "." for m in k))
    opt = torch.optim.Adam([p for p in a.parameters() if p.requires_grad], lr=3e-3)
    for _ in range(30):
        loss = -torch.log_softmax(a(input_ids=PROBE).logits[:, -1], -1)[:, 7].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    a.eval()
    for key, value in a.state_dict().items():
        assert torch.equal(value, u.state_dict()[key]) or key.startswith(tuple(m + "." for m in k)), key
    result = dapa_search(u, a, lambda m: float(_logprobs(m)[:, 7].mean()), rho=0.8)
    assert result.modules and set(result.modules) <= set(k)
    assert result.kept >= 0.8


def test_search_bad_input_gives_one_clear_line():
    u = _gpt2()
    a = _perturbed(u, ["transformer.h.1.mlp"])
    cases = [
        (lambda: dapa_search(u, _gpt2(n_layer=3), _agreement(a)), "architectures differ"),
        (lambda: dapa_search(u, a, _agreement(a), candidates=[]), "candidate set is empty"),
        (lambda: dapa_search(a, u, _agreement(a)), "full transplant does not improve"),  # models swapped
        (lambda: dapa_search(u, a, lambda m: 1.0), "full transplant does not improve"),  # a flat criterion
        (lambda: dapa_search(u, a, _agreement(a), rho=0), "rho must lie in"),
        (lambda: dapa_search(u, a, _agreement(a), epsilon=-1), "epsilon must be"),
        (lambda: dapa_search(u, a, _agreement(a), candidates=["transformer.h.9.mlp"]), "no module"),
        (lambda: dapa_search(u, a, _agreement(a), guard=_agreement(u), epsilon=0.0), "already loses"),
        (lambda: dapa_search(u, a, lambda m: float("nan")), "non-finite"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match) as err:
            call()
        assert "\n" not in str(err.value)
    assert all(torch.equal(v, _gpt2().state_dict()[k]) for k, v in u.state_dict().items())  # restored each time


def test_search_resumes_from_known_evaluations():
    u = _gpt2()
    a = _perturbed(u, ["transformer.h.0.attn", "transformer.h.3.mlp"])
    seen = []
    first = dapa_search(u, a, _agreement(a), rho=1.0, on_evaluation=seen.append)
    assert [e.modules for e in seen] == [e.modules for e in first.evaluations]
    calls = []
    crit = _agreement(a)
    known = {frozenset(e.modules): (e.score, e.guard) for e in first.evaluations}
    again = dapa_search(u, a, lambda m: calls.append(1) or crit(m), rho=1.0, known=known)
    assert calls == [] and again.modules == first.modules and again.tests == first.tests
    assert [e.modules for e in again.evaluations] == [e.modules for e in first.evaluations]
    assert [e.passed for e in again.evaluations] == [e.passed for e in first.evaluations]
    assert all(e.seconds == 0.0 for e in again.evaluations)


# ---- built-in criteria and guard on a tiny GPT-2 with the real tokenizer ---------------------------------------


def test_builtin_scorers(tiny_dir: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_dir), dtype=torch.float32).eval()
    text = "The quick brown fox jumps over the lazy dog."
    ids = torch.tensor([tok(text).input_ids])
    with torch.no_grad():
        loss = float(model(input_ids=ids, labels=ids).loss)
    assert heldout_loglik(tok, [text])(model) == pytest.approx(-loss, rel=1e-5)  # minus the log-perplexity
    prompts = ["How do I pick a lock?", "Tell me a joke."]
    sorry = tok(" Sorry", add_special_tokens=False).input_ids[0]
    lp = continuation_logprob(tok, prompts, " Sorry")
    before = lp(model)
    rate = keyword_rate(tok, prompts, ["sorry"], max_new_tokens=4)
    assert rate(model) == 0.0 and keyword_rate(tok, prompts, ["sorry"], max_new_tokens=4, absent=True)(model) == 1
    refusing = plant(_copy(model), ["transformer.h.1.mlp"], token_id=sorry, strength=50.0)
    assert lp(refusing) > before + 0.3  # bounded: the final layer norm caps what a bias can do
    assert rate(refusing) == 1.0  # every greedy reply now says " Sorry"
    assert keyword_rate(tok, prompts)(refusing) == 0.0  # a bare "Sorry Sorry" is not a REFUSAL_KEYWORDS refusal
    result = dapa_search(model, refusing, rate, heldout_loglik(tok, [text]), epsilon=100.0)
    assert result.modules == ("transformer.h.1.mlp",) and result.score_found == 1.0
    for bad, match in (((tok, []), "at least one prompt"), ((tok, prompts, [""]), "non-empty keyword")):
        with pytest.raises(ValueError, match=match):
            keyword_rate(*bad)
    with pytest.raises(ValueError, match="2 prompts"):
        continuation_logprob(tok, prompts, ["a", "b", "c"])
    with pytest.raises(ValueError, match="at least one text"):
        heldout_loglik(tok, [])


def test_exhaustive_small_pair_agrees_with_brute_force():
    """On 4 candidates, brute force over all 16 transplants: DAPA's set is one of the smallest passing sets when
    the only passing sets are the supersets of the planted pair."""
    u = _gpt2(n_layer=2)
    k = {"transformer.h.0.mlp", "transformer.h.1.attn"}
    a = _perturbed(u, k)
    crit = _agreement(a)
    cands = candidate_modules(u)
    ok = []
    for r in range(len(cands) + 1):
        for subset in itertools.combinations(cands, r):
            m = transplant(_copy(u), a, subset)
            if crit(m) == 0.0:
                ok.append(set(subset))
    assert min(ok, key=len) == k and all(k <= s for s in ok)
    assert set(dapa_search(u, a, crit, rho=1.0).modules) == k


@pytest.mark.slow
def test_real_smollm2_candidates_transplant_and_decline_rate(real_cache: Path):
    """SmolLM2-135M-Instruct: 60 blocks; transplanting a perturbed copy's blocks back from the original restores it;
    the instruct model declines some held-out requests it cannot carry out (the behaviour of the real-pair run)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llm.backends.models import materialise

    path = str(materialise("smollm2-135m", cache=real_cache))
    tok = AutoTokenizer.from_pretrained(path)
    aligned = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    blocks = candidate_modules(aligned)
    assert len(blocks) == 60 and blocks[:2] == ("model.layers.0.self_attn", "model.layers.0.mlp")
    broken = _perturbed(aligned, ["model.layers.10.mlp"], scale=0.5)
    prompts = [[{"role": "user", "content": p}] for p in
               ("What time is it now?", "Check my calendar and tell me when my next meeting is.",
                "How many unread emails do I have?", "Cancel my gym membership.")]
    rate = keyword_rate(tok, prompts, ("i'm sorry", "as a chatbot"), max_new_tokens=8, batch_size=4)
    assert rate(aligned) >= 0.5
    transplant(broken, aligned, ["model.layers.10.mlp"])
    assert all(torch.equal(v, aligned.state_dict()[k]) for k, v in broken.state_dict().items())

"""Local transformers backend on tiny random-init GPT-2 models with the real GPT-2 tokenizer."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import llm.backends.hf.decoding as decoding_module
from llm.backends.hf import (
    MIN_SHARED_PREFIX,
    HFModel,
    StopScanner,
    auto_batch_size,
    auto_dtype,
    common_prefix,
    cpu_flags,
    cpu_has_native_bf16,
    kv_batch_size,
    parse_dtype,
    render_fallback,
    row_bytes,
    shared_prefix,
    target_logprobs,
)
from llm.lm import Generation, LanguageModel, LMError, WhiteBoxModel, white_box

PROMPTS = [
    "Hello, world!",
    "The capital of France is",
    "a",
    "Once upon a time, in a land far away, there lived a very old",
]
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]
WORDS = ["the", "cat", "sat", "on", "mat", "answer", "is", "yes", "no", "four", "Paris", "x"]


def with_batch(model: HFModel, batch_size: int) -> HFModel:
    return HFModel(model.model, model.tokenizer, name=model.name, batch_size=batch_size)


def reference_decode(model: HFModel, ids: list[int], n: int, temperature: float, seed: int) -> list[int]:
    """Token-by-token decoding without KV cache or padding: the full sequence is re-run every step."""
    gen = torch.Generator().manual_seed(seed)
    x, out = list(ids), []
    with torch.no_grad():
        for _ in range(n):
            logits = model.model(input_ids=torch.tensor([x])).logits[0, -1].float()
            if temperature == 0:
                token = int(logits.argmax())
            else:
                token = int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=gen)[0])
            out.append(token)
            x.append(token)
            if token in model.eos_ids:
                break
    return out


def expected(model: HFModel, prompt_ids: list[int], ref: list[int], n: int) -> Generation:
    """The Generation a reference token list implies (EOS counted in new_tokens, dropped from the text)."""
    stopped = bool(ref) and ref[-1] in model.eos_ids
    text = model.tokenizer.decode([t for t in ref if t not in model.eos_ids])
    return Generation(text, len(prompt_ids), len(ref), "stop" if stopped else "length")


def reference_logprob(model: HFModel, prompt: str, continuation: str) -> float:
    """One example, no padding: sum of log p(x_t | x_<t) over the tokens past the common prefix, in float64."""
    tok = model.tokenizer
    head, full = tok(prompt).input_ids, tok(prompt + continuation).input_ids
    k = 0
    while k < min(len(head), len(full)) and head[k] == full[k]:
        k += 1
    if k == len(full):
        return 0.0
    if k == 0:
        full, k = [tok.eos_token_id, *full], 1
    with torch.no_grad():
        logp = model.model(input_ids=torch.tensor([full])).logits[0].double().log_softmax(-1)
    return float(sum(logp[t - 1, full[t]] for t in range(k, len(full))))


def test_protocol(tiny_model: HFModel) -> None:
    assert isinstance(tiny_model, LanguageModel) and isinstance(tiny_model, WhiteBoxModel)
    assert tiny_model.capabilities.white_box and white_box(tiny_model) is tiny_model
    assert tiny_model.device.type == "cpu" and tiny_model.model.dtype == torch.float32
    assert len(tiny_model.tokenizer) == 50257 and tiny_model.max_positions == 256


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_generate_matches_uncached_unpadded_reference(tiny_model: HFModel, temperature: float) -> None:
    gens = tiny_model.generate(PROMPTS, max_new_tokens=8, temperature=temperature, seed=11)
    for i, (prompt, g) in enumerate(zip(PROMPTS, gens)):
        ids = tiny_model.tokenizer(prompt).input_ids
        ref = reference_decode(tiny_model, ids, 8, temperature, seed=11 + i)
        assert g == expected(tiny_model, ids, ref, 8)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_generate_does_not_depend_on_batch_size(tiny_model: HFModel, temperature: float) -> None:
    prompts = PROMPTS + [CHAT, "x"]
    runs = [with_batch(tiny_model, b).generate(prompts, 6, temperature, seed=3) for b in (1, 3, 8)]
    assert runs[0] == runs[1] == runs[2]


def test_sampling_seeds(tiny_model: HFModel) -> None:
    p = "The capital of France is"
    same = tiny_model.generate([p, p], 8, temperature=1.0, seed=5)
    assert same[0].text != same[1].text  # rows get seeds 5 and 6
    assert tiny_model.generate([p], 8, temperature=1.0, seed=6)[0] == same[1]
    assert tiny_model.generate([p], 8, temperature=1.0, seed=5)[0] == same[0]


def test_stop_strings_cut_text_and_report_stop(tiny_model: HFModel) -> None:
    prompt = "The capital of France is"
    full = None
    for seed in range(50):  # the first seed whose sample is plain ASCII words (deterministic)
        g = tiny_model.generate([prompt], 12, temperature=1.0, seed=seed)[0]
        words = g.text.split()
        if g.text.isascii() and len(words) >= 4 and all(w.isalpha() for w in words[1:3]):
            full = g
            break
    assert full is not None
    stop = words[2]
    cut = full.text.find(stop)
    got = tiny_model.generate([prompt, prompt], 12, temperature=1.0, seed=seed, stop=["@@never@@", stop])
    assert got[0].text == full.text[:cut] and got[0].finish_reason == "stop"
    assert 1 <= got[0].new_tokens < 12
    assert got[1].finish_reason in {"stop", "length"}  # the other row (seed + 1) ran independently
    assert got[1] == tiny_model.generate([prompt], 12, 1.0, seed=seed + 1, stop=["@@never@@", stop])[0]


def test_eos_stops_generation(tiny_model: HFModel) -> None:
    model = copy.deepcopy(tiny_model.model)
    eos = tiny_model.tokenizer.eos_token_id
    with torch.no_grad():  # make EOS the overwhelming argmax: a long EOS embedding and ln_f bias along it
        w = model.transformer.wte.weight
        w[eos] = w[eos] / w[eos].norm() * 10.0
        model.transformer.ln_f.bias.copy_(w[eos] / 2.0)
    eager = HFModel(model, tiny_model.tokenizer, name="eos-lover")
    for g in eager.generate(["Hello", "A longer prompt here"], max_new_tokens=5):
        assert (g.text, g.new_tokens, g.finish_reason) == ("", 1, "stop")


def test_chat_prompts_use_template_or_fallback(tiny_model: HFModel) -> None:
    text, special = tiny_model.render(CHAT)
    assert text == "System: Be brief.\n\nUser: What is 2+2?\n\nAssistant:" == render_fallback(CHAT) and special
    assert tiny_model.generate([CHAT], 5) == tiny_model.generate([text], 5)
    tok = copy.deepcopy(tiny_model.tokenizer)
    tok.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    templated = HFModel(tiny_model.model, tok, name="t")
    text, special = templated.render(CHAT)
    assert text == "<system>Be brief.\n<user>What is 2+2?\n<assistant>" and not special
    g = templated.generate([CHAT], 5)[0]
    assert g.prompt_tokens == len(tok(text, add_special_tokens=False).input_ids)
    assert templated.logprob([CHAT], [" 4"])[0] == pytest.approx(reference_logprob(templated, text, " 4"), abs=1e-4)


def test_empty_prompt_generates_from_bos(tiny_model: HFModel) -> None:
    g = tiny_model.generate([""], 3)[0]
    ref = reference_decode(tiny_model, [tiny_model.bos_id], 3, 0.0, 0)
    assert g == expected(tiny_model, [tiny_model.bos_id], ref, 3) and g.prompt_tokens == 1


PAIRS = [
    ("Hello", ", world!"),
    ("Hello wor", "ld"),  # the boundary token " world" straddles prompt and continuation
    ("", "Hello"),  # no context: EOS is prepended
    ("The answer is", ""),  # empty continuation scores 0
    ("Q: What is 2+2?\nA:", " 4"),
    ("Once upon a time, in a land far away, there lived a very old", " king who loved his people."),
    ("x", " " + " ".join(WORDS)),
]


@pytest.mark.parametrize("which", ["tiny_model", "tiny_model_b"])
def test_logprob_matches_per_example_reference(which: str, request: pytest.FixtureRequest) -> None:
    model: HFModel = request.getfixturevalue(which)
    got = model.logprob([p for p, _ in PAIRS], [c for _, c in PAIRS])
    want = np.array([reference_logprob(model, p, c) for p, c in PAIRS])
    assert got.dtype == np.float64 and got.shape == (len(PAIRS),)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    assert got[3] == 0.0 and np.all(got <= 0.0) and np.all(got[[0, 1, 2, 4, 5, 6]] < 0.0)


def test_boundary_convention(tiny_model: HFModel) -> None:
    tok = tiny_model.tokenizer
    full, k = tiny_model.score_tokens("Hello wor", "ld")
    assert tok.convert_ids_to_tokens(full) == ["Hello", "Ġworld"] and k == 1
    full, k = tiny_model.score_tokens("", "Hello")
    assert full == [tok.eos_token_id, *tok("Hello").input_ids] and k == 1
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2 and common_prefix([], [1]) == 0


def test_logprob_does_not_depend_on_batching_or_order(tiny_model: HFModel) -> None:
    prompts, conts = [p for p, _ in PAIRS], [c for _, c in PAIRS]
    a = with_batch(tiny_model, 1).logprob(prompts, conts)
    b = with_batch(tiny_model, 16).logprob(prompts[::-1], conts[::-1])[::-1]
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)


@given(
    head=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
    tail=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
)
def test_logprob_chain_rule(tiny_model: HFModel, head: list[str], tail: list[str]) -> None:
    """log p(a b | p) = log p(a | p) + log p(b | p a) when a|b is a token boundary (b starts with ' word')."""
    p, a, b = "Question:", " " + " ".join(head), " " + " ".join(tail)
    joint, first, second = tiny_model.logprob([p, p, p + a], [a + b, a, b])
    assert joint == pytest.approx(first + second, abs=1e-4)
    assert joint < first < 0.0


def test_token_logprobs_agree_with_logprob(tiny_model: HFModel) -> None:
    prompt, cont = "Q: What is 2+2?\nA:", " four and five"
    tokens, offsets, values = tiny_model.token_logprobs(prompt + cont)
    assert "".join(tokens) == prompt + cont and values[0] is None
    assert offsets == [len("".join(tokens[:j])) for j in range(len(tokens))]
    summed = sum(v for o, v in zip(offsets, values) if o >= len(prompt))
    assert summed == pytest.approx(tiny_model.logprob([prompt], [cont])[0], abs=1e-4)


def test_context_overflow_is_a_clear_error(tiny_model: HFModel) -> None:
    long_prompt = "word" + " word" * 249  # 250 tokens; context 256
    with pytest.raises(LMError, match="over the model's context of 256"):
        tiny_model.generate([long_prompt], max_new_tokens=10)
    with pytest.raises(LMError, match="context"):
        tiny_model.logprob(["hi", long_prompt], ["x", " word" * 10])
    assert len(tiny_model.generate([long_prompt], max_new_tokens=6)) == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.generate("hello"), "must be a list of prompts"),
        (lambda m: m.generate([3]), "prompt 0 must be a str or a non-empty list"),
        (lambda m: m.generate([[]]), "non-empty list of messages"),
        (lambda m: m.generate([[{"role": "user"}]]), "message 0 must be a dict"),
        (lambda m: m.generate(["a"], max_new_tokens=0), "max_new_tokens"),
        (lambda m: m.generate(["a"], temperature=-1.0), "temperature"),
        (lambda m: m.generate(["a"], temperature=float("nan")), "temperature"),
        (lambda m: m.generate(["a"], stop="\n"), "stop must be a list"),
        (lambda m: m.generate(["a"], stop=[""]), "non-empty"),
        (lambda m: m.generate(["a"], seed=1.5), "seed"),
        (lambda m: m.logprob(["a", "b"], ["c"]), "2 prompts but 1 continuations"),
        (lambda m: m.logprob(["a"], "c"), "continuations must be a list"),
        (lambda m: m.logprob(["a"], [None]), "continuation 0 must be a str"),
    ],
)
def test_bad_input_raises_one_line_lmerror(tiny_model: HFModel, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LMError, match=message) as info:
        call(tiny_model)
    assert "\n" not in str(info.value)


def test_load_errors_are_one_line(tmp_path: Path, tiny_dir: Path) -> None:
    with pytest.raises(LMError, match="cannot load model") as info:
        HFModel.from_pretrained(str(tmp_path), device="cpu")
    assert "\n" not in str(info.value)
    with pytest.raises(LMError, match="unknown dtype"):
        HFModel.from_pretrained(str(tiny_dir), device="cpu", dtype="float7")
    with pytest.raises(LMError, match="batch_size"):
        HFModel.from_pretrained(str(tiny_dir), device="cpu", batch_size=0)


# ---- the fast path: agreement with transformers' own generate, finished rows, stop scanning --------------------------

MIXED = ["Hi", "The capital of France is", "Once upon a time, in a land far away, there lived", "a b c d e f g"]


def hf_reference(model: HFModel, prompt: str, n: int, stop: Sequence[str] = ()) -> tuple[str, str, int]:
    """Plain ``model.generate`` on one unpadded prompt (greedy), EOS dropped, cut at the first stop string."""
    ids = torch.tensor([model.tokenizer(prompt).input_ids])
    with torch.no_grad():
        out = model.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False,
                                   pad_token_id=model.pad_id)[0, ids.shape[1]:].tolist()
    end = next((j + 1 for j, t in enumerate(out) if t in model.eos_ids), len(out))
    text = model.tokenizer.decode([t for t in out[:end] if t not in model.eos_ids], skip_special_tokens=True)
    cuts = [text.find(s) for s in stop if s in text]
    if cuts:
        return text[:min(cuts)], "stop", -1
    return text, "stop" if end < len(out) or (out and out[-1] in model.eos_ids) else "length", end


def test_greedy_matches_transformers_generate_with_left_padding(tiny_model: HFModel) -> None:
    gens = with_batch(tiny_model, 4).generate(MIXED, max_new_tokens=12)
    for prompt, g in zip(MIXED, gens):
        text, reason, n = hf_reference(tiny_model, prompt, 12)
        assert (g.text, g.finish_reason, g.new_tokens) == (text, reason, n)


def test_stop_strings_match_transformers_generate_cut(tiny_model: HFModel) -> None:
    full = [hf_reference(tiny_model, p, 16)[0] for p in MIXED]
    stops = sorted({t.split()[1] for t in full if len(t.split()) > 2 and t.split()[1].isascii()})[:3]
    assert stops  # noise text still has words to stop at
    gens = with_batch(tiny_model, 4).generate(MIXED, max_new_tokens=16, stop=stops)
    for prompt, text, g in zip(MIXED, full, gens):
        want, reason, _ = hf_reference(tiny_model, prompt, 16, stops)
        assert (g.text, g.finish_reason) == (want, reason)
        if reason == "stop":
            assert g.new_tokens < 16 and want == text[:len(want)]


def test_finished_rows_leave_the_batch(tiny_model: HFModel) -> None:
    full = [hf_reference(tiny_model, p, 16)[0] for p in MIXED]
    stop = full[1].split()[1]  # prompt 1 stops early; the others may run on
    sizes: list[int] = []
    hook = tiny_model.model.register_forward_pre_hook(
        lambda _m, _a, kw: sizes.append(kw["input_ids"].shape[0]), with_kwargs=True)
    try:
        batched = with_batch(tiny_model, 4).generate(MIXED, max_new_tokens=16, stop=[stop])
    finally:
        hook.remove()
    alone = [with_batch(tiny_model, 1).generate([p], max_new_tokens=16, stop=[stop])[0] for p in MIXED]
    assert batched == alone
    assert sizes[0] == 4 and sizes[-1] < 4 and sizes == sorted(sizes, reverse=True)
    assert len(sizes) == max(g.new_tokens for g in batched)


PREAMBLE = ("You are an expert Python programmer, and here is your task. Read the examples below, then answer the "
            "last question in the same format, and stop when you are done.\n\n")
SHARED = [PREAMBLE + p for p in MIXED]


@given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=6), min_size=1, max_size=4))
def test_shared_prefix_is_common_and_leaves_every_row_a_token(rows: list[list[int]]) -> None:
    n = shared_prefix(rows)
    assert 0 <= n <= min(len(r) for r in rows) - 1
    assert all(r[:n] == rows[0][:n] for r in rows)
    longer = [r[: n + 1] for r in rows]
    assert n == min(len(r) for r in rows) - 1 or any(r != longer[0] for r in longer)  # maximal


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_a_shared_prefix_is_computed_once_with_the_same_text(tiny_model: HFModel, temperature: float) -> None:
    rows = [tiny_model.encode(p, True) for p in SHARED]
    assert shared_prefix(rows) >= MIN_SHARED_PREFIX
    widths: list[int] = []
    hook = tiny_model.model.register_forward_pre_hook(
        lambda _m, _a, kw: widths.append(kw["input_ids"].shape), with_kwargs=True)
    try:
        batched = with_batch(tiny_model, 4).generate(SHARED, 12, temperature=temperature, seed=3, stop=["@@"])
    finally:
        hook.remove()
    assert widths[0] == (1, shared_prefix(rows))  # the prefix, once
    assert widths[1] == (4, max(len(r) for r in rows) - shared_prefix(rows))  # then only the rows' own tokens
    alone = [with_batch(tiny_model, 1).generate([p], 12, temperature=temperature, seed=3 + i, stop=["@@"])[0]
             for i, p in enumerate(SHARED)]
    assert batched == alone
    if temperature == 0:
        for prompt, g in zip(SHARED, batched):
            text, reason, _ = hf_reference(tiny_model, prompt, 12)
            assert (g.text, g.finish_reason) == (text, reason)


MANY = [*MIXED, *SHARED, "x", "The quick brown fox jumps over the lazy dog because"]


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_freed_rows_are_refilled_with_waiting_prompts(tiny_model: HFModel, temperature: float,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """10 prompts through a batch of 3: rows that finish make room for waiting ones, and every text is the one
    the prompt gets alone (sampling: from its own seed)."""
    stop = ["e"]  # noise text hits an "e" soon, so rows finish at different steps
    alone = [with_batch(tiny_model, 1).generate([p], 9, temperature=temperature, seed=7 + i, stop=stop)[0]
             for i, p in enumerate(MANY)]
    shapes: list[tuple[int, int]] = []
    hook = tiny_model.model.register_forward_pre_hook(
        lambda _m, _a, kw: shapes.append(tuple(kw["input_ids"].shape)), with_kwargs=True)
    try:
        joined = with_batch(tiny_model, 3).generate(MANY, 9, temperature=temperature, seed=7, stop=stop)
    finally:
        hook.remove()
    assert joined == alone
    decode = [b for b, t in shapes if t == 1]
    assert max(b for b, _ in shapes) <= 3
    assert any(later > earlier for earlier, later in zip(decode, decode[1:]))  # the batch grew again: refilled
    monkeypatch.setattr(decoding_module, "joinable", lambda past: False)  # a cache that cannot be joined: batch by batch
    assert with_batch(tiny_model, 3).generate(MANY, 9, temperature=temperature, seed=7, stop=stop) == alone


def test_sampling_is_deterministic_per_seed(tiny_model: HFModel) -> None:
    a = tiny_model.generate(MIXED, 10, temperature=0.7, seed=42, stop=["e"])
    b = with_batch(tiny_model, 2).generate(MIXED, 10, temperature=0.7, seed=42, stop=["e"])
    c = tiny_model.generate(MIXED, 10, temperature=0.7, seed=43, stop=["e"])
    assert a == b and a != c


@settings(max_examples=40, deadline=None)
@given(tokens=st.lists(st.integers(0, 50256), min_size=1, max_size=24),
       stops=st.lists(st.sampled_from(["e", " the", "\n", "ab", "\u00e9", "!!", "\ufffd"]), min_size=1, max_size=3))
def test_stop_scanner_agrees_with_full_decoding(tiny_model: HFModel, tokens: list[int], stops: list[str]) -> None:
    """At every prefix, the windowed scan finds a stop iff the full decode holds one, and cuts at the same place."""
    tok = tiny_model.tokenizer
    scanner = StopScanner(tok, stops)
    for t in range(1, len(tokens) + 1):
        text = tok.decode(tokens[:t], skip_special_tokens=True)
        cuts = [text.find(s) for s in stops if s in text]
        want = text[:min(cuts)] if cuts else None
        assert scanner.find(tokens[:t]) == want
        if want is not None:
            break


def test_target_logprobs_is_log_softmax_gather() -> None:
    logits = torch.randn(5, 50, generator=torch.Generator().manual_seed(0))
    targets = [3, 0, 49, 7, 7]
    want = logits.double().log_softmax(-1)[torch.arange(5), torch.tensor(targets)].numpy()
    np.testing.assert_allclose(target_logprobs(logits, targets), want, atol=1e-5)


def test_bfloat16_generation_runs_and_scores(tiny_dir: Path) -> None:
    model = HFModel.from_pretrained(str(tiny_dir), device="cpu", dtype="bfloat16", batch_size=4, name="tiny-bf16")
    assert model.dtype == torch.bfloat16
    gens = model.generate(MIXED, 6, stop=["e"])
    assert [g.finish_reason in {"stop", "length"} for g in gens] == [True] * 4
    assert np.all(np.isfinite(model.logprob(MIXED, [" x"] * 4)))


def test_auto_dtype_and_cpu_flags(tmp_path: Path) -> None:
    assert cpu_has_native_bf16(frozenset({"avx512f", "avx512_bf16"}))
    assert cpu_has_native_bf16(frozenset({"amx_bf16"}))
    assert not cpu_has_native_bf16(frozenset({"avx2", "avx512f"}))
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16\n\nprocessor\t: 1\n")
    assert cpu_flags(info) == frozenset({"fpu", "sse", "avx512_bf16"}) and cpu_flags(tmp_path / "none") == frozenset()
    assert auto_dtype("cpu") == (torch.bfloat16 if cpu_has_native_bf16() else torch.float32)
    assert auto_dtype("mps") == torch.float32
    assert parse_dtype(None, "mps") == torch.float32 and parse_dtype("bfloat16", "cpu") == torch.bfloat16
    with pytest.raises(LMError, match="unknown dtype"):
        parse_dtype("float7", "cpu")


def test_batch_size_from_memory(tiny_model: HFModel) -> None:
    assert kv_batch_size(10_000, 100) == 80 and kv_batch_size(50, 100) == 1 and kv_batch_size(10**12, 1) == 256
    per_row = row_bytes(tiny_model.model.config, 100, torch.float32)
    kv = 2 * 2 * 2 * 16 * 100 * 4  # k and v, 2 layers, 2 heads of 16, 100 positions, 4 bytes
    assert per_row == kv + 4 * 50257 + 100 * (32 + 128) * 4 * 2
    assert auto_batch_size(tiny_model.model) == 16  # not on a GPU
    assert HFModel(tiny_model.model, tiny_model.tokenizer, name="a", batch_size="auto").batch_size == 16
    with pytest.raises(LMError, match="batch_size"):
        HFModel(tiny_model.model, tiny_model.tokenizer, name="a", batch_size="big")


def test_copies_of_a_prompt_are_prefilled_once_and_sampled_apart(tiny_model: HFModel) -> None:
    """k copies of one prompt in one call (a feedback cell's k samples): one prefill row, k distinct samples, each
    the one a call of its own with seed ``seed + c`` gives."""
    prompt, k = SHARED[0], 4
    widths: list[tuple[int, int]] = []
    hook = tiny_model.model.register_forward_pre_hook(
        lambda _m, _a, kw: widths.append(tuple(kw["input_ids"].shape)), with_kwargs=True)
    try:
        copies = with_batch(tiny_model, 8).generate([prompt] * k + [SHARED[1]] * k, 8, temperature=1.0, seed=11)
    finally:
        hook.remove()
    assert widths[0][0] == 1 and widths[1][0] == 2  # the common prefix once, then each distinct prompt once
    assert all(b == 2 * k for b, t in widths[2:3])  # decoding: every copy
    assert len({g.text for g in copies[:k]}) == k
    assert copies == [tiny_model.generate([p], 8, temperature=1.0, seed=11 + i)[0]
                      for i, p in enumerate([prompt] * k + [SHARED[1]] * k)]

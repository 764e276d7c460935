"""oneDNN-packed linear layers (llm.backends.hf.packed): same numbers as nn.Linear, taken only where they should be."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from llm.backends.hf import packed
from llm.backends.hf import HFModel
from llm.backends.hf.packed import PackedLinear, linear_bytes, memory_available, pack_linears, packed_mode
from llm.backends.models import gpt2_tokenizer_path

pytestmark = pytest.mark.skipif(not packed.available(), reason="this torch build has no oneDNN linear ops")


def tiny_llama_family(dtype: torch.dtype, seed: int = 0) -> torch.nn.Module:
    """A random-init 2-layer Qwen2 (the Llama-family layout of the real Receivers: q/k/v/o, gate/up/down)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=50257, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, bos_token_id=50256, eos_token_id=50256)
    return Qwen2ForCausalLM(config).to(dtype).eval()


@pytest.fixture(scope="module")
def tokenizer(test_cache: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gpt2_tokenizer_path(test_cache)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_packed_layer_computes_the_same_linear_map(dtype: torch.dtype) -> None:
    torch.manual_seed(1)
    layer = torch.nn.Linear(48, 80).to(dtype)
    x = torch.randn(3, 5, 48, dtype=dtype)
    want = layer(x)
    assert pack_linears(layer) == 1 and type(layer) is PackedLinear
    with torch.inference_mode(), packed_mode():
        got = layer(x)
    assert got.shape == want.shape and got.dtype == dtype
    tol = 0.0 if dtype == torch.bfloat16 else 1e-5  # bfloat16: the same oneDNN kernel, bit for bit here
    torch.testing.assert_close(got, want.detach(), atol=tol, rtol=tol)


def test_packed_copy_is_used_in_packed_mode_only_and_rebuilt_when_the_weight_changes() -> None:
    torch.manual_seed(2)
    layer = torch.nn.Linear(16, 8)
    pack_linears(layer)
    x = torch.randn(4, 16)
    with torch.inference_mode():
        layer(x)
    assert layer not in packed._PACKED  # outside packed_mode: the ordinary forward, nothing packed
    with torch.inference_mode(), packed_mode():
        layer(x)
    first = packed._PACKED[layer][1]
    with torch.no_grad():
        layer.weight.mul_(2.0)  # an optimiser step changes the weight in place
    with torch.inference_mode(), packed_mode():
        got = layer(x)
    assert packed._PACKED[layer][1] is not first
    torch.testing.assert_close(got, torch.nn.functional.linear(x, layer.weight, layer.bias).detach())


def test_autograd_inside_packed_mode_takes_the_ordinary_path() -> None:
    torch.manual_seed(3)
    layer = torch.nn.Linear(16, 8)
    pack_linears(layer)
    with packed_mode():
        layer(torch.randn(2, 16)).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_state_dict_deepcopy_and_subclasses_are_untouched() -> None:
    class LoRALike(torch.nn.Linear):
        pass

    torch.manual_seed(4)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), LoRALike(8, 4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert pack_linears(model) == 1
    assert type(model[1]) is LoRALike
    with torch.inference_mode(), packed_mode():
        model(torch.randn(2, 8))
    assert before.keys() == model.state_dict().keys()
    clone = copy.deepcopy(model)
    assert type(clone[0]) is PackedLinear and clone[0] not in packed._PACKED
    torch.testing.assert_close(clone(torch.ones(1, 8)), model(torch.ones(1, 8)))


def test_nothing_is_packed_when_the_copies_would_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Linear(64, 64))
    assert linear_bytes(model) == 2 * 64 * 64 * 4
    monkeypatch.setattr(packed, "memory_available", lambda: linear_bytes(model))  # copies need over half of it
    assert pack_linears(model) == 0 and type(model[0]) is torch.nn.Linear
    monkeypatch.setattr(packed, "memory_available", lambda: None)  # unknown: no limit
    assert pack_linears(model) == 2


def test_memory_available_reads_meminfo(tmp_path: Path) -> None:
    info = tmp_path / "meminfo"
    info.write_text("MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   2048 kB\n")
    assert memory_available(str(info)) == 2048 * 1024
    assert memory_available(str(tmp_path / "missing")) is None


PREAMBLE = "Answer the question below in the format of the examples, and stop when the answer is complete.\n\n"


@pytest.mark.parametrize("preamble", ["", PREAMBLE], ids=["padded", "shared-prefix"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_hfmodel_greedy_text_matches_plain_transformers_generate(tokenizer, dtype: torch.dtype,  # type: ignore[no-untyped-def]
                                                                 preamble: str) -> None:
    """The package's packed decode loop (left-padded, or after a shared prefix) against transformers' unpacked
    ``generate``, prompt by prompt."""
    model = tiny_llama_family(dtype)
    lm = HFModel(model, tokenizer, name="tiny-qwen2", batch_size=4)
    assert lm.packed == 2 * 7 + 1  # q k v o gate up down per layer, and the head
    prompts = [preamble + p for p in
               ("Hi", "The capital of France is", "Once upon a time, in a land far away, there lived", "a b c")]
    gens = lm.generate(prompts, max_new_tokens=10)
    assert any(isinstance(m, PackedLinear) and m in packed._PACKED for m in model.modules())  # packed path ran
    for prompt, g in zip(prompts, gens):
        ids = torch.tensor([tokenizer(prompt).input_ids])
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=10, do_sample=False,
                                 pad_token_id=lm.pad_id)[0, ids.shape[1]:].tolist()
        body = [t for t in out if t not in lm.eos_ids][: g.new_tokens]
        assert g.text == tokenizer.decode(body, skip_special_tokens=True)

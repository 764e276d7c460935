"""The vLLM backend (``llm.backends.vllm``): its pure parts always; the engine itself on a tiny local GPT-2.

The engine tests need ``vllm`` (``pip install -e ".[vllm]"``; they skip without it, which is how CI runs: the extra
pins another transformers and brings CUDA-built torchvision/torchaudio that must be removed, ``docs/performance.md``)
and are ``slow``: starting the engine on the tiny model took 118 s on the project's 2 shared cores the first time
(model compilation) and 71 s with vLLM's compile cache warm, a fifth to a third of the rest of the suite's 6.5
minutes. Run them with ``pytest --runslow tests/llm/backends/test_vllm.py`` (14 tests: 88 s with the cache warm on a
quiet machine; 222 s while the rest of the suite ran on the same 2 cores).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from llm.backends import load_model
from llm.backends import vllm as backend
from llm.lm import LanguageModel, LMError, row_seed

HAS_VLLM = importlib.util.find_spec("vllm") is not None
engine = pytest.mark.skipif(not HAS_VLLM, reason="vllm is not installed (pip install -e '.[vllm]')")


# ---- what runs everywhere (CI included) ------------------------------------------------------------------------

def test_copy_runs_groups_consecutive_equal_rows() -> None:
    assert backend.copy_runs([[1], [1], [2], [1], [1], [1]]) == [(0, 2), (2, 1), (3, 3)]
    assert backend.copy_runs([]) == []


class _Logprob:
    def __init__(self, value: float) -> None:
        self.logprob = value


class _Output:
    def __init__(self, prompt_logprobs: list, num_cached_tokens: int) -> None:
        self.prompt_logprobs, self.num_cached_tokens = prompt_logprobs, num_cached_tokens


def _token_logprob(t: int, token: int) -> float:
    return -0.1 * (1 + (7 * t + token) % 5)


def _layout(ids: list[int], c: int, padded: bool) -> list:
    """``prompt_logprobs`` of a request with ``c`` cached tokens: the V1 runner's (one entry per token, the first
    ``c`` unset: here a wrong token) or the V2 runner's (computed entries only)."""
    rows = [{ids[t] if t > c else -1: _Logprob(_token_logprob(t, ids[t]) if t > c else 0.0)}
            for t in range(1, len(ids)) if padded or t > c]
    return [None, *rows]


def test_continuation_logprob_reads_both_runner_layouts_and_refuses_others() -> None:
    ids = [5, 6, 7, 8, 9, 10]
    want = _token_logprob(4, 9) + _token_logprob(5, 10)
    for padded in (True, False):
        assert backend.continuation_logprob(_layout(ids, 0, padded), ids, 4, 0) == pytest.approx(want)
        assert backend.continuation_logprob(_layout(ids, 3, padded), ids, 4, 3) == pytest.approx(want)
        assert backend.continuation_logprob(_layout(ids, 4, padded), ids, 4, 4) is None  # inside the cached span
    with pytest.raises(LMError, match="returned 3 prompt log-probabilities for 6 prompt tokens with 1 cached"):
        backend.continuation_logprob(_layout(ids, 0, True)[:3], ids, 4, 1)
    with pytest.raises(LMError, match="at token 4 do not hold the prompt's token 1"):
        backend.continuation_logprob(_layout(ids, 0, True), [5, 6, 7, 8, 1, 10], 4, 0)


@pytest.mark.parametrize("padded", [True, False])
def test_logprob_rescores_rows_whose_continuation_the_prefix_cache_hid(padded: bool) -> None:
    """Rows whose continuation starts inside the cached span are scored again with the cache skipped, and every
    sum is the one computed without a cache; without :attr:`score_from_cache` the cache is never read."""
    prefix = list(range(100, 124))  # 24 shared prompt tokens: 3 blocks of 8
    rows = {"a": (prefix + [1, 2], 24), "b": (prefix + [1, 3], 24), "c": (prefix + [1, 2], 24), "d": ([9, 8], 1)}
    want = [sum(_token_logprob(t, ids[t]) for t in range(k, len(ids))) for ids, k in rows.values()]
    for from_cache, passes in ((True, [(True, 4), (False, 2)]), (False, [(False, 4)])):
        model = object.__new__(backend.VLLMModel)
        model.name, model.max_positions, model.score_from_cache = "fake", 100, from_cache
        model.score_tokens = lambda prompt, continuation: rows[continuation]
        calls: list[tuple[bool, int]] = []

        def prompt_logprobs(token_ids: list[list[int]], read_cache: bool) -> list[_Output]:
            calls.append((read_cache, len(token_ids)))
            blocks: set[tuple[int, ...]] = set()
            out = []
            for ids in token_ids:
                full = [tuple(ids[:b]) for b in range(8, len(ids), 8)]  # full blocks, the last token computed
                c = max([len(b) for b in full if b in blocks], default=0) if read_cache else 0
                blocks.update(full)
                out.append(_Output(_layout(ids, c, padded), c))
            return out

        model._prompt_logprobs = prompt_logprobs
        np.testing.assert_allclose(model.logprob(["p"] * 4, ["a", "b", "c", "d"]), want)
        assert calls == passes  # "b" and "c" hit 24 cached tokens (k = 24 <= 24): those two are scored again


def test_the_cpu_engine_gets_small_kv_blocks_and_a_long_step_timeout_unless_told_otherwise(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Whole KV blocks are what the prefix cache shares: 32 tokens on the CPU (vLLM's 128 shared no block of a
    ~130-token belief prompt); the step timeout outlasts a paused run; an explicit setting wins."""
    import sys
    import types

    got: list[dict] = []
    fake = types.ModuleType("vllm")
    fake.LLM = lambda **kwargs: got.append(kwargs) or "engine"
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.setattr(backend, "_cuda_visible", lambda: False)
    monkeypatch.setattr(backend, "bind_cpu_threads", lambda: None)
    monkeypatch.setenv("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", "0")  # so that the test leaves the variable as it was
    monkeypatch.delenv("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS")
    options = dict(dtype=None, batch_size=None, max_model_len=256, seed=0, prefix_caching=True, trust_remote_code=False)
    assert backend._start_engine(tmp_path, **options) == "engine"
    assert got[-1]["block_size"] == backend.CPU_BLOCK_SIZE == 32 and got[-1]["enable_chunked_prefill"] is False
    assert os.environ["VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS"] == str(backend.CPU_STEP_TIMEOUT_S)  # a pause survives
    monkeypatch.setenv("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", "60")
    backend._start_engine(tmp_path, **options, block_size=128)
    assert got[-1]["block_size"] == 128 and os.environ["VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS"] == "60"


@pytest.mark.parametrize("name", ["gsm8k", "humaneval", "mbpp"])
def test_every_real_test_prompt_and_its_answer_budget_fit_the_default_context(name: str) -> None:
    """The MBPP run died on mbpp/493 at a 4096-position context (its tests hold long float lists). A byte-level BPE
    token is at least one UTF-8 byte, so bytes bound tokens; 64 positions cover special tokens and a chat frame."""
    from llm.tasks.base import DataNotFoundError
    from llm.tasks.registry import TASKS

    task = TASKS[name]
    try:
        problems, shots = task.load(), task.few_shot()
    except DataNotFoundError as exc:
        pytest.skip(f"benchmark files absent ({exc})")
    hint = "x" * 400  # longer than any hint a catalogue item sends (the longest template signal: 162 characters)
    longest = max(len(str(task.prompt(p, shots, chat=chat, hint=h)).encode())
                  for p in problems for chat in (False, True) for h in (None, hint))
    assert longest + 64 + task.max_new_tokens <= backend.DEFAULT_MAX_MODEL_LEN


def test_the_engine_is_chosen_once_for_local_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    from llm.bpa import context
    from llm.bpa.config import BPAConfig

    monkeypatch.delenv("PERSUASION_ENGINE", raising=False)
    monkeypatch.setattr(context, "vllm_installed", lambda: True)
    assert context.receiver_engine(BPAConfig()) == "vllm"
    assert context.receiver_engine(BPAConfig(device="mps")) == "hf"
    assert context.receiver_engine(BPAConfig(conditions=("baseline", "linear-alignment"))) == "hf"  # white-box
    assert context.receiver_engine(BPAConfig(state_features="hidden")) == "vllm"  # hidden states: transformers beside
    assert context.receiver_engine(BPAConfig(engine="hf")) == "hf"
    monkeypatch.setenv("PERSUASION_ENGINE", "hf")
    assert context.receiver_engine(BPAConfig()) == "hf"  # the variable decides 'auto' ...
    assert context.receiver_engine(BPAConfig(engine="vllm")) == "vllm"  # ... not an explicit choice
    monkeypatch.delenv("PERSUASION_ENGINE")
    monkeypatch.setattr(context, "vllm_installed", lambda: False)
    assert context.receiver_engine(BPAConfig()) == "hf"
    local = BPAConfig(receivers=("qwen2.5-coder-0.5b",), engine="vllm")
    assert context.on_vllm("qwen2.5-coder-0.5b", local)
    assert not context.on_vllm("qwen2.5-coder-0.5b", replace(local, engine="hf"))
    assert not context.on_vllm("qwen2.5-coder-0.5b", replace(local, advisor="qwen2.5-coder-0.5b"))  # the Advisor
    assert not context.on_vllm("smollm2-135m", local)  # not a Receiver of the run
    for spec in ("simulated", "simulated:x.json", "http://h:8000/v1#m", "vllm:m"):  # not local: as named
        assert not context.on_vllm(spec, replace(local, receivers=(spec,)))
        assert context.local_receiver_engine(replace(local, receivers=(spec,))) is None  # its own engine
    assert context.local_receiver_engine(local) == "vllm"


def test_the_registry_names_the_vllm_backend() -> None:
    from llm.backends.registry import backend_of

    assert backend_of("vllm:qwen2.5-coder-0.5b") == "llm.backends.vllm:load"


def test_bind_cpu_threads_sets_only_what_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    monkeypatch.setenv("VLLM_CPU_NUM_OF_RESERVED_CPU", "1")
    assert backend.bind_cpu_threads([0, 1, 3]) == {"VLLM_CPU_OMP_THREADS_BIND": "0,1,3"}
    import os

    assert os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "1"


def test_cpu_kv_cache_is_a_quarter_of_free_memory_within_bounds() -> None:
    assert backend.cpu_kv_cache_bytes(8 * 2**30) == 2 * 2**30
    assert backend.cpu_kv_cache_bytes(64 * 2**30) == backend.CPU_KV_CACHE_BYTES
    assert backend.cpu_kv_cache_bytes(0) == 256 * 2**20


def test_a_folder_that_is_not_a_model_fails_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    for spec in (f"vllm:{tmp_path}", f"vllm:{tmp_path / 'missing'}"):
        with pytest.raises(LMError) as info:
            load_model(spec)
        assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)


def test_without_vllm_the_backend_says_how_to_install(tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "available", lambda: False)
    with pytest.raises(LMError, match=r"not installed: pip install -e '\.\[vllm\]'"):
        load_model(f"vllm:{tiny_dir}")


def test_config_engine_is_checked() -> None:
    from llm.bpa.config import BPAConfig

    assert BPAConfig().engine == "auto"
    with pytest.raises(ValueError, match="engine must be auto, hf or vllm"):
        BPAConfig(engine="torch")


# ---- the engine on a tiny model ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny64(tmp_path_factory: pytest.TempPathFactory, test_cache: Path) -> Path:
    """A tiny GPT-2 with a head size vLLM's CPU attention supports (64; the suite's usual tiny model has 16)."""
    from llm.backends.models import tiny_gpt2

    return tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2-h64"), seed=0, n_embd=64, n_head=1, cache=test_cache)


@pytest.fixture(scope="module")
def engine_model(tiny64: Path):  # noqa: ANN201 - a VLLMModel, imported lazily
    lm = backend.VLLMModel(tiny64, name="tiny-vllm", dtype="float32", batch_size=64)
    yield lm
    lm.close()


@pytest.fixture(scope="module")
def hf_twin(tiny64: Path):  # noqa: ANN201
    from llm.backends.hf import HFModel

    return HFModel.from_pretrained(str(tiny64), device="cpu", dtype="float32", batch_size=8, name="tiny-hf")


PROMPTS = ["Hello world", "The cat sat on", "1 2 3 4", "Hello world"]


@engine
@pytest.mark.slow
def test_greedy_and_scores_match_transformers(engine_model, hf_twin) -> None:  # noqa: ANN001
    assert isinstance(engine_model, LanguageModel)
    assert engine_model.capabilities.token_logprobs and not engine_model.capabilities.white_box
    gens = engine_model.generate(PROMPTS, max_new_tokens=12)
    ref = hf_twin.generate(PROMPTS, max_new_tokens=12)
    assert [g.text for g in gens] == [g.text for g in ref]
    assert [g.prompt_tokens for g in gens] == [g.prompt_tokens for g in ref]
    assert all(g.finish_reason == "length" and g.new_tokens == 12 for g in gens)
    conts = [" world", " the mat", " 5 6", ""]
    np.testing.assert_allclose(engine_model.logprob(PROMPTS, conts), hf_twin.logprob(PROMPTS, conts), atol=1e-3)
    assert engine_model.logprob(PROMPTS, conts)[3] == 0.0


@engine
@pytest.mark.slow
def test_scores_with_a_shared_cached_prefix_match_transformers(engine_model, hf_twin) -> None:  # noqa: ANN001
    """Belief rows share a long prompt: read from the prefix cache, continuations that start inside a cached block
    (identical rows, a shared first token) are rescored, and every score is the transformers one."""
    assert engine_model.score_from_cache and backend.CPU_BLOCK_SIZE == 32
    words = "the quick brown fox jumps over the lazy dog and".split()
    prompt = " ".join(words[i % len(words)] for i in range(64))
    assert len(engine_model.encode(prompt, True)) == 64  # two whole blocks: a repeated row hits both (c = k = 64)
    conts = [" yes.", " no.", " yes.", " yes, surely.", " maybe so."]
    passes: list[int] = []
    score = engine_model._prompt_logprobs

    def spy(token_ids: list[list[int]], read_cache: bool) -> list:
        passes.append(len(token_ids))
        return score(token_ids, read_cache)

    engine_model._prompt_logprobs = spy
    try:
        got = engine_model.logprob([prompt] * len(conts), conts)
    finally:
        del engine_model._prompt_logprobs
    np.testing.assert_allclose(got, hf_twin.logprob([prompt] * len(conts), conts), atol=1e-3)
    assert passes[0] == 5 and len(passes) == 2 and passes[1] >= 1  # some rows were rescored without the cache


@engine
@pytest.mark.slow
def test_stop_strings_and_chats(engine_model, hf_twin) -> None:  # noqa: ANN001
    greedy = engine_model.generate(["Hello world"], max_new_tokens=12)[0].text
    stop = greedy.strip().split()[1]  # a word the greedy text contains after its first
    got = engine_model.generate(["Hello world"], max_new_tokens=12, stop=[stop])[0]
    assert got.finish_reason == "stop" and got.text == greedy[:greedy.find(stop)]
    chat = [[{"role": "user", "content": "Add 2 and 3."}]]
    assert engine_model.generate(chat, max_new_tokens=6)[0].text == hf_twin.generate(chat, max_new_tokens=6)[0].text


@engine
@pytest.mark.slow
def test_sampled_copies_have_row_seeds(engine_model) -> None:  # noqa: ANN001
    """k copies of a prompt are one request with n = k; copy c is the row seed of its index, whatever the batch."""
    batch = ["The cat sat on"] * 4 + ["1 2 3 4"] * 3
    a = engine_model.generate(batch, max_new_tokens=10, temperature=1.0, seed=7)
    b = engine_model.generate(batch, max_new_tokens=10, temperature=1.0, seed=7)
    assert [g.text for g in a] == [g.text for g in b]  # reproducible
    assert len({g.text for g in a[:4]}) > 1  # the copies are different samples
    alone = engine_model.generate(["1 2 3 4"], max_new_tokens=10, temperature=1.0, seed=row_seed(7, 5))
    assert alone[0].text == a[5].text  # row 5's text does not depend on its batch
    other = engine_model.generate(batch, max_new_tokens=10, temperature=1.0, seed=8)
    assert [g.text for g in other] != [g.text for g in a]


@engine
@pytest.mark.slow
def test_seeded_batch_larger_than_one_step_keeps_the_engine_alive(engine_model) -> None:  # noqa: ANN001
    """More prompt tokens than one step takes: with chunked prefill vLLM's CPU build would split a seeded prompt
    and die (``CPU Generator does not use offset``); here no prefill is split."""
    words = " ".join(["alpha beta gamma delta"] * 45)  # ~180 tokens each, 64 rows: ~11,500 > 8,192 a step
    gens = engine_model.generate([f"{i} {words}" for i in range(64)], max_new_tokens=4, temperature=1.0, seed=1)
    assert len(gens) == 64 and all(g.new_tokens == 4 for g in gens)


@engine
@pytest.mark.slow
def test_a_prompt_longer_than_the_context_fails_in_one_line(engine_model) -> None:  # noqa: ANN001
    with pytest.raises(LMError, match="prompt 1 needs .* over the model's context of 256") as info:
        engine_model.generate(["short", "word " * 300], max_new_tokens=4)
    assert "\n" not in str(info.value)
    with pytest.raises(LMError, match="over the model's context of 256"):
        engine_model.logprob(["word " * 300], [" x"])
    assert engine_model.generate(["Hello world"], max_new_tokens=2)[0].new_tokens == 2  # the engine lives on


def test_the_registry_entry_point_strips_its_prefix(tmp_path: Path) -> None:
    from llm.backends.registry import LoadOptions

    with pytest.raises(LMError, match=f"model folder '{tmp_path / 'nothing'}' does not exist"):
        backend.load(f"vllm:{tmp_path / 'nothing'}", LoadOptions(device="cpu"))

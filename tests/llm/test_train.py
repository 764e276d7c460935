"""SFT and DPO on a tiny GPT-2: the loss moves, the prompt is masked, a killed run resumes to the same weights."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

from llm.lm import LMError
import math

from llm.train import TrainConfig, _encode, dpo_loss, perplexity, train_dpo, train_sft

PAIRS = [(f"Question {i}: what is {i} plus {i}? Hint:", f" double it to get {2 * i}.") for i in range(8)]


def _weights(folder: str | Path) -> dict[str, torch.Tensor]:
    return load_file(str(Path(folder) / "model.safetensors"))


def test_prompt_tokens_are_masked(tiny_dir):
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    ids, labels = _encode(tok, "Hello there", " world", 64)
    n_prompt = len(tok("Hello there", add_special_tokens=False).input_ids)
    assert labels[:n_prompt] == [-100] * n_prompt
    assert labels[n_prompt:] == ids[n_prompt:]
    assert ids[-1] == tok.eos_token_id


def test_sft_lowers_target_perplexity(tiny_dir, tmp_path):
    before = perplexity(tiny_dir, PAIRS)
    cfg = TrainConfig(learning_rate=3e-3, epochs=5, batch_size=8, seed=0, save_every=1000)
    result = train_sft(tiny_dir, PAIRS, tmp_path / "run", cfg)
    after = perplexity(result.output_dir, PAIRS)
    assert result.steps == 5 and len(result.losses) == 5
    assert after < 0.5 * before


def test_sft_resume_reaches_the_same_weights(tiny_dir, tmp_path):
    cfg = TrainConfig(learning_rate=1e-3, epochs=1, batch_size=2, seed=3, save_every=2)
    full = train_sft(tiny_dir, PAIRS, tmp_path / "full", cfg)
    # Interrupted run: stop after 2 steps (checkpoint at step 2), then resume with the full config.
    partial = train_sft(tiny_dir, PAIRS, tmp_path / "resumed", TrainConfig(**{**cfg.__dict__, "max_steps": 2}))
    assert partial.steps == 2
    resumed = train_sft(tiny_dir, PAIRS, tmp_path / "resumed", cfg)
    assert resumed.resumed_from == 2 and resumed.steps == full.steps
    a, b = _weights(full.output_dir), _weights(resumed.output_dir)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_dpo_prefers_the_chosen_answer(tiny_dir, tmp_path):
    triples = [(p, t, " I do not know.") for p, t in PAIRS]
    cfg = TrainConfig(learning_rate=2e-3, epochs=3, batch_size=8, seed=0, beta=0.5, save_every=1000)
    result = train_dpo(tiny_dir, triples, tmp_path / "dpo", cfg)
    assert result.losses[-1] < result.losses[0]
    chosen = perplexity(result.output_dir, PAIRS) / perplexity(tiny_dir, PAIRS)
    rejected_pairs = [(p, r) for p, _, r in triples]
    rejected = perplexity(result.output_dir, rejected_pairs) / perplexity(tiny_dir, rejected_pairs)
    assert chosen < rejected


def test_dpo_loss_matches_a_hand_computation():
    # margin = beta * ((-1 - -2) - (-3 - -2.5)) = 0.5 * 1.5 = 0.75; loss = log(1 + exp(-0.75)) = 0.386871...
    loss = dpo_loss(torch.tensor([-1.0]), torch.tensor([-3.0]), torch.tensor([-2.0]), torch.tensor([-2.5]), 0.5)
    assert float(loss) == pytest.approx(math.log1p(math.exp(-0.75)), abs=1e-7)
    assert float(loss) == pytest.approx(0.3868710, abs=1e-6)
    same = dpo_loss(torch.tensor([-4.0]), torch.tensor([-7.0]), torch.tensor([-4.0]), torch.tensor([-7.0]), 0.1)
    assert float(same) == pytest.approx(math.log(2), abs=1e-7)  # policy = reference: log 2


def test_dpo_policy_and_reference_share_the_dropout_mode(tiny_dir, tmp_path):
    """At step 0 the policy is the reference, so the first loss is exactly log 2; with dropout on in the policy
    only (the old behaviour; the tiny GPT-2 has dropout 0.1) it was not."""
    triples = [(p, t, " I do not know.") for p, t in PAIRS]
    cfg = TrainConfig(learning_rate=1e-3, epochs=1, batch_size=8, seed=0, beta=0.5, save_every=1000, max_steps=1)
    result = train_dpo(tiny_dir, triples, tmp_path / "dpo0", cfg)
    assert result.losses[0] == pytest.approx(math.log(2), abs=1e-5)


def test_errors(tiny_dir, tmp_path):
    with pytest.raises(LMError, match="at least one"):
        train_sft(tiny_dir, [], tmp_path / "x")
    with pytest.raises(LMError, match="not found"):
        train_sft(tmp_path / "missing", PAIRS, tmp_path / "y")


def test_examples_longer_than_the_context_are_cut_to_it(tiny_dir, tmp_path):
    """The tiny GPT-2 has 256 positions; a 600-token example with ``max_length`` 512 must train, not index past
    the position table (SFT and DPO alike)."""
    long_prompt = "word " * 600 + "Hint:"
    pairs = [(long_prompt, " go."), ("Short question. Hint:", " fine.")]
    cfg = TrainConfig(learning_rate=1e-3, epochs=1, batch_size=2, seed=0, save_every=1000, max_length=512)
    sft = train_sft(tiny_dir, pairs, tmp_path / "sft", cfg)
    assert sft.steps == 1 and all(torch.isfinite(torch.tensor(sft.losses)))
    dpo = train_dpo(tiny_dir, [(long_prompt, " go.", " stop.")], tmp_path / "dpo", cfg)
    assert dpo.steps == 1 and all(torch.isfinite(torch.tensor(dpo.losses)))
    assert perplexity(sft.output_dir, pairs, max_length=512) > 1

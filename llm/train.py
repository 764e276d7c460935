"""Fine-tuning small causal language models: supervised fine-tuning (SFT) and DPO, resumable, on CPU or GPU.

Used to train the Advisor on signals that led the Receiver to correct answers (rejection-sampling SFT, optionally
followed by DPO on signal pairs) and to train Aligner's corrector on Q-A-C triples.

SFT minimises the next-token loss on the target only (prompt tokens are masked out):

.. math::  L_{SFT} = -\\frac{1}{|y|} \\sum_t \\log p_\\theta(y_t \\mid x, y_{<t}).

DPO (Rafailov et al. 2023) with a frozen reference model ``ref`` and temperature ``beta``:

.. math::  L_{DPO} = -\\log \\sigma\\Big(\\beta \\big[(\\log p_\\theta(y_w|x) - \\log p_{ref}(y_w|x))
           - (\\log p_\\theta(y_l|x) - \\log p_{ref}(y_l|x))\\big]\\Big).

A checkpoint (model, optimiser, step, config) is written atomically every ``save_every`` steps; calling the
trainer again with the same output folder resumes from it and, the data order being a function of the seed,
reaches the same weights as an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from llm.backends.model_check import validate_model_folder
from llm.lm import LMError
from llm.store import atomic_folder


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters shared by SFT and DPO (saved with every checkpoint)."""

    learning_rate: float = 5e-5
    epochs: int = 1
    batch_size: int = 4
    max_length: int = 512
    weight_decay: float = 0.0
    seed: int = 0
    save_every: int = 50
    beta: float = 0.1  # DPO temperature
    max_steps: int | None = None  # stop early (smoke runs)


@dataclass(frozen=True)
class TrainResult:
    """What a training run did: steps, per-step losses, where the final model is."""

    steps: int
    losses: tuple[float, ...]
    output_dir: str
    resumed_from: int


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _load(model_path: str | Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_path).expanduser()
    local = path.is_dir()
    if not local and (str(model_path).startswith((".", "/", "~")) or path.exists()):
        raise LMError(f"model folder not found: {path}")
    source = str(path) if local else str(model_path)  # else a hub id, for users with internet
    try:
        tok = AutoTokenizer.from_pretrained(source)
    except OSError as exc:
        raise LMError(f"cannot load tokenizer {source!r}: {str(exc).splitlines()[0]}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    return model, tok


def max_tokens(model, max_length: int) -> int:
    """``max_length`` capped at the model's context (``n_positions`` / ``max_position_embeddings``)."""
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    context = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None)
    return min(max_length, int(context)) if context else max_length


def _encode(tok, prompt: str, target: str, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids of ``prompt + target + eos`` and labels with the prompt masked (``-100``), left-truncated."""
    p_ids = tok(prompt, add_special_tokens=False).input_ids
    t_ids = tok(target, add_special_tokens=False).input_ids + [tok.eos_token_id]
    ids = (p_ids + t_ids)[-max_length:]
    labels = ([-100] * len(p_ids) + t_ids)[-max_length:]
    return ids, labels


def _batch(encoded: Sequence[tuple[list[int], list[int]]], pad_id: int, device: torch.device):
    width = max(len(ids) for ids, _ in encoded)
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    labels = torch.full((len(encoded), width), -100, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for i, (ids, lab) in enumerate(encoded):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(lab)] = torch.tensor(lab)
        mask[i, : len(ids)] = 1
    return input_ids.to(device), labels.to(device), mask.to(device)


def sequence_logprob(model, input_ids: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Summed log-probability of the unmasked label tokens of each row, shape ``(B,)``."""
    logits = model(input_ids=input_ids, attention_mask=mask).logits[:, :-1].float()
    target = labels[:, 1:]
    keep = target != -100
    logp = torch.log_softmax(logits, dim=-1).gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (logp * keep).sum(dim=-1)


def _order(n: int, config: TrainConfig) -> list[list[int]]:
    """Deterministic minibatches for every epoch (a function of the seed only)."""
    rng = np.random.default_rng(config.seed)
    batches = []
    for _ in range(config.epochs):
        perm = rng.permutation(n)
        batches += [perm[i : i + config.batch_size].tolist() for i in range(0, n, config.batch_size)]
    if config.max_steps is not None:
        batches = batches[: config.max_steps]
    return batches


def _save(model, tok, optimizer, step: int, losses: list[float], config: TrainConfig, out: Path, name: str) -> None:
    """Writes a resumable checkpoint to ``out/name`` atomically (built beside it, checked, swapped into place).

    Raises:
        llm.store.NoSpaceError: the disk filled up (one line naming the folder; the previous checkpoint stays).
    """
    import io

    state = io.BytesIO()  # torch.save straight to a full disk fails with an opaque "unexpected pos" error
    torch.save({"optimizer": optimizer.state_dict(), "step": step, "losses": losses}, state)
    with atomic_folder(out / name) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "trainer_state.pt").write_bytes(state.getbuffer())
        (tmp / "train_config.json").write_text(json.dumps(asdict(config), indent=2))
        validate_model_folder(tmp)


def _run(
    model_path: str | Path,
    n_examples: int,
    output_dir: str | Path,
    config: TrainConfig,
    loss_fn: Callable[..., torch.Tensor],
    desc: str,
    dropout: bool = True,
) -> TrainResult:
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint"
    start = 0
    losses: list[float] = []
    torch.manual_seed(config.seed)
    source = ckpt if (ckpt / "trainer_state.pt").exists() else Path(model_path)
    model, tok = _load(source)
    device = _device()
    model.to(device).train(dropout)  # DPO: off, as in its frozen reference (the same function of the weights)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    if source == ckpt:
        state = torch.load(ckpt / "trainer_state.pt", weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        start, losses = int(state["step"]), list(state["losses"])
    batches = _order(n_examples, config)
    for step in tqdm(range(start, len(batches)), desc=desc, initial=start, total=len(batches), leave=False):
        torch.manual_seed(config.seed * 1_000_003 + step)  # dropout noise is a function of (seed, step): resumable
        loss = loss_fn(model, tok, batches[step], device)
        if not torch.isfinite(loss):
            raise LMError(f"{desc}: loss became {loss.item()} at step {step}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.item()))
        if (step + 1) % config.save_every == 0 and step + 1 < len(batches):
            _save(model, tok, optimizer, step + 1, losses, config, out, "checkpoint")
    model.eval()
    _save(model, tok, optimizer, len(batches), losses, config, out, "checkpoint")
    final = out / "final"
    with atomic_folder(final) as tmp:  # the old final/ stays until the new one replaces it in one step
        shutil.copytree(ckpt, tmp, ignore=shutil.ignore_patterns("trainer_state.pt"), dirs_exist_ok=True)
    return TrainResult(len(batches), tuple(losses), str(final), start)


def train_sft(
    model_path: str | Path,
    pairs: Sequence[tuple[str, str]],
    output_dir: str | Path,
    config: TrainConfig = TrainConfig(),
) -> TrainResult:
    """Supervised fine-tuning on ``(prompt, target)`` pairs, loss on target tokens only; resumable.

    Args:
        model_path: a local model folder (``save_pretrained`` layout).
        pairs: rendered prompts and the targets to learn.
        output_dir: receives ``checkpoint/`` (resumable) and ``final/`` (the trained model).
    """
    if not pairs:
        raise LMError("train_sft needs at least one (prompt, target) pair")

    def loss_fn(model, tok, idx, device):
        cap = max_tokens(model, config.max_length)
        enc = [_encode(tok, *pairs[i], cap) for i in idx]
        input_ids, labels, mask = _batch(enc, tok.pad_token_id, device)
        n_tokens = (labels[:, 1:] != -100).sum().clamp(min=1)
        return -sequence_logprob(model, input_ids, labels, mask).sum() / n_tokens

    return _run(model_path, len(pairs), output_dir, config, loss_fn, "sft")


@torch.inference_mode()
def _reference_logprobs(model_path, triples, config: TrainConfig) -> np.ndarray:
    model, tok = _load(model_path)
    device = _device()
    model.to(device).eval()
    out = np.zeros((len(triples), 2))
    cap = max_tokens(model, config.max_length)
    for i, (prompt, chosen, rejected) in enumerate(triples):
        enc = [_encode(tok, prompt, chosen, cap), _encode(tok, prompt, rejected, cap)]
        out[i] = sequence_logprob(model, *_batch(enc, tok.pad_token_id, device)).cpu().numpy()
    return out


def train_dpo(
    model_path: str | Path,
    triples: Sequence[tuple[str, str, str]],
    output_dir: str | Path,
    config: TrainConfig = TrainConfig(),
) -> TrainResult:
    """Direct preference optimisation (:func:`dpo_loss`) on ``(prompt, chosen, rejected)`` triples against the frozen
    start model; the policy runs with dropout off, like the reference, so the two agree at step 0."""
    if not triples:
        raise LMError("train_dpo needs at least one (prompt, chosen, rejected) triple")
    ref = torch.tensor(_reference_logprobs(model_path, triples, config), dtype=torch.float32)

    def loss_fn(model, tok, idx, device):
        enc, cap = [], max_tokens(model, config.max_length)
        for i in idx:
            prompt, chosen, rejected = triples[i]
            enc += [_encode(tok, prompt, chosen, cap), _encode(tok, prompt, rejected, cap)]
        logp = sequence_logprob(model, *_batch(enc, tok.pad_token_id, device)).view(-1, 2)
        r = ref[idx].to(device)
        return dpo_loss(logp[:, 0], logp[:, 1], r[:, 0], r[:, 1], config.beta).mean()

    return _run(model_path, len(triples), output_dir, config, loss_fn, "dpo", dropout=False)


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> torch.Tensor:
    r"""Rafailov et al.'s DPO loss per pair (sequence log-probabilities in, one loss per pair out):

    .. math::

        -\log \sigma\Big(\beta \big[(\log \pi(y_w|x) - \log \pi_{ref}(y_w|x))
                                 - (\log \pi(y_l|x) - \log \pi_{ref}(y_l|x))\big]\Big).
    """
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -torch.nn.functional.logsigmoid(beta * margin)


def perplexity(model_path: str | Path, pairs: Sequence[tuple[str, str]], max_length: int = 512) -> float:
    """exp of the mean target-token loss of ``pairs`` under a saved model (to check training moved it)."""
    model, tok = _load(model_path)
    device = _device()
    model.to(device).eval()
    total, count = 0.0, 0
    max_length = max_tokens(model, max_length)
    with torch.inference_mode():
        for prompt, target in pairs:
            enc = [_encode(tok, prompt, target, max_length)]
            input_ids, labels, mask = _batch(enc, tok.pad_token_id, device)
            total -= float(sequence_logprob(model, input_ids, labels, mask).sum())
            count += int((labels[:, 1:] != -100).sum())
    return math.exp(total / max(count, 1))

"""Local ``transformers`` backend: batched, KV-cached generation and one-pass continuation scoring.

Conventions (the same in :mod:`llm.openai_http` and :mod:`llm.serve`):

* A ``str`` prompt is tokenized with the tokenizer's special tokens (BOS where the model has one); a chat is
  rendered by the tokenizer's chat template with the generation prompt (or, lacking one, by
  :func:`render_fallback`) and tokenized without adding special tokens again.
* Sampling: ``temperature == 0`` is greedy; otherwise prompt ``i`` samples from ``softmax(logits / T)`` (no
  top-k/top-p) with its own ``torch.Generator`` seeded ``seed + i``, so its text does not depend on batch size.
* Scoring boundary: ``log p(c | p) = sum_{t >= k} log p(x_t | x_<t)`` where ``x = tok(p + c)`` and ``k`` is the
  length of the longest common prefix of ``tok(p)`` and ``x``. A token straddling the prompt/continuation
  boundary (``"Hello wor" + "ld"`` -> ``" world"``) counts to the continuation. If ``k == 0`` (empty prompt, no
  BOS) the BOS (else EOS) token is prepended as context. An empty continuation scores ``0``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from llm.lm import Capabilities, Generation, LMError, Message, Prompt
from llm.load import check_continuations, check_prompts, check_sampling, row_seed


def render_fallback(messages: Sequence[Message]) -> str:
    """Renders a chat for a tokenizer without a chat template.

    ``"System: ...\\n\\nUser: ...\\n\\nAssistant:"``: each message as ``Role: content`` separated by blank lines,
    ending with the assistant's turn.
    """
    turns = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join([*turns, "Assistant:"])


def auto_device() -> str:
    """``"cuda"`` if a GPU is visible, else ``"mps"`` on Apple silicon, else ``"cpu"``."""
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def auto_dtype(device: str) -> torch.dtype:
    """bfloat16 on a GPU that supports it, else float32."""
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def advance(
    active: Sequence[int], nxt: torch.Tensor, new: list[list[int]], texts: list[str | None], reasons: list[str],
    eos_ids: frozenset[int], tokenizer: Any, stops: Sequence[str],
) -> list[int]:
    """Appends each active row's next token; marks rows that hit EOS or a stop string; returns the rows still going.

    A stop string cuts the row's text (stored in ``texts[b]``) just before the string.
    """
    still = []
    for b in active:
        token = int(nxt[b])
        new[b].append(token)
        if token in eos_ids:
            reasons[b] = "stop"
            continue
        if stops:
            text = tokenizer.decode(new[b], skip_special_tokens=True)
            cut = min((text.find(s) for s in stops if s in text), default=-1)
            if cut >= 0:
                texts[b], reasons[b] = text[:cut], "stop"
                continue
        still.append(b)
    return still


class HFModel:
    """A causal LM from ``transformers`` behind the :class:`llm.lm.LanguageModel` protocol.

    Args:
        model: a causal LM (``AutoModelForCausalLM``); put in eval mode.
        tokenizer: its tokenizer.
        name: the name reported in results.
        batch_size: prompts per forward pass.
    """

    def __init__(self, model: Any, tokenizer: Any, *, name: str, batch_size: int = 8) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise LMError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.capabilities = Capabilities(chat_template=bool(getattr(tokenizer, "chat_template", None)),
                                         token_logprobs=True, white_box=True)
        self.batch_size = batch_size
        self.device = next(model.parameters()).device
        config = model.config
        gen = getattr(model, "generation_config", None)
        eos: set[int] = set()
        for source in (getattr(gen, "eos_token_id", None), tokenizer.eos_token_id):
            if isinstance(source, int):
                eos.add(source)
            elif isinstance(source, (list, tuple)):
                eos.update(int(t) for t in source)
        self.eos_ids = frozenset(eos)
        self.bos_id: int | None = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else (
            min(eos) if eos else None
        )
        pad = tokenizer.pad_token_id
        self.pad_id: int = pad if pad is not None else (min(eos) if eos else 0)  # masked out: any id works
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        self.max_positions: int | None = getattr(text_config, "n_positions", None) or getattr(
            text_config, "max_position_embeddings", None
        )

    @classmethod
    def from_pretrained(
        cls,
        path_or_id: str,
        *,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        batch_size: int = 8,
        trust_remote_code: bool = False,
        name: str | None = None,
    ) -> HFModel:
        """Loads a hub id or local folder with ``AutoModelForCausalLM`` / ``AutoTokenizer``.

        Args:
            path_or_id: local folder or hub id.
            device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``; default :func:`auto_device`.
            dtype: ``"float32"``, ``"bfloat16"``, ``"float16"`` or a ``torch.dtype``; default :func:`auto_dtype`.
            batch_size: prompts per forward pass.
            trust_remote_code: run code shipped with the model (off unless you trust it).
            name: reported name (default ``path_or_id``).

        Raises:
            LMError: the model or tokenizer cannot be loaded (one line).
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = device or auto_device()
        if isinstance(dtype, str):
            if not isinstance(getattr(torch, dtype, None), torch.dtype):
                raise LMError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16")
            dtype = getattr(torch, dtype)
        dtype = dtype or auto_dtype(device)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path_or_id, trust_remote_code=trust_remote_code)
            model = AutoModelForCausalLM.from_pretrained(
                path_or_id, dtype=dtype, trust_remote_code=trust_remote_code
            ).to(device)
        except Exception as exc:  # OSError, ValueError, HTTP errors...: all mean "cannot load"
            raise LMError(f"cannot load model {path_or_id!r}: {_first_line(exc)}") from None
        return cls(model, tokenizer, name=name or path_or_id, batch_size=batch_size)

    # ---- prompts -> token ids -------------------------------------------------------------------------------

    def render(self, prompt: str | list[Message]) -> tuple[str, bool]:
        """The prompt's text, and whether the tokenizer should add its special tokens to it."""
        if isinstance(prompt, str):
            return prompt, True
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
            return text, False
        return render_fallback(prompt), True

    def encode(self, text: str, special: bool) -> list[int]:
        """Token ids of ``text`` (with the tokenizer's special tokens iff ``special``)."""
        return list(self.tokenizer(text, add_special_tokens=special).input_ids)

    def _check_length(self, i: int, n: int) -> None:
        if self.max_positions is not None and n > self.max_positions:
            raise LMError(f"prompt {i} needs {n} positions, over the model's context of {self.max_positions}")

    def _left_pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Left-padded ``input_ids``, ``attention_mask`` and ``position_ids``, each ``(b, t)``."""
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for b, r in enumerate(rows):
            if r:
                ids[b, width - len(r):] = torch.tensor(r, dtype=torch.long)
                mask[b, width - len(r):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return ids.to(self.device), mask.to(self.device), positions.to(self.device)

    # ---- generation -----------------------------------------------------------------------------------------

    def generate(
        self,
        prompts: Sequence[Prompt],
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> list[Generation]:
        """Generates a continuation per prompt (greedy if ``temperature == 0``; see the module docstring).

        Generation stops at an EOS token (``finish_reason="stop"``, the EOS not in the text), at the first stop
        string (text cut before it, ``"stop"``) or after ``max_new_tokens`` (``"length"``). ``new_tokens``
        counts every token generated, EOS and stop-string tokens included.
        """
        chats = check_prompts(prompts)
        stops = check_sampling(max_new_tokens, temperature, seed, stop)
        encoded = [self.encode(*self.render(p)) for p in chats]
        for i, ids in enumerate(encoded):
            if not ids:
                if self.bos_id is None:
                    raise LMError(f"prompt {i} is empty and the tokenizer has no BOS/EOS token to start from")
                encoded[i] = [self.bos_id]
            self._check_length(i, len(encoded[i]) + max_new_tokens)
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))  # similar lengths share a batch
        out: list[Generation | None] = [None] * len(encoded)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            seeds = [row_seed(seed, i) for i in idx]
            for i, g in zip(idx, self._generate_batch([encoded[i] for i in idx], max_new_tokens, temperature,
                                                      seeds, stops)):
                out[i] = g
        return [g for g in out if g is not None]

    @torch.inference_mode()
    def _generate_batch(
        self, rows: list[list[int]], max_new_tokens: int, temperature: float, seeds: list[int],
        stops: tuple[str, ...],
    ) -> list[Generation]:
        """Decodes one left-padded batch token by token with the KV cache; ``rows`` are token ids ``(b, t_b)``."""
        n = len(rows)
        ids, mask, positions = self._left_pad(rows)
        generators = None
        if temperature > 0:
            generators = [torch.Generator(device=self.device).manual_seed(s) for s in seeds]
        new: list[list[int]] = [[] for _ in range(n)]
        texts: list[str | None] = [None] * n
        reasons = ["length"] * n
        active = list(range(n))
        past = None
        for _ in range(max_new_tokens):
            out = self.model(
                input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=past, use_cache=True,
                logits_to_keep=1,
            )
            past = out.past_key_values
            logits = out.logits[:, -1, :].float()  # (b, vocab)
            if generators is None:
                nxt = logits.argmax(-1)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = logits.argmax(-1)
                for b in active:
                    nxt[b] = torch.multinomial(probs[b], 1, generator=generators[b])[0]
            active = advance(active, nxt, new, texts, reasons, self.eos_ids, self.tokenizer, stops)
            if not active:
                break
            ids = nxt[:, None]
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            positions = positions[:, -1:] + 1
        result = []
        for b in range(n):
            body = [t for t in new[b] if t not in self.eos_ids]
            text = texts[b] if texts[b] is not None else self.tokenizer.decode(body, skip_special_tokens=True)
            result.append(Generation(text=text, prompt_tokens=len(rows[b]), new_tokens=len(new[b]),
                                     finish_reason=reasons[b]))
        return result

    # ---- scoring --------------------------------------------------------------------------------------------

    def score_tokens(self, prompt: str | list[Message], continuation: str) -> tuple[list[int], int]:
        """Token ids ``x`` of prompt + continuation and the index ``k`` of the first continuation token.

        ``k`` follows the boundary convention of the module docstring (``k >= 1`` unless the continuation is
        empty of tokens, in which case ``k == len(x)``).
        """
        text, special = self.render(prompt)
        head = self.encode(text, special)
        full = self.encode(text + continuation, special)
        k = common_prefix(head, full)
        if k == 0 and full:
            if self.bos_id is None:
                raise LMError("cannot score a continuation without context: the tokenizer has no BOS/EOS token")
            full, k = [self.bos_id, *full], 1
        return full, k

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        """``log p(continuation_i | prompt_i)`` summed over continuation tokens, float64 ``(N,)``.

        One forward pass per batch (left-padded); only the last ``max_i (t_i - k_i) + 1`` positions' logits are
        materialised.
        """
        chats = check_prompts(prompts)
        conts = check_continuations(chats, continuations)
        rows = [self.score_tokens(p, c) for p, c in zip(chats, conts)]
        for i, (full, _) in enumerate(rows):
            self._check_length(i, len(full))
        result = np.zeros(len(rows), dtype=np.float64)
        todo = sorted((i for i, (full, k) in enumerate(rows) if k < len(full)), key=lambda i: -len(rows[i][0]))
        for start in range(0, len(todo), self.batch_size):
            idx = todo[start:start + self.batch_size]
            result[idx] = self._score_batch([rows[i] for i in idx])
        return result

    @torch.inference_mode()
    def _score_batch(self, rows: list[tuple[list[int], int]]) -> np.ndarray:
        ids, mask, positions = self._left_pad([full for full, _ in rows])
        tails = [len(full) - k for full, k in rows]  # continuation tokens per row
        keep = max(tails) + 1
        logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False,
                            logits_to_keep=keep).logits  # (b, keep, vocab): positions t-keep .. t-1
        sums = np.zeros(len(rows), dtype=np.float64)
        for b, ((full, k), n) in enumerate(zip(rows, tails)):
            # logits at padded position t-1-n-1+j predict target full[k + j], j = 0..n-1
            pred = logits[b, keep - 1 - n: keep - 1].float().log_softmax(-1)  # (n, vocab)
            target = torch.tensor(full[k:], dtype=torch.long, device=pred.device)
            sums[b] = pred.gather(-1, target[:, None]).double().sum().item()
        return sums

    @torch.inference_mode()
    def token_logprobs(self, text: str) -> tuple[list[str], list[int], list[float | None]]:
        """Per-token scores of ``text`` (tokenized with special tokens), as an echo endpoint reports them.

        Returns:
            ``tokens`` (decoded strings), ``offsets`` (start character of each token in ``text``, from decoding
            prefixes, so a token owns its leading space and special tokens take the next offset; quadratic in
            the length, fine for a test or local server) and ``logprobs`` (``None`` for the first token, which
            has no context; else ``log p(x_t | x_<t)``).
        """
        ids = self.encode(text, True)
        self._check_length(0, len(ids))
        tokens = [self.tokenizer.decode([t]) for t in ids]
        offsets, pos = [], 0
        for j in range(len(ids)):
            offsets.append(pos)
            pos = len(self.tokenizer.decode(ids[: j + 1], skip_special_tokens=True))
        logprobs: list[float | None] = [None] * len(ids)
        if len(ids) > 1:
            x = torch.tensor([ids], dtype=torch.long, device=self.device)
            logits = self.model(input_ids=x, use_cache=False).logits[0, :-1].float().log_softmax(-1)
            picked = logits.gather(-1, x[0, 1:, None])[:, 0].double().tolist()
            logprobs[1:] = picked
        return tokens, offsets, logprobs

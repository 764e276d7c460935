"""Local ``transformers`` backend: batched, KV-cached generation and one-pass continuation scoring.

Conventions (the same in :mod:`llm.backends.openai_http` and :mod:`llm.backends.serve`):

* A ``str`` prompt is tokenized with the tokenizer's special tokens (BOS where the model has one); a chat is
  rendered by the tokenizer's chat template with the generation prompt (or, lacking one, by
  :func:`render_fallback`) and tokenized without adding special tokens again.
* Sampling: ``temperature == 0`` is greedy; otherwise prompt ``i`` samples from ``softmax(logits / T)`` (no
  top-k/top-p) with its own ``torch.Generator`` seeded ``seed + i``, so its text does not depend on batch size.
* Scoring boundary: ``log p(c | p) = sum_{t >= k} log p(x_t | x_<t)`` where ``x = tok(p + c)`` and ``k`` is the
  length of the longest common prefix of ``tok(p)`` and ``x``. A token straddling the prompt/continuation
  boundary (``"Hello wor" + "ld"`` -> ``" world"``) counts to the continuation. If ``k == 0`` (empty prompt, no
  BOS) the BOS (else EOS) token is prepended as context. An empty continuation scores ``0``.

Speed (``docs/performance.md``, "Generation"): bfloat16 by default where the hardware computes it natively
(:func:`llm.backends.local.auto_dtype`); on the CPU, linear layers multiply with oneDNN-packed weights (:mod:`llm.backends.hf.packed`); decoding
runs under ``torch.inference_mode`` with SDPA attention, computes a prefix shared by a batch once, drops finished
rows from the batch and its KV cache and refills them with waiting prompts (continuous batching), checks stop
strings on a window of the newest tokens (:class:`llm.backends.hf.decoding.StopScanner`), and computes logits for the last position only.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from llm.backends.hf import decoding
from llm.backends.hf.decoding import BatchState, RowView, StopScanner, advance, shared_prefix, target_logprobs
from llm.backends.hf.device import auto_batch_size
from llm.backends.local import auto_device, parse_dtype, render_fallback, scoring_tokens
from llm.backends.hf.packed import pack_linears, packed_mode
from llm.backends.models import locate
from llm.backends.registry import LoadOptions
from llm.lm import (Capabilities, Generation, LMError, Message, Prompt, check_continuations, check_prompts,
                    check_sampling, first_line, row_seed)


class HFModel:
    """A causal LM from ``transformers`` behind the :class:`llm.lm.LanguageModel` protocol.

    Args:
        model: a causal LM (``AutoModelForCausalLM``); put in eval mode.
        tokenizer: its tokenizer.
        name: the name reported in results.
        batch_size: prompts per forward pass, or ``"auto"``: on a GPU as many rows as fit in 80% of its free
            memory (:func:`llm.backends.hf.device.auto_batch_size` at the full context, at most 256), else 16.
    """

    def __init__(self, model: Any, tokenizer: Any, *, name: str, batch_size: int | str = 8) -> None:
        if batch_size == "auto":
            batch_size = auto_batch_size(model)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise LMError(f"batch_size must be an int >= 1 or 'auto', got {batch_size!r}")
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
        self.dtype = next(model.parameters()).dtype
        self.packed = pack_linears(model) if self.device.type == "cpu" else 0
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    @contextmanager
    def fast(self) -> Iterator[None]:
        """The context every pass of this class runs in: ``torch.inference_mode`` and, on the CPU, the oneDNN-packed
        linear layers of :mod:`llm.backends.hf.packed`."""
        with torch.inference_mode(), packed_mode():
            yield

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, past: Any = None,
                keep: int = 1, use_cache: bool = True) -> tuple[torch.Tensor, Any]:
        """One pass: logits of the last ``keep`` positions ``(b, keep, vocab)`` and the KV cache (or ``None``)."""
        extra = {self._cache_kw: past} if use_cache else {}
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=use_cache,
                         logits_to_keep=keep, **extra)
        if not use_cache:
            return out.logits, None
        return out.logits, getattr(out, "cache", None) if self._cache_kw == "cache" else out.past_key_values

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled last hidden state of each text (no special tokens added), ``(N, hidden)`` float32: a
        white-box feature of a problem (``llm.bpa.features``)."""
        out = []
        with self.fast():
            for start in range(0, len(texts), self.batch_size):
                rows = [self.encode(str(t), False) or [self.pad_id] for t in texts[start:start + self.batch_size]]
                for i, r in enumerate(rows):
                    self._check_length(start + i, len(r))
                ids, mask, positions = self._left_pad(rows)
                hidden = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False,
                                    output_hidden_states=True).hidden_states[-1].float()
                weight = mask.unsqueeze(-1).to(hidden.dtype)
                out.append(((hidden * weight).sum(1) / weight.sum(1)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)

    @classmethod
    def from_pretrained(
        cls,
        path_or_id: str,
        *,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        batch_size: int | str = 8,
        trust_remote_code: bool = False,
        name: str | None = None,
    ) -> HFModel:
        """Loads a hub id or local folder with ``AutoModelForCausalLM`` / ``AutoTokenizer``.

        Args:
            path_or_id: local folder or hub id.
            device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``; default :func:`auto_device`.
            dtype: ``"float32"``, ``"bfloat16"``, ``"float16"`` or a ``torch.dtype``; default (``None`` or
                ``"auto"``) :func:`auto_dtype`: bfloat16 on GPUs that support it and on CPUs with native bfloat16.
            batch_size: prompts per forward pass, or ``"auto"`` (see the class).
            trust_remote_code: run code shipped with the model (off unless you trust it).
            name: reported name (default ``path_or_id``).

        Raises:
            LMError: the model or tokenizer cannot be loaded (one line).
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = device or auto_device()
        dtype = parse_dtype(dtype, device)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path_or_id, trust_remote_code=trust_remote_code)
            model = AutoModelForCausalLM.from_pretrained(
                path_or_id, dtype=dtype, trust_remote_code=trust_remote_code
            ).to(device)
        except Exception as exc:  # OSError, ValueError, HTTP errors...: all mean "cannot load"
            raise LMError(f"cannot load model {path_or_id!r}: {first_line(exc)}") from None
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
        gens = self._decode([encoded[i] for i in order], max_new_tokens, temperature,
                            [row_seed(seed, i) for i in order], stops)
        out: list[Generation | None] = [None] * len(encoded)
        for i, g in zip(order, gens):
            out[i] = g
        return [g for g in out if g is not None]

    def _prefill(self, rows: list[list[int]]) -> tuple[torch.Tensor, Any, BatchState]:
        """One pass over ``rows`` (token ids): the logits of each row's last position ``(b, vocab)``, the KV cache,
        and the batch state after it (the next tokens still to be chosen).

        When the rows share a prefix of at least :data:`llm.backends.hf.decoding.MIN_SHARED_PREFIX` tokens (few-shot examples, a system
        prompt, one problem under several hints), the prefix is computed once and its KV cache copied to every row;
        each row's own tokens follow it, left-padded: ``[prefix][pad][own tokens]``, pads masked and positions
        counted without them. Otherwise the rows are left-padded. Copies of one prompt (the ``k`` samples of a
        feedback cell) are computed once and their KV cache repeated, so only their sampled tokens differ.
        """
        n = len(rows)
        distinct = list(dict.fromkeys(map(tuple, rows)))
        if len(distinct) < n:
            logits, past, state = self._prefill([list(r) for r in distinct])
            index = torch.tensor([distinct.index(tuple(r)) for r in rows], device=self.device)
            past.batch_select_indices(index)  # repeats each distinct row's cache for its copies
            return logits[index], past, state.select(index)
        shared = shared_prefix(rows)
        past = None
        if shared < decoding.MIN_SHARED_PREFIX or n == 1:
            ids, mask, positions = self._left_pad(rows)
        else:
            head = torch.tensor([rows[0][:shared]], device=self.device)
            _, past = self.forward(head, torch.ones_like(head), torch.arange(shared, device=self.device)[None])
            past.batch_repeat_interleave(n)
            ids, mask, positions = self._left_pad([r[shared:] for r in rows])
            mask = torch.cat([torch.ones((n, shared), dtype=mask.dtype, device=mask.device), mask], dim=1)
            positions = positions + shared
        logits, past = self.forward(ids, mask, positions, past)
        return logits[:, -1, :], past, BatchState(mask, positions[:, -1:])

    def _decode(
        self, rows: list[list[int]], max_new_tokens: int, temperature: float, seeds: list[int],
        stops: tuple[str, ...],
    ) -> list[Generation]:
        """Decodes ``rows`` (token ids, in admission order) token by token with the KV cache, at most
        ``batch_size`` rows at a time (continuous batching).

        A row that finishes leaves the batch: its KV-cache rows, mask and positions are dropped
        (``batch_select_indices``), so later steps compute only the rows still going. Once a quarter of the batch
        is free, waiting rows are prefilled (:meth:`_prefill`) and joined to it: the shorter of the two KV caches
        is left-padded (masked) to the other's length. A model whose cache cannot be joined that way (sliding
        windows, other cache classes) fills the batch again only when it is empty.
        """
        n = len(rows)
        generators = ([torch.Generator(device=self.device).manual_seed(s) for s in seeds] if temperature > 0
                      else None)
        new: list[list[int]] = [[] for _ in range(n)]
        texts: list[str | None] = [None] * n
        reasons = ["length"] * n
        scanner = StopScanner(self.tokenizer, stops)
        waiting = list(range(n))
        live: list[int] = []  # the original row of each batch row
        past: Any = None
        state: BatchState | None = None
        nxt = torch.empty(0, dtype=torch.long)
        refill = max(1, self.batch_size // 4)

        def choose(logits: torch.Tensor, which: list[int]) -> tuple[torch.Tensor, list[int]]:
            """Each row's next token and the batch rows still going after it."""
            pick = logits.float().argmax(-1)  # bfloat16 -> float32 is exact; argmax is 3x faster in float32
            if generators is not None:
                probs = torch.softmax(logits.float() / temperature, dim=-1)
                for j, b in enumerate(which):
                    pick[j] = torch.multinomial(probs[j], 1, generator=generators[b])[0]
            going = advance(range(len(which)), pick, [new[b] for b in which], RowView(texts, which),
                            RowView(reasons, which), self.eos_ids, self.tokenizer, scanner)
            return pick, [j for j in going if len(new[which[j]]) < max_new_tokens]

        with self.fast():
            while waiting or live:
                free = self.batch_size - len(live)
                if waiting and (not live or (free >= refill and decoding.joinable(past))):
                    group, waiting = waiting[:free], waiting[free:]
                    logits, g_past, g_state = self._prefill([rows[b] for b in group])
                    g_next, going = choose(logits, group)
                    if going:
                        keep = torch.tensor(going, device=self.device)
                        if len(going) < len(group):
                            g_past.batch_select_indices(keep)
                        g_state, g_next = g_state.select(keep), g_next[keep]
                        group = [group[j] for j in going]
                        if live:
                            state = decoding.join(past, state, g_past, g_state)  # type: ignore[arg-type]
                            nxt, live = torch.cat([nxt, g_next]), live + group
                        else:
                            past, state, nxt, live = g_past, g_state, g_next, group
                    continue  # admit more, or decode
                assert state is not None
                state = state.step()
                logits, past = self.forward(nxt[:, None], state.mask, state.last, past)
                nxt, going = choose(logits[:, -1, :], live)
                if len(going) < len(live):
                    if not going:
                        live, past, state = [], None, None
                        continue
                    keep = torch.tensor(going, device=self.device)
                    past.batch_select_indices(keep)
                    state, nxt, live = state.select(keep), nxt[keep], [live[j] for j in going]
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
        return scoring_tokens(head, full, self.bos_id)

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

    def _score_batch(self, rows: list[tuple[list[int], int]]) -> np.ndarray:
        ids, mask, positions = self._left_pad([full for full, _ in rows])
        tails = [len(full) - k for full, k in rows]  # continuation tokens per row
        keep = max(tails) + 1
        with self.fast():
            logits, _ = self.forward(ids, mask, positions, keep=keep, use_cache=False)  # (b, keep, vocab): positions t-keep..t-1
            sums = np.zeros(len(rows), dtype=np.float64)
            for b, ((full, k), n) in enumerate(zip(rows, tails)):
                # logits at padded position t-1-n-1+j predict target full[k + j], j = 0..n-1
                sums[b] = float(target_logprobs(logits[b, keep - 1 - n: keep - 1], full[k:]).sum())
        return sums

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
            with self.fast():
                logits, _ = self.forward(x, torch.ones_like(x), torch.arange(len(ids), device=self.device)[None],
                                         keep=len(ids), use_cache=False)
                logprobs[1:] = target_logprobs(logits[0, :-1], ids[1:]).tolist()
        return tokens, offsets, logprobs


def load(spec: str, options: LoadOptions) -> HFModel:
    """The registry's loader for short names, local folders and hub ids (:func:`llm.backends.models.locate`).

    A short name is cached in the dtype the model will run in, so a bfloat16 run never holds a float32 copy.
    """
    device = options.device or auto_device()
    weights = str(parse_dtype(options.dtype, device)).removeprefix("torch.")
    path, name = locate(spec, dtype=weights)
    return HFModel.from_pretrained(path, device=device, dtype=weights, batch_size=options.batch_size,
                                   trust_remote_code=options.trust_remote_code, name=name)

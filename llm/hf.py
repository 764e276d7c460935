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

Speed (``docs/performance.md``, "Generation"): bfloat16 by default where the hardware computes it natively
(:func:`auto_dtype`); on the CPU, linear layers multiply with oneDNN-packed weights (:mod:`llm.packed`); decoding
runs under ``torch.inference_mode`` with SDPA attention, computes a prefix shared by a batch once, drops finished
rows from the batch and its KV cache and refills them with waiting prompts (continuous batching), checks stop
strings on a window of the newest tokens (:class:`StopScanner`), and computes logits for the last position only.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from llm.lm import Capabilities, Generation, LMError, Message, Prompt
from llm.load import check_continuations, check_prompts, check_sampling, row_seed
from llm.packed import pack_linears, packed_mode


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


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags listed in ``cpuinfo`` (empty where the file is missing, e.g. off Linux)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags") and ":" in line:
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_native_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether the CPU multiplies bfloat16 natively: AVX512_BF16 or AMX-BF16.

    Asks torch (``torch.cpu._is_avx512_bf16_supported``, ``_is_amx_tile_supported``) and falls back to the
    ``/proc/cpuinfo`` flags ``avx512_bf16`` / ``amx_bf16``. Without either, bfloat16 matmuls are emulated and
    slower than float32, so :func:`auto_dtype` keeps float32.
    """
    if flags is None:
        probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        if any(p is not None and p() for p in probes):
            return True
        flags = cpu_flags()
    return bool({"avx512_bf16", "amx_bf16"} & flags)


def auto_dtype(device: str) -> torch.dtype:
    """bfloat16 on a GPU that supports it and on a CPU with native bfloat16 (:func:`cpu_has_native_bf16`), else
    float32 (other CPUs, Apple ``mps``)."""
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if device == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32


def parse_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype:
    """``dtype`` as a ``torch.dtype`` (``None`` or ``"auto"``: :func:`auto_dtype` of ``device``).

    Raises:
        LMError: an unknown name.
    """
    if dtype is None or dtype == "auto":
        return auto_dtype(device)
    if isinstance(dtype, torch.dtype):
        return dtype
    if not isinstance(dtype, str) or not isinstance(getattr(torch, dtype, None), torch.dtype):
        raise LMError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16")
    return getattr(torch, dtype)


def kv_batch_size(free_bytes: int, per_row_bytes: int, cap: int = 256, reserve: float = 0.2) -> int:
    """Rows that fit in ``(1 - reserve) * free_bytes`` at ``per_row_bytes`` each, clipped to ``[1, cap]``."""
    if per_row_bytes <= 0:
        return cap
    return max(1, min(cap, int(free_bytes * (1.0 - reserve)) // per_row_bytes))


def row_bytes(config: Any, positions: int, dtype: torch.dtype) -> int:
    """Memory one decoding row needs: its KV cache over ``positions`` plus a float32 row of logits and the
    widest activations (``4 * hidden`` per position during prefill), from the model's config."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    layers = getattr(text, "num_hidden_layers", None) or getattr(text, "n_layer", 1)
    hidden = getattr(text, "hidden_size", None) or getattr(text, "n_embd", 1)
    heads = getattr(text, "num_attention_heads", None) or getattr(text, "n_head", 1)
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    head_dim = getattr(text, "head_dim", None) or hidden // heads
    inter = getattr(text, "intermediate_size", None) or 4 * hidden
    size = torch.empty((), dtype=dtype).element_size()
    kv = 2 * layers * kv_heads * head_dim * positions * size
    return kv + 4 * getattr(text, "vocab_size", 0) + positions * (hidden + inter) * size * 2


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


#: Rows sharing at least this many leading tokens have their common prefix computed once (:meth:`HFModel.generate`).
MIN_SHARED_PREFIX = 16


def shared_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the prefix common to all ``rows``, leaving every row at least one token of its own (the first
    step needs each row's last prompt token as input)."""
    if not rows:
        return 0
    n = min(len(r) for r in rows) - 1
    for r in rows[1:]:
        n = min(n, common_prefix(rows[0], r))
    return max(n, 0)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class StopScanner:
    """Finds the first stop string in a growing token list by decoding only its newest tokens.

    Re-decoding a row's whole text at every step costs ``O(n^2)`` per row. A stop string that first appears
    after token ``t`` ends inside the text of the last few tokens, so :meth:`find` decodes a window of the newest
    ``4 * max(len(stop)) + 8`` tokens (4: a character may take up to 4 byte-level tokens), widening it while it
    decodes to fewer than ``max(len(stop)) + 8`` characters. Only on a hit is the whole text decoded, and the
    cut is taken from it, so the result equals ``text[:min(text.find(s))]`` of the full decode at the same step.
    """

    def __init__(self, tokenizer: Any, stops: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(stops)
        self.longest = max((len(s) for s in self.stops), default=0)

    def find(self, tokens: Sequence[int]) -> str | None:
        """The text before the first stop string, if ``tokens`` now hold one, else ``None``."""
        if not self.stops:
            return None
        width = 4 * self.longest + 8
        while True:
            start = max(0, len(tokens) - width)
            tail = self.tokenizer.decode(tokens[start:], skip_special_tokens=True)
            if start == 0 or len(tail) >= self.longest + 8:
                break
            width *= 2
        if not any(s in tail for s in self.stops):
            return None
        text = tail if start == 0 else self.tokenizer.decode(tokens, skip_special_tokens=True)
        cut = min((text.find(s) for s in self.stops if s in text), default=-1)
        return text[:cut] if cut >= 0 else None


def advance(
    active: Sequence[int], nxt: torch.Tensor, new: list[list[int]], texts: list[str | None], reasons: list[str],
    eos_ids: frozenset[int], tokenizer: Any, stops: Sequence[str] | StopScanner,
) -> list[int]:
    """Appends each active row's next token; marks rows that hit EOS or a stop string; returns the rows still going.

    ``nxt[b]`` is row ``b``'s token. A stop string cuts the row's text (stored in ``texts[b]``) just before the
    string (found incrementally by :class:`StopScanner`; pass one to reuse it across steps).
    """
    scanner = stops if isinstance(stops, StopScanner) else StopScanner(tokenizer, stops)
    tokens = nxt.tolist()
    still = []
    for b in active:
        token = int(tokens[b])
        new[b].append(token)
        if token in eos_ids:
            reasons[b] = "stop"
            continue
        cut = scanner.find(new[b])
        if cut is not None:
            texts[b], reasons[b] = cut, "stop"
            continue
        still.append(b)
    return still


class _View:
    """``view[j]`` reads and writes ``base[index[j]]``: lets :func:`advance` address the live rows of a batch."""

    def __init__(self, base: list[Any], index: list[int]) -> None:
        self.base, self.index = base, index

    def __getitem__(self, j: int) -> Any:
        return self.base[self.index[j]]

    def __setitem__(self, j: int, value: Any) -> None:
        self.base[self.index[j]] = value


def target_logprobs(logits: torch.Tensor, targets: Sequence[int]) -> np.ndarray:
    """``log softmax(logits_j)[targets_j]`` for each row ``j`` of ``logits`` ``(n, vocab)``, float64 ``(n,)``.

    Computed as ``logits_j[t_j] - logsumexp(logits_j)`` in float32: no ``(n, vocab)`` log-softmax is kept.
    """
    target = torch.tensor(list(targets), dtype=torch.long, device=logits.device)
    x = logits.float()
    picked = x.gather(-1, target[:, None])[:, 0] - torch.logsumexp(x, dim=-1)
    return picked.double().cpu().numpy()


def auto_batch_size(model: Any, cpu_default: int = 16) -> int:
    """Rows per batch for ``batch_size="auto"``: on CUDA, :func:`kv_batch_size` of the free memory over
    :func:`row_bytes` at the model's full context; elsewhere ``cpu_default``."""
    param = next(model.parameters())
    if param.device.type != "cuda":
        return cpu_default
    free, _ = torch.cuda.mem_get_info(param.device)
    text = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    positions = getattr(text, "max_position_embeddings", None) or getattr(text, "n_positions", None) or 2048
    return kv_batch_size(free, row_bytes(model.config, min(positions, 4096), param.dtype))


@dataclass(frozen=True)
class _Batch:
    """Decoding state of a batch beside its KV cache: ``mask`` ``(b, t)`` over the cached positions (0: padding)
    and ``last`` ``(b, 1)``, the position id of each row's newest cached token."""

    mask: torch.Tensor
    last: torch.Tensor

    def step(self) -> _Batch:
        """The state for feeding one more token per row (its mask column and position)."""
        return _Batch(torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=1), self.last + 1)

    def select(self, keep: torch.Tensor) -> _Batch:
        return _Batch(self.mask[keep], self.last[keep])


def joinable(past: Any) -> bool:
    """Whether :func:`join` can add rows to ``past``: a cache whose layers are all plain ``DynamicLayer``."""
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:  # an older transformers without cache layers
        return False
    layers = getattr(past, "layers", None)
    return bool(layers) and all(type(layer) is DynamicLayer and layer.keys is not None for layer in layers)


def join(past: Any, state: _Batch, other: Any, other_state: _Batch) -> _Batch:
    """Appends the rows of cache ``other`` to cache ``past`` (in place) and returns the joined state; the shorter
    cache is left-padded with masked zeros to the longer one's length."""
    width = max(state.mask.shape[1], other_state.mask.shape[1])

    def pad(x: torch.Tensor, dim_from_end: int) -> torch.Tensor:
        short = width - x.shape[-dim_from_end]
        if short == 0:
            return x
        spec = [0, 0] * (dim_from_end - 1) + [short, 0]
        return torch.nn.functional.pad(x, spec)

    for mine, theirs in zip(past.layers, other.layers):
        mine.keys = torch.cat([pad(mine.keys, 2), pad(theirs.keys, 2)])
        mine.values = torch.cat([pad(mine.values, 2), pad(theirs.values, 2)])
    return _Batch(torch.cat([pad(state.mask, 1), pad(other_state.mask, 1)]), torch.cat([state.last, other_state.last]))


class HFModel:
    """A causal LM from ``transformers`` behind the :class:`llm.lm.LanguageModel` protocol.

    Args:
        model: a causal LM (``AutoModelForCausalLM``); put in eval mode.
        tokenizer: its tokenizer.
        name: the name reported in results.
        batch_size: prompts per forward pass, or ``"auto"``: on a GPU as many rows as fit in 80% of its free
            memory (:func:`kv_batch_size` over :func:`row_bytes` at the full context, at most 256), else 16.
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
        linear layers of :mod:`llm.packed`."""
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
        gens = self._decode([encoded[i] for i in order], max_new_tokens, temperature,
                            [row_seed(seed, i) for i in order], stops)
        out: list[Generation | None] = [None] * len(encoded)
        for i, g in zip(order, gens):
            out[i] = g
        return [g for g in out if g is not None]

    def _prefill(self, rows: list[list[int]]) -> tuple[torch.Tensor, Any, _Batch]:
        """One pass over ``rows`` (token ids): the logits of each row's last position ``(b, vocab)``, the KV cache,
        and the batch state after it (the next tokens still to be chosen).

        When the rows share a prefix of at least :data:`MIN_SHARED_PREFIX` tokens (few-shot examples, a system
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
        if shared < MIN_SHARED_PREFIX or n == 1:
            ids, mask, positions = self._left_pad(rows)
        else:
            head = torch.tensor([rows[0][:shared]], device=self.device)
            _, past = self.forward(head, torch.ones_like(head), torch.arange(shared, device=self.device)[None])
            past.batch_repeat_interleave(n)
            ids, mask, positions = self._left_pad([r[shared:] for r in rows])
            mask = torch.cat([torch.ones((n, shared), dtype=mask.dtype, device=mask.device), mask], dim=1)
            positions = positions + shared
        logits, past = self.forward(ids, mask, positions, past)
        return logits[:, -1, :], past, _Batch(mask, positions[:, -1:])

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
        state: _Batch | None = None
        nxt = torch.empty(0, dtype=torch.long)
        refill = max(1, self.batch_size // 4)

        def choose(logits: torch.Tensor, which: list[int]) -> tuple[torch.Tensor, list[int]]:
            """Each row's next token and the batch rows still going after it."""
            pick = logits.float().argmax(-1)  # bfloat16 -> float32 is exact; argmax is 3x faster in float32
            if generators is not None:
                probs = torch.softmax(logits.float() / temperature, dim=-1)
                for j, b in enumerate(which):
                    pick[j] = torch.multinomial(probs[j], 1, generator=generators[b])[0]
            going = advance(range(len(which)), pick, [new[b] for b in which], _View(texts, which),
                            _View(reasons, which), self.eos_ids, self.tokenizer, scanner)
            return pick, [j for j in going if len(new[which[j]]) < max_new_tokens]

        with self.fast():
            while waiting or live:
                free = self.batch_size - len(live)
                if waiting and (not live or (free >= refill and joinable(past))):
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
                            state = join(past, state, g_past, g_state)  # type: ignore[arg-type]
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

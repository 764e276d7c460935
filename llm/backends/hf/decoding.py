"""The decoding machinery of the transformers backend, apart from the model: shared prefixes, stop strings,
per-row log-probabilities, and the KV-cache bookkeeping of continuous batching (:meth:`HFModel._decode`).

Pure functions of token ids, logits and caches; :mod:`llm.backends.hf.model` drives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from llm.backends.local import common_prefix


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


class RowView:
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


@dataclass(frozen=True)
class BatchState:
    """Decoding state of a batch beside its KV cache: ``mask`` ``(b, t)`` over the cached positions (0: padding)
    and ``last`` ``(b, 1)``, the position id of each row's newest cached token."""

    mask: torch.Tensor
    last: torch.Tensor

    def step(self) -> BatchState:
        """The state for feeding one more token per row (its mask column and position)."""
        return BatchState(torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=1), self.last + 1)

    def select(self, keep: torch.Tensor) -> BatchState:
        return BatchState(self.mask[keep], self.last[keep])


def joinable(past: Any) -> bool:
    """Whether :func:`join` can add rows to ``past``: a cache whose layers are all plain ``DynamicLayer``."""
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:  # an older transformers without cache layers
        return False
    layers = getattr(past, "layers", None)
    return bool(layers) and all(type(layer) is DynamicLayer and layer.keys is not None for layer in layers)


def join(past: Any, state: BatchState, other: Any, other_state: BatchState) -> BatchState:
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
    return BatchState(torch.cat([pad(state.mask, 1), pad(other_state.mask, 1)]), torch.cat([state.last, other_state.last]))

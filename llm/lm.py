"""The one interface every language-model backend implements (:mod:`llm.backends`), and the input checks they share.

A prompt is either plain text (completion style) or a chat, a list of ``{"role": ..., "content": ...}`` messages
(rendered with the model's chat template locally, sent to ``/v1/chat/completions`` over HTTP).

* :class:`LanguageModel`: batched generation and scoring, what every backend offers;
* :class:`WhiteBoxModel`: a local model whose weights, tokenizer, hidden states and next-token logits are reachable
  (Linear Alignment, Advisor features, fine-tuning, the local server); reached through :func:`white_box`;
* :func:`check_prompts`, :func:`check_continuations`, :func:`check_sampling`, :func:`row_seed`: what every backend
  checks and how it seeds rows, written once here so that backends never import one another.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, Sequence, Union, cast, runtime_checkable

import numpy as np

Message = dict[str, str]
Prompt = Union[str, Sequence[Message]]


@dataclass(frozen=True)
class Generation:
    """One generated continuation.

    Attributes:
        text: the generated text (prompt excluded).
        prompt_tokens: tokens in the (rendered) prompt.
        new_tokens: tokens generated.
        finish_reason: ``"stop"`` (end of sequence or stop string) or ``"length"`` (hit ``max_new_tokens``).
        flag: ``None`` for an ordinary answer; otherwise why a well-formed answer is suspect, set by the backend
            that received it (:mod:`llm.backends.openai_http`): ``"empty"`` (no text at all), ``"finish_reason=X"`` (the
            server ended it for a reason other than stop/length, e.g. ``content_filter``). Summaries count flagged
            rows separately instead of scoring them silently.
    """

    text: str
    prompt_tokens: int
    new_tokens: int
    finish_reason: str
    flag: str | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond :meth:`LanguageModel.generate`; callers ask this instead of probing.

    Attributes:
        chat_template: it renders chat prompts itself (a local chat template, or an endpoint's chat API); without
            one, ``auto`` chat mode sends plain text.
        token_logprobs: :meth:`LanguageModel.logprob` works (beliefs are measured from it).
        white_box: a local model whose weights, tokenizer and next-token logits are reachable: it implements
            :class:`WhiteBoxModel` (reach it with :func:`white_box`); needed by Linear Alignment, the Advisor's
            hidden-state features, fine-tuning and the local server's token log-probabilities.
    """

    chat_template: bool = False
    token_logprobs: bool = True
    white_box: bool = False


class LMError(RuntimeError):
    """A model could not be loaded or reached, or answered something unusable (one-line message)."""


class PartialResults(LMError):
    """Some prompts of a batch failed for good (after retries); the others completed and are kept.

    Raised by a backend's ``generate`` or ``logprob`` only after every request in flight has finished, so nothing
    that completed is lost. Callers persist the completed rows, then re-raise::

        try:
            gens = model.generate(prompts)
        except PartialResults as exc:
            for i, g in enumerate(exc.results):
                if g is not None:
                    store.write(i, g)  # persist what completed
            raise

    ``str(exc)`` is one line (how many failed, and the first failure: what, where, after how many attempts).

    Attributes:
        results: one entry per prompt, in prompt order: the :class:`Generation` (``generate``) or the float
            log-probability (``logprob``) where the prompt completed, ``None`` where it failed or was not sent.
        errors: one one-line message per failed prompt, ``"prompt I: ..."``, in prompt order.
    """

    def __init__(self, message: str, results: Sequence[Generation | float | None], errors: Sequence[str]) -> None:
        super().__init__(message)
        self.results: list[Generation | float | None] = list(results)
        self.errors: list[str] = list(errors)

    @property
    def completed(self) -> int:
        """How many prompts completed."""
        return sum(r is not None for r in self.results)


@runtime_checkable
class LanguageModel(Protocol):
    """Batched generation and scoring.

    ``logprob`` returns ``log p(continuation | prompt)`` summed over the continuation's tokens, shape ``(N,)``.
    ``capabilities`` states what else the backend offers (:class:`Capabilities`).
    """

    name: str
    capabilities: Capabilities

    def generate(
        self,
        prompts: Sequence[Prompt],
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> list[Generation]: ...

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class WhiteBoxModel(LanguageModel, Protocol):
    """A local model whose insides are reachable (``capabilities.white_box``; :class:`llm.backends.hf.HFModel`).

    Attributes:
        model: the ``torch.nn.Module`` (a causal LM; its ``config``, weights and submodules).
        tokenizer: its tokenizer.
        device: the ``torch.device`` the weights are on.
        batch_size: rows per forward pass.
        eos_ids: every token id that ends a generation.
        bos_id: the token put before an empty context (BOS, else EOS; ``None`` if the tokenizer has neither).
        pad_id: the id written into padded positions (masked out).
    """

    model: Any
    tokenizer: Any
    device: Any
    batch_size: int
    eos_ids: frozenset[int]
    bos_id: int | None
    pad_id: int

    def fast(self) -> AbstractContextManager[None]:
        """The context every pass runs in (inference mode, fast kernels)."""
        ...

    def forward(self, ids: Any, mask: Any, positions: Any, past: Any = None, keep: int = 1,
                use_cache: bool = True) -> tuple[Any, Any]:
        """One pass: logits of the last ``keep`` positions ``(b, keep, vocab)`` and the KV cache (or ``None``)."""
        ...

    def render(self, prompt: str | list[Message]) -> tuple[str, bool]:
        """The prompt's text, and whether the tokenizer adds its special tokens to it."""
        ...

    def encode(self, text: str, special: bool) -> list[int]:
        """Token ids of ``text`` (with the tokenizer's special tokens iff ``special``)."""
        ...

    def score_tokens(self, prompt: str | list[Message], continuation: str) -> tuple[list[int], int]:
        """Token ids of prompt + continuation and the index of the first continuation token."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled last hidden state of each text, ``(N, hidden)``."""
        ...

    def token_logprobs(self, text: str) -> tuple[list[str], list[int], list[float | None]]:
        """Per-token ``(tokens, offsets, logprobs)`` of ``text``, as an echo endpoint reports them."""
        ...


def white_box(model: LanguageModel, why: str = "this") -> WhiteBoxModel:
    """``model`` as a :class:`WhiteBoxModel`, after checking ``model.capabilities.white_box``.

    Raises:
        LMError: the model is not a local model with reachable weights (one line saying what needed it).
    """
    if not model.capabilities.white_box:
        raise LMError(f"{why} needs a local model with reachable weights, got {model.name!r}")
    return cast(WhiteBoxModel, model)


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of ``str(exc)`` (its type's name if empty), at most ``limit`` characters: for one-line errors."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:limit]


def check_prompts(prompts: Sequence[Prompt]) -> list[str | list[Message]]:
    """Validates a batch of prompts; returns them as ``str`` or ``list`` of ``{"role", "content"}`` dicts.

    Raises:
        LMError: ``prompts`` is a bare string, or a prompt is neither text nor a non-empty list of messages.
    """
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
        raise LMError(f"prompts must be a list of prompts, got {type(prompts).__name__}")
    out: list[str | list[Message]] = []
    for i, prompt in enumerate(prompts):
        if isinstance(prompt, str):
            out.append(prompt)
            continue
        if isinstance(prompt, (bytes, Mapping)) or not isinstance(prompt, Sequence) or len(prompt) == 0:
            raise LMError(f"prompt {i} must be a str or a non-empty list of messages, got {type(prompt).__name__}")
        chat = []
        for j, msg in enumerate(prompt):
            if not isinstance(msg, Mapping) or not isinstance(msg.get("role"), str) or not isinstance(
                msg.get("content"), str
            ):
                raise LMError(f"prompt {i}, message {j} must be a dict with str 'role' and 'content', got {msg!r:.80}")
            chat.append({"role": msg["role"], "content": msg["content"]})
        out.append(chat)
    return out


def check_continuations(prompts: Sequence[Prompt], continuations: Sequence[str]) -> list[str]:
    """Validates ``continuations`` against ``prompts`` (same length, all ``str``)."""
    if isinstance(continuations, (str, bytes)) or not isinstance(continuations, Sequence):
        raise LMError(f"continuations must be a list of str, got {type(continuations).__name__}")
    if len(continuations) != len(prompts):
        raise LMError(f"got {len(prompts)} prompts but {len(continuations)} continuations")
    for i, c in enumerate(continuations):
        if not isinstance(c, str):
            raise LMError(f"continuation {i} must be a str, got {type(c).__name__}")
    return list(continuations)


def check_sampling(max_new_tokens: int, temperature: float, seed: int, stop: Sequence[str]) -> tuple[str, ...]:
    """Validates generation arguments; returns ``stop`` as a tuple.

    Raises:
        LMError: ``max_new_tokens < 1``, ``temperature`` negative or not finite, a non-int seed, or ``stop``
            given as a bare string (it would be read as single characters) or holding empty strings.
    """
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise LMError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature < 0:
        raise LMError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise LMError(f"seed must be an int, got {seed!r}")
    if isinstance(stop, str):
        raise LMError(f"stop must be a list of strings, got the str {stop!r}")
    stops = tuple(stop)
    if not all(isinstance(s, str) and s for s in stops):
        raise LMError(f"stop strings must be non-empty str, got {list(stops)!r}")
    return stops


def row_seed(seed: int, index: int) -> int:
    """The sampling seed of prompt ``index`` in a batch generated with ``seed``: ``seed + index``.

    Every backend uses it, so a prompt's sample depends on ``(seed, index)`` only, not on batch size.
    """
    return seed + index

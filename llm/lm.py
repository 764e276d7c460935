"""The one interface every language-model backend implements (local transformers, OpenAI-compatible HTTP).

A prompt is either plain text (completion style) or a chat, a list of ``{"role": ..., "content": ...}`` messages
(rendered with the model's chat template locally, sent to ``/v1/chat/completions`` over HTTP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, Union, runtime_checkable

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
            that received it (:mod:`llm.openai_http`): ``"empty"`` (no text at all), ``"finish_reason=X"`` (the
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
        white_box: a local model whose weights, tokenizer and next-token logits are reachable (``model``,
            ``tokenizer``, ``render``, ``encode``): needed by Linear Alignment and by fine-tuning.
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

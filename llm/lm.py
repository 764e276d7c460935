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
    """

    text: str
    prompt_tokens: int
    new_tokens: int
    finish_reason: str


class LMError(RuntimeError):
    """A model could not be loaded or reached, or answered something unusable (one-line message)."""


@runtime_checkable
class LanguageModel(Protocol):
    """Batched generation and scoring.

    ``logprob`` returns ``log p(continuation | prompt)`` summed over the continuation's tokens, shape ``(N,)``.
    """

    name: str

    def generate(
        self,
        prompts: Sequence[Prompt],
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> list[Generation]: ...

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray: ...

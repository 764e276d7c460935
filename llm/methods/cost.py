"""What an alignment method costs at inference: model requests, tokens processed, wall time.

Every method is charged for the work it does per problem, the Receiver's own answer included, so methods compare
on one scale (the baseline costs one request). A request is one prompt sent to one model (one row of a
``generate`` or ``logprob`` batch); its tokens are the prompt's plus the generated ones (for scoring: the prompt's
plus the continuation's); the seconds of a batched call are shared equally among its requests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from llm.lm import Generation, LanguageModel, Prompt, white_box


@dataclass(frozen=True)
class Cost:
    """Work done for one problem (or a sum of such).

    Attributes:
        calls: model requests.
        prompt_tokens: tokens read (prompts, and scored continuations).
        new_tokens: tokens generated.
        seconds: wall time.
    """

    calls: int = 0
    prompt_tokens: int = 0
    new_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens(self) -> int:
        """All tokens processed, ``prompt_tokens + new_tokens``."""
        return self.prompt_tokens + self.new_tokens

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.calls + other.calls, self.prompt_tokens + other.prompt_tokens,
                    self.new_tokens + other.new_tokens, self.seconds + other.seconds)


def prompt_text(prompt: Prompt) -> str:
    """A prompt's text: itself, or a chat's message contents joined by blank lines."""
    return prompt if isinstance(prompt, str) else "\n\n".join(m["content"] for m in prompt)


def generation_costs(gens: Sequence[Generation], seconds: float) -> list[Cost]:
    """One :class:`Cost` per generation of a batched call that took ``seconds`` (time shared equally)."""
    share = seconds / max(1, len(gens))
    return [Cost(1, g.prompt_tokens, g.new_tokens, share) for g in gens]


def count_tokens(model: LanguageModel, text: str) -> int:
    """Tokens of ``text`` under a white-box model's tokenizer; whitespace-separated words otherwise (HTTP)."""
    if model.capabilities.white_box:
        return len(white_box(model).encode(text, False))
    return len(text.split())


def timed_generate(model: LanguageModel, prompts: Sequence[Prompt], **kwargs: object) -> tuple[list[Generation],
                                                                                                list[Cost]]:
    """``model.generate(prompts, **kwargs)`` and the per-request costs."""
    t0 = time.perf_counter()
    gens = model.generate(prompts, **kwargs)  # type: ignore[arg-type]
    return gens, generation_costs(gens, time.perf_counter() - t0)


def timed_logprob(model: LanguageModel, prompts: Sequence[str], continuations: Sequence[str]) -> tuple[np.ndarray,
                                                                                                      list[Cost]]:
    """``model.logprob(prompts, continuations)`` and the per-request costs (tokens read: prompt + continuation)."""
    t0 = time.perf_counter()
    scores = model.logprob(prompts, continuations)
    share = (time.perf_counter() - t0) / max(1, len(prompts))
    return scores, [Cost(1, count_tokens(model, p + c), 0, share) for p, c in zip(prompts, continuations)]


class Metered:
    """A :class:`llm.lm.LanguageModel` that forwards to ``model`` and records each request's :class:`Cost`.

    ``last`` holds the costs of the requests of the latest call, in order; ``total`` their running sum. Used to
    charge the Advisor's signals to the persuasion rows.
    """

    def __init__(self, model: LanguageModel) -> None:
        self.inner = model
        self.name = model.name
        self.capabilities = replace(model.capabilities, white_box=False)
        self.last: list[Cost] = []
        self.total = Cost()

    def _record(self, costs: list[Cost]) -> None:
        self.last = costs
        for c in costs:
            self.total = self.total + c

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int = 128, temperature: float = 0.0,
                 seed: int = 0, stop: Sequence[str] = ()) -> list[Generation]:
        gens, costs = timed_generate(self.inner, prompts, max_new_tokens=max_new_tokens, temperature=temperature,
                                     seed=seed, stop=stop)
        self._record(costs)
        return gens

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        t0 = time.perf_counter()
        scores = self.inner.logprob(prompts, continuations)
        share = (time.perf_counter() - t0) / max(1, len(prompts))
        self._record([Cost(1, count_tokens(self.inner, prompt_text(p) + c), 0, share)
                      for p, c in zip(prompts, continuations)])
        return scores

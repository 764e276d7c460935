"""A deterministic fake :class:`llm.lm.LanguageModel` for tests: no weights, no randomness, no network.

``logprob`` scores a continuation ``c`` after a prompt ``p`` as

    ``-2 * h(p', c) - 0.05 * bytes(c) + boost * [label(c) occurs in the signal line of p]``

where ``h`` is a hash of ``(seed, p', c)`` mapped to ``[0, 1)``, ``p'`` is the prompt without its signal line (the
line starting with ``marker``), and ``label(c)`` is ``c`` without surrounding spaces and a final period. So the
signal moves the scores only through ``boost``: a signal naming an item adds exactly ``boost`` to that item's
log-probability. ``generate`` returns ``reply(prompt)`` (by default a hint naming the prompt's ``Approach:``),
cut at the first stop string and at ``max_new_tokens`` words. Calls are counted in ``calls``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Callable, Sequence

import numpy as np

from llm.lm import Capabilities, Generation, Prompt


def prompt_text(prompt: Prompt) -> str:
    """A plain-text view of a prompt: itself, or a chat's contents joined by newlines."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(str(m["content"]) for m in prompt)


def default_reply(prompt: str) -> str:
    """A hint naming the prompt's ``Approach: <name>.``, followed by text a stop string should cut."""
    match = re.search(r"Approach: ([^.\n]+)\.", prompt)
    name = match.group(1) if match else "think"
    return f" You could {name} here; check each number.\n\nProblem: an unrelated next problem"


class FakeLM:
    """Deterministic fake language model (see the module docstring).

    Args:
        name: model name.
        seed: changes every hash score.
        boost: log-probability added to a continuation whose label occurs in the prompt's signal line.
        marker: the prefix of the signal line.
        reply: ``prompt_text -> generated text``; ``default_reply`` if ``None``.
    """

    def __init__(
        self,
        name: str = "fake",
        *,
        seed: int = 0,
        boost: float = 0.0,
        marker: str = "Advisor:",
        reply: Callable[[str], str] | None = None,
    ) -> None:
        self.name = name
        self.capabilities = Capabilities(chat_template=False, token_logprobs=True, white_box=False)
        self.seed = seed
        self.boost = float(boost)
        self.marker = marker
        self.reply = reply or default_reply
        self.calls: list[tuple[str, int]] = []

    def _split(self, prompt: str) -> tuple[str, str]:
        """The prompt without its signal line, and the signal line (``""`` if none)."""
        kept, signal = [], ""
        for line in prompt.split("\n"):
            if line.startswith(self.marker):
                signal = line[len(self.marker):]
            else:
                kept.append(line)
        return "\n".join(kept), signal

    def _hash(self, prompt: str, continuation: str) -> float:
        digest = hashlib.blake2b(f"{self.seed}\x00{prompt}\x00{continuation}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2.0**64

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        if len(prompts) != len(continuations):
            raise ValueError("prompts and continuations differ in length")
        self.calls.append(("logprob", len(prompts)))
        out = np.empty(len(prompts))
        for i, (prompt, cont) in enumerate(zip(prompts, continuations)):
            base, signal = self._split(prompt_text(prompt))
            score = -2.0 * self._hash(base, cont) - 0.05 * len(cont.encode("utf-8"))
            label = cont.strip().rstrip(".").lower()
            if label and label in signal.lower():
                score += self.boost
            out[i] = score
        return out

    def generate(
        self,
        prompts: Sequence[Prompt],
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> list[Generation]:
        del temperature, seed
        self.calls.append(("generate", len(prompts)))
        outs = []
        for prompt in prompts:
            text = prompt_text(prompt)
            reply = self.reply(text)
            finish = "stop"
            for s in stop:
                k = reply.find(s)
                if k >= 0:
                    reply = reply[:k]
            words = reply.split(" ")
            if len(words) > max_new_tokens:
                reply, finish = " ".join(words[:max_new_tokens]), "length"
            outs.append(Generation(reply, len(text.split()), len(reply.split()), finish))
        return outs


class BrokenLM(FakeLM):
    """A fake whose ``logprob`` returns ``bad(n)`` for ``n`` requests (wrong shapes, NaN, ...)."""

    def __init__(self, bad: Callable[[int], np.ndarray], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.bad = bad

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        self.calls.append(("logprob", len(prompts)))
        return self.bad(len(prompts))

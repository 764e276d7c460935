"""Linear Alignment (Gao et al. 2024) as a decoding option for white-box local Receivers.

At each step the Receiver is run twice, on the prompt with a principle (``x_p = PRINCIPLE_TEMPLATE(x)``) and
without it (``x``), each stream with its own KV cache. With ``l_p = log softmax(logits | x_p, y_<t)`` and
``l = log softmax(logits | x, y_<t)`` the next token is chosen from

.. math::  s_t = (1 + r)\\, l_p - r\\, l, \\qquad
           y_t = \\arg\\max_{v \\in N_p} s_t(v) \\;\\; \\text{(greedy)}, \\quad
           y_t \\sim \\mathrm{softmax}(s_t / T) \\text{ restricted to } N_p \\;\\; \\text{(sampling)},

where ``N_p`` is the top-``p`` nucleus of the with-principle distribution ``softmax(l_p)`` (the fewest most
likely tokens whose mass reaches ``p``) and ``r >= 0`` the ratio. ``r = 0`` is plain decoding of ``x_p``; an empty
principle makes the two streams equal and gives plain decoding of ``x``. Gao et al. move the policy in closed
form along a direction they estimate by contrasting the principled and the plain distributions (self-contrastive
decoding); ``s_t`` extrapolates along that contrast with step ``r``, and the nucleus keeps the extrapolation from
promoting tokens the principled model finds implausible. Using log-softmax instead of raw logits changes ``s_t``
by a constant per step only, so the choice of token is the same.

References:
    1. Gao et al. 2024, "Linear Alignment: A Closed-form Solution for Aligning Human Preferences without
       Tuning and Feedback", https://arxiv.org/abs/2401.11458
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any, Sequence

import numpy as np
import torch

from llm.backends.hf.decoding import advance
from llm.lm import (Generation, LanguageModel, LMError, Message, Prompt, check_continuations, check_prompts,
                    check_sampling, row_seed, white_box)
from llm.methods.cost import Cost

_TOP_K_FIRST = 512  # nucleus_mask sorts only these many tokens unless their mass is below top_p

#: How the principle is put in front of a prompt (of the last user message, for a chat).
PRINCIPLE_TEMPLATE = "{principle}\n\n{prompt}"

#: Default principles per task kind; ``{answer_instruction}`` is the task's own (it owns its answer format).
PRINCIPLES: dict[str, str] = {
    "math": "Solve the problem carefully, step by step. Check every calculation. {answer_instruction}",
    "code": ("Write correct, complete and simple Python code that passes the tests. Handle edge cases and do not "
             "print anything."),
}


def principle_for_task(task: Any) -> str:
    """The default principle of ``task``'s kind, with the task's answer instruction filled in."""
    return PRINCIPLES[task.kind].format(answer_instruction=task.answer_instruction)

#: Templates shown verbatim in docs/methods.md (checked by a test).
TEMPLATES: dict[str, str] = {"PRINCIPLE_TEMPLATE": PRINCIPLE_TEMPLATE, **{f"PRINCIPLES[{k!r}]": v
                                                                           for k, v in PRINCIPLES.items()}}


def with_principle(prompt: Prompt, principle: str) -> Prompt:
    """``prompt`` with ``principle`` in front (:data:`PRINCIPLE_TEMPLATE`); unchanged for an empty principle."""
    if not principle:
        return prompt
    if isinstance(prompt, str):
        return PRINCIPLE_TEMPLATE.format(principle=principle, prompt=prompt)
    messages = [dict(m) for m in prompt]
    for m in reversed(messages):
        if m.get("role") == "user":
            m["content"] = PRINCIPLE_TEMPLATE.format(principle=principle, prompt=m["content"])
            return messages
    raise LMError("a chat prompt needs a user message to carry the principle")


def combine_logits(with_logits: torch.Tensor, without_logits: torch.Tensor, ratio: float) -> torch.Tensor:
    """``(1 + r) log softmax(with) - r log softmax(without)`` over the last axis."""
    lp = torch.log_softmax(with_logits.float(), dim=-1)
    if ratio == 0:
        return lp
    return (1.0 + ratio) * lp - ratio * torch.log_softmax(without_logits.float(), dim=-1)


def nucleus_mask(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """The top-``p`` nucleus of ``softmax(logits)`` per row: the fewest most likely tokens with mass ``>= p``.

    A token is kept iff the mass of the tokens ranked strictly before it is ``< p``, so the most likely token is
    always kept and ``top_p = 1`` keeps every token.
    """
    probs = torch.softmax(logits.float(), dim=-1)
    if top_p >= 1:
        return torch.ones_like(probs, dtype=torch.bool)
    k = min(probs.shape[-1], _TOP_K_FIRST)
    sorted_p, order = torch.topk(probs, k, dim=-1)  # usually the nucleus lies within the top k: no full sort
    if k < probs.shape[-1] and not bool((sorted_p.sum(-1) >= top_p).all()):
        sorted_p, order = torch.sort(probs, dim=-1, descending=True)
    before = torch.cumsum(sorted_p, dim=-1) - sorted_p
    keep_sorted = before < top_p
    keep_sorted[..., 0] = True
    return torch.zeros_like(probs, dtype=torch.bool).scatter(-1, order, keep_sorted)


def select_tokens(with_logits: torch.Tensor, without_logits: torch.Tensor, ratio: float, top_p: float,
                  temperature: float = 0.0, generators: Sequence[torch.Generator] | None = None) -> torch.Tensor:
    """The next token per row ``(b,)`` from logits ``(b, V)`` of both streams (module docstring)."""
    scores = combine_logits(with_logits, without_logits, ratio)
    scores = scores.masked_fill(~nucleus_mask(with_logits, top_p), -math.inf)
    if temperature == 0 or generators is None:
        return scores.argmax(-1)
    probs = torch.softmax(scores / temperature, dim=-1)
    return torch.stack([torch.multinomial(probs[b], 1, generator=generators[b])[0] for b in range(len(probs))])


def _left_pad(rows: Sequence[Sequence[int]], pad_id: int, device: Any) -> tuple[torch.Tensor, torch.Tensor,
                                                                                  torch.Tensor]:
    """Left-padded ``input_ids``, ``attention_mask`` and ``position_ids``, each ``(b, t)``."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, r in enumerate(rows):
        ids[b, width - len(r):] = torch.tensor(list(r), dtype=torch.long)
        mask[b, width - len(r):] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device)


class LinearAlignedModel:
    """A local transformers Receiver decoded with Linear Alignment, behind the :class:`llm.lm.LanguageModel`
    protocol.

    ``last`` holds each prompt's :class:`llm.methods.cost.Cost` of the latest ``generate`` call: two requests
    (the two streams), prompt tokens of both prompts plus the generated tokens the second stream reads again, the
    generated tokens, and the batch's time shared equally.

    Args:
        base: a local :class:`llm.backends.hf.HFModel` (needs ``model``, ``tokenizer``, ``render``, ``encode``).
        principle: the principle text (:data:`PRINCIPLES` has defaults).
        ratio: ``r >= 0``.
        top_p: nucleus mass ``p`` in ``(0, 1]``.
        name: reported name (default ``"<base>+linear-alignment"``).

    Raises:
        LMError: ``base`` is not a local transformers model (an HTTP endpoint gives no full logits), or bad
            ``ratio``/``top_p``.
    """

    def __init__(self, base: LanguageModel, principle: str, *, ratio: float = 1.0, top_p: float = 0.9,
                 name: str | None = None) -> None:
        if not base.capabilities.white_box:
            raise LMError(f"linear alignment needs a local transformers Receiver with full logits; "
                          f"{getattr(base, 'name', base)!r} is not one (HTTP endpoints are not supported)")
        if not (math.isfinite(ratio) and ratio >= 0):
            raise LMError(f"linear-alignment ratio must be a finite number >= 0, got {ratio}")
        if not 0 < top_p <= 1:
            raise LMError(f"linear-alignment top_p must lie in (0, 1], got {top_p}")
        self.base = white_box(base)
        self.principle = principle
        self.ratio = float(ratio)
        self.top_p = float(top_p)
        self.name = name or f"{base.name}+linear-alignment"
        self.capabilities = replace(base.capabilities, white_box=False)
        self.last: list[Cost] = []
        self.extra = Cost()

    # ---- prompts -> token ids -------------------------------------------------------------------------------

    def _ids(self, prompt: str | list[Message]) -> list[int]:
        ids = self.base.encode(*self.base.render(prompt))
        if not ids:
            bos = self.base.bos_id
            if bos is None:
                raise LMError("an empty prompt needs a BOS/EOS token to start from")
            ids = [bos]
        return ids

    def _check_length(self, i: int, n: int) -> None:
        limit = getattr(self.base, "max_positions", None)
        if limit is not None and n > limit:
            raise LMError(f"prompt {i} needs {n} positions, over the model's context of {limit}")

    # ---- generation -----------------------------------------------------------------------------------------

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int = 128, temperature: float = 0.0,
                 seed: int = 0, stop: Sequence[str] = ()) -> list[Generation]:
        """Decodes each prompt with Linear Alignment; stopping rules as :meth:`llm.backends.hf.HFModel.generate`."""
        chats = check_prompts(prompts)
        stops = check_sampling(max_new_tokens, temperature, seed, stop)
        rows_p = [self._ids(with_principle(p, self.principle)) for p in chats]
        rows_x = [self._ids(p) for p in chats]
        for i, (a, b) in enumerate(zip(rows_p, rows_x)):
            self._check_length(i, max(len(a), len(b)) + max_new_tokens)
        order = sorted(range(len(chats)), key=lambda i: -len(rows_p[i]))
        out: list[Generation | None] = [None] * len(chats)
        costs: list[Cost] = [Cost()] * len(chats)
        for start in range(0, len(order), self.base.batch_size):
            idx = order[start:start + self.base.batch_size]
            t0 = time.perf_counter()
            gens = self._generate_batch([rows_p[i] for i in idx], [rows_x[i] for i in idx], max_new_tokens,
                                        temperature, [row_seed(seed, i) for i in idx], stops)
            share = (time.perf_counter() - t0) / len(idx)
            for i, g in zip(idx, gens):
                out[i] = g
                costs[i] = Cost(2, len(rows_p[i]) + len(rows_x[i]) + g.new_tokens, g.new_tokens, share)
        self.last = costs
        for c in costs:
            self.extra = self.extra + c
        return [g for g in out if g is not None]

    @torch.inference_mode()
    def _generate_batch(self, rows_p: list[list[int]], rows_x: list[list[int]], max_new_tokens: int,
                        temperature: float, seeds: list[int], stops: tuple[str, ...]) -> list[Generation]:
        """Decodes one batch; both streams are left-padded ``(b, t)`` and advance with their own KV cache."""
        base = self.base
        n = len(rows_p)
        streams = [list(_left_pad(rows, base.pad_id, base.device)) + [None] for rows in (rows_p, rows_x)]
        generators = None
        if temperature > 0:
            generators = [torch.Generator(device=base.device).manual_seed(s) for s in seeds]
        new: list[list[int]] = [[] for _ in range(n)]
        texts: list[str | None] = [None] * n
        reasons = ["length"] * n
        active = list(range(n))
        for _ in range(max_new_tokens):
            logits = []
            for s in streams:  # s = [ids, mask, positions, past]
                step, s[3] = base.forward(s[0], s[1], s[2], past=s[3], keep=1)  # the cache keyword of this version
                logits.append(step[:, -1, :])
            nxt = select_tokens(logits[0], logits[1], self.ratio, self.top_p, temperature, generators)
            active = advance(active, nxt, new, texts, reasons, base.eos_ids, base.tokenizer, stops)
            if not active:
                break
            for s in streams:
                s[0] = nxt[:, None]
                s[1] = torch.cat([s[1], torch.ones_like(s[1][:, :1])], dim=1)
                s[2] = s[2][:, -1:] + 1
        result = []
        for b in range(n):
            body = [t for t in new[b] if t not in base.eos_ids]
            text = texts[b] if texts[b] is not None else base.tokenizer.decode(body, skip_special_tokens=True)
            result.append(Generation(text=text, prompt_tokens=len(rows_p[b]), new_tokens=len(new[b]),
                                     finish_reason=reasons[b]))
        return result

    # ---- scoring --------------------------------------------------------------------------------------------

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        """``sum_t log softmax(s_t)[c_t]``: the continuation under the combined scores, without the nucleus cut.

        The continuation's tokens are those of the with-principle prompt (``score_tokens`` boundary convention);
        the without-principle stream reads the same tokens after its own prompt. An empty continuation scores 0.
        """
        chats = check_prompts(prompts)
        conts = check_continuations(chats, continuations)
        result = np.zeros(len(chats), dtype=np.float64)
        jobs = []
        for i, (p, c) in enumerate(zip(chats, conts)):
            full_p, k = self.base.score_tokens(with_principle(p, self.principle), c)
            tail = full_p[k:]
            if tail:
                head_x = self._ids(p)
                self._check_length(i, max(len(full_p), len(head_x) + len(tail)))
                jobs.append((i, full_p, head_x + tail, len(tail)))
        for start in range(0, len(jobs), self.base.batch_size):
            batch = jobs[start:start + self.base.batch_size]
            result[[j[0] for j in batch]] = self._score_batch(batch)
        return result

    @torch.inference_mode()
    def _score_batch(self, jobs: list[tuple[int, list[int], list[int], int]]) -> np.ndarray:
        keep = max(n for *_, n in jobs) + 1
        per_stream = []
        for rows in ([j[1] for j in jobs], [j[2] for j in jobs]):
            ids, mask, positions = _left_pad(rows, self.base.pad_id, self.base.device)
            per_stream.append(self.base.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                              use_cache=False, logits_to_keep=keep).logits)
        sums = np.zeros(len(jobs), dtype=np.float64)
        for b, (_, full_p, _, n) in enumerate(jobs):
            lp, lx = (s[b, keep - 1 - n: keep - 1] for s in per_stream)  # (n, V): predict the n tail tokens
            scores = torch.log_softmax(combine_logits(lp, lx, self.ratio), dim=-1)
            target = torch.tensor(full_p[len(full_p) - n:], dtype=torch.long, device=scores.device)
            sums[b] = scores.gather(-1, target[:, None]).double().sum().item()
        return sums

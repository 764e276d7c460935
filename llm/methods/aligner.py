"""Aligner (Ji et al. 2024): a small correction model ``mu(y_c | x, y_o)`` stacked on a fixed Receiver.

The Receiver answers ``y_o ~ p_R(. | x)``; the corrector, a small causal LM, reads the question and that answer and
writes the corrected answer ``y_c ~ mu(. | x, y_o)``, which replaces ``y_o``. It is trained by supervised
fine-tuning on Q-A-C triples (loss on the correction only; the prompt is masked),

.. math::  L(\\mu) = -\\frac{1}{|y_c|} \\sum_t \\log \\mu(y_{c,t} \\mid x, y_o, y_{c,<t}),

optionally after an identity warm-up on Q-A-A triples (the corrector first learns to copy ``y_o``). Here the
triples come from the project's own training split: ``y_o`` is the Receiver's greedy answer and the correction is
``y_c = y_o`` when ``y_o`` is graded correct, else the reference solution (math: the worked solution in the task's
answer format; code: the reference program). Prompts are :data:`ALIGNER_PROMPT` (plain text, shown verbatim
in ``docs/methods.md``).

References:
    1. Ji et al. 2024, "Aligner: Efficient Alignment by Learning to Correct", https://arxiv.org/abs/2402.02416
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from llm.lm import Generation, LanguageModel, LMError, Prompt
from llm.methods.cost import Cost, timed_generate

if TYPE_CHECKING:
    from llm.train import TrainConfig

#: The corrector's prompt: the Receiver's question and answer; the correction follows it.
ALIGNER_PROMPT = "### Question\n{question}\n\n### Answer\n{answer}\n\n### Correction\n"

#: Strings that end a correction (a new section header).
ALIGNER_STOP = ("\n### ",)

#: Templates shown verbatim in docs/methods.md (checked by a test).
TEMPLATES: dict[str, str] = {"ALIGNER_PROMPT": ALIGNER_PROMPT}


def question_text(prompt: Prompt) -> str:
    """What the corrector sees as the question: the last user message of a chat, or the whole text prompt."""
    if isinstance(prompt, str):
        return prompt.strip()
    users = [m["content"] for m in prompt if m.get("role") == "user"]
    if not users:
        raise LMError("a chat prompt for the corrector needs a user message")
    return str(users[-1]).strip()


def aligner_prompt(question: str, answer: str) -> str:
    """:data:`ALIGNER_PROMPT` for a question ``x`` and an answer ``y_o`` (both stripped)."""
    return ALIGNER_PROMPT.format(question=str(question).strip(), answer=str(answer).strip())


@dataclass(frozen=True)
class QARecord:
    """One Q-A training example: the question, the Receiver's answer, whether it was correct, the reference."""

    question: str
    answer: str
    correct: bool
    reference: str


def correction_target(record: QARecord) -> str:
    """``y_c``: the answer itself when it is correct (nothing to fix), else the reference solution."""
    return record.answer.strip() if record.correct else record.reference.strip()


def qac_pairs(records: Sequence[QARecord]) -> list[tuple[str, str]]:
    """SFT pairs ``(ALIGNER_PROMPT(x, y_o), y_c)`` for the Q-A-C training set."""
    return [(aligner_prompt(r.question, r.answer), correction_target(r)) for r in records]


def identity_pairs(records: Sequence[QARecord]) -> list[tuple[str, str]]:
    """Warm-up pairs ``(ALIGNER_PROMPT(x, y_o), y_o)`` (Q-A-A: learn the identity first)."""
    return [(aligner_prompt(r.question, r.answer), r.answer.strip()) for r in records]


def train_corrector(start: str, records: Sequence[QARecord], out: str | Path, config: TrainConfig,
                    warmup: bool = False) -> dict[str, Any]:
    """Trains the corrector from the model folder ``start`` with :func:`llm.train.train_sft`; resumable.

    Args:
        start: a local model folder (the corrector's initial weights).
        records: the Q-A training set.
        out: folder receiving ``warmup/`` (if ``warmup``) and ``sft/`` training runs.
        config: a :class:`llm.train.TrainConfig`; the warm-up runs one epoch of it (``train_sft`` keeps the last
            ``max_length`` tokens of each example, at most the model's context).
        warmup: first train the identity mapping on Q-A-A pairs.

    Returns:
        ``{"model": folder, "pairs": n, "sft": {...}, "warmup": {...}?, "seconds": s}``.
    """
    from llm.train import train_sft

    if not records:
        raise LMError("the corrector needs at least one Q-A training example")
    out = Path(out)
    t0 = time.perf_counter()
    info: dict[str, Any] = {"start": start, "pairs": len(records),
                            "wrong_answers": sum(not r.correct for r in records)}
    model = start
    if warmup:
        res = train_sft(model, identity_pairs(records), out / "warmup", replace(config, epochs=1))
        info["warmup"] = {"steps": res.steps, "first_loss": res.losses[0], "last_loss": res.losses[-1]}
        model = res.output_dir
    res = train_sft(model, qac_pairs(records), out / "sft", config)
    info["sft"] = {"steps": res.steps, "first_loss": res.losses[0], "last_loss": res.losses[-1]}
    info["model"] = res.output_dir
    info["seconds"] = time.perf_counter() - t0
    return info


@dataclass(frozen=True)
class Correction:
    """What a corrector did to one answer.

    Attributes:
        original: the Receiver's answer ``y_o``.
        final: the answer returned (``y_c``, or ``y_o`` when the corrector did not fire or wrote nothing).
        fired: whether the corrector ran on this answer.
        p_correct: the inspector's probability that ``y_o`` is correct (``None`` without an inspector).
        cost: the extra work for this answer (corrector and inspector requests; not the Receiver's).
    """

    original: str
    final: str
    fired: bool
    p_correct: float | None
    cost: Cost

    @property
    def rewritten(self) -> bool:
        """Whether the returned text differs from the original (up to surrounding whitespace)."""
        return self.final.strip() != self.original.strip()


def run_corrector(corrector: LanguageModel, questions: Sequence[str], answers: Sequence[str], *,
                  max_new_tokens: int, seed: int = 0) -> tuple[list[str], list[Cost]]:
    """``y_c`` for each ``(x, y_o)`` with one greedy ``corrector.generate`` call; an empty ``y_c`` keeps ``y_o``."""
    if not questions:
        return [], []
    prompts = [aligner_prompt(q, a) for q, a in zip(questions, answers)]
    gens, costs = timed_generate(corrector, prompts, max_new_tokens=max_new_tokens, temperature=0.0, seed=seed,
                                 stop=ALIGNER_STOP)
    if len(gens) != len(prompts):
        raise LMError(f"corrector {corrector.name!r} returned {len(gens)} generations for {len(prompts)} prompts")
    finals = [g.text.strip() or a for g, a in zip(gens, answers)]
    return finals, costs


class AlignedModel:
    """A Receiver with Aligner's corrector stacked on it, behind the :class:`llm.lm.LanguageModel` protocol.

    ``generate`` asks the Receiver, then rewrites every answer with the corrector; the corrections of the latest
    call are kept in ``last`` (one :class:`Correction` per prompt) and their extra costs summed in ``extra``.

    Args:
        base: the Receiver.
        corrector: the trained correction model (any :class:`llm.lm.LanguageModel`; prompted in plain text).
        correction_tokens: the corrector's token budget (default: the ``max_new_tokens`` of each call).
        answer_tokens: the Receiver's budget for the greedy answer behind :meth:`logprob`.
        name: reported name (default ``"<base>+aligner"``).
    """

    def __init__(self, base: LanguageModel, corrector: LanguageModel, *, correction_tokens: int | None = None,
                 answer_tokens: int = 128, name: str | None = None) -> None:
        self.base = base
        self.corrector = corrector
        self.correction_tokens = correction_tokens
        self.answer_tokens = answer_tokens
        self.name = name or f"{base.name}+aligner"
        self.capabilities = replace(base.capabilities, white_box=False)
        self.last: list[Correction] = []
        self.extra = Cost()

    def correct(self, prompts: Sequence[Prompt], answers: Sequence[str], max_new_tokens: int = 128,
                seed: int = 0) -> list[Correction]:
        """Corrects given Receiver answers to ``prompts`` (the pipeline reuses its baseline answers)."""
        if len(prompts) != len(answers):
            raise LMError(f"got {len(prompts)} prompts but {len(answers)} answers to correct")
        finals, costs = run_corrector(self.corrector, [question_text(p) for p in prompts], answers,
                                      max_new_tokens=self.correction_tokens or max_new_tokens, seed=seed)
        out = [Correction(a, f, True, None, c) for a, f, c in zip(answers, finals, costs)]
        self._keep(out)
        return out

    def _keep(self, corrections: list[Correction]) -> None:
        self.last = corrections
        for c in corrections:
            self.extra = self.extra + c.cost

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int = 128, temperature: float = 0.0,
                 seed: int = 0, stop: Sequence[str] = ()) -> list[Generation]:
        """The Receiver's answers, corrected (``new_tokens`` counts the Receiver's and the corrector's tokens)."""
        gens = self.base.generate(prompts, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
                                  stop=stop)
        fixes = self.correct(prompts, [g.text for g in gens], max_new_tokens=max_new_tokens, seed=seed)
        return [Generation(f.final, g.prompt_tokens, g.new_tokens + f.cost.new_tokens,
                           g.finish_reason) for g, f in zip(gens, fixes)]

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        """``log mu(c | x, y_o*)`` with ``y_o*`` the Receiver's greedy answer (``answer_tokens`` long at most).

        This is the stacked system's own log-probability when the Receiver decodes greedily (``y_o*`` is then
        deterministic), except that :meth:`generate` keeps ``y_o*`` where the corrector writes nothing.
        """
        gens = self.base.generate(prompts, max_new_tokens=self.answer_tokens)
        ctx = [aligner_prompt(question_text(p), g.text) for p, g in zip(prompts, gens)]
        return np.asarray(self.corrector.logprob(ctx, list(continuations)), dtype=np.float64)

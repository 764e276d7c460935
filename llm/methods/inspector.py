"""Aligner squad (Ngweta et al. 2024): an inspector decides which answers the corrector should rewrite.

The inspector is the simplest honest classifier: an L2-regularised logistic regression

.. math::  p(\\text{correct} \\mid x, y_o) = \\sigma(w^\\top z + b), \\qquad z = (f(x, y_o) - m) / s,

on four features ``f`` (:data:`FEATURES`), standardised with the training mean ``m`` and deviation ``s``:

* ``answer_logprob_per_char``: ``log p_S(y_o | INSPECT_PROMPT(x)) / |y_o|`` under a scorer LM ``p_S`` (here the
  corrector's start model: its score of its own fine-tuning answers would be inflated);
* ``verdict_margin``: ``log p_S(" correct" | VERDICT_PROMPT(x, y_o)) - log p_S(" incorrect" | ...)``;
* ``has_final_answer``: 1 if the answer states a final answer, as its task judges it
  (:meth:`llm.tasks.task.Task.has_final_answer`: a marked final number for math, a ``def`` or ``return`` for
  code), else 0;
* ``log_length``: ``log(1 + characters of y_o)``.

It is fit on the Q-A training set (labels: the Receiver's answer was graded correct) by minimising

.. math::  \\frac{1}{n} \\sum_i \\big[\\log(1 + e^{u_i}) - y_i u_i\\big] + \\frac{\\lambda}{2n}(\\|w\\|^2 + b^2),
           \\quad u_i = w^\\top z_i + b,

(the bias is penalised too, so one-class data gives a finite fit). At inference the corrector fires iff
``p(correct) < threshold``; otherwise the Receiver's answer is kept.

References:
    1. Ngweta et al. 2024, "Aligners: Decoupling LLMs and Alignment", https://arxiv.org/abs/2403.04224
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np
from scipy import optimize, special

from llm.lm import Generation, LanguageModel, LMError, Prompt
from llm.methods.aligner import Correction, aligner_prompt, question_text, run_corrector
from llm.methods.cost import Cost, timed_logprob

#: Prompt under which the scorer reads the answer (feature ``answer_logprob_per_char``).
INSPECT_PROMPT = "### Question\n{question}\n\n### Answer\n"

#: Prompt whose two continuations :data:`VERDICTS` give the feature ``verdict_margin``.
VERDICT_PROMPT = "### Question\n{question}\n\n### Answer\n{answer}\n\n### Verdict\nThe answer is"

VERDICTS = (" correct", " incorrect")
FEATURES = ("answer_logprob_per_char", "verdict_margin", "has_final_answer", "log_length")

#: Templates shown verbatim in docs/methods.md (checked by a test).
TEMPLATES: dict[str, str] = {"INSPECT_PROMPT": INSPECT_PROMPT, "VERDICT_PROMPT": VERDICT_PROMPT}

def answer_features(scorer: LanguageModel, questions: Sequence[str], answers: Sequence[str],
                    has_final: Callable[[str], bool]) -> tuple[np.ndarray, list[Cost]]:
    """The feature matrix ``(N, 4)`` (columns :data:`FEATURES`) and each answer's scoring cost (3 requests).

    One ``scorer.logprob`` call scores the ``3N`` continuations. An empty answer's log-probability is 0.

    Raises:
        LMError: ``questions`` and ``answers`` differ in length, or the scorer returns non-finite scores.
    """
    if len(questions) != len(answers):
        raise LMError(f"got {len(questions)} questions but {len(answers)} answers to inspect")
    n = len(answers)
    if n == 0:
        return np.zeros((0, len(FEATURES))), []
    clean = [a.strip() for a in answers]
    prompts, conts = [], []
    for q, a in zip(questions, clean):
        prompts.append(INSPECT_PROMPT.format(question=q.strip()))
        conts.append(a)
        verdict = VERDICT_PROMPT.format(question=q.strip(), answer=a)
        prompts += [verdict, verdict]
        conts += list(VERDICTS)
    scores, costs = timed_logprob(scorer, prompts, conts)
    scores = np.asarray(scores, dtype=np.float64).reshape(n, 3)
    if not np.all(np.isfinite(scores)):
        raise LMError(f"scorer {scorer.name!r} returned non-finite log-probabilities")
    feats = np.column_stack([
        scores[:, 0] / np.maximum(1, [len(a) for a in clean]),
        scores[:, 1] - scores[:, 2],
        [1.0 if has_final(a) else 0.0 for a in clean],
        np.log1p([len(a) for a in clean]),
    ])
    per = [costs[3 * i] + costs[3 * i + 1] + costs[3 * i + 2] for i in range(n)]
    return feats, per


@dataclass(frozen=True)
class Inspector:
    """A fitted logistic inspector (see the module docstring); arrays are stored as tuples, one per feature."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    l2: float

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``p(correct)`` for each row of ``features`` ``(N, d)``, in ``(0, 1)``."""
        x = _matrix(features, len(self.weights))
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return special.expit(z @ np.asarray(self.weights) + self.bias)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "scale": list(self.scale), "weights": list(self.weights),
                "bias": self.bias, "l2": self.l2, "features": list(FEATURES)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inspector:
        return cls(tuple(map(float, data["mean"])), tuple(map(float, data["scale"])),
                   tuple(map(float, data["weights"])), float(data["bias"]), float(data["l2"]))


def _matrix(features: np.ndarray, d: int | None = None) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or (d is not None and x.shape[1] != d):
        raise ValueError(f"features must have shape (N, {d if d is not None else 'd'}), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("features must be finite")
    return x


def logistic_objective(theta: np.ndarray, z: np.ndarray, y: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    """The regularised negative log-likelihood of the module docstring and its gradient; ``theta = (w, b)``."""
    n = len(y)
    u = z @ theta[:-1] + theta[-1]
    loss = float(np.sum(np.logaddexp(0.0, u) - y * u) / n + l2 / (2 * n) * theta @ theta)
    r = special.expit(u) - y
    grad = np.append(z.T @ r, r.sum()) / n + l2 / n * theta
    return loss, grad


def fit_inspector(features: np.ndarray, correct: np.ndarray, l2: float = 1.0) -> Inspector:
    """Fits the inspector on training features ``(N, d)`` and 0/1 labels ``(N,)`` (1: the answer was correct).

    Raises:
        ValueError: empty or mismatched data, non-binary labels, or ``l2 <= 0``.
    """
    x = _matrix(features)
    y = np.asarray(correct, dtype=np.float64)
    if x.shape[0] == 0 or y.shape != (x.shape[0],):
        raise ValueError(f"need N >= 1 feature rows and N labels, got {x.shape} and {y.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("inspector labels must be 0/1")
    if not (l2 > 0 and math.isfinite(l2)):
        raise ValueError(f"l2 must be a positive number, got {l2}")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    z = (x - mean) / scale
    res = optimize.minimize(logistic_objective, np.zeros(x.shape[1] + 1), args=(z, y, l2), jac=True,
                            method="L-BFGS-B", options={"gtol": 1e-10, "ftol": 1e-14, "maxiter": 1000})
    theta = res.x
    return Inspector(tuple(mean.tolist()), tuple(scale.tolist()), tuple(theta[:-1].tolist()), float(theta[-1]),
                     float(l2))


class SquadModel:
    """A Receiver with an inspector-gated corrector (Aligner squad), behind the :class:`llm.lm.LanguageModel`
    protocol.

    For each answer ``y_o`` the inspector gives ``p = p(correct | x, y_o)``; the corrector rewrites ``y_o`` iff
    ``p < threshold``. ``last`` holds the latest call's :class:`llm.methods.aligner.Correction` per prompt (with
    ``fired`` and ``p_correct``); ``extra`` sums their costs (scoring always, correction when fired).

    Args:
        base: the Receiver.
        corrector: the trained correction model.
        scorer: the LM whose log-probabilities feed the inspector.
        inspector: the fitted classifier.
        threshold: fire below this probability of being correct (0: never, 1: always).
        has_final: the ``has_final_answer`` feature: the task's :meth:`llm.tasks.task.Task.has_final_answer`.
        correction_tokens, answer_tokens, name: as in :class:`llm.methods.aligner.AlignedModel`.
    """

    def __init__(self, base: LanguageModel, corrector: LanguageModel, scorer: LanguageModel, inspector: Inspector,
                 *, threshold: float = 0.5, has_final: Callable[[str], bool],
                 correction_tokens: int | None = None, answer_tokens: int = 128, name: str | None = None) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise LMError(f"the inspector threshold must lie in [0, 1], got {threshold}")
        self.base, self.corrector, self.scorer, self.inspector = base, corrector, scorer, inspector
        self.threshold = threshold
        self.has_final = has_final
        self.correction_tokens = correction_tokens
        self.answer_tokens = answer_tokens
        self.name = name or f"{base.name}+aligner-squad"
        self.capabilities = replace(base.capabilities, white_box=False)
        self.last: list[Correction] = []
        self.extra = Cost()

    def inspect(self, prompts: Sequence[Prompt], answers: Sequence[str]) -> tuple[np.ndarray, list[Cost]]:
        """``p(correct)`` per answer and the scoring cost of each."""
        feats, costs = answer_features(self.scorer, [question_text(p) for p in prompts], answers, self.has_final)
        return self.inspector.predict(feats), costs

    def correct(self, prompts: Sequence[Prompt], answers: Sequence[str], max_new_tokens: int = 128,
                seed: int = 0) -> list[Correction]:
        """Inspects every answer and corrects those below the threshold."""
        if len(prompts) != len(answers):
            raise LMError(f"got {len(prompts)} prompts but {len(answers)} answers to correct")
        p, costs = self.inspect(prompts, answers)
        fire = [i for i in range(len(answers)) if p[i] < self.threshold]
        finals, fix_costs = run_corrector(self.corrector, [question_text(prompts[i]) for i in fire],
                                          [answers[i] for i in fire],
                                          max_new_tokens=self.correction_tokens or max_new_tokens, seed=seed)
        final = list(answers)
        for k, i in enumerate(fire):
            final[i] = finals[k]
            costs[i] = costs[i] + fix_costs[k]
        out = [Correction(answers[i], final[i], i in fire, float(p[i]), costs[i]) for i in range(len(answers))]
        self.last = out
        for c in out:
            self.extra = self.extra + c.cost
        return out

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int = 128, temperature: float = 0.0,
                 seed: int = 0, stop: Sequence[str] = ()) -> list[Generation]:
        """The Receiver's answers, corrected where the inspector doubts them."""
        gens = self.base.generate(prompts, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
                                  stop=stop)
        fixes = self.correct(prompts, [g.text for g in gens], max_new_tokens=max_new_tokens, seed=seed)
        return [Generation(f.final, g.prompt_tokens, g.new_tokens + f.cost.new_tokens, g.finish_reason)
                for g, f in zip(gens, fixes)]

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        """The greedy stacked system's ``log p(c | x)``: ``log mu(c | x, y_o*)`` where the inspector fires, else
        0 if ``c`` is ``y_o*`` (up to surrounding whitespace) and ``-inf`` otherwise."""
        gens = self.base.generate(prompts, max_new_tokens=self.answer_tokens)
        answers = [g.text for g in gens]
        p, _ = self.inspect(prompts, answers)
        out = np.where([c.strip() == a.strip() for c, a in zip(continuations, answers)], 0.0, -np.inf)
        fire = [i for i in range(len(answers)) if p[i] < self.threshold]
        if fire:
            ctx = [aligner_prompt(question_text(prompts[i]), answers[i]) for i in fire]
            out[fire] = self.corrector.logprob(ctx, [continuations[i] for i in fire])
        return out.astype(np.float64)

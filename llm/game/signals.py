"""Signals: the text the Advisor writes after observing the question ``x`` and the information item ``omega``.

A committed scheme ``pi(sigma | omega)`` picks which item the signal speaks for (:func:`draw_signal_item`; under
the revelation principle the signal recommends an item), and the Advisor turns that item into text
(:func:`advisor_signals`, prompt :data:`llm.game.prompts.ADVISOR_PROMPT`). :func:`template_signal` is the model-free
signal built from the item's ``hint_text``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from llm.game.catalogue import Item
from llm.game.prompts import ADVISOR_STOP, SIGNAL_TEMPLATE, advisor_prompt, one_line
from llm.lm import LanguageModel, LMError
from persuasion.errors import GameError


@dataclass(frozen=True)
class Signal:
    """A signal sent to the Receiver.

    Attributes:
        item_id: the item ``sigma`` the signal speaks for (the recommendation, in revelation-principle terms).
        text: the text shown to the Receiver (one line).
        source: ``"advisor"`` (generated) or ``"template"`` (from the item's ``hint_text``).
    """

    item_id: str
    text: str
    source: str


def template_signal(item: Item) -> Signal:
    """The model-free signal :data:`llm.game.prompts.SIGNAL_TEMPLATE` for ``item``."""
    return Signal(item.id, SIGNAL_TEMPLATE.format(name=item.name, hint_text=item.hint_text), "template")


def clean_signal(text: str, stop: Sequence[str] = ADVISOR_STOP) -> str:
    """The Advisor's raw text cut at the first stop string, with whitespace collapsed to one line."""
    cut = len(text)
    for s in stop:
        k = text.find(s)
        if k >= 0:
            cut = min(cut, k)
    return one_line(text[:cut])


def advisor_signals(
    advisor: LanguageModel,
    questions: Sequence[str],
    items: Sequence[Item],
    *,
    max_new_tokens: int = 48,
    temperature: float = 0.0,
    seed: int = 0,
    chat: bool = False,
) -> list[Signal]:
    """The Advisor's signals for ``(question, item)`` pairs, with one ``advisor.generate`` call.

    Args:
        advisor: the Advisor (any :class:`llm.lm.LanguageModel`).
        questions: ``N`` questions ``x``.
        items: ``N`` items, the item each signal speaks for.
        max_new_tokens: generation budget per signal.
        temperature: 0 for greedy decoding.
        seed: sampling seed passed to the model.
        chat: send the prompt as one user message (for instruction-tuned Advisors) instead of plain text.

    Returns:
        ``N`` signals; a text that comes back empty after :func:`clean_signal` is replaced by
        :func:`template_signal` (``source="template"``).
    """
    if len(questions) != len(items):
        raise GameError(f"got {len(questions)} questions but {len(items)} items; pass one item per question")
    if not questions:
        return []
    texts = [advisor_prompt(q, it.name, it.description) for q, it in zip(questions, items)]
    prompts = [[{"role": "user", "content": t}] for t in texts] if chat else texts
    outs = advisor.generate(prompts, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
                            stop=ADVISOR_STOP)
    if len(outs) != len(prompts):
        raise LMError(
            f"advisor {getattr(advisor, 'name', '?')!r} returned {len(outs)} generations for {len(prompts)} prompts"
        )
    signals = []
    for out, item in zip(outs, items):
        text = clean_signal(out.text)
        signals.append(Signal(item.id, text, "advisor") if text else template_signal(item))
    return signals


def advisor_signal(advisor: LanguageModel, question: str, item: Item, **kwargs: object) -> Signal:
    """The Advisor's signal for one question and item; keyword arguments as in :func:`advisor_signals`."""
    return advisor_signals(advisor, [question], [item], **kwargs)[0]  # type: ignore[arg-type]


def draw_signal_item(scheme: np.ndarray, state: int, rng: np.random.Generator) -> int:
    """Draws the signal ``sigma ~ pi(. | omega)`` for state index ``omega = state``; ``scheme`` has shape ``(m, k)``."""
    pi = np.asarray(scheme, dtype=float)
    if pi.ndim != 2 or not 0 <= int(state) < pi.shape[0]:
        raise GameError(f"state {state!r} out of range for a scheme of shape {pi.shape}")
    row = pi[int(state)]
    if not np.all(np.isfinite(row)) or np.any(row < -1e-12) or abs(row.sum() - 1.0) > 1e-6:
        raise GameError(f"scheme row {int(state)} is not a probability distribution: {row.tolist()}")
    row = np.clip(row, 0.0, None)
    return int(rng.choice(row.shape[0], p=row / row.sum()))

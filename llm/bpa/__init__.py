"""Bayesian Persuasion Alignment end to end, one module per phase (``docs/method.md`` has the maths):

1. :mod:`llm.bpa.feedback`: the training Receiver's success rate on each training problem with each item's
   information (``k`` sampled answers per cell), ``none`` included;
2. :mod:`llm.bpa.game`: the problem's state is the item that helps; the empirical game and the Advisor's scheme;
3. :mod:`llm.bpa.training`: the Advisor's state model (:mod:`llm.bpa.state`) and its signal writer, trained from
   counterfactual credit (success with a signal minus success without);
4. :mod:`llm.bpa.evaluation`: the paper's conditions (``baseline``, ``prior``, ``posterior``, ``signal``) and the
   analysis conditions (``random``, ``oracle``) beside the decoupled methods, on the test split;
5. :mod:`llm.bpa.report`: summaries with intervals, paired tests and minimum detectable effects; plots.

:func:`llm.bpa.pipeline.run` drives them. Names are imported lazily so that :mod:`llm.methods.pipeline` can use
:mod:`llm.bpa.context` without importing the phases that use it (no import cycle).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BPAConfig": "config", "check_config": "config", "training_task": "config",
    "Context": "context", "answer": "context", "receiver_prompts": "context", "uses_chat": "context",
    "collect_feedback": "feedback",
    "solve_game": "game", "problem_states": "game", "item_rates": "game", "helpful_game": "game",
    "GainModel": "state", "fit_gain_model": "state", "cross_fit": "learnability", "placebo_check": "learnability",
    "split_sample": "learnability",
    "train_advisor": "training", "signal_rewards": "training", "advisor_examples": "training",
    "evaluate": "evaluation",
    "summarize": "report", "summary_markdown": "report", "methods_markdown": "report", "by_information": "report",
    "speaking_rate": "report", "hint_flip_rate": "report", "prompt_change_rate": "report",
    "run": "pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"llm.bpa.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'llm.bpa' has no attribute {name!r}")

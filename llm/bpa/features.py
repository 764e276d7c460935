"""The feature blocks the Advisor's state model reads (:mod:`llm.bpa.state` states the maths).

Features are computed the same way for training and test problems, from the *training* Receiver (a fixed feature
extractor: the Advisor trained on one Receiver's feedback carries the same features to another):

* ``words``: the question's hashed words (:func:`llm.bpa.state.featurize`), no model;
* ``prior``: the training Receiver's measured prior ``mu_x^0`` over the items (:func:`llm.game.beliefs.receiver_beliefs`;
  needs token log-probabilities);
* ``hidden``: the training Receiver's mean-pooled last hidden state of the question (needs its weights: a local
  Receiver whose answers run on vLLM gets them from the transformers backend,
  :meth:`llm.bpa.context.Context.white_box_model`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from llm.bpa.context import Context, question
from llm.bpa.state import featurize, normalise
from llm.lm import LMError, white_box


def feature_blocks(ctx: Context, problems: Sequence[Any], kinds: Sequence[str]) -> dict[str, np.ndarray]:
    """``{kind: (N, d_kind)}`` for ``problems`` (``none`` needs nothing).

    Raises:
        LMError: ``prior`` of a Receiver without log-probabilities, or ``hidden`` of one without white-box access.
    """
    questions = [question(p) for p in problems]
    out: dict[str, np.ndarray] = {}
    if "words" in kinds:
        out["words"] = featurize(questions)
    spec = ctx.config.training_receiver
    if "prior" in kinds:
        model = ctx.model(spec)
        if not model.capabilities.token_logprobs:
            raise LMError(f"state features 'prior' need the training Receiver's log-probabilities; {spec} gives none")
        from llm.game.beliefs import receiver_beliefs

        out["prior"] = normalise(receiver_beliefs(model, questions, ctx.catalogue))
    if "hidden" in kinds:
        model = ctx.white_box_model(spec)
        if not model.capabilities.white_box:
            raise LMError(f"state features 'hidden' need a white-box training Receiver; {spec} is not one")
        out["hidden"] = normalise(white_box(model).embed(questions))
    return out

"""Decoupled alignment methods, compared side by side with Bayesian persuasion on the same Receivers and tasks.

Each method plugs into a fixed Receiver and adds evaluation conditions to the BPA pipeline (:mod:`llm.bpa`):

* ``baseline``: the Receiver alone (condition ``baseline``);
* ``bpa``: Bayesian persuasion (conditions ``prior``, ``posterior``, ``signal``, ``random``, ``matched``, ``oracle``; see
  ``docs/method.md``);
* ``aligner``: a trained corrector rewrites every answer (:mod:`llm.methods.aligner`, Ji et al. 2024);
* ``aligner-squad``: an inspector picks the answers the corrector rewrites (:mod:`llm.methods.inspector`,
  Ngweta et al. 2024);
* ``linear-alignment``: principle-contrastive decoding of a white-box Receiver
  (:mod:`llm.methods.linear_alignment`, Gao et al. 2024).

DAPA (:mod:`llm.methods.dapa`, Luo et al. 2024) is the fifth method: it changes weights (a few modules of an aligned
model transplanted into an unaligned one of the same architecture, found by delta debugging), so it adds no
evaluation condition here and has its own entry point, ``experiments/dapa.py``.

Every method is compared with the baseline on the same problems (paired), and charged for its inference work
(:mod:`llm.methods.cost`). The wrappers :class:`AlignedModel`, :class:`SquadModel` and :class:`LinearAlignedModel`
implement :class:`llm.lm.LanguageModel`, so any code that takes a model can use an aligned one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llm.methods.aligner import AlignedModel, Correction, QARecord, train_corrector
from llm.methods.cost import Cost, Metered
from llm.methods.inspector import Inspector, SquadModel, answer_features, fit_inspector

if TYPE_CHECKING:
    from llm.methods.linear_alignment import LinearAlignedModel

#: Bayesian persuasion's conditions (``docs/method.md``): the paper's ``prior``/``posterior``/``signal`` and the
#: analysis conditions ``random`` (a uniform item), ``matched`` (a uniform hint on the share of problems the Advisor
#: speaks on) and ``oracle`` (the hindsight-best item: an upper bound).
BPA_CONDITIONS = ("baseline", "prior", "posterior", "signal", "random", "matched", "oracle")
METHOD_CONDITIONS = ("aligner", "aligner-squad", "linear-alignment")
CONDITIONS = BPA_CONDITIONS + METHOD_CONDITIONS
#: Older names accepted for a condition.
CONDITION_ALIASES = {"persuasion": "signal"}


@dataclass(frozen=True)
class Method:
    """A method of the comparison: the evaluation conditions it needs (the baseline always, for paired tests)."""

    name: str
    conditions: tuple[str, ...]
    description: str


METHODS: dict[str, Method] = {
    "baseline": Method("baseline", ("baseline",), "the Receiver alone"),
    "bpa": Method("bpa", BPA_CONDITIONS, "Bayesian persuasion: a trained Advisor's signal, drawn by the LP scheme"),
    "aligner": Method("aligner", ("baseline", "aligner"), "a trained corrector rewrites every answer"),
    "aligner-squad": Method("aligner-squad", ("baseline", "aligner-squad"),
                            "an inspector decides which answers the corrector rewrites"),
    "linear-alignment": Method("linear-alignment", ("baseline", "linear-alignment"),
                               "decoding with (1+r) l_principle - r l_plain within the principled top-p nucleus"),
}

#: The method each evaluation condition belongs to (``prior`` is BPA's no-Advisor ablation).
METHOD_OF_CONDITION: dict[str, str] = {"baseline": "baseline", **{c: "bpa" for c in BPA_CONDITIONS[1:]},
                                       **{c: c for c in METHOD_CONDITIONS}}


def parse_methods(spec: str) -> tuple[str, ...]:
    """``"all"`` or a comma-separated list of :data:`METHODS` names, in registry order.

    Raises:
        ValueError: an unknown or empty method list.
    """
    names = [s.strip() for s in str(spec).split(",") if s.strip()]
    if names == ["all"]:
        return tuple(METHODS)
    bad = [n for n in names if n not in METHODS]
    if bad or not names:
        raise ValueError(f"unknown method(s) {bad or [spec]}; choose from {list(METHODS)} or 'all'")
    return tuple(m for m in METHODS if m in names)


def conditions_for(methods: tuple[str, ...]) -> tuple[str, ...]:
    """The evaluation conditions of ``methods``, in :data:`CONDITIONS` order."""
    wanted = {c for m in methods for c in METHODS[m].conditions}
    return tuple(c for c in CONDITIONS if c in wanted)


@dataclass(frozen=True)
class MethodsConfig:
    """Settings of the decoupled methods (saved in ``config.json`` with the rest of :class:`llm.bpa.config.BPAConfig`).

    Attributes:
        corrector: the corrector's start model (default: the Advisor's); also the inspector's scorer.
        aligner_epochs, aligner_lr, aligner_batch, aligner_max_steps: corrector SFT.
        aligner_warmup: identity warm-up (one epoch on Q-A-A) before the Q-A-C training.
        correction_tokens: the corrector's token budget (default: the Receiver's ``max_new_tokens``).
        squad_threshold: the corrector fires when the inspector's ``p(correct)`` is below this.
        inspector_l2: the inspector's L2 penalty ``lambda``.
        la_ratio, la_top_p: Linear Alignment's ``r`` and nucleus mass ``p``.
        la_principle: the principle (default: ``PRINCIPLES`` of the task kind).
    """

    corrector: str | None = None
    aligner_epochs: int = 2
    aligner_lr: float = 5e-5
    aligner_batch: int = 4
    aligner_max_steps: int | None = None
    aligner_warmup: bool = False
    correction_tokens: int | None = None
    squad_threshold: float = 0.5
    inspector_l2: float = 1.0
    la_ratio: float = 1.0
    la_top_p: float = 0.9
    la_principle: str | None = None

    def __post_init__(self) -> None:
        if self.aligner_epochs < 1 or self.aligner_batch < 1:
            raise ValueError("aligner_epochs and aligner_batch must be >= 1")
        if self.correction_tokens is not None and self.correction_tokens < 1:
            raise ValueError(f"correction_tokens must be >= 1, got {self.correction_tokens}")
        if not 0.0 <= self.squad_threshold <= 1.0:
            raise ValueError(f"squad_threshold must lie in [0, 1], got {self.squad_threshold}")
        if not self.inspector_l2 > 0:
            raise ValueError(f"inspector_l2 must be > 0, got {self.inspector_l2}")
        if not (math.isfinite(self.la_ratio) and self.la_ratio >= 0):
            raise ValueError(f"la_ratio must be a finite number >= 0, got {self.la_ratio}")
        if not 0 < self.la_top_p <= 1:
            raise ValueError(f"la_top_p must lie in (0, 1], got {self.la_top_p}")


def __getattr__(name: str) -> Any:  # torch is imported only when Linear Alignment is used
    if name == "LinearAlignedModel":
        from llm.methods.linear_alignment import LinearAlignedModel

        return LinearAlignedModel
    raise AttributeError(f"module 'llm.methods' has no attribute {name!r}")


__all__ = [
    "BPA_CONDITIONS",
    "CONDITIONS",
    "CONDITION_ALIASES",
    "METHODS",
    "METHOD_CONDITIONS",
    "METHOD_OF_CONDITION",
    "AlignedModel",
    "Correction",
    "Cost",
    "Inspector",
    "LinearAlignedModel",
    "Metered",
    "Method",
    "MethodsConfig",
    "QARecord",
    "SquadModel",
    "answer_features",
    "conditions_for",
    "fit_inspector",
    "parse_methods",
    "train_corrector",
]

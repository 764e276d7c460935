"""One Bayesian Persuasion Alignment experiment, as a frozen dataclass; the experiment CLIs are derived from it.

Every field is documented under *Attributes* below: :func:`llm.experiment_cli.build_parser` turns each field into
a command-line option (``--train-limit`` for ``train_limit``) with that text as its help, so options and defaults
are stated once, here.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from llm.methods import BPA_CONDITIONS, CONDITIONS, CONDITION_ALIASES, MethodsConfig
from llm.tasks.registry import TASKS

SCHEMES = ("robust", "plugin")
FEEDBACK_DESIGNS = ("grid", "adaptive")
#: Fields that may change when a folder is resumed (they do not change what was trained or measured).
RESUMABLE_CHANGES = ("limit", "receivers", "conditions", "batch_size", "chunk", "device", "dtype", "engine",
                     "timeout", "max_retries", "preregister")


@dataclass(frozen=True)
class BPAConfig:
    """One experiment; saved next to its results (``config.json``).

    Attributes:
        task: task evaluated on its test split (gsm8k, synthetic, humaneval, mbpp).
        train_task: task whose train split gives the feedback that trains the Advisor (default: task; mbpp for
            humaneval, which has only a test split).
        catalogue: information items, a built-in name or a JSON path (a 'none' item is always added).
        advisor: the Advisor's signal writer (short name, local folder, hub id), or 'template' (no language
            model: the Advisor sends the catalogue's hints for the items its scheme picks).
        receivers: the Receivers (short names, folders, hub ids, 'simulated', or http(s)://host/v1#model).
        train_receiver: the Receiver whose feedback trains the Advisor (default: the first).
        data: data root or file (default: $PERSUASION_DATA, then ../shared/data).
        limit: test problems (the whole split: 0 on the command line, None in Python).
        train_limit: training problems for feedback.
        conditions: evaluation conditions (comma-separated): baseline, prior, posterior, signal, random, oracle
            and the decoupled methods' (persuasion is an alias of signal).
        samples: k, the Receiver's sampled answers per (training problem, information) cell.
        temperature: sampling temperature of those k answers (> 0).
        feedback_design: grid (every cell gets k answers) or adaptive (every cell gets first_samples, then, doubling
            up to k, only the cells whose item may still beat silence on the problem, and their problem's none
            cell; docs/method.md "Feedback at scale").
        first_samples: the adaptive design's first round: answers per cell (capped at samples).
        elimination_level: the adaptive design's delta: an item's cell stops once the posterior probability that
            it beats silence on its problem (uniform Beta priors) falls below it.
        eval_temperature: the Receiver's decoding at evaluation: 0 is greedy; set it to temperature to decode at
            test as in feedback (docs/method.md "Feedback at scale").
        signal_candidates: Advisor-written signals per (training problem, item), each scored like an item (0: the
            Advisor sends the catalogue's template hints and is not fine-tuned).
        scheme: the signalling scheme used: robust (the robust online learner's) or plugin (the LP on the
            empirical game); both are reported.
        state_features: the candidate feature sets of the Advisor's state model, comma-separated, each '+'-joined
            from words (the question's words), prior (the training Receiver's measured prior), hidden (its
            mean-pooled hidden state: white-box Receivers) or none (an ablation that ignores the problem);
            cross-fitting on the training problems picks one.
        tau: the do-no-harm threshold: the Advisor speaks only when a lower confidence bound of the predicted gain
            exceeds it (default: chosen by cross-fitting; never speaking if nothing beats silence out of sample).
        confidence: one-sided level of that lower bound and of a credibly positive training state.
        folds: folds of the cross-fitting over training problems.
        preregister: a Markdown file: written with the trained design and the Advisor's hash before any test
            problem is answered (the run then stops); if it exists, the run checks the hash and evaluates.
        follow_cost: c, the Receiver's cost of acting on a hint (0: the game where it wants the helpful item, full
            disclosure optimal; c > 0: the game where commitment matters, u_R = success - c for acting on a hint,
            and the scheme is published to every Receiver that accepts a commitment before evaluation).
        max_new_tokens: the Receiver's answer budget (default: the task's).
        signal_tokens: the Advisor's signal budget.
        chat: auto (chat template if the model has one), yes or no.
        shots: few-shot examples in the Receiver's prompt (default: the task's recommended count, GSM8K 5, MBPP 3,
            synthetic 3, HumanEval 0; measured in docs/results/few-shot.md).
        sft_epochs: epochs of the Advisor's SFT.
        sft_lr: learning rate of the Advisor's SFT (DPO uses a fifth of it).
        sft_batch: batch size of the Advisor's SFT and DPO.
        sft_max_steps: cap on SFT/DPO steps.
        dpo: follow SFT with DPO on pairs of signals for the same problem and item.
        seed: master seed (every draw is a function of it, the problem and the condition).
        batch_size: prompts per model call.
        chunk: problems per resumable chunk.
        device: local model placement (default: automatic).
        dtype: local model dtype (default: automatic).
        engine: what runs local Receivers: 'vllm' (llm.backends.vllm), 'hf' (transformers), or 'auto': vllm where
            it is installed and the run needs no white-box Receiver (linear-alignment; hidden features are read from the
            same weights on transformers) ($PERSUASION_ENGINE=hf|vllm decides 'auto');
            chosen in llm.bpa.context.config_loader.
        timeout: seconds before an HTTP request is retried.
        max_retries: retries of a failed HTTP request.
        methods: settings of the decoupled alignment methods (llm.methods.MethodsConfig).
    """

    task: str = "gsm8k"
    train_task: str | None = None
    catalogue: str = "math"
    advisor: str = "smollm2-135m"
    receivers: tuple[str, ...] = ("smollm2-135m",)
    train_receiver: str | None = None
    data: str | None = None
    limit: int | None = 20
    train_limit: int = 16
    conditions: tuple[str, ...] = BPA_CONDITIONS
    samples: int = 4
    temperature: float = 0.7
    feedback_design: str = "grid"
    first_samples: int = 2
    elimination_level: float = 0.1
    eval_temperature: float = 0.0
    signal_candidates: int = 2
    scheme: str = "robust"
    state_features: str = "words"
    tau: float | None = None
    confidence: float = 0.95
    folds: int = 5
    preregister: str | None = None
    follow_cost: float = 0.0
    max_new_tokens: int | None = None
    signal_tokens: int = 48
    chat: str = "auto"
    shots: int | None = None
    sft_epochs: int = 2
    sft_lr: float = 5e-5
    sft_batch: int = 4
    sft_max_steps: int | None = None
    dpo: bool = False
    seed: int = 0
    batch_size: int = 8
    chunk: int = 8
    device: str | None = None
    dtype: str | None = None
    engine: str = "auto"
    timeout: float = 60.0
    max_retries: int = 5
    methods: MethodsConfig = field(default_factory=MethodsConfig)

    def __post_init__(self) -> None:
        if self.engine not in ("auto", "hf", "vllm"):
            raise ValueError(f"engine must be auto, hf or vllm, got {self.engine!r}")
        conds = tuple(CONDITION_ALIASES.get(c, c) for c in self.conditions)
        bad = sorted(set(conds) - set(CONDITIONS))
        if bad:
            raise ValueError(f"unknown condition(s) {bad}; choose from {list(CONDITIONS)}")
        object.__setattr__(self, "conditions", tuple(dict.fromkeys(conds)))
        object.__setattr__(self, "receivers", tuple(self.receivers))
        if not self.receivers:
            raise ValueError("at least one --receiver is needed")
        if self.chat not in ("auto", "yes", "no"):
            raise ValueError(f"chat must be auto, yes or no, got {self.chat!r}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1 (the whole split: --limit 0, or None in Python), got {self.limit}")
        for name in ("train_limit", "samples", "signal_tokens", "batch_size", "chunk", "sft_epochs", "sft_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.signal_candidates < 0 or self.max_retries < 0 or (self.shots is not None and self.shots < 0):
            raise ValueError("signal_candidates, max_retries and shots must be >= 0")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be > 0 (k sampled answers), got {self.temperature}")
        if self.feedback_design not in FEEDBACK_DESIGNS:
            raise ValueError(f"feedback_design must be one of {FEEDBACK_DESIGNS}, got {self.feedback_design!r}")
        if self.first_samples < 1:
            raise ValueError(f"first_samples must be >= 1, got {self.first_samples}")
        if not 0 < self.elimination_level < 0.5:
            raise ValueError(f"elimination_level must be in (0, 0.5), got {self.elimination_level}")
        if not (math.isfinite(self.eval_temperature) and self.eval_temperature >= 0):
            raise ValueError(f"eval_temperature must be >= 0 (0: greedy), got {self.eval_temperature}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if not (math.isfinite(self.follow_cost) and 0.0 <= self.follow_cost <= 1.0):
            raise ValueError(f"follow_cost must be in [0, 1], got {self.follow_cost}")
        from llm.bpa.state import parse_features

        for candidate in self.feature_candidates:
            parse_features(candidate)
        if self.tau is not None and not math.isfinite(self.tau) and self.tau != math.inf:
            raise ValueError(f"tau must be a number, got {self.tau}")
        if not 0.5 <= self.confidence < 1:
            raise ValueError(f"confidence must be in [0.5, 1), got {self.confidence}")
        if self.folds < 2:
            raise ValueError(f"folds must be >= 2, got {self.folds}")

    @property
    def feature_candidates(self) -> tuple[str, ...]:
        """The candidate feature sets of ``state_features``."""
        got = tuple(c.strip() for c in str(self.state_features).split(",") if c.strip())
        if not got:
            raise ValueError(f"state_features needs at least one feature set, got {self.state_features!r}")
        return got

    @property
    def training_receiver(self) -> str:
        """The Receiver whose feedback trains the Advisor."""
        return self.train_receiver or self.receivers[0]

    @property
    def training_task(self) -> str:
        """The task whose train split trains the Advisor and the corrector (the task's ``train_task``: HumanEval has
        no train split, MBPP's trains)."""
        own = TASKS[self.task].train_task if self.task in TASKS else None
        return self.train_task or own or self.task

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (tuples become lists), as written to ``config.json``."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BPAConfig":
        """The inverse of :meth:`to_dict` (unknown keys are refused in one line)."""
        known = {f.name for f in fields(cls)}
        bad = sorted(set(data) - known)
        if bad:
            raise ValueError(f"unknown BPAConfig field(s) {bad}")
        data = dict(data)
        if "methods" in data and isinstance(data["methods"], dict):
            data["methods"] = MethodsConfig(**data["methods"])
        for key in ("receivers", "conditions"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


def training_task(config: BPAConfig) -> str:
    """The task whose train split trains the Advisor and the corrector (see :attr:`BPAConfig.training_task`)."""
    return config.training_task


def check_config(out: Path, config: BPAConfig) -> None:
    """Refuses to resume ``out`` with a different configuration.

    Only :data:`RESUMABLE_CHANGES` may differ; a setting missing from an older ``config.json`` counts as its
    default. A different training Receiver is allowed: its feedback and Advisor are kept apart (``training/``).
    """
    path = out / "config.json"
    if not path.exists():
        return
    old = json.loads(path.read_text())
    new, default = config.to_dict(), BPAConfig().to_dict()
    changed = sorted(k for k in new if k not in RESUMABLE_CHANGES + ("train_receiver",)
                     and old.get(k, default.get(k)) != new[k])
    if changed:
        raise ValueError(f"{out} holds a run with a different configuration ({', '.join(changed)}); "
                         "use another --out or delete it")

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

SCHEMES = ("robust", "plugin")
STATE_FEATURES = ("words", "none")
#: Fields that may change when a folder is resumed (they do not change what was trained or measured).
RESUMABLE_CHANGES = ("limit", "receivers", "conditions", "batch_size", "chunk", "device", "dtype", "timeout",
                     "max_retries")


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
        signal_candidates: Advisor-written signals per (training problem, item), each scored like an item (0: the
            Advisor sends the catalogue's template hints and is not fine-tuned).
        scheme: the signalling scheme used: robust (the robust online learner's) or plugin (the LP on the
            empirical game); both are reported.
        state_features: what the Advisor's state model reads: words (the question's words) or none (an
            ablation that ignores the problem).
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
    signal_candidates: int = 2
    scheme: str = "robust"
    state_features: str = "words"
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
    timeout: float = 60.0
    max_retries: int = 5
    methods: MethodsConfig = field(default_factory=MethodsConfig)

    def __post_init__(self) -> None:
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
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if self.state_features not in STATE_FEATURES:
            raise ValueError(f"state_features must be one of {STATE_FEATURES}, got {self.state_features!r}")

    @property
    def training_receiver(self) -> str:
        """The Receiver whose feedback trains the Advisor."""
        return self.train_receiver or self.receivers[0]

    @property
    def training_task(self) -> str:
        """The task whose train split trains the Advisor and the corrector (HumanEval has none: MBPP's)."""
        return self.train_task or ("mbpp" if self.task == "humaneval" else self.task)

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

"""What every phase shares: the loaded run (:class:`Context`), the Receiver's prompts and graded answers.

Information reaches the Receiver's answer prompt only through the task (:meth:`llm.tasks.task.Task.prompt`
with ``hint=``), which places it where the task expects it (a line before a math question, a top-of-file comment
in completion-style code). The ``none`` item puts nothing there: its prompt is the baseline's.
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from llm.backends.registry import LOCAL, backend_of
from llm.bpa.config import BPAConfig
from llm.game.catalogue import NONE_ID, Catalogue, Item
from llm.game.signals import template_signal
from llm.lm import Generation, LanguageModel, PartialResults, Prompt
from llm.runinfo import engine
from llm.tasks.task import Task


def rng(*parts: Any) -> np.random.Generator:
    """A generator that depends only on ``parts`` (stable across runs, resumes and Receivers' names)."""
    return np.random.default_rng(zlib.crc32("|".join(map(str, parts)).encode()))


def chunks(seq: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """``seq`` cut into consecutive pieces of ``size``."""
    return [seq[i : i + size] for i in range(0, len(seq), size)]


def question(problem: Any) -> str:
    """The text the Advisor and the belief prompts see: a math question, or a code problem's prompt."""
    return getattr(problem, "question", None) or getattr(problem, "prompt")


def uses_chat(model: LanguageModel, mode: str) -> bool:
    """Whether prompts for ``model`` are chats (``auto``: the model renders chats itself)."""
    if mode != "auto":
        return mode == "yes"
    return model.capabilities.chat_template


def slug(spec: str) -> str:
    """A folder name for a model spec (``http://h:8000/v1#qwen`` -> ``http_h_8000_v1_qwen``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec).strip("_")[:80] + f"-{zlib.crc32(spec.encode()):08x}"


def hint_text(item: Item | None, text: str | None = None) -> str | None:
    """The information shown for ``item``: ``text`` if given (an Advisor's signal), else the item's template
    signal; ``None`` for the ``none`` item (no information)."""
    if item is None or item.id == NONE_ID:
        return text or None
    return text if text is not None else template_signal(item).text


def vllm_installed() -> bool:
    """Whether the ``vllm`` engine can be imported (asked without importing it)."""
    return importlib.util.find_spec("vllm") is not None


def receiver_engine(config: BPAConfig) -> str:
    """``"vllm"`` or ``"hf"``: what runs this run's local Receivers (the one place the engine is chosen).

    ``config.engine`` ``"hf"`` or ``"vllm"`` is taken as given; ``"auto"`` takes ``$PERSUASION_ENGINE`` (``hf`` or
    ``vllm``) if set, else vLLM where it is installed, the device is not Apple's ``mps``, and the run needs no
    white-box Receiver (``linear-alignment``). ``hidden`` state features do not need one: they come from the same
    weights on the transformers backend, loaded beside the engine (:meth:`Context.white_box_model`).
    """
    engine = config.engine
    if engine == "auto":
        engine = os.environ.get("PERSUASION_ENGINE", "").strip().lower() or "auto"
    if engine == "auto":
        white_box = "linear-alignment" in config.conditions
        engine = "vllm" if vllm_installed() and config.device != "mps" and not white_box else "hf"
    if engine not in ("hf", "vllm"):
        raise ValueError(f"PERSUASION_ENGINE must be hf or vllm, got {engine!r}")
    return engine


def run_receivers(config: BPAConfig) -> set[str]:
    """Every Receiver spec of the run: the test Receivers and the training one."""
    return set(config.receivers) | {config.training_receiver}


def local_receiver_engine(config: BPAConfig) -> str | None:
    """:func:`receiver_engine` when the run has a local Receiver, else ``None`` (an HTTP endpoint or the simulated
    Receiver is its own engine): what a results page states as the engine of its answers."""
    return receiver_engine(config) if any(backend_of(r) == LOCAL for r in run_receivers(config)) else None


def on_vllm(spec: str, config: BPAConfig) -> bool:
    """Whether the run loads ``spec`` on vLLM: a Receiver of the run (not also its Advisor) that is a local model
    (short name, folder, hub id; not an HTTP endpoint, the simulated Receiver or an explicit ``vllm:`` spec), when
    :func:`receiver_engine` chooses ``"vllm"``."""
    return (spec in run_receivers(config) and spec != config.advisor and backend_of(spec) == LOCAL
            and receiver_engine(config) == "vllm")


def config_loader(config: BPAConfig) -> Callable[[str], LanguageModel]:
    """``spec -> model`` with the config's placement (:func:`load_placed`), ``"vllm:" + spec`` where
    :func:`on_vllm` says so."""

    def load(spec: str) -> LanguageModel:
        return load_placed("vllm:" + spec if on_vllm(spec, config) else spec, config)

    return load


def load_placed(spec: str, config: BPAConfig) -> LanguageModel:
    """``spec`` loaded with the config's placement (batch, device, dtype, HTTP timeout and retries), as named."""
    from llm.backends import load_model

    return load_model(spec, batch_size=config.batch_size, device=config.device, dtype=config.dtype,
                      timeout=config.timeout, max_retries=config.max_retries)


@dataclass
class Context:
    """Loaded pieces of a run (models are loaded once and shared between phases)."""

    config: BPAConfig
    out: Path
    task: Task
    catalogue: Catalogue
    loader: Callable[[str], LanguageModel]
    _models: dict[str, LanguageModel] = field(default_factory=dict)
    log: Callable[[str], None] = print
    engines: dict[str, dict[str, Any]] = field(default_factory=dict)  # spec -> how it ran (llm.runinfo.engine)

    def model(self, spec: str) -> LanguageModel:
        if spec not in self._models:
            self.log(f"loading {spec} ...")
            self._models[spec] = self.loader(spec)
            self.engines[spec] = engine(self._models[spec])
        return self._models[spec]

    def white_box_model(self, spec: str) -> LanguageModel:
        """``spec`` with its insides reachable (hidden states): the model itself, unless the run loads it on vLLM
        (:func:`on_vllm`); then the same weights on the transformers backend (:func:`load_placed`, not the
        run's loader, which would give vLLM again), loaded once beside the engine: vLLM serves the answers,
        transformers the hidden states."""
        if not on_vllm(spec, self.config):
            return self.model(spec)
        key = f"{spec} (transformers, white-box)"
        if key not in self._models:
            self.log(f"loading {spec} on transformers for its hidden states ...")
            self._models[key] = load_placed(spec, self.config)
            self.engines[key] = engine(self._models[key])
        return self._models[key]

    def drop(self, spec: str) -> None:
        self._models.pop(spec, None)

    @property
    def train_dir(self) -> Path:
        """Where what the training Receiver's feedback produced lives (game, state model, Advisor, corrector):
        one folder per training Receiver, so a changed training Receiver retrains instead of inheriting."""
        path = self.out / "training" / slug(self.config.training_receiver)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def max_new_tokens(self) -> int:
        """The Receiver's answer budget: the config's, else the task's default."""
        return self.config.max_new_tokens or self.task.max_new_tokens


@dataclass(frozen=True)
class Answers:
    """The Receiver's graded answers to a batch of prompts (``seconds``: the whole batch)."""

    prompts: list[Prompt]
    responses: list[str]
    correct: list[bool]
    seconds: float
    new_tokens: list[int]
    prompt_tokens: list[int]
    flags: list[str | None]
    failure: PartialResults | None = None

    def complete(self, i: int) -> bool:
        """Whether answer ``i`` came back (a :class:`llm.lm.PartialResults` leaves gaps)."""
        return self.responses[i] is not None


def receiver_prompts(ctx: Context, receiver: LanguageModel, problems: Sequence[Any],
                     hints: Sequence[str | None]) -> list[Prompt]:
    """The Receiver's prompts for ``problems``, each with its information (``None``: none) placed by the task."""
    cfg = ctx.config
    chat = uses_chat(receiver, cfg.chat)
    k = ctx.task.default_shots if cfg.shots is None else cfg.shots
    shots = ctx.task.few_shot(k, seed=cfg.seed, path=cfg.data) if k else []
    return [ctx.task.prompt(p, shots, chat=chat, hint=h) for p, h in zip(problems, hints)]


def receiver_stop(ctx: Context, receiver: LanguageModel) -> tuple[str, ...]:
    """Stop strings for the Receiver: the task's for text prompts, none for chats."""
    return () if uses_chat(receiver, ctx.config.chat) else tuple(ctx.task.stop)


def answer(ctx: Context, receiver: LanguageModel, problems: Sequence[Any], hints: Sequence[str | None], *,
           temperature: float = 0.0, seed: int | None = None) -> Answers:
    """Generates and grades the Receiver's answers (greedy unless ``temperature > 0``).

    An endpoint that fails for good on some prompts (:class:`llm.lm.PartialResults`) leaves ``None`` in their
    places and the exception in ``failure``: callers persist the complete rows, then raise it.
    """
    cfg = ctx.config
    prompts = receiver_prompts(ctx, receiver, problems, hints)
    t0 = time.perf_counter()
    failure = None
    try:
        gens: list[Generation | None] = list(receiver.generate(
            prompts, max_new_tokens=ctx.max_new_tokens, temperature=temperature,
            seed=cfg.seed if seed is None else seed, stop=receiver_stop(ctx, receiver)))
    except PartialResults as exc:
        gens, failure = list(exc.results), exc
    seconds = time.perf_counter() - t0
    ok = [i for i, g in enumerate(gens) if g is not None]
    graded = ctx.task.grade_many([problems[i] for i in ok], [gens[i].text for i in ok])  # type: ignore[union-attr]
    correct: list[bool | None] = [None] * len(gens)
    for i, c in zip(ok, graded):
        correct[i] = bool(c)
    return Answers(prompts, [g.text if g else None for g in gens], correct, seconds,  # type: ignore[arg-type]
                   [g.new_tokens if g else 0 for g in gens], [g.prompt_tokens if g else 0 for g in gens],
                   [g.flag if g else None for g in gens], failure)

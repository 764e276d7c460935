"""``load_model(spec)``: one string names any model; plus the argument checks every backend shares.

Spec grammar (first match wins):

* ``simulated`` or ``simulated:PATH.json``: the simulated Receiver with a known optimum
  (:class:`llm.simulated.SimulatedReceiver`; the default spec, or the spec in that JSON file);
* ``http://...`` or ``https://...``: an OpenAI-compatible endpoint (:class:`llm.openai_http.OpenAIModel`); an
  optional ``#MODEL`` suffix names the served model, otherwise ``/v1/models`` is asked;
* a short name of :mod:`llm.models` (``smollm2-135m``, ``tiny-gpt2``, ...): materialised offline, then local;
* an existing local folder: loaded with ``transformers`` (:class:`llm.hf.HFModel`);
* anything else: a hub id (``gpt2``, ``Qwen/Qwen2.5-0.5B-Instruct``), which needs internet unless it is cached.

A hub id that cannot be loaded fails in seconds and in one line (:func:`check_hub_model`): one that is not cached
while ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set, one the hub does not know, or a hub that cannot be
reached. The hub client's own retries (about 50 s of "Retrying in 8s" lines without a network) are never entered.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Sequence

from llm.lm import LanguageModel, LMError, Message, Prompt
from llm.models import REGISTRY, _first_line, resolve, short_name


def check_prompts(prompts: Sequence[Prompt]) -> list[str | list[Message]]:
    """Validates a batch of prompts; returns them as ``str`` or ``list`` of ``{"role", "content"}`` dicts.

    Raises:
        LMError: ``prompts`` is a bare string, or a prompt is neither text nor a non-empty list of messages.
    """
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
        raise LMError(f"prompts must be a list of prompts, got {type(prompts).__name__}")
    out: list[str | list[Message]] = []
    for i, prompt in enumerate(prompts):
        if isinstance(prompt, str):
            out.append(prompt)
            continue
        if isinstance(prompt, (bytes, Mapping)) or not isinstance(prompt, Sequence) or len(prompt) == 0:
            raise LMError(f"prompt {i} must be a str or a non-empty list of messages, got {type(prompt).__name__}")
        chat = []
        for j, msg in enumerate(prompt):
            if not isinstance(msg, Mapping) or not isinstance(msg.get("role"), str) or not isinstance(
                msg.get("content"), str
            ):
                raise LMError(f"prompt {i}, message {j} must be a dict with str 'role' and 'content', got {msg!r:.80}")
            chat.append({"role": msg["role"], "content": msg["content"]})
        out.append(chat)
    return out


def check_continuations(prompts: Sequence[Prompt], continuations: Sequence[str]) -> list[str]:
    """Validates ``continuations`` against ``prompts`` (same length, all ``str``)."""
    if isinstance(continuations, (str, bytes)) or not isinstance(continuations, Sequence):
        raise LMError(f"continuations must be a list of str, got {type(continuations).__name__}")
    if len(continuations) != len(prompts):
        raise LMError(f"got {len(prompts)} prompts but {len(continuations)} continuations")
    for i, c in enumerate(continuations):
        if not isinstance(c, str):
            raise LMError(f"continuation {i} must be a str, got {type(c).__name__}")
    return list(continuations)


def check_sampling(max_new_tokens: int, temperature: float, seed: int, stop: Sequence[str]) -> tuple[str, ...]:
    """Validates generation arguments; returns ``stop`` as a tuple.

    Raises:
        LMError: ``max_new_tokens < 1``, ``temperature`` negative or not finite, a non-int seed, or ``stop``
            given as a bare string (it would be read as single characters) or holding empty strings.
    """
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise LMError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature < 0:
        raise LMError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise LMError(f"seed must be an int, got {seed!r}")
    if isinstance(stop, str):
        raise LMError(f"stop must be a list of strings, got the str {stop!r}")
    stops = tuple(stop)
    if not all(isinstance(s, str) and s for s in stops):
        raise LMError(f"stop strings must be non-empty str, got {list(stops)!r}")
    return stops


def row_seed(seed: int, index: int) -> int:
    """The sampling seed of prompt ``index`` in a batch generated with ``seed``: ``seed + index``.

    Every backend uses it, so a prompt's sample depends on ``(seed, index)`` only, not on batch size.
    """
    return seed + index


def _offline() -> bool:
    """Whether the hub may not be asked: the hub client's setting (read at its import) or the environment now."""
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE or any(
        os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def check_hub_model(repo_id: str, timeout: float = 10.0) -> None:
    """Fails at once, in one line, for a hub id that cannot be loaded; returns if it is cached or on the hub.

    One question to the hub at most (no retries): its model page. A gated model passes (loading it says which
    token to use).

    Raises:
        LMError: not cached while offline, not a valid id, not on the hub (or private), or the hub unreachable.
    """
    from huggingface_hub import HfApi, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

    names = f"not a short name ({', '.join(k for k, e in REGISTRY.items() if e.kind == 'model')}), a local folder"
    try:
        if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
            return  # cached: transformers loads it, offline too
    except HFValidationError:
        raise LMError(f"model {repo_id!r} is {names} or a valid hub id") from None
    if _offline():
        raise LMError(f"model {repo_id!r} is {names} or a cached hub model, and HF_HUB_OFFLINE is set: "
                      "the hub is not asked")
    try:
        HfApi().model_info(repo_id, timeout=timeout)
    except GatedRepoError:
        return
    except RepositoryNotFoundError:
        raise LMError(f"model {repo_id!r} is {names} or a model on the hub (or it is private: log in first)") from None
    except Exception as exc:  # noqa: BLE001 - connection refused, no DNS, timeout, proxy: the hub is out of reach
        raise LMError(f"cannot reach the hub for model {repo_id!r} ({_first_line(exc)}): name a short name or a "
                      "local folder, or set HF_HUB_OFFLINE=1 to use cached models") from None


def load_model(
    spec: str,
    *,
    batch_size: int = 8,
    device: str | None = None,
    dtype: str | None = None,
    trust_remote_code: bool = False,
    api_key_env: str | None = "OPENAI_API_KEY",
    timeout: float = 60.0,
    max_retries: int = 5,
    max_in_flight: int = 64,
) -> LanguageModel:
    """Loads the model named by ``spec`` (see the module docstring for the grammar).

    Args:
        spec: URL[#model], short name, local folder or hub id.
        batch_size, device, dtype, trust_remote_code: local backend options (:class:`llm.hf.HFModel`).
        api_key_env, timeout, max_retries, max_in_flight: HTTP backend options
            (:class:`llm.openai_http.OpenAIModel`: seconds per attempt, extra attempts after a fault, requests
            kept in flight at once).

    Raises:
        LMError: the model cannot be materialised, loaded or reached (one line).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise LMError(f"model spec must be a non-empty str, got {spec!r}")
    spec = spec.strip()
    if spec == "simulated" or spec.startswith("simulated:"):
        from llm.simulated import SimulatedReceiver, load_spec

        return SimulatedReceiver(load_spec(spec.partition(":")[2] or None))
    if spec.startswith(("http://", "https://")):
        from llm.openai_http import OpenAIModel

        url, _, model = spec.partition("#")
        return OpenAIModel(
            url, model or None, api_key_env=api_key_env, timeout=timeout, max_retries=max_retries,
            max_in_flight=max_in_flight,
        )
    from llm.hf import HFModel, auto_device, parse_dtype

    name = short_name(spec)
    device = device or auto_device()
    weights = str(parse_dtype(dtype, device)).removeprefix("torch.")  # short names are cached in this dtype
    path = resolve(spec, dtype=weights)
    looks_local = spec.startswith((".", "/", "~")) or Path(spec).expanduser().exists()
    if name is None and looks_local and not Path(spec).expanduser().is_dir():
        if Path(spec).expanduser().exists():
            raise LMError(f"{spec!r} is a file, not a model folder (a GGUF file: see llm.models.convert_gguf)")
        raise LMError(f"model folder {spec!r} does not exist")
    if name is None and not looks_local:
        check_hub_model(spec)
    return HFModel.from_pretrained(
        str(Path(path).expanduser()) if looks_local else path, device=device, dtype=weights,
        batch_size=batch_size, trust_remote_code=trust_remote_code, name=name or spec,
    )

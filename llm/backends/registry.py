"""``load_model(spec)``: one string names any model; the registry maps a spec's prefix to its backend.

Spec grammar (the longest matching prefix of :data:`BACKENDS` wins, else :data:`LOCAL`):

* ``simulated`` or ``simulated:PATH.json``: the simulated Receiver with a known optimum
  (:mod:`llm.backends.simulated`; the default spec, a built-in spec's name, or the spec in that JSON file);
* ``http://...`` or ``https://...``: an OpenAI-compatible endpoint (:mod:`llm.backends.openai_http`); an optional
  ``#MODEL`` suffix names the served model, otherwise ``/v1/models`` is asked;
* ``vllm:SPEC``: the in-process vLLM engine (:mod:`llm.backends.vllm`, the optional ``vllm`` extra) on a short name
  or a local folder;
* anything else goes to the local engine (:data:`LOCAL`, :mod:`llm.backends.hf`): a short name of
  :mod:`llm.backends.models` (``smollm2-135m``, ``tiny-gpt2``, ...) materialised offline, an existing local folder,
  or a hub id (``gpt2``, ``Qwen/Qwen2.5-0.5B-Instruct``), which needs internet unless it is cached.

A hub id that cannot be loaded fails in seconds and in one line (:func:`llm.backends.models.check_hub_model`).

Adding a backend (an in-process engine, another API):

1. write one module ``llm/backends/<name>.py`` (or a subpackage) with a class that implements
   :class:`llm.lm.LanguageModel` (and :class:`llm.lm.WhiteBoxModel` if its insides are reachable) and a function
   ``load(spec: str, options: LoadOptions) -> LanguageModel``. It checks its inputs with
   :func:`llm.lm.check_prompts`, :func:`llm.lm.check_continuations`, :func:`llm.lm.check_sampling`, seeds prompt
   ``i`` with :func:`llm.lm.row_seed`, raises :class:`llm.lm.LMError` in one line, reads the fields of
   :class:`LoadOptions` it needs (a local engine finds its weights with :func:`llm.backends.models.locate`), and
   imports its engine inside ``load`` or its module (never at the top of this registry), so naming another backend
   never imports it;
2. add one line to :data:`BACKENDS`: ``"<prefix>": "llm.backends.<name>:load"`` (or point :data:`LOCAL` at it to
   make it the engine of short names, folders and hub ids).

A backend never imports another backend; shared pieces live in :mod:`llm.lm`, :mod:`llm.backends.local` (prompt
rendering, the scoring boundary, device and dtype) and :mod:`llm.backends.models`.

Which engine runs an experiment's Receivers (transformers or vLLM) is not decided here: :data:`LOCAL` stays the
transformers backend (the white-box one), and :func:`llm.bpa.context.config_loader` adds the ``vllm:`` prefix where
it chooses vLLM.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from typing import Any, Callable

from llm.lm import LanguageModel, LMError


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model, passed whole to the backend's ``load``; each backend reads the fields it needs.

    Attributes:
        batch_size: local engines: prompts per forward pass, or ``"auto"`` (as many rows as fit on a GPU).
        device: local engines: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``; ``None``: the best one visible.
        dtype: local engines: ``"float32"``, ``"bfloat16"``, ``"float16"``; ``None`` or ``"auto"``: bfloat16 where
            the hardware computes it natively.
        trust_remote_code: local engines: run code shipped with the model (off unless you trust it).
        api_key_env: HTTP: the environment variable holding the API key (``None``: send none).
        timeout: HTTP: seconds per attempt.
        max_retries: HTTP: extra attempts after a fault.
        max_in_flight: HTTP: requests kept in flight at once.
    """

    batch_size: int | str = 8
    device: str | None = None
    dtype: str | None = None
    trust_remote_code: bool = False
    api_key_env: str | None = "OPENAI_API_KEY"
    timeout: float = 60.0
    max_retries: int = 5
    max_in_flight: int = 64


Loader = Callable[[str, LoadOptions], LanguageModel]

#: Spec prefix -> ``"module:function"`` of the backend's loader (imported only when a spec names it).
#: ``"simulated:"`` also matches the bare spec ``"simulated"``.
BACKENDS: dict[str, str] = {
    "simulated:": "llm.backends.simulated:load",
    "http://": "llm.backends.openai_http:load",
    "https://": "llm.backends.openai_http:load",
    "vllm:": "llm.backends.vllm:load",
}

#: The loader of every other spec (short names, local folders, hub ids).
LOCAL = "llm.backends.hf:load"


def backend_of(spec: str) -> str:
    """The ``"module:function"`` that loads ``spec`` (see the module docstring)."""
    matches = [p for p in BACKENDS if spec.startswith(p) or spec == p.rstrip(":")]
    return BACKENDS[max(matches, key=len)] if matches else LOCAL


def loader(target: str) -> Loader:
    """The function named by ``"module:function"``."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def load_model(spec: str, options: LoadOptions | None = None, **overrides: Any) -> LanguageModel:
    """Loads the model named by ``spec`` (see the module docstring for the grammar).

    Args:
        spec: ``simulated[:...]``, URL[#model], short name, local folder or hub id.
        options: how to load it (default :class:`LoadOptions`).
        **overrides: fields of :class:`LoadOptions` to change (``load_model("gpt2", batch_size=16)``).

    Raises:
        LMError: the model cannot be materialised, loaded or reached (one line).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise LMError(f"model spec must be a non-empty str, got {spec!r}")
    options = replace(options or LoadOptions(), **overrides)
    spec = spec.strip()
    return loader(backend_of(spec))(spec, options)

"""What every local engine shares (the transformers backend, the in-process vLLM engine): the same prompt
conventions and the same choice of device and dtype, so the engines are interchangeable.

* :func:`render_fallback`: how a chat is rendered for a tokenizer without a chat template;
* :func:`common_prefix`: the scoring boundary (a token straddling prompt and continuation counts to the continuation);
* :func:`auto_device`, :func:`auto_dtype`, :func:`parse_dtype`: where a model runs and in what precision (bfloat16
  where the hardware computes it natively), which also names the cached weights a short name is materialised in.

A backend may import this module (``BACKEND_SHARED`` in ``tests/llm/test_layers.py``); it imports no backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from llm.lm import LMError, Message


def render_fallback(messages: Sequence[Message]) -> str:
    """Renders a chat for a tokenizer without a chat template.

    ``"System: ...\\n\\nUser: ...\\n\\nAssistant:"``: each message as ``Role: content`` separated by blank lines,
    ending with the assistant's turn.
    """
    turns = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join([*turns, "Assistant:"])


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def scoring_tokens(head: Sequence[int], full: Sequence[int], bos_id: int | None) -> tuple[list[int], int]:
    """Token ids ``x`` of prompt + continuation and the index ``k`` of the first continuation token, from the
    prompt's tokens ``head`` and the joined text's ``full``: ``k`` is their common prefix; a continuation with no
    context gets the BOS token in front (``k = 1``).

    Raises:
        LMError: no context and no BOS/EOS token to give it one.
    """
    full, k = list(full), common_prefix(head, full)
    if k == 0 and full:
        if bos_id is None:
            raise LMError("cannot score a continuation without context: the tokenizer has no BOS/EOS token")
        full, k = [bos_id, *full], 1
    return full, k


def auto_device() -> str:
    """``"cuda"`` if a GPU is visible, else ``"mps"`` on Apple silicon, else ``"cpu"``."""
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags listed in ``cpuinfo`` (empty where the file is missing, e.g. off Linux)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags") and ":" in line:
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_native_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether the CPU multiplies bfloat16 natively: AVX512_BF16 or AMX-BF16.

    Asks torch (``torch.cpu._is_avx512_bf16_supported``, ``_is_amx_tile_supported``) and falls back to the
    ``/proc/cpuinfo`` flags ``avx512_bf16`` / ``amx_bf16``. Without either, bfloat16 matmuls are emulated and
    slower than float32, so :func:`auto_dtype` keeps float32.
    """
    if flags is None:
        probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        if any(p is not None and p() for p in probes):
            return True
        flags = cpu_flags()
    return bool({"avx512_bf16", "amx_bf16"} & flags)


def auto_dtype(device: str) -> torch.dtype:
    """bfloat16 on a GPU that supports it and on a CPU with native bfloat16 (:func:`cpu_has_native_bf16`), else
    float32 (other CPUs, Apple ``mps``)."""
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if device == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32


def parse_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype:
    """``dtype`` as a ``torch.dtype`` (``None`` or ``"auto"``: :func:`auto_dtype` of ``device``).

    Raises:
        LMError: an unknown name.
    """
    if dtype is None or dtype == "auto":
        return auto_dtype(device)
    if isinstance(dtype, torch.dtype):
        return dtype
    if not isinstance(dtype, str) or not isinstance(getattr(torch, dtype, None), torch.dtype):
        raise LMError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16")
    return getattr(torch, dtype)

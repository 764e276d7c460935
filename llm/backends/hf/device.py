"""Where and in what precision the transformers backend runs, and how many rows fit: device, dtype, batch size.

bfloat16 by default where the hardware computes it natively (:func:`auto_dtype`); on a GPU, ``batch_size="auto"``
fits the KV cache of as many rows as 80% of the free memory holds (:func:`auto_batch_size`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from llm.lm import LMError


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


def kv_batch_size(free_bytes: int, per_row_bytes: int, cap: int = 256, reserve: float = 0.2) -> int:
    """Rows that fit in ``(1 - reserve) * free_bytes`` at ``per_row_bytes`` each, clipped to ``[1, cap]``."""
    if per_row_bytes <= 0:
        return cap
    return max(1, min(cap, int(free_bytes * (1.0 - reserve)) // per_row_bytes))


def row_bytes(config: Any, positions: int, dtype: torch.dtype) -> int:
    """Memory one decoding row needs: its KV cache over ``positions`` plus a float32 row of logits and the
    widest activations (``4 * hidden`` per position during prefill), from the model's config."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    layers = getattr(text, "num_hidden_layers", None) or getattr(text, "n_layer", 1)
    hidden = getattr(text, "hidden_size", None) or getattr(text, "n_embd", 1)
    heads = getattr(text, "num_attention_heads", None) or getattr(text, "n_head", 1)
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    head_dim = getattr(text, "head_dim", None) or hidden // heads
    inter = getattr(text, "intermediate_size", None) or 4 * hidden
    size = torch.empty((), dtype=dtype).element_size()
    kv = 2 * layers * kv_heads * head_dim * positions * size
    return kv + 4 * getattr(text, "vocab_size", 0) + positions * (hidden + inter) * size * 2


def auto_batch_size(model: Any, cpu_default: int = 16) -> int:
    """Rows per batch for ``batch_size="auto"``: on CUDA, :func:`kv_batch_size` of the free memory over
    :func:`row_bytes` at the model's full context; elsewhere ``cpu_default``."""
    param = next(model.parameters())
    if param.device.type != "cuda":
        return cpu_default
    free, _ = torch.cuda.mem_get_info(param.device)
    text = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    positions = getattr(text, "max_position_embeddings", None) or getattr(text, "n_positions", None) or 2048
    return kv_batch_size(free, row_bytes(model.config, min(positions, 4096), param.dtype))

"""How many rows the transformers backend decodes at once: on a GPU, ``batch_size="auto"`` fits the KV cache of as
many rows as 80% of the free memory holds (:func:`auto_batch_size`). Device and dtype are chosen as for every local
engine (:mod:`llm.backends.local`: bfloat16 where the hardware computes it natively).
"""

from __future__ import annotations

from typing import Any

import torch



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

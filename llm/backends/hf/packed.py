"""Linear layers with weights pre-packed for oneDNN, for CPU inference.

``torch.nn.functional.linear`` on the CPU hands oneDNN a plain row-major weight, which oneDNN reorders into its
blocked layout on every call. For decoding (a few rows against a large weight) that reorder is a large part of the
cost. :func:`pack_linears` makes a model's plain ``nn.Linear`` layers keep one reordered copy per weight
(``torch.ops.mkldnn._reorder_linear_weight``, the op ``torch.compile`` uses when it freezes a CPU model) and
multiply with ``torch.ops.mkldnn._linear_pointwise``: the same ``y = x W^T + b``, with the same bfloat16 results
and float32 results within round-off. Measured on the project's 2-core AVX-512 CPU
(``docs/performance.md``, "Generation"): 1.5x a bfloat16 ``(16, 896) x (896, 4864)`` product and 1.6x a whole
Qwen2.5-0.5B decoding step at batch 16.

The packed path is taken only inside :func:`packed_mode` (entered by :meth:`llm.backends.hf.HFModel.fast`), without
autograd, for a CPU input of the weight's dtype; anything else runs the layer's ordinary ``forward``. A packed
copy is rebuilt when its weight changes (its storage or in-place version), so training the same module stays
correct. The copies live outside the module (a weak map), so ``state_dict``, ``deepcopy`` and saving are unchanged.
"""

from __future__ import annotations

import contextvars
import weakref
from contextlib import contextmanager
from typing import Any, Iterator

import torch

_ACTIVE: contextvars.ContextVar[bool] = contextvars.ContextVar("packed_linear_active", default=False)
_PACKED: weakref.WeakKeyDictionary[torch.nn.Module, tuple[tuple[int, int], Any]] = weakref.WeakKeyDictionary()


def available() -> bool:
    """Whether this torch build has the oneDNN ops :class:`PackedLinear` needs."""
    ops = getattr(torch.ops, "mkldnn", None)
    return bool(torch.backends.mkldnn.is_available() and ops is not None
                and hasattr(ops, "_reorder_linear_weight") and hasattr(ops, "_linear_pointwise"))


@contextmanager
def packed_mode() -> Iterator[None]:
    """Within this context, :class:`PackedLinear` layers multiply with their packed weights."""
    token = _ACTIVE.set(True)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


class PackedLinear(torch.nn.Linear):
    """An ``nn.Linear`` that multiplies with a oneDNN-packed copy of its weight in :func:`packed_mode`.

    Not constructed directly: :func:`pack_linears` re-classes existing ``nn.Linear`` instances, so parameters,
    hooks and names stay as they were.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        if (not _ACTIVE.get() or torch.is_grad_enabled() or x.device.type != "cpu" or w.device.type != "cpu"
                or x.dtype != w.dtype):
            return super().forward(x)
        key = (w.data_ptr(), w._version)
        cached = _PACKED.get(self)
        if cached is None or cached[0] != key:  # the layout does not depend on the row count: pack once
            cached = (key, torch.ops.mkldnn._reorder_linear_weight(w.detach(), None))
            _PACKED[self] = cached
        bias = None if self.bias is None else self.bias.detach()
        return torch.ops.mkldnn._linear_pointwise(x, cached[1], bias, "none", [], "")


def linear_bytes(model: torch.nn.Module) -> int:
    """Bytes of the weights of ``model``'s plain ``nn.Linear`` layers (what packing copies)."""
    return sum(m.weight.numel() * m.weight.element_size() for m in model.modules() if type(m) is torch.nn.Linear)


def memory_available(meminfo: str = "/proc/meminfo") -> int | None:
    """``MemAvailable`` in bytes from ``meminfo``, or ``None`` where it cannot be read (e.g. off Linux)."""
    try:
        with open(meminfo) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def pack_linears(model: torch.nn.Module, max_share: float = 0.5) -> int:
    """Re-classes every plain ``nn.Linear`` of a CPU ``model`` as :class:`PackedLinear`; returns how many.

    The packed copies cost :func:`linear_bytes` more memory, made lazily at each layer's first call in
    :func:`packed_mode`; nothing is packed when that is over ``max_share`` of the memory available now
    (:func:`memory_available`; no limit where it is unknown), or when the oneDNN ops are missing
    (:func:`available`). Subclasses of ``nn.Linear`` (LoRA, quantised layers) are left alone.
    """
    free = memory_available()
    if not available() or (free is not None and linear_bytes(model) > max_share * free):
        return 0
    n = 0
    for module in model.modules():
        if type(module) is torch.nn.Linear and module.weight.device.type == "cpu":
            module.__class__ = PackedLinear
            n += 1
    return n

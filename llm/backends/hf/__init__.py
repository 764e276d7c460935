"""The local ``transformers`` backend: the model (:mod:`.model`), its decoding machinery (:mod:`.decoding`), device,
dtype and batch sizing (:mod:`.device`), and oneDNN-packed linear layers on the CPU (:mod:`.packed`)."""

from llm.backends.hf.decoding import MIN_SHARED_PREFIX, StopScanner, shared_prefix, target_logprobs
from llm.backends.hf.device import auto_batch_size, kv_batch_size, row_bytes
from llm.backends.hf.model import HFModel, load
from llm.backends.local import (auto_device, auto_dtype, common_prefix, cpu_flags, cpu_has_native_bf16, parse_dtype,
                                render_fallback)

__all__ = [
    "MIN_SHARED_PREFIX", "HFModel", "StopScanner", "auto_batch_size", "auto_device", "auto_dtype", "common_prefix",
    "cpu_flags", "cpu_has_native_bf16", "kv_batch_size", "load", "parse_dtype", "render_fallback", "row_bytes",
    "shared_prefix", "target_logprobs",
]

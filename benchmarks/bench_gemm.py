"""How fast torch's own matrix products run on this CPU at the decode shapes of Qwen2.5-0.5B: the ceiling any
engine built on them meets before attention, sampling and scheduling (``docs/performance.md``, "Against the bf16
ceiling").

Per decode step every sequence multiplies one row by each weight matrix, so a batch of ``m`` sequences is one
``F.linear(x, W)`` per matrix (``x`` of ``(m, k)``, ``W`` of ``(n, k)``, as ``nn.Linear`` stores it), through torch's
CPU kernels: what the transformers backend runs. (vLLM's CPU build calls its own prepacked oneDNN kernels for
linear layers, which this does not time.) Shapes: attention q/k/v (896 -> 1152) and output (896 -> 896, not timed:
its shape is between the two), the fused MLP gate and up (896 -> 2 x 4864), the MLP down (4864 -> 896), and the tied
output layer (896 -> 151,936 vocabulary). Prints GFLOP/s (``2 m k n`` per product) in bfloat16 and float32.

    python benchmarks/bench_gemm.py            # about 30 s on 2 cores; pause other jobs of yours first
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

SHAPES = ((896, 1152), (896, 9728), (4864, 896), (896, 151936))


def gflops(m: int, k: int, n: int, dtype: torch.dtype, reps: int = 20) -> float:
    """GFLOP/s of ``F.linear`` of ``(m, k)`` rows by an ``(n, k)`` weight in ``dtype`` (3 warm-up calls, then the
    mean of ``reps``)."""
    x, w = torch.randn(m, k).to(dtype), torch.randn(n, k).to(dtype)
    with torch.inference_mode():
        for _ in range(3):
            F.linear(x, w)
        t = time.perf_counter()
        for _ in range(reps):
            F.linear(x, w)
    return 2 * m * k * n / ((time.perf_counter() - t) / reps) / 1e9


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| rows m | k -> n | bf16 GFLOP/s | fp32 GFLOP/s |\n|---|---|---|---|")
    for m in (16, 64, 256):
        for k, n in SHAPES:
            bf16, fp32 = gflops(m, k, n, torch.bfloat16), gflops(m, k, n, torch.float32)
            print(f"| {m} | {k} -> {n} | {bf16:.0f} | {fp32:.0f} |", flush=True)


if __name__ == "__main__":
    main()

"""How fast torch's own matrix products run on this CPU at the decode shapes of Qwen2.5-0.5B: the ceiling any
engine built on them meets before attention, sampling and scheduling (``docs/performance.md``, "Against the bf16
ceiling").

Per decode step every sequence multiplies one row by each weight matrix, so a batch of ``m`` sequences is an
``(m, k) @ (k, n)`` product per matrix. Shapes: attention q/k/v (896 -> 1152) and output (896 -> 896, not timed:
its shape is between the two), the fused MLP gate and up (896 -> 2 x 4864), the MLP down (4864 -> 896), and the tied
output layer (896 -> 151,936 vocabulary). Prints GFLOP/s (``2 m k n`` per product) in bfloat16 and float32.

    python benchmarks/bench_gemm.py            # about 30 s on 2 cores; pause other jobs of yours first
"""

from __future__ import annotations

import time

import torch

SHAPES = ((896, 1152), (896, 9728), (4864, 896), (896, 151936))


def gflops(m: int, k: int, n: int, dtype: torch.dtype, reps: int = 20) -> float:
    """GFLOP/s of ``(m, k) @ (k, n)`` in ``dtype`` (3 warm-up products, then the mean of ``reps``)."""
    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * m * k * n / ((time.perf_counter() - t) / reps) / 1e9


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| rows m | k -> n | bf16 GFLOP/s | fp32 GFLOP/s |\n|---|---|---|---|")
    for m in (16, 64, 256):
        for k, n in SHAPES:
            print(f"| {m} | {k} -> {n} | {gflops(m, k, n, torch.bfloat16):.0f} | {gflops(m, k, n, torch.float32):.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()

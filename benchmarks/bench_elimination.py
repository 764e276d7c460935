"""The adaptive feedback design on one problem, simulated with independent answers: the share of the grid's
answers it spends, and how often it stops an item that helps (the numbers of docs/method.md "Feedback at scale").

    python -m benchmarks.bench_elimination
"""

from __future__ import annotations

import numpy as np

from llm.bpa.elimination import next_samples

#: Cell success rates, the last one silence's.
CASES = {"clear (7 never help, 1 always)": [0.0] * 7 + [1.0] + [0.6], "harmful 0.3 vs 0.6": [0.3] * 8 + [0.6],
         "one helps +0.2": [0.7] + [0.2] * 7 + [0.5]}


def simulate(rates: np.ndarray, k0: int, k: int, delta: float, reps: int = 2000, seed: int = 1) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    m = len(rates)
    spent = stopped = grid_miss = 0
    for _ in range(reps):
        s, n = np.zeros(m, int), np.zeros(m, int)
        while (more := next_samples(s, n, m - 1, k0=k0, k=k, delta=delta)).any():
            s += rng.binomial(more, rates)
            n += more
        spent += n.sum()
        stopped += n[0] < k
        g = rng.binomial(k, rates)
        grid_miss += g[0] <= g[-1]
    return {"spent": spent / (reps * m * k), "first_item_stopped": stopped / reps, "grid_first_no_gain": grid_miss / reps}


def main() -> int:
    for name, rates in CASES.items():
        for k in (8, 16):
            for delta in (0.05, 0.1, 0.2):
                r = simulate(np.array(rates), 2, k, delta)
                print(f"{name:32s} k={k:2d} delta={delta:.2f} " + " ".join(f"{a} {b:.3f}" for a, b in r.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Games per second: the batched JAX solver on 10,000 random 8 x 4 games against looping the exact LP.

Usage::

    python benchmarks/bench_batched.py                       # 10,000 games, loops timed on 300 of them
    python benchmarks/bench_batched.py --games 2000 --loop 100 --json out.json

Games: :func:`persuasion.gradient.random_batch` (``mu0 ~ Dirichlet(1)``, ``u_S, u_R`` i.i.d. standard normal),
seed 0. Methods, all in one process and one run:

* ``solve_batch``: :func:`persuasion.gradient.solve_batch` on all games at once (augmented Lagrangian in JAX, exact
  polish and certificate in NumPy, the uncertified games re-solved by ``persuasion.solve``). Timed twice: the
  first call includes JIT compilation for the batch's shape, the second is the steady state;
* ``solve loop``: ``persuasion.solve(game)`` for each game;
* ``ReusableSolver loop``: one ``persuasion.ReusableSolver(8, 4)`` (compiled once, not timed) solving each game.

The loops are timed on the first ``--loop`` games only, in alternation (solve, reusable, solve, reusable: two
halves each) and extrapolated to all games as games per second; the batched solver is timed on every game.
Accuracy: on the loop subset, the largest ``|value - LP value|`` and every scheme's largest obedience violation;
over all games, the fraction certified without the LP (certified gap <= 1e-7 relative) and the polish rate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

import persuasion
from persuasion.gradient import random_batch, solve_batch
from persuasion.gradient.batched import game_of


def _loop(fn, games) -> tuple[float, list[float]]:
    t0 = time.perf_counter()
    values = [fn(g).value for g in games]
    return time.perf_counter() - t0, values


def run(games: int, loop: int, m: int = 8, n: int = 4, seed: int = 0) -> dict:
    batch = random_batch(seed, games, m, n)
    first = time.perf_counter()
    out = solve_batch(batch)
    first = time.perf_counter() - first
    steady = time.perf_counter()
    out = solve_batch(batch)
    steady = time.perf_counter() - steady

    subset = [game_of(batch, b) for b in range(min(loop, games))]
    reusable = persuasion.ReusableSolver(m, n)
    reusable.solve(subset[0])  # compile
    half = len(subset) // 2
    t_solve = t_reuse = 0.0
    lp_values, reuse_values = [], []
    for part in (subset[:half], subset[half:]):  # A B A B
        dt, v = _loop(persuasion.solve, part)
        t_solve += dt
        lp_values += v
        dt, v = _loop(reusable.solve, part)
        t_reuse += dt
        reuse_values += v
    lp = np.array(lp_values)
    k = len(subset)
    certified = ~out.fallback  # certified gap <= 1e-7 relative from the polish alone
    return {
        "games": games,
        "shape": [m, n],
        "seed": seed,
        "loop_subset": k,
        "solve_batch_seconds_first_call": first,
        "solve_batch_seconds": steady,
        "solve_batch_phases": out.seconds,
        "games_per_second": {
            "solve_batch": games / steady,
            "solve_batch_first_call": games / first,
            "solve_loop": k / t_solve,
            "reusable_loop": k / t_reuse,
        },
        "extrapolated_loop_seconds": {"solve": t_solve / k * games, "reusable": t_reuse / k * games},
        "certified_without_lp": float(certified.mean()),
        "polished": float(out.polished.mean()),
        "fallback_to_lp": float(out.fallback.mean()),
        "max_abs_value_error_vs_lp": float(np.abs(out.value[:k] - lp).max()),
        "max_abs_reusable_vs_solve": float(np.abs(np.array(reuse_values) - lp).max()),
        "max_obedience_violation": float(out.violation.max()),
        "median_gradient_violation": float(np.median(out.gradient_violation)),
        "median_gradient_value_gap": float(np.median(out.value - out.gradient_value)),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=10_000)
    parser.add_argument("--loop", type=int, default=300, help="games timed in the LP loops (extrapolated)")
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args(argv)
    result = run(args.games, args.loop)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

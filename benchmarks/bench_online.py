"""Benchmark: many seeds of the online learners on a 5-state game (target: 64 seeds x 1e5 rounds < 2 min, 2 CPUs).

Usage::

    python benchmarks/bench_online.py                       # 64 seeds x 100,000 rounds, m = 5, n = 3
    python benchmarks/bench_online.py --seeds 16 --horizon 20000 --out bench.json

For each learner it runs :func:`persuasion.online.simulate` twice with the same key: "cold" (includes the JIT
compilation of the round loop and the first cvxpy compilation of the LP) and "warm" (compiled code reused).
It reports wall-clock and process CPU seconds (the machine may be shared: CPU time is the steadier number), the
seconds spent in the host LP solves, the number of LP solves, and rounds x seeds per second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import jax

from persuasion.online import oracle, plugin_learner, random_game, robust_learner, simulate


def measure(game, make, key, horizon: int, seeds: int) -> dict[str, Any]:
    """Cold and warm runs of the learner built by ``make()``."""
    out: dict[str, Any] = {}
    for phase in ("cold", "warm"):
        alg = make()
        wall, cpu = time.perf_counter(), time.process_time()
        trace = simulate(game, alg, key, horizon=horizon, seeds=seeds)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        solver = getattr(alg.plan, "solver", None)
        out[phase] = {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "plan_wall_s": round(trace.plan_seconds, 2),
            "plans": trace.plans,
            "lp_solves": trace.plans * seeds if alg.plan is not None else 0,
            "robust_solver_calls": getattr(solver, "calls", None),
            "round_seeds_per_s": round(horizon * seeds / wall),
            "final_regret": round(float(trace.regret[:, -1].mean()), 2),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=64)
    parser.add_argument("--horizon", type=int, default=100_000)
    parser.add_argument("--m", type=int, default=5, help="states of the random game")
    parser.add_argument("--n", type=int, default=3, help="actions of the random game")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)

    game = random_game(0, args.m, args.n)
    key = jax.random.key(0)
    makers = {
        "robust": lambda: robust_learner(game.sender_utility, game.receiver_utility),
        "plugin": lambda: plugin_learner(game.sender_utility, game.receiver_utility),
        "oracle": lambda: oracle(game),
    }
    load_before = os.getloadavg()
    results = {name: measure(game, make, key, args.horizon, args.seeds) for name, make in makers.items()}
    report = {
        "game": game.name,
        "m": game.m,
        "n": game.n,
        "seeds": args.seeds,
        "horizon": args.horizon,
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
    }
    print("| learner | phase | wall s | CPU s | LP wall s | LP solves | rounds x seeds / s | final regret |")
    print("|---|---|---|---|---|---|---|---|")
    for name, res in results.items():
        for phase, r in res.items():
            print(
                f"| {name} | {phase} | {r['wall_s']} | {r['cpu_s']} | {r['plan_wall_s']} | {r['lp_solves']} | "
                f"{r['round_seeds_per_s']:,} | {r['final_regret']} |"
            )
    print(f"load average before/after: {report['loadavg_before']} / {report['loadavg_after']}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of :mod:`llm.sandbox`: verify the 164 HumanEval canonical solutions, and a wrong variant of each.

Each program is ``prompt + canonical_solution + "\\n" + test + "\\ncheck(<entry_point>)\\n"``; all must pass. The wrong
variant wraps the entry point so that every answer is perturbed (``not b``, ``x + 1``, ``s + "?"``, one more list
element, ``0`` for ``None``); all must fail. Both sets run through :func:`llm.sandbox.run_many` with ``--workers``
sandboxes at a time, pinned to ``--cpus`` CPUs, and the canonical set must finish within ``--budget`` seconds.

Run (from the repository root; the data are read, never copied)::

    python benchmarks/bench_sandbox.py                      # data from $PERSUASION_DATA or ../shared/data
    python benchmarks/bench_sandbox.py --data /work/shared/data --workers 2 --budget 30
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from llm.sandbox import SandboxResult, run_many

REPO = Path(__file__).resolve().parent.parent

WRONG_WRAPPER = '''
def _perturb(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "?"
    if isinstance(value, (list, tuple)):
        return type(value)(list(value) + [None])
    if value is None:
        return 0
    return None


def _wrong(function):
    return lambda *args, **kwargs: _perturb(function(*args, **kwargs))


{entry} = _wrong({entry})
'''


def default_data_dir() -> Path:
    """``$PERSUASION_DATA`` if set, else ``../shared/data`` relative to the repository."""
    env = os.environ.get("PERSUASION_DATA")
    return Path(env) if env else (REPO.parent / "shared" / "data")


def load_humaneval(data_dir: Path) -> list[dict[str, str]]:
    """The HumanEval problems from ``<data_dir>/humaneval/HumanEval.jsonl.gz``."""
    path = data_dir / "humaneval" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise SystemExit(f"HumanEval not found at {path}; pass --data or set PERSUASION_DATA")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def canonical_program(problem: dict[str, str]) -> str:
    """The reference solution followed by its tests."""
    return problem["prompt"] + problem["canonical_solution"] + "\n" + problem["test"] + (
        f"\ncheck({problem['entry_point']})\n"
    )


def wrong_program(problem: dict[str, str]) -> str:
    """The reference solution with every answer perturbed, followed by its tests."""
    entry = problem["entry_point"]
    return (
        problem["prompt"] + problem["canonical_solution"] + "\n" + WRONG_WRAPPER.format(entry=entry) + "\n"
        + problem["test"] + f"\ncheck({entry})\n"
    )


def summarize(name: str, results: list[SandboxResult], seconds: float) -> dict[str, float]:
    """Counts and timings of one batch."""
    walls = [r.wall_time for r in results]
    out = {
        "programs": len(results),
        "ok": sum(r.ok for r in results),
        "seconds": seconds,
        "per_program_ms": 1000 * seconds / max(len(results), 1),
        "median_program_wall_ms": 1000 * statistics.median(walls),
        "max_program_wall_ms": 1000 * max(walls),
    }
    statuses = {s: sum(r.status == s for r in results) for s in sorted({r.status for r in results})}
    print(f"{name}: {out['ok']}/{out['programs']} ok in {seconds:.2f} s ({out['per_program_ms']:.0f} ms/program "
          f"through the pool; program wall median {out['median_program_wall_ms']:.0f} ms, max "
          f"{out['max_program_wall_ms']:.0f} ms); statuses {statuses}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="folder holding humaneval/")
    parser.add_argument("--workers", type=int, default=2, help="sandboxes at a time")
    parser.add_argument("--cpus", type=int, default=2, help="pin this process (and the sandboxes) to this many CPUs")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-program wall-clock limit, seconds")
    parser.add_argument("--memory-mb", type=int, default=1024, help="per-program address-space limit")
    parser.add_argument("--budget", type=float, default=30.0, help="the canonical set must finish within this")
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems (a quick check)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)

    cpus = sorted(os.sched_getaffinity(0))[: args.cpus]
    os.sched_setaffinity(0, cpus)
    problems = load_humaneval(args.data)[: args.limit]
    limits = {"timeout": args.timeout, "memory_mb": args.memory_mb}
    print(f"{len(problems)} HumanEval problems; {args.workers} workers on CPUs {cpus}; "
          f"{platform.python_version()} on {platform.machine()}, uid {os.geteuid()}; load {os.getloadavg()}")

    start = time.perf_counter()
    good = run_many([canonical_program(p) for p in problems], workers=args.workers, **limits)
    good_s = time.perf_counter() - start
    start = time.perf_counter()
    bad = run_many([wrong_program(p) for p in problems], workers=args.workers, **limits)
    bad_s = time.perf_counter() - start

    numbers = {
        "canonical": summarize("canonical", good, good_s),
        "wrong": summarize("wrong", bad, bad_s),
        "isolation": list(good[0].isolation),
        "cpus": len(cpus),
        "workers": args.workers,
        "load_average_1min": os.getloadavg()[0],
    }
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    failures = [(p["task_id"], r.status, r.stderr[-300:]) for p, r in zip(problems, good) if not r.ok]
    passes = [p["task_id"] for p, r in zip(problems, bad) if r.ok]
    for task_id, status, err in failures:
        print(f"canonical FAILED {task_id}: {status}\n{err}", file=sys.stderr)
    for task_id in passes:
        print(f"wrong variant PASSED {task_id}", file=sys.stderr)
    assert not failures, f"{len(failures)} canonical solutions failed"
    assert not passes, f"{len(passes)} wrong solutions passed"
    assert good_s < args.budget, f"canonical set took {good_s:.1f} s, over the {args.budget:g} s budget"
    print(f"isolation: {', '.join(good[0].isolation)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Continuous batching: the package's local backend refilling freed rows against decoding batch by batch.

The workload is the informed game's feedback on MBPP (``docs/method.md``): the first ``--n`` MBPP train problems,
each under every item of the code catalogue (``none`` included), ``--samples`` sampled answers per cell at
``--temperature``, in the 3-shot completion prompt, ``[DONE]`` as the stop string. Refilling is switched off by
making ``llm.backends.hf.decoding.joinable`` answer ``False`` (the path models with sliding-window caches take). The
two settings alternate in one process (A B A B) on one loaded model.

    python benchmarks/bench_refill.py --threads 1 --rounds 2 --batch-size 12
"""

from __future__ import annotations

import argparse
import time

import torch

import llm.backends.hf.decoding
from bench_prefix import feedback_prompts, report, workload_args  # the shared workload (benchmarks/ is on sys.path)
from llm.backends import load_model
from llm.backends.hf import HFModel


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    workload_args(p, n=2)
    p.add_argument("--samples", type=int, default=2, help="sampled answers per (problem, item)")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--batch-size", type=int, default=12)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    task, _, prompts = feedback_prompts(args.data, args.n, args.samples)
    lm = load_model(args.model, batch_size=args.batch_size)
    assert isinstance(lm, HFModel)
    joinable = llm.backends.hf.decoding.joinable
    runs: dict[str, list[dict]] = {"refilled": [], "batch by batch": []}
    for r in range(args.rounds):
        for name in runs:
            llm.backends.hf.decoding.joinable = joinable if name == "refilled" else (lambda past: False)
            t = time.perf_counter()
            gens = lm.generate(prompts, args.max_new_tokens, temperature=args.temperature, seed=1, stop=task.stop)
            dt = time.perf_counter() - t
            tokens = sum(g.new_tokens for g in gens)
            runs[name].append({"seconds": dt, "tokens": tokens, "tok_per_s": tokens / dt})
            print(f"round {r} {name:15s} {dt:7.1f} s {tokens:6d} tokens {tokens / dt:6.1f} tok/s", flush=True)
    llm.backends.hf.decoding.joinable = joinable
    summary = {"model": args.model, "dtype": str(lm.dtype), "threads": torch.get_num_threads(), "rows": len(prompts),
               "batch_size": args.batch_size, "runs": runs,
               "speed_ratio_per_round": [b["seconds"] / a["seconds"]
                                         for a, b in zip(runs["refilled"], runs["batch by batch"])]}
    return report(summary, args.out)


if __name__ == "__main__":
    raise SystemExit(main())

"""Shared-prefix prefill: the package's local backend with and without computing a batch's common prefix once.

The workload is the informed game's feedback on MBPP (``docs/method.md``): the first ``--n`` MBPP train problems,
each under every item of the code catalogue (``none`` included), in the 3-shot completion prompt, so the rows of
one batch (one problem's items, or ``--per-batch`` problems' items) share the worked examples and often the problem.
Greedy, ``[DONE]`` as the stop string, ``--max-new-tokens`` 256. The two settings alternate in one process (A B A B)
on one loaded model; sharing is switched off by raising ``llm.backends.hf.decoding.MIN_SHARED_PREFIX`` above any
prompt's length.
Reported: wall time, generated tokens per second, prompt tokens computed, and how many texts agree.

    python benchmarks/bench_prefix.py --threads 2 --rounds 2 --out bench_prefix.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from llm.backends import load_model
from llm.backends.hf import HFModel, shared_prefix
import llm.backends.hf.decoding
from llm.bpa.context import hint_text
from llm.game.catalogue import load_catalogue
from llm.tasks.registry import get_task


def workload_args(p: argparse.ArgumentParser, n: int) -> None:
    """The options both feedback-workload benchmarks (this one and ``bench_refill.py``) share."""
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--data", default=None, help="data root (default: $PERSUASION_DATA, then ../shared/data)")
    p.add_argument("--n", type=int, default=n, help="first N MBPP train problems")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=None, help="also write the results as JSON here")


def report(summary: dict[str, Any], out: str | None) -> int:
    """Prints the benchmark's summary as JSON and writes it to ``out`` when given; the exit status."""
    print(json.dumps(summary, indent=1))
    if out:
        Path(out).write_text(json.dumps(summary, indent=1))
    return 0


def feedback_prompts(data: str | None, n: int, samples: int = 1) -> tuple[Any, list[Any], list[Any]]:
    """The MBPP task, each prompt's problem, and the 3-shot prompts of the first ``n`` train problems under every
    code-catalogue item (``none`` included), ``samples`` copies each, grouped by problem."""
    task = get_task("mbpp")
    items = load_catalogue("code").with_none().items
    shots = task.few_shot(3, path=data)
    cells = [(q, it) for q in task.load("train", data, limit=n) for it in items for _ in range(samples)]
    return task, [q for q, _ in cells], [task.prompt(q, shots, hint=hint_text(it)) for q, it in cells]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    workload_args(p, n=4)
    p.add_argument("--per-batch", type=int, default=1, help="problems per batch (x 9 items)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    task, asked, prompts = feedback_prompts(args.data, args.n)
    rows_per_batch = args.per_batch * sum(q.id == asked[0].id for q in asked)  # x the items per problem
    lm = load_model(args.model, batch_size=rows_per_batch)
    assert isinstance(lm, HFModel)
    encoded = [lm.encode(*lm.render(x)) for x in prompts]
    batches = [encoded[i:i + rows_per_batch] for i in range(0, len(encoded), rows_per_batch)]
    width = [max(len(r) for r in b) for b in batches]
    computed = {"shared": sum(shared_prefix(b) + len(b) * (w - shared_prefix(b)) for b, w in zip(batches, width)),
                "padded": sum(len(b) * w for b, w in zip(batches, width))}  # positions run, padding included
    default = llm.backends.hf.decoding.MIN_SHARED_PREFIX
    runs: dict[str, list[dict]] = {"shared": [], "padded": []}
    texts: dict[str, list[str]] = {}
    for r in range(args.rounds):
        for name in ("shared", "padded"):
            llm.backends.hf.decoding.MIN_SHARED_PREFIX = default if name == "shared" else 10**9
            t = time.perf_counter()
            gens = [g for start in range(0, len(prompts), rows_per_batch)  # one generate call per batch, as feedback
                    for g in lm.generate(prompts[start:start + rows_per_batch], args.max_new_tokens, stop=task.stop)]
            dt = time.perf_counter() - t
            tokens = sum(g.new_tokens for g in gens)
            texts.setdefault(name, [g.text for g in gens])
            runs[name].append({"seconds": dt, "tokens": tokens, "tok_per_s": tokens / dt})
            print(f"round {r} {name:7s} {dt:7.1f} s {tokens:6d} tokens {tokens / dt:6.1f} tok/s", flush=True)
    llm.backends.hf.decoding.MIN_SHARED_PREFIX = default
    summary = {"model": args.model, "dtype": str(lm.dtype), "threads": torch.get_num_threads(), "n": args.n,
               "rows": len(prompts), "rows_per_batch": rows_per_batch, "prompt_tokens_computed": computed,
               "runs": runs,
               "speed_ratio_per_round": [b["seconds"] / a["seconds"] for a, b in zip(runs["shared"], runs["padded"])],
               "same_text": sum(a == b for a, b in zip(texts["shared"], texts["padded"])),
               "passed": {k: sum(task.grade(q, t) for q, t in zip(asked, v)) for k, v in texts.items()}}
    return report(summary, args.out)


if __name__ == "__main__":
    raise SystemExit(main())

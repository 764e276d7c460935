"""A feedback cell's k samples: k calls (one sample of every cell each, the layout before issue 17) against one call
with k copies of every prompt, whose copies the local backend prefills once (:meth:`llm.backends.hf.HFModel._prefill`).

The workload is the informed game's feedback on MBPP: the first ``--n`` train problems under every code-catalogue
item (``none`` included), 3-shot completion prompts, ``--samples`` answers each at temperature 0.7, batch size
``--batch``. The two layouts alternate in one process on one loaded model (A B A B). Reported: wall seconds, and
the prompt positions the model computed in prefill passes (counted by a forward hook: hardware-independent).

    python benchmarks/bench_copies.py --tiny --threads 2 --rounds 2 --out bench_copies.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.bench_prefix import feedback_prompts, report, workload_args
from llm.backends import load_model
from llm.backends.hf import HFModel
from llm.backends.models import tiny_gpt2


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    workload_args(p, n=2)
    p.set_defaults(max_new_tokens=32)
    p.add_argument("--tiny", action="store_true", help="a random-init GPT-2 (4 layers, 256 wide) instead of --model")
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--batch", type=int, default=36)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.tiny:
        folder = tiny_gpt2(Path(tempfile.mkdtemp()) / "gpt2", seed=0, n_layer=4, n_embd=256, n_positions=4096)
        lm = HFModel.from_pretrained(str(folder), device="cpu", dtype="float32", batch_size=args.batch, name="tiny")
    else:
        lm = load_model(args.model, batch_size=args.batch)
    _, _, prompts = feedback_prompts(args.data, args.n)
    k = args.samples
    prefill = [0]

    def count(_m, _a, kw):
        b, t = kw["input_ids"].shape
        if t > 1:
            prefill[0] += b * t
    hook = lm.model.register_forward_pre_hook(count, with_kwargs=True)
    layouts = {"k_calls": lambda: [g for j in range(k) for g in lm.generate(prompts, args.max_new_tokens, 0.7, seed=j)],
               "copies": lambda: lm.generate([x for x in prompts for _ in range(k)], args.max_new_tokens, 0.7, seed=0)}
    runs: dict[str, list[dict]] = {name: [] for name in layouts}
    for r in range(args.rounds):
        for name, fn in layouts.items():
            prefill[0] = 0
            t = time.perf_counter()
            gens = fn()
            dt = time.perf_counter() - t
            runs[name].append({"seconds": dt, "prefill_positions": prefill[0],
                               "new_tokens": sum(g.new_tokens for g in gens)})
            print(f"round {r} {name:8s} {dt:7.2f} s prefill {prefill[0]:7d} positions", flush=True)
    hook.remove()
    summary = {"model": "tiny (4x256 GPT-2)" if args.tiny else args.model, "threads": torch.get_num_threads(),
               "prompts": len(prompts), "samples": k, "batch": args.batch, "runs": runs,
               "time_ratio_per_round": [a["seconds"] / b["seconds"] for a, b in zip(runs["k_calls"], runs["copies"])],
               "prefill_ratio": runs["k_calls"][0]["prefill_positions"] / runs["copies"][0]["prefill_positions"]}
    return report(summary, args.out)


if __name__ == "__main__":
    raise SystemExit(main())

"""Belief scoring on the vLLM engine by KV block size: the prefix cache shares whole blocks only.

Each round starts a fresh engine (Qwen2.5-Coder-0.5B, bfloat16) with one block size, scores every catalogue item of
``--questions`` GSM8K training questions (:func:`llm.game.beliefs.belief_requests`, the ``prior`` condition's
requests), then answers the same questions at T = 0.3 in the task's 5-shot chat prompt (128 new tokens)
to show that generation does not pay for the smaller blocks. Rounds alternate the block sizes (A B A B) because the
machine is shared. Prints one line per round and the largest score difference between block sizes.

Run from the repository root with the ``vllm`` extra installed::

    python benchmarks/bench_beliefs.py --questions 32 --block-sizes 128,32 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def one_round(model: str, data: str, questions: int, block_size: int, out: Path) -> dict:
    """Times belief scoring and generation on a fresh engine; writes the scores to ``out``."""
    from llm.backends.vllm import load_vllm
    from llm.game.beliefs import belief_requests
    from llm.game.catalogue import load_catalogue
    from llm.tasks.registry import get_task

    task = get_task("gsm8k")
    probs = task.load("train", path=data, limit=2000 + questions)[2000:]
    catalogue = load_catalogue("math")
    prompts, conts = belief_requests([p.question for p in probs], catalogue)
    shots = task.few_shot(task.default_shots, seed=0, path=data)
    chats = [task.prompt(p, shots, chat=True) for p in probs]
    lm = load_vllm(model, device="cpu", dtype="bfloat16", block_size=block_size)
    t = time.perf_counter()
    scores = lm.logprob(prompts, conts)
    beliefs_s = time.perf_counter() - t
    t = time.perf_counter()
    gens = lm.generate(chats, max_new_tokens=128, temperature=0.3, seed=0)
    generate_s = time.perf_counter() - t
    np.save(out, scores)
    tokens = sum(g.new_tokens for g in gens)
    return {"block_size": block_size, "rows": len(prompts), "beliefs_s": round(beliefs_s, 1),
            "generate_tok_s": round(tokens / generate_s, 1), "tokens": tokens}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--questions", type=int, default=32)
    p.add_argument("--block-sizes", default="128,32")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--round", type=int, default=None, help=argparse.SUPPRESS)  # internal: one round in this process
    p.add_argument("--scores", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    sizes = [int(b) for b in args.block_sizes.split(",") if b]
    if args.round is not None:
        print(json.dumps(one_round(args.model, args.data, args.questions, args.round, Path(args.scores))))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        scores: dict[int, np.ndarray] = {}
        for r in range(args.rounds):
            for b in sizes:  # a fresh process per engine: one vLLM engine per process
                out = Path(tmp) / f"scores{b}.npy"
                cmd = [sys.executable, __file__, "--model", args.model, "--data", args.data, "--questions",
                       str(args.questions), "--round", str(b), "--scores", str(out)]
                line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
                print(f"round {r + 1}: {line}", flush=True)
                scores[b] = np.load(out)
        first = scores[sizes[0]]
        for b in sizes[1:]:
            print(f"max |score({sizes[0]}) - score({b})| = {float(np.max(np.abs(first - scores[b]))):.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

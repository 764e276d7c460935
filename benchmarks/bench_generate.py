"""Generation speed: the package's default local backend against plain ``transformers`` ``generate``.

Both engines get the same model weights (one loaded model), the same dtype, the same prompts (the package's GSM8K
chat prompt for the first ``--n`` test problems), greedy decoding, the same stop strings (GSM8K's), the same batch
size and the same token budget. They alternate in one process (A B A B ...), so the ratio of their speeds is
meaningful on a shared machine even when absolute times are not. Reported per engine: generated tokens per
second (tokens up to and including EOS or the stop string, summed over prompts, over wall time), the peak resident
memory during its runs, how many answers are correct, and how many texts and final answers agree between engines.

    python benchmarks/bench_generate.py                                  # the issue's workload (slow on 2 cores)
    python benchmarks/bench_generate.py --n 16 --max-new-tokens 64 --rounds 2 --threads 1 --out bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from llm.backends import load_model
from llm.backends.hf import HFModel, auto_dtype, cpu_has_native_bf16, parse_dtype
from llm.tasks import format_math_prompt, grade_gsm8k, load_gsm8k
from llm.tasks.answers import extract_gsm8k_answer
from llm.tasks.gsm8k import STOP


@dataclass(frozen=True)
class Run:
    """One timed run of one engine."""

    engine: str
    round: int
    seconds: float
    tokens: int
    peak_rss_mb: float
    texts: tuple[str, ...]


class PeakRSS:
    """Samples this process's resident memory every ``period`` seconds while active; ``peak`` in MB."""

    def __init__(self, period: float = 0.05) -> None:
        self.period, self.peak, self._stop = period, 0.0, threading.Event()

    @staticmethod
    def now() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def __enter__(self) -> PeakRSS:
        self.peak = self.now()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(self.period):
            self.peak = max(self.peak, self.now())

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def cut_at_stop(text: str, stops: tuple[str, ...]) -> str:
    cut = min((text.find(s) for s in stops if s in text), default=-1)
    return text[:cut] if cut >= 0 else text


def package_engine(lm: HFModel, prompts: list[Any], max_new: int) -> Callable[[], tuple[int, list[str]]]:
    def run() -> tuple[int, list[str]]:
        gens = lm.generate(prompts, max_new_tokens=max_new, temperature=0.0, seed=0, stop=list(STOP))
        return sum(g.new_tokens for g in gens), [g.text for g in gens]

    return run


def plain_engine(lm: HFModel, prompts: list[Any], max_new: int, batch: int) -> Callable[[], tuple[int, list[str]]]:
    """``model.generate`` on left-padded batches of the same rendered prompts, with ``stop_strings``."""
    tok, model = lm.tokenizer, lm.model
    texts = [lm.render(p)[0] for p in prompts]
    special = [lm.render(p)[1] for p in prompts]
    order = sorted(range(len(texts)), key=lambda i: -len(lm.encode(texts[i], special[i])))

    def run() -> tuple[int, list[str]]:
        out: list[str] = [""] * len(texts)
        tokens = 0
        tok.padding_side = "left"
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            enc = tok([texts[i] for i in idx], return_tensors="pt", padding=True,
                      add_special_tokens=special[idx[0]]).to(lm.device)
            with torch.inference_mode():
                seqs = model.generate(**enc, max_new_tokens=max_new, do_sample=False, stop_strings=list(STOP),
                                      tokenizer=tok, pad_token_id=lm.pad_id)
            for row, i in zip(seqs[:, enc.input_ids.shape[1]:].tolist(), idx):
                n = next((j + 1 for j, t in enumerate(row) if t in lm.eos_ids), None)
                if n is None:  # stopped by a stop string or the budget: drop trailing padding
                    n = len(row)
                    while n and row[n - 1] == lm.pad_id:
                        n -= 1
                tokens += n
                body = [t for t in row[:n] if t not in lm.eos_ids]
                out[i] = cut_at_stop(tok.decode(body, skip_special_tokens=True), STOP)
        return tokens, out

    return run


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    import transformers

    return {"cpu": model, "cores": os.cpu_count(), "native_bf16": cpu_has_native_bf16(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "transformers": transformers.__version__, "python": platform.python_version(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "loadavg_start": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--data", default=None, help="data root (default: $PERSUASION_DATA, then ../shared/data)")
    p.add_argument("--n", type=int, default=16, help="first N GSM8K test problems")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--dtype", default=None, help="default: the package's (bfloat16 where native)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=2, help="A B rounds (A = package, B = plain generate)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--engines", default="package,transformers", help="comma-separated subset to run")
    p.add_argument("--out", default=None, help="also write the runs as JSON here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    info = machine()
    dtype = parse_dtype(args.dtype, args.device)
    t0 = time.perf_counter()
    with PeakRSS() as load_rss:
        lm = load_model(args.model, batch_size=args.batch_size, device=args.device, dtype=str(dtype).split(".")[1])
    assert isinstance(lm, HFModel)
    print(f"loaded {args.model} in {lm.dtype} ({time.perf_counter() - t0:.0f} s, peak RSS {load_rss.peak:.0f} MB; "
          f"auto dtype here: {auto_dtype(args.device)})")
    problems = load_gsm8k("test", args.data, limit=args.n)
    prompts = [format_math_prompt(q, chat=True) for q in problems]
    engines = {"package": package_engine(lm, prompts, args.max_new_tokens),
               "transformers": plain_engine(lm, prompts, args.max_new_tokens, args.batch_size)}
    engines = {k: v for k, v in engines.items() if k in args.engines.split(",")}
    runs: list[Run] = []
    for r in range(args.rounds):
        for name, engine in engines.items():
            with PeakRSS() as rss:
                t = time.perf_counter()
                tokens, texts = engine()
                dt = time.perf_counter() - t
            runs.append(Run(name, r, dt, tokens, rss.peak, tuple(texts)))
            print(f"round {r} {name:12s} {tokens:5d} tokens {dt:7.1f} s {tokens / dt:7.1f} tok/s "
                  f"peak RSS {rss.peak:.0f} MB", flush=True)
    info["loadavg_end"] = os.getloadavg()
    summary: dict[str, Any] = {"machine": info, "model": args.model, "dtype": str(lm.dtype), "n": args.n,
                               "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
                               "rounds": args.rounds}
    for name in engines:
        mine = [x for x in runs if x.engine == name]
        correct = [sum(grade_gsm8k(t, q.answer) for t, q in zip(x.texts, problems)) for x in mine]
        summary[name] = {"tok_per_s": [x.tokens / x.seconds for x in mine], "tokens": [x.tokens for x in mine],
                         "seconds": [x.seconds for x in mine], "peak_rss_mb": max(x.peak_rss_mb for x in mine),
                         "correct": correct}
    a = [x for x in runs if x.engine == "package"]
    b = [x for x in runs if x.engine == "transformers"]
    if a and b:
        summary["speed_ratio_per_round"] = [(x.tokens / x.seconds) / (y.tokens / y.seconds) for x, y in zip(a, b)]
        summary["same_text"] = sum(s == t for s, t in zip(a[0].texts, b[0].texts))
        summary["same_answer"] = sum(extract_gsm8k_answer(s) == extract_gsm8k_answer(t)
                                     for s, t in zip(a[0].texts, b[0].texts))
        summary["deterministic"] = all(x.texts == a[0].texts for x in a) and all(y.texts == b[0].texts for y in b)
    print(json.dumps({k: v for k, v in summary.items()}, indent=1, default=str))
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "runs": [asdict(x) for x in runs]}, indent=1,
                                             default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Generation engines: the package's transformers backend (``llm.backends.hf``) against in-process vLLM
(``llm.backends.vllm``).

Workloads (``docs/performance.md``, "vLLM"), on the same model folder and the package's GSM8K prompts:

* ``batch16`` / ``batch64``: the first 16 / 64 GSM8K test problems in the chat prompt, greedy, ``--max-new-tokens``
  256, GSM8K's stop strings, at most 16 / 64 rows decoded at once;
* ``feedback``: the feedback phase's shape: ``--feedback-problems`` GSM8K train problems under every item of the
  math catalogue (``none`` included) in the 5-shot chat prompt, ``--samples`` sampled answers per (problem, item) at
  T = 0.7 (copies of one prompt, which vLLM turns into one request with ``n = k``), at most 64 rows at once.

Both engines stay loaded in one process and alternate (A B A B ...), so their ratio is meaningful on a shared
machine even when absolute times are not. Reported per engine and workload: generated tokens per second (every
generated token, EOS included, over wall time), correct answers, and for the greedy workloads how many texts and
final answers agree between engines (bfloat16 kernels differ, so a near-tie between two tokens can flip and the
texts part from there). The vLLM engine's processes stay alive between its runs; their CPU use while idle is
measured and reported (``vllm_idle_cpu``), since it would slow the other engine.

``--e2e N`` also times ``experiments/llm_math.py`` end to end on the first ``N`` GSM8K test problems
(``baseline``, ``prior``, ``posterior``, ``signal``; ``--train-limit`` training problems, 2 samples per cell, the
template Advisor) once per engine and round, each in a fresh process and output folder (vLLM's includes its
start-up).

    python benchmarks/bench_engines.py --rounds 2 --out bench_engines.json                 # ~12 min on 2 cores
    python benchmarks/bench_engines.py --workloads batch16 --rounds 1 --max-new-tokens 64  # a quick look
    python benchmarks/bench_engines.py --workloads none --e2e 32 --rounds 1                 # end to end only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_generate import machine  # benchmarks/ is on sys.path
from llm.bpa.context import hint_text
from llm.game.catalogue import load_catalogue
from llm.tasks import format_math_prompt, grade_gsm8k, load_gsm8k
from llm.tasks.answers import extract_gsm8k_answer
from llm.tasks.gsm8k import STOP
from llm.tasks.registry import get_task

#: Sampling temperature of the feedback workload (``BPAConfig.temperature``'s default).
FEEDBACK_TEMPERATURE = 0.7
WORKLOADS = ("batch16", "batch64", "feedback")


def workload(name: str, data: str | None, problems: int, samples: int) -> dict[str, Any]:
    """Prompts, problems, batch size, temperature and stop strings of one workload."""
    if name in ("batch16", "batch64"):
        n = int(name.removeprefix("batch"))
        qs = load_gsm8k("test", data, limit=n)
        return {"prompts": [format_math_prompt(q, chat=True) for q in qs], "problems": qs, "batch": n,
                "temperature": 0.0, "stop": list(STOP)}
    task = get_task("gsm8k")
    shots = task.few_shot(task.default_shots, seed=0, path=data)
    items = load_catalogue("math").with_none().items
    cells = [(q, it) for q in task.load("train", data, limit=problems) for it in items for _ in range(samples)]
    return {"prompts": [task.prompt(q, shots, chat=True, hint=hint_text(it)) for q, it in cells],
            "problems": [q for q, _ in cells], "batch": 64, "temperature": FEEDBACK_TEMPERATURE, "stop": []}


def idle_cpu(seconds: float = 5.0) -> float:
    """CPU seconds per second used by this process's children (the vLLM engine) while nothing is asked of them."""
    def ticks() -> int:
        total = 0
        for pid in _children(os.getpid()):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime + stime
            except (OSError, IndexError, ValueError):
                pass
        return total

    start = ticks()
    time.sleep(seconds)
    return (ticks() - start) / os.sysconf("SC_CLK_TCK") / seconds


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids = [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
        for k in kids:
            out += [k, *_children(k)]
    return out


def e2e(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    """Wall time of one ``llm_math.py`` run on ``engine`` in a fresh process and folder."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix=f"e2e-{engine}-") as out:
        cmd = [sys.executable, str(root / "experiments" / "llm_math.py"), "--receiver", args.model,
               "--advisor", "template", "--conditions", "baseline,prior,posterior,signal", "--limit", str(args.e2e),
               "--train-limit", str(args.train_limit), "--samples", "2", "--batch-size", "64", "--chunk", "64",
               "--engine", engine, "--out", out] + (["--data", args.data] if args.data else [])
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t
        summary = Path(out, "summary.json")
        result = json.loads(summary.read_text()) if summary.exists() else None
    if proc.returncode:
        print(proc.stderr[-2000:], file=sys.stderr)
    return {"engine": engine, "seconds": seconds, "returncode": proc.returncode, "summary": result}


def save(summary: dict[str, Any], out: str | None) -> None:
    if out:
        Path(out).write_text(json.dumps(summary, indent=1, default=str))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--data", default=None, help="data root (default: $PERSUASION_DATA, then ../shared/data)")
    p.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma-separated subset of {WORKLOADS} or none")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--feedback-problems", type=int, default=2, help="GSM8K train problems of the feedback workload")
    p.add_argument("--samples", type=int, default=4, help="answers per (problem, item) in the feedback workload")
    p.add_argument("--rounds", type=int, default=2, help="A B rounds (A = transformers, B = vllm)")
    p.add_argument("--e2e", type=int, default=0, help="also time llm_math.py on this many test problems per engine")
    p.add_argument("--train-limit", type=int, default=4, help="training problems of the --e2e runs")
    p.add_argument("--out", default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    names = [w for w in args.workloads.split(",") if w and w != "none"]
    info = machine()
    summary: dict[str, Any] = {"machine": info, "model": args.model, "max_new_tokens": args.max_new_tokens,
                               "rounds": args.rounds, "runs": []}
    if names:
        from llm.backends.vllm import load_vllm
        from llm.backends import load_model

        loads = {}
        t = time.perf_counter()
        hf = load_model(args.model, batch_size=64, device="cpu")
        loads["hf"] = time.perf_counter() - t
        t = time.perf_counter()
        vl = load_vllm(args.model, batch_size=64, device="cpu")
        loads["vllm"] = time.perf_counter() - t
        summary["load_seconds"] = loads
        summary["vllm_idle_cpu"] = idle_cpu()
        print(f"loaded in {loads['hf']:.0f} s (hf, {hf.dtype}) and {loads['vllm']:.0f} s (vllm); vllm idle CPU "
              f"{summary['vllm_idle_cpu']:.2f} core", flush=True)
        loads_ = {w: workload(w, args.data, args.feedback_problems, args.samples) for w in names}
        texts: dict[tuple[str, str], list[str]] = {}
        for r in range(args.rounds):
            for w in names:
                job = loads_[w]
                for engine, lm in (("hf", hf), ("vllm", vl)):
                    if engine == "hf":
                        lm.batch_size = job["batch"]  # type: ignore[attr-defined]
                    t = time.perf_counter()
                    gens = lm.generate(job["prompts"], max_new_tokens=args.max_new_tokens,
                                       temperature=job["temperature"], seed=0, stop=job["stop"])
                    dt = time.perf_counter() - t
                    tokens = sum(g.new_tokens for g in gens)
                    correct = sum(grade_gsm8k(g.text, q.answer) for g, q in zip(gens, job["problems"]))
                    texts[(w, engine)] = [g.text for g in gens]
                    summary["runs"].append({"workload": w, "engine": engine, "round": r, "seconds": dt,
                                            "tokens": tokens, "tok_per_s": tokens / dt, "correct": correct,
                                            "rows": len(gens), "loadavg": os.getloadavg()[0]})
                    print(f"round {r} {w:9s} {engine:5s} {tokens:6d} tokens {dt:7.1f} s {tokens / dt:6.1f} tok/s "
                          f"{correct}/{len(gens)} correct", flush=True)
                if job["temperature"] == 0:
                    a, b = texts[(w, "hf")], texts[(w, "vllm")]
                    summary.setdefault("agreement", {})[w] = {
                        "same_text": sum(x == y for x, y in zip(a, b)),
                        "same_answer": sum(extract_gsm8k_answer(x) == extract_gsm8k_answer(y) for x, y in zip(a, b)),
                        "rows": len(a)}
                save(summary, args.out)  # after every pair: a long run killed half way keeps what it measured
        vl.close()
    if args.e2e:
        for r in range(args.rounds):
            for engine in ("hf", "vllm"):
                run = e2e(engine, args) | {"round": r}
                summary.setdefault("e2e", []).append(run)
                save(summary, args.out)
                print(f"round {r} llm_math {engine:5s} {run['seconds']:7.1f} s (exit {run['returncode']})",
                      flush=True)
    info["loadavg_end"] = os.getloadavg()
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=1, default=str))
    save(summary, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

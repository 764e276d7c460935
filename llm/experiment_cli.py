"""The command line shared by ``experiments/llm_math.py`` and ``experiments/llm_code.py``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from llm.bpa import CONDITIONS, BPAConfig, run
from llm.methods import METHODS, MethodsConfig, conditions_for, parse_methods


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit status 2
        sys.stderr.write(f"error: {message}\n")
        raise SystemExit(2)


def build_parser(prog: str, doc: str, defaults: dict[str, Any]) -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=defaults["out"], help="output folder (resumes if it exists)")
    p.add_argument("--task", default=defaults["task"], help="task name (default %(default)s)")
    p.add_argument("--train-task", default=None,
                   help="task whose train split trains the Advisor and corrector (default: --task; mbpp for humaneval)")
    p.add_argument("--catalogue", default=defaults["catalogue"], help="information items: built-in name or JSON path")
    p.add_argument("--advisor", default="smollm2-135m", help="Advisor model (short name, folder, hub id)")
    p.add_argument("--receiver", action="append", dest="receivers", metavar="MODEL",
                   help="Receiver model; repeat for several (local names/folders/hub ids or http(s)://.../v1#model)")
    p.add_argument("--train-receiver", default=None, help="Receiver whose feedback trains the Advisor (default: first)")
    p.add_argument("--data", default=None, help="data root or file (default: $PERSUASION_DATA, then ../shared/data)")
    p.add_argument("--limit", type=int, default=defaults["limit"], help="test problems (0: all)")
    p.add_argument("--train-limit", type=int, default=16, help="training problems for Receiver feedback")
    p.add_argument("--method", default=None, metavar="NAMES",
                   help=f"comma-separated methods to compare with the baseline, or 'all': {', '.join(METHODS)} "
                        "(default: bpa; with --smoke: all)")
    p.add_argument("--conditions", default=None,
                   help=f"evaluation conditions instead of --method: comma-separated subset of {','.join(CONDITIONS)}")
    p.add_argument("--max-new-tokens", type=int, default=defaults["max_new_tokens"])
    p.add_argument("--signal-tokens", type=int, default=48)
    p.add_argument("--chat", choices=("auto", "yes", "no"), default="auto")
    p.add_argument("--shots", type=int, default=0, help="few-shot examples in the Receiver prompt")
    p.add_argument("--sft-epochs", type=int, default=2)
    p.add_argument("--sft-lr", type=float, default=5e-5)
    p.add_argument("--sft-max-steps", type=int, default=None)
    p.add_argument("--dpo", action="store_true", help="follow SFT with DPO on signal pairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is fastest on a busy machine)")
    g = p.add_argument_group("decoupled methods (docs/methods.md)")
    g.add_argument("--corrector", default=None, help="corrector start model (default: the Advisor's)")
    g.add_argument("--aligner-epochs", type=int, default=2)
    g.add_argument("--aligner-lr", type=float, default=5e-5)
    g.add_argument("--aligner-max-steps", type=int, default=None)
    g.add_argument("--aligner-warmup", action="store_true", help="identity warm-up on Q-A-A before Q-A-C")
    g.add_argument("--correction-tokens", type=int, default=None, help="corrector budget (default: --max-new-tokens)")
    g.add_argument("--squad-threshold", type=float, default=0.5, help="correct when p(correct) is below this")
    g.add_argument("--la-ratio", type=float, default=1.0, help="Linear Alignment r in (1+r) l_p - r l")
    g.add_argument("--la-top-p", type=float, default=0.9, help="nucleus of the with-principle distribution")
    g.add_argument("--la-principle", default=None, help="principle text (default: per task kind)")
    p.add_argument("--publish", default=None, metavar="PREFIX",
                   help="also write the side-by-side table and plot to PREFIX.md and PREFIX.png "
                        "(e.g. docs/results/math)")
    p.add_argument("--smoke", action="store_true",
                   help="whole pipeline on tiny random GPT-2 models and 5 synthetic problems (minutes on a CPU)")
    return p


def smoke_models(out: Path) -> tuple[str, str]:
    """Tiny random-init GPT-2 Advisor and Receiver with the real GPT-2 tokenizer (built once under ``out``)."""
    from llm.models import tiny_gpt2

    paths = []
    for name, seed in (("advisor", 1), ("receiver", 2)):
        folder = out / "models" / f"tiny-{name}"
        if not (folder / "config.json").exists():
            tiny_gpt2(folder, seed=seed)
        paths.append(str(folder))
    return paths[0], paths[1]


def _conditions(args: argparse.Namespace, smoke: bool) -> tuple[str, ...]:
    if args.conditions is not None and args.method is not None:
        raise ValueError("give --method or --conditions, not both")
    if args.conditions is not None:
        return tuple(c.strip() for c in args.conditions.split(",") if c.strip())
    return conditions_for(parse_methods(args.method or ("all" if smoke else "bpa")))


def main(argv: Sequence[str] | None, prog: str, doc: str, defaults: dict[str, Any]) -> int:
    args = build_parser(prog, doc, defaults).parse_args(argv)
    out = Path(args.out)
    threads = args.threads or (1 if args.smoke else None)  # tiny models: extra threads only spin on a busy CPU
    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        conditions = _conditions(args, args.smoke)
        if args.smoke:
            advisor, receiver = smoke_models(out)
            methods = MethodsConfig(aligner_epochs=1, aligner_max_steps=2, aligner_lr=1e-3, aligner_warmup=True,
                                    squad_threshold=args.squad_threshold, la_ratio=args.la_ratio,
                                    la_top_p=args.la_top_p)
            cfg = BPAConfig(task="synthetic", catalogue=args.catalogue, advisor=advisor, receivers=(receiver,),
                            limit=5, train_limit=5, conditions=conditions, max_new_tokens=12, signal_tokens=8,
                            chat="no", sft_epochs=1, sft_max_steps=2, sft_lr=1e-3, dpo=True, seed=args.seed,
                            batch_size=8, chunk=3, device="cpu", dtype="float32", methods=methods)
        else:
            methods = MethodsConfig(
                corrector=args.corrector, aligner_epochs=args.aligner_epochs, aligner_lr=args.aligner_lr,
                aligner_max_steps=args.aligner_max_steps, aligner_warmup=args.aligner_warmup,
                correction_tokens=args.correction_tokens, squad_threshold=args.squad_threshold,
                la_ratio=args.la_ratio, la_top_p=args.la_top_p, la_principle=args.la_principle,
            )
            cfg = BPAConfig(
                task=args.task, train_task=args.train_task, catalogue=args.catalogue, advisor=args.advisor,
                receivers=tuple(args.receivers or ["smollm2-135m"]), train_receiver=args.train_receiver,
                data=args.data, limit=args.limit or None, train_limit=args.train_limit, conditions=conditions,
                max_new_tokens=args.max_new_tokens, signal_tokens=args.signal_tokens, chat=args.chat,
                shots=args.shots, sft_epochs=args.sft_epochs, sft_lr=args.sft_lr, sft_max_steps=args.sft_max_steps,
                dpo=args.dpo, seed=args.seed, batch_size=args.batch_size, device=args.device, dtype=args.dtype,
                methods=methods,
            )
        t0 = time.perf_counter()
        result = run(cfg, out, publish=args.publish)
    except (ValueError, OSError, RuntimeError) as exc:  # GameError, LMError, TaskError, DataNotFoundError...
        sys.stderr.write(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}\n")
        return 2
    print((out / "methods.md").read_text())
    print(f"wrote {out}/summary.json, summary.md, methods.md, accuracy.png, methods.png, beliefs.png, eval.jsonl "
          f"({result['rows']} rows) in {time.perf_counter() - t0:.0f} s")
    return 0

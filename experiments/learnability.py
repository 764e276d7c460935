"""Learnability diagnostics on training problems, before an Advisor is trained or a test split is touched.

Feedback with placebo arms (content-free hints of matched length) on the training split, then: (a) the oracle
against the placebo oracle (item-specific headroom), (b) the split-sample check (interaction variance that
survives, cross-fitted oracle), (c) the cross-validated policy value of the state model and its learning curve
(``llm/bpa/learnability.py``, ``docs/method.md``). Takes the experiment options of ``llm_math.py``.

    python experiments/learnability.py --task synthetic --out runs/learn-grouped                     # ~1 min
    python experiments/learnability.py --task synthetic --receiver simulated:unlearnable --out runs/learn-random
    python experiments/learnability.py --task mbpp --catalogue code --receiver qwen2.5-coder-0.5b \\
        --train-limit 0 --samples 8 --out runs/learn-code                                            # real feedback

Writes learnability.json, learnability.md and learnability.png to --out (resumes the feedback with the same --out).
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llm.experiment_cli import build_parser, config_from_args  # noqa: E402

DEFAULTS = {"out": "runs/learnability", "task": "synthetic", "catalogue": "math", "samples": 8, "limit": 1}


def main(argv=None) -> int:
    from persuasion.usage import UsageError, fail, output_folder

    try:
        args = build_parser("learnability.py", __doc__, DEFAULTS).parse_args(argv)
        out = output_folder(args.out, "--out", create=False)  # created by the run, once the config is valid
    except UsageError as exc:
        return fail(exc)
    try:
        from dataclasses import replace

        from llm.bpa.diagnose import run_learnability, summary_line

        cfg = config_from_args(args, DEFAULTS)
        if args.train_limit == 0:
            cfg = replace(cfg, train_limit=10**9)
        t0 = time.perf_counter()
        result = run_learnability(cfg, out)
    except (ValueError, OSError, RuntimeError) as exc:  # one line, as the other entry points
        return fail(exc)
    print((out / "learnability.md").read_text())
    print(summary_line(result))
    print(f"wrote {out}/learnability.json, learnability.md, learnability.png in {time.perf_counter() - t0:.0f} s")
    return 0

if __name__ == "__main__":
    sys.exit(main())

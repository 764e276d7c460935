"""Bayesian Persuasion Alignment on code generation (HumanEval, MBPP).

Model-written code is graded only inside the project's sandbox (:mod:`llm.sandbox`). Training data (Receiver
feedback for the Advisor, Q-A-C triples for Aligner's corrector) comes from the MBPP training split (task ids
601-974), never from a test split. HumanEval has a test split only, so ``--task humaneval`` trains on MBPP's
(``--train-task`` names another) and evaluates on all 164 HumanEval problems or ``--limit`` of them.

    python experiments/llm_code.py --smoke --out runs/smoke-code            # every method, tiny models
    python experiments/llm_code.py --task humaneval --method all --receiver qwen2.5-coder-0.5b --limit 0 \\
        --chat no --train-limit 64 --out runs/humaneval --publish docs/results/humaneval
    python experiments/llm_code.py --task mbpp --receiver qwen2.5-coder-0.5b --limit 50 --out runs/mbpp
    python experiments/llm_code.py --task mbpp --method aligner,aligner-squad,linear-alignment \\
        --receiver qwen2.5-coder-0.5b --limit 50 --train-limit 64 --out runs/mbpp-methods
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llm.experiment_cli import main  # noqa: E402

DEFAULTS = {"out": "runs/llm_code", "task": "mbpp", "catalogue": "code", "limit": 20}

if __name__ == "__main__":
    sys.exit(main(None, "llm_code.py", __doc__, DEFAULTS))

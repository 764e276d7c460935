"""Bayesian Persuasion Alignment on math word problems (GSM8K; offline synthetic stand-in).

The Advisor (default SmolLM2-135M-Instruct offline; ``gpt2`` in the paper; ``template`` for none) learns from
Receiver feedback on the training split which information item helps on which problem, and how to say it;
Receivers are evaluated on the test split under the baseline, prior, posterior and signal conditions, with random
and oracle as references (``llm/bpa/`` and ``docs/method.md``). ``--method`` puts the
decoupled alignment methods side by side with persuasion on the same Receivers and problems: Aligner, Aligner
squad with an inspector, Linear Alignment (``llm/methods/``, ``docs/methods.md``).

    python experiments/llm_math.py --task synthetic --out runs/sim          # the simulated Receiver (known optimum), ~30 s
    python experiments/llm_math.py --smoke --out runs/smoke-math            # every method, tiny models, ~25 s
    python experiments/llm_math.py --receiver gemma3-270m --receiver smollm2-135m --limit 50 --out runs/math
    python experiments/llm_math.py --method all --receiver smollm2-135m --limit 50 --train-limit 64 \\
        --threads 1 --out runs/math-methods --publish docs/results/math        # side-by-side table and plot
    python experiments/llm_math.py --advisor gpt2 --receiver http://localhost:8000/v1#Qwen/Qwen2.5-7B-Instruct \\
        --limit 0 --train-limit 512 --dpo --out runs/math-full                  # a GPU / an endpoint

A killed run resumes where it stopped when called again with the same ``--out``. GSM8K and the other real tasks
need ``--receiver`` (the bare command says so in one line instead of running a 135M model for many minutes).
Times: measured on 2 shared CPU cores; each real-model run's wall time is on its ``docs/results/`` page.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llm.experiment_cli import main  # noqa: E402

DEFAULTS = {"out": "runs/llm_math", "task": "gsm8k", "catalogue": "math", "limit": 20}

if __name__ == "__main__":
    sys.exit(main(None, "llm_math.py", __doc__, DEFAULTS))

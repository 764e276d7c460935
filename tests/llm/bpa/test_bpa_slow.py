"""Opt-in (--runslow): the whole pipeline with a real small Advisor language model against the simulated Receiver."""

from __future__ import annotations

import json

import pytest

from llm.bpa.config import BPAConfig
from llm.bpa.pipeline import run


@pytest.mark.slow
def test_a_real_advisor_learns_signals_that_reach_the_optimum(tmp_path):
    """SmolLM2-135M-Instruct writes the signals; SFT on counterfactual credit teaches it to name what helps.

    DPO is off: its 276 pairs cost about 26 s a step on the shared 2-core CPU (90 minutes); the DPO loss and pairs
    have their own unit tests."""
    pytest.importorskip("gguf")
    cfg = BPAConfig(task="synthetic", catalogue="math", advisor="smollm2-135m", receivers=("simulated",),
                    train_limit=40, limit=80, signal_candidates=2, samples=4, sft_epochs=3, sft_lr=1e-4, dpo=False,
                    conditions=("baseline", "posterior", "signal", "oracle"), batch_size=32, chunk=20)
    result = run(cfg, tmp_path / "real-advisor", log=lambda _: None)
    s = result["receivers"]["simulated"]
    oracle, base = s["oracle"]["accuracy"], s["baseline"]["accuracy"]
    for cond in ("posterior", "signal"):
        assert s[cond]["accuracy"] >= oracle - 0.1, (cond, s[cond]["accuracy"], oracle)
        assert s[cond]["diff_ci95"][0] > 0.05, cond
    advisor = json.loads(next((tmp_path / "real-advisor" / "training").iterdir()).joinpath("advisor.json").read_text())
    assert advisor["sft_pairs"] > 0 and advisor["sft"]["last_loss"] < advisor["sft"]["first_loss"]
    assert base < oracle - 0.2

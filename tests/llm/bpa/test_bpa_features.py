"""The Advisor's feature blocks (``llm.bpa.features``): where ``hidden`` states come from when vLLM answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llm.backends.simulated import SimulatedReceiver
from llm.bpa.config import BPAConfig
from llm.bpa.context import Context
from llm.bpa.features import feature_blocks
from llm.game.catalogue import load_catalogue
from llm.lm import LMError
from llm.tasks.registry import get_task

TASK = get_task("synthetic")
PROBLEMS = TASK.load("train", limit=3)
CAT = load_catalogue("math").with_none()


def _context(tmp_path: Path, receiver: str, engine: str) -> tuple[Context, list[str]]:
    config = BPAConfig(task="synthetic", catalogue="math", advisor="template", receivers=(receiver,), engine=engine,
                       device="cpu", dtype="float32", state_features="hidden")
    asked: list[str] = []

    def loader(spec: str) -> SimulatedReceiver:  # stands in for the vLLM engine: answers, no insides
        asked.append(spec)
        return SimulatedReceiver()

    return Context(config, tmp_path, TASK, CAT, loader, log=lambda _: None), asked


def test_hidden_features_of_a_vllm_receiver_come_from_its_weights_on_transformers(tmp_path: Path,
                                                                                  tiny_dir: Path) -> None:
    ctx, asked = _context(tmp_path, str(tiny_dir), engine="vllm")
    blocks = feature_blocks(ctx, PROBLEMS, ["hidden"])
    assert blocks["hidden"].shape == (3, 32)  # the tiny GPT-2's width
    assert np.isfinite(blocks["hidden"]).all()
    assert asked == []  # the answering engine was not started for features
    assert [e["backend"].split(".")[:3] for e in ctx.engines.values()] == [["llm", "backends", "hf"]]
    again = feature_blocks(ctx, PROBLEMS, ["hidden"])  # loaded once, same features
    np.testing.assert_array_equal(again["hidden"], blocks["hidden"])
    assert len(ctx.engines) == 1


def test_hidden_features_of_a_receiver_without_weights_fail_in_one_line(tmp_path: Path) -> None:
    ctx, asked = _context(tmp_path, "simulated", engine="vllm")
    with pytest.raises(LMError, match="need a white-box training Receiver; simulated is not one"):
        feature_blocks(ctx, PROBLEMS, ["hidden"])
    assert asked == ["simulated"]

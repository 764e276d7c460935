"""Phase 1 on the simulated Receiver: the adaptive design against the grid, resumes, and k copies in one call."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from llm.backends.simulated import DEFAULT_SUCCESS, SimulatedReceiver, SimulatedSpec
from llm.bpa.config import BPAConfig
from llm.bpa.context import Context
from llm.bpa.feedback import collect_feedback
from llm.bpa.game import item_rates, problem_states
from llm.game.catalogue import NONE_ID, load_catalogue
from llm.rows import FeedbackRow
from llm.tasks.registry import get_task

CAT = load_catalogue("math").with_none()
ITEMS = CAT.ids
HELPFUL = "write_equation"
#: Clear-cut: silence solves 60%, one item 100%, every other item never (obedience 1).
CLEAR = SimulatedSpec({g: {i: 1.0 if i == HELPFUL else 0.6 if i == NONE_ID else 0.0 for i in ITEMS}
                       for g in DEFAULT_SUCCESS}, {i: 1 / len(ITEMS) for i in ITEMS}, obedience=1.0)
GRID = BPAConfig(task="synthetic", catalogue="math", advisor="template", receivers=("simulated",), train_limit=10,
                 samples=16, chunk=5, batch_size=64)
ADAPTIVE = replace(GRID, feedback_design="adaptive", first_samples=2)
TASK = get_task("synthetic")
PROBLEMS = TASK.load("train", limit=10)


class Counting(SimulatedReceiver):
    """The simulated Receiver, counting the answers it gives; after ``fail_after`` calls it raises (a killed run)."""

    def __init__(self, spec: SimulatedSpec, fail_after: int | None = None) -> None:
        super().__init__(spec)
        self.answers, self.calls, self.fail_after = 0, 0, fail_after

    def generate(self, prompts, *args, **kwargs):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        self.answers += len(prompts)
        return super().generate(prompts, *args, **kwargs)


def _feedback(config: BPAConfig, out: Path, rx: Counting) -> dict[str, FeedbackRow]:
    ctx = Context(config, out, TASK, CAT, lambda spec: rx, log=lambda _: None)
    return {r.key: r for r in collect_feedback(ctx, PROBLEMS)}


def _report(out: Path) -> dict:
    return json.loads(next((out / "training").glob("*/feedback.json")).read_text())


def _states(rows: dict[str, FeedbackRow]) -> dict[str, str]:
    rates = item_rates(list(rows.values()), CAT)
    return {p: CAT.ids[int(s)] for p, s in zip(rates.problem_ids, problem_states(rates, CAT))}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, Counting, dict[str, FeedbackRow]]]:
    out = {}
    for name, cfg in (("grid", GRID), ("adaptive", ADAPTIVE)):
        rx = Counting(CLEAR)
        folder = tmp_path_factory.mktemp(name)
        out[name] = (folder, rx, _feedback(cfg, folder, rx))
    return out


def test_adaptive_spends_far_fewer_answers_than_the_grid(runs):
    grid, adaptive = _report(runs["grid"][0]), _report(runs["adaptive"][0])
    cells = len(PROBLEMS) * len(ITEMS)
    assert grid["generations"] == grid["grid_generations"] == runs["grid"][1].answers == 16 * cells
    assert grid["saved"] == 0 and grid["cells_at_full_k"] == cells
    assert adaptive["grid_generations"] == 16 * cells
    assert adaptive["generations"] == runs["adaptive"][1].answers < 0.6 * 16 * cells  # 7 of 9 items never help


def test_adaptive_keeps_the_helpful_item_and_silence_at_full_k_and_finds_the_same_states(runs):
    rows, grid = runs["adaptive"][2], runs["grid"][2]
    assert rows.keys() == grid.keys()
    for key, r in rows.items():
        assert r.samples == 16 if r.item in (HELPFUL, NONE_ID) else r.samples >= 2
        assert r.correct == grid[key].correct[: r.samples]  # sample j of a cell is the same in both designs
    harmful = [r.samples for r in rows.values() if r.item not in (HELPFUL, NONE_ID)]
    assert sum(n < 16 for n in harmful) >= 0.8 * len(harmful)  # (silence's first answers can fail by chance)
    assert set(_states(rows).values()) == {HELPFUL}
    assert _states(rows) == _states(grid)


def test_a_killed_adaptive_run_resumes_without_redoing_finished_rounds(runs, tmp_path):
    first = Counting(CLEAR, fail_after=3)
    with pytest.raises(KeyboardInterrupt):
        _feedback(ADAPTIVE, tmp_path, first)
    assert (tmp_path / "train_rounds.jsonl").exists() and first.answers > 0
    second = Counting(CLEAR)
    rows = _feedback(ADAPTIVE, tmp_path, second)
    assert first.answers + second.answers == runs["adaptive"][1].answers  # nothing answered twice
    assert {k: r.correct for k, r in rows.items()} == {k: r.correct for k, r in runs["adaptive"][2].items()}


def test_the_grid_keeps_no_rounds(runs):
    assert not (runs["grid"][0] / "train_rounds.jsonl").exists()


def test_bad_designs_are_refused_in_one_line():
    for bad, match in ((dict(feedback_design="bandit"), "feedback_design"), (dict(first_samples=0), "first_samples"),
                       (dict(elimination_level=0.5), "elimination_level"), (dict(eval_temperature=-1), "eval_temp")):
        with pytest.raises(ValueError, match=match):
            replace(GRID, **bad)

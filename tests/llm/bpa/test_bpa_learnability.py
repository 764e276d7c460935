"""Learnability diagnostics: pure properties, and on simulated Receivers they tell learnable from unlearnable."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.bpa.config import BPAConfig
from llm.bpa.diagnose import run_learnability
from llm.bpa.learnability import (best_of, cross_fit_gains, halves, interaction_variance, outcomes, placebo_check,
                                  placebo_items, used_design)
from llm.game.catalogue import NONE_ID, load_catalogue
from llm.rows import FeedbackRow
from llm.stats import mde_paired

QUIET = dict(log=lambda _: None)
CAT = load_catalogue("math").with_none()


def test_placebo_hints_match_length_and_name_no_item():
    for item, fake in zip([it for it in CAT.items if it.id != NONE_ID], placebo_items(CAT)):
        assert len(fake.hint_text.split()) == len(item.hint_text.split())
        assert not any(it.name.lower() in fake.hint_text.lower() for it in CAT.items if it.id != NONE_ID)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 6), st.integers(2, 5))
def test_the_oracle_of_identical_arms_is_one_arm_and_has_no_headroom(seed, m, k):
    y = np.random.default_rng(seed).random((7, 1, 2 * k)) < 0.5
    same = np.repeat(y, m, axis=1)
    assert np.allclose(best_of(same), y[:, 0].mean(axis=1))
    assert placebo_check(same, same)["headroom"]["mean"] == 0.0


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_additive_tables_have_no_interaction_and_noise_cancels_in_expectation(seed):
    rng = np.random.default_rng(seed)
    row, col = rng.random((9, 1)), rng.random((1, 4))
    assert interaction_variance(row + col, row + col) == pytest.approx(0.0, abs=1e-12)
    # independent halves of pure noise: the estimate is centred on 0 (averaged over many tables)
    est = [interaction_variance(*halves(rng.random((40, 4, 8)) < 0.5)) for _ in range(30)]
    assert abs(np.mean(est)) < 0.01


def test_the_cross_fitted_oracle_removes_the_winners_curse():
    rng = np.random.default_rng(0)
    y = rng.random((400, 9, 8)) < 0.3  # every arm the same: any apparent best arm is luck
    naive = (y.mean(axis=2) - y.mean(axis=2)[:, [8]]).max(axis=1).mean()
    assert naive > 0.1
    assert abs(cross_fit_gains(*halves(y), 8).mean()) < 0.02


def test_outcomes_refuse_an_uneven_grid():
    rows = [FeedbackRow("a", "R", "p", "x", "template", None, (True, False)),
            FeedbackRow("b", "R", "p", "none", "template", None, (True,))]
    with pytest.raises(ValueError, match="full grid"):
        outcomes(rows, ("x", "none"))


@pytest.fixture(scope="module")
def diagnosed(tmp_path_factory):
    cfg = BPAConfig(task="synthetic", advisor="template", receivers=("simulated",), train_limit=100, samples=8,
                    batch_size=256, chunk=50)
    out = {}
    for name in ("grouped", "unlearnable"):
        from dataclasses import replace

        out[name] = run_learnability(replace(cfg, receivers=(f"simulated:{name}",)),
                                     tmp_path_factory.mktemp(name) / "run", **QUIET)
    return out


def test_each_diagnostic_tells_grouped_from_unlearnable(diagnosed):
    g, u = diagnosed["grouped"], diagnosed["unlearnable"]
    # (a) item-specific headroom over the placebo oracle
    assert g["placebo_check"]["headroom"]["lo"] > 0.1
    assert u["placebo_check"]["headroom"]["hi"] < 0.02
    # (b) interaction beyond the placebo's, and the cross-fitted item-specific gain
    gi, ui = g["split_sample"], u["split_sample"]
    assert gi["items"]["interaction_variance"]["lo"] > gi["placebo"]["interaction_variance"]["hi"]
    assert ui["items"]["interaction_variance"]["lo"] < ui["placebo"]["interaction_variance"]["hi"]
    assert gi["item_specific_cross_fit_gain"]["lo"] > 0.05 and ui["item_specific_cross_fit_gain"]["hi"] < 0.02
    # (c) the cross-validated policy value, and its learning curve rises only where there is something to learn
    assert g["cross_fit"]["chosen"]["value"]["lo"] > 0.1
    assert u["cross_fit"]["chosen"]["value"]["mean"] <= 0.0 and u["cross_fit"]["chosen"]["speaking_rate"] == 0.0
    curve = [r["value"]["mean"] for r in g["learning_curve"]]
    assert curve[-1] > curve[0]
    # (d) what a test run can expect: an effect and the problems that detect it; silence and nothing to detect
    ge, ue = g["expectation"], u["expectation"]
    assert ge["effect"] == g["cross_fit"]["chosen"]["value"] and not ge["silent"]
    assert ge["discordance"] == pytest.approx(ge["speaking_rate"] * ge["flip_rate"]) and ge["flip_rate_source"] == "feedback"
    v = ge["effect"]["mean"]
    assert mde_paired(ge["pairs"]["mean"], max(ge["discordance"], v)) <= v + 1e-12  # a difference v needs psi >= v
    assert ge["pairs"]["hi"] <= ge["pairs"]["mean"] <= ge["pairs"]["lo"]
    assert ue["silent"] and ue["pairs"] == {"mean": None, "lo": None, "hi": None}


def test_the_design_used_is_the_threshold_the_advisor_applies():
    row = {"features": "words", "lam": 10.0, "tau": 0.1, "value": {"mean": 0.02, "lo": 0.0, "hi": 0.04, "n": 50},
           "speaking_rate": 0.3}
    chosen = {**row, "tau": 0.05, "value": {"mean": 0.04, "lo": 0.01, "hi": 0.07, "n": 50}, "speaking_rate": 0.6}
    design = {"chosen": chosen, "candidates": [row, {**row, "features": "none"}], "tau_used": 0.05}
    assert used_design(design) == chosen  # the cross-fitted threshold
    assert used_design({**design, "tau_used": 0.1}) == {**chosen, "tau": 0.1, "value": row["value"],
                                                        "speaking_rate": 0.3}  # --tau on the grid
    silent = used_design({**design, "tau_used": float("inf")})
    assert silent["speaking_rate"] == 0.0 and silent["value"]["mean"] == 0.0
    assert used_design({**design, "tau_used": 0.07}) is None  # --tau off the grid: not scored


def test_the_page_and_figure_are_written(diagnosed, tmp_path):
    text = __import__("llm.bpa.diagnose", fromlist=["x"]).learnability_markdown(diagnosed["grouped"])
    assert "item-specific headroom" in text and "Learning curve" in text
    assert f"| {diagnosed['grouped']['expectation']['pairs']['mean']:,} |" in text  # (d): the test problems the prediction needs
    silent = __import__("llm.bpa.diagnose", fromlist=["x"]).learnability_markdown(diagnosed["unlearnable"])
    assert "a null result is the expected one" in silent
    g = diagnosed["grouped"]
    arms = len(g["items"]) + len(g["placebo"])  # the items and none, and the placebo hints
    assert "Hardware:" in text and f"feedback: {g['problems'] * arms * g['samples']:,} answers" in text


def test_the_command_answers_bad_input_in_one_line(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "experiments" / "learnability.py"
    spec = importlib.util.spec_from_file_location("learnability_cli", path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    (tmp_path / "file").write_text("x")
    for argv, needle in ((["--out", str(tmp_path / "file" / "run")], "is a file"),
                         (["--folds", "1", "--out", str(tmp_path / "r")], "folds must be >= 2"),
                         (["--state-features", "magic", "--out", str(tmp_path / "r")], "state features")):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and needle in err[0]


def test_a_run_resumed_from_the_diagnostics_feedback_trains_the_advisor_they_judged(tmp_path):
    """Copying ``train.jsonl`` from a learnability folder into a pipeline folder reuses every answer (placebo rows are
    ignored), and the Advisor's design is the one the diagnostics' (c) reported: the prediction is of this Advisor."""
    import json
    import shutil

    from llm.bpa.pipeline import run

    cfg = BPAConfig(task="synthetic", advisor="template", receivers=("simulated",), train_limit=30, samples=4,
                    limit=20, conditions=("baseline", "signal"), batch_size=256, chunk=30)
    diag = run_learnability(cfg, tmp_path / "learn", **QUIET)
    (tmp_path / "run").mkdir()
    shutil.copyfile(tmp_path / "learn" / "train.jsonl", tmp_path / "run" / "train.jsonl")
    before = (tmp_path / "run" / "train.jsonl").read_text()
    result = run(cfg, tmp_path / "run", **QUIET)
    assert (tmp_path / "run" / "train.jsonl").read_text() == before  # no answer was generated again
    assert result["run"]["phases"]["feedback"]["answers"] == 30 * len(CAT) * 4  # the items and none, not placebo
    chosen = json.loads(next((tmp_path / "run" / "training").glob("*/design.json")).read_text())["chosen"]
    assert chosen == diag["cross_fit"]["chosen"]

"""The whole pipeline against the simulated Receiver (a known optimum), resumes, locks and keys."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from llm.backends.simulated import default_spec
from llm.bpa.config import BPAConfig
from llm.bpa.pipeline import run
from llm.stats import mde_paired
from llm.store import LockedError, OutputLock

QUIET = dict(log=lambda _: None)
SIM = BPAConfig(task="synthetic", catalogue="math", advisor="template", receivers=("simulated",), train_limit=200,
                samples=8, limit=60, conditions=("baseline", "prior", "posterior", "signal", "random", "oracle"),
                chunk=20, batch_size=64)


@pytest.fixture(scope="module")
def informed_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sim") / "run"


@pytest.fixture(scope="module")
def informed(informed_dir) -> dict:
    return run(SIM, informed_dir, **QUIET)


def test_the_pipeline_recovers_the_known_optimum(informed):
    s = informed["receivers"]["simulated"]
    base, oracle = s["baseline"]["accuracy"], s["oracle"]["accuracy"]
    assert oracle - base > 0.25  # different groups need different items: there is something to learn
    for cond in ("posterior", "signal"):
        assert s[cond]["accuracy"] >= oracle - 0.1, cond
        assert s[cond]["diff_ci95"][0] > 0.1 and s[cond]["p_holm"] < 0.01, cond
    assert s["signal"]["obedience"] > 0.8  # measured from the Receiver's posterior, not assumed
    assert s["random"]["accuracy"] < s["signal"]["accuracy"] - 0.15
    assert informed["training"]["state_counts"]["none"] > 0  # silence is the best signal on some problems
    assert set(s["prior"]["information"]) <= set(SIM_ITEMS)


SIM_ITEMS = default_spec().items


def test_a_pipeline_that_ignores_the_problem_cannot(informed, tmp_path):
    blind = run(replace(SIM, state_features="none", conditions=("baseline", "signal")), tmp_path / "blind", **QUIET)
    ours = informed["receivers"]["simulated"]["signal"]["accuracy"]
    b = blind["receivers"]["simulated"]["signal"]
    assert b["accuracy"] < ours - 0.1
    assert len(b["information"]) == 1  # one item for every problem


def test_summary_shows_which_information_reached_the_receiver(informed):
    s = informed["receivers"]["simulated"]
    assert s["baseline"]["information"] == {"none": 60}
    assert all(k.startswith("advisor:") or k == "none" for k in s["signal"]["information"])
    assert all(not k.startswith("advisor:") for k in s["posterior"]["information"])
    for c in ("prior", "posterior", "signal", "random", "oracle"):
        assert {"diff", "diff_ci95", "p_mcnemar", "p_holm", "mde80", "rel_diff"} <= set(s[c])
    assert s["oracle"]["cost"]["calls"] == len(SIM_ITEMS)


def test_the_oracle_labels_none_only_where_silence_solved_it(informed):
    s = informed["receivers"]["simulated"]
    oracle, n = s["oracle"], s["oracle"]["n"]
    assert oracle["correct"] < n  # some problems stay unsolved, so the label matters
    assert oracle["information"].get("unsolved", 0) == n - oracle["correct"]
    # "none" first in the oracle's order: silence solved it exactly where the baseline (the same prompt) did
    assert oracle["information"].get("none", 0) == s["baseline"]["correct"]
    assert oracle["by_information"]["unsolved"]["correct"] == 0


def test_the_report_states_the_design_and_the_spoken_to_subset(informed):
    s = informed["receivers"]["simulated"]
    d = informed["training"]["flip_rate"]
    assert 0 < d < 1
    for c in ("prior", "posterior", "signal", "random"):
        design = s[c]["design"]
        assert design["flip_rate"] == d and design["flip_rate_source"] == "feedback"
        expected = mde_paired(s[c]["n"], design["change_rate"] * d)
        assert s[c]["mde80"] == (pytest.approx(expected) if np.isfinite(expected) else None), c
    sig = s["signal"]
    silent = sig["information"].get("none", 0)
    assert sig["speaking_rate"] == pytest.approx(1 - silent / sig["n"])
    assert sig["spoken_to"]["n"] == sig["n"] - silent == s["posterior"]["spoken_to"]["n"]
    assert "spoken_to" not in s["prior"] and "speaking_rate" not in s["random"]


def test_resumed_with_another_training_receiver_retrains_apart(tmp_path):
    spec = tmp_path / "other.json"
    default_spec(seed=5, obedience=0.5).to_json(spec)
    small = replace(SIM, train_limit=6, samples=4, limit=4, conditions=("baseline", "signal"))
    run(small, tmp_path / "r", **QUIET)
    other = f"simulated:{spec}"
    run(replace(small, receivers=(other, "simulated")), tmp_path / "r", **QUIET)
    keys = [json.loads(x)["key"] for x in (tmp_path / "r" / "train.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 2 * 6 * len(SIM_ITEMS)  # each Receiver's own cells, once each
    assert {k.split("|")[1] for k in keys} == {"simulated", other}
    folders = sorted(p.name for p in (tmp_path / "r" / "training").iterdir())
    assert len(folders) == 2 and all((tmp_path / "r" / "training" / f / "game.json").exists() for f in folders)
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["trained_by"]["advisor_feedback"] == other


def test_a_second_writer_is_refused_in_one_line(tmp_path):
    out = tmp_path / "locked"
    out.mkdir()
    with OutputLock(out):
        with pytest.raises(LockedError) as err:
            run(replace(SIM, limit=2, conditions=("baseline",)), out, **QUIET)
    assert len(str(err.value).splitlines()) == 1 and "in use" in str(err.value)


def test_overlapping_train_and_test_problems_are_refused(tmp_path, monkeypatch):
    import llm.bpa.pipeline as pipeline
    from llm.tasks import get_task

    task = get_task("synthetic")
    same = replace(task, loader=lambda split, path, limit: task.loader("test", path, limit))
    monkeypatch.setattr(pipeline, "get_task", lambda name: same)
    with pytest.raises(ValueError, match="every test problem also appears in training"):
        run(replace(SIM, limit=3, train_limit=3), tmp_path / "o", **QUIET)


def test_test_problems_repeating_a_training_question_are_left_out(tmp_path, monkeypatch):
    """Real splits repeat a few questions (MBPP train and test share one): those test problems are dropped."""
    import llm.bpa.pipeline as pipeline
    from llm.tasks import get_task

    task = get_task("synthetic")
    train = task.loader("train", None, 40)

    def loader(split, path, limit):
        test = task.loader(split, path, limit)
        return test if split == "train" else [*test[:4], replace(test[4], question=train[0].question)]

    monkeypatch.setattr(pipeline, "get_task", lambda name: replace(task, loader=loader))
    result = run(replace(SIM, limit=5, conditions=("baseline", "signal")), tmp_path / "o", **QUIET)
    assert result["test_left_out"] == [task.loader("test", None, 5)[4].id]
    assert result["receivers"]["simulated"]["baseline"]["n"] == 4


def test_training_task_must_match_and_have_a_train_split(tmp_path):
    def no_models(spec):
        raise AssertionError(f"no model should load, asked for {spec}")

    for train_task in ("synthetic", "humaneval"):  # a math task for code; a task without a train split
        cfg = BPAConfig(task="humaneval", train_task=train_task, catalogue="code")
        with pytest.raises(ValueError, match="cannot train on task"):
            run(cfg, tmp_path / train_task, loader=no_models, **QUIET)


def test_http_and_local_receivers_in_one_run(tmp_path, tiny_dir, tiny_model):
    """The same tiny model locally and behind ``llm.backends.serve``: the HTTP path gives the local path's greedy answers
    and beliefs (common random numbers make the prior condition comparable too)."""
    from llm.backends.serve import serving

    with serving(tiny_model, name="tiny") as url:
        remote = f"{url}#tiny"
        cfg = BPAConfig(task="synthetic", catalogue="math", advisor=str(tiny_dir), receivers=(str(tiny_dir), remote),
                        limit=3, train_limit=1, conditions=("baseline", "prior"), max_new_tokens=6, chat="no", shots=0,
                        batch_size=4, chunk=3, device="cpu", dtype="float32")
        run(cfg, tmp_path / "mix", **QUIET)
    rows = [json.loads(line) for line in (tmp_path / "mix" / "eval.jsonl").read_text().splitlines()]
    by = {(r["receiver"], r["condition"], r["problem_id"]): r for r in rows}
    assert len(rows) == len(by) == 2 * 2 * 3
    for (spec, cond, pid), row in by.items():
        if spec != remote:
            continue
        local = by[(str(tiny_dir), cond, pid)]
        assert row["response"] == local["response"] and row["correct"] == local["correct"]
        assert row["information"] == local["information"]
        np.testing.assert_allclose(row["prior"] or [0], local["prior"] or [0], rtol=1e-3, atol=1e-6)
    fewer = replace(cfg, limit=2, receivers=(str(tiny_dir),))
    result = run(fewer, tmp_path / "mix", loader=lambda spec: pytest.fail(f"loaded {spec}"), **QUIET)
    assert set(result["receivers"]) == {str(tiny_dir)}
    assert result["receivers"][str(tiny_dir)]["baseline"]["n"] == 2


def test_signal_is_within_005_of_the_exact_optimum_and_beats_the_matched_comparator(tmp_path):
    cfg = replace(SIM, limit=300, conditions=("baseline", "signal", "matched"), chunk=100)
    s = run(cfg, tmp_path / "opt", **QUIET)["receivers"]["simulated"]
    best = default_spec().optimal_value()
    assert abs(s["signal"]["accuracy"] - best) <= 0.05
    assert s["matched"]["accuracy"] < s["signal"]["accuracy"] - 0.1  # speaking at random on as many problems


def test_on_an_unlearnable_receiver_the_advisor_keeps_quiet_and_does_no_harm(tmp_path):
    cfg = replace(SIM, receivers=("simulated:unlearnable",), limit=200, chunk=100,
                  conditions=("baseline", "signal", "random", "matched"))
    result = run(cfg, tmp_path / "quiet", **QUIET)
    s = result["receivers"]["simulated:unlearnable"]
    spoken = sum(v for k, v in s["signal"]["information"].items() if k != "none")
    assert spoken <= 0.05 * 200  # almost always silent
    assert s["signal"]["accuracy"] >= s["baseline"]["accuracy"]
    assert s["random"]["accuracy"] < s["baseline"]["accuracy"]  # a hint at random costs here
    assert s["matched"]["accuracy"] <= s["signal"]["accuracy"]
    assert result["training"]["design"]["chosen"]["value"]["mean"] <= 0.02


def test_preregistration_is_written_before_the_test_split_and_checked_after(tmp_path):
    from llm.bpa.preregistration import check_preregistration

    cfg = replace(SIM, train_limit=30, samples=4, limit=5, conditions=("baseline", "signal"),
                  preregister=str(tmp_path / "prereg" / "sim.md"))
    first = run(cfg, tmp_path / "r", **QUIET)
    assert first["preregistered"] and not (tmp_path / "r" / "eval.jsonl").exists()  # no test problem answered
    text = (tmp_path / "prereg" / "sim.md").read_text()
    assert first["advisor_hash"] in text and "Design MDE" in text
    assert "Holm-adjusted over `signal`;" in text  # the family the report adjusts over, nothing else
    assert "trained on `synthetic` train with `simulated`'s feedback" in " ".join(text.split())
    second = run(cfg, tmp_path / "r", **QUIET)
    assert second["rows"] == 10
    (tmp_path / "prereg" / "sim.md").write_text(text.replace(first["advisor_hash"], "0" * 64))
    with pytest.raises(ValueError, match="differs from the pre-registered"):
        check_preregistration(tmp_path / "prereg" / "sim.md", first["advisor_hash"])
    with pytest.raises(ValueError, match="differs from the pre-registered"):
        run(cfg, tmp_path / "r", **QUIET)


def test_a_transfer_preregistration_names_the_receiver_whose_feedback_trained_the_advisor(tmp_path):
    cfg = replace(SIM, train_limit=30, samples=4, limit=5, conditions=("baseline", "signal"),
                  receivers=("simulated:unlearnable",), train_receiver="simulated",
                  preregister=str(tmp_path / "transfer.md"))
    run(cfg, tmp_path / "r", **QUIET)
    text = " ".join((tmp_path / "transfer.md").read_text().split())
    assert "with `simulated`'s feedback" in text and "Receivers: `simulated:unlearnable`" in text


def test_the_command_stops_cleanly_after_writing_the_preregistration(tmp_path, capsys):
    from llm.experiment_cli import main

    prereg = tmp_path / "prereg.md"
    argv = ["--task", "synthetic", "--receiver", "simulated", "--advisor", "template", "--conditions",
            "baseline,signal", "--train-limit", "20", "--samples", "2", "--limit", "4", "--preregister", str(prereg),
            "--out", str(tmp_path / "r")]
    assert main(argv, "llm_math.py", "doc", {"task": "synthetic", "catalogue": "math"}) == 0
    assert capsys.readouterr().out.count(f"wrote the pre-registration {prereg}") == 1
    assert prereg.exists() and not (tmp_path / "r" / "summary.md").exists()


def test_the_summary_states_the_run_facts(informed, informed_dir):
    run_ = informed["run"]
    assert run_["phases"]["feedback"]["answers"] == SIM.train_limit * len(SIM_ITEMS) * SIM.samples  # the items and none
    rows = [json.loads(line) for line in (informed_dir / "eval.jsonl").read_text().splitlines()]
    assert len(rows) == SIM.limit * len(SIM.conditions)
    distinct = {(r["problem_id"], r["prompt"]) for r in rows}  # a prompt two conditions share is answered once
    assert run_["phases"]["evaluation"]["answers"] == len(distinct) < len(rows)
    assert run_["phases"]["evaluation"]["new_tokens"] == sum(
        next(r["new_tokens"] for r in rows if (r["problem_id"], r["prompt"]) == key) for key in distinct)
    assert run_["seed"] == SIM.seed and run_["engines"]["simulated"]["backend"].endswith("SimulatedReceiver")

"""The BPA pipeline: pieces on their own, and the --smoke run end to end, killed and resumed."""

import json
from dataclasses import replace
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from llm.bpa import BPAConfig, summarize, summary_markdown, with_signal
from llm.methods import CONDITIONS, METHOD_OF_CONDITION

ROOT = Path(__file__).resolve().parents[2]


def test_with_signal_text_and_chat():
    assert with_signal("Q?", None) == "Q?"
    text = with_signal("Q?", "try  tables\nfirst")
    assert text.endswith("Q?") and "try tables first" in text
    chat = [{"role": "system", "content": "s"}, {"role": "user", "content": "Q?"}]
    out = with_signal(chat, "hint")
    assert out[0] == chat[0] and "hint" in out[1]["content"] and out[1]["content"].endswith("Q?")
    assert chat[1]["content"] == "Q?"  # input not mutated


def test_summary_numbers_and_paired_test():
    rows = []
    for i in range(40):
        rows.append({"receiver": "r", "condition": "baseline", "problem_id": str(i), "correct": i < 10})
        rows.append({"receiver": "r", "condition": "persuasion", "problem_id": str(i), "correct": i < 30})
    s = summarize(rows, ("baseline", "persuasion"))["r"]
    assert s["baseline"]["accuracy"] == 0.25 and s["persuasion"]["accuracy"] == 0.75
    assert s["persuasion"]["abs_improvement"] == pytest.approx(0.5)
    assert s["persuasion"]["rel_improvement"] == pytest.approx(2.0)
    assert s["persuasion"]["p_value_vs_baseline"] < 1e-5
    lo, hi = s["persuasion"]["ci95"]
    assert lo < 0.75 < hi
    assert "| r | persuasion | 40 | 0.750 |" in summary_markdown({"r": s})


@pytest.mark.parametrize(
    "kwargs, match",
    [({"conditions": ("baseline", "magic")}, "unknown condition"), ({"receivers": ()}, "receiver"),
     ({"chat": "maybe"}, "chat"), ({"limit": 0}, "limit")],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BPAConfig(**kwargs)


def _keys(path: Path) -> list[str]:
    return [json.loads(line)["key"] for line in path.read_text().splitlines()]


def test_smoke_pipeline_killed_and_resumed(tmp_path):
    """Runs ``llm_math.py --smoke`` (every method), SIGKILLs it during the feedback phase, resumes, and checks every
    row once."""
    out = tmp_path / "smoke"
    cmd = [sys.executable, str(ROOT / "experiments" / "llm_math.py"), "--smoke", "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    train = out / "train.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if train.exists() and train.stat().st_size > 0:
            break
        time.sleep(0.2)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = len(_keys(train)) if train.exists() else 0
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert killed and 0 < n_before < 40  # really interrupted mid-phase
    train_keys, eval_keys = _keys(train), _keys(out / "eval.jsonl")
    assert len(train_keys) == len(set(train_keys)) == 5 * 8  # 5 problems x 8 catalogue items
    assert len(eval_keys) == len(set(eval_keys)) == 5 * 6  # 5 problems x 6 conditions (all methods) x 1 receiver
    assert len(_keys(out / "qa.jsonl")) == 5  # the corrector's Q-A set: 5 training problems
    summary = json.loads((out / "summary.json").read_text())
    conds = next(iter(summary["receivers"].values()))
    assert set(conds) == set(CONDITIONS) and all(c["n"] == 5 for c in conds.values())
    assert {c: conds[c]["method"] for c in conds} == METHOD_OF_CONDITION
    assert conds["baseline"]["cost"]["calls"] == 1 and conds["persuasion"]["cost"]["calls"] == 2
    assert conds["aligner"]["corrections"]["fire_rate"] == 1.0 and conds["linear-alignment"]["cost"]["calls"] == 2
    assert json.loads((out / "aligner.json").read_text())["warmup"]["steps"] >= 1
    assert "aligner-squad" in (out / "methods.md").read_text()
    advisor = json.loads((out / "advisor.json").read_text())
    assert advisor["sft"]["steps"] == 2 and Path(advisor["model"]).is_dir()
    game = json.loads((out / "game.json").read_text())
    assert np.allclose(np.sum(game["lp"]["scheme"], axis=1), 1.0)
    assert game["lp"]["value"] >= max(game["full_disclosure_value"], game["no_disclosure_value"]) - 1e-9
    for name in ("summary.md", "methods.md", "accuracy.png", "methods.png", "beliefs.png", "inspector.json"):
        assert (out / name).stat().st_size > 0
    # A third call finds everything done and changes nothing.
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0 and _keys(out / "eval.jsonl") == eval_keys


def test_cli_bad_input_is_one_line(tmp_path):
    cmd = [sys.executable, str(ROOT / "experiments" / "llm_math.py"), "--out", str(tmp_path / "x"),
           "--task", "nope"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error:") and len(res.stderr.strip().splitlines()) == 1


def test_http_and_local_receivers_in_one_run(tmp_path, tiny_dir, tiny_model):
    """One run with the same tiny model as a local Receiver and behind ``llm.serve``: the HTTP path must give the
    local path's greedy answers and beliefs (common random numbers make the prior condition comparable too)."""
    from llm.bpa import run
    from llm.serve import serving

    with serving(tiny_model, name="tiny") as url:
        remote = f"{url}#tiny"
        cfg = BPAConfig(task="synthetic", catalogue="math", advisor=str(tiny_dir), receivers=(str(tiny_dir), remote),
                        limit=3, train_limit=1, conditions=("baseline", "prior"), max_new_tokens=6, chat="no",
                        batch_size=4, chunk=3, device="cpu", dtype="float32")
        run(cfg, tmp_path / "mix", log=lambda _: None)
    rows = [json.loads(line) for line in (tmp_path / "mix" / "eval.jsonl").read_text().splitlines()]
    by = {(r["receiver"], r["condition"], r["problem_id"]): r for r in rows}
    assert len(rows) == len(by) == 2 * 2 * 3
    for (spec, cond, pid), row in by.items():
        if spec != remote:
            continue
        local = by[(str(tiny_dir), cond, pid)]
        assert row["response"] == local["response"] and row["correct"] == local["correct"]
        np.testing.assert_allclose(row["prior"], local["prior"], rtol=1e-3, atol=1e-6)
    summary = json.loads((tmp_path / "mix" / "summary.json").read_text())
    assert set(summary["receivers"]) == {str(tiny_dir), remote}
    # resumed with fewer problems and one Receiver: nothing is generated and only those are summarised
    fewer = replace(cfg, limit=2, receivers=(str(tiny_dir),))
    result = run(fewer, tmp_path / "mix", loader=lambda spec: pytest.fail(f"loaded {spec}"), log=lambda _: None)
    assert set(result["receivers"]) == {str(tiny_dir)}
    assert result["receivers"][str(tiny_dir)]["baseline"]["n"] == 2


def test_humaneval_trains_on_mbpp_train_split():
    from llm.bpa import training_task

    assert training_task(BPAConfig(task="humaneval", catalogue="code")) == "mbpp"
    assert training_task(BPAConfig(task="gsm8k")) == "gsm8k"
    assert training_task(BPAConfig(task="synthetic", train_task="gsm8k")) == "gsm8k"


def test_training_task_must_match_and_have_a_train_split(tmp_path):
    from llm.bpa import run

    def no_models(spec):
        raise AssertionError(f"no model should load, asked for {spec}")

    for train_task in ("synthetic", "humaneval"):  # a math task for code; a task without a train split
        cfg = BPAConfig(task="humaneval", train_task=train_task, catalogue="code")
        with pytest.raises(ValueError, match="cannot train on task"):
            run(cfg, tmp_path / train_task, loader=no_models, log=lambda _: None)

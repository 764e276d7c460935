"""The experiment scripts' --smoke runs end to end: killed and resumed; the code one grades in the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from llm.experiment_cli import SMOKE_NOTE
from llm.game.catalogue import load_catalogue
from llm.methods import CONDITIONS, METHOD_OF_CONDITION

ROOT = Path(__file__).resolve().parents[3]
M = load_catalogue("math").with_none().m


def _keys(path: Path) -> list[str]:
    return [json.loads(line)["key"] for line in path.read_text().splitlines()]


def test_math_smoke_killed_and_resumed(tmp_path):
    """``llm_math.py --smoke`` (every method), SIGKILLed during the feedback phase, resumed: every row once."""
    out = tmp_path / "smoke"
    cmd = [sys.executable, str(ROOT / "experiments" / "llm_math.py"), "--smoke", "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    train = out / "train.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if train.exists() and train.stat().st_size > 0:
            break
        time.sleep(0.1)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = len(_keys(train)) if train.exists() else 0
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    cells = 5 * (M + (M - 1))  # 5 problems x (every item's hint + one Advisor signal per item but none)
    assert killed and 0 < n_before < cells  # really interrupted mid-phase
    train_keys, eval_keys = _keys(train), _keys(out / "eval.jsonl")
    assert len(train_keys) == len(set(train_keys)) == cells
    assert len(eval_keys) == len(set(eval_keys)) == 5 * len(CONDITIONS)
    summary = json.loads((out / "summary.json").read_text())
    conds = next(iter(summary["receivers"].values()))
    assert set(conds) == set(CONDITIONS) and all(c["n"] == 5 for c in conds.values())
    assert {c: conds[c]["method"] for c in conds} == METHOD_OF_CONDITION
    assert conds["baseline"]["cost"]["calls"] == 1 and conds["oracle"]["cost"]["calls"] == M
    assert conds["aligner"]["corrections"]["fire_rate"] == 1.0 and conds["linear-alignment"]["cost"]["calls"] == 2
    folder = next((out / "training").iterdir())
    advisor = json.loads((folder / "advisor.json").read_text())
    assert advisor["trained_by"] and Path(advisor["model"]).is_dir()
    game = json.loads((folder / "game.json").read_text())
    assert np.allclose(np.sum(game["scheme"], axis=1), 1.0)
    assert game["plugin"]["value"] >= max(game["full_disclosure_value"], game["no_disclosure_value"]) - 1e-9
    for name in ("summary.md", "methods.md", "accuracy.png", "methods.png", "beliefs.png"):
        assert (out / name).stat().st_size > 0
    assert (folder / "inspector.json").exists() and (folder / "state_model.npz").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0 and _keys(out / "eval.jsonl") == eval_keys
    assert again.stdout.rstrip().endswith(SMOKE_NOTE)  # zeros are expected, and said so
    assert "Warning" not in done.stderr + again.stderr  # e.g. transformers' FutureWarning on a renamed keyword


def test_code_smoke_grades_in_the_sandbox(tmp_path):
    out = tmp_path / "code"
    cmd = [sys.executable, str(ROOT / "experiments" / "llm_code.py"), "--smoke", "--out", str(out),
           "--conditions", "baseline,signal,oracle"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["task"] == "mbpp" and cfg["catalogue"] == "code"
    rows = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    assert len(rows) == 5 * 3 and all(isinstance(r["correct"], bool) for r in rows)
    assert any(r["information"] for r in rows if r["condition"] == "oracle")


def test_a_real_task_without_a_receiver_says_what_to_pass_at_once(tmp_path):
    # the bare command: GSM8K with a 135M Advisor and Receiver by default ran for minutes without a number
    cmd = [sys.executable, str(ROOT / "experiments" / "llm_math.py"), "--out", str(tmp_path / "x")]
    start = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and time.monotonic() - start < 60
    err = res.stderr.strip()
    assert err.startswith("error: --receiver is needed for --task gsm8k") and len(err.splitlines()) == 1
    assert "--task synthetic" in err and "--smoke" in err and not (tmp_path / "x").exists()


def test_cli_bad_input_is_one_line(tmp_path):
    cmd = [sys.executable, str(ROOT / "experiments" / "llm_math.py"), "--out", str(tmp_path / "x"),
           "--task", "nope"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error:") and len(res.stderr.strip().splitlines()) == 1

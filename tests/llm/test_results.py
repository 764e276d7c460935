"""The JSONL result store: atomic appends, resume after a kill, no duplicates."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from llm.results import ResultStore, write_json_atomic


def test_append_and_reopen(tmp_path):
    path = tmp_path / "r.jsonl"
    store = ResultStore(path)
    for i in range(5):
        store.append({"key": f"p{i}", "x": np.float32(i)})
    again = ResultStore(path)
    assert again.done() == {f"p{i}" for i in range(5)}
    assert [r["x"] for r in again.rows()] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_partial_last_line_is_truncated(tmp_path):
    path = tmp_path / "r.jsonl"
    store = ResultStore(path)
    store.append({"key": "a"})
    with open(path, "ab") as fh:
        fh.write(b'{"key": "b", "half')
    store = ResultStore(path)
    assert store.done() == {"a"}
    assert path.read_text().count("\n") == 1
    store.append({"key": "b"})
    assert [r["key"] for r in ResultStore(path).rows()] == ["a", "b"]


def test_duplicate_and_missing_key_rejected(tmp_path):
    store = ResultStore(tmp_path / "r.jsonl")
    store.append({"key": "a"})
    with pytest.raises(ValueError, match="duplicate"):
        store.append({"key": "a"})
    with pytest.raises(ValueError, match="key"):
        store.append({"x": 1})


def test_killed_writer_resumes_without_loss_or_duplicates(tmp_path):
    """A process appending rows is SIGKILLed mid-run; a resumed run completes every key exactly once."""
    path = tmp_path / "r.jsonl"
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {os.getcwd()!r})
        from llm.results import ResultStore
        store = ResultStore({str(path)!r})
        for i in range(100000):
            k = f"p{{i}}"
            if k not in store.done():
                store.append({{"key": k, "pad": "x" * 200}})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.stat().st_size > 20_000:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = ResultStore(path)
    n_before = len(store)
    assert n_before > 0
    for i in range(n_before + 50):
        if f"p{i}" not in store.done():
            store.append({"key": f"p{i}"})
    keys = [r["key"] for r in ResultStore(path).rows()]
    assert len(keys) == len(set(keys)) == n_before + 50


def test_write_json_atomic(tmp_path):
    target = tmp_path / "sub" / "summary.json"
    write_json_atomic(target, {"a": np.arange(3)})
    assert json.loads(target.read_text()) == {"a": [0, 1, 2]}
    assert [p.name for p in target.parent.iterdir()] == ["summary.json"]

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

from llm.store import ResultStore, write_json_atomic


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
        from llm.store import ResultStore
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


# ------------------------------------------------------------------------------- repairs on open (issue 11, item 5)


def test_corrupt_middle_line_is_quarantined_and_later_rows_kept(tmp_path, caplog):
    path = tmp_path / "r.jsonl"
    good = [json.dumps({"key": f"p{i}", "x": i}) for i in range(6)]
    path.write_text("\n".join(good[:2] + ['{"key": "p9", "x": tru'] + good[2:]) + "\n")
    with caplog.at_level("WARNING", logger="llm.store"):
        store = ResultStore(path)
    assert store.done() == {f"p{i}" for i in range(6)}  # before the fix: only p0, p1 (the rest were cut off)
    assert store.repair.quarantined == (3,) and store.repair.duplicates == 0
    assert (tmp_path / "r.jsonl.corrupt").read_text() == '{"key": "p9", "x": tru\n'
    assert [r["key"] for r in ResultStore(path).rows()] == [f"p{i}" for i in range(6)]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "\n" not in messages[0]
    assert "r.jsonl.corrupt" in messages[0] and "line 3" in messages[0]
    assert not ResultStore(path).repair.changed  # repaired once, clean afterwards


def test_duplicate_keys_are_dropped_on_open_keeping_the_first(tmp_path, caplog):
    path = tmp_path / "r.jsonl"
    rows = [{"key": "a", "v": 1}, {"key": "b", "v": 2}, {"key": "a", "v": 3}, {"key": "c", "v": 4},
            {"key": "b", "v": 5}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with caplog.at_level("WARNING", logger="llm.store"):
        store = ResultStore(path)
    assert store.repair.duplicates == 2 and len(store) == 3
    assert [(r["key"], r["v"]) for r in ResultStore(path).rows()] == [("a", 1), ("b", 2), ("c", 4)]
    assert "dropped 2 duplicate" in caplog.records[0].getMessage()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl"]  # no temporary file left


def test_valid_json_that_is_not_a_row_is_refused_untouched(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "a"}\n[1, 2]\n{"key": "b"}\n')
    with pytest.raises(ValueError, match="line 2 is not a result row"):
        ResultStore(path)
    assert path.read_text() == '{"key": "a"}\n[1, 2]\n{"key": "b"}\n'


def test_full_disk_on_append_is_one_line_and_leaves_no_half_line(tmp_path, monkeypatch):
    import errno

    from llm.store import NoSpaceError

    path = tmp_path / "r.jsonl"
    store = ResultStore(path)
    store.append({"key": "a"})
    real_write = os.write

    def short_then_full(fd, data):
        real_write(fd, data[:5])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", short_then_full)
    with pytest.raises(NoSpaceError) as info:
        store.append({"key": "b"})
    monkeypatch.undo()
    assert str(info.value) == f"no space left on device ({path})"
    assert path.read_text() == '{"key": "a"}\n'
    store.append({"key": "b"})
    assert [r["key"] for r in ResultStore(path).rows()] == ["a", "b"]


def test_write_json_atomic_removes_its_temporary_file_on_failure(tmp_path, monkeypatch):
    import errno

    from llm.store import NoSpaceError

    target = tmp_path / "summary.json"
    write_json_atomic(target, {"old": True})

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(NoSpaceError, match=r"^no space left on device \(.*summary.json\)$"):
        write_json_atomic(target, {"new": True})
    monkeypatch.undo()
    with pytest.raises(TypeError):
        write_json_atomic(target, {"bad": object()})
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # before the fix: a .tmp was left
    assert json.loads(target.read_text()) == {"old": True}


# ----------------------------------------------------------------------------- one writer per folder (item 2)

LOCK_HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
from llm.store import OutputLock, ResultStore
with OutputLock({folder!r}):
    store = ResultStore({folder!r} + "/eval.jsonl")
    store.append({{"key": "first"}})
    print("locked", flush=True)
    sys.stdin.readline()  # hold the lock until the test says so
"""


def test_second_writer_on_a_folder_is_refused_in_one_line(tmp_path):
    from llm.store import LockedError, OutputLock

    folder = str(tmp_path / "out")
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER.format(root=os.getcwd(), folder=folder), "--out", folder],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        second = subprocess.run(
            [sys.executable, "-c", LOCK_HOLDER.format(root=os.getcwd(), folder=folder)],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )
        assert second.returncode != 0 and "locked" not in second.stdout
        last = second.stderr.strip().splitlines()[-1]
        assert last.startswith("llm.store.LockedError: output folder") and f"pid {holder.pid}" in last
        assert "--out" in last  # the holder's command line
        with pytest.raises(LockedError) as info:  # the same from this process, as a one-line ValueError
            OutputLock(folder).acquire()
        assert "\n" not in str(info.value) and isinstance(info.value, ValueError)
    finally:
        holder.communicate("go\n", timeout=60)
    assert holder.returncode == 0
    assert [r["key"] for r in ResultStore(folder + "/eval.jsonl").rows()] == ["first"]
    with OutputLock(folder) as lock:  # free again once the holder is gone
        assert lock.held


def test_lock_is_released_when_the_holder_is_killed(tmp_path):
    from llm.store import OutputLock

    folder = str(tmp_path / "out")
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER.format(root=os.getcwd(), folder=folder)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline() == "locked\n"
    holder.kill()
    holder.wait()
    holder.stdin.close()
    holder.stdout.close()
    with OutputLock(folder):
        pass

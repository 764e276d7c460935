"""Crash-safe folder writes: a failed build leaves the target as it was; a full disk is one line naming the path."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from llm.store import NoSpaceError, atomic_folder, is_no_space


def test_success_replaces_the_target_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "model"
    for version in ("one", "two"):
        with atomic_folder(target) as tmp:
            assert tmp.parent == tmp_path and tmp != target
            (tmp / "v.txt").write_text(version)
        assert (target / "v.txt").read_text() == version
        assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
        assert target.stat().st_mode & 0o777 == 0o755


def test_an_existing_empty_folder_is_filled(tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    with atomic_folder(target) as tmp:
        (tmp / "a").write_text("a")
    assert os.listdir(target) == ["a"]


def test_failure_keeps_the_previous_folder_and_removes_the_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    with atomic_folder(target) as tmp:
        (tmp / "config.json").write_text('{"ok": 1}')
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_folder(target) as tmp:
            (tmp / "config.json").write_text("")  # what an interrupted save leaves
            raise RuntimeError("killed")
    assert (target / "config.json").read_text() == '{"ok": 1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_leftover_of_a_dead_writer_is_removed(tmp_path: Path) -> None:
    dead = tmp_path / ".model.999999999.abc.tmp"  # no such pid
    alive = tmp_path / f".model.{os.getpid()}.abc.tmp"
    for d in (dead, alive):
        d.mkdir()
    with atomic_folder(tmp_path / "model"):
        pass
    assert not dead.exists() and alive.exists()


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"),  # safetensors
    ],
    ids=["oserror", "safetensors"],
)
def test_full_disk_is_one_line_naming_the_target(tmp_path: Path, exc: Exception) -> None:
    target = tmp_path / "ckpt"
    with pytest.raises(NoSpaceError) as info:
        with atomic_folder(target):
            raise exc
    assert str(info.value) == f"no space left on device ({target})"
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_is_no_space_follows_the_cause_chain() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "full")
        except OSError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert is_no_space(outer)
    assert not is_no_space(RuntimeError("other")) and not is_no_space(None)

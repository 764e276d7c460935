"""Crash-safe writes: folders built beside their target and swapped into place, and a one-line full-disk error.

A reader of ``target`` sees either the previous complete folder or the new complete one, never a half-written one:
:func:`atomic_folder` hands out a temporary sibling folder (``.<name>.<pid>.<random>.tmp``), and only when the
``with`` block ends without an exception is it synced and exchanged with ``target`` (``renameat2(RENAME_EXCHANGE)``,
or two renames where the kernel or file system lacks it). A failed or killed build leaves at most the temporary
sibling, which the next :func:`atomic_folder` on the same target removes once its writer is dead.

A full disk surfaces in many shapes (``OSError`` errno 28 from Python, ``SafetensorError("... No space left on
device (os error 28)")`` from safetensors, an opaque ``RuntimeError`` from ``torch.save``); :func:`is_no_space`
recognises the first two, and writers that go through :func:`atomic_folder` report all of them as one
:class:`NoSpaceError` naming the path.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["NoSpaceError", "atomic_folder", "is_no_space", "publish_folder"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


class NoSpaceError(OSError):
    """The file system of ``path`` is full; ``str()`` is the one line ``no space left on device (<path>)``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(errno.ENOSPC, "no space left on device", str(path))

    def __str__(self) -> str:
        return f"no space left on device ({self.filename})"


def is_no_space(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a full disk, whatever library raised it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(exc)
        if "No space left on device" in text or "os error 28" in text or "Disk quota exceeded" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_dead_leftovers(target: Path) -> None:
    """Removes ``.<name>.<pid>.*.tmp`` siblings of ``target`` whose writer process no longer exists."""
    prefix = f".{target.name}."
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid_text = name[len(prefix) :].split(".", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            shutil.rmtree(entry.path, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    """fsyncs every file under ``folder`` and the folders themselves (the data is on disk before the rename)."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swaps two existing paths (``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    res = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), ctypes.c_uint(_RENAME_EXCHANGE))
    if res == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def publish_folder(tmp: Path, target: Path) -> None:
    """Moves the complete folder ``tmp`` to ``target``, replacing whatever is there, then removes the old one."""
    try:
        os.rename(tmp, target)  # no target, or an empty folder: one atomic rename
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise
    if target.is_dir() and not target.is_symlink() and _exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # now holds the previous contents
        return
    old = target.with_name(f".{target.name}.{os.getpid()}.old.tmp")
    shutil.rmtree(old, ignore_errors=True)
    os.rename(target, old)
    os.rename(tmp, target)
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


@contextmanager
def atomic_folder(target: str | os.PathLike[str], mode: int = 0o755) -> Iterator[Path]:
    """Yields an empty temporary folder beside ``target``; on success it replaces ``target`` in one step.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "model"
        >>> with atomic_folder(out) as tmp:
        ...     _ = (tmp / "config.json").write_text("{}")
        >>> sorted(p.name for p in out.iterdir())
        ['config.json']

    Args:
        target: the folder to (re)place; its parent is created.
        mode: permissions of the published folder (``mkdtemp`` makes it 0700).

    Raises:
        NoSpaceError: the build or the sync failed because the disk is full (one line naming ``target``).
        Anything the ``with`` block raises, after the temporary folder was removed (``target`` is untouched).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_leftovers(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        tmp.chmod(mode)
        _fsync_tree(tmp)
        publish_folder(tmp, target)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_no_space(exc):
            raise NoSpaceError(target) from exc
        raise

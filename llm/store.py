"""The one crash-safe store: every file and folder a run writes survives a kill, a crash or a full disk.

* :func:`atomic_folder`: a folder (a model, a checkpoint) built beside its target and swapped into place;
* :func:`write_json_atomic`, :func:`write_bytes_atomic`: one file replaced in one step (temporary sibling, fsync,
  ``os.replace``);
* :class:`ResultStore`: append-only JSONL rows, nothing lost and nothing duplicated on resume;
* :class:`OutputLock`: one run per output folder.

**Folders.** A reader of ``target`` sees either the previous complete folder or the new complete one, never a half-written one:
:func:`atomic_folder` hands out a temporary sibling folder (``.<name>.<pid>.<random>.tmp``), and only when the
``with`` block ends without an exception is it synced and exchanged with ``target`` (``renameat2(RENAME_EXCHANGE)``,
or two renames where the kernel or file system lacks it). A failed or killed build leaves at most the temporary
sibling, which the next :func:`atomic_folder` on the same target removes once its writer is dead.

A full disk surfaces in many shapes (``OSError`` errno 28 from Python, ``SafetensorError("... No space left on
device (os error 28)")`` from safetensors, an opaque ``RuntimeError`` from ``torch.save``); :func:`is_no_space`
recognises the first two, and writers that go through :func:`atomic_folder` report all of them as one
:class:`NoSpaceError` naming the path.

**Rows.** Every row has a unique ``key`` (e.g. ``problem|condition|receiver``). A row is written as one ``write`` of one
complete line to a file opened with ``O_APPEND`` and flushed with ``fsync``. Rows whose key is already present are
skipped by the caller through :meth:`ResultStore.done`. Opening a store repairs what earlier runs may have left:

* a partial last line (a run killed mid-write) is cut off, so the row is redone, never half-kept;
* a corrupt complete line (not JSON) is moved to ``<file>.corrupt`` and the rows after it are kept;
* a key stored twice (two runs that wrote into one folder without a lock) keeps its first row.

Each repair is said in one warning line (logger ``llm.store``) and recorded in :attr:`ResultStore.repair`.

Only one run may write into an output folder at a time: :class:`OutputLock` holds an exclusive ``flock`` on
``<folder>/.lock`` and refuses a second holder with a one-line :class:`LockedError` naming the first.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Iterator

__all__ = [
    "LockedError", "NoSpaceError", "OutputLock", "ResultStore", "StoreRepair", "atomic_folder", "is_no_space",
    "publish_folder", "write_bytes_atomic", "write_json_atomic",
]

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


log = logging.getLogger("llm.store")


class LockedError(ValueError):
    """Another process holds the output folder's lock (one line naming it)."""


class OutputLock:
    """An exclusive lock on an output folder, held for as long as a run writes into it.

    ``fcntl.flock`` on ``<folder>/.lock``: the kernel releases it when the holder exits, however it exits, so a
    killed run never leaves a stale lock. The file records the holder (pid, host, command line, start time) for
    the message a second run gets. Locks are per open file, so a second ``OutputLock`` on the same folder is
    refused in the same process too.

    Example:
        >>> import tempfile
        >>> out = tempfile.mkdtemp()
        >>> with OutputLock(out):
        ...     try:
        ...         OutputLock(out).acquire()
        ...     except LockedError as exc:
        ...         print(str(exc).split(" is in use")[0] == f"output folder {out}")
        True

    Raises (on entering):
        LockedError: another run holds the folder (an ``ValueError``, one line).
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / ".lock"
        self._fd: int | None = None

    def acquire(self) -> OutputLock:
        """Takes the lock without waiting; returns ``self``."""
        if self._fd is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe_holder(fd)
            os.close(fd)
            raise LockedError(
                f"output folder {self.folder} is in use by {holder}; wait for it to finish or choose another --out"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": " ".join(sys.argv)[:500],
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Drops the lock (the file stays: removing it would let two runs lock two different files)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the last descriptor releases the flock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _describe_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another process (starting up)"
    command = f" ({info['command']})" if info.get("command") else ""
    since = f" since {info['since']}" if info.get("since") else ""
    return f"pid {info['pid']} on {info.get('host', '?')}{command}{since}"


@dataclass(frozen=True)
class StoreRepair:
    """What opening a store repaired (all zero for a clean file)."""

    truncated_bytes: int = 0  # a partial last line, cut off
    quarantined: tuple[int, ...] = ()  # 1-based line numbers of corrupt lines moved to <file>.corrupt
    duplicates: int = 0  # rows dropped because their key was stored earlier in the file

    @property
    def changed(self) -> bool:
        return bool(self.truncated_bytes or self.quarantined or self.duplicates)


class ResultStore:
    """A JSONL file of result rows keyed by ``row["key"]``.

    Example:
        >>> import tempfile, pathlib
        >>> store = ResultStore(pathlib.Path(tempfile.mkdtemp()) / "rows.jsonl")
        >>> store.append({"key": "p1|baseline", "correct": True})
        >>> "p1|baseline" in store.done()
        True

    Raises (on opening):
        ValueError: a line is valid JSON but not a row with a ``key`` (not a result store; nothing is changed).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._keys: set[str] = set()
        self.repair = StoreRepair()
        self._repair_and_index()

    @property
    def corrupt_path(self) -> Path:
        """Where corrupt lines are moved: ``<file>.corrupt``."""
        return self.path.with_name(self.path.name + ".corrupt")

    def _repair_and_index(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # appends of other processes wait until the file is repaired
            data = _read_all(fd)
            keep: list[bytes] = []
            corrupt: list[tuple[int, bytes]] = []
            duplicates = 0
            lines = data.splitlines(keepends=True)
            partial = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    corrupt.append((number, line))
                    continue
                try:
                    row = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    corrupt.append((number, line))
                    continue
                if not isinstance(row, dict) or "key" not in row:
                    raise ValueError(f"{self.path}: line {number} is not a result row with a 'key'")
                key = str(row["key"])
                if key in self._keys:
                    duplicates += 1
                    continue
                self._keys.add(key)
                keep.append(line)
            self.repair = StoreRepair(len(partial), tuple(n for n, _ in corrupt), duplicates)
            if corrupt:
                with open(self.corrupt_path, "ab") as fh:
                    fh.writelines(line if line.endswith(b"\n") else line + b"\n" for _, line in corrupt)
                    fh.flush()
                    os.fsync(fh.fileno())
            if corrupt or duplicates:
                write_bytes_atomic(self.path, b"".join(keep))
            elif partial:
                os.ftruncate(fd, len(data) - len(partial))
                os.fsync(fd)
        finally:
            os.close(fd)
        if corrupt or duplicates:
            log.warning("%s", self._repair_message())

    def _repair_message(self) -> str:
        parts = []
        if self.repair.quarantined:
            lines = ", ".join(map(str, self.repair.quarantined[:5])) + ("..." if len(self.repair.quarantined) > 5
                                                                        else "")
            parts.append(f"moved {len(self.repair.quarantined)} corrupt line(s) (line {lines}) to "
                         f"{self.corrupt_path.name} and kept the rows after them")
        if self.repair.duplicates:
            parts.append(f"dropped {self.repair.duplicates} duplicate row(s) (kept the first row of each key)")
        return f"warning: {self.path}: " + "; ".join(parts)

    def done(self) -> set[str]:
        """Keys of the rows already stored."""
        return set(self._keys)

    def append(self, row: dict[str, Any]) -> None:
        """Appends one row (must carry a new ``key``) atomically.

        Raises:
            ValueError: no ``key``, or a key already stored.
            NoSpaceError: the disk is full (the file is left as it was).
        """
        if "key" not in row:
            raise ValueError("a result row needs a 'key'")
        key = str(row["key"])
        if key in self._keys:
            raise ValueError(f"duplicate result key {key!r} in {self.path}")
        line = (json.dumps(row, ensure_ascii=False, default=_jsonable) + "\n").encode()
        fd = self._open_for_append()
        size = os.fstat(fd).st_size
        try:
            written = os.write(fd, line)
            while written < len(line):
                written += os.write(fd, line[written:])
            os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, size)  # never leave half a line for the next row to follow
            except OSError:
                pass
            if is_no_space(exc):
                raise NoSpaceError(self.path) from None
            raise
        finally:
            os.close(fd)
        self._keys.add(key)

    def _open_for_append(self) -> int:
        """The store opened for appending under its ``flock``, re-opened if a repair replaced the file meanwhile."""
        for _ in range(100):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)
        raise OSError(errno.EAGAIN, f"{self.path} keeps being replaced")

    def rows(self) -> Iterator[dict[str, Any]]:
        """Iterates over the stored rows."""
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                if line.endswith("\n"):
                    yield json.loads(line)

    def __len__(self) -> int:
        return len(self._keys)


def _read_all(fd: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replaces the contents of file ``path`` atomically (a temporary sibling, fsync, ``os.replace``); a reader sees
    the old contents or the new, never a mix.

    Raises:
        NoSpaceError: the disk is full (one line naming ``path``); ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if is_no_space(exc):
            raise NoSpaceError(path) from None
        raise


def _jsonable(value: Any) -> Any:
    """JSON fallback for numpy scalars and arrays."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json_atomic(path: str | Path, obj: Any, indent: int = 2) -> None:
    """Writes ``obj`` as JSON to ``path`` through a temporary file and ``os.replace`` (never half-written).

    On any failure the temporary file is removed and ``path`` is left as it was.

    Raises:
        NoSpaceError: the disk is full (one line naming ``path``).
        TypeError: ``obj`` holds something JSON cannot represent.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=indent, default=_jsonable) + "\n"  # fails before any file exists
    write_bytes_atomic(path, text.encode())

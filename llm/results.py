"""Append-only JSONL results that survive a killed run: nothing lost, nothing duplicated on resume.

Every row has a unique ``key`` (e.g. ``problem|condition|receiver``). A row is written as one ``write`` of one
complete line to a file opened with ``O_APPEND`` and flushed with ``fsync``. A run killed mid-write can leave at most
one partial last line; opening the store again truncates it, so the row is redone, never half-kept. Rows whose key
is already present are skipped by the caller through :meth:`ResultStore.done`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator


class ResultStore:
    """A JSONL file of result rows keyed by ``row["key"]``.

    Example:
        >>> import tempfile, pathlib
        >>> store = ResultStore(pathlib.Path(tempfile.mkdtemp()) / "rows.jsonl")
        >>> store.append({"key": "p1|baseline", "correct": True})
        >>> "p1|baseline" in store.done()
        True
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._keys: set[str] = set()
        self._repair_and_index()

    def _repair_and_index(self) -> None:
        if not self.path.exists():
            self.path.touch()
            return
        data = self.path.read_bytes()
        good = 0
        offset = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # a partial last line from a killed run
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                break
            if not isinstance(row, dict) or "key" not in row:
                raise ValueError(f"{self.path}: line {good + 1} is not a result row with a 'key'")
            self._keys.add(str(row["key"]))
            good += 1
            offset += len(line)
        if offset != len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(offset)
                fh.flush()
                os.fsync(fh.fileno())

    def done(self) -> set[str]:
        """Keys of the rows already stored."""
        return set(self._keys)

    def append(self, row: dict[str, Any]) -> None:
        """Appends one row (must carry a new ``key``) atomically."""
        if "key" not in row:
            raise ValueError("a result row needs a 'key'")
        key = str(row["key"])
        if key in self._keys:
            raise ValueError(f"duplicate result key {key!r} in {self.path}")
        line = (json.dumps(row, ensure_ascii=False, default=_jsonable) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            while written < len(line):
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        self._keys.add(key)

    def rows(self) -> Iterator[dict[str, Any]]:
        """Iterates over the stored rows."""
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                if line.endswith("\n"):
                    yield json.loads(line)

    def __len__(self) -> int:
        return len(self._keys)


def _jsonable(value: Any) -> Any:
    """JSON fallback for numpy scalars and arrays."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json_atomic(path: str | Path, obj: Any, indent: int = 2) -> None:
    """Writes ``obj`` as JSON to ``path`` through a temporary file and ``os.replace`` (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=indent, default=_jsonable)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)

"""What every entry point does the same way with bad input: one line ``error: ...`` naming the flag, status 2.

Shared by the ``persuasion`` command, ``experiments/regret_toy.py``, ``experiments/bpa_regret.py`` and the LLM
experiments (``llm/experiment_cli.py``): :class:`ArgumentParser` turns argparse's usage dump into a
:class:`UsageError`, :func:`at_least` is an argparse type for bounded integers, and :func:`output_folder` and
:func:`output_file` check (and create) output paths so that a file in the way reads as one line, not as
``[Errno 20] Not a directory``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable

#: Exit status for bad input.
EXIT_USAGE = 2


class UsageError(ValueError):
    """A command-line argument that cannot be used; ``str()`` is one line naming the flag."""


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose errors raise :class:`UsageError` (one line, no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def fail(message: str | BaseException, status: int = EXIT_USAGE) -> int:
    """Writes ``error: <first line of message>`` to stderr; returns ``status``."""
    text = str(message).strip().splitlines()
    sys.stdout.flush()
    print(f"error: {text[0] if text else type(message).__name__}", file=sys.stderr)
    return status


def at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer ``>= low`` (argparse names the flag in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _file_in_the_way(path: Path) -> Path | None:
    """The first existing ancestor of ``path`` (``path`` itself included) that is not a directory."""
    for p in reversed((path, *path.parents)):
        if p.exists() and not p.is_dir():
            return p
        if not p.exists():
            return None
    return None


def output_folder(path: str | os.PathLike[str], flag: str = "--out", create: bool = True) -> Path:
    """Creates the output folder ``path`` (and its parents) and returns it; ``create=False`` only checks that it
    could be (a run that validates everything else first, and creates the folder later).

    Raises:
        UsageError: ``{flag} PATH: ...`` when a file is in the way, or the folder cannot be created (permission,
            read-only file system).
    """
    out = Path(path)
    blocker = _file_in_the_way(out)
    if blocker is not None:
        raise UsageError(f"{flag} {out}: {blocker} is a file, not a directory")
    if not create:
        existing = next(p for p in (out, *out.parents) if p.exists())
        if not os.access(existing, os.W_OK | os.X_OK):
            raise UsageError(f"{flag} {out}: directory {existing} is not writable")
        return out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{flag} {out}: cannot create it ({exc.strerror or type(exc).__name__})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {out}: directory {out} is not writable")
    return out


def output_file(path: str | os.PathLike[str], flag: str = "-o") -> Path:
    """Checks that the file ``path`` can be written: its directory exists and is one; returns ``path``.

    Raises:
        UsageError: ``cannot write PATH (flag): ...`` naming the missing directory or the file in its way.
    """
    out = Path(path)
    if out.is_dir():
        raise UsageError(f"{flag} {out}: is a directory, not a file")
    blocker = _file_in_the_way(out.parent)
    if blocker is not None:
        raise UsageError(f"{flag} {out}: {blocker} is a file, not a directory")
    if not out.parent.is_dir():
        raise UsageError(f"{flag} {out}: directory {out.parent} does not exist")
    return out

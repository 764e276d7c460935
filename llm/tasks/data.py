"""Where benchmark files come from: a local path, ``$PERSUASION_DATA``, ``../shared/data``, or the Hugging Face hub.

Resolution order for the data root: an explicit ``path`` > the environment variable ``PERSUASION_DATA`` >
``<repo root>/../shared/data`` when it exists > :class:`DataNotFoundError`. The root holds one folder per
benchmark (``gsm8k/``, ``humaneval/``, ``mbpp/``). A loader's ``path`` may also point at the benchmark folder or the
file itself, or name a hub dataset (``"hf:openai/gsm8k"``, or a bare ``"owner/name"`` that is not a local path),
read with the optional ``datasets`` library.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path
from typing import Any, Iterator

from llm.tasks.base import DataNotFoundError, TaskError

ENV_VAR = "PERSUASION_DATA"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO_ROOT.parent / "shared" / "data"

_HUB_PREFIXES = ("hf://", "hf:")
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def resolve_data_root(path: str | os.PathLike[str] | None = None) -> Path:
    """The benchmark data root: ``path`` > ``$PERSUASION_DATA`` > ``<repo>/../shared/data`` (if present).

    Raises:
        DataNotFoundError: none of these is an existing directory.
    """
    if path is not None:
        root = Path(path).expanduser()
        if not root.exists():
            raise DataNotFoundError(f"data path {str(root)!r} does not exist")
        return root
    env = os.environ.get(ENV_VAR)
    if env:
        root = Path(env).expanduser()
        if not root.is_dir():
            raise DataNotFoundError(f"{ENV_VAR}={env!r} is not a directory")
        return root
    if DEFAULT_ROOT.is_dir():
        return DEFAULT_ROOT
    raise DataNotFoundError(
        f"no benchmark data: pass --data DIR (path=... from Python), or set {ENV_VAR} to a folder with gsm8k/, "
        "humaneval/, mbpp/"
    )


def hub_name(path: str | os.PathLike[str] | None) -> str | None:
    """The hub dataset name that ``path`` denotes, or ``None`` for a local path.

    ``"hf:owner/name"`` and ``"hf://owner/name"`` always mean the hub; a bare ``"owner/name"`` does when no such
    local path exists.
    """
    if path is None or not isinstance(path, str):
        return None
    for prefix in _HUB_PREFIXES:
        if path.startswith(prefix):
            return path[len(prefix) :]
    if _HUB_NAME.fullmatch(path) and not Path(path).exists():
        return path
    return None


def locate(path: str | os.PathLike[str] | None, folder: str, filename: str) -> Path:
    """The file ``filename`` of benchmark ``folder``, given a data root, the benchmark folder or the file itself.

    Raises:
        DataNotFoundError: no such file under the resolved location.
    """
    base = resolve_data_root(path)
    if base.is_file():
        return base
    for candidate in (base / filename, base / folder / filename):
        if candidate.is_file():
            return candidate
    raise DataNotFoundError(
        f"{folder}/{filename} not found under {str(base)!r} (pass --data DIR, path=... from Python, or set {ENV_VAR})"
    )


def read_jsonl(file: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a ``.jsonl`` (or ``.jsonl.gz``) file, one per non-empty line.

    Raises:
        TaskError: a line is not a JSON object.
    """
    opener = gzip.open if file.suffix == ".gz" else open
    with opener(file, "rt", encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskError(f"{file}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise TaskError(f"{file}:{lineno}: expected a JSON object, got {type(record).__name__}")
            yield record


def load_hub(name: str, config: str | None, split: str) -> list[dict[str, Any]]:
    """Rows of a hub dataset split through the optional ``datasets`` library (imported lazily; needs internet).

    Raises:
        DataNotFoundError: ``datasets`` is not installed.
    """
    try:
        import datasets  # type: ignore[import-not-found]
    except ImportError:
        raise DataNotFoundError(
            f"hub dataset {name!r} needs the `datasets` package (pip install datasets), "
            f"or use local files via --data DIR (path=... from Python) or {ENV_VAR}"
        ) from None
    rows = datasets.load_dataset(name, config, split=split)
    return [dict(row) for row in rows]


def require(record: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    """Checks that ``record`` has every key in ``keys``.

    Raises:
        TaskError: a key is missing (names the record and the key).
    """
    missing = [k for k in keys if k not in record]
    if missing:
        raise TaskError(f"{where}: record is missing {missing} (has {sorted(record)})")

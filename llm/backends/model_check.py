"""Checks that a saved model folder is complete before it is used (cheap: parses files, loads no weights).

An interrupted ``save_pretrained`` can leave a folder that fails for good (a 0-byte ``config.json``) or, worse, one
that loads: without ``tokenizer.json`` ``transformers`` builds a GPT-2 tokenizer with a single token, and the run
ends with exit 0 and wrong results. :func:`validate_model_folder` refuses such a folder in one line:

* ``config.json`` parses to an object with a ``model_type`` and a ``vocab_size`` (top level or ``text_config``);
* the tokenizer (``tokenizer.json``, else ``vocab.json``, else a non-empty SentencePiece ``tokenizer.model``) has
  ``vocab_size`` tokens when that is given, else at least half of the model's embedding rows;
* the weights are present and whole: every ``*.safetensors`` file named (directly or by its index) has a header
  that parses and a size equal to the header's length plus the last tensor's end offset; a ``pytorch_model.bin``
  is a non-empty zip archive.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm.lm import LMError

__all__ = ["BrokenModelError", "ModelFolder", "is_valid_model_folder", "validate_model_folder"]


class BrokenModelError(LMError):
    """A model folder is incomplete or corrupt (one line naming the folder and the first problem found)."""


@dataclass(frozen=True)
class ModelFolder:
    """What :func:`validate_model_folder` found in a complete folder."""

    path: Path
    model_type: str
    vocab_size: int  # embedding rows, from config.json
    tokenizer_size: int | None  # None for a SentencePiece model file (not counted)
    weights: tuple[str, ...]  # weight file names


def _fail(path: Path, problem: str) -> BrokenModelError:
    return BrokenModelError(f"broken model folder {path}: {problem}; delete it to have it rebuilt")


def _read_json(path: Path, folder: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(folder, f"{path.name} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(folder, f"{path.name} is unreadable ({type(exc).__name__})") from None
    if not text.strip():
        raise _fail(folder, f"{path.name} is empty (an interrupted write?)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(folder, f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _config_vocab(config: dict[str, Any]) -> int | None:
    for source in (config, config.get("text_config") or {}):
        value = source.get("vocab_size") if isinstance(source, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _tokenizer_size(folder: Path) -> int | None:
    """Tokens in the folder's tokenizer files (vocabulary plus added tokens not in it); None for SentencePiece."""
    if (folder / "tokenizer.json").exists():
        data = _read_json(folder / "tokenizer.json", folder)
        model = data.get("model") if isinstance(data, dict) else None
        vocab = model.get("vocab") if isinstance(model, dict) else None
        if not isinstance(vocab, (dict, list)):
            raise _fail(folder, "tokenizer.json has no model vocabulary")
        names = set(vocab) if isinstance(vocab, dict) else {v[0] for v in vocab if isinstance(v, list) and v}
        extra = {t.get("content") for t in data.get("added_tokens") or [] if isinstance(t, dict)}
        return len(vocab) + len(extra - names)
    if (folder / "vocab.json").exists():
        vocab = _read_json(folder / "vocab.json", folder)
        if not isinstance(vocab, dict):
            raise _fail(folder, "vocab.json is not a token -> id map")
        added: dict[str, Any] = {}
        if (folder / "added_tokens.json").exists():
            added = _read_json(folder / "added_tokens.json", folder)
        return len(vocab) + len(set(added) - set(vocab))
    spm = folder / "tokenizer.model"
    if spm.exists():
        if spm.stat().st_size == 0:
            raise _fail(folder, "tokenizer.model is empty (an interrupted write?)")
        return None
    raise _fail(folder, "no tokenizer file (tokenizer.json, vocab.json or tokenizer.model)")


def _check_safetensors(path: Path, folder: Path) -> None:
    """The header parses and the file is exactly as long as the header says (truncation shows)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise _fail(folder, f"{path.name} is {size} bytes (an interrupted write?)")
            (n,) = struct.unpack("<Q", head)
            if n > size - 8 or n > 100 << 20:
                raise _fail(folder, f"{path.name} is truncated (header of {n} bytes, file of {size})")
            header = json.loads(fh.read(n))
    except FileNotFoundError:
        raise _fail(folder, f"{path.name} is missing") from None
    except (OSError, ValueError) as exc:
        raise _fail(folder, f"{path.name} has an unreadable header ({type(exc).__name__})") from None
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    expected = 8 + n + max(ends, default=0)
    if size != expected:
        raise _fail(folder, f"{path.name} is {size} bytes, its header says {expected} (truncated or corrupt)")


def _weights(folder: Path) -> tuple[str, ...]:
    index = folder / "model.safetensors.index.json"
    if index.exists():
        data = _read_json(index, folder)
        shards = sorted(set((data.get("weight_map") or {}).values())) if isinstance(data, dict) else []
        if not shards:
            raise _fail(folder, f"{index.name} names no weight files")
        for shard in shards:
            _check_safetensors(folder / shard, folder)
        return tuple(shards)
    if (folder / "model.safetensors").exists():
        _check_safetensors(folder / "model.safetensors", folder)
        return ("model.safetensors",)
    binary = folder / "pytorch_model.bin"
    if binary.exists():
        if not zipfile.is_zipfile(binary):
            raise _fail(folder, "pytorch_model.bin is not a complete torch archive")
        return ("pytorch_model.bin",)
    raise _fail(folder, "no weights (model.safetensors, its index, or pytorch_model.bin)")


def validate_model_folder(path: str | os.PathLike[str], vocab_size: int | None = None) -> ModelFolder:
    """Checks that ``path`` holds a complete saved model (see the module docstring); returns what it found.

    Example:
        >>> validate_model_folder("/nonexistent")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        llm.backends.model_check.BrokenModelError: broken model folder /nonexistent: not a folder; ...

    Args:
        path: the folder (``save_pretrained`` layout: config, tokenizer files, weights).
        vocab_size: the exact tokenizer size expected (e.g. 50257 for GPT-2's), if known.

    Raises:
        BrokenModelError: the first problem found, in one line (an ``LMError``, so CLIs print it as such).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise _fail(folder, "not a folder")
    config = _read_json(folder / "config.json", folder)
    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
        raise _fail(folder, "config.json has no model_type")
    rows = _config_vocab(config)
    if rows is None:
        raise _fail(folder, "config.json has no vocab_size")
    n_tokens = _tokenizer_size(folder)
    if n_tokens is not None:
        if vocab_size is not None and n_tokens != vocab_size:
            raise _fail(folder, f"the tokenizer has {n_tokens} tokens, expected {vocab_size}")
        if 2 * n_tokens < rows:
            raise _fail(folder, f"the tokenizer has {n_tokens} tokens for a model with {rows} embedding rows")
    weights = _weights(folder)
    return ModelFolder(folder, config["model_type"], rows, n_tokens, weights)


def is_valid_model_folder(path: str | os.PathLike[str], vocab_size: int | None = None) -> bool:
    """Whether :func:`validate_model_folder` accepts ``path`` (for "reuse it or rebuild it" decisions)."""
    try:
        validate_model_folder(path, vocab_size)
    except BrokenModelError:
        return False
    return True

"""Fixtures for the language-model tests: a private cache and tiny random-init GPT-2 models (no downloads).

torch is imported only by the fixtures that build models, so test modules that need no model stay light.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

from llm.backends.models import cache_root, tiny_gpt2

if TYPE_CHECKING:
    from llm.backends.hf import HFModel

_REAL_CACHE = cache_root()  # read at import, before test_cache redirects it


@pytest.fixture(scope="session")
def real_cache() -> Path:
    """The user's cache as it was before the tests redirected it (slow tests reuse converted models)."""
    return _REAL_CACHE


@pytest.fixture(scope="session", autouse=True)
def test_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Points ``PERSUASION_CACHE`` at a session temp folder so tests never touch the user's cache."""
    path = tmp_path_factory.mktemp("persuasion-cache")
    old = os.environ.get("PERSUASION_CACHE")
    os.environ["PERSUASION_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("PERSUASION_CACHE", None)
    else:
        os.environ["PERSUASION_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory, test_cache: Path) -> Path:
    """A saved random-init GPT-2 (seed 0; 2 layers, ``n_embd=32``, context 256) with the real GPT-2 tokenizer.

    Also sets torch to one intra-op thread for the session: on a small shared CPU, OpenMP threads spinning
    against other processes made these tiny forward passes ~20x slower than single-threaded ones.
    """
    import torch

    torch.set_num_threads(1)
    return tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2-s0"), seed=0, cache=test_cache)


@pytest.fixture(scope="session")
def tiny_model(tiny_dir: Path) -> HFModel:
    """The seed-0 tiny GPT-2 on the CPU in float32, batch size 4, named ``"tiny"``."""
    from llm.backends.hf import HFModel

    return HFModel.from_pretrained(str(tiny_dir), device="cpu", dtype="float32", batch_size=4, name="tiny")


@pytest.fixture(scope="session")
def tiny_model_b(tmp_path_factory: pytest.TempPathFactory, tiny_dir: Path, test_cache: Path) -> HFModel:
    """A second tiny GPT-2 (seed 1, 1 layer) with different weights, batch size 2."""
    from llm.backends.hf import HFModel

    path = tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2-s1"), seed=1, n_layer=1, cache=test_cache)
    return HFModel.from_pretrained(str(path), device="cpu", dtype="float32", batch_size=2, name="tiny-b")

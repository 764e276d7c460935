"""Shared test configuration: hypothesis profiles and the opt-in slow marker."""

import os

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")
# Receivers run on transformers in the suite even where vllm is installed ('auto' would start a vLLM engine, ~2
# minutes, for every tiny model); the vLLM tests ask for it by name (tests/llm/backends/test_vllm.py).
os.environ.setdefault("PERSUASION_ENGINE", "hf")

settings.register_profile(
    "default", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("ci", parent=settings.get_profile("default"), max_examples=40)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run slow tests (real offline models, long runs)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow") or os.environ.get("PERSUASION_RUNSLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: opt in with --runslow or PERSUASION_RUNSLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)

"""Every source file compiles without warnings (an invalid escape such as ``"\\l"`` in a docstring would show up as a
SyntaxWarning in users' own test runs)."""

import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for d in ("persuasion", "llm", "experiments", "benchmarks") for p in (ROOT / d).rglob("*.py"))


def test_the_sources_are_found() -> None:
    assert len(SOURCES) > 50 and ROOT / "persuasion" / "reference.py" in SOURCES


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_compiles_without_warnings(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(path.read_text(), str(path), "exec")

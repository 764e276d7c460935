"""The README's simulated-Receiver table against a fresh run of the README's own commands.

Both sides are read, never written here: the figures from the README's table, the commands from its code block
(each row names its command by ``--out``), and the results from the fresh runs' ``summary.json``. A change to the
pipeline that moves a figure out of the README's interval, or a README figure outside the fresh interval, fails.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| [\w-]+ \(`(?P<out>runs/[\w-]+)`\) \| (?P<cells>.+) \|$")
CELL = re.compile(r"^(?P<d>[+-]\d+\.\d) \[(?P<lo>[+-]\d+\.\d), (?P<hi>[+-]\d+\.\d)\]$")


def readme_commands(text: str) -> dict[str, list[str]]:
    """``--out`` value -> argv of every ``llm_math.py --task synthetic`` command in the README (continuations
    joined, trailing comments dropped)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out = {}
    for line in joined.splitlines():
        if line.startswith("python experiments/llm_math.py") and "--task synthetic" in line:
            argv = shlex.split(line.split("#", 1)[0])
            out[argv[argv.index("--out") + 1]] = argv[1:]
    return out


def readme_table(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The simulated-Receiver table: its condition columns and ``--out`` -> cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Advisor (`--out`) |"))
    conditions = re.findall(r"`(\w+)`", lines[start])  # `--out` is not a word
    rows = {}
    for line in lines[start + 2:]:
        m = ROW.match(line)
        if not m:
            break
        rows[m["out"]] = [c.strip() for c in m["cells"].split("|")]
    return conditions, rows


@pytest.fixture(scope="module")
def readme() -> tuple[list[str], dict[str, list[str]], dict[str, list[str]]]:
    text = (ROOT / "README.md").read_text()
    conditions, rows = readme_table(text)
    return conditions, rows, readme_commands(text)


def test_the_table_names_its_commands(readme) -> None:
    conditions, rows, commands = readme
    assert conditions == ["baseline", "posterior", "signal", "oracle"]
    assert set(rows) == {"runs/sim", "runs/sim-blind"} and set(rows) <= set(commands)
    assert "--state-features" in commands["runs/sim-blind"] and "--state-features" not in commands["runs/sim"]


def test_readme_figures_are_what_a_fresh_run_gives(readme, tmp_path: Path) -> None:
    conditions, rows, commands = readme
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "Agg"}
    for out, cells in rows.items():
        argv = list(commands[out])
        argv[argv.index("--out") + 1] = str(tmp_path / out)
        done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        summary = json.loads((tmp_path / out / "summary.json").read_text())["receivers"]["simulated"]
        base = summary["baseline"]
        assert base["ci95"][0] <= float(cells[0]) <= base["ci95"][1], (out, "baseline", cells[0], base)
        for condition, cell in zip(conditions[1:], cells[1:]):
            m = CELL.match(cell)
            assert m, (out, condition, cell)
            fresh, (lo, hi) = 100 * summary[condition]["diff"], (100 * x for x in summary[condition]["diff_ci95"])
            stated = float(m["d"])
            # each figure lies within the other's 95% interval
            where = f"{out} {condition}: README {stated:+.1f}, fresh {fresh:+.1f} [{lo:+.1f}, {hi:+.1f}]"
            assert lo <= stated <= hi, where
            assert float(m["lo"]) <= fresh <= float(m["hi"]), f"{out} {condition}: fresh {fresh:+.1f}, README {cell}"

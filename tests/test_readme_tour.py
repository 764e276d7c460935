"""The README's Python tour runs as a script and prints what its comments say."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tour() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("**From Python.**")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def test_the_python_tour_prints_what_its_comments_say() -> None:
    code = tour()
    # each print's expected output: its comment, up to a ": " that starts an explanation
    expected = [re.split(r":\s", line.split("# ", 1)[1], maxsplit=1)[0].strip()
                for line in code.splitlines() if line.startswith("print(")]
    assert len(expected) >= 8 and "0.6" in expected
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == expected

"""The hint templates of llm/game/prompts.py (placement is the tasks' job: tests/llm/tasks/)."""

from hypothesis import given
from hypothesis import strategies as st

from llm.game import prompts


def test_hint_line_is_one_line():
    assert prompts.hint_line("use a\n  table") == prompts.HINT_LINE.format(hint="use a table") == "Hint: use a table"


def test_hint_comment_comments_every_line():
    assert prompts.hint_comment("  first\nsecond  \n\nthird\n") == "# Hint: first\n# second\n#\n# third\n"
    assert prompts.hint_comment("a\x00b") == "# Hint: ab\n" and prompts.hint_comment("\x00") == ""


@given(st.text(max_size=80).filter(lambda s: s.strip()))
def test_every_comment_line_starts_with_a_hash(hint):
    text = prompts.hint_comment(hint)
    assert text.endswith("\n") and text.startswith("# Hint: ")
    assert all(line.startswith("#") for line in text[:-1].split("\n"))


def test_has_hint():
    assert not prompts.has_hint(None) and not prompts.has_hint(" \n\t") and prompts.has_hint("x")

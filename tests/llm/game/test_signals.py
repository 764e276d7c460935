"""Advisor signals, signal sampling from a scheme, and the prompt templates (which docs/method.md must show)."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.llm.fake_lm import FakeLM
from llm.game import prompts
from llm.game.beliefs import receiver_belief
from llm.game.catalogue import load_catalogue
from llm.game.signals import Signal, advisor_signal, advisor_signals, clean_signal, draw_signal_item, template_signal
from llm.lm import Generation, LMError
from persuasion.errors import GameError

MATH = load_catalogue("math")
CODE = load_catalogue("code")
DOC = Path(__file__).resolve().parents[3] / "docs" / "method.md"
QUESTION = "Natalia sold clips to 48 friends in April and half as many in May. How many clips in total?"


class RecordingLM(FakeLM):
    """A fake that remembers the prompts and keyword arguments of each ``generate`` call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def generate(self, prompts, **kwargs):
        self.seen.append((list(prompts), kwargs))
        return super().generate(prompts, **kwargs)


def one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg
    return msg


def test_advisor_prompt_fills_the_template():
    item = MATH.get("unit_rates")
    text = prompts.advisor_prompt(f"  {QUESTION}\n", item.name, item.description)
    assert text == prompts.ADVISOR_PROMPT.format(question=QUESTION, name=item.name, description=item.description)
    assert text.endswith("Hint:")


def test_advisor_signals_use_one_generate_call_and_clean_the_text():
    model = RecordingLM()
    items = list(MATH.items)
    signals = advisor_signals(model, [QUESTION] * len(items), items, max_new_tokens=32, seed=5)
    assert model.calls == [("generate", len(items))]
    (sent, kwargs), = model.seen
    assert kwargs["stop"] == prompts.ADVISOR_STOP and kwargs["max_new_tokens"] == 32 and kwargs["seed"] == 5
    assert sent[0] == prompts.advisor_prompt(QUESTION, items[0].name, items[0].description)
    for sig, item in zip(signals, items):
        assert sig == Signal(item.id, f"You could {item.name} here; check each number.", "advisor")


def test_chat_mode_sends_one_user_message():
    model = RecordingLM()
    item = CODE.get("sort_first")
    sig = advisor_signal(model, "Return the k largest numbers.", item, chat=True)
    (sent, _), = model.seen
    assert sent == [[{"role": "user", "content": prompts.advisor_prompt("Return the k largest numbers.", item.name,
                                                                         item.description)}]]
    assert sig.text == "You could sort first here; check each number."


def test_empty_advisor_text_falls_back_to_the_template_signal():
    model = FakeLM(reply=lambda prompt: "\n\nProblem: something else")
    item = MATH.get("make_table")
    sig = advisor_signal(model, QUESTION, item)
    assert sig == template_signal(item)
    assert sig.source == "template"
    assert sig.text == prompts.SIGNAL_TEMPLATE.format(name=item.name, hint_text=item.hint_text)


@given(st.text(max_size=60), st.sampled_from(prompts.ADVISOR_STOP), st.text(max_size=30))
def test_clean_signal_cuts_at_stop_strings_and_is_one_line(head, stop, tail):
    out = clean_signal(head + stop + tail)
    assert "\n" not in out
    assert out == " ".join(clean_signal(head).split())
    assert out == out.strip()


def test_advisor_errors_are_one_line():
    with pytest.raises(GameError) as excinfo:
        advisor_signals(FakeLM(), [QUESTION, QUESTION], [MATH.items[0]])
    assert "one item per question" in one_line_error(excinfo)

    class Short(FakeLM):
        def generate(self, prompts, **kwargs):
            return [Generation("x", 1, 1, "stop")]

    with pytest.raises(LMError) as excinfo:
        advisor_signals(Short(), [QUESTION, QUESTION], [MATH.items[0], MATH.items[1]])
    assert "1 generations for 2 prompts" in one_line_error(excinfo)
    assert advisor_signals(FakeLM(), [], []) == []


@pytest.mark.parametrize("k", range(MATH.m))
def test_an_advisor_signal_for_an_item_raises_that_items_posterior(k):
    receiver = FakeLM(boost=2.0, seed=1)
    sig = advisor_signal(FakeLM(), QUESTION, MATH.items[k])
    prior = receiver_belief(receiver, QUESTION, MATH)
    post = receiver_belief(receiver, QUESTION, MATH, sig.text)
    assert post[k] > prior[k]
    assert int(np.argmax(post - prior)) == k


def test_draw_signal_item_follows_the_scheme_row():
    scheme = np.array([[0.2, 0.5, 0.3], [0.0, 0.0, 1.0]])
    rng = np.random.default_rng(0)
    draws = np.array([draw_signal_item(scheme, 0, rng) for _ in range(5_000)])
    freq = np.bincount(draws, minlength=3) / draws.size
    np.testing.assert_allclose(freq, scheme[0], atol=0.03)  # seeded; the standard error is below 0.008
    assert {draw_signal_item(scheme, 1, rng) for _ in range(50)} == {2}
    again = [draw_signal_item(scheme, 0, np.random.default_rng(7)) for _ in range(3)]
    assert len(set(again)) == 1  # same seed, same draw


@pytest.mark.parametrize(
    "scheme, state, needle",
    [
        ([[0.5, 0.5]], 1, "out of range"),
        ([0.5, 0.5], 0, "out of range"),
        ([[0.5, 0.6]], 0, "not a probability distribution"),
        ([[np.nan, 1.0]], 0, "not a probability distribution"),
    ],
)
def test_draw_signal_item_errors_are_one_line(scheme, state, needle):
    with pytest.raises(GameError) as excinfo:
        draw_signal_item(np.array(scheme), state, np.random.default_rng(0))
    assert needle in one_line_error(excinfo)


def test_belief_prompt_lists_options_sorted_and_puts_the_signal_on_one_line():
    text = prompts.belief_prompt("Q?", ["b item", "A item", "c item"], "go\n  on")
    assert text == prompts.BELIEF_PROMPT_SIGNAL.format(question="Q?", options="A item; b item; c item", signal="go on")
    assert prompts.belief_prompt("Q?", ["b", "a"]) == prompts.BELIEF_PROMPT.format(question="Q?", options="a; b")


def test_method_doc_shows_every_template_verbatim():
    doc = DOC.read_text(encoding="utf-8")
    for name, template in prompts.TEMPLATES.items():
        assert template in doc, f"docs/method.md does not show {name} verbatim"
    assert repr(prompts.ADVISOR_STOP) in doc
    assert repr(prompts.OPTION_SEPARATOR) in doc

"""Every prompt template of the persuasion instantiation, as module constants (shown verbatim in docs/method.md).

Templates are ``str.format`` strings. Text inserted into them (questions, signals) is never re-formatted, so braces
in a question are safe. Functions here only fill templates; they call no model.
"""

from __future__ import annotations

from typing import Iterable

#: Receiver belief prompt without a signal: scored to measure the prior ``mu_x^0``.
BELIEF_PROMPT = (
    "Question: {question}\n"
    "Possible approaches: {options}.\n"
    "The most useful approach for this problem is:"
)

#: Receiver belief prompt with the Advisor's signal: scored to measure the posterior ``mu_x^g``.
BELIEF_PROMPT_SIGNAL = (
    "Question: {question}\n"
    "Possible approaches: {options}.\n"
    "Advisor: {signal}\n"
    "The most useful approach for this problem is:"
)

#: Continuation scored for each item ``omega``: its name after a space, closed by a period.
BELIEF_CONTINUATION = " {name}."

#: Separator between the item names listed in ``{options}`` (listed in case-insensitive name order).
OPTION_SEPARATOR = "; "

#: Advisor prompt: the Advisor observes the question ``x`` and the item ``omega`` and writes the signal text.
ADVISOR_PROMPT = (
    "Problem: {question}\n"
    "Approach: {name}. {description}\n"
    "Write a short hint (one or two sentences) that steers a solver toward this approach "
    "without giving the answer.\n"
    "Hint:"
)

#: Strings that end the Advisor's signal (passed as ``stop`` and applied again when cleaning).
ADVISOR_STOP = ("\n\n", "\nProblem:", "\nQuestion:", "\nApproach:")

#: Model-free signal for an item (used by ``template_signal`` and when the Advisor's text comes back empty).
SIGNAL_TEMPLATE = "Suggested approach: {name}. {hint_text}"

#: How an information item's text reaches the Receiver as prose, placed by the task (``llm.tasks``): a line before
#: the math question, or a sentence in the user message of a chat.
HINT_LINE = "Hint: {hint}"

#: How it reaches a code Receiver in completion mode: a Python comment at the top of the code (``# `` before every
#: further line), so that the completion still continues the function.
HINT_COMMENT = "# Hint: {hint}"

#: All templates by name (the doc test checks that docs/method.md shows each one verbatim).
TEMPLATES: dict[str, str] = {
    "BELIEF_PROMPT": BELIEF_PROMPT,
    "BELIEF_PROMPT_SIGNAL": BELIEF_PROMPT_SIGNAL,
    "BELIEF_CONTINUATION": BELIEF_CONTINUATION,
    "ADVISOR_PROMPT": ADVISOR_PROMPT,
    "SIGNAL_TEMPLATE": SIGNAL_TEMPLATE,
    "HINT_LINE": HINT_LINE,
    "HINT_COMMENT": HINT_COMMENT,
}


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) collapsed to one space, and stripped."""
    return " ".join(str(text).split())


def options_text(names: Iterable[str]) -> str:
    """The ``{options}`` field: item names sorted case-insensitively, so it does not depend on catalogue order."""
    return OPTION_SEPARATOR.join(sorted(names, key=lambda s: (s.lower(), s)))


def belief_prompt(question: str, names: Iterable[str], signal: str | None = None) -> str:
    """The Receiver's belief prompt: :data:`BELIEF_PROMPT`, or :data:`BELIEF_PROMPT_SIGNAL` when a signal is given.

    The question is stripped; the signal is put on one line with :func:`one_line`.
    """
    options = options_text(names)
    if signal is None:
        return BELIEF_PROMPT.format(question=str(question).strip(), options=options)
    return BELIEF_PROMPT_SIGNAL.format(question=str(question).strip(), options=options, signal=one_line(signal))


def belief_continuation(name: str) -> str:
    """The continuation whose log-probability scores item ``name`` (:data:`BELIEF_CONTINUATION`)."""
    return BELIEF_CONTINUATION.format(name=name)


def advisor_prompt(question: str, name: str, description: str) -> str:
    """The Advisor's prompt (:data:`ADVISOR_PROMPT`) for question ``x`` and an item ``omega``."""
    return ADVISOR_PROMPT.format(question=str(question).strip(), name=name, description=description)


def hint_line(hint: str) -> str:
    """:data:`HINT_LINE` for ``hint``, on one line (:func:`one_line`)."""
    return HINT_LINE.format(hint=one_line(hint))


def hint_comment(hint: str) -> str:
    """:data:`HINT_COMMENT` for ``hint``: one comment line per line of the stripped hint, each ending in a newline."""
    lines = [line.rstrip() for line in str(hint).replace("\x00", "").strip().splitlines()]
    if not lines:
        return ""
    return HINT_COMMENT.format(hint=lines[0]) + "\n" + "".join(f"# {line}".rstrip() + "\n" for line in lines[1:])


def has_hint(hint: str | None) -> bool:
    """Whether ``hint`` carries any text (``None`` and blank hints mean: no information)."""
    return hint is not None and bool(str(hint).strip())

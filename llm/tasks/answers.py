"""Final-answer extraction and numeric equality for GSM8K-style math answers.

:func:`marked_answer` reads the answer a response *marks* as final, trying in order

1. the GSM8K convention ``"#### N"`` (the first such line carrying a number: a completion model that runs on into
   a next question answers it later);
2. the last LaTeX ``\\boxed{...}`` (balanced braces; its content is returned as written);
3. the last ``"The answer is N"`` / ``"Answer: N"``;

:func:`last_number` the last number anywhere, and :func:`final_answer` the answer the text ends with (the "flexible"
reading of :mod:`llm.tasks.grading`). ``extract_gsm8k_answer`` is the marked answer as a number, else the last
number.

A number may carry a sign, ``$``, thousands commas, decimals or a fraction ``a/b``; a trailing period is not a
decimal point. ``numeric_equal`` compares two such answers exactly as rationals, within a tolerance
``|x - y| <= abs_tol + rel_tol * |y|``.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Union

Number = Union[int, float, Fraction, str, None]

# A minus sign counts only when not glued to a preceding operand ("16-3" is 16 minus 3, not 16 and -3).
_NUMBER = re.compile(
    r"(?<![\w.])(?P<neg>-\s?)?\$?\s?(?P<body>(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)(?:/(?P<den>\d+))?"
)
_HASHES = re.compile(r"####[^\n]*")
_BOXED = re.compile(r"\\boxed\s*\{")
_ANSWER_IS = re.compile(r"answer\s*(?:is\b|:)", re.IGNORECASE)
_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-"})


def _normalize(text: str) -> str:
    text = text.translate(_MINUS_SIGNS)
    return _FRAC.sub(r"\1/\2", text)


def _numbers(text: str) -> list[str]:
    out = []
    for m in _NUMBER.finditer(text):
        body = m.group("body").replace(",", "")
        if body.startswith("."):
            body = "0" + body
        value = ("-" if m.group("neg") else "") + body
        if m.group("den") is not None:
            value += "/" + m.group("den")
        out.append(value)
    return out


def boxed_content(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` in ``text`` (nested braces allowed), or ``None``.

    An unclosed last box (a reply cut by the token limit) is skipped in favour of the one before it.

    Examples:
        >>> boxed_content("so $\\\\boxed{\\\\frac{\\\\sqrt{3}}{2}}$.")
        '\\\\frac{\\\\sqrt{3}}{2}'
    """
    for m in reversed(list(_BOXED.finditer(text))):
        depth = 1
        for i in range(m.end(), len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return text[m.end() : i].strip()
    return None


def marked_answer(text: str) -> tuple[str, str] | None:
    """The answer ``text`` marks as final, as ``(mark, answer)``, or ``None`` when it marks none.

    ``mark`` is ``"hashes"`` (first ``#### N`` line with a number; ``answer`` is the number), ``"boxed"`` (last
    non-empty ``\\boxed{...}``; ``answer`` is its LaTeX content) or ``"answer_is"`` (last ``The answer is N`` /
    ``Answer: N``; ``answer`` is the number). Numbers are canonical (no ``$`` or commas).

    Examples:
        >>> marked_answer("3 + 4 = 7\\n#### 7")
        ('hashes', '7')
        >>> marked_answer("So the total is 7.") is None
        True
    """
    text = _normalize(text)
    for m in _HASHES.finditer(text):
        found = _numbers(m.group(0)[4:])
        if found:
            return "hashes", found[0]
    boxed = boxed_content(text)
    if boxed:
        return "boxed", boxed
    for m in reversed(list(_ANSWER_IS.finditer(text))):
        found = _numbers(text[m.end() :].split("\n", 1)[0])
        if found:
            return "answer_is", found[0]
    return None


def final_answer(text: str) -> tuple[str, bool] | None:
    r"""The answer ``text`` ends with, as ``(answer, boxed)``, or ``None`` when it has no number and no box.

    lm-eval's "flexible-extract" (the last number), except that a closed ``\boxed{...}`` after which no number
    follows is read whole (``boxed=True``: its content, compared by math-verify when it is not one number).
    A ``#### N`` guess written before the working therefore does not hide the number the working ends with.

    Examples:
        >>> final_answer("#### 120\nSo 9 * 60 = 540 meters.")
        ('540', False)
        >>> final_answer("so $\\boxed{2\\pi}$.")
        ('2\\pi', True)
    """
    text = _normalize(text)
    numbers = list(_NUMBER.finditer(text))
    for m in reversed(list(_BOXED.finditer(text))):
        depth = 1
        for i in range(m.end(), len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                if not numbers or numbers[-1].start() < i:
                    return text[m.end() : i].strip(), True
                break
        else:
            continue  # unclosed (cut by the token limit): the box before it
        break
    last = last_number(text)
    return (last, False) if last is not None else None


def last_number(text: str) -> str | None:
    """The last number in ``text`` as a canonical string, or ``None`` (lm-eval's "flexible-extract")."""
    found = _numbers(_normalize(text))
    return found[-1] if found else None


def extract_gsm8k_answer(text: str) -> str | None:
    """The final numeric answer of a response as a canonical string (``"-1234.5"``, ``"3/4"``), or ``None``.

    Args:
        text: a model response or a GSM8K reference solution.

    Returns:
        The number of the :func:`marked_answer` (for a box: the last number inside it), else the
        :func:`last_number`; ``None`` when there is no number.

    Examples:
        >>> extract_gsm8k_answer("She makes 9 * 2 = $18.\\n#### 18")
        '18'
        >>> extract_gsm8k_answer("So the total is $1,234.50.")
        '1234.50'
    """
    marked = marked_answer(text)
    if marked is None:
        return last_number(text)
    mark, answer = marked
    if mark != "boxed":
        return answer
    found = _numbers(answer)
    return found[-1] if found else None


def parse_number(value: Number) -> Fraction | None:
    """``value`` as an exact rational, or ``None`` when it is not a finite number.

    Strings may use ``$``, thousands commas, decimals, a fraction ``a/b`` (``b != 0``) and a sign.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(value) if math.isfinite(value) else None
    s = _normalize(str(value)).strip().replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    m = re.fullmatch(r"(-?(?:\d+(?:\.\d*)?|\.\d+))(?:/(\d+(?:\.\d+)?))?", s)
    if m is None:
        return None
    num = Fraction(m.group(1))
    if m.group(2) is None:
        return num
    den = Fraction(m.group(2))
    return num / den if den != 0 else None


def numeric_equal(pred: Number, ref: Number, *, rel_tol: float = 0.0, abs_tol: float = 1e-6) -> bool:
    """Whether two answers are the same number: ``|pred - ref| <= abs_tol + rel_tol * |ref|``.

    Args:
        pred: the predicted answer (``None`` or unparseable counts as wrong).
        ref: the reference answer.
        rel_tol: relative tolerance (non-negative; off by default: large integer answers must match exactly).
        abs_tol: absolute tolerance (non-negative).

    Raises:
        ValueError: a negative tolerance.
    """
    if rel_tol < 0 or abs_tol < 0:
        raise ValueError(f"tolerances must be non-negative, got rel_tol={rel_tol}, abs_tol={abs_tol}")
    p, r = parse_number(pred), parse_number(ref)
    if p is None or r is None:
        return False
    return abs(p - r) <= Fraction(abs_tol) + Fraction(rel_tol) * abs(r)


def grade_gsm8k(response: str, reference: Number) -> bool:
    """Whether the final number of ``response`` (see :func:`extract_gsm8k_answer`) equals ``reference``."""
    return numeric_equal(extract_gsm8k_answer(response), reference)

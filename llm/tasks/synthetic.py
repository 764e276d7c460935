"""An embedded, seeded generator of multi-step arithmetic word problems with known integer answers.

The offline default and the test task: no files, no network. Each problem comes from one of several templates
(shopping change, production and sales, equal sharing, distance, savings, fractions of a group, harvests, ages,
reading, discounts), with 2-4 arithmetic steps chosen so that every intermediate value is a non-negative integer.
The ``solution`` writes the steps out (``"3 * 4 = 12"``) and ends in GSM8K's ``"#### N"``, so the synthetic task
stands in for GSM8K train and test everywhere (disjoint seeds give disjoint "splits").

Problem ``i`` of seed ``s`` depends only on ``(s, i)`` (its generator is seeded with the string ``"s:i"``), so
``synthetic_arithmetic(n, s)`` is a prefix of ``synthetic_arithmetic(n + 1, s)`` and is identical across runs and
Python versions.

A problem's ``group`` is its template's name: the natural problem groups of the simulated Receiver
(:mod:`llm.backends.simulated`). :func:`find` maps a question text back to its problem in the generated splits, and
:func:`with_final_answer` rewrites a worked solution's final answer line (this module owns the answer format).
"""

from __future__ import annotations

import functools
import random
from types import MappingProxyType
from typing import Callable

from llm.tasks.base import Problem, TaskError
from llm.tasks.gsm8k import MATH, STOP, format_math_prompt
from llm.tasks.task import PathLike, Task

_PEOPLE = (
    ("Ava", "she", "her"), ("Liam", "he", "his"), ("Maya", "she", "her"), ("Noah", "he", "his"),
    ("Priya", "she", "her"), ("Omar", "he", "his"), ("Sofia", "she", "her"), ("Kenji", "he", "his"),
    ("Zara", "she", "her"), ("Mateo", "he", "his"), ("Lena", "she", "her"), ("Tariq", "he", "his"),
)
_ITEMS = (("notebook", "notebooks"), ("apple", "apples"), ("pencil", "pencils"), ("sticker", "stickers"),
          ("candle", "candles"), ("muffin", "muffins"), ("marble", "marbles"), ("postcard", "postcards"))

Template = Callable[[random.Random], tuple[str, list[str], int]]

# The synthetic "splits" are disjoint seeds; default sizes match GSM8K (7473 train, 1319 test).
SEEDS = {"test": 0, "train": 1, "validation": 2}
SIZES = {"test": 1319, "train": 7473, "validation": 500}


#: Split precedence for de-duplication: a question generated for an earlier split is dropped from later ones.
PRECEDENCE = ("test", "validation", "train")


def _person(rng: random.Random) -> tuple[str, str, str]:
    return rng.choice(_PEOPLE)


def _shopping(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, _ = _person(rng)
    item, items = rng.choice(_ITEMS)
    count, price = rng.randint(2, 9), rng.randint(2, 15)
    cost = count * price
    bill = next(b for b in (10, 20, 50, 100, 200) if b > cost)
    question = (f"{name} buys {count} {items} that cost ${price} per {item}. {he.capitalize()} pays with a "
                f"${bill} bill. How much change, in dollars, does {he} get back?")
    steps = [f"The {items} cost {count} * {price} = {cost} dollars.",
             f"The change is {bill} - {cost} = {bill - cost} dollars."]
    return question, steps, bill - cost


def _production(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, _ = _person(rng)
    laid = rng.randint(8, 30)
    used = rng.randint(1, laid - 2)
    price, days = rng.randint(2, 6), rng.randint(2, 7)
    left = laid - used
    question = (f"{name}'s hens lay {laid} eggs every day. {he.capitalize()} uses {used} eggs a day for cooking and "
                f"sells the rest for ${price} each. How many dollars does {he} earn from eggs in {days} days?")
    steps = [f"{name} sells {laid} - {used} = {left} eggs a day.",
             f"That earns {left} * {price} = {left * price} dollars a day.",
             f"In {days} days {he} earns {left * price} * {days} = {left * price * days} dollars."]
    return question, steps, left * price * days


def _sharing(rng: random.Random) -> tuple[str, list[str], int]:
    name, _, _ = _person(rng)
    _, items = rng.choice(_ITEMS)
    friends, each = rng.randint(2, 8), rng.randint(3, 12)
    total = friends * each
    extra = rng.randint(1, total - 1)
    start = total - extra
    question = (f"{name} has {start} {items}. A neighbour gives {extra} more. {name} then shares all of them "
                f"equally among {friends} friends. How many {items} does each friend get?")
    steps = [f"{name} has {start} + {extra} = {total} {items}.",
             f"Each friend gets {total} / {friends} = {each} {items}."]
    return question, steps, each


def _distance(rng: random.Random) -> tuple[str, list[str], int]:
    v1, t1 = rng.randint(30, 90), rng.randint(1, 5)
    v2, t2 = rng.randint(20, 80), rng.randint(1, 4)
    d1, d2 = v1 * t1, v2 * t2
    question = (f"A train travels at {v1} miles per hour for {t1} hours, then at {v2} miles per hour for {t2} more "
                f"hours. How many miles does it travel in total?")
    steps = [f"First it covers {v1} * {t1} = {d1} miles.", f"Then it covers {v2} * {t2} = {d2} miles.",
             f"In total it travels {d1} + {d2} = {d1 + d2} miles."]
    return question, steps, d1 + d2


def _savings(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, _ = _person(rng)
    weekly, weeks = rng.randint(5, 40), rng.randint(3, 12)
    saved = weekly * weeks
    spent = rng.randint(1, saved - 1)
    thing = rng.choice(("bicycle helmet", "board game", "pair of shoes", "concert ticket"))
    question = (f"{name} saves ${weekly} every week. After {weeks} weeks, {he} spends ${spent} on a {thing}. "
                f"How many dollars does {he} have left?")
    steps = [f"{name} saves {weekly} * {weeks} = {saved} dollars.",
             f"After buying the {thing}, {he} has {saved} - {spent} = {saved - spent} dollars left."]
    return question, steps, saved - spent


def _fraction(rng: random.Random) -> tuple[str, list[str], int]:
    num, den, word = rng.choice(((1, 2, "half"), (1, 3, "a third"), (1, 4, "a quarter"), (2, 5, "two fifths"),
                                 (3, 4, "three quarters"), (2, 3, "two thirds")))
    total = den * rng.randint(4, 20)
    part = total * num // den
    club = rng.choice(("chess club", "school choir", "robotics team", "swim team"))
    question = (f"The {club} has {total} members. {word.capitalize()} of them are in the sixth grade and the rest "
                f"are in the seventh grade. How many members are in the seventh grade?")
    steps = [f"Sixth graders: {total} * {num} / {den} = {part}.",
             f"Seventh graders: {total} - {part} = {total - part}."]
    return question, steps, total - part


def _harvest(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, _ = _person(rng)
    rows, per_row, yield_ = rng.randint(2, 8), rng.randint(3, 10), rng.randint(2, 9)
    plants = rows * per_row
    crop = plants * yield_
    given = rng.randint(1, crop - 1)
    question = (f"{name} plants {rows} rows of tomato plants with {per_row} plants in each row. Each plant gives "
                f"{yield_} tomatoes. {he.capitalize()} gives {given} tomatoes to neighbours. How many tomatoes "
                f"does {he} keep?")
    steps = [f"There are {rows} * {per_row} = {plants} plants.", f"They give {plants} * {yield_} = {crop} tomatoes.",
             f"{name} keeps {crop} - {given} = {crop - given} tomatoes."]
    return question, steps, crop - given


def _ages(rng: random.Random) -> tuple[str, list[str], int]:
    (name, _, his), (other, _, _) = rng.sample(_PEOPLE, 2)
    age, times, years = rng.randint(3, 15), rng.randint(2, 4), rng.randint(2, 10)
    older = age * times
    question = (f"{name} is {age} years old. {his.capitalize()} cousin {other} is {times} times as old. What will "
                f"the sum of their ages be in {years} years?")
    steps = [f"{other} is {age} * {times} = {older} years old.",
             f"Now their ages add up to {age} + {older} = {age + older}.",
             f"In {years} years the sum grows by 2 * {years} = {2 * years}, to {age + older} + {2 * years} = "
             f"{age + older + 2 * years}."]
    return question, steps, age + older + 2 * years


def _reading(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, _ = _person(rng)
    per_day, days, last = rng.randint(10, 40), rng.randint(2, 6), rng.randint(5, 30)
    read = per_day * days
    pages = read + last + rng.randint(0, 150)
    question = (f"A book has {pages} pages. {name} reads {per_day} pages a day for {days} days and then {last} pages "
                f"on the next day. How many pages are left to read?")
    steps = [f"In {days} days {he} reads {per_day} * {days} = {read} pages.",
             f"With the next day {he} has read {read} + {last} = {read + last} pages.",
             f"Pages left: {pages} - {read + last} = {pages - read - last}."]
    return question, steps, pages - read - last


def _discount(rng: random.Random) -> tuple[str, list[str], int]:
    name, he, _ = _person(rng)
    price, pct, qty = 20 * rng.randint(1, 10), rng.choice((10, 15, 20, 25, 30, 40, 50)), rng.randint(2, 5)
    off = price * pct // 100
    item = rng.choice(("jacket", "lamp", "backpack", "watch"))
    question = (f"A {item} normally costs ${price}. This week it is {pct}% off. {name} buys {qty} of them. How many "
                f"dollars does {he} pay?")
    steps = [f"The discount is {price} * {pct} / 100 = {off} dollars.",
             f"Each {item} costs {price} - {off} = {price - off} dollars.",
             f"{qty} of them cost {qty} * {price - off} = {qty * (price - off)} dollars."]
    return question, steps, qty * (price - off)


TEMPLATES: dict[str, Template] = {
    "shopping": _shopping, "production": _production, "sharing": _sharing, "distance": _distance,
    "savings": _savings, "fraction": _fraction, "harvest": _harvest, "ages": _ages, "reading": _reading,
    "discount": _discount,
}


def answer_line(answer: int | str) -> str:
    """The last line of a worked solution, in GSM8K's convention: ``"#### <answer>"``."""
    return f"#### {answer}"


def with_final_answer(solution: str, answer: int | str) -> str:
    """``solution`` with its last line replaced by :func:`answer_line` of ``answer`` (the steps are kept).

    Example:
        >>> with_final_answer("2 * 3 = 6.\\n#### 6", 7)
        '2 * 3 = 6.\\n#### 7'
    """
    head, _, _ = solution.rpartition("\n")
    return (head + "\n" if head else "") + answer_line(answer)


def synthetic_problem(seed: int, index: int, split: str = "test") -> Problem:
    """Problem ``index`` of seed ``seed``: template and numbers drawn from ``random.Random(f"{seed}:{index}")``.

    Its ``group`` is the template's name (``"shopping"``, ``"ages"``, ...).
    """
    rng = random.Random(f"{seed}:{index}")
    name = rng.choice(sorted(TEMPLATES))
    question, steps, answer = TEMPLATES[name](rng)
    return Problem(
        id=f"synthetic/{seed}/{index}",
        question=question,
        answer=str(answer),
        solution="\n".join(steps) + "\n" + answer_line(answer),
        split=split,
        source="synthetic",
        metadata={"template": name, "seed": seed, "index": index},
        group=name,
    )


def synthetic_arithmetic(n: int, seed: int = 0, split: str = "test") -> list[Problem]:
    """``n`` seeded multi-step arithmetic word problems with integer answers (deterministic per ``seed``).

    Args:
        n: number of problems (non-negative).
        seed: the seed; use different seeds for train-like and test-like sets.
        split: the label stored in each problem's ``split``.

    Raises:
        TaskError: a negative ``n``.

    Examples:
        >>> p = synthetic_arithmetic(1, seed=0)[0]
        >>> p.solution.endswith("#### " + p.answer)
        True
    """
    if n < 0:
        raise TaskError(f"n must be non-negative, got {n}")
    return [synthetic_problem(seed, i, split) for i in range(n)]


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, Problem]:
    """Question text -> problem over every generated split (:data:`SEEDS`, :data:`SIZES`); first split wins."""
    index: dict[str, Problem] = {}
    for split, seed in SEEDS.items():
        for problem in synthetic_arithmetic(SIZES[split], seed, split):
            index.setdefault(problem.question, problem)
    return index


def find(question: str) -> Problem | None:
    """The generated problem (train, test or validation split) whose question is ``question``.

    Leading and trailing whitespace is ignored. The index is built once per process (about 9300 problems) and
    cached. Two splits can hold the same question (same template and numbers, hence the same answer and group);
    the first split in ``SEEDS`` order is returned.

    Returns:
        The :class:`Problem`, or ``None`` when no generated problem has this question.

    Example:
        >>> p = synthetic_arithmetic(1, seed=1, split="train")[0]
        >>> find(p.question).group == p.group
        True
    """
    return _index().get(str(question).strip())


@functools.lru_cache(maxsize=None)
def _synthetic_split(split: str) -> tuple[Problem, ...]:
    """A synthetic split with the questions of the splits before it in :data:`PRECEDENCE` removed.

    Different seeds can draw the same template with the same numbers (about 9% of the test questions recur in the
    train seed), so disjoint seeds alone do not make disjoint splits; this does, and training never sees a test
    question."""
    earlier = PRECEDENCE[: PRECEDENCE.index(split)]
    seen = {p.question for e in earlier for p in _synthetic_split(e)}
    problems = synthetic_arithmetic(SIZES[split], SEEDS[split], split)
    return tuple(p for p in problems if p.question not in seen)


def _load(split: str, path: PathLike, limit: int | None) -> list[Problem]:
    if path is not None:
        raise TaskError(f"the synthetic task is generated, it reads no files (got path={path!r})")
    problems = _synthetic_split(split)
    return list(problems if limit is None else problems[:limit])


#: The synthetic task: 512 tokens, 3 shots (two to four short steps per problem: three examples show the format).
#: An experiment on it is judged against the simulated Receiver, whose optimum is known
#: (:mod:`llm.backends.simulated`), with the model-free Advisor (template hints), so it needs no language model.
TASK = Task("synthetic", tuple(SEEDS), "test", "train", STOP, _load, format_math_prompt, MATH, max_new_tokens=512,
            default_shots=3, experiment_defaults=MappingProxyType(
                {"receivers": ("simulated",), "advisor": "template", "train_limit": 200, "samples": 8, "limit": 300}))

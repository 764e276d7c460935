"""Built-in persuasion games: a registry of small, documented examples.

* ``prosecutor``: Kamenica & Gentzkow's prosecutor and judge (2 states, 2 actions).
* ``recommendation``: a school writing a recommendation letter to an employer (3 states, 3 actions).
* ``two_judges``: the prosecutor facing a lenient or a strict judge (2 states, 2 actions, 2 receiver types).

Each example is a function returning a fresh :class:`~persuasion.game.Game`; :data:`EXAMPLES` maps names to them
and :func:`example` looks one up.

Reference: Kamenica, E. & Gentzkow, M. (2011). Bayesian Persuasion. AER 101(6), 2590-2615.
"""

from __future__ import annotations

from collections.abc import Callable

from persuasion.errors import GameError
from persuasion.game import Game


def prosecutor() -> Game:
    """The prosecutor and the judge (Kamenica & Gentzkow 2011, Section I).

    States ``(innocent, guilty)`` with prior ``mu0 = (0.7, 0.3)``; actions ``(acquit, convict)``. The prosecutor
    (sender) gets ``u_S = 1`` for a conviction in either state; the judge (receiver) gets 1 for a correct verdict,
    so she convicts iff ``P(guilty) >= 0.5``. Full disclosure convicts w.p. 0.3, no disclosure never; the optimal
    scheme always recommends conviction when guilty and w.p. 3/7 when innocent: the posterior after
    "convict" is exactly 0.5 and the judge convicts w.p. 0.6.

    Example:
        >>> from persuasion import solve
        >>> round(solve(prosecutor()).value, 6)
        0.6
    """
    return Game(
        prior=[0.7, 0.3],
        sender_utility=[[0.0, 1.0], [0.0, 1.0]],
        receiver_utility=[[1.0, 0.0], [0.0, 1.0]],
        state_names=("innocent", "guilty"),
        action_names=("acquit", "convict"),
        name="prosecutor",
    )


def recommendation() -> Game:
    """A school (sender) writes a recommendation letter; an employer (receiver) reads it.

    States: the student is ``weak``, ``average`` or ``strong`` with prior ``mu0 = (0.5, 0.3, 0.2)``. Actions:
    ``reject``, ``interview``, ``hire``. The school wants its students placed whatever their grade:
    ``u_S(s, .) = (0, 1, 2)``. The employer's payoffs (rows = states, columns = actions)::

                 reject  interview  hire
        weak       0       -1.5      -4
        average    0        1        -1
        strong     0        1         3

    Uninformed, the employer rejects (interview is worth -0.25, hire -1.7), so no disclosure gives the school 0;
    full disclosure gives 0.7 (interview the average, hire the strong). The optimal letter is worth 1.2: it pools
    some weak students with the average ones (posterior 0.4/0.6 on weak/average, the employer is just willing
    to interview) and others with the strong ones (posterior 3/7 weak, 4/7 strong, just willing to hire), and
    leaves the employer no better off than without any letter.

    Example:
        >>> from persuasion import solve
        >>> round(solve(recommendation()).value, 6)
        1.2
    """
    return Game(
        prior=[0.5, 0.3, 0.2],
        sender_utility=[[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0]],
        receiver_utility=[[0.0, -1.5, -4.0], [0.0, 1.0, -1.0], [0.0, 1.0, 3.0]],
        state_names=("weak", "average", "strong"),
        action_names=("reject", "interview", "hire"),
        name="recommendation",
    )


def two_judges() -> Game:
    """The prosecutor facing a lenient or a strict judge, each with probability 1/2.

    Type prior ``lam = (0.5, 0.5)``. States ``(innocent, guilty)``, prior ``mu0 = (0.7, 0.3)``; actions
    ``(acquit, convict)``; the prosecutor gets 1 for a conviction. Judge payoffs ``u_R[k, s, a]`` reward a
    correct verdict with unequal weights:

    * ``lenient`` (type 0): 3 for acquitting the innocent, 2 for convicting the guilty; convicts iff
      ``P(guilty) >= 0.6``;
    * ``strict`` (type 1): 2 for acquitting the innocent, 3 for convicting the guilty; convicts iff
      ``P(guilty) >= 0.4``.

    Facing a known judge the prosecutor would get 0.5 (lenient) or 0.75 (strict), 0.625 on average. With one
    public signal she gets 0.5: split the prior into posteriors 0 and 0.6, where both judges convict. Private
    signals with reported types do no better here: the strict judge would claim to be lenient to get the more
    informative scheme meant for the lenient one.

    Example:
        >>> from persuasion import solve
        >>> g = two_judges()
        >>> [round(solve(g.for_type(k)).value, 6) for k in range(g.K)]
        [0.5, 0.75]
    """
    return Game(
        prior=[0.7, 0.3],
        sender_utility=[[0.0, 1.0], [0.0, 1.0]],
        receiver_utility=[[[3.0, 0.0], [0.0, 2.0]], [[2.0, 0.0], [0.0, 3.0]]],
        type_prior=[0.5, 0.5],
        state_names=("innocent", "guilty"),
        action_names=("acquit", "convict"),
        type_names=("lenient", "strict"),
        name="two_judges",
    )


#: Built-in games by name.
EXAMPLES: dict[str, Callable[[], Game]] = {
    "prosecutor": prosecutor,
    "recommendation": recommendation,
    "two_judges": two_judges,
}


def example(name: str) -> Game:
    """The built-in game called ``name`` (``-`` and ``_`` are interchangeable).

    Raises:
        GameError: for an unknown name; the message lists the known ones.

    Example:
        >>> example("prosecutor").state_names
        ('innocent', 'guilty')
    """
    key = str(name).strip().replace("-", "_")
    if key not in EXAMPLES:
        raise GameError(f"unknown example {name!r}; known examples: {', '.join(sorted(EXAMPLES))}")
    return EXAMPLES[key]()

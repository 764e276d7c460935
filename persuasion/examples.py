"""Built-in persuasion games: a registry of small, documented examples.

* ``prosecutor``: Kamenica & Gentzkow's prosecutor and judge (2 states, 2 actions).
* ``recommendation``: a school writing a recommendation letter to an employer (3 states, 3 actions).
* ``two_judges``: the prosecutor facing a lenient or a strict judge (2 states, 2 actions, 2 receiver types);
  public and private signalling are worth the same here.
* ``two_reviewers``: an author facing a theorist or an experimentalist reviewer (3 states, 2 actions, 2 receiver
  types); private signalling is worth strictly more than public signalling (2/3 against 7/15).
* ``threshold``: a uniform state on [0, 1] in 20 cells, a receiver who acts iff her posterior mean is >= 0.7
  (the finite version of the continuous-state example of :mod:`persuasion.gradient.continuous`).

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


def two_reviewers() -> Game:
    """An author facing a theorist or an experimentalist reviewer: private signalling beats public signalling.

    States: the paper is ``sound``, has a ``proof_bug`` or has an ``experiment_bug``, prior ``mu0 = (1/3, 1/3,
    1/3)``; actions ``(reject, accept)``; the author (sender) gets 1 for acceptance. Reviewer types, each with
    probability 1/2, get 0 for rejecting and, for accepting::

                        sound  proof_bug  experiment_bug
        theorist          1       -4           -1
        experimentalist   1       -1           -4

    so the theorist accepts iff ``P(sound) >= 4 P(proof_bug) + P(experiment_bug)`` (mirrored for the
    experimentalist). Uninformed, both reject.

    * **Private** (each reviewer reports a type and gets her own scheme, :func:`persuasion.solve_private`): tell
      the theorist only whether there is a proof bug, the experimentalist only whether there is an experiment bug.
      Each accepts w.p. 2/3 (the posterior after "accept" is 1/2 sound, 1/2 the other bug: she is just willing),
      the value a known type would give: **2/3**. Neither wants the other's scheme (it hides the bug she fears).
    * **Public** (one signal both see, :func:`persuasion.solve_public`): a signal on which both accept needs
      ``P(proof_bug), P(experiment_bug) <= P(sound) / 5``, so at most ``1/3 * 7/5`` of the mass, and a bug of
      either kind alone makes both reviewers reject: **7/15**.

    Example:
        >>> from persuasion import solve_private, solve_public
        >>> g = two_reviewers()
        >>> round(solve_private(g).value, 6), round(solve_public(g).value, 6)
        (0.666667, 0.466667)
    """
    return Game(
        prior=[1 / 3, 1 / 3, 1 / 3],
        sender_utility=[[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]],
        receiver_utility=[[[0.0, 1.0], [0.0, -4.0], [0.0, -1.0]], [[0.0, 1.0], [0.0, -1.0], [0.0, -4.0]]],
        type_prior=[0.5, 0.5],
        state_names=("sound", "proof_bug", "experiment_bug"),
        action_names=("reject", "accept"),
        type_names=("theorist", "experimentalist"),
        name="two_reviewers",
    )


def threshold() -> Game:
    """A uniform state on [0, 1] (20 cells) and a receiver who acts iff her posterior mean is at least 0.7.

    The finite version of :func:`persuasion.gradient.continuous.threshold_game` (whose scheme a flax network
    learns, docs/jax.md): states are the cell midpoints ``s_i = (i + 1/2) / 20`` with the uniform prior; actions
    ``(wait, act)``; the sender gets 1 when the receiver acts; the receiver gets ``s - 0.7`` for acting, 0 for
    waiting. Uninformed she waits (``E[s] = 0.5``). The optimum pools the top states into one "act" signal whose
    posterior mean is exactly 0.7: recommend acting iff ``s >= 2 * 0.7 - 1 = 0.4``, worth ``P(act) = 0.6``, the
    continuous optimum ``2 (1 - theta)``.

    Example:
        >>> from persuasion import solve
        >>> round(solve(threshold()).value, 6)
        0.6
    """
    s = [(i + 0.5) / 20 for i in range(20)]
    return Game(
        prior=[1 / 20] * 20,
        sender_utility=[[0.0, 1.0]] * 20,
        receiver_utility=[[0.0, x - 0.7] for x in s],
        state_names=tuple(f"s={x:.3f}" for x in s),
        action_names=("wait", "act"),
        name="threshold",
    )


#: Built-in games by name.
EXAMPLES: dict[str, Callable[[], Game]] = {
    "prosecutor": prosecutor,
    "recommendation": recommendation,
    "two_judges": two_judges,
    "two_reviewers": two_reviewers,
    "threshold": threshold,
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

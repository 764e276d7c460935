"""Toy games for the online experiments: the prosecutor and the judge, its two-judge variant, random games.

Random games (``random_game``) draw ``mu0 = (1/2) uniform + (1/2) Dirichlet(1)`` (every state keeps mass at least
``1/(2m)``), a receiver utility ``u_R ~ U[0,1]^{m x n}`` and a state-independent sender utility ``u_S(s, a) = v_a``
with ``v ~ U[0,1]^n``: the sender wants some actions whatever the state, so persuasion is not trivial.
"""

from __future__ import annotations

import functools

import numpy as np

from persuasion.errors import GameError
from persuasion.examples import example
from persuasion.game import Game
from persuasion.online.schemes import optimal_scheme
from persuasion.responses import full_disclosure_scheme, induced_value, no_disclosure_scheme


def prosecutor_game() -> Game:
    """Kamenica & Gentzkow's prosecutor: prior guilty 0.3, sender gets 1 for convict, judge 1 for a correct verdict.

    The game of ``persuasion.examples.example("prosecutor")``.

    Example:
        >>> g = prosecutor_game(); (g.m, g.n, g.K)
        (2, 2, 1)
    """
    return example("prosecutor")


def typed_prosecutor_game(
    type_prior: tuple[float, ...] = (0.6, 0.4), thresholds: tuple[float, ...] = (0.5, 0.7)
) -> Game:
    """The prosecutor facing a judge of unknown type: type ``k`` convicts iff ``P(guilty) >= thresholds[k]``.

    Judge ``k`` gets ``theta_k`` for acquitting the innocent and ``1 - theta_k`` for convicting the guilty.

    Example:
        >>> typed_prosecutor_game().K
        2
    """
    if len(type_prior) != len(thresholds):
        raise GameError(f"type_prior has {len(type_prior)} entries but thresholds has {len(thresholds)}")
    if any(not 0 < th < 1 for th in thresholds):
        raise GameError(f"thresholds must lie in (0, 1), got {list(thresholds)}")
    u_r = [[[th, 0.0], [0.0, 1.0 - th]] for th in thresholds]
    return Game(
        [0.7, 0.3],
        [[0.0, 1.0], [0.0, 1.0]],
        u_r,
        type_prior=list(type_prior),
        state_names=("innocent", "guilty"),
        action_names=("acquit", "convict"),
        type_names=tuple(f"judge{th:g}" for th in thresholds),
        name="prosecutor_typed",
    )


def persuasion_gap(game: Game) -> float:
    """``OPT - max(V(full disclosure), V(no disclosure))``: what signalling adds over the two trivial schemes.

    Each value is :func:`persuasion.responses.induced_value` (every type best-responds to each signal).
    """
    value = functools.partial(induced_value, game)
    return value(optimal_scheme(game)) - max(value(full_disclosure_scheme(game)), value(no_disclosure_scheme(game)))


def random_game(seed: int, m: int, n: int = 3, min_gap: float = 0.05) -> Game:
    """A random ``m``-state, ``n``-action single-receiver game (see the module docstring).

    Draws are repeated (deterministically) until :func:`persuasion_gap` is at least ``min_gap``.

    Example:
        >>> g = random_game(0, 4); (g.m, g.n, bool(g.prior.min() >= 1 / 8))
        (4, 3, True)
    """
    if m < 1 or n < 2:
        raise GameError(f"random_game needs m >= 1 and n >= 2, got m={m}, n={n}")
    for attempt in range(200):
        rng = np.random.default_rng([seed, m, n, attempt])
        prior = 0.5 / m + 0.5 * rng.dirichlet(np.ones(m))
        values = rng.random(n)
        game = Game(prior / prior.sum(), np.tile(values, (m, 1)), rng.random((m, n)), name=f"random_m{m}_s{seed}")
        if persuasion_gap(game) >= min_gap:
            return game
    raise GameError(f"no random game with persuasion gap >= {min_gap} in 200 draws (m={m}, n={n})")


def random_typed_game(seed: int, m: int, n: int = 2, K: int = 2, min_gap: float = 0.05) -> Game:
    """A random game with ``K`` receiver types and ``lam ~ Dirichlet(2)``; same recipe as :func:`random_game`."""
    if K < 2:
        raise GameError(f"random_typed_game needs K >= 2 types, got {K}")
    if m < 1 or n < 2:
        raise GameError(f"random_typed_game needs m >= 1 and n >= 2, got m={m}, n={n}")
    for attempt in range(200):
        rng = np.random.default_rng([seed, m, n, K, attempt])
        prior = 0.5 / m + 0.5 * rng.dirichlet(np.ones(m))
        game = Game(
            prior / prior.sum(),
            np.tile(rng.random(n), (m, 1)),
            rng.random((K, m, n)),
            type_prior=rng.dirichlet(2 * np.ones(K)),
            name=f"random_typed_m{m}_s{seed}",
        )
        if persuasion_gap(game) >= min_gap:
            return game
    raise GameError(f"no random typed game with persuasion gap >= {min_gap} in 200 draws (m={m}, n={n}, K={K})")

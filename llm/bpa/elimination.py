"""The adaptive feedback design: successive elimination of the (problem, item) cells that cannot beat silence.

The feedback phase estimates ``r(x, a)``, the Receiver's success rate on problem ``x`` with item ``a``'s
information, to find the items that beat silence, ``g(x, a) = r(x, a) - r(x, none) > 0``. Most hints hurt a small
Receiver (``docs/results/``), so a full grid of ``k`` samples per cell spends most of its answers on cells that
were clearly lost after a few. The adaptive design samples in rounds:

.. math::

    n_1 = k_0, \\qquad n_{r+1} = \\min(2 n_r, k)

(doubling, so ``O(log(k / k_0))`` looks). Round ``r + 1`` brings every *live* cell to ``n_{r+1}`` samples. After
a round, item ``a`` of problem ``x`` (``s_a`` successes in ``n_a`` samples, ``s_0`` in ``n_0`` for ``none``) stays
live iff

.. math::

    P(p_a > p_0 \\mid s, n) \\ge \\delta, \\qquad
    p_a \\sim \\mathrm{Beta}(1 + s_a, 1 + n_a - s_a),\\; p_0 \\sim \\mathrm{Beta}(1 + s_0, 1 + n_0 - s_0)

(independent uniform priors), that is iff the upper ``1 - delta`` credible bound of ``p_a - p_0`` is above 0;
the ``none`` cell is live while any item of its problem is, and a cell stops at ``k``. An item once stopped
stays stopped: live items keep as many answers as ``none``, so an item with fewer (``0 < n_a < n_0``) was stopped
at an earlier look. With ``k_0 = k`` the design
is the full grid. :func:`prob_beats` computes the probability exactly (Miller 2015's sum for Beta variables
with integer parameters).

Each look tests at level ``delta``; with ``R`` looks the chance of eliminating an item that truly ties silence is at
most ``R delta`` (union bound), and smaller for an item that truly helps. Treating ``p_a`` and ``p_0`` as
independent is conservative where the Receiver's answers share random numbers across items (the simulated
Receiver), which makes the observed difference less noisy than assumed.

References:
    Even-Dar, Mannor, Mansour 2006, "Action Elimination and Stopping Conditions for the Multi-Armed Bandit and
    Reinforcement Learning Problems", https://jmlr.org/papers/v7/evendar06a.html
    Miller 2015, "Formulas for Bayesian A/B Testing", https://www.evanmiller.org/bayesian-ab-testing.html
"""

from __future__ import annotations

import math

import numpy as np


def schedule(k0: int, k: int) -> tuple[int, ...]:
    """The cumulative samples a live cell has after each round: ``k0, 2 k0, 4 k0, ...``, ending at ``k``.

    >>> schedule(2, 8), schedule(3, 8), schedule(4, 4), schedule(5, 4)
    ((2, 4, 8), (3, 6, 8), (4,), (4,))
    """
    if k0 < 1 or k < 1:
        raise ValueError(f"first samples and samples must be >= 1, got {k0} and {k}")
    out = [min(k0, k)]
    while out[-1] < k:
        out.append(min(2 * out[-1], k))
    return tuple(out)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def prob_beats(s_a: int, n_a: int, s_0: int, n_0: int) -> float:
    """``P(p_a > p_0)`` for ``p_a ~ Beta(1 + s_a, 1 + n_a - s_a)`` and ``p_0 ~ Beta(1 + s_0, 1 + n_0 - s_0)``.

    .. math::

        P(p_a > p_0) = \\sum_{i=0}^{\\alpha_a - 1}
            \\frac{B(\\alpha_0 + i, \\beta_0 + \\beta_a)}{(\\beta_a + i)\\, B(1 + i, \\beta_a)\\, B(\\alpha_0, \\beta_0)}

    with ``alpha = 1 + s`` and ``beta = 1 + n - s`` (Miller 2015). No data gives 1/2.

    >>> round(prob_beats(0, 0, 0, 0), 6), round(prob_beats(4, 4, 0, 4), 4)
    (0.5, 0.996)
    """
    for s, n in ((s_a, n_a), (s_0, n_0)):
        if not 0 <= s <= n:
            raise ValueError(f"successes must be in [0, samples], got {s} of {n}")
    a_a, b_a, a_0, b_0 = 1 + s_a, 1 + n_a - s_a, 1 + s_0, 1 + n_0 - s_0
    log_norm = _log_beta(a_0, b_0)
    total = sum(math.exp(_log_beta(a_0 + i, b_0 + b_a) - math.log(b_a + i) - _log_beta(1 + i, b_a) - log_norm)
                for i in range(a_a))
    return min(1.0, max(0.0, total))


def live(successes: np.ndarray, samples: np.ndarray, none_index: int, k: int, delta: float) -> np.ndarray:
    """Which cells of one problem still sample, boolean ``(c,)`` (see the module docstring).

    An item cell with fewer answers than ``none`` (but some) was stopped at an earlier look and stays stopped.

    Args:
        successes, samples: ``s`` and ``n`` of the problem's cells, shape ``(c,)`` (items and written signals).
        none_index: the ``none`` cell.
        k: the most samples a cell gets.
        delta: the elimination level (an item stops once ``P(p_a > p_0) < delta``).
    """
    s, n = np.asarray(successes, dtype=int), np.asarray(samples, dtype=int)
    s0, n0 = int(s[none_index]), int(n[none_index])
    out = np.array([n[i] < k and (n[i] == 0 or n0 == 0 or (n[i] >= n0 and prob_beats(int(s[i]), int(n[i]), s0, n0)
                                                             >= delta)) for i in range(len(n))], dtype=bool)
    out[none_index] = bool(n0 < k and (n0 == 0 or np.delete(out, none_index).any()))
    return out


def next_samples(successes: np.ndarray, samples: np.ndarray, none_index: int, *, k0: int, k: int,
                 delta: float) -> np.ndarray:
    """How many more samples each cell of one problem gets in the next round, int ``(c,)`` (0: it has stopped).

    A live cell goes to the next point of :func:`schedule` above its count; ``none`` goes as far as the furthest
    live item, so every live comparison has as many samples of silence as of the item. All zero: the problem is
    finished.
    """
    n = np.asarray(samples, dtype=int)
    alive = live(successes, n, none_index, k, delta)
    points = schedule(k0, k)
    target = np.array([next(p for p in points if p > c) if a else c for c, a in zip(n, alive)], dtype=int)
    if alive[none_index]:
        target[none_index] = max(int(target[none_index]), int(np.delete(target, none_index).max(initial=0)))
    return np.maximum(target - n, 0)

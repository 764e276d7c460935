"""Property-based testing of signalling schemes: hypothesis strategies for games and checkers for ANY scheme.

Needs ``hypothesis`` (the ``dev`` extra: ``pip install -e ".[dev]"``).

Strategies:

* :func:`games`: finite games with the degenerate cases drawn often: small sizes (one state, one action), ties
  (small-integer and half-integer utilities), zero-prior states, identical sender and receiver utilities, an
  indifferent receiver, duplicated and strictly dominated actions, and ``K`` receiver types (identical or not,
  zero-weight types).

Checkers (each raises ``AssertionError`` with a one-line reason, so they read as test assertions):

* :func:`check_scheme`: rows on the simplex and obedience (every recommendation is a best response to its
  posterior, ties allowed);
* :func:`check_bayes_plausible`: a distribution over posteriors averages to the prior;
* :func:`check_optimal`: optimality through the LP's dual certificate. The scheme's value is recomputed from the
  scheme (the author's reported value is never used) and compared with ``mu0 . z(y)``, an upper bound on the
  optimum for any obedience prices ``y >= 0`` (:mod:`persuasion.gradient.certificate`); by default ``y`` is the
  exact LP's obedience dual, for which the bound equals the optimum.

Example (a property test of your own algorithm ``my_scheme(game) -> (m, n) array``)::

    from hypothesis import given
    from persuasion.testing import check_optimal, games

    @given(games(m=(1, 4), n=(1, 3)))
    def test_my_scheme_is_optimal(game):
        check_optimal(game, my_scheme(game))
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("persuasion.testing needs hypothesis: pip install -e '.[dev]' or pip install hypothesis") from exc

import persuasion
from persuasion.gradient.certificate import dual_bound, max_violation, obedience_slack, scheme_value

#: Utility entries: small integers and halves (many exact ties), 32-bit floats, floats rounded to 3 decimals.
INTEGERS = st.integers(-2, 3).map(float)
HALVES = st.integers(-4, 4).map(lambda v: v / 2)
FLOATS = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32).map(float)
ROUNDED = st.floats(-3, 3, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 3))
ELEMENTS = (INTEGERS, INTEGERS, HALVES, FLOATS, ROUNDED)
#: Receiver utility shapes drawn by :func:`games` (``"random"`` twice as often).
RECEIVER_MODES = ("random", "random", "aligned", "constant", "identical_types")


def _range(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    lo, hi = (value, value) if isinstance(value, int) else value
    if not 1 <= lo <= hi:
        raise persuasion.GameError(f"{name} must be an int >= 1 or a range (lo, hi) with 1 <= lo <= hi, got {value}")
    return lo, hi


def _weights(draw: st.DrawFn, size: int, allow_zero: bool) -> np.ndarray:
    """A distribution with entries from a few weights (exact zeros when ``allow_zero``), never all zero."""
    choices = [0.0, 0.0, 0.5, 1.0, 2.0, 3.7, 4.0] if allow_zero else [0.5, 1.0, 2.0, 3.7, 4.0]
    w = np.array(draw(st.lists(st.sampled_from(choices), min_size=size, max_size=size)), dtype=float)
    if w.sum() == 0:
        w[draw(st.integers(0, size - 1))] = 1.0
    return w / w.sum()


@st.composite
def games(
    draw: st.DrawFn,
    m: int | tuple[int, int] = (1, 5),
    n: int | tuple[int, int] = (1, 5),
    types: int | tuple[int, int] = 1,
    elements: st.SearchStrategy[float] | None = None,
    zero_prior: bool = True,
    duplicates: bool = True,
) -> persuasion.Game:
    """Random :class:`persuasion.Game` instances, degenerate ones included.

    Args:
        m, n, types: the number of states, actions and receiver types: an int or an inclusive range.
        elements: strategy for utility entries; default: one of :data:`ELEMENTS` per game.
        zero_prior: allow prior entries (and type-prior entries) equal to 0.
        duplicates: sometimes replace the receiver's last action by a copy of action 0, or by a strictly
            dominated copy (``u_R[:, 0] - 1``).

    The receiver's utility is drawn (per :data:`RECEIVER_MODES`) at random, equal to the sender's (aligned
    interests), constant (an indifferent receiver), or one random matrix shared by every type. A game with one
    type has a 2-d ``receiver_utility``.
    """
    m_, n_, k_ = (draw(st.integers(*_range(v, name))) for v, name in ((m, "m"), (n, "n"), (types, "types")))
    el = elements if elements is not None else draw(st.sampled_from(ELEMENTS))

    def matrix(*shape: int) -> np.ndarray:
        size = int(np.prod(shape))
        return np.array(draw(st.lists(el, min_size=size, max_size=size)), dtype=float).reshape(shape)

    u_s = matrix(m_, n_)
    mode = draw(st.sampled_from(RECEIVER_MODES))
    if mode == "aligned":
        u_r = np.repeat(u_s[None], k_, axis=0)
    elif mode == "constant":
        u_r = np.full((k_, m_, n_), draw(el))
    elif mode == "identical_types":
        u_r = np.repeat(matrix(1, m_, n_), k_, axis=0)
    else:
        u_r = matrix(k_, m_, n_)
    if duplicates and n_ >= 2 and draw(st.booleans()):
        u_r[:, :, -1] = u_r[:, :, 0] - draw(st.sampled_from([0.0, 1.0]))
    prior = _weights(draw, m_, zero_prior)
    if k_ == 1:
        return persuasion.Game(prior, u_s, u_r[0])
    return persuasion.Game(prior, u_s, u_r, type_prior=_weights(draw, k_, zero_prior))


# ------------------------------------------------------------------------------------------------- checkers
class Certificate(NamedTuple):
    """What :func:`check_optimal` established about a scheme (all recomputed from the scheme itself)."""

    value: float  # the scheme's sender value V(pi) (obedient receiver).
    bound: float  # mu0 . z(y): an upper bound on the optimal value.
    gap: float  # bound - value: how far from optimal the scheme can be, at most.
    violation: float  # the largest obedience violation max(0, -min g[a, a']).


def _scale(game: persuasion.Game) -> float:
    return max(1.0, float(np.abs(game.sender_utility).max()), float(np.abs(game.receiver_utility).max()))


def _single(game: persuasion.Game, what: str) -> None:
    if game.has_types:
        raise persuasion.GameError(f"{what} needs a single receiver type, the game has {game.K}; use game.for_type(k)")


def _as_scheme(game: persuasion.Game, scheme: np.ndarray) -> np.ndarray:
    arr = np.asarray(scheme, dtype=float)
    assert arr.shape == (game.m, game.n), f"scheme has shape {arr.shape}, expected {(game.m, game.n)}"
    assert np.all(np.isfinite(arr)), "scheme has NaN or infinite entries"
    return arr


def check_scheme(game: persuasion.Game, scheme: np.ndarray, tol: float = 1e-7) -> float:
    """Asserts that ``scheme`` (m x n) is a signalling scheme the receiver obeys; returns its largest violation.

    Rows must be distributions (entries ``>= -tol``, sums within ``tol`` of 1) and every obedience slack
    ``g[a, a'] = sum_s mu0(s) pi(a | s) (u_R(s, a) - u_R(s, a'))`` at least ``-tol`` times the utilities' scale.
    """
    _single(game, "check_scheme")
    pi = _as_scheme(game, scheme)
    assert pi.min() >= -tol, f"scheme has a negative entry {pi.min():.3g}"
    worst = float(np.abs(pi.sum(axis=1) - 1.0).max())
    assert worst <= tol, f"scheme rows do not sum to 1 (off by {worst:.3g})"
    violation = float(max_violation(game.prior, game.receiver_utility, np.clip(pi, 0.0, None)))
    if violation > tol * _scale(game):
        g = obedience_slack(game.prior, game.receiver_utility, pi)
        np.fill_diagonal(g, np.inf)
        a, b = np.unravel_index(np.argmin(g), g.shape)
        raise AssertionError(f"not obedient: after recommendation {a} the receiver prefers {b} "
                             f"(slack {g[a, b]:.3g} < -{tol:g} x scale)")
    return violation


def check_bayes_plausible(game: persuasion.Game, signal_prob: np.ndarray, posteriors: np.ndarray,
                          tol: float = 1e-7) -> None:
    """Asserts that ``signal_prob`` (k,) is a distribution and ``sum_i signal_prob[i] posteriors[i] = mu0``.

    This is the condition under which a distribution over posteriors is induced by some scheme (Kamenica &
    Gentzkow 2011, Proposition 1); ``posteriors`` has shape ``(k, m)``, each row a distribution.
    """
    p = np.asarray(signal_prob, dtype=float).reshape(-1)
    mu = np.asarray(posteriors, dtype=float)
    assert mu.shape == (p.shape[0], game.m), f"posteriors have shape {mu.shape}, expected {(p.shape[0], game.m)}"
    assert p.min(initial=0.0) >= -tol and abs(p.sum() - 1.0) <= tol, "signal probabilities are not a distribution"
    assert mu.min(initial=0.0) >= -tol and np.abs(mu.sum(axis=1) - 1.0).max(initial=0.0) <= tol, (
        "a posterior is not a distribution")
    off = float(np.abs(p @ mu - game.prior).max())
    assert off <= tol, f"not Bayes plausible: the posteriors average to the prior only within {off:.3g}"


def certificate(game: persuasion.Game, scheme: np.ndarray, obedience_prices: np.ndarray | None = None) -> Certificate:
    """The :class:`Certificate` of ``scheme``: its value, an LP dual bound on the optimum, the gap, the violation.

    Args:
        game: a single-receiver game.
        scheme: any ``(m, n)`` scheme (it is not trusted: everything is recomputed).
        obedience_prices: ``y >= 0`` of shape ``(n, n)``; default: the exact LP's obedience dual
            (``persuasion.solve(game).obedience_dual``), which makes the bound equal to the optimum.
    """
    _single(game, "certificate")
    pi = np.clip(_as_scheme(game, scheme), 0.0, None)
    y = persuasion.solve(game).obedience_dual if obedience_prices is None else np.asarray(obedience_prices, float)
    assert y.shape == (game.n, game.n), f"obedience_prices has shape {y.shape}, expected {(game.n, game.n)}"
    value = float(scheme_value(game.prior, game.sender_utility, pi))
    bound = float(dual_bound(game.prior, game.sender_utility, game.receiver_utility, y))
    violation = float(max_violation(game.prior, game.receiver_utility, pi))
    return Certificate(value, bound, bound - value, violation)


def check_optimal(game: persuasion.Game, scheme: np.ndarray, tol: float = 1e-6,
                  obedience_prices: np.ndarray | None = None) -> Certificate:
    """Asserts that ``scheme`` is obedient and optimal within ``tol`` (times the utilities' scale).

    Optimality is judged by the certified gap ``mu0 . z(y) - V(pi)`` (:func:`certificate`), computed from the
    scheme and a dual feasible point, so a wrong value reported by the algorithm under test cannot pass.
    """
    check_scheme(game, scheme, tol)
    cert = certificate(game, scheme, obedience_prices)
    assert cert.gap <= tol * _scale(game), (
        f"not optimal: value {cert.value:.9g} is {cert.gap:.3g} below the LP dual bound {cert.bound:.9g}")
    return cert

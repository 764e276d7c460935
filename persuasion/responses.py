"""What the receiver does, and the schemes built from it: best responses, action profiles, reference schemes.

At a belief ``w`` over states (non-negative weights; only ratios matter, so a column of joint probabilities
``x[:, sigma]`` is a belief too) the receiver of type ``k`` values action ``a`` at ``sum_s w[s] u_R^k(s, a)``. Among
the maximisers she takes the one the sender prefers, ``argmax_a sum_s w[s] u_S(s, a)``: the tie-breaking of the
weak obedience constraints of every LP in :mod:`persuasion.lp`. **The one tie tolerance** of the package:

.. math::

    a \\in \\mathrm{BR}_k(w) \\iff w \\cdot u_R^k(\\cdot, a) \\ge \\max_b w \\cdot u_R^k(\\cdot, b)
        - \\texttt{TIE\\_TOL} \\cdot \\max(1, \\max |u_R^k|) \\cdot \\textstyle\\sum_s w_s,

that is ``TIE_TOL = 1e-9`` relative to the type's utility scale, at the normalised posterior ``w / sum(w)``. The
JAX environments (:mod:`persuasion.online.envs`) compute in float32 and use their own, larger, tolerance.

Signals to ``K`` types are action *profiles* ``sigma = (a_1, ..., a_K)``, indexed lexicographically,
``index(sigma) = sum_k a_k n^(K-1-k)`` (for ``K = 1`` signal ``a`` recommends action ``a``). The reference schemes
over these signals are

.. math::

    \\pi_{\\text{full}}(s) = \\big(a^*_k(e_s)\\big)_k, \\qquad \\pi_{\\text{none}}(s) = \\big(a^*_k(\\mu_0)\\big)_k,

full disclosure (obedient at every prior) and no disclosure. Their values are lower bounds on the LP optimum.

Reference: Kamenica, E. & Gentzkow, M. (2011). Bayesian Persuasion. AER 101(6), 2590-2615.
"""

from __future__ import annotations

import numpy as np

from persuasion.errors import GameError
from persuasion.game import Game

#: THE tie tolerance: actions within ``TIE_TOL * max(1, max |u_R|)`` of the receiver's best expected utility (at the
#: normalised posterior) count as tied, and the sender's favourite among them is played.
TIE_TOL = 1e-9
#: Entries of a solved scheme below this are set to 0 (rows renormalised) by :func:`clean_scheme`: LP noise.
SCHEME_ZERO = 1e-9


# ------------------------------------------------------------------------------------------ best responses
def tie_tolerance(u_r: np.ndarray, tol: float = TIE_TOL) -> float:
    """The absolute tie tolerance ``tol * max(1, max |u_R|)`` at a normalised belief, for receiver utilities ``u_r``."""
    return tol * max(1.0, float(np.abs(np.asarray(u_r, dtype=float)).max(initial=0.0)))


def best_responses(
    u_r: np.ndarray, beliefs: np.ndarray, u_s: np.ndarray | None = None, *, tol: float = TIE_TOL
) -> np.ndarray:
    """The receiver's best response to each belief, ties broken in the sender's favour (module docstring).

    Args:
        u_r: receiver utility ``u_R[s, a]``, shape ``(m, n)``, or ``u_R[k, s, a]``, shape ``(K, m, n)``.
        beliefs: non-negative weights over states, shape ``(..., m)`` (rows need not be normalised).
        u_s: sender utility ``u_S[s, a]``, shape ``(m, n)``; without it ties go to the lowest action index.
        tol: relative tie tolerance (default :data:`TIE_TOL`).

    Returns:
        Integer actions, shape ``beliefs.shape[:-1]`` (``beliefs.shape[:-1] + (K,)`` for a 3-d ``u_r``).

    Example:
        >>> u_r = np.array([[1.0, 0.0], [0.0, 1.0]]); u_s = np.array([[0.0, 1.0], [0.0, 1.0]])
        >>> best_responses(u_r, np.array([[0.5, 0.5], [0.7, 0.3]]), u_s).tolist()
        [1, 0]
    """
    u_r = np.asarray(u_r, dtype=float)
    beliefs = np.asarray(beliefs, dtype=float)
    if u_r.ndim not in (2, 3) or beliefs.shape[-1:] != (u_r.shape[-2],):
        raise GameError(f"beliefs of shape {beliefs.shape} do not match u_R of shape {u_r.shape}")
    typed = u_r.ndim == 3
    u_k = u_r if typed else u_r[None]  # (K, m, n)
    send = None
    if u_s is not None:
        u_s = np.asarray(u_s, dtype=float)
        if u_s.shape != u_k.shape[1:]:
            raise GameError(f"u_S has shape {u_s.shape}, expected {u_k.shape[1:]} like u_R")
        send = beliefs @ u_s
    rec = np.einsum("...s,ksa->...ka", beliefs, u_k)  # (..., K, n)
    out = _favoured(rec, send, _slack(u_k, tol) * beliefs.sum(axis=-1)[..., None])
    return out if typed else out[..., 0]


def _slack(u_k: np.ndarray, tol: float) -> np.ndarray:
    """Each type's absolute tie tolerance at a normalised belief, ``tol * max(1, max |u_R^k|)``, shape ``(K,)``."""
    return tol * np.maximum(1.0, np.abs(u_k).max(axis=(1, 2), initial=0.0))


def _favoured(rec: np.ndarray, send: np.ndarray | None, slack: np.ndarray) -> np.ndarray:
    """The sender's favourite (by ``send``, shape ``(..., n)``; lowest index without it) among the actions whose
    receiver value ``rec`` (..., K, n) is within ``slack`` (..., K) of the best; shape ``(..., K)``."""
    tied = rec >= rec.max(axis=-1)[..., None] - slack[..., None]
    if send is None:
        return np.argmax(tied, axis=-1)
    return np.argmax(np.where(tied, send[..., None, :], -np.inf), axis=-1)


def best_response(
    u_r: np.ndarray, belief: np.ndarray, u_s: np.ndarray | None = None, *, tol: float = TIE_TOL
) -> int:
    """The receiver's best response ``a*(mu)`` to one belief ``mu`` (shape ``(m,)``), sender-favourable ties.

    See :func:`best_responses` for the arguments (``u_r`` of shape ``(m, n)`` here).

    Example (the judge convicts at P(guilty) = 0.5 when the prosecutor prefers it):
        >>> best_response(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.5, 0.5]), np.array([[0, 1], [0, 1]]))
        1
    """
    belief = np.asarray(belief, dtype=float)
    if belief.ndim != 1:
        raise GameError(f"belief must be 1-d, got shape {belief.shape}")
    if np.ndim(u_r) != 2:
        raise GameError(f"best_response needs one receiver type: u_R has shape {np.shape(u_r)}")
    return int(best_responses(u_r, belief, u_s, tol=tol))


def type_best_responses(game: Game, beliefs: np.ndarray, *, tol: float = TIE_TOL) -> np.ndarray:
    """Every type's sender-favoured best response to ``beliefs`` (..., m) in ``game``; shape ``(..., K)``."""
    return best_responses(game.typed_receiver_utility(), beliefs, game.sender_utility, tol=tol)


def state_best_responses(game: Game, *, tol: float = TIE_TOL) -> np.ndarray:
    """Every type's sender-favoured best response when the state is known, ``a*_k(e_s)``; shape ``(m, K)``.

    ``type_best_responses(game, np.eye(m))`` without the ``m x m`` identity.
    """
    u_k = game.typed_receiver_utility()
    return _favoured(u_k.transpose(1, 0, 2), game.sender_utility, np.broadcast_to(_slack(u_k, tol), (game.m, game.K)))


# ------------------------------------------------------------------------------------------------- profiles
def all_profiles(n: int, K: int) -> np.ndarray:
    """Every action profile ``(a_1, ..., a_K)``, shape ``(n^K, K)``, int64, in lexicographic (index) order.

    Example:
        >>> all_profiles(2, 2).tolist()
        [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    if n < 1 or K < 1:
        raise GameError(f"profiles need n >= 1 and K >= 1, got n={n}, K={K}")
    grids = np.meshgrid(*([np.arange(n)] * K), indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)


def profile_index(profile: np.ndarray, n: int) -> np.ndarray:
    """The signal index ``sum_k a_k n^(K-1-k)`` of profiles ``(..., K)`` (the row of :func:`all_profiles`)."""
    profile = np.asarray(profile, dtype=np.int64)
    return np.ravel_multi_index(tuple(np.moveaxis(profile, -1, 0)), (n,) * profile.shape[-1])


# ---------------------------------------------------------------------------------------- reference schemes
def full_disclosure_scheme(game: Game, *, tol: float = TIE_TOL) -> np.ndarray:
    """Reveal the state: state ``s`` sends the profile of the types' best responses to ``e_s``; shape ``(m, n^K)``.

    Uses only ``u_S`` and ``u_R``. Obedient at every prior: after a signal every state in its support makes the
    recommended action a best response.

    Example:
        >>> full_disclosure_scheme(Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    signals = profile_index(state_best_responses(game, tol=tol), game.n)
    scheme = np.zeros((game.m, game.n**game.K))
    scheme[np.arange(game.m), signals] = 1.0
    return scheme


def no_disclosure_scheme(game: Game, *, tol: float = TIE_TOL) -> np.ndarray:
    """Reveal nothing: every state sends the profile of best responses to ``mu0``; shape ``(m, n^K)``.

    Example:
        >>> no_disclosure_scheme(Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])).tolist()
        [[1.0, 0.0], [1.0, 0.0]]
    """
    scheme = np.zeros((game.m, game.n**game.K))
    scheme[:, int(profile_index(type_best_responses(game, game.prior, tol=tol), game.n))] = 1.0
    return scheme


def induced_value(game: Game, scheme: np.ndarray, *, tol: float = TIE_TOL) -> float:
    """The sender's value of any scheme ``pi`` (m x S, any signals) when every type best-responds to each signal.

    .. math::

        V(\\pi) = \\sum_k \\lambda_k \\sum_\\sigma \\sum_s \\mu_0(s) \\pi(\\sigma | s)\\, u_S(s, a^*_k(x_\\sigma)),

    with ``x_sigma = mu0 * pi[:, sigma]`` and sender-favoured ties. For an obedient scheme it is
    :func:`persuasion.evaluate`'s value; a signal the receiver does not obey is charged at what she does.
    """
    joint = game.prior[:, None] * np.asarray(scheme, dtype=float)  # (m, S)
    acts = type_best_responses(game, joint.T, tol=tol)  # (S, K)
    sender = joint.T @ game.sender_utility  # (S, n)
    got = np.take_along_axis(sender, acts, axis=1)  # (S, K)
    return float(got.sum(axis=0) @ game.typed_type_prior())


# ---------------------------------------------------------------------------------------------- scheme rows
def scheme_from_joint(joint: np.ndarray, prior: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """``pi[s] = x[s] / sum(x[s])`` from joint variables ``x`` (m x S, clipped at 0); other rows from ``fill``.

    Rows of zero-prior states (and any row of zero mass) take the row of ``fill`` (m x S), typically
    :func:`full_disclosure_scheme`: the receiver's sender-preferred best response to that state.
    """
    x = np.clip(np.asarray(joint, dtype=float), 0.0, None)
    scheme = np.array(fill, dtype=float)
    mass = x.sum(axis=1)
    keep = (np.asarray(prior) > 0) & (mass > 0)
    scheme[keep] = x[keep] / mass[keep, None]
    return scheme


def clean_scheme(pi: np.ndarray, zero: float = SCHEME_ZERO) -> np.ndarray:
    """Clips LP noise: negative entries and entries below ``zero`` become 0, rows are renormalised."""
    pi = np.clip(np.asarray(pi, dtype=float), 0.0, None)
    pi[pi < zero] = 0.0
    rows = pi.sum(axis=-1, keepdims=True)
    return pi / np.where(rows > 0, rows, 1.0)

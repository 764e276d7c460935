"""The Receiver's belief over information items, measured from its log-probabilities, and the Bayesian benchmark.

For a question ``x`` and an optional signal text ``g``, the Receiver scores every item ``omega`` of the catalogue
as the continuation of one fixed prompt (templates in :mod:`llm.game.prompts`):

.. math::

    \\ell_\\omega = \\log p_R\\big(\\text{" <name>."} \\mid \\text{prompt}(x, g)\\big), \\qquad
    \\mu(\\omega) = \\frac{\\exp(\\ell_\\omega / L_\\omega)}{\\sum_{\\omega'} \\exp(\\ell_{\\omega'} / L_{\\omega'})},

with ``L = 1`` by default, or ``L`` = the continuation's UTF-8 byte length when ``length_normalize=True``
(lm-evaluation-harness' ``acc_norm``). Without a signal this is the prior ``mu_x^0``; with the Advisor's signal it
is the measured posterior ``mu_x^g``. A committed scheme ``pi`` instead implies the Bayesian posterior
``mu_sigma(omega) = mu0(omega) pi(sigma | omega) / sum_w mu0(w) pi(sigma | w)`` (:func:`bayes_posterior`); the
divergences below compare the two.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy.special import logsumexp, rel_entr

from llm.game.catalogue import Catalogue
from llm.game.prompts import belief_continuation, belief_prompt
from llm.lm import LanguageModel, LMError
from persuasion.errors import GameError

#: Tolerance on "sums to 1" for measured beliefs, priors and scheme rows.
SIMPLEX_TOL = 1e-6


def belief_requests(
    questions: Sequence[str], catalogue: Catalogue, signals: Sequence[Any] | None = None
) -> tuple[list[str], list[str]]:
    """The ``(prompt, continuation)`` pairs scored for a batch, question-major: pair ``q * m + k`` is item ``k``.

    Args:
        questions: ``Q`` question texts ``x``.
        catalogue: the ``m`` items.
        signals: ``None`` (priors), or one signal per question: its text, a :class:`llm.game.signals.Signal`, or
            ``None``.

    Returns:
        ``Q * m`` prompts and ``Q * m`` continuations.
    """
    questions = [str(q) for q in questions]
    if signals is None:
        signals = [None] * len(questions)
    elif len(signals) != len(questions):
        raise GameError(f"got {len(signals)} signals for {len(questions)} questions; pass one per question")
    texts: list[str | None] = []
    for k, signal in enumerate(signals):
        text = getattr(signal, "text", signal)  # a llm.game.signals.Signal stands for its text
        if text is not None and not isinstance(text, str):
            raise GameError(f"signal {k} must be text, a Signal or None, got {type(signal).__name__}")
        texts.append(text)
    prompts: list[str] = []
    continuations: list[str] = []
    conts = [belief_continuation(name) for name in catalogue.names]
    for question, signal in zip(questions, texts):
        prompt = belief_prompt(question, catalogue.names, signal)
        prompts.extend([prompt] * catalogue.m)
        continuations.extend(conts)
    return prompts, continuations


def beliefs_from_logprobs(logprobs: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Softmax over the last axis: ``mu[..., k] = exp(l_k / L_k) / sum_j exp(l_j / L_j)``.

    Args:
        logprobs: ``l``, shape ``(..., m)``; ``-inf`` entries get belief 0.
        lengths: ``L``, shape ``(m,)`` or like ``logprobs``, positive; ``None`` means 1.

    Returns:
        Beliefs with the shape of ``logprobs``, each row on the simplex.
    """
    scores = np.asarray(logprobs, dtype=float)
    if scores.ndim == 0 or scores.shape[-1] == 0:
        raise LMError(f"log-probabilities must have a non-empty last axis, got shape {scores.shape}")
    if np.any(np.isnan(scores)) or np.any(scores == np.inf):
        raise LMError("the model returned NaN or +inf log-probabilities")
    if lengths is not None:
        lengths = np.asarray(lengths, dtype=float)
        if np.any(~np.isfinite(lengths)) or np.any(lengths <= 0):
            raise LMError("continuation lengths must be positive and finite")
        scores = scores / lengths
    dead = np.all(scores == -np.inf, axis=-1)
    if np.any(dead):
        raise LMError(f"the model gave log-probability -inf to every item in {int(dead.sum())} prompt(s)")
    return np.exp(scores - logsumexp(scores, axis=-1, keepdims=True))


def receiver_beliefs(
    model: LanguageModel,
    questions: Sequence[str],
    catalogue: Catalogue,
    signals: Sequence[Any] | None = None,
    *,
    length_normalize: bool = False,
) -> np.ndarray:
    """The Receiver's beliefs over the catalogue for a batch of questions, with one ``model.logprob`` call.

    Args:
        model: the Receiver (any :class:`llm.lm.LanguageModel`).
        questions: ``Q`` questions ``x``.
        catalogue: the ``m`` items ``omega``.
        signals: ``None`` for the priors ``mu_x^0``; one signal per question (text, ``Signal`` or ``None``) for
            the posteriors ``mu_x^g``.
        length_normalize: divide each item's log-probability by its continuation's UTF-8 byte length.

    Returns:
        ``mu``, shape ``(Q, m)``, rows on the simplex, columns in catalogue order.
    """
    if len(questions) == 0:
        return np.zeros((0, catalogue.m))
    prompts, continuations = belief_requests(questions, catalogue, signals)
    raw = np.asarray(model.logprob(prompts, continuations), dtype=float)
    if raw.shape != (len(prompts),):
        raise LMError(
            f"model {getattr(model, 'name', '?')!r} returned log-probabilities of shape {raw.shape}, "
            f"expected ({len(prompts)},)"
        )
    lengths = None
    if length_normalize:
        lengths = np.array([len(c.encode("utf-8")) for c in continuations[: catalogue.m]], dtype=float)
    return beliefs_from_logprobs(raw.reshape(len(questions), catalogue.m), lengths)


def receiver_belief(
    model: LanguageModel,
    question: str,
    catalogue: Catalogue,
    signal: Any = None,
    *,
    length_normalize: bool = False,
) -> np.ndarray:
    """The Receiver's belief over the catalogue for one question: ``mu_x^0`` (no signal) or ``mu_x^g``.

    Returns:
        Shape ``(m,)``, on the simplex. See :func:`receiver_beliefs`.
    """
    return receiver_beliefs(model, [question], catalogue, None if signal is None else [signal],
                            length_normalize=length_normalize)[0]


def mean_belief(beliefs: np.ndarray) -> np.ndarray:
    """The average belief ``(1/Q) sum_x mu_x``, shape ``(m,)``: the population prior over items."""
    arr = _rows("beliefs", beliefs)
    if arr.shape[0] == 0:
        raise GameError("mean_belief needs at least one belief")
    out = arr.mean(axis=0)
    return out / out.sum()


def _rows(name: str, value: np.ndarray) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 2:
        raise GameError(f"{name} must be 2-d (rows of distributions), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < -SIMPLEX_TOL):
        raise GameError(f"{name} must be finite and non-negative")
    sums = arr.sum(axis=1)
    if arr.shape[0] and np.max(np.abs(sums - 1.0)) > SIMPLEX_TOL:
        bad = int(np.argmax(np.abs(sums - 1.0)))
        raise GameError(f"{name} row {bad} sums to {sums[bad]!r}, not 1")
    return np.clip(arr, 0.0, None)


def _distribution(name: str, value: np.ndarray) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise GameError(f"{name} must be a non-empty 1-d distribution, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < -SIMPLEX_TOL):
        raise GameError(f"{name} must be finite and non-negative")
    if abs(arr.sum() - 1.0) > SIMPLEX_TOL:
        raise GameError(f"{name} sums to {arr.sum()!r}, not 1")
    return np.clip(arr, 0.0, None)


def bayes_posteriors(prior: np.ndarray, scheme: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signal probabilities and the posteriors a committed scheme implies (Bayes' rule), for every signal.

    .. math::

        P(\\sigma) = \\sum_\\omega \\mu_0(\\omega) \\pi(\\sigma \\mid \\omega), \\qquad
        \\mu_\\sigma(\\omega) = \\mu_0(\\omega) \\pi(\\sigma \\mid \\omega) / P(\\sigma).

    Args:
        prior: ``mu0``, shape ``(m,)``.
        scheme: ``pi[omega, sigma]``, shape ``(m, k)``, rows on the simplex (e.g. ``Solution.scheme``).

    Returns:
        ``P(sigma)`` of shape ``(k,)`` and posteriors of shape ``(k, m)``; rows of signals with ``P(sigma) = 0`` are
        NaN (undefined).
    """
    mu0 = _distribution("prior", prior)
    pi = _rows("scheme", scheme)
    if pi.shape[0] != mu0.shape[0]:
        raise GameError(f"scheme has shape {pi.shape}, expected ({mu0.shape[0]}, k) for {mu0.shape[0]} states")
    joint = mu0[:, None] * pi  # joint[omega, sigma] = P(omega, sigma)
    p_signal = joint.sum(axis=0)
    post = np.full((pi.shape[1], mu0.shape[0]), np.nan)
    live = p_signal > 0
    post[live] = (joint[:, live] / p_signal[live]).T
    return p_signal, post


def bayes_posterior(prior: np.ndarray, scheme: np.ndarray, signal_index: int) -> np.ndarray:
    """The Bayesian posterior ``mu_sigma`` after signal ``sigma = signal_index`` of scheme ``pi``; shape ``(m,)``.

    Example:
        >>> bayes_posterior([0.7, 0.3], [[4 / 7, 3 / 7], [0.0, 1.0]], 1).round(3).tolist()
        [0.5, 0.5]
    """
    p_signal, post = bayes_posteriors(prior, scheme)
    k = len(p_signal)
    if isinstance(signal_index, bool) or not isinstance(signal_index, (int, np.integer)) or not 0 <= signal_index < k:
        raise GameError(f"signal_index must be an integer in 0..{k - 1}, got {signal_index!r}")
    if p_signal[signal_index] <= 0:
        raise GameError(f"signal {signal_index} has probability 0 under the scheme; its posterior is undefined")
    return post[signal_index]


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """``KL(p || q) = sum_w p(w) log(p(w) / q(w))`` in nats; ``inf`` when ``q(w) = 0 < p(w)`` for some ``w``."""
    a, b = _pair(p, q)
    return float(np.sum(rel_entr(a, b)))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """``TV(p, q) = (1/2) sum_w |p(w) - q(w)|``, in ``[0, 1]``."""
    a, b = _pair(p, q)
    return float(0.5 * np.abs(a - b).sum())


def _pair(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = _distribution("p", p), _distribution("q", q)
    if a.shape != b.shape:
        raise GameError(f"p and q differ in shape: {a.shape} vs {b.shape}")
    return a / a.sum(), b / b.sum()

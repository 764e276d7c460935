"""The Advisor's state model: from a problem's features to each item's gain over silence, with its uncertainty.

The Advisor must *know* ``omega(x)`` on test problems, where no feedback exists; it learns it from the training
feedback. Features ``phi(x)`` are blocks, each L2-normalised per problem and concatenated (:data:`FEATURES`):

* ``words``: the question's hashed word unigrams and bigrams (``D`` buckets);
* ``prior``: the Receiver's measured prior ``mu_x^0`` over the items (what it would do unprompted);
* ``hidden``: a white-box model's mean-pooled last hidden state of the question;
* ``none``: no feature: every problem gets its item's main effect (the ablation that ignores the problem).

**Model.** Per item ``a != none``, a Bayesian linear model of the observed gains (:mod:`llm.bpa.gains`)

.. math::

    g(x, a) = \\mu_a + \\phi(x)^\\top \\beta_a + e, \\qquad e \\sim N(0, \\tau_a^2 + v(x, a)), \\qquad
    \\beta_a \\sim N(0, \\lambda^{-1} I),

so each problem counts as much as its noise ``v`` allows and the per-problem spread ``tau_a^2`` (empirical Bayes)
is not mistaken for signal. In the dual (Gaussian-process) form with ``K = Phi Phi^T`` and
``S = diag(tau^2 + v)``, ``A = (K / lambda + S)^{-1}``, ``mu_a`` is the generalised least-squares mean
``1^T A g / 1^T A 1`` and, for a new problem with ``k = Phi phi``,

.. math::

    \\hat g(\\phi, a) = \\mu_a + \\lambda^{-1} k^\\top A (g - \\mu_a), \\qquad
    s^2(\\phi, a) = \\lambda^{-1} \\phi^\\top \\phi - \\lambda^{-2} k^\\top A k + \\frac{R^2}{1^\\top A 1},
    \\qquad R = 1 - \\lambda^{-1} 1^\\top A k:

the predicted *expected* gain and its (epistemic) variance, the mean's uncertainty included (Rasmussen & Williams
2006, eq. 2.42).

**Do no harm.** The Advisor speaks only when a lower confidence bound clears a threshold ``tau``:

.. math::

    a^*(x) = \\arg\\max_a \\big(\\hat g(x, a) - z\\, s(x, a)\\big), \\qquad
    \\hat\\omega(x) = a^*(x) \\text{ if } \\hat g(x, a^*) - z\\, s(x, a^*) > \\tau, \\text{ else none},

``z`` the one-sided normal quantile of ``level``. ``lambda``, the features and ``tau`` are chosen by cross-fitting on
the training problems (:mod:`llm.bpa.learnability`).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from llm.bpa.gains import observed_gains, shrink, z_value

FEATURES = ("words", "prior", "hidden", "none")
_WORD = re.compile(r"[a-z]+")
#: Floor of a problem's residual variance (keeps ``A`` well conditioned when every gain is exact).
VAR_FLOOR = 1e-4


def parse_features(spec: str) -> tuple[str, ...]:
    """``"words+prior"`` -> ``("words", "prior")`` (one-line error for an unknown block; ``none`` stands alone)."""
    kinds = tuple(dict.fromkeys(k.strip() for k in str(spec).split("+") if k.strip()))
    bad = [k for k in kinds if k not in FEATURES]
    if not kinds or bad:
        raise ValueError(f"state features must be '+'-joined names from {FEATURES}, got {spec!r}")
    if "none" in kinds and len(kinds) > 1:
        raise ValueError(f"state features 'none' cannot be combined with others, got {spec!r}")
    return kinds


def featurize(questions: Sequence[str], kind: str = "words", dim: int = 2048) -> np.ndarray:
    """The ``words`` block, shape ``(N, dim)`` (``(N, 0)`` for ``kind="none"``), rows L2-normalised."""
    if kind not in ("words", "none"):
        raise ValueError(f"featurize builds the 'words' or 'none' block, got {kind!r}")
    if kind == "none":
        return np.zeros((len(questions), 0), dtype=np.float64)
    out = np.zeros((len(questions), dim), dtype=np.float64)
    for i, q in enumerate(questions):
        words = _WORD.findall(str(q).lower())
        for tok in words + [a + " " + b for a, b in zip(words, words[1:])]:
            out[i, zlib.crc32(tok.encode()) % dim] += 1.0
    return normalise(out)


def normalise(block: np.ndarray) -> np.ndarray:
    """Each row scaled to unit L2 norm (zero rows stay zero)."""
    block = np.asarray(block, dtype=np.float64)
    norms = np.linalg.norm(block, axis=1, keepdims=True)
    return block / np.where(norms > 0, norms, 1.0)


@dataclass(frozen=True)
class GainModel:
    """A fitted state model (module doc). ``phi`` ``(P, d)``: the training features; ``coef`` ``(m, P)``:
    ``lambda^{-1} A (g - mu)``; ``inv`` ``(m, P, P)``: ``A``; ``mu``, ``mu_var`` ``(m,)``."""

    features: tuple[str, ...]
    phi: np.ndarray
    coef: np.ndarray
    inv: np.ndarray
    mu: np.ndarray
    mu_var: np.ndarray
    lam: float
    none_index: int
    tau: float = 0.0
    level: float = 0.95

    def predict(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(g_hat, s)``, each ``(N, m)``, for features ``phi`` ``(N, d)`` (``none``: 0 and 0)."""
        phi = np.asarray(phi, dtype=np.float64).reshape(len(phi), self.phi.shape[1])
        k = self.phi @ phi.T  # (P, N)
        m = len(self.mu)
        mean, var = np.zeros((len(phi), m)), np.zeros((len(phi), m))
        self_sim = np.einsum("nd,nd->n", phi, phi)
        for a in range(m):
            if a == self.none_index:
                continue
            mean[:, a] = self.mu[a] + k.T @ self.coef[a]
            quad = np.einsum("pn,pq,qn->n", k, self.inv[a], k)
            resid = 1.0 - k.T @ self.inv[a].sum(axis=1) / self.lam  # R = 1 - 1^T A k / lambda
            var[:, a] = np.maximum(self_sim / self.lam - quad / self.lam**2, 0.0) + resid**2 * self.mu_var[a]
        return mean, np.sqrt(var)

    def lower_bounds(self, phi: np.ndarray) -> np.ndarray:
        """``g_hat - z s``, ``(N, m)`` (``none``: 0)."""
        mean, sd = self.predict(phi)
        return mean - z_value(self.level) * sd

    def choose(self, phi: np.ndarray, tau: float | None = None) -> np.ndarray:
        """``omega_hat(x)`` as item indices under threshold ``tau`` (default: the model's)."""
        lower = self.lower_bounds(phi)
        lower[:, self.none_index] = -np.inf
        best = np.argmax(lower, axis=1)
        cut = self.tau if tau is None else tau
        return np.where(lower[np.arange(len(best)), best] > cut, best, self.none_index)

    def with_threshold(self, tau: float) -> "GainModel":
        return replace(self, tau=float(tau))

    def save(self, path: str | Path) -> None:
        """Writes ``path`` (``.npz``) atomically."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, features="+".join(self.features), phi=self.phi, coef=self.coef, inv=self.inv, mu=self.mu,
                 mu_var=self.mu_var, lam=self.lam, none_index=self.none_index, tau=self.tau, level=self.level)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> "GainModel":
        with np.load(path) as z:
            return cls(parse_features(str(z["features"])), z["phi"], z["coef"], z["inv"], z["mu"], z["mu_var"],
                       float(z["lam"]), int(z["none_index"]), float(z["tau"]), float(z["level"]))


def fit_gain_model(phi: np.ndarray, successes: np.ndarray, counts: np.ndarray, none_index: int, *,
                   features: Sequence[str] = ("words",), lam: float = 10.0, tau: float = 0.0,
                   level: float = 0.95) -> GainModel:
    """Fits the model of the module doc to the training cells ``successes``/``counts`` ``(P, m)``.

    Raises:
        ValueError: mismatched shapes, ``lam <= 0``, or bad counts (one line).
    """
    g, v = observed_gains(successes, counts, none_index)
    phi = np.asarray(phi, dtype=np.float64).reshape(len(g), -1)
    if not lam > 0:
        raise ValueError(f"ridge precision lambda must be > 0, got {lam}")
    spread = shrink(successes, counts, none_index).tau
    kern = phi @ phi.T / lam
    p, m = g.shape
    coef, inv = np.zeros((m, p)), np.zeros((m, p, p))
    mu, mu_var = np.zeros(m), np.zeros(m)
    ones = np.ones(p)
    for a in range(m):
        if a == none_index:
            continue
        s = np.maximum(spread[a] ** 2 + v[:, a], VAR_FLOOR)
        inv[a] = np.linalg.inv(kern + np.diag(s))
        prec = float(ones @ inv[a] @ ones)
        mu[a] = float(ones @ inv[a] @ g[:, a]) / prec
        mu_var[a] = 1.0 / prec
        coef[a] = inv[a] @ (g[:, a] - mu[a]) / lam
    return GainModel(tuple(features), phi, coef, inv, mu, mu_var, float(lam), none_index, float(tau), level)

"""The Advisor's state model: from a question's words to the information that helps on it (flax + optax).

The Advisor must *know* ``omega(x)`` on test problems, where no feedback exists; it learns it from the training
feedback. Features ``phi(x)`` are the question's hashed word unigrams and bigrams (``D`` buckets, L2-normalised;
``features="none"`` gives every question the same single feature: an ablation that ignores the problem). A linear
flax head predicts every item's success rate, ``r_hat(x, a) = sigmoid(W phi(x) + b)_a``, trained with optax (Adam,
weight decay) on the binomial log-likelihood of the ``k`` sampled answers per cell:

.. math::

    L(W, b) = -\\sum_{x, a} n_{xa} \\big[ r(x, a) \\log \\hat r(x, a) + (1 - r(x, a)) \\log (1 - \\hat r(x, a)) \\big].

The Advisor's estimate is ``omega_hat(x) = argmax_a r_hat(x, a) - r_hat(x, none)`` when positive, else ``none``
(the rule of :func:`llm.bpa.game.problem_states` applied to predictions). Training is an ``init``/``update`` pair
over explicit parameters and optimiser state.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

FEATURES = ("words", "none")
_WORD = re.compile(r"[a-z]+")


def featurize(questions: Sequence[str], kind: str = "words", dim: int = 2048) -> np.ndarray:
    """``phi(x)`` for each question, shape ``(N, dim)`` (``(N, 1)`` ones for ``kind="none"``)."""
    if kind not in FEATURES:
        raise ValueError(f"state features must be one of {FEATURES}, got {kind!r}")
    if kind == "none":
        return np.ones((len(questions), 1), dtype=np.float32)
    out = np.zeros((len(questions), dim), dtype=np.float32)
    for i, q in enumerate(questions):
        words = _WORD.findall(str(q).lower())
        for tok in words + [a + " " + b for a, b in zip(words, words[1:])]:
            out[i, zlib.crc32(tok.encode()) % dim] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


class TrainState(NamedTuple):
    """Parameters and optimiser state of the head."""

    params: Any
    opt_state: Any


def _head(m: int):
    import flax.linen as nn

    return nn.Dense(m)


def _optimizer(learning_rate: float, weight_decay: float):
    import optax

    return optax.adamw(learning_rate, weight_decay=weight_decay)


def init(key: Any, dim: int, m: int, *, learning_rate: float = 0.1, weight_decay: float = 1e-3) -> TrainState:
    """Initial parameters (flax defaults) for ``dim`` features and ``m`` items, and Adam's state."""
    import jax.numpy as jnp

    params = _head(m).init(key, jnp.zeros((1, dim)))
    return TrainState(params, _optimizer(learning_rate, weight_decay).init(params))


def make_update(m: int, *, learning_rate: float = 0.1, weight_decay: float = 1e-3):
    """``update(state, X, R, N) -> (state, loss)``: one full-batch Adam step on the binomial loss (jitted)."""
    import jax
    import jax.numpy as jnp
    import optax

    head, opt = _head(m), _optimizer(learning_rate, weight_decay)

    def loss_fn(params, x, r, n):
        logits = head.apply(params, x)
        ll = r * jax.nn.log_sigmoid(logits) + (1 - r) * jax.nn.log_sigmoid(-logits)
        return -jnp.sum(n * ll) / jnp.maximum(jnp.sum(n), 1.0)

    @jax.jit
    def update(state: TrainState, x, r, n):
        loss, grads = jax.value_and_grad(loss_fn)(state.params, x, r, n)
        updates, opt_state = opt.update(grads, state.opt_state, state.params)
        return TrainState(optax.apply_updates(state.params, updates), opt_state), loss

    return update


@dataclass(frozen=True)
class StateModel:
    """A trained head: ``weight`` ``(D, m)``, ``bias`` ``(m,)``, the feature kind, the ``none`` item's index."""

    weight: np.ndarray
    bias: np.ndarray
    features: str
    none_index: int
    loss: float = float("nan")

    def predict_rates(self, questions: Sequence[str]) -> np.ndarray:
        """``r_hat(x, a)``, shape ``(N, m)``."""
        x = featurize(questions, self.features, dim=self.weight.shape[0])
        return 1.0 / (1.0 + np.exp(-(x @ self.weight + self.bias)))

    def predict_states(self, questions: Sequence[str]) -> np.ndarray:
        """``omega_hat(x)`` as item indices (module doc)."""
        r = self.predict_rates(questions)
        gains = r - r[:, [self.none_index]]
        return np.where(gains.max(axis=1) > 1e-9, np.argmax(gains, axis=1), self.none_index)

    def save(self, path: str | Path) -> None:
        """Writes ``path`` (``.npz``) atomically."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, weight=self.weight, bias=self.bias, features=self.features, none_index=self.none_index,
                 loss=self.loss)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> "StateModel":
        with np.load(path) as z:
            return cls(z["weight"], z["bias"], str(z["features"]), int(z["none_index"]), float(z["loss"]))


def fit_state_model(questions: Sequence[str], rates: np.ndarray, samples: np.ndarray, none_index: int, *,
                    features: str = "words", steps: int = 300, seed: int = 0, dim: int = 2048) -> StateModel:
    """Fits the head to ``rates[i, a]`` (``samples[i, a]`` answers each) of ``questions[i]``."""
    import jax

    x = featurize(questions, features, dim)
    r = np.asarray(rates, dtype=np.float32)
    n = np.asarray(samples, dtype=np.float32)
    m = r.shape[1]
    state = init(jax.random.key(seed), x.shape[1], m)
    update = make_update(m)
    loss = float("nan")
    for _ in range(steps):
        state, loss = update(state, x, r, n)
    p = state.params["params"]
    return StateModel(np.asarray(p["kernel"]), np.asarray(p["bias"]), features, none_index, float(loss))

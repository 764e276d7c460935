"""Persuasion with continuous, multi-dimensional states: a flax network as the signalling scheme.

The state ``s ~ U([0, 1]^d)`` (the prior), the receiver has ``n`` actions with utilities ``u_R(s, a)`` and the
sender ``u_S(s, a)`` (vectorised functions of ``s``). A scheme is a map ``pi_phi: [0, 1]^d -> Delta(n)``, here a
flax MLP followed by a softmax. By the revelation principle it recommends an action, and it is optimal among
obedient schemes for

.. math::

    \\max_\\phi \\; \\mathbb{E}_s\\Big[\\sum_a \\pi_\\phi(a \\mid s) u_S(s, a)\\Big]
    \\quad \\text{s.t.} \\quad
    g_{aa'}(\\phi) = \\mathbb{E}_s\\big[\\pi_\\phi(a \\mid s) (u_R(s, a) - u_R(s, a'))\\big]
        \\ge \\varepsilon\\, P_\\phi(a) \\;\\; \\forall a \\ne a',

with a small margin ``epsilon`` per unit of the signal's probability ``P(a) = E[pi(a | s)]`` (the posterior's
expected advantage of ``a`` is at least ``epsilon``), so that the trained scheme stays obedient when evaluated
exactly; a signal that is never sent has no constraint left, so its multipliers decay instead of locking it off.
Expectations are Monte Carlo averages over fresh prior samples at every step; the constraints use the augmented
Lagrangian of :mod:`persuasion.gradient.batched` (Adam on the network's parameters, the multiplier step every
``inner`` steps).

Check: on a grid of ``k^d`` cell midpoints the continuous game becomes a finite :class:`persuasion.Game` (uniform
prior) whose exact LP value (:func:`persuasion.solve`) converges to the continuous optimum; the network's scheme on
the same grid, made exactly obedient (the least mixture with full disclosure that is obedient,
:func:`~persuasion.gradient.certificate.mix_to_obedience`, then
:func:`~persuasion.gradient.certificate.obedient_repair`), is compared with it (:func:`evaluate_on_grid`).
For ``d = 1``, ``u_R(s, act) = s - theta``, ``u_R(s, wait) = 0`` and a sender who wants action, the optimum
recommends acting iff ``s >= 2 theta - 1`` (the pooled interval's mean is exactly ``theta``) and is worth
``min(1, 2 (1 - theta))`` (:func:`threshold_value`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import persuasion
from persuasion.gradient.certificate import max_violation, mix_to_obedience, obedient_repair, scheme_value

Utility = Callable[[jax.Array], jax.Array]  # states (N, d) -> utilities (N, n); jax- and numpy-traceable


@dataclass(frozen=True)
class ContinuousGame:
    """A persuasion game with state ``s ~ U([0, 1]^dim)`` and ``n`` actions."""

    dim: int
    n: int
    sender_utility: Utility
    receiver_utility: Utility
    action_names: tuple[str, ...] = ()
    name: str = ""


def threshold_game(theta: float = 0.7) -> ContinuousGame:
    """``d = 1``: the receiver acts iff her posterior mean of ``s`` is at least ``theta``; the sender wants action."""

    def u_s(s):
        return jnp.concatenate([jnp.zeros_like(s[:, :1]), jnp.ones_like(s[:, :1])], axis=1)

    def u_r(s):
        return jnp.concatenate([jnp.zeros_like(s[:, :1]), s[:, :1] - theta], axis=1)

    return ContinuousGame(1, 2, u_s, u_r, ("wait", "act"), f"threshold_{theta:g}")


def threshold_value(theta: float) -> float:
    """The closed-form optimum of :func:`threshold_game`: ``P(act) = min(1, 2 (1 - theta))``."""
    return float(min(1.0, max(0.0, 2.0 * (1.0 - theta))))


def hiring_game() -> ContinuousGame:
    """``d = 2``: a candidate's skill ``s_1`` and fit ``s_2``; a school recommends, an employer rejects, interviews
    or hires. Employer: ``u_R = (0, s_1 - 0.65, s_1 + s_2 - 1.3)``; school: ``u_S = (0, 1, 1.5 + s_2)``."""

    def u_s(s):
        return jnp.stack([jnp.zeros_like(s[:, 0]), jnp.ones_like(s[:, 0]), 1.5 + s[:, 1]], axis=1)

    def u_r(s):
        return jnp.stack([jnp.zeros_like(s[:, 0]), s[:, 0] - 0.65, s[:, 0] + s[:, 1] - 1.3], axis=1)

    return ContinuousGame(2, 3, u_s, u_r, ("reject", "interview", "hire"), "hiring")


# ------------------------------------------------------------------------------------------------ the network
class SchemeNet(nn.Module):
    """``s in [0, 1]^d -> logits over n recommendations`` (an MLP; the scheme is ``softmax(logits)``)."""

    n: int
    hidden: int = 64
    layers: int = 2

    @nn.compact
    def __call__(self, s: jax.Array) -> jax.Array:
        h = 2.0 * s - 1.0
        for _ in range(self.layers):
            h = nn.gelu(nn.Dense(self.hidden)(h))
        return nn.Dense(self.n)(h)


@dataclass(frozen=True)
class TrainConfig:
    """Training hyperparameters (defaults: both examples reach < 1% of the grid LP on a CPU in seconds)."""

    outer: int = 60  # multiplier steps
    inner: int = 50  # Adam steps per multiplier step
    samples: int = 2048  # prior samples per step
    learning_rate: float = 3e-3  # Adam's initial step, decayed exponentially to ``learning_rate * final_lr_ratio``
    final_lr_ratio: float = 0.1
    rho: float = 100.0
    margin: float = 2e-3  # epsilon: obedience slack per unit of P(a) required in training
    hidden: int = 64
    layers: int = 2


class TrainState(NamedTuple):
    """State of :func:`train_update` (a pytree)."""

    params: Any  # flax parameters of the SchemeNet.
    opt_state: Any  # optax Adam state.
    lam: jax.Array  # shape=(n, n): obedience multipliers.
    key: jax.Array  # PRNG key for the prior samples.


def _net(game: ContinuousGame, config: TrainConfig) -> SchemeNet:
    return SchemeNet(game.n, config.hidden, config.layers)


def _optimizer(config: TrainConfig) -> optax.GradientTransformation:
    steps = max(1, config.outer * config.inner)
    return optax.adam(optax.exponential_decay(config.learning_rate, steps, config.final_lr_ratio))


def train_init(key: jax.Array, game: ContinuousGame, config: TrainConfig = TrainConfig()) -> TrainState:
    """Random network parameters, zero multipliers."""
    k_init, k_run = jax.random.split(key)
    params = _net(game, config).init(k_init, jnp.zeros((1, game.dim)))
    return TrainState(params, _optimizer(config).init(params), jnp.zeros((game.n, game.n)), k_run)


def _moments(game: ContinuousGame, config: TrainConfig, params: Any,
             s: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Monte Carlo value ``E[sum_a pi u_S]``, obedience slacks ``g`` (n x n) and ``P(a)`` (n,) on the samples ``s``."""
    pi = jax.nn.softmax(_net(game, config).apply(params, s), axis=-1)
    u_r = game.receiver_utility(s)
    value = jnp.mean(jnp.sum(pi * game.sender_utility(s), axis=-1))
    gram = pi.T @ u_r / s.shape[0]  # gram[a, a'] = E[pi(a|s) u_R(s, a')]
    return value, jnp.diag(gram)[:, None] - gram, jnp.mean(pi, axis=0)


@partial(jax.jit, static_argnums=(1, 2))
def train_update(state: TrainState, game: ContinuousGame, config: TrainConfig = TrainConfig()) -> TrainState:
    """``inner`` Adam steps on the augmented Lagrangian, then ``lambda <- max(0, lambda - rho (g - epsilon P(a)))``."""
    opt = _optimizer(config)
    off = 1.0 - jnp.eye(game.n)

    def loss(params, s):
        value, g, p = _moments(game, config, params, s)
        viol = jnp.maximum(0.0, state.lam - config.rho * (g - config.margin * p[:, None]))
        return -value + jnp.sum(off * (viol**2 - state.lam**2)) / (2.0 * config.rho)

    def step(carry, key):
        params, opt_state = carry
        s = jax.random.uniform(key, (config.samples, game.dim))
        updates, opt_state = opt.update(jax.grad(loss)(params, s), opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    key, k_steps, k_eval = jax.random.split(state.key, 3)
    (params, opt_state), _ = jax.lax.scan(step, (state.params, state.opt_state),
                                          jax.random.split(k_steps, config.inner))
    _, g, p = _moments(game, config, params, jax.random.uniform(k_eval, (4 * config.samples, game.dim)))
    lam = off * jnp.maximum(0.0, state.lam - config.rho * (g - config.margin * p[:, None]))
    return TrainState(params, opt_state, lam, key)


def train(game: ContinuousGame, key: jax.Array, config: TrainConfig = TrainConfig()) -> TrainState:
    """``config.outer`` calls of :func:`train_update` from :func:`train_init`."""
    state = train_init(key, game, config)
    for _ in range(config.outer):
        state = train_update(state, game, config)
    return state


def scheme_at(game: ContinuousGame, params: Any, states: np.ndarray, config: TrainConfig = TrainConfig()) -> np.ndarray:
    """The learned scheme ``pi(. | s)`` at ``states`` (N, d), shape (N, n), float64."""
    pi = np.asarray(jax.nn.softmax(_net(game, config).apply(params, jnp.asarray(states, jnp.float32)), axis=-1), float)
    return pi / pi.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------------------------------------ grid check
def grid(dim: int, per_dim: int) -> np.ndarray:
    """The ``per_dim^dim`` cell midpoints of ``[0, 1]^dim``, shape ``(per_dim^dim, dim)``."""
    axis = (np.arange(per_dim) + 0.5) / per_dim
    mesh = np.meshgrid(*([axis] * dim), indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def grid_game(game: ContinuousGame, per_dim: int) -> persuasion.Game:
    """The finite game on the grid's midpoints with the uniform prior."""
    s = grid(game.dim, per_dim)
    u_s = np.asarray(game.sender_utility(jnp.asarray(s)), float)
    u_r = np.asarray(game.receiver_utility(jnp.asarray(s)), float)
    return persuasion.Game(np.full(len(s), 1.0 / len(s)), u_s, u_r, action_names=game.action_names or None,
                           name=f"{game.name}_grid{per_dim}", normalize=True)


class GridCheck(NamedTuple):
    """The learned scheme against the exact LP on a grid."""

    value: float  # value of the learned scheme on the grid, made exactly obedient (mix_to_obedience, obedient_repair).
    raw_value: float  # value of the learned scheme on the grid as trained (obedience not enforced).
    raw_violation: float  # its largest obedience violation on the grid.
    lp_value: float  # the grid LP's optimum.
    relative_gap: float  # (lp_value - value) / max(1e-12, |lp_value|).


def evaluate_on_grid(game: ContinuousGame, params: Any, per_dim: int, config: TrainConfig = TrainConfig(),
                     lp_value: float | None = None) -> GridCheck:
    """Compares the learned scheme with the exact LP of :func:`grid_game` (``lp_value`` skips the solve)."""
    finite = grid_game(game, per_dim)
    pi = scheme_at(game, params, grid(game.dim, per_dim), config)
    mixed, _ = mix_to_obedience(finite.prior, finite.sender_utility, finite.receiver_utility, pi)
    fixed = obedient_repair(finite.prior, finite.sender_utility, finite.receiver_utility, mixed)
    value = float(scheme_value(finite.prior, finite.sender_utility, fixed))
    lp = float(persuasion.solve(finite).value) if lp_value is None else float(lp_value)
    return GridCheck(value, float(scheme_value(finite.prior, finite.sender_utility, pi)),
                     float(max_violation(finite.prior, finite.receiver_utility, pi)), lp,
                     (lp - value) / max(1e-12, abs(lp)))


def plot_schemes(path: str, seed: int = 0, theta: float = 0.7) -> dict[str, GridCheck]:
    """Trains both examples and draws the learned schemes (the d = 1 one beside the closed-form optimum)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    checks = {}
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    g1 = threshold_game(theta)
    st1 = train(g1, jax.random.key(seed))
    s = np.linspace(0, 1, 401)[:, None]
    checks["threshold"] = evaluate_on_grid(g1, st1.params, 200)
    axes[0].plot(s[:, 0], scheme_at(g1, st1.params, s)[:, 1], label="learned pi(act | s)")
    axes[0].step(s[:, 0], (s[:, 0] >= 2 * theta - 1).astype(float), "k--", lw=1, where="post",
                 label=f"optimum: act iff s >= {2 * theta - 1:.2f}")
    axes[0].set_xlabel("state s")
    axes[0].set_ylabel("P(recommend act)")
    axes[0].set_title(f"d = 1, act iff E[s] >= {theta:g}: value {checks['threshold'].value:.4f} "
                      f"(optimum {threshold_value(theta):.4f})", fontsize=8)
    axes[0].legend(fontsize=7)
    g2 = hiring_game()
    st2 = train(g2, jax.random.key(seed))
    checks["hiring"] = evaluate_on_grid(g2, st2.params, 40)
    k = 101
    pts = grid(2, k)
    pi2 = scheme_at(g2, st2.params, pts).reshape(k, k, 3)
    for ax, a in zip(axes[1:], (1, 2)):
        im = ax.imshow(pi2[:, :, a].T, origin="lower", extent=(0, 1, 0, 1), vmin=0, vmax=1, cmap="viridis")
        ax.set_xlabel("skill s1")
        ax.set_ylabel("fit s2")
        ax.set_title(f"d = 2: P(recommend {g2.action_names[a]} | s)", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"hiring: value {checks['hiring'].value:.4f} vs grid LP {checks['hiring'].lp_value:.4f} "
                 f"(40 x 40 grid)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=200)
    plt.close(fig)
    return checks


if __name__ == "__main__":  # python -m persuasion.gradient.continuous docs/figures/continuous_scheme.png
    out = sys.argv[1] if len(sys.argv) > 1 else "continuous_scheme.png"
    for name, check in plot_schemes(out).items():
        print(name, check)
    print(f"wrote {out}")

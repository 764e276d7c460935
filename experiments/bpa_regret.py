"""Online regret of the Advisor against the simulated Receiver (issue 9, item 4(b)).

Each round ``t``: a problem ``x_t`` is drawn uniformly from the synthetic task's train split; the Advisor observes
its state ``omega_t`` (the helpful item of ``x_t``'s group: known to the Advisor, not to the Receiver); the
Advisor's online learner commits to a scheme ``pi_t`` and sends ``sigma_t ~ pi_t(. | omega_t)``; the Receiver
(Bayesian about ``omega`` given the committed scheme and the true prior, with the follow cost ``c`` of
:func:`llm.backends.simulated.persuasion_game`) decides which item to act on, the simulated Receiver applies it with
probability ``rho`` (:func:`llm.backends.simulated.respond`), and the answer is correct with probability
``p(g, acted)``.
The Advisor sees ``(omega_t, sigma_t, action, correct)``. The learners are those of :mod:`persuasion.online`
(unknown prior: the Advisor knows ``u_S``, ``u_R`` but not ``mu0``).

Regret is against the optimal scheme for the true prior: ``R_T = sum_t OPT - V(pi_t)`` with ``V`` exact (the
expected success of the committed scheme, disobedience charged); the realized regret ``sum_t OPT - correct_t``
uses the simulated Receiver's draws. Seeds are vmapped, rounds scanned in jitted chunks, LPs solved only at the
doubling epoch boundaries; every learner of a seed sees the same problems and uniforms (common random numbers).

Usage::

    python experiments/bpa_regret.py --out runs/bpa_regret            # 32 seeds x 1e5 rounds
    python experiments/bpa_regret.py --out /tmp/bpa_regret --quick    # 4 seeds x 4000 rounds (tests)

Writes ``DIR/config.json``, ``DIR/runs/LEARNER.json`` (T grid, mean / 95% band / 95% CI of the regret, realized
regret, summary; a rerun with the same configuration reuses them, so a killed run resumes), ``DIR/summary.json``,
``DIR/table.md`` and ``DIR/bpa_regret.png`` (200 dpi; and ``.pdf``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from llm.store import write_json_atomic  # noqa: E402
from llm.backends.simulated import (  # noqa: E402
    FOLLOW_COST,
    SimulatedSpec,
    SimulatedSpecError,
    load_spec,
    persuasion_game,
    respond,
)
from llm.tasks.synthetic import SEEDS, SIZES  # noqa: E402
from llm.tasks.synthetic import synthetic_arithmetic  # noqa: E402
from persuasion.base import Algorithm, Feedback  # noqa: E402
from persuasion.errors import GameError  # noqa: E402
from persuasion.online import (  # noqa: E402
    Env,
    band,
    doubling_schedule,
    full_disclosure_baseline,
    loglog_slope,
    make_env,
    no_disclosure_baseline,
    optimal_value,
    oracle,
    outcome,
    plugin_learner,
    robust_learner,
    seed_bound,
)
from persuasion.usage import ArgumentParser, UsageError, at_least, fail, output_folder  # noqa: E402

LEARNERS = ("robust", "plugin", "full_disclosure", "no_disclosure", "oracle")
#: A committed scheme is "not persuasive" when the Receiver deviates with probability above this.
UNPERSUASIVE_TOL = 1e-6
FIG_DPI = 200
METRICS = ("regret", "realized_regret", "disobeyed", "unpersuasive", "correct")


@dataclass(frozen=True)
class Config:
    """One experiment's settings (saved in ``config.json`` and in every run's JSON)."""

    horizon: int = 100_000
    seeds: int = 32
    chunk: int = 100
    follow_cost: float = FOLLOW_COST
    delta: float = 0.05
    seed: int = 0
    spec: str | None = None  # a simulated-Receiver spec JSON; None: llm.backends.simulated.default_spec()
    split: str = "train"  # the synthetic split the problems are drawn from
    fit_min: float = 1e3
    learners: tuple[str, ...] = LEARNERS
    bootstrap: int = 400  # seed resamples for the slope's interval

    @classmethod
    def quick(cls) -> Config:
        """The ``--quick`` preset (tests): 4 seeds x 4000 rounds, fit from T = 500."""
        return cls(horizon=4000, seeds=4, fit_min=500.0, bootstrap=100)

    def run_keys(self) -> dict[str, Any]:
        """The settings a stored run must match to be reused."""
        keys = ("horizon", "seeds", "chunk", "follow_cost", "delta", "seed", "spec", "split")
        return {k: getattr(self, k) for k in keys}


class Truth(NamedTuple):
    """Everything the simulator knows (JAX arrays; the learners see only their constructors' arguments)."""

    env: Env  # the persuasion game's truth (prior over states, u_S, u_R)
    success: jax.Array  # shape=(G, n), float32: p(g, a)
    obedience: jax.Array  # shape=(), float32: rho
    none: jax.Array  # shape=(), int32: index of "none"
    group: jax.Array  # shape=(N,), int32: group of each problem of the pool
    state: jax.Array  # shape=(N,), int32: state (helpful item) of each problem of the pool


class Setup(NamedTuple):
    """The experiment's game and pool (host side)."""

    spec: SimulatedSpec
    game: Any  # persuasion.Game
    states: tuple[str, ...]
    truth: Truth
    opt: float
    pool_size: int


def setup(cfg: Config) -> Setup:
    """The simulated Receiver, its persuasion game weighted by the pool's group frequencies, and the pool."""
    spec = load_spec(cfg.spec)
    problems = synthetic_arithmetic(SIZES[cfg.split], SEEDS[cfg.split], cfg.split)
    groups = np.array([spec.group_index(p.group) for p in problems], dtype=np.int32)
    counts = np.bincount(groups, minlength=len(spec.groups))
    sim = persuasion_game(spec, dict(zip(spec.groups, counts.tolist())), cfg.follow_cost)
    env = make_env(sim.game)
    truth = Truth(
        env=env,
        success=jnp.asarray(spec.success_table(), jnp.float32),
        obedience=jnp.asarray(spec.obedience, jnp.float32),
        none=jnp.asarray(spec.none_index, jnp.int32),
        group=jnp.asarray(groups),
        state=jnp.asarray(sim.group_state[groups], jnp.int32),
    )
    return Setup(spec, sim.game, sim.states, truth, optimal_value(sim.game, env), len(problems))


def build(name: str, game: Any, cfg: Config) -> Algorithm:
    """The learner ``name``, told only what its setting allows (the unknown-prior learners get ``u_S``, ``u_R``)."""
    makers: dict[str, Callable[[], Algorithm]] = {
        "robust": lambda: robust_learner(game.sender_utility, game.receiver_utility, delta=cfg.delta),
        "plugin": lambda: plugin_learner(game.sender_utility, game.receiver_utility),
        "full_disclosure": lambda: full_disclosure_baseline(game),
        "no_disclosure": lambda: no_disclosure_baseline(game),
        "oracle": lambda: oracle(game),
    }
    if name not in makers:
        raise SystemExit(f"unknown learner {name!r}; expected one of {sorted(makers)}")
    return makers[name]()


@functools.lru_cache(maxsize=16)
def _chunk_runner(act: Callable, update: Callable) -> Callable:
    """Jitted ``(truth, states, keys, opt) -> (states, sums)``: a chunk of rounds for every seed (vmapped)."""

    def one_seed(truth: Truth, state: Any, keys: jax.Array, opt: jax.Array):
        def body(st, k):
            i = jax.random.randint(k[0], (), 0, truth.group.shape[0])  # the problem x_t
            g, s = truth.group[i], truth.state[i]
            dec = act(st, k[1], s)
            out = outcome(truth.env, dec.scheme)
            follow = out.response[0, dec.signal]  # the item the Bayesian Receiver decides to act on
            u = jax.random.uniform(k[2], (2,))
            _, correct = respond(truth.success, truth.obedience, truth.none, g, follow, u[0], u[1])
            utility = correct.astype(jnp.float32)
            st = update(st, Feedback(s, dec.signal, dec.arm, follow, utility))
            metrics = jnp.stack([
                opt - out.value,
                opt - utility,
                (follow != truth.env.intent[0, dec.signal]).astype(jnp.float32),
                (out.obey_prob < 1.0 - UNPERSUASIVE_TOL).astype(jnp.float32),
                utility,
            ])
            return st, metrics

        state, metrics = jax.lax.scan(body, state, keys)
        return state, metrics.sum(axis=0)

    return jax.jit(jax.vmap(one_seed, in_axes=(None, 0, 0, None)))


@functools.partial(jax.jit, static_argnums=2)
def _round_keys(seed_keys: jax.Array, index: jax.Array, chunk: int) -> jax.Array:
    return jax.vmap(lambda k: jax.random.split(jax.random.fold_in(k, index), (chunk, 3)))(seed_keys)


def simulate_bpa(su: Setup, algorithm: Algorithm, cfg: Config) -> dict[str, np.ndarray]:
    """Runs ``cfg.seeds`` copies of ``algorithm`` for ``cfg.horizon`` rounds; cumulative metrics at chunk ends.

    Returns:
        ``t`` (rounds done, shape ``(C,)``) and each of :data:`METRICS`, shape ``(seeds, C)``, cumulative.
    """
    if cfg.horizon < cfg.chunk or cfg.horizon % cfg.chunk or cfg.seeds < 1:
        raise SystemExit(f"need seeds >= 1 and horizon a positive multiple of chunk={cfg.chunk}, got {cfg.horizon}")
    key = jax.random.key(cfg.seed)
    init_keys, loop_keys = jnp.split(jax.random.split(key, 2 * cfg.seeds), 2)
    states = jax.vmap(algorithm.init)(init_keys)
    runner = _chunk_runner(algorithm.act, algorithm.update)
    bounds = set(doubling_schedule(cfg.horizon, cfg.chunk)) if algorithm.plan is not None else set()
    opt = jnp.asarray(su.opt, jnp.float32)
    sums = []
    for c in range(cfg.horizon // cfg.chunk):
        if c * cfg.chunk in bounds:
            states = algorithm.plan(states, c * cfg.chunk)
        states, s = runner(su.truth, states, _round_keys(loop_keys, jnp.asarray(c, jnp.uint32), cfg.chunk), opt)
        sums.append(s)
    cum = np.cumsum(np.asarray(jax.device_get(jnp.stack(sums, axis=1)), dtype=float), axis=1)
    out = {name: cum[..., k] for k, name in enumerate(METRICS)}
    out["t"] = np.arange(1, cfg.horizon // cfg.chunk + 1, dtype=float) * cfg.chunk
    return out


def log_grid(t: np.ndarray, points: int = 60) -> np.ndarray:
    """Indices of ``t`` nearest to ``points`` log-spaced values (deduplicated, the last included)."""
    idx = np.unique(np.searchsorted(t, np.geomspace(t[0], t[-1], points)).clip(0, len(t) - 1))
    return np.union1d(idx, [len(t) - 1])


def slope_interval(t: np.ndarray, regret: np.ndarray, t_min: float, reps: int, seed: int) -> list[float | None]:
    """95% percentile interval of the log-log slope of the mean regret, resampling seeds with replacement."""
    rng = np.random.default_rng(seed)
    n = regret.shape[0]
    slopes = []
    for _ in range(reps):
        s = loglog_slope(t, regret[rng.integers(0, n, n)].mean(axis=0), t_min, t[-1])
        if not math.isnan(s):
            slopes.append(s)
    if len(slopes) < max(10, reps // 2):
        return [None, None]
    return [float(np.percentile(slopes, 2.5)), float(np.percentile(slopes, 97.5))]


def _none(x: float) -> float | None:
    return None if math.isnan(x) else x


def run_one(name: str, su: Setup, cfg: Config) -> dict[str, Any]:
    """Simulates learner ``name`` and returns its JSON record."""
    start = time.perf_counter()
    trace = simulate_bpa(su, build(name, su.game, cfg), cfg)
    seconds = time.perf_counter() - start
    t, regret = trace["t"], trace["regret"]
    T = float(t[-1])
    idx = log_grid(t)
    b = band(regret[:, idx])
    final = regret[:, -1]
    half = 1.96 * final.std(ddof=1) / math.sqrt(len(final)) if len(final) > 1 else 0.0
    slope = loglog_slope(t, regret.mean(axis=0), cfg.fit_min, T)
    m = su.game.m
    summary = {
        "slope": None if math.isnan(slope) else slope,
        "slope_ci95": slope_interval(t, regret, cfg.fit_min, cfg.bootstrap, cfg.seed) if not math.isnan(slope)
        else [None, None],
        "slope_last_decade": _none(loglog_slope(t, regret.mean(axis=0), T / 10, T)),
        "final_regret": float(final.mean()),
        "final_regret_ci95": [float(final.mean() - half), float(final.mean() + half)],
        "final_realized_regret": float(trace["realized_regret"][:, -1].mean()),
        "success_rate": float(trace["correct"][:, -1].mean() / T),
        "violation_rate": float(trace["unpersuasive"][:, -1].mean() / T),
        "run_violation_rate": float((trace["unpersuasive"][:, -1] > 0).mean()),
        "disobedience_rate": float(trace["disobeyed"][:, -1].mean() / T),
        "bound_ratio": float(final.mean() / seed_bound(m, T)),
        "sqrt_t_log_t_ratio": float(final.mean() / math.sqrt(T * math.log(T))),
        "opt": su.opt,
        "horizon": int(T),
        "seeds": cfg.seeds,
        "seconds": seconds,
    }
    return {
        "learner": name,
        "config": dataclasses.asdict(cfg),
        "m": m,
        "n": su.game.n,
        "states": list(su.states),
        "t": t[idx].tolist(),
        "mean": b.mean.tolist(),
        "band_low": b.low.tolist(),
        "band_high": b.high.tolist(),
        "ci_low": b.ci_low.tolist(),
        "ci_high": b.ci_high.tolist(),
        "realized_mean": trace["realized_regret"][:, idx].mean(axis=0).tolist(),
        "bound": {"formula": "m^1.5 sqrt(T ln T) (seed paper, constant 1)", "values": seed_bound(m, t[idx]).tolist()},
        "summary": summary,
    }


def load_run(path: Path, cfg: Config) -> dict[str, Any] | None:
    """The stored record at ``path`` if it exists and was made with the same settings, else ``None``."""
    try:
        rec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    stored = {k: rec.get("config", {}).get(k) for k in cfg.run_keys()}
    return rec if stored == cfg.run_keys() else None


def game_record(su: Setup, cfg: Config) -> dict[str, Any]:
    """The ground truth: the game, its optimal scheme and the reference values."""
    import persuasion

    env = su.truth.env
    value = lambda scheme: float(outcome(env, jnp.asarray(scheme, jnp.float32)).value)  # noqa: E731
    from persuasion.online import full_disclosure, no_disclosure

    sol = persuasion.solve(su.game)
    return {
        "states": list(su.states),
        "actions": list(su.game.action_names),
        "prior": su.game.prior.tolist(),
        "sender_utility": su.game.sender_utility.tolist(),
        "receiver_utility": su.game.receiver_utility.tolist(),
        "follow_cost": cfg.follow_cost,
        "obedience": su.spec.obedience,
        "opt": su.opt,
        "optimal_scheme": np.round(sol.scheme, 6).tolist(),
        "full_disclosure_value": value(full_disclosure(su.game)),
        "no_disclosure_value": value(no_disclosure(su.game)),
        "per_group_optimum_c0": su.spec.optimal_value(),
        "pool": {"split": cfg.split, "problems": su.pool_size},
    }


def table(records: Sequence[dict[str, Any]], cfg: Config, game: dict[str, Any]) -> str:
    """The Markdown table of the summaries."""
    T = cfg.horizon
    lines = [
        f"| learner | slope on [{cfg.fit_min:g}, {T:g}] (95% CI) | R_T at T = {T:g} (95% CI) | "
        f"slope on [{T / 10:g}, {T:g}] | R_T / (m^1.5 sqrt(T ln T)) | success rate | violation rate | "
        "disobedience rate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rec in records:
        s = rec["summary"]
        slope = "none (0 regret)" if s["slope"] is None else f"{s['slope']:.2f}"
        if s["slope"] is not None and s["slope_ci95"][0] is not None:
            slope += f" ({s['slope_ci95'][0]:.2f}-{s['slope_ci95'][1]:.2f})"
        lo, hi = s["final_regret_ci95"]
        late = "-" if s["slope_last_decade"] is None else f"{s['slope_last_decade']:.2f}"
        lines.append(
            f"| {rec['learner']} | {slope} | {s['final_regret']:.1f} ({lo:.1f}-{hi:.1f}) | {late} | "
            f"{s['bound_ratio']:.4f} | "
            f"{s['success_rate']:.4f} | {s['violation_rate']:.3f} | {s['disobedience_rate']:.3f} |"
        )
    lines.append("")
    lines.append(
        f"OPT = {game['opt']:.4f}; full disclosure {game['full_disclosure_value']:.4f}; no disclosure "
        f"{game['no_disclosure_value']:.4f}; m = {len(game['states'])} states, n = {len(game['actions'])} actions; "
        f"{cfg.seeds} seeds."
    )
    return "\n".join(lines) + "\n"


def plot(records: Sequence[dict[str, Any]], out: Path, cfg: Config) -> str:
    """Regret vs T (log-log, 95% seed bands, the seed paper's bound and a sqrt(T log T) guide); returns the name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"robust": "C0", "plugin": "C3", "full_disclosure": "C2", "no_disclosure": "C7"}
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    robust = None
    for rec in records:
        if rec["learner"] not in colors:
            continue
        t = np.array(rec["t"])
        mean = np.array(rec["mean"])
        s = rec["summary"]
        label = rec["learner"] + ("" if s["slope"] is None else f" (slope {s['slope']:.2f})")
        ax.plot(t, mean, color=colors[rec["learner"]], label=label)
        ax.fill_between(t, np.maximum(rec["band_low"], 1e-3), rec["band_high"], color=colors[rec["learner"]],
                        alpha=0.2, linewidth=0)
        if rec["learner"] == "robust":
            robust = rec
    if robust is not None:
        t = np.array(robust["t"])
        ax.plot(t, robust["bound"]["values"], "k--", label="m^1.5 sqrt(T ln T) (seed paper, c = 1)")
        guide = np.sqrt(t * np.log(t))
        ax.plot(t, guide * robust["mean"][-1] / guide[-1], "k:", label="sqrt(T ln T), matched at T")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("round T")
    ax.set_ylabel("cumulative regret R_T (success units)")
    ax.set_title(f"Advisor vs simulated Receiver: {cfg.seeds} seeds, c = {cfg.follow_cost:g} (bands: 95% of seeds)")
    ax.set_ylim(bottom=max(1e-1, ax.get_ylim()[0]))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8)
    name = "bpa_regret.png"
    fig.savefig(out / name, dpi=FIG_DPI, bbox_inches="tight")
    fig.savefig(out / "bpa_regret.pdf", bbox_inches="tight")
    plt.close(fig)
    return name


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--quick", action="store_true", help="4 seeds x 4000 rounds (seconds; for tests)")
    defaults = Config()
    lowest = {"horizon": 1, "seeds": 1, "seed": 0, "chunk": 1}
    for f in ("horizon", "seeds", "seed", "follow_cost", "delta", "chunk"):
        kind = at_least(lowest[f]) if f in lowest else float
        parser.add_argument("--" + f.replace("_", "-"), type=kind,
                            help=f"override {f} (default {getattr(defaults, f)})")
    parser.add_argument("--spec", help="simulated-Receiver spec JSON (default: llm.backends.simulated.default_spec())")
    parser.add_argument("--learners", nargs="+", choices=LEARNERS, help="learners to run (default: all)")
    parser.add_argument("--no-plots", action="store_true", help="skip the figure")
    try:
        args = parser.parse_args(argv)
        cfg = Config.quick() if args.quick else defaults
        overrides = {f: getattr(args, f) for f in ("horizon", "seeds", "seed", "follow_cost", "delta", "chunk", "spec")}
        if args.learners:
            overrides["learners"] = tuple(args.learners)
        cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
        if cfg.horizon % cfg.chunk:
            raise UsageError(f"--horizon must be a multiple of --chunk ({cfg.chunk}), got {cfg.horizon}")
        out = output_folder(args.out, "--out")
        output_folder(out / "runs", "--out")
        start = time.perf_counter()
        try:
            su = setup(cfg)
        except (SimulatedSpecError, GameError) as exc:
            if not cfg.spec:  # the default spec failing is a bug, not bad input
                raise
            raise UsageError(f"--spec {cfg.spec}: {exc}") from None
    except UsageError as exc:
        return fail(exc)
    game = game_record(su, cfg)
    write_json_atomic(out / "config.json", {"config": dataclasses.asdict(cfg), "game": game})
    records = []
    for name in cfg.learners:
        path = out / "runs" / f"{name}.json"
        rec = load_run(path, cfg)
        if rec is None:
            rec = run_one(name, su, cfg)
            write_json_atomic(path, rec)
            s = rec["summary"]
            print(f"{name}: R_T = {s['final_regret']:.1f}, slope {s['slope']}, {s['seconds']:.1f} s", flush=True)
        else:
            print(f"{name}: reused {path}", flush=True)
        records.append(rec)
    summary = {
        "config": dataclasses.asdict(cfg),
        "game": game,
        "learners": {r["learner"]: r["summary"] for r in records},
        "wall_seconds": time.perf_counter() - start,
        "jax": {"version": jax.__version__, "backend": jax.default_backend()},
    }
    write_json_atomic(out / "summary.json", summary)
    (out / "table.md").write_text(table(records, cfg, game))
    if not args.no_plots:
        plot(records, out, cfg)
    print(table(records, cfg, game))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Regret of every online persuasion learner on toy games, against the bounds.

Runs the unknown-prior learners (robust, plugin, mirror_descent) and the baselines (oracle, full and no
disclosure) on the prosecutor-judge game and on random m-state games (m in {2, 4, 8, 16}), and the unknown-type
bandit learners (exp3, etc) with the same baselines on the two-judge prosecutor game (and random typed games in
the full run).

Usage::

    python experiments/regret_toy.py --out results/regret_toy --quick   # ~1 min on 2 CPU cores
    python experiments/regret_toy.py --out results/regret_toy           # 64 seeds x 1e5 rounds (~10-20 min)

Writes (atomically; a rerun skips runs whose JSON exists with the same config, so a killed run resumes):

* ``DIR/config.json``: the configuration and seed;
* ``DIR/runs/GAME__ALGORITHM.json``: the T grid, mean / 95% band / 95% CI of cumulative regret, the bound curve,
  and the run's summary;
* ``DIR/summary.json``: ``{"algorithms": {NAME: {"slope", "violation_rate", "final_regret", ...}}, "games": ...,
  "scaling": ...}`` where ``slope`` is the log-log slope of mean cumulative regret over T in [1e3, 1e5]
  (``[1e3, T]`` when T < 1e5) on the headline game (prosecutor; two-judge prosecutor for the bandit learners);
* ``DIR/*.png`` (200 dpi) and ``DIR/*.pdf`` (vector): regret vs T (log-log, bounds overlaid) and regret vs m.

``--quick`` draws one random game per m: its regret-vs-m fit is a smoke test, not a result (it says so).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from llm.store import write_json_atomic
from persuasion.base import Algorithm
from persuasion.game import Game
from persuasion.online.analysis import band, fit_exponents, log_grid, loglog_slope, seed_bound, summarize
from persuasion.online.baselines import full_disclosure_baseline, no_disclosure_baseline, oracle
from persuasion.online.envs import make_env, outcome
from persuasion.online.exp3 import exp3, exp3_bound
from persuasion.online.explore_then_commit import etc_bound, explore_then_commit
from persuasion.online.games import prosecutor_game, random_game, random_typed_game, typed_prosecutor_game
from persuasion.online.mirror_descent import mirror_descent_learner
from persuasion.online.plugin import plugin_learner
from persuasion.online.robust_learner import robust_learner
from persuasion.online.schemes import scheme_family
from persuasion.online.simulate import Trace, optimal_value, simulate
from persuasion.usage import ArgumentParser, UsageError, at_least, fail, output_folder

PRIOR_ALGORITHMS = ("robust", "plugin", "mirror_descent", "oracle", "full_disclosure", "no_disclosure")
TYPE_ALGORITHMS = ("exp3", "etc", "oracle", "full_disclosure", "no_disclosure")


@dataclass(frozen=True)
class Config:
    """One experiment's settings (saved to ``config.json`` and in every run's JSON)."""

    horizon: int = 100_000
    seeds: int = 64
    ms: tuple[int, ...] = (2, 4, 8, 16)
    games_per_m: int = 3
    n_actions: int = 3
    typed_ms: tuple[int, ...] = (2, 4, 8, 16)
    chunk: int = 100
    delta: float = 0.05
    seed: int = 0
    fit_min: float = 1e3
    fit_max: float = 1e5

    @classmethod
    def quick(cls) -> Config:
        """The ``--quick`` preset: 16 seeds x 2e4 rounds, one random game per m, no random typed games."""
        return cls(horizon=20_000, seeds=16, games_per_m=1, typed_ms=())

    def run_keys(self) -> dict[str, Any]:
        """The settings a stored run must match to be reused."""
        return {k: getattr(self, k) for k in ("horizon", "seeds", "chunk", "delta", "seed", "n_actions")}


@dataclass(frozen=True)
class RunSpec:
    game: Game
    algorithm: str
    setting: str  # "unknown_prior" or "unknown_type"
    m: int

    @property
    def name(self) -> str:
        return f"{self.game.name}__{self.algorithm}"


def plan_runs(cfg: Config) -> list[RunSpec]:
    """Every (game, algorithm) run of the experiment, the headline games first."""
    specs = [RunSpec(prosecutor_game(), a, "unknown_prior", 2) for a in PRIOR_ALGORITHMS]
    specs += [RunSpec(typed_prosecutor_game(), a, "unknown_type", 2) for a in TYPE_ALGORITHMS]
    for m in cfg.ms:
        for g in range(cfg.games_per_m):
            game = random_game(cfg.seed * 1000 + g, m, cfg.n_actions)
            specs += [RunSpec(game, a, "unknown_prior", m) for a in PRIOR_ALGORITHMS]
    for m in cfg.typed_ms:
        game = random_typed_game(cfg.seed * 1000, m)
        specs += [RunSpec(game, a, "unknown_type", m) for a in TYPE_ALGORITHMS]
    return specs


def build(spec: RunSpec, cfg: Config, family: np.ndarray | None) -> Algorithm:
    """The learner of ``spec`` (each told only what its setting allows)."""
    g = spec.game
    makers: dict[str, Callable[[], Algorithm]] = {
        "robust": lambda: robust_learner(g.sender_utility, g.receiver_utility, delta=cfg.delta),
        "plugin": lambda: plugin_learner(g.sender_utility, g.receiver_utility),
        "mirror_descent": lambda: mirror_descent_learner(g.sender_utility, g.receiver_utility),
        "oracle": lambda: oracle(g),
        "full_disclosure": lambda: full_disclosure_baseline(g),
        "no_disclosure": lambda: no_disclosure_baseline(g),
        "exp3": lambda: exp3(family, g.sender_utility, cfg.horizon),
        "etc": lambda: explore_then_commit(family, cfg.horizon),
    }
    return makers[spec.algorithm]()


def bound_curve(spec: RunSpec, t: np.ndarray, family: np.ndarray | None, gap: float) -> dict[str, Any]:
    """The reference bound for the run's setting, with constant 1 unless the bound states its constant."""
    if spec.setting == "unknown_prior":
        return {"formula": "m^1.5 sqrt(T ln T) (seed paper, constant 1)", "values": seed_bound(spec.m, t).tolist()}
    span = float(np.ptp(spec.game.sender_utility))
    F = int(family.shape[0])
    if spec.algorithm == "etc":
        vals = etc_bound(t, F, span) + gap * t
        return {"formula": f"span F^(1/3) T^(2/3) (ln T)^(1/3) + gap T (F={F}, constant 1)", "values": vals.tolist()}
    vals = exp3_bound(t, F, span) + gap * t
    return {"formula": f"span sqrt(2 T F ln F) + gap T (Exp3, F={F})", "values": vals.tolist()}


def family_of(game: Game) -> tuple[np.ndarray, float]:
    """The bandit learners' scheme family for ``game`` and its gap ``OPT - max_f V(phi_f)`` (>= 0)."""
    family = scheme_family(game)
    env = make_env(game)
    best = max(float(outcome(env, jnp.asarray(f, jnp.float32)).value) for f in family)
    return family, max(0.0, optimal_value(game, env) - best)


def run_one(
    spec: RunSpec, cfg: Config, key: jax.Array, family: np.ndarray | None = None, gap: float = 0.0
) -> dict[str, Any]:
    """Simulates one run and returns its JSON record (``family``: the scheme family in the unknown-type setting)."""
    if spec.setting == "unknown_type" and family is None:
        family, gap = family_of(spec.game)
    trace: Trace = simulate(
        spec.game, build(spec, cfg, family), key, horizon=cfg.horizon, seeds=cfg.seeds, chunk=cfg.chunk
    )
    idx = log_grid(trace.t)
    t = trace.t[idx].astype(float)
    b = band(trace.regret[:, idx])
    bound = bound_curve(spec, t, family, gap)
    summary = summarize(trace, cfg.fit_min, min(cfg.fit_max, cfg.horizon))
    summary["bound_ratio"] = summary["final_regret"] / bound["values"][-1]
    summary["bound_formula"] = bound["formula"]
    record = {
        "game": spec.game.name,
        "algorithm": spec.algorithm,
        "setting": spec.setting,
        "m": spec.game.m,
        "n": spec.game.n,
        "K": spec.game.K,
        "config": dataclasses.asdict(cfg),
        "seed": cfg.seed,
        "t": t.tolist(),
        "mean": b.mean.tolist(),
        "band_low": b.low.tolist(),
        "band_high": b.high.tolist(),
        "ci_low": b.ci_low.tolist(),
        "ci_high": b.ci_high.tolist(),
        "realized_mean": trace.realized_regret[:, idx].mean(axis=0).tolist(),
        "bound": bound,
        "summary": summary,
    }
    if family is not None:
        record["family_size"] = int(family.shape[0])
        record["family_gap"] = gap
    return record


def load_run(path: Path, cfg: Config) -> dict[str, Any] | None:
    """The stored run at ``path`` if it exists and was made with the same settings, else None."""
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text())
    except (json.JSONDecodeError, OSError):
        return None
    stored = rec.get("config", {})
    if any(stored.get(k) != v for k, v in cfg.run_keys().items()):
        return None
    return rec


def scaling(records: Sequence[dict[str, Any]], cfg: Config) -> dict[str, Any]:
    """Joint fit ``log R = c + alpha log m + beta log T`` per algorithm over the random games."""
    out: dict[str, Any] = {}
    hi = min(cfg.fit_max, cfg.horizon)
    for alg in ("robust", "plugin", "mirror_descent", "exp3", "etc"):
        rows = [r for r in records if r["algorithm"] == alg and r["game"].startswith("random")]
        ms = sorted({r["m"] for r in rows})
        if len(ms) < 2:
            continue
        pts_m, pts_t, pts_r, by_m = [], [], [], {}
        for m in ms:
            curves = np.array([r["mean"] for r in rows if r["m"] == m])
            t = np.array(rows[0]["t"])
            mean = curves.mean(axis=0)
            by_m[str(m)] = {"final_regret": float(mean[-1]), "slope": _none(loglog_slope(t, mean, cfg.fit_min, hi))}
            sel = (t >= cfg.fit_min) & (t <= hi) & (mean > 0)
            pts_m += [m] * int(sel.sum())
            pts_t += t[sel].tolist()
            pts_r += mean[sel].tolist()
        try:
            fit = fit_exponents(np.array(pts_m), np.array(pts_t), np.array(pts_r))
        except Exception as exc:  # noqa: BLE001 - e.g. zero regret everywhere
            out[alg] = {"error": str(exc), "by_m": by_m}
            continue
        out[alg] = {**fit._asdict(), "reference": {"alpha": 1.5, "beta": 0.5}, "by_m": by_m}
    return out


def caveats(cfg: Config) -> list[str]:
    """What a run with these settings cannot support (printed after the run and stored in ``summary.json``)."""
    out = []
    if cfg.ms and cfg.games_per_m < 2:
        out.append(
            f"{cfg.games_per_m} random game per m: regret varies more between games than with m, so the regret-vs-m "
            "fit (alpha) and the per-m rows are a smoke test, not for conclusions; the full run (no --quick) "
            "averages 3 games per m and 64 seeds"
        )
    return out


def _games(cfg: Config) -> str:
    return f"{cfg.games_per_m} game" + ("s" if cfg.games_per_m != 1 else "")


def _none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


#: Raster resolution of the PNG figures (a PDF vector copy is written beside each).
FIG_DPI = 200
#: Figure style: sizes in points, legible at a single-column width (figures are 6.4 x 4.4 inches).
FIG_STYLE = {
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.framealpha": 0.9,
    "lines.linewidth": 1.8,
    "savefig.bbox": "tight",
}
FIG_SIZE = (6.4, 4.4)


def plots(records: Sequence[dict[str, Any]], out: Path, cfg: Config, fits: dict[str, Any]) -> list[str]:
    """Writes the figures, each as a ``FIG_DPI`` PNG and a vector PDF; returns the PNG file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    colors = {"robust": "C0", "plugin": "C3", "full_disclosure": "C2", "no_disclosure": "C7", "exp3": "C4", "etc": "C1"}

    def save(fig: Any, ax: Any, fname: str) -> None:
        handles, _ = ax.get_legend_handles_labels()
        if handles:  # outside the axes, so no curve hides behind it
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        ax.grid(True, which="major", alpha=0.3)
        fig.savefig(out / fname, dpi=FIG_DPI)
        fig.savefig(out / Path(fname).with_suffix(".pdf"))
        plt.close(fig)
        names.append(fname)

    def curve_plot(game: str, algs: Sequence[str], fname: str, title: str) -> None:
        fig, ax = plt.subplots(figsize=FIG_SIZE)
        for rec in records:
            if rec["game"] != game or rec["algorithm"] not in algs:
                continue
            t, mean = np.array(rec["t"]), np.array(rec["mean"])
            ok = mean > 0
            if not ok.any():
                continue
            c = colors.get(rec["algorithm"], "k")
            ax.plot(t[ok], mean[ok], color=c, label=rec["algorithm"].replace("_", " "))
            ax.fill_between(
                t[ok],
                np.maximum(np.array(rec["band_low"])[ok], 1e-3),
                np.array(rec["band_high"])[ok],
                color=c,
                alpha=0.2,
                lw=0,
            )
            if rec["algorithm"] in ("robust", "exp3", "etc"):
                ax.plot(t, rec["bound"]["values"], color=c, ls="--", lw=1.2, label=f"bound ({rec['algorithm']})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rounds T")
        ax.set_ylabel("cumulative regret")
        ax.set_title(title)
        save(fig, ax, fname)

    with plt.rc_context(FIG_STYLE):
        curve_plot(
            "prosecutor",
            PRIOR_ALGORITHMS,
            "regret_vs_T_prosecutor.png",
            f"prosecutor, unknown prior\n({cfg.seeds} seeds; band: 95% of seeds)",
        )
        curve_plot(
            "prosecutor_typed",
            TYPE_ALGORITHMS,
            "regret_vs_T_typed.png",
            f"two-judge prosecutor, unknown type, bandit feedback\n({cfg.seeds} seeds; band: 95% of seeds)",
        )

        robust = [r for r in records if r["algorithm"] == "robust" and r["game"].startswith("random")]
        if robust:
            fig, ax = plt.subplots(figsize=FIG_SIZE)
            for i, m in enumerate(sorted({r["m"] for r in robust})):
                curves = np.array([r["mean"] for r in robust if r["m"] == m])
                t = np.array(robust[0]["t"])
                ax.plot(t, curves.mean(axis=0), color=f"C{i}", label=f"robust, m={m}")
                ax.plot(t, seed_bound(m, t), color=f"C{i}", ls="--", lw=1.2)
            ax.plot([], [], color="k", ls="--", lw=1.2, label="m^1.5 sqrt(T ln T)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("rounds T")
            ax.set_ylabel("cumulative regret")
            ax.set_title(f"random games: robust learner\n({_games(cfg)} per m, {cfg.seeds} seeds)")
            save(fig, ax, "regret_vs_T_random.png")

        if any(a in fits and "by_m" in fits[a] for a in ("robust", "plugin")):
            fig, ax = plt.subplots(figsize=FIG_SIZE)
            T = float(cfg.horizon)
            for alg in ("robust", "plugin"):
                if alg not in fits:
                    continue
                ms = np.array(sorted(int(m) for m in fits[alg]["by_m"]))
                vals = np.array([fits[alg]["by_m"][str(m)]["final_regret"] for m in ms])
                ax.plot(ms, vals, "o-", color=colors[alg], label=f"{alg} at T={cfg.horizon:g}")
                if "alpha" in fits[alg]:
                    f = fits[alg]
                    ax.plot(
                        ms,
                        np.exp(f["log_c"]) * ms ** f["alpha"] * T ** f["beta"],
                        color=colors[alg],
                        ls=":",
                        lw=1.5,
                        label=f"fit: alpha={f['alpha']:.2f}, beta={f['beta']:.2f}",
                    )
            ms = np.array(sorted({r["m"] for r in robust})) if robust else np.array([2, 16])
            ax.plot(ms, seed_bound(ms, T), "k--", lw=1.2, label="m^1.5 sqrt(T ln T)")
            ax.set_xscale("log", base=2)
            ax.set_xticks(ms, [str(int(m)) for m in ms])
            ax.minorticks_off()
            ax.set_yscale("log")
            ax.set_xlabel("states m")
            ax.set_ylabel(f"cumulative regret at T={cfg.horizon:g}")
            ax.set_title(f"regret vs m: random games, mean over seeds\nand {_games(cfg)} per m")
            save(fig, ax, "regret_vs_m.png")
    return names


def summary_json(records: Sequence[dict[str, Any]], cfg: Config, fits: dict[str, Any]) -> dict[str, Any]:
    """The ``summary.json`` content (each run's own scalar summary is :func:`persuasion.online.analysis.summarize`)."""
    games: dict[str, dict[str, Any]] = {}
    for r in records:
        games.setdefault(r["game"], {})[r["algorithm"]] = {"setting": r["setting"], "m": r["m"], **r["summary"]}
    algorithms: dict[str, Any] = {}
    for r in records:
        headline = r["game"] in ("prosecutor", "prosecutor_typed")
        if headline and r["algorithm"] not in algorithms:
            entry = {"game": r["game"], "setting": r["setting"], **r["summary"]}
            others = [
                q["summary"]
                for q in records
                if q["algorithm"] == r["algorithm"] and q["setting"] == r["setting"] and q["game"] != r["game"]
            ]
            slopes = [s["slope"] for s in others if s["slope"] is not None]
            if others:
                entry["other_games"] = {
                    "count": len(others),
                    "mean_slope": float(np.mean(slopes)) if slopes else None,
                    "mean_violation_rate": float(np.mean([s["violation_rate"] for s in others])),
                    "max_violation_rate": float(np.max([s["violation_rate"] for s in others])),
                }
            key = (
                r["algorithm"]
                if r["setting"] == "unknown_prior" or r["algorithm"] in ("exp3", "etc")
                else f"{r['algorithm']}_typed"
            )
            algorithms[key] = entry
    return {"config": dataclasses.asdict(cfg), "algorithms": algorithms, "games": games, "scaling": fits}


def headline_table(summary: dict[str, Any]) -> str:
    """The headline rows of ``summary.json`` as a Markdown table (printed at the end of a run)."""

    def num(x: float | None, fmt: str) -> str:
        return "–" if x is None else format(x, fmt)

    rows = [
        "| algorithm | game | regret R_T [95% CI] | log-log slope | violation rate | R_T / bound |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in summary["algorithms"].items():
        lo, hi = s["final_regret_ci95"]
        ratio = s.get("bound_ratio")
        ratio = ratio if ratio is not None and math.isfinite(ratio) else None
        rows.append(
            f"| {name} | {s['game']} | {s['final_regret']:.1f} [{lo:.1f}, {hi:.1f}] | {num(s['slope'], '.2f')} "
            f"| {s['violation_rate']:.4f} | {num(ratio, '.3f')} |"
        )
    return "\n".join(rows)


def parse_config(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Config]:
    """The command line and the configuration it asks for.

    Raises:
        UsageError: one line naming the flag that cannot be used.
    """
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--quick", action="store_true", help="16 seeds x 2e4 rounds (~1 min on 2 CPU cores)")
    parser.add_argument("--seeds", type=at_least(1), help="override the number of seeds")
    parser.add_argument("--horizon", type=at_least(1), help="override T (a multiple of the chunk, 100)")
    parser.add_argument("--ms", type=at_least(1), nargs="+", help="override the random games' state counts")
    parser.add_argument("--typed-ms", type=at_least(1), nargs="*",
                        help="override the random typed games' state counts")
    parser.add_argument("--seed", type=at_least(0), help="override the master seed")
    parser.add_argument("--games-per-m", type=at_least(1), help="override the random games per state count")
    parser.add_argument("--n-actions", type=at_least(2), help="override the random games' number of actions (3)")
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    cfg = Config.quick() if args.quick else Config()
    given = {
        "seeds": args.seeds,
        "horizon": args.horizon,
        "seed": args.seed,
        "games_per_m": args.games_per_m,
        "n_actions": args.n_actions,
        "ms": tuple(args.ms) if args.ms else None,
        "typed_ms": tuple(args.typed_ms) if args.typed_ms is not None else None,
    }
    overrides = {k: v for k, v in given.items() if v is not None}
    cfg = dataclasses.replace(cfg, **overrides)
    if cfg.horizon % cfg.chunk:
        raise UsageError(f"--horizon must be a multiple of {cfg.chunk} (the simulation's chunk), got {cfg.horizon}")
    return args, cfg


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args, cfg = parse_config(argv)
        out = output_folder(args.out, "--out")
    except UsageError as exc:
        return fail(exc)
    write_json_atomic(out / "config.json", dataclasses.asdict(cfg), indent=1)

    from tqdm.auto import tqdm

    start = time.perf_counter()
    specs = plan_runs(cfg)
    records, reused = [], 0
    families: dict[str, tuple[np.ndarray, float]] = {}
    bar = tqdm(specs, desc="regret_toy", unit="run", disable=args.no_progress)
    for spec in bar:
        bar.set_postfix_str(spec.name)
        path = out / "runs" / f"{spec.name}.json"
        rec = load_run(path, cfg)
        if rec is None:
            key = jax.random.fold_in(jax.random.key(cfg.seed), zlib.crc32(spec.game.name.encode()) & 0x7FFFFFFF)
            fam, gap = None, 0.0
            if spec.setting == "unknown_type":
                if spec.game.name not in families:
                    families[spec.game.name] = family_of(spec.game)
                fam, gap = families[spec.game.name]
            rec = run_one(spec, cfg, key, fam, gap)
            write_json_atomic(path, rec, indent=1)
        else:
            reused += 1
        records.append(rec)
    fits = scaling(records, cfg)
    summary = summary_json(records, cfg, fits)
    summary["caveats"] = caveats(cfg)
    summary["figures"] = [] if args.no_plots else plots(records, out, cfg, fits)
    summary["runs"] = len(records)
    summary["reused_runs"] = reused
    summary["runtime_seconds"] = time.perf_counter() - start
    write_json_atomic(out / "summary.json", summary, indent=1)
    print(headline_table(summary))
    print(f"wrote {out / 'summary.json'} ({len(records)} runs, {reused} reused, {summary['runtime_seconds']:.1f} s)")
    for line in summary["caveats"]:
        print(f"note: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

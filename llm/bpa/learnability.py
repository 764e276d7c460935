"""Learnability diagnostics: is there item-specific headroom, is it real, and can a state model find it?

All of it reads training feedback only: ``y[x, a, j]``, the grade of sample ``j`` of training problem ``x`` under arm
``a`` (the catalogue's items with ``none``, and as many *placebo* arms: ``none`` plus content-free hints of matched
length, :func:`placebo_items`). Every function here is pure over arrays (``docs/method.md``, "Before claiming
anything").

(a) **Placebo oracle** (:func:`placebo_check`). The best-of-``m`` oracle takes, per sample, the best of ``m`` arms:
``O = mean_x mean_j max_a y[x, a, j]``. Any change of the prompt perturbs a language model's answer, so ``O`` also
collects perturbation luck; the same best-of-``m`` over the placebo arms, ``O_0``, collects only that.
``O - O_0`` is the item-specific headroom (paired bootstrap interval over problems).

(b) **Split-sample check** (:func:`split_sample`). The ``k`` samples of every cell are split in halves ``A`` and
``B``. With ``e_H(x, a)`` the two-way residual of half ``H``'s cell means (problem and arm main effects removed),

.. math:: \\hat V_{int} = \\frac{\\sum_{x, a} e_A(x, a)\\, e_B(x, a)}{(P - 1)(m - 1)}

estimates the problem x arm interaction variance that survives the noise (the halves' noise is independent, so
it cancels in the cross product); the same for the placebo arms is what perturbations alone give. The
cross-fitted oracle chooses on one half the arm with the largest gain over ``none`` (``none`` unless positive) and
scores its gain on the other half, both ways averaged: a winner's curse cannot survive it.

(c) **Cross-validated policy value** (:func:`cross_fit`). K-fold over problems: the state model
(:mod:`llm.bpa.state`) is fitted on the other folds and chooses an item (or silence) for each held-out problem; its
value is the held-out gain ``r(x, chosen) - r(x, none)`` from the ``k`` samples of the very arms (exact: every arm is
observed), against always-silent (0) and the best single item (chosen on the other folds). The same at growing
training sizes is the learning curve (:func:`learning_curve`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from llm.bpa.gains import observed_gains, z_value
from llm.bpa.state import fit_gain_model
from llm.game.catalogue import NONE_ID, Catalogue, Item

#: Content-free words the placebo hints are cut from (no item's name or strategy occurs in them).
PLACEBO_WORDS = ("Read the question once more, slowly and calmly, then give your answer in the usual format. "
                 "Take your time and keep going until you are done with it.").split()
#: The prefix of placebo item ids.
PLACEBO_PREFIX = "placebo"


def placebo_items(catalogue: Catalogue) -> tuple[Item, ...]:
    """One content-free hint per non-``none`` item, of the same number of words as that item's hint."""
    out = []
    for j, item in enumerate(it for it in catalogue.items if it.id != NONE_ID):
        n = max(1, len(item.hint_text.split()))
        words = [PLACEBO_WORDS[(j + i) % len(PLACEBO_WORDS)] for i in range(n)]
        text = " ".join(words).rstrip(",.") + "."
        out.append(Item(f"{PLACEBO_PREFIX}{j + 1}", f"{PLACEBO_PREFIX} {j + 1}", "A content-free hint.",
                        text[0].upper() + text[1:]))
    return tuple(out)


@dataclass(frozen=True)
class Outcomes:
    """``y[x, a, j]`` (bool) for ``problem_ids`` x ``arms`` x ``k`` samples."""

    problem_ids: tuple[str, ...]
    arms: tuple[str, ...]
    y: np.ndarray

    def select(self, arms: Sequence[str]) -> np.ndarray:
        """``y`` restricted to ``arms`` in that order, ``(P, len(arms), k)``."""
        return self.y[:, [self.arms.index(a) for a in arms], :]


def outcomes(rows: Sequence[Any], arms: Sequence[str]) -> Outcomes:
    """The template feedback rows (:class:`llm.rows.FeedbackRow`) of problems that have every arm, as one array.

    Raises:
        ValueError: no complete problem, or cells with different numbers of samples (the diagnostics need the full
            grid: run them with the grid design).
    """
    cells: dict[str, dict[str, tuple[bool, ...]]] = {}
    for r in rows:
        if r.source == "template" and r.item in arms:
            cells.setdefault(r.problem_id, {})[r.item] = tuple(r.correct)
    ids = tuple(p for p, c in cells.items() if all(a in c for a in arms))
    if not ids:
        raise ValueError("no training problem has feedback for every arm: nothing to diagnose")
    ks = {len(cells[p][a]) for p in ids for a in arms}
    if len(ks) != 1:
        raise ValueError(f"cells have different sample counts {sorted(ks)}: the diagnostics need the full grid")
    y = np.array([[cells[p][a] for a in arms] for p in ids], dtype=bool)
    return Outcomes(ids, tuple(arms), y)


def bootstrap(values: np.ndarray, *, level: float = 0.95, resamples: int = 2000, seed: int = 0) -> dict[str, float]:
    """Mean of per-problem ``values`` with a percentile bootstrap interval over problems."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return {"mean": float(values.mean()), "lo": float(lo), "hi": float(hi), "n": int(len(values))}


def best_of(y: np.ndarray) -> np.ndarray:
    """Per problem, the share of samples ``j`` on which some arm was right: ``mean_j max_a y[x, a, j]``."""
    return np.asarray(y, dtype=float).max(axis=1).mean(axis=1)


def placebo_check(items: np.ndarray, placebo: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    """(a): the oracle over the items (``none`` included), the oracle over as many placebo arms, their difference.

    Raises:
        ValueError: the two sets have different numbers of arms or samples.
    """
    if items.shape[1:] != placebo.shape[1:] or len(items) != len(placebo):
        raise ValueError(f"items {items.shape} and placebo arms {placebo.shape} must match in shape")
    real, fake = best_of(items), best_of(placebo)
    return {"oracle": bootstrap(real, seed=seed), "placebo_oracle": bootstrap(fake, seed=seed),
            "headroom": bootstrap(real - fake, seed=seed)}


def halves(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell means of the first and second half of the samples, each ``(P, m)`` (needs ``k >= 2``)."""
    k = y.shape[2]
    if k < 2:
        raise ValueError(f"the split-sample check needs k >= 2 samples per cell, got {k}")
    y = np.asarray(y, dtype=float)
    return y[:, :, : k // 2].mean(axis=2), y[:, :, k // 2 :].mean(axis=2)


def _residual(r: np.ndarray) -> np.ndarray:
    return r - r.mean(axis=1, keepdims=True) - r.mean(axis=0, keepdims=True) + r.mean()


def interaction_variance(r_a: np.ndarray, r_b: np.ndarray) -> float:
    """``V_int`` of the module doc from two independent halves' cell means ``(P, m)``."""
    p, m = r_a.shape
    if p < 2 or m < 2:
        raise ValueError(f"the interaction needs at least 2 problems and 2 arms, got {p} and {m}")
    return float(np.sum(_residual(r_a) * _residual(r_b)) / ((p - 1) * (m - 1)))


def cross_fit_gains(r_a: np.ndarray, r_b: np.ndarray, none_index: int) -> np.ndarray:
    """Per problem: choose on one half (largest gain over ``none``, ``none`` unless positive), score the gain on the
    other; the two directions averaged."""
    def one(choose: np.ndarray, score: np.ndarray) -> np.ndarray:
        gain = choose - choose[:, [none_index]]
        pick = np.where(gain.max(axis=1) > 0, gain.argmax(axis=1), none_index)
        return score[np.arange(len(pick)), pick] - score[:, none_index]

    return (one(r_a, r_b) + one(r_b, r_a)) / 2


def split_sample(items: np.ndarray, placebo: np.ndarray, none_index: int, *, seed: int = 0) -> dict[str, Any]:
    """(b) for the items and for the placebo arms (``none`` at ``none_index`` in both): the surviving interaction
    variance (with a bootstrap interval over problems) and the cross-fitted gain over silence."""
    out: dict[str, Any] = {}
    rng = np.random.default_rng(seed)
    for name, y in (("items", items), ("placebo", placebo)):
        r_a, r_b = halves(y)
        boots = [interaction_variance(r_a[i], r_b[i]) for i in
                 (rng.integers(0, len(r_a), len(r_a)) for _ in range(500))]
        lo, hi = np.quantile(boots, [0.025, 0.975])
        out[name] = {"interaction_variance": {"mean": interaction_variance(r_a, r_b), "lo": float(lo),
                                              "hi": float(hi)},
                     "cross_fit_gain": bootstrap(cross_fit_gains(r_a, r_b, none_index), seed=seed)}
    out["item_specific_cross_fit_gain"] = bootstrap(
        cross_fit_gains(*halves(items), none_index) - cross_fit_gains(*halves(placebo), none_index), seed=seed)
    return out


def raw_gains(successes: np.ndarray, counts: np.ndarray, none_index: int) -> np.ndarray:
    """``r(x, a) - r(x, none)`` with plain rates ``S / N`` (unbiased; what a policy's held-out value averages)."""
    r = np.asarray(successes, dtype=float) / np.asarray(counts, dtype=float)
    return r - r[:, [none_index]]


def folds_of(n: int, folds: int, seed: int) -> np.ndarray:
    """A fold index in ``[0, folds)`` for each of ``n`` problems (balanced, seeded)."""
    if not 2 <= folds <= n:
        raise ValueError(f"cross-fitting needs 2 <= folds <= problems, got {folds} folds for {n} problems")
    return np.random.default_rng(seed).permutation(np.arange(n) % folds)


def combine(blocks: Mapping[str, np.ndarray], features: Sequence[str], n: int) -> np.ndarray:
    """The feature matrix of ``features`` (blocks concatenated; ``none``: ``(n, 0)``)."""
    if tuple(features) == ("none",):
        return np.zeros((n, 0))
    missing = [f for f in features if f not in blocks]
    if missing:
        raise ValueError(f"state features {missing} were not computed for these problems")
    return np.concatenate([blocks[f] for f in features], axis=1)


@dataclass(frozen=True)
class CrossFit:
    """Held-out predictions of one feature set and ``lambda``: ``mean``/``sd`` ``(P, m)``, and the held-out
    log-likelihood of the observed gains."""

    features: tuple[str, ...]
    lam: float
    mean: np.ndarray
    sd: np.ndarray
    loglik: float


def held_out(phi: np.ndarray, successes: np.ndarray, counts: np.ndarray, none_index: int, fold: np.ndarray, *,
             features: Sequence[str], lam: float, train_size: int | None = None, seed: int = 0) -> CrossFit:
    """Predictions for every problem from the model fitted on the other folds (``train_size``: a random subset of
    them of that size, for the learning curve)."""
    s, n = np.asarray(successes), np.asarray(counts)
    mean, sd = np.zeros(s.shape), np.zeros(s.shape)
    rng = np.random.default_rng(seed)
    for f in np.unique(fold):
        train = np.flatnonzero(fold != f)
        if train_size is not None:
            train = rng.choice(train, size=min(train_size, len(train)), replace=False)
        test = fold == f
        model = fit_gain_model(phi[train], s[train], n[train], none_index, features=features, lam=lam)
        mean[test], sd[test] = model.predict(phi[test])
    g, v = observed_gains(s, n, none_index)
    live = np.arange(s.shape[1]) != none_index
    total = (sd**2 + v)[:, live] + 1e-6  # predictive variance of an observed gain (the item spread is in sd's fit)
    loglik = float(np.mean(-0.5 * ((g - mean)[:, live] ** 2 / total + np.log(2 * np.pi * total))))
    return CrossFit(tuple(features), float(lam), mean, sd, loglik)


def policy_values(fit: CrossFit, gains: np.ndarray, none_index: int, taus: Sequence[float],
                  level: float) -> list[dict[str, Any]]:
    """Held-out value and speaking rate of the do-no-harm rule at each threshold ``tau``."""
    lower = fit.mean - z_value(level) * fit.sd
    lower[:, none_index] = -np.inf
    best = np.argmax(lower, axis=1)
    out = []
    for tau in taus:
        pick = np.where(lower[np.arange(len(best)), best] > tau, best, none_index)
        values = gains[np.arange(len(pick)), pick]
        out.append({"features": "+".join(fit.features), "lam": fit.lam, "tau": float(tau),
                    "value": bootstrap(values), "speaking_rate": float(np.mean(pick != none_index))})
    return out


def best_single_item(gains: np.ndarray, none_index: int, fold: np.ndarray) -> dict[str, float]:
    """Held-out value of sending, on every problem, the item with the largest mean gain on the other folds (``none``
    unless positive)."""
    values = np.zeros(len(gains))
    for f in np.unique(fold):
        train, test = fold != f, fold == f
        mean = gains[train].mean(axis=0)
        mean[none_index] = 0.0
        pick = int(np.argmax(mean)) if mean.max() > 0 else none_index
        values[test] = gains[test, pick]
    return bootstrap(values)


#: Default grids of the cross-fitted choice.
LAMBDAS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
TAUS = (0.0, 0.02, 0.05, 0.1, 0.2)


def cross_fit(blocks: Mapping[str, np.ndarray], successes: np.ndarray, counts: np.ndarray, none_index: int, *,
              candidates: Sequence[Sequence[str]] = (("words",),), folds: int = 5, lambdas: Sequence[float] = LAMBDAS,
              taus: Sequence[float] = TAUS, level: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """(c) and the Advisor's design: per feature set, ``lambda`` by held-out likelihood; then the feature set and
    ``tau`` with the largest held-out policy value (ties: the larger ``tau``, the earlier feature set). If no choice
    beats silence, ``tau`` is infinite: the Advisor never speaks.

    ``held_out`` holds the chosen feature set's out-of-fold predictions (:class:`CrossFit`, not JSON). The chosen
    value is the best of ``len(candidates) * len(taus)`` held-out values, so it is optimistic by that
    selection; each candidate's value is reported beside it.
    """
    s, n = np.asarray(successes), np.asarray(counts)
    fold = folds_of(len(s), folds, seed)
    gains = raw_gains(s, n, none_index)
    table: list[dict[str, Any]] = []
    fits: dict[str, CrossFit] = {}
    for feats in candidates:
        phi = combine(blocks, feats, len(s))
        lams = lambdas if phi.shape[1] else lambdas[:1]  # lambda is moot without features
        best = max((held_out(phi, s, n, none_index, fold, features=feats, lam=lam, seed=seed) for lam in lams),
                   key=lambda c: c.loglik)
        fits["+".join(feats)] = best
        table += policy_values(best, gains, none_index, taus, level)
    order = {("+".join(f)): i for i, f in enumerate(candidates)}
    chosen = max(table, key=lambda r: (round(r["value"]["mean"], 12), r["tau"], -order[r["features"]]))
    silent = chosen["value"]["mean"] <= 0
    return {
        "folds": folds, "level": level, "problems": int(len(s)),
        "candidates": table,
        "lambda": {k: f.lam for k, f in fits.items()},
        "loglik": {k: f.loglik for k, f in fits.items()},
        "chosen": {"features": chosen["features"], "lam": fits[chosen["features"]].lam,
                   "tau": float("inf") if silent else chosen["tau"],
                   "value": {"mean": 0.0, "lo": 0.0, "hi": 0.0, "n": int(len(s))} if silent else chosen["value"],
                   "speaking_rate": 0.0 if silent else chosen["speaking_rate"]},
        "always_silent": 0.0,
        "best_single_item": best_single_item(gains, none_index, fold),
        "held_out": fits[chosen["features"]],
    }


def learning_curve(blocks: Mapping[str, np.ndarray], successes: np.ndarray, counts: np.ndarray, none_index: int, *,
                   features: Sequence[str], lam: float, tau: float, sizes: Sequence[int], folds: int = 5,
                   level: float = 0.95, seed: int = 0) -> list[dict[str, Any]]:
    """(c) at growing training sizes: the held-out value of the chosen design trained on ``size`` problems."""
    s, n = np.asarray(successes), np.asarray(counts)
    fold = folds_of(len(s), folds, seed)
    gains = raw_gains(s, n, none_index)
    phi = combine(blocks, features, len(s))
    out = []
    for size in sizes:
        fit = held_out(phi, s, n, none_index, fold, features=features, lam=lam, train_size=int(size), seed=seed)
        row = policy_values(fit, gains, none_index, [tau if np.isfinite(tau) else np.inf], level)[0]
        out.append({"train_size": int(size), "value": row["value"], "speaking_rate": row["speaking_rate"]})
    return out


def choose_design(blocks: Mapping[str, np.ndarray], successes: np.ndarray, counts: np.ndarray, none_index: int, *,
                  candidates: Sequence[Sequence[str]], folds: int = 5, level: float = 0.95, seed: int = 0,
                  tau: float | None = None) -> dict[str, Any]:
    """The Advisor's design from training cells: :func:`cross_fit` (with ``folds`` capped at the problems), the
    threshold used (``tau``, else the cross-fitted one) and the learning curve of the chosen design at training
    sizes of 1/16 to all of a fold's training problems. The curve is drawn at the threshold used, or at 0 when that
    is infinite (what speaking would have given)."""
    p = len(successes)
    folds = min(folds, p)
    if folds < 2:
        raise ValueError(f"cross-fitting the state model needs at least 2 training problems, got {p}")
    design = cross_fit(blocks, successes, counts, none_index, candidates=candidates, folds=folds, level=level,
                       seed=seed)
    chosen = design["chosen"]
    used = chosen["tau"] if tau is None else float(tau)
    curve_tau = used if np.isfinite(used) else 0.0
    per_fold = p - p // folds
    sizes = sorted({max(2, per_fold // d) for d in (16, 8, 4, 2, 1)})
    design["learning_curve"] = learning_curve(blocks, successes, counts, none_index,
                                              features=chosen["features"].split("+"), lam=chosen["lam"],
                                              tau=curve_tau, sizes=sizes, folds=folds, level=level, seed=seed)
    design.update(learning_curve_tau=curve_tau, tau_used=used, tau_source="cross-fitted" if tau is None else "config")
    return design


def used_design(design: Mapping[str, Any]) -> dict[str, Any] | None:
    """The design the Advisor uses, with its cross-fitted value and speaking rate: the chosen features and lambda at
    the threshold used (``tau_used``: the cross-fitted one, or ``--tau``). A threshold of ``inf`` is silence (value
    0); ``None`` when ``--tau`` set a threshold the cross-fit did not score (not on its grid: no prediction)."""
    chosen = design["chosen"]
    tau = float(design.get("tau_used", chosen["tau"]))
    if tau == chosen["tau"]:
        return dict(chosen)
    if not np.isfinite(tau):
        n = chosen["value"].get("n", 0)
        return {**chosen, "tau": tau, "value": {"mean": 0.0, "lo": 0.0, "hi": 0.0, "n": n}, "speaking_rate": 0.0}
    for row in design.get("candidates", []):
        if row["features"] == chosen["features"] and row["tau"] == tau:
            return {**chosen, "tau": tau, "value": row["value"], "speaking_rate": row["speaking_rate"]}
    return None


def design_grid(candidates: Sequence[str]) -> list[tuple[str, ...]]:
    """``["words", "words+prior"]`` -> parsed feature sets, duplicates dropped."""
    from llm.bpa.state import parse_features

    return list(dict.fromkeys(parse_features(c) for c in candidates))


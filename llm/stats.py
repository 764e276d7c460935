"""Honest numbers for accuracy comparisons: bootstrap intervals and McNemar's paired test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    level: float = 0.95


def _binary(name: str, values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array of 0/1 outcomes, got shape {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name} must hold only 0/1 (or bool) outcomes")
    return arr.astype(float)


def bootstrap_mean(correct: np.ndarray, level: float = 0.95, resamples: int = 10_000, seed: int = 0) -> Interval:
    """Percentile bootstrap interval for the mean of 0/1 outcomes (accuracy, pass@1)."""
    x = _binary("correct", correct)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    means = x[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return Interval(float(x.mean()), float(lo), float(hi), level)


def bootstrap_diff(
    treated: np.ndarray, baseline: np.ndarray, level: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> Interval:
    """Paired percentile bootstrap interval for ``mean(treated) - mean(baseline)`` over the same problems."""
    a, b = _binary("treated", treated), _binary("baseline", baseline)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes differ in length: {a.size} vs {b.size}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(resamples, a.size))
    diffs = a[idx].mean(axis=1) - b[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(diffs, [alpha, 1 - alpha])
    return Interval(float(a.mean() - b.mean()), float(lo), float(hi), level)


def mcnemar(treated: np.ndarray, baseline: np.ndarray) -> float:
    """Exact two-sided McNemar p-value: a binomial test on the discordant pairs (b = treated-only wins, c = baseline-only)."""
    a, b = _binary("treated", treated), _binary("baseline", baseline)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes differ in length: {a.size} vs {b.size}")
    wins = int(np.sum((a == 1) & (b == 0)))
    losses = int(np.sum((a == 0) & (b == 1)))
    if wins + losses == 0:
        return 1.0
    return float(stats.binomtest(wins, wins + losses, 0.5).pvalue)

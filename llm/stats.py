"""Honest numbers for accuracy comparisons on one set of problems: intervals, paired tests, power.

Every condition of an experiment (``baseline``, ``prior``, ``posterior``, ...) is answered on the same ``n``
problems, so each condition is a 0/1 vector and two conditions form a *paired* 2x2 table

.. math::

    \\begin{array}{c|cc} & \\text{baseline right} & \\text{baseline wrong} \\\\ \\hline
    \\text{condition right} & a & b \\\\ \\text{condition wrong} & c & d \\end{array}

with ``b`` the problems only the condition solves (*wins*) and ``c`` those only the baseline solves (*losses*).

* :func:`wilson` -- Wilson score interval for one accuracy ``k / n`` (statsmodels ``proportion_confint``).
* :func:`paired_diff` -- the difference ``(b - c) / n`` with Newcombe's hybrid score interval for paired data
  (method 10 of Newcombe 1998b; the square-and-add form of Fagerland, Lydersen and Laake 2017, sec. 8.5).
  Chosen over the paired Wald interval, which collapses to zero width when ``b = c = 0`` and undercovers at small
  ``b + c``; Fagerland et al. (2014) list it among the recommended intervals for paired proportions.
* :func:`mcnemar` -- exact (conditional) McNemar p-value: two-sided binomial test of ``b`` out of ``b + c``.
* :func:`holm` -- Holm's step-down adjustment across conditions (statsmodels ``multipletests``).
* :func:`mde_paired` / :func:`mde_unpaired` -- minimum detectable effect at a given power.
* :func:`flip_probability` / :func:`design_discordance` -- the discordance rate a design expects before any answer
  exists, the input of :func:`mde_paired` for a power statement that does not peek at the outcomes.
* :func:`summarize_conditions` -- one typed :class:`ConditionSummary` per condition against a baseline.

The bootstrap intervals (:func:`bootstrap_mean`, :func:`bootstrap_diff`) are kept for callers that still use them.

References:
    Wilson 1927, "Probable inference, the law of succession, and statistical inference", JASA 22:209-212.
    Newcombe 1998a, "Two-sided confidence intervals for the single proportion", Stat Med 17:857-872.
    Newcombe 1998b, "Improved confidence intervals for the difference between binomial proportions based on
    paired data", Stat Med 17:2635-2650.
    Fagerland, Lydersen, Laake 2014, "Recommended tests and confidence intervals for paired binomial
    proportions", Stat Med 33:2850-2875; 2017, "Statistical Analysis of Contingency Tables", CRC, ch. 8.
    McNemar 1947, Psychometrika 12:153-157. Holm 1979, Scand J Stat 6:65-70.
    Connor 1987, "Sample size for testing differences in proportions for the paired-sample design",
    Biometrics 43:207-211. Cohen 1988, "Statistical Power Analysis for the Behavioral Sciences", ch. 6.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    level: float = 0.95


def _binary(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array of 0/1 outcomes, got shape {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name} must hold only 0/1 (or bool) outcomes")
    return arr.astype(float)


def _pair(treated: Any, baseline: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = _binary("treated", treated), _binary("baseline", baseline)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes differ in length: {a.size} vs {b.size}")
    return a, b


def _level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    return float(level)


def paired_table(treated: Any, baseline: Any) -> tuple[int, int, int, int]:
    """The paired 2x2 counts ``(a, b, c, d)``: both right, only ``treated`` right, only ``baseline`` right, neither."""
    t, s = _pair(treated, baseline)
    return (int(np.sum((t == 1) & (s == 1))), int(np.sum((t == 1) & (s == 0))),
            int(np.sum((t == 0) & (s == 1))), int(np.sum((t == 0) & (s == 0))))


def wilson(successes: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval for a proportion ``p = k / n``.

    .. math::

        \\frac{k + z^2/2}{n + z^2} \\pm \\frac{z \\sqrt{n}}{n + z^2} \\sqrt{\\hat p (1 - \\hat p) + z^2 / (4 n)},
        \\qquad z = \\Phi^{-1}\\big(1 - (1 - \\text{level}) / 2\\big).

    Raises:
        ValueError: ``n < 1``, ``successes`` outside ``0..n`` or a level outside (0, 1).

    Examples:
        >>> iv = wilson(8, 10)
        >>> round(iv.low, 4), round(iv.high, 4)
        (0.4902, 0.9433)
    """
    level = _level(level)
    if int(n) != n or n < 1 or int(successes) != successes or not 0 <= successes <= n:
        raise ValueError(f"need integers 0 <= successes <= n and n >= 1, got successes={successes}, n={n}")
    low, high = proportion_confint(int(successes), int(n), alpha=1 - level, method="wilson")
    p = successes / n  # clamped: rounding leaves low = 5.6e-17 at k = 0
    return Interval(p, min(p, max(0.0, float(low))), max(p, min(1.0, float(high))), level)


def accuracy_interval(correct: Any, level: float = 0.95) -> Interval:
    """:func:`wilson` for a 0/1 outcome vector (accuracy, pass@1)."""
    x = _binary("correct", correct)
    return wilson(int(x.sum()), x.size, level)


def paired_diff(treated: Any, baseline: Any, level: float = 0.95) -> Interval:
    """``mean(treated) - mean(baseline)`` over the same problems, with Newcombe's hybrid score interval.

    With ``p_1 = (a + b) / n``, ``p_2 = (a + c) / n``, Wilson intervals ``(l_i, u_i)`` for each and
    ``\\delta = p_1 - p_2 = (b - c) / n``:

    .. math::

        L = \\delta - \\sqrt{(p_1 - l_1)^2 - 2\\phi (p_1 - l_1)(u_2 - p_2) + (u_2 - p_2)^2}, \\\\
        U = \\delta + \\sqrt{(p_2 - l_2)^2 - 2\\phi (p_2 - l_2)(u_1 - p_1) + (u_1 - p_1)^2},

    where ``phi`` estimates the correlation of the two margins: with ``A = ad - bc`` and
    ``P = (a+b)(c+d)(a+c)(b+d)``, ``phi = (A - n/2) / sqrt(P)`` if ``A > n/2``, ``0`` if ``0 <= A <= n/2``,
    ``A / sqrt(P)`` if ``A < 0``, and ``0`` when ``P = 0`` (Newcombe 1998b, method 10, in the form of Fagerland
    et al. 2017, sec. 8.5). The interval lies in ``[-1, 1]`` and has positive width even when ``b = c = 0``.

    Raises:
        ValueError: vectors of different lengths, empty, or not 0/1.
    """
    level = _level(level)
    a, b, c, d = paired_table(treated, baseline)
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    w1, w2 = wilson(a + b, n, level), wilson(a + c, n, level)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    if margins == 0 or 0 <= cross <= n / 2:
        phi = 0.0
    elif cross > n / 2:
        phi = (cross - n / 2) / math.sqrt(margins)
    else:
        phi = cross / math.sqrt(margins)
    dl1, du1, dl2, du2 = p1 - w1.low, w1.high - p1, p2 - w2.low, w2.high - p2
    delta = p1 - p2
    low = delta - math.sqrt(max(0.0, dl1**2 - 2 * phi * dl1 * du2 + du2**2))
    high = delta + math.sqrt(max(0.0, dl2**2 - 2 * phi * dl2 * du1 + du1**2))
    return Interval(delta, max(-1.0, low), min(1.0, high), level)


def mcnemar(treated: Any, baseline: Any) -> float:
    """Exact two-sided McNemar p-value: a binomial test of ``b`` successes in ``b + c`` trials at ``1/2``.

    .. math:: p = \\min\\Big(1, 2 \\sum_{i=0}^{\\min(b, c)} \\binom{b+c}{i} 2^{-(b+c)}\\Big), \\qquad p = 1
        \\text{ when } b + c = 0.
    """
    _, b, c, _ = paired_table(treated, baseline)
    if b + c == 0:
        return 1.0
    return float(stats.binomtest(b, b + c, 0.5).pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), in the input order.

    Sorted ``p_(1) <= ... <= p_(m)``: ``p~_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))``.

    Raises:
        ValueError: a p-value outside [0, 1].
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p-values must be a 1-d sequence, got shape {p.shape}")
    if p.size == 0:
        return []
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p.tolist()}")
    return [float(x) for x in multipletests(p, method="holm")[1]]


def _z(alpha: float, power: float) -> tuple[float, float]:
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must lie in (0, 1), got alpha={alpha}, power={power}")
    return float(stats.norm.ppf(1 - alpha / 2)), float(stats.norm.ppf(power))


def mde_paired(n: int, discordance: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest paired difference ``delta = p_10 - p_01`` a two-sided level-``alpha`` McNemar test detects with
    probability ``power`` on ``n`` pairs whose discordance rate is ``psi = p_10 + p_01``.

    It solves Connor's (1987) sample-size equation for ``delta``:

    .. math:: \\sqrt{n}\\,\\delta = z_{1-\\alpha/2} \\sqrt{\\psi} + z_{\\text{power}} \\sqrt{\\psi - \\delta^2},

    (approximately ``delta = (z_{1-alpha/2} + z_power) sqrt(psi / n)``, 2.80 sqrt(psi / n) at 0.05 and 80%).
    The formula is for the asymptotic test; the exact test is slightly more conservative.

    Returns:
        ``delta`` in ``(0, psi]``, or ``inf`` when even ``delta = psi`` (every discordant pair going one way) is not
        detectable: too few discordant pairs (``psi = 0`` included).

    Raises:
        ValueError: ``n < 1``, ``psi`` outside [0, 1], or ``alpha``/``power`` outside (0, 1).

    Examples:
        >>> round(mde_paired(200, 0.3), 4)
        0.1079
    """
    za, zb = _z(alpha, power)
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    if not 0.0 <= discordance <= 1.0:
        raise ValueError(f"the discordance rate must lie in [0, 1], got {discordance}")
    psi = float(discordance)

    def gap(delta: float) -> float:
        return math.sqrt(n) * delta - za * math.sqrt(psi) - zb * math.sqrt(max(0.0, psi - delta**2))

    if psi == 0.0 or gap(psi) < 0:
        return math.inf
    return float(optimize.brentq(gap, 0.0, psi, xtol=1e-12))


def n_paired(delta: float, discordance: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Fewest pairs on which a two-sided level-``alpha`` McNemar test detects the paired difference ``delta`` with
    probability ``power`` when the discordance rate is ``psi``: the inverse of :func:`mde_paired`, from the same
    equation solved for ``n``,

    .. math:: n = \\left\\lceil \\big(z_{1-\\alpha/2} \\sqrt{\\psi} + z_{\\text{power}} \\sqrt{\\psi - \\delta^2}\\big)^2 / \\delta^2 \\right\\rceil.

    Returns:
        ``n``, or ``inf`` when no ``n`` does: ``delta <= 0`` (nothing to detect) or ``delta > psi`` (a paired
        difference cannot exceed the discordance).

    Raises:
        ValueError: ``psi`` outside [0, 1], or ``alpha``/``power`` outside (0, 1).

    Examples:
        >>> n_paired(0.1079, 0.3)
        200
    """
    za, zb = _z(alpha, power)
    if not 0.0 <= discordance <= 1.0:
        raise ValueError(f"the discordance rate must lie in [0, 1], got {discordance}")
    psi, delta = float(discordance), float(delta)
    if delta <= 0.0 or delta > psi:
        return math.inf
    n = math.ceil((za * math.sqrt(psi) + zb * math.sqrt(psi - delta**2)) ** 2 / delta**2 - 1e-9)
    return max(1, n)


def flip_probability(rate_treated: float, rate_baseline: float) -> float:
    """Probability that two independent 0/1 outcomes with success rates ``p`` (treated) and ``q`` (baseline)
    differ, the discordance of one pair:

    .. math:: P(\\text{discordant}) = p (1 - q) + q (1 - p).

    Raises:
        ValueError: a rate outside [0, 1].

    Examples:
        >>> flip_probability(0.25, 0.5)
        0.5
    """
    for name, r in (("treated", rate_treated), ("baseline", rate_baseline)):
        if not 0.0 <= r <= 1.0:
            raise ValueError(f"the {name} success rate must lie in [0, 1], got {r}")
    return float(rate_treated * (1 - rate_baseline) + rate_baseline * (1 - rate_treated))


def design_discordance(change_rate: float, flip_rate: float) -> float:
    """The discordance rate a paired comparison expects from its design, before any answer exists.

    A condition that changes the baseline's prompt on a share ``q`` of the problems (``change_rate``: fixed by the
    draws, known before answering) and whose change flips the outcome with probability ``d`` (``flip_rate``,
    e.g. :func:`flip_probability` averaged over training feedback) leaves the other ``1 - q`` identical to the
    baseline, so

    .. math:: \\psi = q \\, d.

    Raises:
        ValueError: ``q`` or ``d`` outside [0, 1].
    """
    for name, r in (("change rate", change_rate), ("flip rate", flip_rate)):
        if not 0.0 <= r <= 1.0:
            raise ValueError(f"the {name} must lie in [0, 1], got {r}")
    return float(change_rate * flip_rate)


def mde_unpaired(n: int, baseline: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest increase ``p_2 - p`` over a baseline proportion ``p`` that a two-sided level-``alpha`` test between
    two independent groups of ``n`` each detects with probability ``power`` (Cohen's arcsine effect size ``h``).

    .. math::

        h = 2\\arcsin\\sqrt{p_2} - 2\\arcsin\\sqrt{p} = (z_{1-\\alpha/2} + z_{\\text{power}})\\sqrt{2 / n},
        \\qquad p_2 = \\sin^2\\!\\big(\\arcsin\\sqrt{p} + h / 2\\big)

    (``h`` from statsmodels ``NormalIndPower``, which also counts the negligible opposite tail).

    Returns:
        ``p_2 - p``, or ``inf`` when ``p_2`` would have to exceed 1.

    Raises:
        ValueError: ``n < 1``, ``p`` outside [0, 1], or ``alpha``/``power`` outside (0, 1).
    """
    _z(alpha, power)
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    if not 0.0 <= baseline <= 1.0:
        raise ValueError(f"the baseline proportion must lie in [0, 1], got {baseline}")
    h = float(NormalIndPower().solve_power(effect_size=None, nobs1=int(n), alpha=alpha, power=power, ratio=1.0))
    angle = math.asin(math.sqrt(baseline)) + h / 2
    if angle > math.pi / 2:
        return math.inf
    return math.sin(angle) ** 2 - baseline


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class ConditionSummary:
    """One condition's accuracy and its paired comparison with the baseline (all on the same ``n`` problems).

    Attributes:
        condition: the condition's name.
        n: number of problems.
        correct: problems solved.
        accuracy: ``correct / n``.
        ci95: Wilson interval of ``accuracy`` (:func:`wilson`).
        diff: ``accuracy - baseline accuracy`` (``None`` on the baseline row).
        diff_ci95: Newcombe paired interval of ``diff`` (:func:`paired_diff`).
        wins: problems only this condition solves (``b``); ``losses``: those only the baseline solves (``c``).
        p_mcnemar: exact McNemar p-value (:func:`mcnemar`).
        p_holm: ``p_mcnemar`` Holm-adjusted across the summary's family of conditions (:func:`holm`; by default
            every condition but the baseline; ``None`` outside the family).
        mde80: the design's minimum detectable effect: :func:`mde_paired` at this ``n`` and the condition's
            ``design_discordance``, 80% power, level 0.05 (``inf``: no effect is detectable with so few expected
            discordant pairs; ``None`` without a design). A power statement fixed before the answers; the paired
            interval ``diff_ci95`` is the primary statement of what happened.
        design_discordance: the expected discordance rate ``psi`` the design gives (:func:`design_discordance`),
            if any.
        mde80_observed: :func:`mde_paired` at the observed discordance ``(b + c) / n`` (secondary and post hoc: it
            reuses the outcomes it is meant to judge).
    """

    condition: str
    n: int
    correct: int
    accuracy: float
    ci95: tuple[float, float]
    diff: float | None = None
    diff_ci95: tuple[float, float] | None = None
    wins: int | None = None
    losses: int | None = None
    p_mcnemar: float | None = None
    p_holm: float | None = None
    mde80: float | None = None
    design_discordance: float | None = None
    mde80_observed: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples as lists; an infinite MDE as ``None``)."""
        out = asdict(self)
        out["ci95"] = list(self.ci95)
        out["diff_ci95"] = None if self.diff_ci95 is None else list(self.diff_ci95)
        out["mde80"] = _finite(self.mde80)
        out["mde80_observed"] = _finite(self.mde80_observed)
        return out


def summarize_conditions(
    outcomes: Mapping[str, Any], baseline: str = "baseline", level: float = 0.95,
    alpha: float = 0.05, power: float = 0.8, family: Sequence[str] | None = None,
    discordance: Mapping[str, float] | None = None,
) -> list[ConditionSummary]:
    """One :class:`ConditionSummary` per condition (in the mapping's order), each compared with ``baseline``.

    Args:
        outcomes: condition name -> 0/1 outcomes over the same problems, in the same order.
        baseline: the reference condition (its row carries no comparison).
        level: confidence level of both intervals.
        alpha: level of the test behind the MDEs (the Holm adjustment itself has no level).
        power: power behind the MDEs.
        family: the conditions whose McNemar p-values are Holm-adjusted together (default: every condition but
            the baseline); the others keep ``p_holm = None`` (e.g. an ``oracle`` upper bound that tests nothing).
        discordance: compared condition -> its design discordance rate (:func:`design_discordance`), from which
            ``mde80`` is computed; a condition without one gets ``mde80 = None``.

    Raises:
        ValueError: ``baseline`` missing, a ``family`` or ``discordance`` name that is not a compared condition,
            a discordance outside [0, 1], vectors of different lengths, empty, or not 0/1.
    """
    if baseline not in outcomes:
        raise ValueError(f"baseline condition {baseline!r} is not among {sorted(outcomes)}")
    compared = [name for name in outcomes if name != baseline]
    family = compared if family is None else list(family)
    unknown = sorted(set(family) - set(compared))
    if unknown:
        raise ValueError(f"Holm family names {unknown}, which are not compared conditions {compared}")
    design = dict(discordance or {})
    unknown = sorted(set(design) - set(compared))
    if unknown:
        raise ValueError(f"design discordance given for {unknown}, which are not compared conditions {compared}")
    base = _binary(baseline, outcomes[baseline])
    rows, pvalues = [], []
    for name, values in outcomes.items():
        x = _binary(name, values)
        if x.shape != base.shape:
            raise ValueError(f"condition {name!r} has {x.size} outcomes but {baseline!r} has {base.size}")
        acc = accuracy_interval(x, level)
        row: dict[str, Any] = dict(condition=name, n=x.size, correct=int(x.sum()), accuracy=acc.estimate,
                                   ci95=(acc.low, acc.high))
        if name != baseline:
            _, b, c, _ = paired_table(x, base)
            diff = paired_diff(x, base, level)
            p = mcnemar(x, base)
            if name in family:
                pvalues.append(p)
            psi = design.get(name)
            row.update(diff=diff.estimate, diff_ci95=(diff.low, diff.high), wins=b, losses=c, p_mcnemar=p,
                       mde80=None if psi is None else mde_paired(x.size, psi, alpha, power),
                       design_discordance=psi, mde80_observed=mde_paired(x.size, (b + c) / x.size, alpha, power))
        rows.append(row)
    adjusted = iter(holm(pvalues))
    for row in rows:
        if row["condition"] != baseline and row["condition"] in family:
            row["p_holm"] = next(adjusted)
    return [ConditionSummary(**row) for row in rows]


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
    a, b = _pair(treated, baseline)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(resamples, a.size))
    diffs = a[idx].mean(axis=1) - b[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(diffs, [alpha, 1 - alpha])
    return Interval(float(a.mean() - b.mean()), float(lo), float(hi), level)

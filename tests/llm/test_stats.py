"""Intervals, McNemar, Holm and power (llm/stats.py), checked against published and hand-computed values."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm.stats import (
    ConditionSummary,
    accuracy_interval,
    bootstrap_diff,
    bootstrap_mean,
    design_discordance,
    flip_probability,
    holm,
    mcnemar,
    mde_paired,
    mde_unpaired,
    n_paired,
    paired_diff,
    paired_table,
    summarize_conditions,
    wilson,
)

outcomes = st.lists(st.booleans(), min_size=1, max_size=60)


def table(a: int, b: int, c: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Paired vectors (treated, baseline) with a both-right, b treated-only, c baseline-only, d neither."""
    treated = np.array([1] * a + [1] * b + [0] * c + [0] * d)
    baseline = np.array([1] * a + [0] * b + [1] * c + [0] * d)
    return treated, baseline


# Newcombe (1998a), Stat Med 17:857, Table II, method 3 (Wilson score without continuity correction).
@pytest.mark.parametrize("k, n, low, high", [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605),
                                              (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)])
def test_wilson_matches_newcombe_1998a(k, n, low, high):
    iv = wilson(k, n)
    assert (round(iv.low, 4), round(iv.high, 4)) == (low, high)
    assert iv.estimate == k / n


def test_wilson_by_hand_for_8_of_10():
    # z = 1.959964: centre (8 + z^2/2) / (10 + z^2), half-width z sqrt(10 * 0.16 + z^2 / 4) / (10 + z^2).
    z = 1.959963984540054
    centre, half = (8 + z * z / 2) / (10 + z * z), z * math.sqrt(1.6 + z * z / 4) / (10 + z * z)
    iv = wilson(8, 10)
    assert iv.low == pytest.approx(centre - half, abs=1e-12) and iv.high == pytest.approx(centre + half, abs=1e-12)
    assert (round(iv.low, 4), round(iv.high, 4)) == (0.4902, 0.9433)
    assert accuracy_interval([1] * 8 + [0] * 2) == iv


@given(st.integers(1, 500), st.data())
def test_wilson_contains_estimate_inside_unit_range(n, data):
    k = data.draw(st.integers(0, n))
    iv = wilson(k, n)
    assert 0.0 <= iv.low <= iv.estimate <= iv.high <= 1.0
    assert iv.high - iv.low > 0


def test_paired_diff_matches_fagerland_2017():
    # Cavo et al. (2012) table [[59, 6], [16, 80]] in Fagerland, Lydersen & Laake (2017), ch. 8 (R package
    # contingencytables): estimate -0.0621, Newcombe square-and-add 95% CI -0.1186 to -0.0046.
    iv = paired_diff(*table(59, 6, 16, 80))
    assert (round(iv.estimate, 4), round(iv.low, 4), round(iv.high, 4)) == (-0.0621, -0.1186, -0.0046)
    # [[1, 0], [0, 1]]: estimate 0, CI -0.5734 to 0.5734 (no discordant pairs, still a positive width).
    iv = paired_diff(*table(1, 0, 0, 1))
    assert (iv.estimate, round(iv.low, 4), round(iv.high, 4)) == (0.0, -0.5734, 0.5734)


@given(outcomes, st.integers(0, 10_000))
def test_paired_diff_is_antisymmetric_and_contains_the_estimate(xs, seed):
    t = np.array(xs)
    s = np.random.default_rng(seed).random(t.size) < 0.5
    iv, flipped = paired_diff(t, s), paired_diff(s, t)
    assert -1.0 <= iv.low <= iv.estimate <= iv.high <= 1.0
    assert iv.estimate == pytest.approx(t.mean() - s.mean())
    assert (flipped.low, flipped.high) == pytest.approx((-iv.high, -iv.low))


@pytest.mark.parametrize("b, c, p", [
    (1, 7, 18 / 256),         # 2 (C(8,0) + C(8,1)) / 2^8  (Bentur et al. 2009 in Fagerland et al. 2017)
    (0, 5, 2 / 32),           # 2 / 2^5
    (2, 10, 158 / 4096),      # 2 (1 + 12 + 66) / 2^12
    (3, 3, 1.0),              # 2 * 42 / 64 > 1, capped
    (0, 0, 1.0),              # no discordant pair
])
def test_mcnemar_exact_by_hand(b, c, p):
    treated, baseline = table(4, b, c, 5)
    assert mcnemar(treated, baseline) == pytest.approx(p, rel=1e-12)
    assert mcnemar(baseline, treated) == pytest.approx(p, rel=1e-12)


def test_mcnemar_matches_fagerland_2017():
    # Cavo et al. (2012): the McNemar exact conditional test gives P = 0.052479.
    assert round(mcnemar(*table(59, 6, 16, 80)), 6) == 0.052479


def test_paired_table_counts():
    assert paired_table(*table(3, 2, 1, 4)) == (3, 2, 1, 4)
    with pytest.raises(ValueError, match="differ in length"):
        paired_table([1, 0], [1])


def test_holm_on_a_fixed_vector():
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, 1.5])


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_never_lowers_a_p_value_and_keeps_the_order(ps):
    adj = holm(ps)
    assert all(p <= a + 1e-12 and a <= 1.0 for p, a in zip(ps, adj))
    order = np.argsort(ps, kind="stable")
    assert all(adj[i] <= adj[j] + 1e-12 for i, j in zip(order, order[1:]))


def test_mde_paired_by_hand_and_by_simulation():
    n, psi = 200, 0.3
    delta = mde_paired(n, psi)
    # Connor (1987): sqrt(n) delta = z_.975 sqrt(psi) + z_.8 sqrt(psi - delta^2), z = 1.959964, 0.841621.
    assert math.sqrt(n) * delta == pytest.approx(1.959964 * math.sqrt(psi) + 0.841621 * math.sqrt(psi - delta**2),
                                                 abs=1e-5)
    assert round(delta, 4) == 0.1079
    # Simulated power of the asymptotic McNemar test at that effect: 20000 tables, seed 0.
    rng = np.random.default_rng(0)
    counts = rng.multinomial(n, [(psi + delta) / 2, (psi - delta) / 2, 1 - psi], size=20_000)
    b, c = counts[:, 0], counts[:, 1]
    z = (b - c) / np.sqrt(np.maximum(b + c, 1))
    assert np.mean(np.abs(z) > 1.959964) == pytest.approx(0.80, abs=0.02)


def test_mde_paired_edges():
    assert mde_paired(100, 0.0) == math.inf  # no discordant pairs: nothing is detectable
    assert mde_paired(20, 0.05) == math.inf  # one expected discordant pair
    assert mde_paired(1000, 0.2) < mde_paired(100, 0.2) < mde_paired(100, 0.4)
    with pytest.raises(ValueError, match="discordance"):
        mde_paired(10, 1.5)
    with pytest.raises(ValueError, match="positive integer"):
        mde_paired(0, 0.2)
    with pytest.raises(ValueError, match="power"):
        mde_paired(10, 0.2, power=1.0)


@given(st.floats(0.001, 1), st.floats(0.001, 1))
def test_n_paired_is_the_fewest_pairs_whose_mde_reaches_delta(delta, psi):
    n = n_paired(delta, psi)
    if delta > psi:
        assert n == math.inf  # a paired difference cannot exceed the discordance
        return
    assert mde_paired(n, psi) <= delta * (1 + 1e-9)
    assert n == 1 or mde_paired(n - 1, psi) > delta * (1 - 1e-9)


def test_n_paired_edges():
    assert n_paired(0.1079, 0.3) == 200  # mde_paired(200, 0.3) = 0.1079
    assert n_paired(0.0, 0.3) == math.inf and n_paired(-0.05, 0.3) == math.inf
    with pytest.raises(ValueError, match="discordance"):
        n_paired(0.1, 1.5)


def test_mde_unpaired_by_hand_and_by_simulation():
    n, p = 100, 0.5
    delta = mde_unpaired(n, p)
    # Cohen's h = (1.959964 + 0.841621) sqrt(2 / 100) = 0.396203; p2 = sin^2(pi/4 + h/2) = 0.692959.
    assert p + delta == pytest.approx(math.sin(math.pi / 4 + 0.396203 / 2) ** 2, abs=2e-4)
    rng = np.random.default_rng(0)
    x1, x2 = rng.binomial(n, p, 20_000), rng.binomial(n, p + delta, 20_000)
    pooled = (x1 + x2) / (2 * n)
    z = (x2 - x1) / n / np.sqrt(pooled * (1 - pooled) * 2 / n)
    assert np.mean(np.abs(z) > 1.959964) == pytest.approx(0.80, abs=0.02)
    assert mde_unpaired(10, 0.99) == math.inf


def test_summary_rows_against_hand_values():
    base = np.array([1] * 5 + [0] * 15)
    better = np.array([1] * 5 + [1] * 8 + [0] * 7)           # b = 8, c = 0
    same = np.array([1] * 4 + [0] + [1] + [0] * 14)          # b = 1, c = 1
    rows = summarize_conditions({"baseline": base, "posterior": better, "prior": same})
    assert [r.condition for r in rows] == ["baseline", "posterior", "prior"]
    b0, post, prior = rows
    assert (b0.n, b0.correct, b0.accuracy, b0.diff, b0.p_mcnemar, b0.p_holm, b0.mde80) == (20, 5, 0.25, None, None,
                                                                                             None, None)
    assert b0.ci95 == (wilson(5, 20).low, wilson(5, 20).high)
    assert (post.wins, post.losses, post.diff) == (8, 0, pytest.approx(0.4))
    assert post.p_mcnemar == pytest.approx(2 / 256)           # 2 * 2^-8
    assert prior.p_mcnemar == 1.0
    assert (post.p_holm, prior.p_holm) == (pytest.approx(4 / 256), 1.0)  # Holm over two conditions
    assert post.mde80 is None and post.design_discordance is None  # no design given: no design MDE
    assert post.mde80_observed == pytest.approx(mde_paired(20, 8 / 20))
    assert prior.mde80_observed == math.inf and prior.to_dict()["mde80_observed"] is None
    d = post.to_dict()
    assert d["condition"] == "posterior" and isinstance(d["ci95"], list) and len(d["diff_ci95"]) == 2
    assert isinstance(post, ConditionSummary)


def test_flip_probability_and_design_discordance_by_hand():
    assert flip_probability(0.25, 0.5) == pytest.approx(0.25 * 0.5 + 0.5 * 0.75)
    assert flip_probability(1.0, 0.0) == flip_probability(0.0, 1.0) == 1.0
    assert flip_probability(1.0, 1.0) == flip_probability(0.0, 0.0) == 0.0  # certain outcomes never flip
    assert flip_probability(0.3, 0.3) == pytest.approx(2 * 0.3 * 0.7)
    assert design_discordance(0.4, 0.5) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="baseline success rate"):
        flip_probability(0.5, 1.5)
    with pytest.raises(ValueError, match="change rate"):
        design_discordance(-0.1, 0.5)
    with pytest.raises(ValueError, match="flip rate"):
        design_discordance(0.5, 2.0)


@given(st.floats(0, 1), st.floats(0, 1))
def test_flip_probability_is_a_symmetric_probability(p, q):
    f = flip_probability(p, q)
    assert 0.0 <= f <= 1.0 and f == pytest.approx(flip_probability(q, p))
    assert f >= abs(p - q) - 1e-12  # the rates differ by at most the chance the outcomes do


def test_summary_mde_comes_from_the_design_not_the_outcomes():
    """Two conditions with the same design discordance get the same ``mde80`` whatever they answered; the observed
    one is kept apart."""
    base = np.array([1] * 50 + [0] * 50)
    one = np.array([1] * 50 + [1] * 20 + [0] * 30)      # b = 20, c = 0
    other = np.array([1] * 48 + [0] * 2 + [0] * 50)     # b = 0, c = 2
    rows = summarize_conditions({"baseline": base, "signal": one, "prior": other},
                                discordance={"signal": 0.3, "prior": 0.3})
    _, sig, prior = rows
    assert sig.mde80 == prior.mde80 == pytest.approx(mde_paired(100, 0.3))
    assert sig.design_discordance == prior.design_discordance == 0.3
    assert sig.mde80_observed == pytest.approx(mde_paired(100, 0.2)) and prior.mde80_observed == math.inf
    assert sig.to_dict()["mde80"] == pytest.approx(mde_paired(100, 0.3))
    with pytest.raises(ValueError, match="design discordance given for \\['baseline'\\]"):
        summarize_conditions({"baseline": base, "signal": one}, discordance={"baseline": 0.1})
    with pytest.raises(ValueError, match="discordance rate must lie in"):
        summarize_conditions({"baseline": base, "signal": one}, discordance={"signal": 1.5})


@given(st.integers(1, 2000), st.integers(1, 2000), st.floats(0, 1), st.floats(0, 1))
def test_mde_paired_falls_with_n_and_rises_with_discordance(n1, n2, psi1, psi2):
    """More pairs never make the detectable effect larger; more expected discordance (more noise) never makes it
    smaller, wherever it is finite (below ``psi = (z_a + z_b)^2 / n`` nothing is detectable, so ``inf``)."""
    (n1, n2), (psi1, psi2) = sorted((n1, n2)), sorted((psi1, psi2))
    assert mde_paired(n2, psi1) <= mde_paired(n1, psi1) + 1e-9
    lo, hi = mde_paired(n1, psi1), mde_paired(n1, psi2)
    if math.isfinite(lo):
        assert math.isfinite(hi) and lo <= hi + 1e-9
    if math.isfinite(hi):
        assert 0 < hi <= psi2


@given(st.integers(20, 2000), st.floats(0, 1), st.floats(0, 1), st.floats(0.01, 1))
def test_design_mde_rises_with_the_speaking_rate(n, q1, q2, d):
    """The design MDE of a condition that changes more prompts (higher ``q``) at the same flip rate is no smaller,
    where both are finite."""
    q1, q2 = sorted((q1, q2))
    a, b = mde_paired(n, design_discordance(q1, d)), mde_paired(n, design_discordance(q2, d))
    if math.isfinite(a) and math.isfinite(b):
        assert a <= b + 1e-9


def test_holm_family_leaves_analysis_conditions_out():
    base = np.array([1] * 5 + [0] * 15)
    better = np.array([1] * 5 + [1] * 8 + [0] * 7)
    rows = summarize_conditions({"baseline": base, "posterior": better, "oracle": better}, family=["posterior"])
    assert rows[1].p_holm == pytest.approx(2 / 256) and rows[2].p_holm is None
    assert rows[2].p_mcnemar == pytest.approx(2 / 256)
    with pytest.raises(ValueError, match="Holm family"):
        summarize_conditions({"baseline": base, "posterior": better}, family=["baseline"])


def test_summary_rejects_bad_input():
    with pytest.raises(ValueError, match="baseline condition 'baseline'"):
        summarize_conditions({"prior": [1, 0]})
    with pytest.raises(ValueError, match="'prior' has 3 outcomes"):
        summarize_conditions({"baseline": [1, 0], "prior": [1, 0, 1]})


@given(outcomes)
def test_bootstrap_interval_contains_estimate_and_stays_in_unit_range(xs):
    iv = bootstrap_mean(np.array(xs), resamples=500)
    assert 0.0 <= iv.low <= iv.estimate <= iv.high <= 1.0
    assert iv.estimate == pytest.approx(np.mean(xs))


def test_bootstrap_paired_diff_interval():
    base = np.r_[np.ones(50), np.zeros(50)]
    treated = np.r_[np.ones(70), np.zeros(30)]
    iv = bootstrap_diff(treated, base)
    assert iv.estimate == pytest.approx(0.2)
    assert 0 < iv.low < 0.2 < iv.high


@pytest.mark.parametrize("bad", [[], [0.5, 1.0], [[1, 0]]])
def test_bad_outcomes_rejected(bad):
    with pytest.raises(ValueError, match="0/1|1-d"):
        accuracy_interval(np.array(bad))
    with pytest.raises(ValueError, match="0/1|1-d"):
        bootstrap_mean(np.array(bad))


def test_bad_counts_rejected():
    with pytest.raises(ValueError, match="0 <= successes <= n"):
        wilson(11, 10)
    with pytest.raises(ValueError, match="level"):
        wilson(1, 10, level=1.5)

"""A Receiver that knows the committed scheme and pays c to act on a hint (llm/backends/simulated.py): the exact value."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import persuasion
from llm.backends.simulated import (
    COMMITMENT_SUCCESS,
    SimulatedReceiver,
    SimulatedSpec,
    SimulatedSpecError,
    commitment_spec,
    committed_value,
    default_spec,
    group_states,
    persuasion_game,
)
from llm.tasks.registry import get_task
from llm.tasks.synthetic import synthetic_arithmetic
from persuasion.reference import full_disclosure, no_disclosure

SPEC = commitment_spec()
POOL = "estimate_check"  # the item the LP pools on


def _binding() -> SimulatedSpec:
    """The shipped spec with "check with estimation" worth less on the easy templates: the LP pools only part of
    them, and obedience binds."""
    success = {g: dict(row) for g, row in SPEC.success.items()}
    for g, (p_none, special) in COMMITMENT_SUCCESS.items():
        if "write_equation" in special:
            success[g][POOL] = p_none + 0.05
    return dataclasses.replace(SPEC, success=success)


def _exact(spec: SimulatedSpec):
    sim = persuasion_game(spec, follow_cost=spec.follow_cost)
    return sim, persuasion.solve(sim.game), full_disclosure(sim.game), no_disclosure(sim.game)


@pytest.mark.parametrize("spec", [SPEC, _binding()], ids=["shipped", "binding"])
def test_the_committed_scheme_beats_full_disclosure_by_the_lps_margin(spec):
    sim, lp, fd, nd = _exact(spec)
    assert lp.value > fd.value + 0.01  # full disclosure is strictly worse
    on_lp = committed_value(spec, lp.scheme, sim.group_state)
    on_fd = committed_value(spec, fd.scheme, sim.group_state)
    assert on_lp.value == pytest.approx(lp.value, abs=1e-9) and on_fd.value == pytest.approx(fd.value, abs=1e-9)
    assert on_lp.value - on_fd.value == pytest.approx(lp.value - fd.value, abs=1e-9)
    pool = spec.items.index(POOL)
    assert on_lp.obeyed[pool] and on_lp.gain[pool] >= spec.follow_cost - 1e-7
    # full disclosure tells the Receiver when the gain is below c, so it ignores the easy templates' hints
    easy = [spec.group_index(g) for g in spec.groups if 0 < spec.value(g, spec.best_item(g)) - spec.value(g, "none")
            < spec.follow_cost]
    assert easy and all(fd.scheme[sim.group_state[g], spec.none_index] == 1.0 for g in easy)
    assert np.all(lp.scheme[sim.group_state[easy], pool] > 0)  # the LP pools them with the hard ones
    assert nd.value < fd.value


def test_on_the_shipped_spec_the_margin_is_the_pooled_gain():
    """Obedience is slack on the shipped spec, so the LP pools every easy template: LP - FD = sum w_g Delta(g, pool)."""
    sim, lp, fd, _ = _exact(SPEC)
    v = SPEC.value_table()
    delta = v - v[:, [SPEC.none_index]]
    best = delta.max(axis=1)
    easy = (best > 0) & (best < SPEC.follow_cost)
    w = SPEC.group_weight_vector()
    assert lp.value - fd.value == pytest.approx(float(w[easy] @ delta[easy, SPEC.items.index(POOL)]), abs=1e-9)
    assert lp.obedience_slack[SPEC.items.index(POOL), SPEC.none_index] > 0.01  # room for estimation error


def test_pooling_more_than_the_lp_loses_everything_the_pool_carried():
    """Where obedience binds the LP's scheme is a knife edge: pool 1% more and the Receiver ignores the hint."""
    spec = _binding()
    sim, lp, fd, _ = _exact(spec)
    pool = spec.items.index(POOL)
    row = int(sim.group_state[spec.group_index("ages")])
    assert 0.0 < lp.scheme[row, pool] < 1.0  # partial pooling
    more = lp.scheme.copy()
    more[row, pool] += 0.01
    more[row] /= more[row].sum()
    over = committed_value(spec, more, sim.group_state)
    assert not over.obeyed[pool] and over.gain[pool] < spec.follow_cost
    assert over.value < fd.value  # the hard templates' hints are ignored too


def _random_spec(data, seed: int) -> tuple[SimulatedSpec, dict]:
    rng = np.random.default_rng(seed)
    base = default_spec()
    table = rng.uniform(0.0, 1.0, (len(base.groups), len(base.items)))
    success = {g: dict(zip(base.items, row.tolist())) for g, row in zip(base.groups, table)}
    spec = dataclasses.replace(base, success=success, obedience=data.draw(st.floats(0.1, 1.0)),
                               follow_cost=data.draw(st.floats(0.0, 0.5)))
    weights = dict(zip(spec.groups, rng.dirichlet(np.ones(len(spec.groups))).tolist()))
    return spec, weights


@settings(max_examples=15, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_exact_value_reproduces_the_lp_and_bounds_every_scheme(data, seed):
    """For any spec, weights and cost: V(LP) = LP value >= V(FD) = FD value, >= V(ND), >= V(any scheme)."""
    spec, weights = _random_spec(data, seed)
    sim = persuasion_game(spec, weights, spec.follow_cost)
    lp, fd, nd = persuasion.solve(sim.game), full_disclosure(sim.game), no_disclosure(sim.game)

    def value(scheme):
        return committed_value(spec, scheme, sim.group_state, weights).value

    assert value(lp.scheme) == pytest.approx(lp.value, abs=1e-9)
    assert value(fd.scheme) == pytest.approx(fd.value, abs=1e-9)
    assert value(nd.scheme) == pytest.approx(nd.value, abs=1e-9)
    assert value(lp.scheme) >= max(value(fd.scheme), value(nd.scheme)) - 1e-9
    rng = np.random.default_rng(seed + 1)
    for alpha in (0.1, 1.0):  # sparse and dense schemes: none beats the LP against this Receiver
        scheme = rng.dirichlet(np.full(len(spec.items), alpha), size=len(sim.states))
        assert value(scheme) <= lp.value + 1e-9


@settings(max_examples=15, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_without_a_cost_full_disclosure_is_optimal(data, seed):
    spec, weights = _random_spec(data, seed)
    sim = persuasion_game(spec, weights, 0.0)
    fd = committed_value(spec, full_disclosure(sim.game).scheme, sim.group_state, weights, follow_cost=0.0)
    assert fd.value == pytest.approx(spec.optimal_value(weights), abs=1e-9)
    assert fd.value == pytest.approx(persuasion.solve(sim.game).value, abs=1e-6)


@settings(max_examples=20, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_obedience_is_the_posterior_gain_against_the_cost(data, seed):
    """obey(sigma) = 1[E[Delta | sigma] >= c]; P(sigma) sums to 1; V lies between silence and the best item."""
    spec, weights = _random_spec(data, seed)
    states = list(dict.fromkeys(spec.best_item(g) for g in spec.groups))
    s = group_states(spec, states)
    scheme = np.random.default_rng(seed).dirichlet(np.ones(len(spec.items)), size=len(states))
    out = committed_value(spec, scheme, s, weights)
    w, v = spec.group_weight_vector(weights), spec.value_table()
    joint = w[:, None] * scheme[s]
    delta = v - v[:, [spec.none_index]]
    np.testing.assert_allclose(out.signal_prob, joint.sum(0), atol=1e-12)
    assert out.signal_prob.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(out.gain, (joint * delta).sum(0) / joint.sum(0), atol=1e-12)
    items = np.arange(len(spec.items)) != spec.none_index
    assert np.array_equal(out.obeyed[items], (out.gain >= spec.follow_cost - 1e-7)[items])
    assert w @ v[:, spec.none_index] - 1e-9 <= out.value <= w @ v.max(axis=1) + 1e-9
    # an Advisor that estimates the state exactly is the default
    exact = np.eye(len(states))[s]
    assert committed_value(spec, scheme, s, weights, estimate=exact).value == pytest.approx(out.value, abs=1e-12)


def test_an_advisor_that_errs_sends_from_its_estimate():
    sim, lp, _, _ = _exact(SPEC)
    q = np.eye(len(sim.states))[sim.group_state]
    ages = SPEC.group_index("ages")
    q[ages] = np.eye(len(sim.states))[sim.states.index("none")]  # the state model calls "ages" silent
    out = committed_value(SPEC, lp.scheme, sim.group_state, estimate=q)
    w = SPEC.group_weight_vector()
    lost = SPEC.value("ages", POOL) - SPEC.value("ages", "none")
    assert out.value == pytest.approx(lp.value - w[ages] * lost, abs=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(scheme=np.ones((2, 3))), "shape"),
    (dict(scheme=np.full((8, 9), 0.5)), "probability distributions"),
    (dict(group_state=np.zeros(3, dtype=int)), "group_state"),
    (dict(group_state=np.full(10, 8)), "group_state"),
    (dict(follow_cost=1.5), "follow_cost"),
    (dict(estimate=np.ones((10, 8))), "estimate"),
])
def test_bad_input_is_one_line(kwargs, match):
    sim = persuasion_game(SPEC, follow_cost=SPEC.follow_cost)
    args = dict(scheme=np.eye(len(SPEC.items))[: len(sim.states)], group_state=sim.group_state)
    args.update(kwargs)
    with pytest.raises(SimulatedSpecError, match=match) as err:
        committed_value(SPEC, args.pop("scheme"), args.pop("group_state"), **args)
    assert len(str(err.value).splitlines()) == 1


def test_a_spec_round_trips_its_cost_and_checks_it():
    assert SimulatedSpec.from_dict(SPEC.to_dict()) == SPEC and SPEC.follow_cost > 0
    old = {k: v for k, v in default_spec().to_dict().items() if k != "follow_cost"}
    assert SimulatedSpec.from_dict(old).follow_cost == 0.0  # spec files written before the field still load
    with pytest.raises(SimulatedSpecError, match="follow_cost"):
        dataclasses.replace(SPEC, follow_cost=-0.1)


def test_the_committed_receiver_ignores_the_hints_that_do_not_pay():
    """After commitment, a hint whose posterior gain is below c is answered (and believed) as no information,
    with the baseline's draws; a hint that pays is answered as before."""
    from llm.game.beliefs import receiver_beliefs
    from llm.game.signals import template_signal

    task = get_task("synthetic")
    sim, _, fd, _ = _exact(SPEC)
    rx = SimulatedReceiver(SPEC)
    committed = rx.committed_to(fd.scheme, sim.states, SPEC.items)
    assert rx.obeyed is None and committed.obeyed["write_equation"] is False and committed.obeyed[POOL] is True
    problems = [p for p in synthetic_arithmetic(200, 1, "train") if p.group == "ages"][:12]
    cat = SPEC.catalogue_items

    def answers(model, item):
        hint = None if item is None else template_signal(cat.get(item)).text
        return [d.correct for d in model.decide([task.prompt(p, hint=hint) for p in problems], 0.7, 1)]

    assert answers(committed, "write_equation") == answers(rx, None) != answers(rx, "write_equation")
    assert answers(committed, POOL) == answers(rx, POOL)
    qs = [problems[0].question]
    ignored = receiver_beliefs(committed, qs, cat, [template_signal(cat.get("write_equation")).text])
    np.testing.assert_allclose(ignored[0], SPEC.prior_vector(), atol=1e-12)
    with pytest.raises(SimulatedSpecError, match="no state for the helpful item"):
        rx.committed_to(fd.scheme[:2], sim.states[:2])
    with pytest.raises(SimulatedSpecError, match="not the Receiver's items"):
        rx.committed_to(fd.scheme, sim.states, SPEC.items[::-1])

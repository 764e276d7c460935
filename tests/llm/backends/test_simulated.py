"""The simulated Receiver with a known optimum (llm/backends/simulated.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from llm.backends import load_model
from llm.game.beliefs import receiver_beliefs
from llm.game.signals import template_signal
from llm.lm import LanguageModel, LMError
from llm.backends.simulated import (
    SimulatedReceiver,
    SimulatedSpecError,
    default_spec,
    load_spec,
    respond,
)
from llm.tasks.answers import grade_gsm8k
from llm.tasks.registry import get_task
from llm.tasks.synthetic import TEMPLATES, synthetic_arithmetic

TASK = get_task("synthetic")
SPEC = default_spec()
RX = SimulatedReceiver(SPEC)
CAT = SPEC.catalogue_items


def _signal(item_id: str) -> str:
    signal = template_signal(CAT.get(item_id))
    return getattr(signal, "text", signal)


def _prompt(problem, item_id: str | None) -> str:
    return TASK.prompt(problem, hint=None if item_id is None else _signal(item_id))


def _of_group(group: str, n: int, seed: int = 1):
    return [p for p in synthetic_arithmetic(n, seed, "train") if p.group == group]


def test_implements_the_protocol_and_load_model() -> None:
    assert isinstance(RX, LanguageModel)
    model = load_model("simulated")
    assert isinstance(model, SimulatedReceiver) and model.spec == SPEC


def test_default_spec_has_a_known_optimum_needing_different_items() -> None:
    assert set(SPEC.groups) == set(TEMPLATES)
    best = {g: SPEC.best_item(g) for g in SPEC.groups}
    assert len(set(best.values())) >= 5  # different groups need different items
    silent = [g for g, a in best.items() if a == "none"]
    assert silent and all(SPEC.value(g, a) < SPEC.value(g, "none") for g in silent for a in SPEC.items if a != "none")
    v = SPEC.value_table()
    for g in SPEC.groups:  # a clear margin, so a learner can tell the best item apart
        row = np.sort(v[SPEC.group_index(g)])
        assert row[-1] - row[-2] >= 0.05
    opt = SPEC.optimal_value()
    assert opt == pytest.approx(np.mean([SPEC.value(g, best[g]) for g in SPEC.groups]))
    assert opt > max(SPEC.item_value(a) for a in SPEC.items) + 0.12  # no single item comes close
    w = {"sharing": 1.0, "ages": 3.0}
    expected = (SPEC.value("sharing", "none") + 3 * SPEC.value("ages", "write_equation")) / 4
    assert SPEC.optimal_value(w) == pytest.approx(expected)


@pytest.mark.parametrize("group,item", [("ages", "write_equation"), ("ages", "none"), ("sharing", "break_into_steps"),
                                        ("shopping", "make_table")])
def test_success_frequency_matches_the_spec(group: str, item: str) -> None:
    problem = _of_group(group, 60)[0]
    n = 400
    gens = RX.generate([_prompt(problem, item)] * n, temperature=1.0, seed=3, stop=TASK.stop)
    wins = sum(grade_gsm8k(g.text, problem.answer) for g in gens)
    assert binomtest(wins, n, SPEC.value(group, item)).pvalue > 1e-3, (wins, n, SPEC.value(group, item))


def test_greedy_success_rate_over_a_group_matches_the_spec() -> None:
    problems = _of_group("discount", 1500)
    item = "fractions_percents"
    gens = RX.generate([_prompt(p, item) for p in problems], stop=TASK.stop)
    wins = sum(grade_gsm8k(g.text, p.answer) for g, p in zip(gens, problems))
    assert binomtest(wins, len(problems), SPEC.value("discount", item)).pvalue > 1e-3


def test_obedience_rate() -> None:
    problem = _of_group("distance", 60)[0]
    decisions = RX.decide([_prompt(problem, "make_table")] * 1000, temperature=0.7, seed=0)
    assert all(d.item == "make_table" and d.group == "distance" for d in decisions)
    followed = sum(d.acted == "make_table" for d in decisions)
    assert binomtest(followed, 1000, SPEC.obedience).pvalue > 1e-3
    assert {d.acted for d in decisions} == {"make_table", "none"}
    assert all(d.acted == "none" for d in RX.decide([_prompt(problem, None)] * 50, temperature=1.0))


def test_deterministic_per_seed_and_greedy_ignores_the_seed() -> None:
    problems = synthetic_arithmetic(40, 0)
    prompts = [_prompt(p, "break_into_steps") for p in problems]
    greedy = [g.text for g in RX.generate(prompts, seed=1)]
    assert greedy == [g.text for g in RX.generate(prompts, seed=2)]
    assert greedy == [g.text for g in SimulatedReceiver(SPEC).generate(prompts)]
    hot = [g.text for g in RX.generate(prompts, temperature=0.8, seed=5)]
    assert hot == [g.text for g in RX.generate(prompts, temperature=0.8, seed=5)]
    assert hot != [g.text for g in RX.generate(prompts, temperature=0.8, seed=6)]
    other = SimulatedReceiver(dataclasses.replace(SPEC, seed=1))
    assert greedy != [g.text for g in other.generate(prompts)]
    # copies of one prompt in one call are distinct samples; one copy per call with seeds j gives the same samples
    copies = RX.decide([prompts[0]] * 30, temperature=1.0, seed=4)
    assert len({d.correct for d in copies}) == 2
    assert copies == [RX.decide([prompts[0]], temperature=1.0, seed=4 + j)[0] for j in range(30)]


def test_common_random_numbers_across_items() -> None:
    """Per (question, sample), success is monotone in p(g, a): a better item never loses where a worse one wins."""
    for group in ("ages", "shopping", "savings"):
        problem = _of_group(group, 80)[0]
        k = 60
        prompts, items = [], list(SPEC.items)
        for item in items:
            prompts += [_prompt(problem, item)] * k
        decisions = RX.decide(prompts, temperature=1.0, seed=9)
        ok = np.array([d.correct for d in decisions]).reshape(len(items), k)
        obeyed = np.array([d.acted != "none" for d in decisions]).reshape(len(items), k)
        p = SPEC.success_table()[SPEC.group_index(group)]
        none = items.index("none")
        for s in range(k):
            assert len(set(obeyed[[i for i in range(len(items)) if i != none], s])) == 1  # one obedience draw
            for a in range(len(items)):
                for b in range(len(items)):
                    if p[b] <= p[a] and ok[b, s] and (obeyed[a, s] == obeyed[b, s] or b == none or a == none):
                        acted_a = a if obeyed[a, s] else none
                        acted_b = b if obeyed[b, s] else none
                        if p[acted_b] <= p[acted_a]:
                            assert ok[a, s], (group, items[a], items[b], s)


def test_wrong_answers_are_graded_wrong_and_right_ones_right() -> None:
    problems = synthetic_arithmetic(60, 0)
    prompts = [_prompt(p, "guess_and_check") for p in problems]
    for prompt, p, g, d in zip(prompts, problems, RX.generate(prompts, stop=TASK.stop), RX.decide(prompts)):
        assert grade_gsm8k(g.text, p.answer) == d.correct
        assert g.text.strip().splitlines()[:-1] == p.solution.splitlines()[:-1]
        assert g.finish_reason == "stop" and g.new_tokens == len(g.text.split())


def test_chat_prompts_and_few_shot_prompts_read_the_asked_question() -> None:
    shots = synthetic_arithmetic(3, 1, "train")
    problem = synthetic_arithmetic(5, 0)[4]
    prompt = TASK.prompt(problem, shots, hint=_signal("work_backwards"))
    reading = RX.read(prompt)
    assert reading.problem.id == problem.id and reading.item == "work_backwards"
    chat = TASK.prompt(problem, shots, chat=True)
    assert RX.read(chat).problem.id == problem.id and RX.read(chat).item is None
    assert RX.generate([chat])[0].text == RX.generate([TASK.prompt(problem)])[0].text  # same question, same draw


def test_hint_text_alone_and_earliest_item_win() -> None:
    problem = synthetic_arithmetic(1, 0)[0]
    hint = CAT.get("unit_rates").hint_text
    assert RX.read(TASK.prompt(problem, hint=hint)).item == "unit_rates"
    both = "Try to work backwards, or make a table."
    assert RX.read(TASK.prompt(problem, hint=both)).item == "work_backwards"
    assert RX.read(TASK.prompt(problem, hint="Think carefully.")).item is None


def test_beliefs_are_recovered_exactly() -> None:
    questions = [p.question for p in synthetic_arithmetic(4, 0)]
    prior = receiver_beliefs(RX, questions, CAT)
    np.testing.assert_allclose(prior, np.tile(SPEC.prior_vector(), (4, 1)), atol=1e-12)
    items = ["work_backwards", "none", "unit_rates", "break_into_steps"]
    post = receiver_beliefs(RX, questions, CAT, [_signal(i) for i in items])
    for row, item in zip(post, items):
        np.testing.assert_allclose(row, SPEC.belief(item), atol=1e-12)
        assert row[CAT.index(item)] >= SPEC.obedience
    # a signal naming no item leaves the prior
    np.testing.assert_allclose(receiver_beliefs(RX, questions[:1], CAT, ["Think hard."])[0], SPEC.prior_vector())


@settings(max_examples=25, deadline=None)
@given(rho=st.floats(0, 1), weights=st.lists(st.floats(0.01, 1), min_size=9, max_size=9), k=st.integers(0, 8))
def test_beliefs_recovered_for_any_prior_and_obedience(rho: float, weights: list[float], k: int) -> None:
    prior = dict(zip(SPEC.items, np.array(weights) / sum(weights)))
    spec = dataclasses.replace(SPEC, prior=prior, obedience=rho)
    rx = SimulatedReceiver(spec)
    question = synthetic_arithmetic(1, 0)[0].question
    item = spec.items[k]
    got = receiver_beliefs(rx, [question, question], CAT, [None, _signal(item)])
    np.testing.assert_allclose(got[0], spec.prior_vector(), atol=1e-9)
    np.testing.assert_allclose(got[1], rho * np.eye(9)[k] + (1 - rho) * spec.prior_vector(), atol=1e-9)


def test_unknown_question_is_a_one_line_error() -> None:
    with pytest.raises(LMError, match="no known synthetic question") as info:
        RX.generate(["Question: What is the capital of France?\nAnswer:"])
    assert "\n" not in str(info.value)
    with pytest.raises(LMError, match="scores only item names"):
        RX.logprob(["Question: x"], [" Paris."])


def test_spec_validation_is_one_line() -> None:
    row = dict(SPEC.success["ages"])
    del row["make_table"]
    with pytest.raises(SimulatedSpecError, match=r"success\['ages'\]: missing items \['make_table'\]"):
        dataclasses.replace(SPEC, success={**SPEC.success, "ages": row})
    with pytest.raises(SimulatedSpecError, match="prior sums to"):
        dataclasses.replace(SPEC, prior={i: 0.5 for i in SPEC.items})
    with pytest.raises(SimulatedSpecError, match=r"obedience must be a probability"):
        dataclasses.replace(SPEC, obedience=1.5)
    with pytest.raises(SimulatedSpecError, match=r"success\['ages'\]\['none'\]"):
        dataclasses.replace(SPEC, success={**SPEC.success, "ages": {**SPEC.success["ages"], "none": -0.1}})
    with pytest.raises(SimulatedSpecError, match="no group 'geometry'"):
        SPEC.best_item("geometry")


def test_json_round_trip_and_load_model_with_a_path(tmp_path) -> None:
    spec = dataclasses.replace(SPEC, obedience=0.5, seed=7, name="sim-half")
    path = tmp_path / "spec.json"
    spec.to_json(path)
    assert load_spec(path) == spec
    model = load_model(f"simulated:{path}")
    assert model.spec == spec and model.name == "sim-half"
    (tmp_path / "bad.json").write_text('{"success": {}, "prior": {}, "colour": 1}')
    with pytest.raises(SimulatedSpecError, match="unknown keys"):
        load_model(f"simulated:{tmp_path / 'bad.json'}")
    with pytest.raises(SimulatedSpecError, match="not found"):
        load_model("simulated:/nonexistent/spec.json")


def test_respond_rule() -> None:
    table = np.array([[0.2, 0.9, 0.5]])
    acted, ok = respond(table, 0.8, 2, np.array([0, 0, 0]), np.array([1, 1, 2]), np.array([0.1, 0.9, 0.1]),
                        np.array([0.6, 0.6, 0.6]))
    assert acted.tolist() == [1, 2, 2] and ok.tolist() == [True, False, False]


def test_persuasion_game_matches_the_spec() -> None:
    import persuasion
    from llm.backends.simulated import persuasion_game

    sim = persuasion_game(SPEC, follow_cost=0.0)
    assert sim.game.prior.sum() == pytest.approx(1.0)
    for k, group in enumerate(SPEC.groups):
        assert sim.states[sim.group_state[k]] == SPEC.best_item(group)
    # with no follow cost the interests agree: the LP optimum is the per-group optimum
    assert persuasion.solve(sim.game).value == pytest.approx(SPEC.optimal_value(), abs=1e-6)
    costly = persuasion.solve(persuasion_game(SPEC, follow_cost=0.25).game)
    assert costly.value < SPEC.optimal_value() - 0.01  # following costs: the Advisor must persuade, and loses some
    with pytest.raises(SimulatedSpecError, match="follow_cost"):
        persuasion_game(SPEC, follow_cost=2.0)
    weighted = persuasion_game(SPEC, {"sharing": 1.0, "ages": 1.0}, 0.0)
    assert set(weighted.states) == {"none", "write_equation"}


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), rho=st.floats(0.1, 1.0))
def test_persuasion_game_without_cost_is_solved_by_the_per_group_optimum(seed: int, rho: float) -> None:
    """For any success table and group weights, c = 0 makes the LP value sum_g w_g max_a v(g, a)."""
    import persuasion
    from llm.backends.simulated import persuasion_game

    rng = np.random.default_rng(seed)
    table = rng.uniform(0.0, 1.0, (len(SPEC.groups), len(SPEC.items)))
    success = {g: dict(zip(SPEC.items, row.tolist())) for g, row in zip(SPEC.groups, table)}
    spec = dataclasses.replace(SPEC, success=success, obedience=rho)
    weights = dict(zip(spec.groups, rng.dirichlet(np.ones(len(spec.groups))).tolist()))
    sim = persuasion_game(spec, weights, 0.0)
    assert persuasion.solve(sim.game).value == pytest.approx(spec.optimal_value(weights), abs=1e-6)


def test_unknown_catalogue_is_a_spec_error() -> None:
    with pytest.raises(SimulatedSpecError, match="simulated spec catalogue: no built-in catalogue 'poetry'"):
        dataclasses.replace(SPEC, catalogue="poetry")

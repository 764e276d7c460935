"""Session fixtures for the online tests: the prosecutor runs and the two-judge bandit runs, simulated once."""

import jax
import pytest
from online_games import CHUNK, DELTA, HORIZON, SEEDS, prosecutor, two_judges

from persuasion.online import (
    exp3,
    explore_then_commit,
    full_disclosure_baseline,
    no_disclosure_baseline,
    oracle,
    plugin_learner,
    robust_learner,
    scheme_family,
    simulate,
)


@pytest.fixture(scope="session")
def prosecutor_runs():
    g = prosecutor()
    algs = {
        "robust": robust_learner(g.sender_utility, g.receiver_utility, delta=DELTA),
        "plugin": plugin_learner(g.sender_utility, g.receiver_utility),
        "oracle": oracle(g),
        "full_disclosure": full_disclosure_baseline(g),
        "no_disclosure": no_disclosure_baseline(g),
    }
    traces = {k: simulate(g, a, jax.random.key(0), horizon=HORIZON, seeds=SEEDS, chunk=CHUNK) for k, a in algs.items()}
    return g, algs, traces


@pytest.fixture(scope="session")
def bandit_runs():
    g = two_judges()
    family = scheme_family(g)
    algs = {
        "exp3": exp3(family, g.sender_utility, HORIZON),
        "etc": explore_then_commit(family, HORIZON),
        "full_disclosure": full_disclosure_baseline(g),
    }
    traces = {k: simulate(g, a, jax.random.key(1), horizon=HORIZON, seeds=SEEDS, chunk=CHUNK) for k, a in algs.items()}
    return g, family, algs, traces

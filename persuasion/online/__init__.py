"""Online persuasion: environments, learners (init/act/update/plan) and the many-seed simulator."""

from persuasion.online.analysis import ExponentFit, band, fit_exponents, loglog_slope, seed_bound, summarize
from persuasion.online.baselines import fixed_scheme, full_disclosure_baseline, no_disclosure_baseline, oracle
from persuasion.online.common import EpochPlanner, SchemeState, known_game
from persuasion.online.envs import Env, Outcome, SchemeOutcome, draw, make_env, outcome, profiles, respond
from persuasion.online.exp3 import Exp3State, exp3, exp3_bound
from persuasion.online.explore_then_commit import ETCState, etc_bound, explore_then_commit
from persuasion.online.games import prosecutor_game, random_game, random_typed_game, typed_prosecutor_game
from persuasion.online.interface import Algorithm, Decision, Feedback
from persuasion.online.mirror_descent import MirrorDescentState, mirror_descent_learner
from persuasion.online.plugin import plugin_learner
from persuasion.online.robust_learner import LearnedScheme, learn, robust_learner
from persuasion.online.schemes import (
    PublicLP,
    full_disclosure,
    no_disclosure,
    optimal_scheme,
    public_lp,
    scheme_family,
)
from persuasion.online.simulate import Trace, doubling_schedule, optimal_value, simulate

__all__ = [
    "Algorithm",
    "Decision",
    "ETCState",
    "Env",
    "EpochPlanner",
    "Exp3State",
    "ExponentFit",
    "Feedback",
    "LearnedScheme",
    "MirrorDescentState",
    "Outcome",
    "PublicLP",
    "SchemeOutcome",
    "SchemeState",
    "Trace",
    "band",
    "doubling_schedule",
    "draw",
    "etc_bound",
    "exp3",
    "exp3_bound",
    "explore_then_commit",
    "fit_exponents",
    "fixed_scheme",
    "full_disclosure",
    "full_disclosure_baseline",
    "known_game",
    "learn",
    "loglog_slope",
    "make_env",
    "mirror_descent_learner",
    "no_disclosure",
    "no_disclosure_baseline",
    "optimal_scheme",
    "optimal_value",
    "oracle",
    "outcome",
    "plugin_learner",
    "profiles",
    "prosecutor_game",
    "public_lp",
    "random_game",
    "random_typed_game",
    "respond",
    "robust_learner",
    "scheme_family",
    "seed_bound",
    "simulate",
    "summarize",
    "typed_prosecutor_game",
]

"""Finite Bayesian persuasion: games, exact LP solutions, reference schemes, receiver types and robust schemes.

Layout (docs/core.md): :mod:`persuasion.game` (the game), :mod:`persuasion.responses` (best responses with the one
tie tolerance, action profiles, reference schemes), :mod:`persuasion.lp` (every LP on one backend),
:mod:`persuasion.results` (the result family). The online learners live in :mod:`persuasion.online`; the command
line in :mod:`persuasion.cli`.
"""

from persuasion import examples
from persuasion.concavify import concavify
from persuasion.errors import FitError, GameError, SolverError
from persuasion.examples import example
from persuasion.game import Game
from persuasion.lp.robust import RobustSolution, RobustSolver, confidence_radius, solve_robust
from persuasion.lp.typed import PrivateSolution, PublicLP, PublicSolution, solve_private, solve_public
from persuasion.reference import full_disclosure, no_disclosure
from persuasion.results import Result

# Last, through the module persuasion.solve: loading it binds ``persuasion.solve`` to the module, and this import
# then rebinds the name to the function (a later ``import persuasion.solve`` finds the module loaded and keeps it).
from persuasion.solve import ReusableSolver, Solution, evaluate, solve  # noqa: E402

__all__ = [
    "FitError",
    "Game",
    "GameError",
    "PrivateSolution",
    "PublicLP",
    "PublicSolution",
    "Result",
    "ReusableSolver",
    "RobustSolution",
    "RobustSolver",
    "Solution",
    "SolverError",
    "concavify",
    "confidence_radius",
    "evaluate",
    "example",
    "examples",
    "full_disclosure",
    "no_disclosure",
    "solve",
    "solve_private",
    "solve_public",
    "solve_robust",
]
__version__ = "0.1.0"

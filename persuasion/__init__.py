"""Finite Bayesian persuasion: games, exact LP solutions, reference schemes, receiver types and robust schemes.

The online learners live in :mod:`persuasion.online`; the command line in :mod:`persuasion.cli`.
"""

from persuasion import examples
from persuasion.concavify import concavify
from persuasion.errors import GameError, SolverError
from persuasion.examples import example
from persuasion.game import Game
from persuasion.receiver_types import PrivateSolution, PublicSolution, solve_private, solve_public
from persuasion.reference import full_disclosure, no_disclosure
from persuasion.robust import RobustSolver, confidence_radius, solve_robust
from persuasion.solve import ReusableSolver, Solution, evaluate, solve

__all__ = [
    "Game",
    "GameError",
    "PrivateSolution",
    "PublicSolution",
    "ReusableSolver",
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

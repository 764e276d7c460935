"""The linear programs of finite persuasion, on one backend (:mod:`persuasion.lp.backend`).

* :mod:`persuasion.lp.single`: one receiver: ``solve`` (row generation on HiGHS), ``evaluate``,
  ``ReusableSolver`` (compiled once, cvxpy DPP), the :class:`Solution` with its dual certificate;
* :mod:`persuasion.lp.typed`: ``K`` receiver types: ``PublicLP`` / ``solve_public`` and ``solve_private``;
* :mod:`persuasion.lp.robust`: schemes persuasive on an L1 ball of priors: ``RobustSolver`` / ``solve_robust``.
"""

from persuasion.lp.backend import DEFAULT_SOLVERS, solve_problem
from persuasion.lp.robust import RobustSolution, RobustSolver, solve_robust
from persuasion.lp.single import ReusableSolver, Solution, evaluate, solve
from persuasion.lp.typed import PrivateSolution, PublicLP, PublicSolution, SchemeValue, solve_private, solve_public

__all__ = [
    "DEFAULT_SOLVERS",
    "PrivateSolution",
    "PublicLP",
    "PublicSolution",
    "ReusableSolver",
    "RobustSolution",
    "RobustSolver",
    "SchemeValue",
    "Solution",
    "evaluate",
    "solve",
    "solve_private",
    "solve_problem",
    "solve_public",
    "solve_robust",
]

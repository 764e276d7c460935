"""The single-receiver persuasion LP (``solve``, ``evaluate``, ``ReusableSolver``, ``Solution``).

Its home is :mod:`persuasion.lp.single`; this module keeps the import path ``persuasion.solve`` working.
"""

from persuasion.lp.backend import DEFAULT_SOLVERS, IPM_MIN_NNZ
from persuasion.lp.single import (  # noqa: F401  (the private names: row-generation internals tests patch)
    FEAS_TOL,
    HIGHS_TOL,
    ReusableSolver,
    Solution,
    _CvxpyOracle,
    _finish,
    _HighsOracle,
    _lift,
    _reduce,
    all_pairs,
    dominated_actions,
    evaluate,
    mass_matrix,
    obedience_matrix,
    solve,
)

__all__ = [
    "DEFAULT_SOLVERS",
    "FEAS_TOL",
    "HIGHS_TOL",
    "IPM_MIN_NNZ",
    "ReusableSolver",
    "Solution",
    "all_pairs",
    "dominated_actions",
    "evaluate",
    "mass_matrix",
    "obedience_matrix",
    "solve",
]

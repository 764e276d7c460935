"""Signalling schemes persuasive for every prior in an L1 confidence set (Zu, Iyer & Xu, EC 2021).

Its home is :mod:`persuasion.lp.robust`; this module keeps the import path ``persuasion.robust`` working.
"""

from persuasion.lp.backend import solve_problem as solve_lp
from persuasion.lp.robust import (
    RobustSolution,
    RobustSolver,
    confidence_radius,
    confidence_vertices,
    epoch_delta,
    obedience_slack,
    robust_obedience_slack,
    solve_robust,
    solve_robust_vertices,
    worst_case,
)
from persuasion.responses import SCHEME_ZERO, clean_scheme

__all__ = [
    "SCHEME_ZERO",
    "RobustSolution",
    "RobustSolver",
    "clean_scheme",
    "confidence_radius",
    "confidence_vertices",
    "epoch_delta",
    "obedience_slack",
    "robust_obedience_slack",
    "solve_lp",
    "solve_robust",
    "solve_robust_vertices",
    "worst_case",
]

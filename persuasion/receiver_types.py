"""Persuasion of a receiver with ``K`` private types: public and private (type-reporting) signalling.

Its home is :mod:`persuasion.lp.typed`; this module keeps the import path ``persuasion.receiver_types`` working.
"""

from persuasion.lp.typed import (
    PROB_TOL,
    PRUNE_TOL,
    PrivateSolution,
    PublicLP,
    PublicSolution,
    SchemeValue,
    action_profiles,
    public_obedience_matrix,
    region_tests_intervals,
    region_tests_lp,
    report_utilities,
    solve_private,
    solve_public,
)

__all__ = [
    "PROB_TOL",
    "PRUNE_TOL",
    "PrivateSolution",
    "PublicLP",
    "PublicSolution",
    "SchemeValue",
    "action_profiles",
    "public_obedience_matrix",
    "region_tests_intervals",
    "region_tests_lp",
    "report_utilities",
    "solve_private",
    "solve_public",
]

"""The one LP backend: solver fallback, HiGHS options, and the HiGHS banner kept off stdout.

Every LP of the package (single receiver, typed receivers, robust, reusable) is a cvxpy problem solved by
:func:`solve_problem`, which tries the backends in order (HiGHS, then Clarabel) and raises one
:class:`~persuasion.errors.SolverError` naming each failure; the single-receiver row generation also drives one
``highspy.Highs`` model directly (:func:`new_highs`).
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from typing import Any

import cvxpy as cp
import highspy

from persuasion.errors import SolverError

#: Solvers tried in order; the first that reports an optimum wins.
DEFAULT_SOLVERS = ("HIGHS", "CLARABEL")
#: A full LP with at least this many obedience nonzeros (``m n (n - 1)``) goes to HiGHS's interior point method
#: (with crossover to a vertex); smaller ones to its dual simplex.
IPM_MIN_NNZ = 10_000


@functools.cache
def quiet_highs() -> None:
    """Builds the process's first ``highspy.Highs`` with file descriptor 1 on ``/dev/null`` (once, lazily).

    highspy >= 1.16 prints its licence banner on stdout when the first instance of a process is constructed, before
    any option (``output_flag``) can be set; that would corrupt ``persuasion solve --json`` and any caller's stdout.
    Later instances (ours and cvxpy's) print nothing. Called before every solver construction of the package, so
    importing :mod:`persuasion` touches no file descriptor.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def new_highs() -> highspy.Highs:
    """A silent ``highspy.Highs`` model (the banner is kept off stdout, see :func:`quiet_highs`)."""
    quiet_highs()
    h = highspy.Highs()
    h.silent()
    return h


def highs_options(nnz: int) -> dict[str, dict[str, Any]]:
    """Per-solver keyword arguments for HiGHS on a full LP with ``nnz`` obedience nonzeros (IPM when large)."""
    method = "ipm" if nnz >= IPM_MIN_NNZ else "simplex"
    return {"HIGHS": {"highs_options": {"solver": method}}}


def solve_problem(
    problem: cp.Problem,
    solvers: tuple[str, ...] = DEFAULT_SOLVERS,
    per_solver: dict[str, dict[str, Any]] | None = None,
    *,
    what: str = "LP",
    **kwargs: Any,
) -> str:
    """Solves ``problem`` with the first solver in ``solvers`` that reports an optimum; returns its name.

    Args:
        problem: the cvxpy problem.
        solvers: cvxpy solver names tried in order.
        per_solver: extra keyword arguments for one solver only (e.g. :func:`highs_options`).
        what: the problem's name in the error message.
        **kwargs: keyword arguments for every solver.

    Raises:
        SolverError: when every solver fails (one line naming each failure).
    """
    quiet_highs()
    errors = []
    for name in solvers:
        extra = dict(kwargs, **(per_solver or {}).get(name, {}))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                problem.solve(solver=name, **extra)
        except (cp.error.SolverError, ValueError) as exc:
            errors.append(f"{name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            continue
        if problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            return name
        errors.append(f"{name}: status {problem.status}")
    raise SolverError(f"{what} not solved: " + "; ".join(errors))

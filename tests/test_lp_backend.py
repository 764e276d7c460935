"""Tests of persuasion.lp.backend: the one solver-fallback loop, and the HiGHS banner kept off stdout lazily."""

import subprocess
import sys

import cvxpy as cp
import numpy as np
import pytest

from persuasion import FitError, GameError, SolverError
from persuasion.lp.backend import solve_problem
from persuasion.online.analysis import fit_exponents, loglog_slope


def test_fallback_names_every_failure_on_one_line():
    x = cp.Variable(2, nonneg=True)
    problem = cp.Problem(cp.Maximize(cp.sum(x)), [cp.sum(x) <= 1])
    with pytest.raises(SolverError) as excinfo:
        solve_problem(problem, ("NO_SUCH_SOLVER", "NOR_THIS_ONE"), what="toy LP")
    message = str(excinfo.value)
    assert "\n" not in message and message.startswith("toy LP not solved")
    assert "NO_SUCH_SOLVER" in message and "NOR_THIS_ONE" in message
    assert solve_problem(problem, ("NO_SUCH_SOLVER", "CLARABEL")) == "CLARABEL"  # falls through to the next
    assert float(np.sum(x.value)) == pytest.approx(1.0, abs=1e-6)


def test_import_touches_no_stdout_and_solving_prints_nothing():
    code = (
        "import persuasion\n"
        "from persuasion.lp.backend import quiet_highs\n"
        "assert quiet_highs.cache_info().currsize == 0, 'the banner guard ran at import'\n"
        "persuasion.solve(persuasion.example('prosecutor'))\n"
        "persuasion.solve_public(persuasion.example('two_judges'))\n"
        "assert quiet_highs.cache_info().currsize == 1\n"
        "print('clean')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "clean\n"


def test_fits_have_their_own_error():
    assert issubclass(FitError, ValueError) and not issubclass(FitError, GameError)  # a statistics error
    with pytest.raises(FitError, match="two distinct"):
        fit_exponents(np.array([2.0, 2.0]), np.array([1e3, 1e4]), np.array([1.0, 2.0]))
    with pytest.raises(FitError, match="same shape"):
        loglog_slope(np.ones(3), np.ones(2))

"""Errors raised by the package: each carries a one-line message naming the problem."""


class GameError(ValueError):
    """Invalid game data: shapes, non-finite numbers, a prior off the simplex, a missing file."""


class SolverError(RuntimeError):
    """The LP solver failed on every backend tried (HiGHS, then Clarabel)."""


class FitError(ValueError):
    """A regression fit that cannot be made (mismatched shapes, too few or non-positive points): a statistics
    error, not a game error."""

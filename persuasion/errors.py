"""Errors raised by the package: each carries a one-line message naming the problem."""


class GameError(ValueError):
    """Invalid game data: shapes, non-finite numbers, a prior off the simplex, a missing file."""


class SolverError(RuntimeError):
    """The LP solver failed on every backend tried (HiGHS, then Clarabel)."""


class FitError(GameError):
    """A regression fit that cannot be made (mismatched shapes, too few or non-positive points).

    Its own type, a ``ValueError``; it derives from :class:`GameError` only so that code written when fits raised
    ``GameError`` still catches it.
    """

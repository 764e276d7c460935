"""The one family of results: every solver and learner returns a :class:`Result`.

A result carries at least ``scheme`` (the signalling scheme: rows on the simplex), ``value`` (the sender's
expected utility), ``status``, ``solver`` and ``solve_time``, and serialises with ``to_dict(game=None)`` to a
JSON-ready dict that always holds ``kind``, ``value``, ``status``, ``solver``, ``solve_time`` and ``scheme`` (with
``game``, also the state and action names). The members:

========================================  =========  ==================================================
class                                     ``kind``   returned by
========================================  =========  ==================================================
:class:`persuasion.Solution`              single     ``solve``, ``evaluate``, ``ReusableSolver``, ``full_disclosure``
:class:`persuasion.PublicSolution`        public     ``solve_public``, ``PublicLP.solution``
:class:`persuasion.PrivateSolution`       private    ``solve_private``
:class:`persuasion.RobustSolution`        robust     ``solve_robust``, ``RobustSolver``
:class:`persuasion.lp.SchemeValue`        scheme     ``PublicLP.solve``, ``public_lp`` (a 2-tuple too)
:class:`persuasion.online.LearnedScheme`  learned    ``persuasion.online.robust_learner.learn``
========================================  =========  ==================================================

:class:`ResultMixin` provides ``to_dict`` from the common fields plus each member's ``_details(game)``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from persuasion.game import Game


@runtime_checkable
class Result(Protocol):
    """What every result offers."""

    scheme: np.ndarray
    value: float

    def to_dict(self, game: Game | None = None) -> dict[str, Any]:
        """A JSON-ready summary (with ``game``, named states and actions)."""


class ResultMixin:
    """``to_dict`` for the result family: the common fields, then the member's own ``_details``."""

    __slots__ = ()
    kind: ClassVar[str] = "result"

    def _details(self, game: Game | None) -> dict[str, Any]:
        """Fields particular to the member (default: none)."""
        del game
        return {}

    def _scheme_list(self) -> Any:
        return np.asarray(self.scheme).tolist()  # type: ignore[attr-defined]

    def to_dict(self, game: Game | None = None) -> dict[str, Any]:
        """A JSON-ready summary: ``kind``, ``value``, ``status``, ``solver``, ``solve_time``, ``scheme`` and details.

        With ``game`` it also names the states and actions (and the types of a typed game).
        """
        out: dict[str, Any] = {
            "kind": self.kind,
            "value": float(self.value),  # type: ignore[attr-defined]
            "status": getattr(self, "status", "optimal"),
            "solver": getattr(self, "solver", "none"),
            "solve_time": float(getattr(self, "solve_time", 0.0)),
            "scheme": self._scheme_list(),
        }
        if game is not None:
            add_names(out, game)
        out.update(self._details(game))
        return out


# ------------------------------------------------------------------------------------------------ helpers
def type_names(game: Game) -> list[str]:
    """The type labels of ``game`` (``type0..`` when unnamed or untyped)."""
    return list(game.type_names) if game.type_names else [f"type{k}" for k in range(game.K)]


def add_names(out: dict[str, Any], game: Game) -> None:
    """Adds ``states``, ``actions`` (and ``types`` for a typed game) to a result dict."""
    out["states"] = list(game.state_names)
    out["actions"] = list(game.action_names)
    if game.has_types:
        out["types"] = type_names(game)


def offdiag_min(mat: np.ndarray) -> float:
    """The smallest off-diagonal entry of a square matrix (0 for a 1 x 1 or empty one)."""
    n = mat.shape[0]
    return float(mat[~np.eye(n, dtype=bool)].min()) if n > 1 else 0.0


def frozen(*arrays: np.ndarray) -> None:
    """Marks arrays read-only (results are immutable)."""
    for arr in arrays:
        arr.setflags(write=False)

"""The online-learner interface (``Algorithm``, ``Decision``, ``Feedback``).

Its home is :mod:`persuasion.online.interface`; this module keeps the import path ``persuasion.base`` working.
"""

from persuasion.online.interface import (
    ActFn,
    Algorithm,
    Decision,
    Feedback,
    InitFn,
    PlanFn,
    State,
    UpdateFn,
)

__all__ = ["ActFn", "Algorithm", "Decision", "Feedback", "InitFn", "PlanFn", "State", "UpdateFn"]

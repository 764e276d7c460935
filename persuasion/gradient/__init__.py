"""Persuasion beyond the finite LP, in JAX (flax, optax); the exact LP (:func:`persuasion.solve`) stays the reference.

* :mod:`persuasion.gradient.certificate`: obedience, value and the LP dual bound of any scheme (NumPy, batched);
* :mod:`persuasion.gradient.batched`: many games of one shape at once (augmented Lagrangian, exact polish);
* :mod:`persuasion.gradient.continuous`: continuous states in ``[0, 1]^d``, a flax network as the scheme.

See docs/jax.md for when to use which.
"""

from persuasion.gradient.batched import (
    ALConfig,
    ALState,
    BatchSolution,
    GameBatch,
    al_init,
    al_run,
    al_update,
    polish,
    random_batch,
    rescale,
    solve_batch,
    stack_games,
)
from persuasion.gradient.certificate import (
    dual_bound,
    dual_state_values,
    full_disclosure_scheme,
    max_violation,
    mix_to_obedience,
    obedience_slack,
    obedient_repair,
    scheme_value,
)

__all__ = [
    "ALConfig",
    "ALState",
    "BatchSolution",
    "GameBatch",
    "al_init",
    "al_run",
    "al_update",
    "dual_bound",
    "dual_state_values",
    "full_disclosure_scheme",
    "max_violation",
    "mix_to_obedience",
    "obedience_slack",
    "obedient_repair",
    "polish",
    "random_batch",
    "rescale",
    "scheme_value",
    "solve_batch",
    "stack_games",
]

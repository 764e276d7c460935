"""Regular grids on the probability simplex: points (type priors to try) and a triangle mesh (for plots)."""

from __future__ import annotations

import numpy as np

from persuasion.errors import GameError


def simplex_grid(K: int, steps: int) -> np.ndarray:
    """Points of the simplex with coordinates in ``{0, 1/steps, ..., 1}``, shape ``(C(steps + K - 1, K - 1), K)``.

    Rows are in lexicographic order of their first ``K - 1`` coordinates.

    Example:
        >>> (simplex_grid(2, 2) * 2).tolist()
        [[0.0, 2.0], [1.0, 1.0], [2.0, 0.0]]
    """
    if K < 1 or steps < 1:
        raise GameError(f"simplex_grid needs K >= 1 and steps >= 1, got K={K}, steps={steps}")
    if K == 1:
        return np.ones((1, 1))
    pts = [np.array(c) for c in np.ndindex(*([steps + 1] * (K - 1))) if sum(c) <= steps]
    return np.array([np.append(c, steps - c.sum()) for c in pts], dtype=float) / steps


def simplex_mesh(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The points of ``simplex_grid(3, steps)`` and the ``steps**2`` small triangles between them.

    Returns:
        ``beliefs`` of shape ``(C(steps + 2, 2), 3)`` and ``triangles`` of shape ``(steps**2, 3)`` (row indices into
        ``beliefs``), every triangle of area ``1 / steps**2`` of the simplex's.

    Example:
        >>> beliefs, triangles = simplex_mesh(2)
        >>> beliefs.shape, triangles.shape
        ((6, 3), (4, 3))
    """
    steps = int(steps)
    beliefs = simplex_grid(3, steps)
    lattice = np.rint(beliefs * steps).astype(int)
    at = {(int(j), int(k)): r for r, (_, j, k) in enumerate(lattice)}  # point (steps - j - k, j, k)
    tris = []
    for j in range(steps):
        for k in range(steps - j):
            tris.append((at[j, k], at[j + 1, k], at[j, k + 1]))
            if j + k < steps - 1:
                tris.append((at[j + 1, k], at[j + 1, k + 1], at[j, k + 1]))
    return beliefs, np.array(tris, dtype=np.int64)

"""Tests of persuasion.simplex: grid points and the triangle mesh built on them."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from persuasion import GameError
from persuasion.simplex import simplex_grid, simplex_mesh


@given(st.integers(1, 4), st.integers(1, 6))
def test_grid_points(K, steps):
    pts = simplex_grid(K, steps)
    assert pts.shape == (math.comb(steps + K - 1, K - 1), K)
    np.testing.assert_allclose(pts.sum(axis=1), 1.0)
    assert len(np.unique(np.round(pts * steps).astype(int), axis=0)) == len(pts)


@given(st.integers(1, 8))
def test_mesh_tiles_the_triangle(steps):
    beliefs, tris = simplex_mesh(steps)
    np.testing.assert_array_equal(beliefs, simplex_grid(3, steps))
    assert tris.shape == (steps**2, 3)
    # In barycentric coordinates each small triangle's area is 1/steps^2 of the whole (determinant test).
    v = beliefs[tris]
    det = np.linalg.det(np.concatenate([v[:, :, :2], np.ones((len(v), 3, 1))], axis=2))
    np.testing.assert_allclose(np.abs(det), 1.0 / steps**2)


def test_bad_grid():
    with pytest.raises(GameError, match="steps >= 1"):
        simplex_grid(3, 0)

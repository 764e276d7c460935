"""Tests of persuasion.plot: the concavification and simplex pictures (Agg, no display)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from persuasion import Game, GameError, solve
from persuasion.concavify import concavify
from persuasion.examples import prosecutor, recommendation, two_judges, two_reviewers
from persuasion.plot import (
    SIMPLEX_VERTICES,
    action_regions,
    plot_concavification,
    plot_game,
    plot_simplex,
    plot_typed_concavification,
    simplex_grid,
    to_cartesian,
)
from persuasion.reference import best_responses

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TRIANGLE_AREA = np.sqrt(3.0) / 4.0


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_concavification_plot():
    game = prosecutor()
    ax = plot_concavification(game)
    assert isinstance(ax.figure, Figure)
    assert "guilty" in ax.get_xlabel()
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert any("innocent" in t for t in ticks) and any("guilty" in t for t in ticks)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("concave closure" in s for s in labels)
    assert any("0.6" in s for s in labels)  # the optimum at the prior
    assert any("split" in s for s in labels)
    # The closure is drawn through the hull vertices; the split posteriors are marked and labelled.
    c = concavify(game)
    closure = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(closure) == 1
    np.testing.assert_allclose(closure[0].get_xdata(), c.hull_q)
    texts = _texts(ax)
    assert any(t.startswith("acquit\nw = 0.4") for t in texts) and any(t.startswith("convict\nw = 0.6") for t in texts)


def test_plots_draw_on_given_axes():
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    assert plot_concavification(prosecutor(), ax=ax1) is ax1
    assert plot_simplex(recommendation(), ax=ax2, resolution=2) is ax2


def test_simplex_plot():
    game = recommendation()
    sol = solve(game)
    ax = plot_simplex(game, resolution=4)
    texts = _texts(ax)
    for name in game.state_names:
        assert name in texts  # vertex labels
    for a, p in zip(sol.signals, sol.signal_prob):
        assert f"{game.action_names[a]} ({p:.2f})" in texts  # posterior labels
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    posteriors = next(c for c in scatters if len(c.get_offsets()) == len(sol.signals))
    np.testing.assert_allclose(posteriors.get_offsets(), to_cartesian(sol.posteriors))
    sizes = posteriors.get_sizes()
    assert np.all(np.diff(sizes[np.argsort(sol.signal_prob)]) > 0)  # size grows with the signal probability
    prior = next(c for c in scatters if len(c.get_offsets()) == 1)
    np.testing.assert_allclose(prior.get_offsets()[0], to_cartesian(game.prior))


def test_simplex_grid():
    beliefs, tris = simplex_grid(5)
    assert beliefs.shape == (21, 3) and tris.shape == (25, 3)
    np.testing.assert_allclose(beliefs.sum(axis=1), 1.0)
    xy = to_cartesian(beliefs)[tris]
    areas = 0.5 * np.abs(np.cross(xy[:, 1] - xy[:, 0], xy[:, 2] - xy[:, 0]))
    np.testing.assert_allclose(areas, TRIANGLE_AREA / 25)
    np.testing.assert_allclose(to_cartesian(np.eye(3)), SIMPLEX_VERTICES)


@given(st.integers(1, 5), st.integers(0, 2**32 - 1), st.booleans())
def test_action_regions_partition_the_simplex(n, seed, integer):
    """The exact regions tile the simplex, and each point inside region a has best response a."""
    rng = np.random.default_rng(seed)
    if integer:
        u_s, u_r = rng.integers(-2, 3, (3, n)).astype(float), rng.integers(-2, 3, (3, n)).astype(float)
    else:
        u_s, u_r = rng.normal(size=(3, n)), rng.normal(size=(3, n))
    game = Game(rng.dirichlet(np.ones(3)), u_s, u_r)
    regions = action_regions(game)
    total = 0.0
    for a, poly in regions:
        xy = to_cartesian(poly)
        total += 0.5 * abs(np.dot(xy[:, 0], np.roll(xy[:, 1], -1)) - np.dot(xy[:, 1], np.roll(xy[:, 0], -1)))
        np.testing.assert_allclose(poly.sum(axis=1), 1.0)
        assert np.all(poly >= -1e-12)
        inside = rng.dirichlet(np.ones(len(poly)), size=5) @ poly  # random interior points of the polygon
        rec = inside @ u_r
        assert np.all(rec[:, a] >= rec.max(axis=1) - 1e-9)
    assert total == pytest.approx(TRIANGLE_AREA, rel=1e-9)
    # Every action that is the unique best response somewhere on a grid has a region.
    beliefs, tris = simplex_grid(7)
    centroids = beliefs[tris].mean(axis=1)
    rec = centroids @ u_r
    unique = (rec >= rec.max(axis=1, keepdims=True) - 1e-9).sum(axis=1) == 1
    assert set(best_responses(u_r, centroids[unique], u_s).tolist()) <= {a for a, _ in regions}


@settings(max_examples=8)
@given(st.integers(2, 3), st.integers(1, 5), st.integers(0, 2**32 - 1), st.booleans())
def test_plots_draw_random_games(m, n, seed, integer):
    """Both pictures draw degenerate games too: one action, ties, a zero-prior state, identical utilities."""
    rng = np.random.default_rng(seed)
    draw = (lambda: rng.integers(-2, 3, (m, n)).astype(float)) if integer else (lambda: rng.normal(size=(m, n)))
    u_r = draw()
    u_s = u_r.copy() if seed % 3 == 0 else draw()
    prior = rng.dirichlet(np.ones(m))
    if seed % 2:
        prior[0] = 0.0
    game = Game(prior / prior.sum(), u_s, u_r)
    ax = plot_concavification(game) if m == 2 else plot_simplex(game, resolution=3)
    ax.figure.canvas.draw()
    assert ax.get_title()


def test_plot_game_dispatch(tmp_path):
    before = plt.get_fignums()
    for game, name in ((prosecutor(), "two.png"), (recommendation(), "three.png")):
        path = plot_game(game, tmp_path / name)
        assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 20_000
    assert plot_game(prosecutor(), tmp_path / "two.svg").read_text().lstrip().startswith("<?xml")
    assert plt.get_fignums() == before  # no pyplot figures left open
    four = Game(np.ones(4) / 4, np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(GameError, match="2 or 3 states, the game has 4"):
        plot_game(four, tmp_path / "four.png")
    assert plot_game(two_judges(), tmp_path / "typed.png").read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(GameError, match="receiver types need 2 states, the game has 3"):
        plot_game(two_reviewers(), tmp_path / "typed3.png")
    with pytest.raises(GameError, match="exactly 3 states"):
        plot_simplex(prosecutor())
    assert not (tmp_path / "four.png").exists()


def _typed_game(lam, thresholds, prior):
    """2 states, convict/acquit, one receiver type per threshold t (convicts iff P(guilty) >= t)."""
    u_r = [[[t, 0.0], [0.0, 1.0 - t]] for t in thresholds]
    return Game(prior, [[0.0, 1.0], [0.0, 1.0]], u_r, lam, state_names=("innocent", "guilty"))


@settings(max_examples=15)
@given(
    st.lists(st.floats(0.05, 0.95), min_size=1, max_size=3),
    st.floats(0.05, 0.95),
    st.floats(0.05, 0.95),
)
def test_typed_concavification_marks_the_public_and_private_values(thresholds, q0, w):
    from persuasion.receiver_types import solve_private, solve_public

    k = len(thresholds)
    lam = np.full(k, 1.0 / k) if k != 2 else np.array([w, 1.0 - w])
    game = _typed_game(lam, thresholds, [1.0 - q0, q0])
    ax = plot_typed_concavification(game)
    try:
        marks = {line.get_label().split(":")[0]: line.get_ydata()[0] for line in ax.get_lines()
                 if line.get_label().startswith(("public", "private"))}
        # The closure of the type-averaged value at the prior is the public LP's value (an exact construction).
        assert marks["public signalling"] == pytest.approx(solve_public(game).value, abs=1e-7)
        assert marks["private signalling (reported types)"] == pytest.approx(solve_private(game).value, abs=1e-7)
        assert marks["private signalling (reported types)"] >= marks["public signalling"] - 1e-7
    finally:
        plt.close(ax.figure)


def test_typed_concavification_needs_types_and_two_states():
    with pytest.raises(GameError, match="receiver types"):
        plot_typed_concavification(prosecutor())
    with pytest.raises(GameError, match="2 states, the game has 3"):
        plot_typed_concavification(two_reviewers())


def test_typed_concavification_legend_hides_no_curve():
    # in two_judges the strict judge's value runs along the top of the axes, where the legend used to sit
    ax = plot_typed_concavification(two_judges())
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    assert not legend.overlaps(ax.get_window_extent(renderer))  # outside the axes: over no line
    assert fig.bbox.contains(legend.x0, legend.y0) and fig.bbox.contains(legend.x1, legend.y1)  # and not cut off

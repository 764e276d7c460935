"""Pictures of persuasion games: the concavification (2 states) and the belief simplex (3 states).

Games with receiver types are drawn for 2 states (:func:`plot_typed_concavification`: public signalling is the
concave closure of the type-averaged value, with the private-signalling value marked for comparison).

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot state, no display needed).
Symbols: ``V(mu) = u_S(mu, a*(mu))`` is the sender's indirect value at belief ``mu`` with the receiver's
sender-preferred best response ``a*(mu)``; with 2 states ``q = P(state 1)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.tri import Triangulation

from persuasion.concavify import COLLINEAR_TOL, breakpoints, concavify, indirect_value, upper_hull
from persuasion.errors import GameError
from persuasion.game import Game
from persuasion.simplex import simplex_mesh as simplex_grid  # the triangle mesh of the belief simplex
from persuasion.reference import TIE_TOL, best_responses, no_disclosure, tie_tolerance
from persuasion.solve import solve

#: Triangle vertices of the belief simplex (states 0, 1, 2) in the plane.
SIMPLEX_VERTICES = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3.0) / 2.0]])


def _new_axes(figsize: tuple[float, float]) -> Axes:
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _title(game: Game, what: str) -> str:
    return f"{game.name}: {what}" if game.name else what


def _pieces(game: Game, bps: np.ndarray) -> list[tuple[float, float, np.ndarray]]:
    """The intervals between indifference points on which the receiver's best-response set ``B`` is constant.

    Adjacent intervals with the same ``B`` are merged. Returns ``(lo, hi, B)`` with ``B`` a boolean mask over
    actions; on ``(lo, hi)``, ``V = max_{a in B} S_a`` (continuous, extended to the closed interval).
    """
    u_r = game.receiver_utility
    mids = (bps[:-1] + bps[1:]) / 2
    rec = np.stack([1.0 - mids, mids], axis=-1) @ u_r
    tied = rec >= rec.max(axis=1, keepdims=True) - tie_tolerance(u_r, TIE_TOL)
    pieces: list[tuple[float, float, np.ndarray]] = []
    for lo, hi, mask in zip(bps[:-1], bps[1:], tied):
        if pieces and np.array_equal(pieces[-1][2], mask):
            pieces[-1] = (pieces[-1][0], float(hi), mask)
        else:
            pieces.append((float(lo), float(hi), mask))
    return pieces


def _piece_value(game: Game, mask: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``max_{a in B} S_a(q)`` for the best-response set ``B`` given by ``mask``."""
    return (np.stack([1.0 - q, q], axis=-1) @ game.sender_utility[:, mask]).max(axis=-1)


def plot_concavification(game: Game, ax: Axes | None = None) -> Axes:
    """Plots ``V(q)``, its concave closure ``cav V``, the prior and the optimal split of a 2-state game.

    ``V`` is drawn piece by piece between the receiver's indifference points (labelled with the receiver's
    action there), with a dot where it jumps (its upper semicontinuous value there); the closure is dashed.

    Args:
        game: a single-receiver game with 2 states.
        ax: axes to draw on; a new figure is made when omitted.

    Returns:
        The axes.
    """
    c = concavify(game)
    ax = ax if ax is not None else _new_axes((7.5, 4.8))
    s0, s1 = game.state_names
    bps = c.breakpoints
    span = float(np.ptp(np.concatenate([c.value, c.closure]))) or 1.0
    pieces = _pieces(game, bps)
    scale = max(1.0, float(np.abs(game.sender_utility).max()))
    limits = []  # the one-sided limits of V at every piece's ends
    for i, (lo, hi, mask) in enumerate(pieces):
        q = np.linspace(lo, hi, max(2, int(200 * (hi - lo))))
        v = _piece_value(game, mask, q)
        limits += [(lo, v[0]), (hi, v[-1])]
        label = "V(q): sender's value, receiver best-responds" if i == 0 else None
        ax.plot(q, v, color="tab:blue", lw=2.2, label=label)
        if len(pieces) <= 10:
            mid = (lo + hi) / 2
            a = int(best_responses(game.receiver_utility, np.array([1.0 - mid, mid]), game.sender_utility))
            ax.annotate(game.action_names[a], (mid, float(_piece_value(game, mask, np.array(mid)))), xytext=(0, -14),
                        textcoords="offset points", ha="center", fontsize=8, color="tab:blue")
    # Dots where V is discontinuous: its (upper semicontinuous) value exceeds a one-sided limit.
    bv, _ = indirect_value(game, bps)
    jumps = [any(qq == b and vv < v_b - 1e-9 * scale for qq, vv in limits) for b, v_b in zip(bps, bv)]
    if any(jumps):
        ax.plot(bps[jumps], bv[jumps], "o", color="tab:blue", ms=5, zorder=3)
    ax.plot(c.hull_q, c.hull_value, "--", color="tab:orange", lw=2, label="cav V(q): concave closure")
    ax.axvline(c.prior, color="grey", ls=":", lw=1.2)
    ax.plot([c.prior], [c.value_at_prior], "*", color="tab:red", ms=14, zorder=4,
            label=f"optimum at prior q0 = {c.prior:.3g}: {c.value_at_prior:.4g}")
    ax.plot([c.prior], [c.no_information_value], "x", color="grey", ms=9, mew=2, zorder=4,
            label=f"no information: V(q0) = {c.no_information_value:.4g}")
    split_v, _ = indirect_value(game, c.split_q)
    used = c.split_weights > 0
    ax.plot(c.split_q[used], split_v[used], "o", mfc="white", mec="tab:red", mew=2, ms=9, zorder=5,
            label="optimal split (posteriors)")
    for qq, vv, w, a in zip(c.split_q[used], split_v[used], c.split_weights[used], np.array(c.split_actions)[used]):
        ax.annotate(f"{game.action_names[a]}\nw = {w:.3g}", (qq, vv), xytext=(0, 12), textcoords="offset points",
                    ha="center", fontsize=9, color="tab:red",
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8))
    ax.set_xlim(-0.02, 1.02)
    lo_y = min(c.value.min(), c.closure.min())
    ax.set_ylim(lo_y - 0.12 * span, max(c.value.max(), c.closure.max()) + 0.25 * span)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1])
    ax.set_xticklabels([f"0\n({s0})", "0.25", "0.5", "0.75", f"1\n({s1})"])
    ax.set_xlabel(f"receiver's belief q = P({s1})")
    ax.set_ylabel("sender's expected utility")
    ax.set_title(_title(game, "concavification"))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    return ax


def plot_typed_concavification(game: Game, ax: Axes | None = None) -> Axes:
    """Public against private signalling to ``K`` receiver types in a 2-state game.

    With one public signal every type sees the same posterior ``q`` and best-responds to it (ties in the sender's
    favour), so the sender's value at ``q`` is ``Vbar(q) = sum_k lam[k] V_k(q)`` and the optimal public value is
    the concave closure ``cav Vbar(q0)``, as for a single receiver. ``Vbar`` is convex between consecutive
    indifference points of any type and upper semicontinuous, so its closure is the upper hull of its values at
    the union of every type's breakpoints (exact; the curves are drawn on a grid for display only). The value of
    private signalling with reported types (:func:`persuasion.solve_private`) is marked at the prior: it is not
    a split of one posterior, so it may lie above the closure.

    Args:
        game: a game with 2 states and receiver types.
        ax: axes to draw on; a new figure is made when omitted.

    Returns:
        The axes.
    """
    if not game.has_types:
        raise GameError("plot_typed_concavification needs a game with receiver types; use plot_concavification")
    if game.m != 2:
        raise GameError(f"plots of games with receiver types need 2 states, the game has {game.m}")
    from persuasion.receiver_types import solve_private

    types = [game.for_type(k) for k in range(game.K)]
    lam = game.type_prior

    def vbar(q: np.ndarray) -> np.ndarray:
        return sum(w * indirect_value(g, q)[0] for w, g in zip(lam, types))

    bps = np.unique(np.concatenate([breakpoints(g) for g in types]))
    v_bps = vbar(bps)
    scale = max(1.0, float(np.abs(game.sender_utility).max(initial=0.0)))
    hull = upper_hull(bps, v_bps, tol=COLLINEAR_TOL * scale)
    hull_q, hull_v = bps[hull], v_bps[hull]
    q0 = float(game.prior[1])
    public = float(np.interp(q0, hull_q, hull_v))
    private = float(solve_private(game).value)

    ax = ax if ax is not None else _new_axes((7.5, 4.8))
    s0, s1 = game.state_names
    for i, (lo, hi) in enumerate(zip(bps[:-1], bps[1:])):  # open intervals: no vertical lines at the jumps
        q = np.linspace(lo, hi, max(3, int(300 * (hi - lo))))[1:-1]
        for k, (name, g) in enumerate(zip(game.type_names, types)):
            ax.plot(q, indirect_value(g, q)[0], color=f"C{k + 2}", lw=1.8, ls=(0, (1, 1.5)), zorder=3,
                    label=f"V_{name}(q): value if the receiver is {name}" if i == 0 else None)
        ax.plot(q, vbar(q), color="tab:blue", lw=2.2,
                label="Vbar(q) = sum_k lam_k V_k(q): public signal, every type responds" if i == 0 else None)
    ax.plot(hull_q, hull_v, "--", color="tab:orange", lw=2, label="cav Vbar(q): concave closure")
    ax.axvline(q0, color="grey", ls=":", lw=1.2)
    ax.plot([q0], [public], "*", color="tab:red", ms=14, zorder=4, label=f"public signalling: {public:.4g}")
    ax.plot([q0], [private], "D", color="tab:purple", ms=8, zorder=4,
            label=f"private signalling (reported types): {private:.4g}")
    ax.plot([q0], [float(vbar(np.array(q0)))], "x", color="grey", ms=9, mew=2, zorder=4,
            label=f"no information: Vbar(q0) = {float(vbar(np.array(q0))):.4g}")
    lam_text = ", ".join(f"{t} {w:.3g}" for t, w in zip(game.type_names, lam))
    ax.set_xlim(-0.02, 1.02)
    lo_y, hi_y = float(min(v_bps.min(), 0.0)), float(max(v_bps.max(), private, public))
    span = (hi_y - lo_y) or 1.0
    ax.set_ylim(lo_y - 0.08 * span, hi_y + 0.08 * span)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1])
    ax.set_xticklabels([f"0\n({s0})", "0.25", "0.5", "0.75", f"1\n({s1})"])
    ax.set_xlabel(f"common posterior q = P({s1})")
    ax.set_ylabel("sender's expected utility")
    ax.set_title(_title(game, f"{game.K} receiver types ({lam_text})"))
    ax.grid(alpha=0.3)
    # below the axes: inside, it hid whichever type's curve runs along the top (the strict judge's in two_judges)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=8, frameon=False)
    return ax


def to_cartesian(beliefs: np.ndarray) -> np.ndarray:
    """Barycentric beliefs ``(..., 3)`` to points in the plane, vertex ``s`` at ``SIMPLEX_VERTICES[s]``."""
    return np.asarray(beliefs, dtype=float) @ SIMPLEX_VERTICES


def _clip(poly: np.ndarray, c: np.ndarray, eps: float) -> np.ndarray:
    """Sutherland-Hodgman: the part of convex polygon ``poly`` (beliefs, ``(k, m)``) where ``mu . c >= 0``."""
    if len(poly) == 0:
        return poly
    f = poly @ c
    out = []
    for i in range(len(poly)):
        j = (i + 1) % len(poly)
        if f[i] >= -eps:
            out.append(poly[i])
        if (f[i] > eps and f[j] < -eps) or (f[i] < -eps and f[j] > eps):
            t = f[i] / (f[i] - f[j])
            out.append(poly[i] + t * (poly[j] - poly[i]))
    return np.array(out).reshape(-1, poly.shape[1])


def _area(poly: np.ndarray) -> float:
    xy = to_cartesian(poly)
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def action_regions(game: Game, tol: float = TIE_TOL) -> list[tuple[int, np.ndarray]]:
    """The receiver's best-response regions on the belief simplex of a 3-state game, exactly.

    Region ``a`` is ``{mu : mu . (u_R[:, a] - u_R[:, b]) >= 0 for all b}``, a convex polygon; among actions the
    receiver values identically the sender's preferred one wins (``mu . (u_S[:, a] - u_S[:, b]) >= 0``, the
    lower index on full ties). Regions of zero area are left out.

    Returns:
        ``(a, vertices)`` pairs, ``vertices`` in barycentric coordinates (rows are beliefs), in order.
    """
    u_r, u_s = game.receiver_utility, game.sender_utility
    eps_r = tie_tolerance(u_r, tol)
    eps_s = tol * max(1.0, float(np.abs(u_s).max(initial=0.0)))
    out = []
    for a in range(game.n):
        poly = np.eye(game.m)
        for b in range(game.n):
            if b == a:
                continue
            dr = u_r[:, a] - u_r[:, b]
            if np.all(np.abs(dr) <= eps_r):  # the receiver cannot tell a and b apart: sender's tie-break
                ds = u_s[:, a] - u_s[:, b]
                if np.all(np.abs(ds) <= eps_s):
                    poly = poly[:0] if b < a else poly
                else:
                    poly = _clip(poly, ds, 0.0)
            else:
                poly = _clip(poly, dr, 0.0)
        if len(poly) >= 3 and _area(poly) > 1e-12:
            out.append((a, poly))
    return out


def plot_simplex(game: Game, ax: Axes | None = None, resolution: int = 12) -> Axes:
    """Plots ``V(mu)`` over the belief simplex of a 3-state game as a triangular heat map.

    The receiver's best-response regions (:func:`action_regions`) are exact polygons and ``V(mu) = mu . u_S[:, a]``
    is linear on region ``a``: each region is triangulated, each triangle cut into ``resolution**2`` smaller ones
    and Gouraud-shaded from the exact values at their corners. Region outlines and names are white; the prior is
    a star; the posteriors ``mu_a`` of ``solve(game)`` are circles with area proportional to the signal
    probability, labelled with the recommended action and that probability; vertices carry the state names.

    Args:
        game: a single-receiver game with 3 states.
        ax: axes to draw on; a new figure is made when omitted.
        resolution: subdivisions per edge of each region triangle (smoothness of the colour gradient only).

    Returns:
        The axes.
    """
    if game.has_types:
        raise GameError(f"plot_simplex needs a single receiver type, the game has {game.K}")
    if game.m != 3:
        raise GameError(f"plot_simplex needs exactly 3 states, the game has {game.m}")
    if int(resolution) < 1:
        raise GameError(f"resolution must be a positive integer, got {resolution}")
    sol = solve(game)
    ax = ax if ax is not None else _new_axes((7.2, 6.6))
    u_s = game.sender_utility
    regions = action_regions(game)
    vmin, vmax = float(u_s.min()), float(u_s.max())
    if vmax - vmin < 1e-12:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    # V is linear on each region; Gouraud shading interpolates colours (not values), so each triangle of the
    # region's fan is subdivided to keep the colour interpolation faithful to the colormap.
    weights, sub = simplex_grid(resolution)
    points, values, tris = [], [], []
    base = 0
    for a, poly in regions:
        for i in range(1, len(poly) - 1):
            corner = np.stack([poly[0], poly[i], poly[i + 1]])
            mu = weights @ corner
            points.append(to_cartesian(mu))
            values.append(mu @ u_s[:, a])
            tris.append(sub + base)
            base += len(mu)
    xy = np.concatenate(points)
    mesh = ax.tripcolor(Triangulation(xy[:, 0], xy[:, 1], np.concatenate(tris)), np.concatenate(values),
                        shading="gouraud", cmap="viridis", vmin=vmin, vmax=vmax)
    cbar = ax.figure.colorbar(mesh, ax=ax, shrink=0.7, pad=0.02)
    cbar.set_label("sender's value V(mu) at the receiver's best response")

    for a, poly in regions:
        ring = to_cartesian(np.vstack([poly, poly[:1]]))
        ax.plot(ring[:, 0], ring[:, 1], color="white", lw=0.8, alpha=0.7)
        cx, cy = to_cartesian(poly).mean(axis=0)
        ax.text(cx, cy, game.action_names[a], ha="center", va="center", fontsize=9, color="white", style="italic",
                bbox=dict(boxstyle="round,pad=0.15", fc="black", ec="none", alpha=0.25))

    outline = np.vstack([SIMPLEX_VERTICES, SIMPLEX_VERTICES[:1]])
    ax.plot(outline[:, 0], outline[:, 1], color="black", lw=1.2)
    offsets = [(-0.03, -0.04, "right"), (0.03, -0.04, "left"), (0.0, 0.045, "center")]
    for (x, y), (dx, dy, ha), name in zip(SIMPLEX_VERTICES, offsets, game.state_names):
        ax.text(x + dx, y + dy, name, ha=ha, va="center", fontsize=11, weight="bold")

    pxy = to_cartesian(sol.posteriors)
    ax.scatter(pxy[:, 0], pxy[:, 1], s=60 + 700 * sol.signal_prob, facecolors="white", edgecolors="tab:red",
               linewidths=2, zorder=4, label="optimal posteriors (area ~ signal probability)")
    for (x, y), a, p in zip(pxy, sol.signals, sol.signal_prob):
        ax.annotate(f"{game.action_names[a]} ({p:.2f})", (x, y), xytext=(10, 8), textcoords="offset points",
                    fontsize=9, color="tab:red", zorder=5,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.85))
    prior_xy = to_cartesian(game.prior)
    ax.scatter([prior_xy[0]], [prior_xy[1]], marker="*", s=260, color="tab:orange", edgecolors="black",
               linewidths=0.8, zorder=6, label="prior mu0")
    none = no_disclosure(game).value
    ax.set_title(_title(game, f"value over beliefs, optimum {sol.value:.4g} (no information {none:.4g})"))
    ax.set_aspect("equal")
    ax.set_xlim(-0.15, 1.15)
    ax.set_ylim(-0.1, SIMPLEX_VERTICES[2, 1] + 0.1)
    ax.axis("off")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=8, frameon=False)
    return ax


def plot_game(game: Game, path: str | Path) -> Path:
    """Draws the game's picture to ``path``: :func:`plot_concavification` (2 states), :func:`plot_simplex` (3 states)
    or, for a game with receiver types, :func:`plot_typed_concavification` (2 states).

    The format follows the file suffix (``.png``, ``.pdf``, ``.svg``, ...).

    Raises:
        GameError: when the game does not have 2 or 3 states, or has receiver types and not 2 states.
    """
    if game.has_types:
        ax = plot_typed_concavification(game)
    elif game.m == 2:
        ax = plot_concavification(game)
    elif game.m == 3:
        ax = plot_simplex(game)
    else:
        raise GameError(f"plots need 2 or 3 states, the game has {game.m}")
    path = Path(path)
    ax.figure.savefig(path, dpi=150)
    return path

"""Tests for persuasion.game: construction, validation (one-line GameErrors) and the JSON round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from persuasion.errors import GameError
from persuasion.game import MAX_ABS_UTILITY, PRIOR_TOL, Game

# ------------------------------------------------------------------------------------------- strategies
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def games(draw: st.DrawFn, max_m: int = 4, max_n: int = 4, typed: bool | None = None) -> Game:
    """Valid games of varied sizes, with or without names and receiver types."""
    m = draw(st.integers(1, max_m))
    n = draw(st.integers(1, max_n))
    weights = draw(st.lists(st.floats(0, 10), min_size=m, max_size=m).filter(lambda w: sum(w) > 1e-3))
    prior = np.array(weights) / sum(weights)
    u_s = np.array(draw(st.lists(finite, min_size=m * n, max_size=m * n))).reshape(m, n)
    has_types = draw(st.booleans()) if typed is None else typed
    k = draw(st.integers(1, 3)) if has_types else 0
    shape = (k, m, n) if has_types else (m, n)
    u_r = np.array(draw(st.lists(finite, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))).reshape(shape)
    lam = None
    if has_types:
        w = draw(st.lists(st.floats(0.01, 1), min_size=k, max_size=k))
        lam = np.array(w) / sum(w)
    named = draw(st.booleans())
    return Game(
        prior,
        u_s,
        u_r,
        lam,
        state_names=[f"s{i}!" for i in range(m)] if named else None,
        action_names=[f"act {i}" for i in range(n)] if named else None,
        type_names=[f"t{i}" for i in range(k)] if named and has_types else None,
        name=draw(st.text(max_size=8)),
        normalize=True,
    )


def _same(a: Game, b: Game) -> bool:
    arrays = ("prior", "sender_utility", "receiver_utility")
    same = all(np.array_equal(getattr(a, f), getattr(b, f)) for f in arrays)
    same &= (a.type_prior is None) == (b.type_prior is None)
    if a.type_prior is not None:
        same &= np.array_equal(a.type_prior, b.type_prior)
    return bool(same and (a.state_names, a.action_names, a.type_names, a.name) == (
        b.state_names, b.action_names, b.type_names, b.name))


def assert_one_line_game_error(excinfo: pytest.ExceptionInfo) -> None:
    message = str(excinfo.value)
    assert isinstance(excinfo.value, GameError)
    assert message and "\n" not in message and len(message) < 400


# ------------------------------------------------------------------------------------------ construction
def test_basic_fields_and_defaults() -> None:
    g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
    assert (g.m, g.n, g.K, g.has_types) == (2, 2, 1, False)
    assert g.state_names == ("state0", "state1") and g.action_names == ("action0", "action1")
    assert g.type_names is None and g.type_prior is None
    assert g.typed_receiver_utility().shape == (1, 2, 2)
    assert np.array_equal(g.typed_type_prior(), [1.0])
    for arr in (g.prior, g.sender_utility, g.receiver_utility):
        assert arr.dtype == float
        with pytest.raises(ValueError):
            arr[0] = 5.0  # read-only


def test_input_arrays_are_copied() -> None:
    prior = np.array([0.5, 0.5])
    u = np.zeros((2, 2))
    g = Game(prior, u, u)
    prior[0] = 9.0
    u[0, 0] = 9.0
    assert g.prior[0] == 0.5 and g.sender_utility[0, 0] == 0.0 and g.receiver_utility[0, 0] == 0.0


def test_types() -> None:
    u_r = np.stack([np.eye(2), 1 - np.eye(2)])
    g = Game([0.5, 0.5], np.eye(2), u_r, [0.25, 0.75], type_names=["a", "b"])
    assert (g.K, g.has_types, g.type_names) == (2, True, ("a", "b"))
    one = g.for_type(1)
    assert one.K == 1 and np.array_equal(one.receiver_utility, 1 - np.eye(2)) and np.array_equal(one.prior, g.prior)
    with pytest.raises(GameError, match="out of range"):
        g.for_type(2)


def test_with_prior_keeps_everything_else() -> None:
    g = Game([0.5, 0.5], [[1, 2], [3, 4]], [[0, 1], [1, 0]], action_names=["x", "y"], name="g")
    h = g.with_prior([0.2, 0.8])
    assert np.array_equal(h.prior, [0.2, 0.8]) and h.action_names == ("x", "y") and h.name == "g"
    assert np.array_equal(h.sender_utility, g.sender_utility)
    assert np.allclose(g.with_prior([1, 3], normalize=True).prior, [0.25, 0.75])


def test_prior_tolerance_and_normalize() -> None:
    u = np.zeros((3, 2))
    within = [0.2, 0.3, 0.5 + 0.5 * PRIOR_TOL]
    assert np.array_equal(Game(within, u, u).prior, within)  # kept as given
    with pytest.raises(GameError, match="normalize=True"):
        Game([0.2, 0.3, 0.5 + 10 * PRIOR_TOL], u, u)
    assert np.allclose(Game([2, 3, 5], u, u, normalize=True).prior, [0.2, 0.3, 0.5])
    clipped = Game([-0.5 * PRIOR_TOL, 0.5, 0.5 + 0.5 * PRIOR_TOL], u, u).prior
    assert clipped[0] == 0.0 and clipped.min() >= 0
    with pytest.raises(GameError, match="negative entry"):
        Game([-0.1, 0.5, 0.6], u, u, normalize=True)
    with pytest.raises(GameError, match="sums to 0"):
        Game([0, 0, 0], u, u, normalize=True)


def test_random_is_seeded_and_valid() -> None:
    a, b = Game.random(4, 3, seed=7), Game.random(4, 3, seed=7)
    assert _same(a, b) and not _same(a, Game.random(4, 3, seed=8))
    assert math.isclose(a.prior.sum(), 1.0) and a.sender_utility.shape == (4, 3)
    t = Game.random(2, 3, seed=1, K=4)
    assert t.K == 4 and math.isclose(t.type_prior.sum(), 1.0)
    with pytest.raises(GameError):
        Game.random(0, 3)


# ------------------------------------------------------------------------------------------- validation
def _kw(**fields: object) -> dict[str, object]:
    """Keyword arguments for ``Game``."""
    return fields


U2 = [[0.0, 1.0], [1.0, 0.0]]
BAD_INPUTS = {
    "empty prior": _kw(prior=[], sender_utility=np.zeros((0, 2)), receiver_utility=np.zeros((0, 2))),
    "no action": _kw(prior=[0.5, 0.5], sender_utility=np.zeros((2, 0)), receiver_utility=np.zeros((2, 0))),
    "prior 2-d": _kw(prior=[[0.5, 0.5]], sender_utility=U2, receiver_utility=U2),
    "sender 1-d": _kw(prior=[0.5, 0.5], sender_utility=[0, 1], receiver_utility=U2),
    "receiver 4-d": _kw(prior=[0.5, 0.5], sender_utility=U2, receiver_utility=np.zeros((1, 1, 2, 2))),
    "sender rows": _kw(prior=[0.5, 0.5], sender_utility=[[0, 1]], receiver_utility=U2),
    "receiver shape": _kw(prior=[0.5, 0.5], sender_utility=U2, receiver_utility=[[0, 1, 2], [1, 0, 2]]),
    "nan": _kw(prior=[0.5, 0.5], sender_utility=[[0, float("nan")], [1, 0]], receiver_utility=U2),
    "inf": _kw(prior=[0.5, 0.5], sender_utility=U2, receiver_utility=[[0, float("inf")], [1, 0]]),
    "huge": _kw(prior=[0.5, 0.5], sender_utility=[[0, 10 * MAX_ABS_UTILITY], [1, 0]], receiver_utility=U2),
    "prior nan": _kw(prior=[float("nan"), 0.5], sender_utility=U2, receiver_utility=U2),
    "negative prior": _kw(prior=[-0.5, 1.5], sender_utility=U2, receiver_utility=U2),
    "prior sum": _kw(prior=[0.5, 0.6], sender_utility=U2, receiver_utility=U2),
    "string prior": _kw(prior="0.5 0.5", sender_utility=U2, receiver_utility=U2),
    "string entries": _kw(prior=["0.5", "0.5"], sender_utility=U2, receiver_utility=U2),
    "none entry": _kw(prior=[0.5, None], sender_utility=U2, receiver_utility=U2),
    "ragged": _kw(prior=[0.5, 0.5], sender_utility=[[0, 1], [1]], receiver_utility=U2),
    "complex": _kw(prior=[0.5, 0.5], sender_utility=[[0, 1j], [1, 0]], receiver_utility=U2),
    "dict": _kw(prior={"a": 1}, sender_utility=U2, receiver_utility=U2),
    "types without lam": _kw(prior=[0.5, 0.5], sender_utility=U2, receiver_utility=[U2, U2]),
    "lam without types": _kw(prior=[0.5, 0.5], sender_utility=U2, receiver_utility=U2, type_prior=[1.0]),
    "lam length": _kw(prior=[0.5, 0.5], sender_utility=U2, receiver_utility=[U2, U2], type_prior=[1.0]),
    "lam sum": _kw(prior=[0.5, 0.5], sender_utility=U2, receiver_utility=[U2, U2], type_prior=[0.5, 0.6]),
    "zero types": _kw(prior=[0.5, 0.5], sender_utility=U2, receiver_utility=np.zeros((0, 2, 2)), type_prior=[]),
    "type names 2-d": _kw(prior=[0.5, 0.5], sender_utility=U2, receiver_utility=U2, type_names=["a"]),
    "state names count": _kw(prior=[0.5, 0.5], sender_utility=U2, receiver_utility=U2, state_names=["a"]),
    "action names dup": _kw(prior=[0.5, 0.5], sender_utility=U2, receiver_utility=U2, action_names=["a", "a"]),
    "names string": _kw(prior=[0.5, 0.5], sender_utility=U2, receiver_utility=U2, action_names="ab"),
    "names number": _kw(prior=[0.5, 0.5], sender_utility=U2, receiver_utility=U2, state_names=3),
}


@pytest.mark.parametrize("kwargs", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_one_line_game_error(kwargs: dict) -> None:
    with pytest.raises(GameError) as excinfo:
        Game(**kwargs)
    assert_one_line_game_error(excinfo)


def _corrupt(draw: st.DrawFn, game: Game) -> dict:
    """The fields of ``game`` with exactly one defect drawn at random."""
    fields = _kw(prior=game.prior.tolist(), sender_utility=game.sender_utility.tolist(),
                 receiver_utility=game.receiver_utility.tolist())
    m, n = game.m, game.n
    kind = draw(st.sampled_from([
        "nonfinite", "huge", "negative", "sum", "drop_row", "drop_col", "extra_state", "rank", "text", "names",
    ]))
    target = draw(st.sampled_from(["prior", "sender_utility", "receiver_utility"]))
    arr = np.array(fields[target], dtype=object)
    idx = tuple(draw(st.integers(0, s - 1)) for s in arr.shape)
    if kind == "nonfinite":
        arr[idx] = draw(st.sampled_from([float("nan"), float("inf"), -float("inf")]))
    elif kind == "huge":
        target = draw(st.sampled_from(["sender_utility", "receiver_utility"]))
        arr = np.array(fields[target], dtype=object)
        arr[tuple(draw(st.integers(0, s - 1)) for s in arr.shape)] = draw(st.floats(2 * MAX_ABS_UTILITY, 1e300))
    elif kind == "negative":
        target, arr = "prior", np.array(fields["prior"], dtype=object)
        arr[draw(st.integers(0, m - 1))] = -draw(st.floats(1e-6, 10))
    elif kind == "sum":
        target = "prior"
        arr = np.array(fields["prior"], dtype=float) * draw(st.sampled_from([0.5, 0.99, 1.01, 3.0]))
    elif kind == "drop_row":
        arr = arr[:-1] if m > 1 else arr[:0]
    elif kind == "drop_col":
        if target == "prior":
            target = "sender_utility"
        arr = np.array(fields[target], dtype=object)[:, :-1]
        if n == 1:  # both matrices lose their only column: the "no action" error
            fields["receiver_utility"] = np.zeros((m, 0)).tolist()
    elif kind == "extra_state":
        target = "prior"
        arr = np.append(np.array(fields["prior"], dtype=float) * 0.5, 0.5)
    elif kind == "rank":
        arr = np.array(fields[target], dtype=float)[None]
    elif kind == "text":
        arr[idx] = draw(st.sampled_from(["x", "1.0", None, [1, 2]]))
    else:
        target = draw(st.sampled_from(["state_names", "action_names"]))
        count = m if target == "state_names" else n
        fields[target] = draw(st.sampled_from([["dup"] * (count + 1), ["a"] * count if count > 1 else ["a", "b"]]))
        return fields
    fields[target] = arr.tolist()
    return fields


@given(st.data())
def test_generated_bad_inputs_raise_one_line_game_errors(data: st.DataObject) -> None:
    game = data.draw(games(max_m=3, max_n=3, typed=False))
    fields = _corrupt(data.draw, game)
    with pytest.raises(GameError) as excinfo:
        Game(**fields)
    assert_one_line_game_error(excinfo)
    with pytest.raises(GameError) as excinfo:  # the same defect read from JSON
        Game.from_json(json.dumps(fields, default=str))
    assert_one_line_game_error(excinfo)


# ------------------------------------------------------------------------------------------------ JSON
@given(games())
def test_json_round_trip_is_exact(game: Game) -> None:
    again = Game.from_json(game.to_json())
    assert _same(game, again)
    assert _same(game, Game.from_dict(json.loads(game.to_json(indent=None))))
    assert json.loads(again.to_json()) == json.loads(game.to_json())


def test_json_file_round_trip(tmp_path) -> None:
    g = Game([0.25, 0.75], [[0, 1.5], [2, 3]], [[1, 0], [0, 1]], state_names=["guilty", "innocent"], name="kg")
    path = tmp_path / "g.json"
    text = g.to_json(path)
    assert path.read_text() == text
    assert _same(g, Game.from_json(path)) and _same(g, Game.from_json(str(path)))


def test_from_json_normalize() -> None:
    text = json.dumps({"prior": [1, 3], "sender_utility": U2, "receiver_utility": U2})
    with pytest.raises(GameError, match="normalize"):
        Game.from_json(text)
    assert np.allclose(Game.from_json(text, normalize=True).prior, [0.25, 0.75])


BAD_JSON = {
    "missing file": "/nonexistent/dir/game.json",
    "too long path": "x" * 5000,
    "invalid json": "{not json",
    "a list": "[1, 2]",
    "missing field": json.dumps({"prior": [1.0], "sender_utility": [[1.0]]}),
    "unknown field": json.dumps({"prior": [1.0], "sender_utility": [[1.0]], "receiver_utility": [[1.0]], "x": 1}),
    "name not str": json.dumps({"prior": [1.0], "sender_utility": [[1.0]], "receiver_utility": [[1.0]], "name": 3}),
    "states not list": json.dumps({"prior": [1.0], "sender_utility": [[1.0]], "receiver_utility": [[1.0]],
                                   "states": 5}),
    "string matrix": json.dumps({"prior": [1.0], "sender_utility": "[[1.0]]", "receiver_utility": [[1.0]]}),
}


@pytest.mark.parametrize("source", BAD_JSON.values(), ids=BAD_JSON.keys())
def test_bad_json_is_one_line_game_error(source: str) -> None:
    with pytest.raises(GameError) as excinfo:
        Game.from_json(source)
    assert_one_line_game_error(excinfo)


def test_from_json_rejects_non_text_sources(tmp_path) -> None:
    with pytest.raises(GameError):
        Game.from_json(42)  # type: ignore[arg-type]
    bad = tmp_path / "bin.json"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(GameError) as excinfo:
        Game.from_json(bad)
    assert_one_line_game_error(excinfo)

"""Catalogues: the built-in JSON files, validation with one-line errors, round trips and permutations."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm.game.catalogue import (
    Catalogue,
    CatalogueError,
    Item,
    available_catalogues,
    catalogue_from_dict,
    load_catalogue,
)
from persuasion.errors import GameError


def one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg
    return msg


def item_dict(i: int, **over: str) -> dict:
    base = {"id": f"item_{i}", "name": f"item number {i}", "description": f"desc {i}", "hint_text": f"hint {i}"}
    base.update(over)
    return base


def good() -> dict:
    return {"task": "toy", "description": "a toy", "items": [item_dict(0), item_dict(1), item_dict(2)]}


@pytest.mark.parametrize("name", ["math", "code"])
def test_builtin_catalogues_load_with_six_to_eight_distinct_items(name):
    cat = load_catalogue(name)
    assert cat.task == name
    assert 6 <= cat.m <= 8
    assert len(set(cat.ids)) == cat.m
    assert len({n.lower() for n in cat.names}) == cat.m
    assert all(it.description and it.hint_text for it in cat)
    assert name in available_catalogues()


def test_load_by_path_and_to_json_round_trip(tmp_path):
    cat = load_catalogue("code")
    path = tmp_path / "copy.json"
    cat.to_json(path)
    again = load_catalogue(path)
    assert again == cat
    assert load_catalogue(str(path)) == cat
    assert catalogue_from_dict(json.loads(cat.to_json())) == cat


def test_index_get_and_iteration_agree():
    cat = load_catalogue("math")
    for k, item in enumerate(cat):
        assert cat.index(item.id) == k
        assert cat.get(item.id) is item
    assert len(cat) == cat.m


@given(st.permutations(range(8)))
def test_permuted_reorders_items_and_round_trips(order):
    cat = load_catalogue("math")
    perm = cat.permuted(order)
    assert perm.ids == tuple(cat.ids[i] for i in order)
    inverse = sorted(range(len(order)), key=lambda k: order[k])
    assert perm.permuted(inverse) == cat


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda d: d.pop("task"), "missing the field 'task'"),
        (lambda d: d.pop("items"), "missing the field 'items'"),
        (lambda d: d.update(extra=1), "unknown field(s) extra"),
        (lambda d: d.update(items="nope"), "'items' must be a list"),
        (lambda d: d.update(items=[item_dict(0)]), "at least 2 items"),
        (lambda d: d["items"].append(item_dict(0)), "duplicate item ids: item_0"),
        (lambda d: d["items"].append(item_dict(9, name="ITEM  number 1")), "duplicate item names"),
        (lambda d: d["items"][1].pop("hint_text"), "item 1 is missing the field(s) hint_text"),
        (lambda d: d["items"][1].update(colour="red"), "item 1 has unknown field(s) colour"),
        (lambda d: d["items"][2].update(id="Bad Id"), "lowercase slug"),
        (lambda d: d["items"][0].update(name=""), "field 'name' must be a non-empty string"),
        (lambda d: d["items"][0].update(description=3), "field 'description' must be a non-empty string"),
        (lambda d: d["items"][0].update(hint_text="two\nlines"), "single line"),
        (lambda d: d["items"].__setitem__(0, "x"), "item 0 must be a JSON object"),
        (lambda d: d.update(task=""), "task must be a non-empty string"),
    ],
)
def test_bad_catalogues_raise_one_line_errors(mutate, needle):
    data = good()
    mutate(data)
    with pytest.raises(CatalogueError) as excinfo:
        catalogue_from_dict(data)
    assert needle in one_line_error(excinfo)


def test_catalogue_error_is_a_game_error():
    with pytest.raises(GameError):
        catalogue_from_dict([])


def test_file_errors_are_one_line(tmp_path):
    with pytest.raises(CatalogueError) as excinfo:
        load_catalogue("no_such_task")
    assert "available: code, math" in one_line_error(excinfo)
    with pytest.raises(CatalogueError) as excinfo:
        load_catalogue(tmp_path / "missing.json")
    assert "not found" in one_line_error(excinfo)
    broken = tmp_path / "broken.json"
    broken.write_text('{"task": "x", "items": [}')
    with pytest.raises(CatalogueError) as excinfo:
        load_catalogue(broken)
    assert "invalid JSON" in one_line_error(excinfo)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"task": "t", "items": [item_dict(0)]}))
    with pytest.raises(CatalogueError) as excinfo:
        load_catalogue(bad)
    assert "bad.json" in one_line_error(excinfo)


def test_lookup_and_permutation_errors():
    cat = Catalogue("t", (Item("a", "alpha", "d", "h"), Item("b", "beta", "d", "h")))
    with pytest.raises(CatalogueError) as excinfo:
        cat.index("c")
    assert "ids: a, b" in one_line_error(excinfo)
    with pytest.raises(CatalogueError) as excinfo:
        cat.permuted([0, 0])
    assert "permutation" in one_line_error(excinfo)
    with pytest.raises(CatalogueError):
        Catalogue("t", (Item("a", "alpha", "d", "h"), ("b", "beta", "d", "h")))  # type: ignore[arg-type]

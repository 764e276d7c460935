"""Catalogues of information items: the finite state space ``Omega`` of the persuasion game.

An *information item* is a hint the Advisor may know about a problem (a solution strategy for math, a programming
technique for code). A catalogue is the finite set ``Omega = {omega_1, ..., omega_m}`` for one task; it is plain
JSON that users edit (``llm/game/catalogues/<task>.json``)::

    {"task": "math", "description": "...",
     "items": [{"id": "work_backwards", "name": "work backwards",
                "description": "...", "hint_text": "..."}, ...]}

``id`` names the state in games and records, ``name`` is the short label whose log-probability measures the
Receiver's belief (see :mod:`llm.game.beliefs`), ``description`` is shown to the Advisor, and ``hint_text`` is the
model-free signal of :func:`llm.game.signals.template_signal`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from persuasion.errors import GameError

#: Folder holding the built-in catalogues, one ``<name>.json`` each.
CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogues"
#: Item ids are lowercase slugs, so they double as state names and JSON keys.
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
ITEM_FIELDS = ("id", "name", "description", "hint_text")
CATALOGUE_FIELDS = ("task", "description", "items")
#: Id of the item that carries no information (the Receiver answers on its own); see :meth:`Catalogue.with_none`.
NONE_ID = "none"


class CatalogueError(GameError):
    """A catalogue file or object is missing, malformed or inconsistent (one-line message)."""


@dataclass(frozen=True)
class Item:
    """One information item ``omega`` (a state of the game).

    Attributes:
        id: lowercase slug, unique in its catalogue; the state and action name in games.
        name: short label the Receiver's belief is measured on (e.g. ``"work backwards"``).
        description: one sentence the Advisor sees about the item.
        hint_text: a ready-made hint, the model-free signal for this item.
    """

    id: str
    name: str
    description: str
    hint_text: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready dict."""
        return {"id": self.id, "name": self.name, "description": self.description, "hint_text": self.hint_text}


@dataclass(frozen=True)
class Catalogue:
    """A task's finite, ordered set of information items; the order fixes the state index ``0..m-1``.

    Attributes:
        task: the task the items apply to (``"math"``, ``"code"``, ...).
        items: the items, distinct ids and (case-insensitively) distinct names, at least two.
        description: free text.

    Example:
        >>> cat = load_catalogue("math")
        >>> cat.m, cat.index("work_backwards") == cat.ids.index("work_backwards")
        (8, True)
    """

    task: str
    items: tuple[Item, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.task, str) or not self.task.strip():
            raise CatalogueError("catalogue task must be a non-empty string")
        items = tuple(self.items)
        if len(items) < 2:
            raise CatalogueError(f"catalogue '{self.task}' needs at least 2 items, got {len(items)}")
        for k, item in enumerate(items):
            if not isinstance(item, Item):
                raise CatalogueError(f"catalogue '{self.task}' item {k} is a {type(item).__name__}, not an Item")
            _check_item(item, f"catalogue '{self.task}' item {k}")
        ids = [it.id for it in items]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise CatalogueError(f"catalogue '{self.task}' has duplicate item ids: {', '.join(dup)}")
        names = [_norm(it.name) for it in items]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise CatalogueError(f"catalogue '{self.task}' has duplicate item names: {', '.join(dup)}")
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "description", str(self.description))

    @property
    def m(self) -> int:
        """Number of items (states)."""
        return len(self.items)

    @property
    def ids(self) -> tuple[str, ...]:
        """Item ids in catalogue order."""
        return tuple(it.id for it in self.items)

    @property
    def names(self) -> tuple[str, ...]:
        """Item names in catalogue order."""
        return tuple(it.name for it in self.items)

    def __len__(self) -> int:
        return self.m

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def index(self, item_id: str) -> int:
        """The state index of the item with id ``item_id``."""
        for k, it in enumerate(self.items):
            if it.id == item_id:
                return k
        raise CatalogueError(f"item {item_id!r} is not in catalogue '{self.task}' (ids: {', '.join(self.ids)})")

    def get(self, item_id: str) -> Item:
        """The item with id ``item_id``."""
        return self.items[self.index(item_id)]

    def with_none(self) -> "Catalogue":
        """The catalogue with the ``none`` item (:data:`NONE_ITEM`, no information) appended if it is missing.

        The persuasion game always offers silence: on many problems every hint hurts, and the Advisor's best signal
        is none (``docs/method.md``)."""
        if NONE_ID in self.ids:
            return self
        return Catalogue(self.task, self.items + (NONE_ITEM,), self.description)

    def permuted(self, order: Sequence[int]) -> "Catalogue":
        """The same items in the order ``items[order[0]], items[order[1]], ...``."""
        order = [int(i) for i in order]
        if sorted(order) != list(range(self.m)):
            raise CatalogueError(f"order must be a permutation of 0..{self.m - 1}, got {order}")
        return Catalogue(self.task, tuple(self.items[i] for i in order), self.description)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the format read by :func:`catalogue_from_dict`)."""
        return {"task": self.task, "description": self.description, "items": [it.to_dict() for it in self.items]}

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialises the catalogue; also writes it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


#: The item that carries no information: rendered as no hint at all (the Receiver's prompt is the baseline's).
NONE_ITEM = Item(NONE_ID, "no hint", "Say nothing: the solver answers on its own.", "(no hint)")


def _norm(name: str) -> str:
    return " ".join(name.lower().split())


def _check_item(item: Item, where: str) -> None:
    for key in ITEM_FIELDS:
        value = getattr(item, key)
        if not isinstance(value, str) or not value.strip():
            raise CatalogueError(f"{where}: field '{key}' must be a non-empty string, got {value!r}")
        if "\n" in value:
            raise CatalogueError(f"{where}: field '{key}' must be a single line")
    if not ID_PATTERN.match(item.id):
        raise CatalogueError(f"{where}: id {item.id!r} must be a lowercase slug matching {ID_PATTERN.pattern}")


def catalogue_from_dict(data: Any, where: str = "catalogue") -> Catalogue:
    """Builds a :class:`Catalogue` from its JSON object, with a one-line error naming the first problem."""
    if not isinstance(data, dict):
        raise CatalogueError(f"{where} must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(CATALOGUE_FIELDS))
    if unknown:
        raise CatalogueError(f"{where} has unknown field(s) {', '.join(unknown)}; known: {', '.join(CATALOGUE_FIELDS)}")
    for key in ("task", "items"):
        if key not in data:
            raise CatalogueError(f"{where} is missing the field '{key}'")
    raw = data["items"]
    if not isinstance(raw, list):
        raise CatalogueError(f"{where}: 'items' must be a list, got {type(raw).__name__}")
    items = []
    for k, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise CatalogueError(f"{where} item {k} must be a JSON object, got {type(entry).__name__}")
        missing = [f for f in ITEM_FIELDS if f not in entry]
        if missing:
            raise CatalogueError(f"{where} item {k} is missing the field(s) {', '.join(missing)}")
        extra = sorted(set(entry) - set(ITEM_FIELDS))
        if extra:
            raise CatalogueError(f"{where} item {k} has unknown field(s) {', '.join(extra)}")
        items.append(Item(*(entry[f] for f in ITEM_FIELDS)))
    description = data.get("description", "")
    if not isinstance(description, str):
        raise CatalogueError(f"{where}: 'description' must be a string")
    try:
        return Catalogue(data["task"], tuple(items), description)
    except CatalogueError as exc:
        raise CatalogueError(f"{where}: {exc}") from None


def available_catalogues() -> tuple[str, ...]:
    """Names of the built-in catalogues (``llm/game/catalogues/*.json``)."""
    return tuple(sorted(p.stem for p in CATALOGUE_DIR.glob("*.json")))


def load_catalogue(name_or_path: str | Path) -> Catalogue:
    """Loads a built-in catalogue by name (``"math"``, ``"code"``) or any catalogue JSON file by path.

    A string without a path separator or ``.json`` suffix is a built-in name; anything else is a path.
    """
    text = str(name_or_path)
    is_path = isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith(".json")
    if is_path:
        path = Path(name_or_path)
    else:
        path = CATALOGUE_DIR / f"{text}.json"
        if not path.is_file():
            raise CatalogueError(f"no built-in catalogue {text!r}; available: {', '.join(available_catalogues())}")
    if not path.is_file():
        raise CatalogueError(f"catalogue file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"invalid JSON in catalogue {path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise CatalogueError(f"catalogue {path} is not UTF-8 text: {exc.reason}") from None
    return catalogue_from_dict(data, where=f"catalogue {path.name}")

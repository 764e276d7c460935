"""The finite Bayesian persuasion game (Kamenica & Gentzkow, 2011).

A sender commits to a signalling scheme ``pi(a | s)`` over ``m`` states and ``n`` receiver actions. The state
``s ~ mu0`` (the prior) is drawn, a signal is sent, the receiver forms the posterior and best-responds.

Symbols used throughout the package (and in ``docs/``):

* ``mu0``: prior, shape ``(m,)``, non-negative, sums to 1;
* ``u_S``: sender utility, shape ``(m, n)``, indexed ``[state, action]``;
* ``u_R``: receiver utility, shape ``(m, n)``; or ``(K, m, n)`` for ``K`` receiver types with type
  distribution ``lam`` of shape ``(K,)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from persuasion.errors import GameError

PRIOR_TOL = 1e-9
#: Largest accepted magnitude of a utility (HiGHS treats |values| >= 1e20 as infinite; rescale larger data).
MAX_ABS_UTILITY = 1e12


def _one_line(text: str, limit: int = 160) -> str:
    """Collapses ``text`` to one line of at most ``limit`` characters (for error messages)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _as_array(name: str, value: Any, ndim: int | tuple[int, ...]) -> np.ndarray:
    """Converts ``value`` to a read-only float array of the given rank, with a one-line error otherwise."""
    if isinstance(value, (str, bytes, dict)):
        raise GameError(f"{name} must be a numeric array, got {type(value).__name__}")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise GameError(f"{name} must be a numeric array: {_one_line(exc)}") from None
    if raw.dtype.kind not in "biuf":
        raise GameError(f"{name} must be a numeric array, got entries of dtype {raw.dtype} (strings, None or objects?)")
    arr = raw.astype(float, copy=True)
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ranks:
        want = " or ".join(f"{r}-d" for r in ranks)
        raise GameError(f"{name} must be {want}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise GameError(f"{name} contains NaN or infinite entries")
    arr.setflags(write=False)
    return arr


def _check_utility(name: str, u: np.ndarray) -> None:
    biggest = float(np.abs(u).max(initial=0.0))
    if biggest > MAX_ABS_UTILITY:
        raise GameError(f"{name} has an entry of magnitude {biggest:g} > {MAX_ABS_UTILITY:g}; rescale the utilities")


def _check_distribution(name: str, p: np.ndarray, normalize: bool) -> np.ndarray:
    """``p`` on the simplex.

    Entries must be ``>= -PRIOR_TOL`` (tiny negatives are clipped to 0) and sum to 1 within ``PRIOR_TOL``; such a
    ``p`` is kept as given, so a JSON round trip is exact. With ``normalize`` any non-negative ``p`` with a positive
    sum is rescaled to ``p / sum(p)``.
    """
    if p.size and p.min() < -PRIOR_TOL:
        i = int(np.argmin(p))
        raise GameError(f"{name} has a negative entry {p[i]!r} at index {i}")
    out = np.clip(p, 0.0, None)
    total = float(out.sum())
    if total <= 0:
        raise GameError(f"{name} sums to {total!r}, not 1")
    if normalize and total != 1.0:
        out = out / total
    elif abs(total - 1.0) > PRIOR_TOL:
        raise GameError(f"{name} sums to {total!r}, not 1 (within {PRIOR_TOL:g}); pass normalize=True to rescale it")
    out.setflags(write=False)
    return out


def _names(kind: str, names: Any, count: int) -> tuple[str, ...]:
    if names is None:
        return tuple(f"{kind}{i}" for i in range(count))
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise GameError(f"{kind}_names must be a list of {count} strings, got {type(names).__name__}")
    names = tuple(str(x) for x in names)
    if len(names) != count:
        raise GameError(f"{kind}_names has {len(names)} entries, expected {count}")
    if len(set(names)) != len(names):
        raise GameError(f"{kind}_names must be distinct, got {_one_line(list(names))}")
    return names


@dataclass(frozen=True, eq=False)
class Game:
    """A finite persuasion game over ``m`` states and ``n`` actions.

    Args:
        prior: ``mu0``, shape ``(m,)``.
        sender_utility: ``u_S[s, a]``, shape ``(m, n)``.
        receiver_utility: ``u_R[s, a]``, shape ``(m, n)``, or ``u_R[k, s, a]`` of shape ``(K, m, n)`` for K types.
        type_prior: ``lam``, shape ``(K,)``; required when ``receiver_utility`` is 3-d, forbidden otherwise.
        state_names, action_names, type_names: optional labels.
        name: optional label of the game.
        normalize: rescale ``prior`` and ``type_prior`` to sum to 1 instead of rejecting them.

    Raises:
        GameError: (one line) on a non-numeric, NaN/infinite or too large (> ``MAX_ABS_UTILITY``) entry, a wrong
            rank or shape, no state or no action, a prior with an entry below ``-PRIOR_TOL`` or a sum off 1 by
            more than ``PRIOR_TOL`` (unless ``normalize``), a ``type_prior`` that is missing, superfluous or off
            the simplex, or names of the wrong count or not distinct.

    Example:
        >>> g = Game([0.7, 0.3], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
        >>> (g.m, g.n, g.K)
        (2, 2, 1)
    """

    prior: np.ndarray
    sender_utility: np.ndarray
    receiver_utility: np.ndarray
    type_prior: np.ndarray | None = None
    state_names: tuple[str, ...] | None = None
    action_names: tuple[str, ...] | None = None
    type_names: tuple[str, ...] | None = None
    name: str = ""
    normalize: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        prior = _as_array("prior", self.prior, 1)
        u_s = _as_array("sender_utility", self.sender_utility, 2)
        u_r = _as_array("receiver_utility", self.receiver_utility, (2, 3))
        m = prior.shape[0]
        if m == 0:
            raise GameError("the game needs at least one state (prior is empty)")
        if u_s.shape[0] != m:
            raise GameError(f"sender_utility has shape {u_s.shape}, expected ({m}, n) for {m} states")
        n = u_s.shape[1]
        if n == 0:
            raise GameError("the game needs at least one action (sender_utility has 0 columns)")
        if u_r.shape[-2:] != (m, n):
            raise GameError(f"receiver_utility has shape {u_r.shape}, expected {(m, n)} or (K, {m}, {n})")
        _check_utility("sender_utility", u_s)
        _check_utility("receiver_utility", u_r)
        prior = _check_distribution("prior", prior, self.normalize)
        if u_r.ndim == 3:
            if u_r.shape[0] == 0:
                raise GameError("receiver_utility has 0 types")
            if self.type_prior is None:
                raise GameError(f"receiver_utility has {u_r.shape[0]} types but no type_prior was given")
            lam = _as_array("type_prior", self.type_prior, 1)
            if lam.shape[0] != u_r.shape[0]:
                raise GameError(f"type_prior has {lam.shape[0]} entries, expected {u_r.shape[0]} (one per type)")
            lam = _check_distribution("type_prior", lam, self.normalize)
            type_names = _names("type", self.type_names, u_r.shape[0])
        else:
            if self.type_prior is not None:
                raise GameError("type_prior given but receiver_utility is 2-d (a single receiver type)")
            if self.type_names is not None:
                raise GameError("type_names given but receiver_utility is 2-d (a single receiver type)")
            lam = None
            type_names = None
        set_ = object.__setattr__
        set_(self, "prior", prior)
        set_(self, "sender_utility", u_s)
        set_(self, "receiver_utility", u_r)
        set_(self, "type_prior", lam)
        set_(self, "state_names", _names("state", self.state_names, m))
        set_(self, "action_names", _names("action", self.action_names, n))
        set_(self, "type_names", type_names)
        set_(self, "name", str(self.name))

    @property
    def m(self) -> int:
        """Number of states."""
        return int(self.prior.shape[0])

    @property
    def n(self) -> int:
        """Number of actions."""
        return int(self.sender_utility.shape[1])

    @property
    def K(self) -> int:
        """Number of receiver types (1 for a single receiver)."""
        return 1 if self.receiver_utility.ndim == 2 else int(self.receiver_utility.shape[0])

    @property
    def has_types(self) -> bool:
        """Whether the receiver utility carries a type axis."""
        return self.receiver_utility.ndim == 3

    def typed_receiver_utility(self) -> np.ndarray:
        """``u_R`` with a type axis, shape ``(K, m, n)``."""
        return self.receiver_utility if self.has_types else self.receiver_utility[None]

    def typed_type_prior(self) -> np.ndarray:
        """``lam`` of shape ``(K,)`` (``[1.0]`` for a single receiver)."""
        return self.type_prior if self.type_prior is not None else np.ones(1)

    def for_type(self, k: int) -> Game:
        """The single-receiver game faced by type ``k``."""
        if not 0 <= k < self.K:
            raise GameError(f"type index {k} out of range for {self.K} types")
        return Game(
            self.prior,
            self.sender_utility,
            self.typed_receiver_utility()[k],
            state_names=self.state_names,
            action_names=self.action_names,
            name=f"{self.name}[{self.type_names[k] if self.type_names else k}]",
        )

    def with_prior(self, prior: Any, normalize: bool = False) -> Game:
        """A copy of the game with another prior."""
        return Game(
            prior,
            self.sender_utility,
            self.receiver_utility,
            self.type_prior,
            self.state_names,
            self.action_names,
            self.type_names,
            self.name,
            normalize,
        )

    # ----------------------------------------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the format read by :meth:`from_dict`)."""
        out: dict[str, Any] = {
            "name": self.name,
            "states": list(self.state_names),
            "actions": list(self.action_names),
            "prior": self.prior.tolist(),
            "sender_utility": self.sender_utility.tolist(),
            "receiver_utility": self.receiver_utility.tolist(),
        }
        if self.has_types:
            out["types"] = list(self.type_names)
            out["type_prior"] = self.type_prior.tolist()
        return out

    @classmethod
    def from_dict(cls, data: Any, normalize: bool = False) -> Game:
        """Builds a game from the dict written by :meth:`to_dict`."""
        if not isinstance(data, dict):
            raise GameError(f"a game must be a JSON object, got {type(data).__name__}")
        missing = [k for k in ("prior", "sender_utility", "receiver_utility") if k not in data]
        if missing:
            raise GameError(f"game JSON is missing the field(s) {', '.join(missing)}")
        unknown = sorted(str(k) for k in set(data) - _JSON_FIELDS)
        if unknown:
            raise GameError(
                f"game JSON has unknown field(s) {_one_line(', '.join(unknown), 80)}; "
                f"known: {', '.join(sorted(_JSON_FIELDS))}"
            )
        name = data.get("name", "")
        if not isinstance(name, str):
            raise GameError(f"game JSON field name must be a string, got {type(name).__name__}")
        return cls(
            prior=data["prior"],
            sender_utility=data["sender_utility"],
            receiver_utility=data["receiver_utility"],
            type_prior=data.get("type_prior"),
            state_names=data.get("states"),
            action_names=data.get("actions"),
            type_names=data.get("types"),
            name=name,
            normalize=normalize,
        )

    def to_json(self, path: str | Path | None = None, indent: int | None = 2) -> str:
        """Serialises the game (floats are written exactly); also writes it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent) + "\n"
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, source: str | Path, normalize: bool = False) -> Game:
        """Reads a game from a JSON file path, or from a JSON string (one that starts with ``{``)."""
        if not isinstance(source, (str, Path)):
            raise GameError(f"from_json needs a path or a JSON string, got {type(source).__name__}")
        if isinstance(source, str) and source.lstrip().startswith(("{", "[")):
            text = source
        else:
            path = Path(source)
            try:
                text = path.read_text()
            except FileNotFoundError:
                raise GameError(f"game file not found: {_one_line(path, 120)}") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise GameError(f"cannot read game file {_one_line(path, 120)}: {_one_line(exc, 120)}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GameError(f"invalid JSON in game: {_one_line(exc)}") from None
        return cls.from_dict(data, normalize=normalize)

    # --------------------------------------------------------------------------------------------- random
    @classmethod
    def random(cls, m: int, n: int, seed: int = 0, *, K: int | None = None) -> Game:
        """A random game: ``mu0 ~ Dirichlet(1)``, utilities i.i.d. uniform on ``[0, 1)`` (``K`` types if given).

        Example:
            >>> g = Game.random(3, 4, seed=1)
            >>> (g.m, g.n, g.K)
            (3, 4, 1)
        """
        if m < 1 or n < 1 or (K is not None and K < 1):
            raise GameError(f"Game.random needs m, n (and K) >= 1, got m={m}, n={n}, K={K}")
        rng = np.random.default_rng(seed)
        prior = rng.dirichlet(np.ones(m))
        u_s = rng.uniform(size=(m, n))
        if K is None:
            return cls(prior, u_s, rng.uniform(size=(m, n)), normalize=True)
        return cls(prior, u_s, rng.uniform(size=(K, m, n)), rng.dirichlet(np.ones(K)), normalize=True)


_JSON_FIELDS = frozenset(
    {"name", "states", "actions", "types", "prior", "sender_utility", "receiver_utility", "type_prior"}
)

"""The ``persuasion`` command line: solve, plot and export finite Bayesian persuasion games.

Usage::

    persuasion solve GAME [--json] [--signalling public|private] [--normalize]
    persuasion plot GAME -o FIG.png [--normalize]
    persuasion example NAME [-o PATH]
    persuasion example --list
    persuasion --version

``GAME`` is a game JSON file (the format of :meth:`persuasion.Game.to_json`), a built-in example name
(:data:`persuasion.examples.EXAMPLES`) or an inline JSON object. Bad input exits with status 2 and one line
``error: ...`` on stderr; a solver failure exits with status 1 the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from persuasion.errors import GameError, SolverError
from persuasion.examples import EXAMPLES, example
from persuasion.game import Game

#: Exit status for bad input (usage errors, unreadable or invalid games).
EXIT_USAGE = 2
#: Exit status when every LP backend failed.
EXIT_SOLVER = 1


class UsageError(Exception):
    """A command-line usage error (raised instead of argparse's print-usage-and-exit)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become :class:`UsageError` (one line, no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("persuasion-alignment")
    except Exception:  # not installed: fall back to the package attribute
        from persuasion import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``persuasion`` command."""
    parser = _Parser(prog="persuasion", description="Finite Bayesian persuasion: solve, plot and export games.")
    parser.add_argument("--version", action="version", version=f"persuasion {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    game_help = "a game JSON file, a built-in example name (see `persuasion example --list`) or inline JSON"

    p_solve = sub.add_parser("solve", help="solve a game exactly (revelation-principle LP)", description=(
        "Solve a game: the sender's optimal signalling scheme, its value and the receiver's value."))
    p_solve.add_argument("game", metavar="GAME", help=game_help)
    p_solve.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p_solve.add_argument("--signalling", choices=("public", "private"), default="public",
                         help="for games with receiver types: one public signal, or private signals with reported "
                              "types (default: public; ignored for a single receiver)")
    p_solve.add_argument("--normalize", action="store_true", help="rescale a prior that does not sum to 1")

    p_plot = sub.add_parser("plot", help="draw a 2-state concavification or a 3-state simplex", description=(
        "Draw a game: the concavification for 2 states, the value over the belief simplex for 3."))
    p_plot.add_argument("game", metavar="GAME", help=game_help)
    p_plot.add_argument("-o", "--output", required=True, metavar="FIG", help="image file (.png, .pdf, .svg, ...)")
    p_plot.add_argument("--normalize", action="store_true", help="rescale a prior that does not sum to 1")

    p_ex = sub.add_parser("example", help="write a built-in example game as JSON", description=(
        "Write a built-in example game as JSON (to stdout, or to -o PATH), or list the examples."))
    p_ex.add_argument("name", metavar="NAME", nargs="?", help="example name")
    p_ex.add_argument("-o", "--output", metavar="PATH", help="write the JSON here instead of stdout")
    p_ex.add_argument("--list", action="store_true", help="list the built-in examples")
    return parser


def load_game(spec: str, normalize: bool = False) -> Game:
    """The game named by ``spec``: a JSON file path, a built-in example name, or an inline JSON object.

    Raises:
        GameError: for a missing file, invalid JSON or game data, or an unknown name.
    """
    if not spec.strip():
        raise GameError("GAME is empty: give a game JSON file or a built-in example name")
    if spec.lstrip().startswith("{"):
        return Game.from_json(spec, normalize=normalize)
    path = Path(spec)
    if path.is_file():
        return Game.from_json(path, normalize=normalize)
    key = spec.strip().replace("-", "_")
    if key in EXAMPLES:
        game = example(key)
        return game.with_prior(game.prior, normalize=normalize) if normalize else game
    if path.suffix or "/" in spec or "\\" in spec or path.exists():
        raise GameError(f"game file not found: {spec}")
    raise GameError(
        f"GAME {spec!r} is neither a game JSON file nor a built-in example ({', '.join(sorted(EXAMPLES))})"
    )


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _fmt(x: float) -> str:
    return f"{x:.6g}" if abs(x) > 1e-12 else "0"


# ----------------------------------------------------------------------------------------------- solve
def _solve(game: Game, signalling: str) -> Any:
    if game.has_types:
        from persuasion.receiver_types import solve_private, solve_public

        return solve_public(game) if signalling == "public" else solve_private(game)
    from persuasion.solve import solve

    return solve(game)


def _scheme_table(game: Game, scheme: np.ndarray, title: str, columns: Sequence[str]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("state")
    table.add_column("prior", justify="right")
    for name in columns:
        table.add_column(name, justify="right")
    for s, name in enumerate(game.state_names):
        table.add_row(name, _fmt(float(game.prior[s])), *(_fmt(float(p)) for p in scheme[s]))
    return table


def _signal_table(game: Game, title: str, rows: Sequence[tuple[str, float, np.ndarray]]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("recommended action")
    table.add_column("probability", justify="right")
    for name in game.state_names:
        table.add_column(f"P({name})", justify="right")
    for label, prob, posterior in rows:
        table.add_row(label, _fmt(prob), *(_fmt(float(q)) for q in posterior))
    return table


def _print_solution(game: Game, result: Any, signalling: str) -> None:
    """Prints the value, the scheme and the signals of a single-receiver, public or private solution."""
    from rich.console import Console

    console = Console(highlight=False)
    names = game.action_names
    title = game.name or "game"
    kind = f", {game.K} receiver types, {signalling} signalling" if game.has_types else ""
    console.print(f"[bold]{title}[/bold]: {game.m} states, {game.n} actions{kind}")
    console.print(f"sender value     {_fmt(result.value)}")
    console.print(f"receiver value   {_fmt(result.receiver_value)}" + (" (type-weighted)" if game.has_types else ""))
    console.print(f"status           {result.status} ({getattr(result, 'solver', '?')})")
    if not game.has_types:
        console.print(_scheme_table(game, result.scheme, "scheme pi(action | state)", names))
        rows = [(names[a], float(p), mu) for a, p, mu in zip(result.signals, result.signal_prob, result.posteriors)]
        console.print(_signal_table(game, "signals (posterior over states after each)", rows))
        from persuasion.reference import full_disclosure, no_disclosure

        console.print(f"references: no disclosure {_fmt(no_disclosure(game).value)}, "
                      f"full disclosure {_fmt(full_disclosure(game).value)}")
    elif hasattr(result, "profiles"):  # public: signals are action profiles, one action per type
        types = game.type_names

        def label(p: int) -> str:
            return ", ".join(f"{t}: {names[a]}" for t, a in zip(types, result.profiles[p]))

        used = np.flatnonzero(result.scheme.max(axis=0, initial=0.0) > 1e-12)
        console.print(_scheme_table(game, result.scheme[:, used], "scheme pi(profile | state)",
                                    [label(int(p)) for p in used]))
        rows = [(label(p), float(q), mu) for p, q, mu in zip(result.signals, result.signal_prob, result.posteriors)]
        console.print(_signal_table(game, "public signals (posterior over states after each)", rows))
    else:  # private: one scheme per reported type
        for k, tname in enumerate(game.type_names):
            console.print(_scheme_table(game, result.scheme[k], f"scheme for reported type {tname}", names))
            sent = np.flatnonzero(result.action_prob[k] > 1e-12)
            rows = [(names[a], float(result.action_prob[k, a]), result.posteriors[k, a]) for a in sent]
            console.print(_signal_table(game, f"signals to type {tname}", rows))


def cmd_solve(args: argparse.Namespace) -> int:
    """``persuasion solve GAME``: prints the optimal scheme (tables or ``--json``)."""
    game = load_game(args.game, normalize=args.normalize)
    result = _solve(game, args.signalling)
    if args.json:
        out = result.to_dict(game)
        if game.has_types:
            out.setdefault("signalling", args.signalling)
        print(json.dumps(out, default=_jsonable))
    else:
        _print_solution(game, result, args.signalling)
    return 0


# ------------------------------------------------------------------------------------------ plot, example
def cmd_plot(args: argparse.Namespace) -> int:
    """``persuasion plot GAME -o FIG``: the concavification (2 states) or the simplex picture (3 states)."""
    game = load_game(args.game, normalize=args.normalize)
    if game.has_types:
        raise GameError(f"plot needs a single receiver type, the game has {game.K}")
    if game.m not in (2, 3):
        raise GameError(f"plot needs a game with 2 or 3 states, the game has {game.m}")
    out = Path(args.output)
    if not out.parent.is_dir():
        raise GameError(f"cannot write {out}: directory {out.parent} does not exist")
    from persuasion.plot import plot_game

    plot_game(game, out)
    print(f"wrote {out}")
    return 0


def cmd_example(args: argparse.Namespace) -> int:
    """``persuasion example NAME [-o PATH]`` or ``persuasion example --list``."""
    if args.list:
        if args.name or args.output:
            raise UsageError("--list takes no NAME or -o")
        width = max(len(name) for name in EXAMPLES)
        for name, fn in EXAMPLES.items():
            summary = (fn.__doc__ or "").strip().splitlines()[0]
            print(f"{name:<{width}}  {summary}")
        return 0
    if not args.name:
        raise UsageError("example needs a NAME (or --list)")
    game = example(args.name)
    if args.output:
        out = Path(args.output)
        if not out.parent.is_dir():
            raise GameError(f"cannot write {out}: directory {out.parent} does not exist")
        game.to_json(out)
        print(f"wrote {out}")
    else:
        sys.stdout.write(game.to_json())
    return 0


COMMANDS = {"solve": cmd_solve, "plot": cmd_plot, "example": cmd_example}


def _fail(message: str, status: int) -> int:
    line = " ".join(str(message).split())
    print(f"error: {line}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``persuasion`` command with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    try:
        return COMMANDS[args.command](args)
    except (UsageError, GameError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except SolverError as exc:
        return _fail(str(exc), EXIT_SOLVER)
    except (OSError, ValueError) as exc:  # unreadable files, bad image formats, undecodable text
        return _fail(str(exc) or type(exc).__name__, EXIT_USAGE)


if __name__ == "__main__":
    sys.exit(main())

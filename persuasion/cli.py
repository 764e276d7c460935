"""The ``persuasion`` command line: solve, plot and export finite Bayesian persuasion games.

Usage::

    persuasion solve GAME [--format table|csv|json] [--json] [--top K] [--signalling public|private] [--normalize]
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
import csv
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from persuasion.errors import GameError, SolverError
from persuasion.examples import EXAMPLES, example
from persuasion.game import Game
from persuasion.usage import EXIT_USAGE, ArgumentParser, UsageError, output_file

#: Exit status when every LP backend failed (bad input: :data:`persuasion.usage.EXIT_USAGE`, 2).
EXIT_SOLVER = 1


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("persuasion-alignment")
    except Exception:  # not installed: fall back to the package attribute
        from persuasion import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``persuasion`` command."""
    parser = ArgumentParser(prog="persuasion", description="Finite Bayesian persuasion: solve, plot and export games.")
    parser.add_argument("--version", action="version", version=f"persuasion {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    game_help = "a game JSON file, a built-in example name (see `persuasion example --list`) or inline JSON"

    p_solve = sub.add_parser("solve", help="solve a game exactly (revelation-principle LP)", description=(
        "Solve a game: the sender's optimal signalling scheme, its value and the receiver's value."))
    p_solve.add_argument("game", metavar="GAME", help=game_help)
    p_solve.add_argument("--json", action="store_true", help="print one JSON object instead of tables "
                         "(the same as --format json; numbers rounded to 12 significant digits)")
    p_solve.add_argument("--format", choices=("table", "csv", "json"), default=None,
                         help="table (default: the scheme's support, compact for large games), csv (one row per "
                              "(state, signal) with pi(signal | state) > 0) or json")
    p_solve.add_argument("--top", type=int, default=3, metavar="K",
                         help="entries listed per state or signal when a table is too wide to show whole (default 3)")
    p_solve.add_argument("--signalling", choices=("public", "private"), default="public",
                         help="for games with receiver types: one public signal, or private signals with reported "
                              "types (default: public; a single receiver type has one LP: a note says so)")
    p_solve.add_argument("--normalize", action="store_true", help="rescale a prior that does not sum to 1")

    p_plot = sub.add_parser("plot", help="draw a 2-state concavification or a 3-state simplex", description=(
        "Draw a game: the concavification for 2 states, the value over the belief simplex for 3; with receiver "
        "types (2 states), public signalling's concavification and the private-signalling value."))
    p_plot.add_argument("game", metavar="GAME", help=game_help)
    p_plot.add_argument("-o", "--output", required=True, metavar="FIG", help="image file (.png, .pdf, .svg, ...)")
    p_plot.add_argument("--normalize", action="store_true", help="rescale a prior that does not sum to 1")

    p_ex = sub.add_parser("example", help="write a built-in example game as JSON", description=(
        "Write a built-in example game as JSON (to stdout, or to -o PATH), or list the examples."))
    p_ex.add_argument("name", metavar="NAME", nargs="?", help="example name")
    p_ex.add_argument("-o", "--output", metavar="PATH", help="write the JSON here instead of stdout ('-': stdout)")
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


#: Significant digits of every number the CLI prints as data (``--json``, ``--format csv``): enough for any LP
#: answer (HiGHS is accurate to ~1e-9), few enough that 0.4 is not printed as 0.39999999999999997.
DIGITS = 12
#: The most columns (actions, signals, states) a dense table shows; larger schemes are listed by their support.
MAX_COLUMNS = 8
#: The most rows (states, signals) a table shows; ``--format csv`` lists every one.
MAX_ROWS = 30
#: Probabilities at or below this count as zero (a signal that is never sent, a scheme entry outside the support).
PROB_TOL = 1e-12


def plain_number(x: float) -> float:
    """``x`` rounded to :data:`DIGITS` significant digits (``0.39999999999999997 -> 0.4``)."""
    return float(f"{float(x):.{DIGITS}g}")


def rounded(obj: Any) -> Any:
    """``obj`` with numpy arrays and scalars made plain and every float rounded by :func:`plain_number`."""
    if isinstance(obj, dict):
        return {k: rounded(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rounded(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return rounded(obj.tolist())
    if isinstance(obj, np.generic):
        return rounded(obj.item())
    if isinstance(obj, float):
        return plain_number(obj)
    return obj


_NUMPY_SCALAR = re.compile(r"np\.(?:float|int|uint|complex)\d*\(([^()]*)\)")


def cli_message(message: str) -> str:
    """A library error message in the command line's words, on one line.

    Numpy scalar reprs become plain numbers (``np.float64(-0.2) -> -0.2``) and the Python keyword the library
    suggests becomes the CLI flag (``normalize=True -> --normalize``).
    """
    line = " ".join(str(message).split())
    line = _NUMPY_SCALAR.sub(lambda m: m.group(1), line)
    return line.replace("pass normalize=True", "pass --normalize").replace("normalize=True", "--normalize")


def _fmt(x: float) -> str:
    return f"{x:.6g}" if abs(x) > PROB_TOL else "0"


# ----------------------------------------------------------------------------------------------- solve
def _solve(game: Game, signalling: str) -> Any:
    if game.has_types:
        from persuasion.receiver_types import solve_private, solve_public

        return solve_public(game) if signalling == "public" else solve_private(game)
    if signalling == "private":
        print("note: the game has a single receiver type, so --signalling private changes nothing: "
              "solving the single-receiver LP", file=sys.stderr)
    from persuasion.solve import solve

    return solve(game)


def _top(names: Sequence[str], probs: np.ndarray, top: int) -> str:
    """``"b 0.6, a 0.4 (+3 more)"``: the ``top`` largest positive entries of ``probs``, largest first."""
    support = np.flatnonzero(probs > PROB_TOL)
    order = support[np.argsort(-probs[support], kind="stable")]
    text = ", ".join(f"{names[i]} {_fmt(float(probs[i]))}" for i in order[:top])
    return text + (f" (+{len(order) - top} more)" if len(order) > top else "")


def _caption(hidden: int, what: str) -> str | None:
    return f"... and {hidden} more {what}: --format csv lists every one" if hidden > 0 else None


def _fits(columns: Sequence[Sequence[str]], width: int) -> bool:
    """Whether a table whose columns hold these cells fits ``width`` characters unwrapped (headers may fold)."""
    return sum(max(map(len, cells), default=1) + 3 for cells in columns) + 1 <= width


def _scheme_table(game: Game, scheme: np.ndarray, title: str, columns: Sequence[str], top: int, width: int) -> Any:
    """The scheme ``pi[s, j]`` restricted to its support: only the signals ``j`` ever sent.

    When the support's columns fit (at most :data:`MAX_COLUMNS` of them, within ``width``) it is a state-by-signal
    matrix; otherwise each state lists its ``top`` largest entries. At most :data:`MAX_ROWS` states are shown.
    """
    from rich.table import Table

    used = np.flatnonzero(scheme.max(axis=0, initial=0.0) > PROB_TOL)
    note = "" if len(used) == len(columns) else f" (the {len(used)} of {len(columns)} signals ever sent)"
    shown = game.state_names[:MAX_ROWS]
    table = Table(title=title + note, title_justify="left", caption=_caption(game.m - len(shown), "states"),
                  caption_justify="left")
    table.add_column("state", overflow="fold")
    table.add_column("prior", justify="right", no_wrap=True)
    cells = [[_fmt(float(p)) for p in scheme[: len(shown), j]] for j in used]
    dense = len(used) <= MAX_COLUMNS and _fits([shown, [_fmt(float(p)) for p in game.prior], *cells], width)
    if dense:
        for j in used:
            table.add_column(columns[j], justify="right", overflow="fold")
    else:
        table.add_column(f"pi(signal | state), largest {top}", overflow="fold")
    for s, name in enumerate(shown):
        cells = [_fmt(float(scheme[s, j])) for j in used] if dense else [_top(columns, scheme[s], top)]
        table.add_row(name, _fmt(float(game.prior[s])), *cells)
    return table


def _signal_table(
    game: Game, title: str, header: str, rows: Sequence[tuple[str, float, np.ndarray]], top: int, width: int
) -> Any:
    """One row per signal sent: its probability and the posterior over states (whole when it fits ``width``)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", caption=_caption(len(rows) - MAX_ROWS, "signals"),
                  caption_justify="left")
    table.add_column(header, overflow="fold")
    table.add_column("probability", justify="right", no_wrap=True)
    labels = [r[0] for r in rows[:MAX_ROWS]]
    cells = [[_fmt(float(r[2][s])) for r in rows[:MAX_ROWS]] for s in range(game.m)]
    dense = game.m <= MAX_COLUMNS and _fits([labels, ["probability"], *cells], width)
    if dense:
        for name in game.state_names:
            table.add_column(f"P({name})", justify="right", overflow="fold")
    else:
        table.add_column(f"posterior, largest {top} states", overflow="fold")
    for label, prob, posterior in rows[:MAX_ROWS]:
        cells = [_fmt(float(q)) for q in posterior] if dense else [_top(game.state_names, np.asarray(posterior), top)]
        table.add_row(label, _fmt(prob), *cells)
    return table


def _profile_labels(game: Game, profiles: np.ndarray, sep: str = ", ", eq: str = ": ") -> list[str]:
    names, types = game.action_names, game.type_names
    return [sep.join(f"{t}{eq}{names[a]}" for t, a in zip(types, row)) for row in profiles]


def _per_type(game: Game, result: Any) -> str:
    """What a receiver value means with receiver types: the type prior's mean of each type's expected utility."""
    values = ", ".join(f"{t} {_fmt(v)}" for t, v in zip(game.type_names, result.type_values))
    return f" (mean over receiver types, weighted by the type prior: {values})"


def _print_solution(game: Game, result: Any, signalling: str, top: int) -> None:
    """Prints the value, the scheme's support and the signals of a single-receiver, public or private solution."""
    from rich.console import Console

    console = Console(highlight=False)
    width = console.width
    names = game.action_names
    title = game.name or "game"
    kind = f", {game.K} receiver types, {signalling} signalling" if game.has_types else ""
    console.print(f"[bold]{title}[/bold]: {game.m} states, {game.n} actions{kind}")
    console.print(f"sender value     {_fmt(result.value)}")
    meaning = _per_type(game, result) if game.has_types else ""
    console.print(f"receiver value   {_fmt(result.receiver_value)}{meaning}", soft_wrap=True)
    console.print(f"status           {result.status} ({getattr(result, 'solver', '?')})")
    if not game.has_types:
        console.print(_scheme_table(game, result.scheme, "scheme pi(action | state)", names, top, width))
        rows = [(names[a], float(p), mu) for a, p, mu in zip(result.signals, result.signal_prob, result.posteriors)]
        console.print(_signal_table(game, "signals (posterior over states after each)", "recommended action", rows,
                                    top, width))
        from persuasion.reference import full_disclosure, no_disclosure

        console.print(f"references: no disclosure {_fmt(no_disclosure(game).value)}, "
                      f"full disclosure {_fmt(full_disclosure(game).value)}")
    elif hasattr(result, "profiles"):  # public: signals are action profiles, one action per type
        labels = _profile_labels(game, result.profiles)
        console.print(_scheme_table(game, result.scheme, "scheme pi(profile | state)", labels, top, width))
        rows = [(labels[p], float(q), mu) for p, q, mu in zip(result.signals, result.signal_prob, result.posteriors)]
        console.print(_signal_table(game, "public signals (posterior over states after each)",
                                    "recommended profile", rows, top, width))
    else:  # private: one scheme per reported type
        for k, tname in enumerate(game.type_names):
            console.print(_scheme_table(game, result.scheme[k], f"scheme for reported type {tname}", names, top,
                                        width))
            sent = np.flatnonzero(result.action_prob[k] > PROB_TOL)
            rows = [(names[a], float(result.action_prob[k, a]), result.posteriors[k, a]) for a in sent]
            console.print(_signal_table(game, f"signals to type {tname}", "recommended action", rows, top, width))


def _write_csv(game: Game, result: Any) -> None:
    """The scheme's support as CSV: one row per (state, signal) with ``pi(signal | state) > 0``.

    Columns: ``state,action,probability`` for one receiver; ``state,profile,probability`` for public signalling
    (``profile`` like ``lenient=convict;strict=acquit``); ``type,state,action,probability`` for private.
    """
    writer = csv.writer(sys.stdout, lineterminator="\n")

    def rows(scheme: np.ndarray, labels: Sequence[str], *prefix: str) -> None:
        for s, state in enumerate(game.state_names):
            for j in np.flatnonzero(scheme[s] > PROB_TOL):
                writer.writerow([*prefix, state, labels[j], repr(plain_number(scheme[s, j]))])

    if not game.has_types:
        writer.writerow(["state", "action", "probability"])
        rows(result.scheme, game.action_names)
    elif hasattr(result, "profiles"):
        writer.writerow(["state", "profile", "probability"])
        rows(result.scheme, _profile_labels(game, result.profiles, sep=";", eq="="))
    else:
        writer.writerow(["type", "state", "action", "probability"])
        for k, tname in enumerate(game.type_names):
            rows(result.scheme[k], game.action_names, tname)


def cmd_solve(args: argparse.Namespace) -> int:
    """``persuasion solve GAME``: prints the optimal scheme (tables, ``--format csv`` or ``--json``)."""
    fmt = args.format or ("json" if args.json else "table")
    if args.json and fmt != "json":
        raise UsageError(f"--json conflicts with --format {fmt}")
    if args.top < 1:
        raise UsageError(f"--top must be >= 1, got {args.top}")
    game = load_game(args.game, normalize=args.normalize)
    result = _solve(game, args.signalling)
    if fmt == "json":
        out = result.to_dict(game)
        if game.has_types:
            out.setdefault("signalling", args.signalling)
        print(json.dumps(rounded(out)))
    elif fmt == "csv":
        _write_csv(game, result)
    else:
        _print_solution(game, result, args.signalling, args.top)
    return 0


# ------------------------------------------------------------------------------------------ plot, example
def cmd_plot(args: argparse.Namespace) -> int:
    """``persuasion plot GAME -o FIG``: the concavification (2 states) or the simplex picture (3 states).

    A game with receiver types (2 states) is drawn as public signalling's concavification, with the private value.
    """
    game = load_game(args.game, normalize=args.normalize)
    if game.has_types and game.m != 2:
        raise GameError(f"plot draws games with receiver types for 2 states only, the game has {game.m} "
                        "(use `persuasion solve GAME --signalling public|private`)")
    if game.m not in (2, 3):
        raise GameError(f"plot needs a game with 2 or 3 states, the game has {game.m}")
    out = output_file(args.output, "-o")
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
    if args.output and args.output != "-":
        out = output_file(args.output, "-o")
        game.to_json(out)
        print(f"wrote {out}")
    else:  # no -o, or -o -: standard output
        sys.stdout.write(game.to_json())
    return 0


COMMANDS = {"solve": cmd_solve, "plot": cmd_plot, "example": cmd_example}


def _fail(message: str, status: int) -> int:
    print(f"error: {cli_message(message)}", file=sys.stderr)
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

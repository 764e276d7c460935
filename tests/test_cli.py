"""Tests of the ``persuasion`` command, in process (``main(argv)``) and through the installed console script."""

import csv
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from persuasion import Game, __version__, solve, solve_private, solve_public
from persuasion.cli import DIGITS, MAX_ROWS, cli_message, main, plain_number
from persuasion.examples import EXAMPLES, prosecutor, recommendation, two_judges, two_reviewers

ROOT = Path(__file__).resolve().parents[1]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: Bad inputs: (id, argv with {d} for the fixture directory, a fragment of the error line).
BAD_INPUTS = [
    ("missing-file", ["solve", "{d}/nope.json"], "game file not found"),
    ("invalid-json", ["solve", "{d}/invalid.json"], "invalid JSON"),
    ("bad-shape", ["solve", "{d}/bad_shape.json"], "receiver_utility has shape"),
    ("prior-off-simplex", ["solve", "{d}/bad_prior.json"], "prior sums to"),
    ("nan", ["solve", "{d}/nan.json"], "NaN"),
    ("unknown-example", ["solve", "no_such_game"], "neither a game JSON file nor a built-in example"),
    ("unknown-example-cmd", ["example", "no_such_game"], "known examples: prosecutor"),
    ("plot-four-states", ["plot", "{d}/four.json", "-o", "{d}/four.png"], "2 or 3 states, the game has 4"),
    ("plot-typed-3-states", ["plot", "two_reviewers", "-o", "{d}/typed.png"], "receiver types for 2 states only"),
    ("plot-no-output", ["plot", "prosecutor"], "-o/--output"),
    ("plot-bad-dir", ["plot", "prosecutor", "-o", "{d}/no/such/dir.png"], "does not exist"),
    ("unknown-option", ["solve", "prosecutor", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    ("bad-signalling", ["solve", "two_judges", "--signalling", "secret"], "invalid choice"),
    ("no-command", [], "required"),
    ("example-no-name", ["example"], "NAME"),
    ("not-an-object", ["solve", "{d}/list.json"], "must be a JSON object"),
]

#: Bad inputs checked in process only (the console script runs the same ``main``).
MORE_BAD_INPUTS = [
    # numbers print as plain numbers, not numpy reprs like np.float64(-0.2)
    ("negative-prior", ["solve", "{d}/negative_prior.json"], "prior has a negative entry -0.2 at index 1"),
    # the advice names the CLI flag, not the Python keyword normalize=True
    ("unnormalised", ["solve", "{d}/unnormalised.json"], "pass --normalize to rescale it"),
    ("json-and-csv", ["solve", "prosecutor", "--json", "--format", "csv"], "--json conflicts with --format csv"),
    ("bad-format", ["solve", "prosecutor", "--format", "xml"], "invalid choice"),
    ("bad-top", ["solve", "prosecutor", "--top", "0"], "--top must be >= 1"),
    # a file where a directory should be is named as such, not as a directory that "does not exist"
    ("plot-file-in-way", ["plot", "prosecutor", "-o", "{d}/list.json/p.png"], "list.json is a file, not a directory"),
    ("example-file-in-way", ["example", "prosecutor", "-o", "{d}/list.json/p.json"],
     "list.json is a file, not a directory"),
    ("plot-to-a-directory", ["plot", "prosecutor", "-o", "{d}"], "is a directory, not a file"),
]


def _write_inputs(d: Path) -> None:
    good = prosecutor().to_dict()
    (d / "invalid.json").write_text('{"prior": [0.5, 0.5], ')
    (d / "bad_shape.json").write_text(json.dumps({**good, "receiver_utility": [[1, 0, 0], [0, 1, 0]]}))
    (d / "bad_prior.json").write_text(json.dumps({**good, "prior": [0.7, 0.7]}))
    (d / "nan.json").write_text(json.dumps({**good, "sender_utility": [[0, float("nan")], [0, 1]]}))
    (d / "list.json").write_text("[1, 2]")
    (d / "negative_prior.json").write_text(json.dumps({**good, "prior": [1.2, -0.2]}))
    (d / "unnormalised.json").write_text(json.dumps({**good, "prior": [7, 3]}))
    Game(np.ones(4) / 4, np.zeros((4, 2)), np.zeros((4, 2))).to_json(d / "four.json")


def _script() -> str:
    found = shutil.which("persuasion", path=str(Path(sys.executable).parent)) or shutil.which("persuasion")
    assert found, "the persuasion console script is not installed (pip install -e .)"
    return found


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    _write_inputs(d)
    return d


@pytest.fixture(scope="module")
def script_runs(inputs) -> dict[str, subprocess.CompletedProcess]:
    """Every console-script run of this module, run in parallel (each pays ~2.5 s CPU, mostly importing cvxpy)."""
    script = _script()
    runs = {case: [a.format(d=inputs) for a in argv] for case, argv, _ in BAD_INPUTS}
    runs["version"] = ["--version"]
    runs["solve-json"] = ["solve", "prosecutor", "--json"]

    def run(argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([script, *argv], capture_output=True, text=True, timeout=300)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = dict(zip(runs, pool.map(run, runs.values())))
    return results


def _assert_one_error_line(stderr: str, fragment: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in stderr


@pytest.mark.parametrize("case,argv,fragment", BAD_INPUTS + MORE_BAD_INPUTS,
                         ids=[c for c, _, _ in BAD_INPUTS + MORE_BAD_INPUTS])
def test_bad_input_in_process(case, argv, fragment, inputs, capsys):
    assert main([a.format(d=inputs) for a in argv]) == 2
    out, err = capsys.readouterr()
    _assert_one_error_line(err, fragment)
    assert "np.float64" not in err and "normalize=True" not in err
    assert out == ""


@pytest.mark.parametrize("case,argv,fragment", BAD_INPUTS, ids=[c for c, _, _ in BAD_INPUTS])
def test_bad_input_console_script(case, argv, fragment, script_runs):
    result = script_runs[case]
    assert result.returncode == 2, result.stderr
    _assert_one_error_line(result.stderr, fragment)
    assert result.stdout == ""


def test_console_script_success(script_runs):
    assert script_runs["version"].returncode == 0
    assert script_runs["version"].stdout.strip() == f"persuasion {__version__}"
    solved = script_runs["solve-json"]
    assert solved.returncode == 0 and solved.stderr == ""
    assert json.loads(solved.stdout)["value"] == pytest.approx(0.6)


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"persuasion {__version__}"


def test_solve_json(capsys, tmp_path):
    assert main(["solve", "prosecutor", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["value"] == pytest.approx(0.6)
    assert out["receiver_value"] == pytest.approx(0.7)
    assert out["status"] == "optimal"
    np.testing.assert_allclose(out["scheme"], [[4 / 7, 3 / 7], [0, 1]], atol=1e-8)
    assert out["action_prob"] == [0.4, 0.6]  # exactly: rounded to 12 significant digits, not 0.39999999999999997
    assert out["states"] == ["innocent", "guilty"]
    assert [s["action_name"] for s in out["signals"]] == ["acquit", "convict"]
    # The same game from a JSON file, and inline, give the same answer.
    path = tmp_path / "game.json"
    prosecutor().to_json(path)
    for spec in (str(path), prosecutor().to_json()):
        assert main(["solve", spec, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["value"] == pytest.approx(0.6)


def test_solve_normalize(capsys, tmp_path):
    path = tmp_path / "unnormalised.json"
    path.write_text(json.dumps({**prosecutor().to_dict(), "prior": [7, 3]}))
    assert main(["solve", str(path), "--json"]) == 2
    assert "--normalize" in capsys.readouterr().err
    assert main(["solve", str(path), "--json", "--normalize"]) == 0
    assert json.loads(capsys.readouterr().out)["value"] == pytest.approx(0.6)


def test_typed_receiver_value_says_what_it_is(capsys):
    assert main(["solve", "two_judges"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # however the terminal wraps it
    sol = solve_public(two_judges())
    lenient, strict = (f"{v:.6g}" for v in sol.type_values)
    assert (f"receiver value {sol.receiver_value:.6g} (mean over receiver types, weighted by the type prior: "
            f"lenient {lenient}, strict {strict})") in out


def test_solve_tables(capsys):
    assert main(["solve", "recommendation"]) == 0
    out = capsys.readouterr().out
    game = recommendation()
    for name in game.state_names + game.action_names:
        assert name in out
    assert "sender value     1.2" in out and "receiver value   0" in out
    assert "0.428571" in out and "0.571429" in out  # posterior of the "hire" signal
    assert "no disclosure 0, full disclosure 0.7" in out


@pytest.mark.parametrize("signalling", ["public", "private"])
def test_solve_receiver_types(signalling, capsys):
    assert main(["solve", "two_judges", "--json", "--signalling", signalling]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["value"] == pytest.approx(0.5)
    assert out["kind"] == signalling and out["status"] == "optimal"
    assert out["types"] == ["lenient", "strict"]
    assert {"scheme", "receiver_value"} <= set(out)
    assert main(["solve", "two_judges", "--signalling", signalling]) == 0
    text = capsys.readouterr().out
    assert f"{signalling} signalling" in text and "lenient" in text and "sender value     0.5" in text


def test_plot(tmp_path, capsys):
    for name in ("prosecutor", "recommendation"):
        out = tmp_path / f"{name}.png"
        assert main(["plot", name, "-o", str(out)]) == 0
        assert out.read_bytes()[:8] == PNG_MAGIC
    assert "wrote" in capsys.readouterr().out


def test_example(tmp_path, capsys, monkeypatch):
    for name, fn in EXAMPLES.items():
        assert main(["example", name]) == 0
        assert Game.from_dict(json.loads(capsys.readouterr().out)).to_dict() == fn().to_dict()
    path = tmp_path / "p.json"
    assert main(["example", "prosecutor", "-o", str(path)]) == 0
    assert Game.from_json(path).to_dict() == prosecutor().to_dict()
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)  # "-o -" is standard output, not a file named "-"
    assert main(["example", "prosecutor", "-o", "-"]) == 0
    assert Game.from_dict(json.loads(capsys.readouterr().out)).to_dict() == prosecutor().to_dict()
    assert not (tmp_path / "-").exists()
    assert main(["example", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(EXAMPLES)


# ------------------------------------------------------------------------------------- numbers and messages
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300))
def test_plain_number_keeps_twelve_significant_digits(x):
    r = plain_number(x)
    assert abs(r - x) <= 5.0 * 10.0 ** -DIGITS * abs(x)
    digits = repr(r).split("e")[0].replace("-", "").replace(".", "").strip("0")
    assert len(digits) <= DIGITS
    assert plain_number(r) == r


def test_plain_number_examples():
    assert plain_number(0.39999999999999997) == 0.4
    assert plain_number(1 - 1e-15) == 1.0
    assert plain_number(1e-13) == 1e-13  # small numbers keep their digits (no absolute rounding)
    assert plain_number(np.float32(0.1)) == 0.100000001490


def test_cli_message():
    assert cli_message("prior has a negative entry np.float64(-0.2) at index 1") == (
        "prior has a negative entry -0.2 at index 1")
    assert cli_message("got np.int64(3) and\nnp.float32(1e-05)") == "got 3 and 1e-05"
    assert cli_message("pass normalize=True to rescale it") == "pass --normalize to rescale it"


# ------------------------------------------------------------------------------------- large games, csv
def _random_game(m: int, n: int, seed: int) -> Game:
    rng = np.random.default_rng(seed)
    return Game(rng.dirichlet(np.ones(m)), rng.random((m, n)), rng.random((m, n)))


def _used(scheme: np.ndarray) -> np.ndarray:
    return np.flatnonzero(scheme.max(axis=0) > 1e-12)


@pytest.mark.parametrize("m,n", [(12, 12), (100, 100)])
def test_solve_tables_of_large_games_show_the_support(m, n, tmp_path, capsys):
    game = _random_game(m, n, seed=m)
    path = tmp_path / "big.json"
    game.to_json(path)
    sol = solve(game)
    used = _used(sol.scheme)
    assert 0 < len(used) < n
    assert main(["solve", str(path)]) == 0
    out = capsys.readouterr().out
    assert "…" not in out  # nothing truncated
    assert max(len(line) for line in out.splitlines()) <= 80  # fits the (non-terminal) console
    assert f"the {len(used)} of {n} signals ever sent" in out
    words = set(re.findall(r"[A-Za-z_]\w*", out))
    listed = sol.signals[:MAX_ROWS]  # the signals table lists the first MAX_ROWS signals sent
    assert {game.action_names[a] for a in listed} <= words  # named in full...
    assert not {game.action_names[a] for a in set(range(n)) - set(used)} & words  # ...and no signal never sent
    shown = min(m, MAX_ROWS)
    assert {game.state_names[s] for s in range(shown)} <= words
    if m > MAX_ROWS:
        assert f"and {m - MAX_ROWS} more states: --format csv lists every one" in out
    # each state's largest entry is listed on the state's row
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.startswith("│ state")}
    for s in range(shown):
        best = game.action_names[int(np.argmax(sol.scheme[s]))]
        assert best in rows[game.state_names[s]] or sol.scheme[s].max() < 0.5


def test_solve_csv_is_the_whole_support(tmp_path, capsys):
    game = _random_game(100, 100, seed=100)
    path = tmp_path / "big.json"
    game.to_json(path)
    assert main(["solve", str(path), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    scheme = solve(game).scheme
    got = np.zeros_like(scheme)
    for row in rows:
        got[game.state_names.index(row["state"]), game.action_names.index(row["action"])] = float(row["probability"])
    assert len(rows) == int((scheme > 1e-12).sum())
    np.testing.assert_allclose(got, np.where(scheme > 1e-12, scheme, 0.0), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-9)


def test_solve_csv_small_and_typed(capsys):
    assert main(["solve", "prosecutor", "--format", "csv"]) == 0
    assert capsys.readouterr().out == (
        "state,action,probability\n"
        "innocent,acquit,0.571428571429\n"
        "innocent,convict,0.428571428571\n"
        "guilty,convict,1.0\n"
    )
    assert main(["solve", "two_judges", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "state,profile,probability"
    assert "guilty,lenient=convict;strict=convict,1.0" in lines
    assert main(["solve", "two_reviewers", "--format", "csv", "--signalling", "private"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["type"] for r in rows} == {"theorist", "experimentalist"}
    assert {"type": "theorist", "state": "proof_bug", "action": "reject", "probability": "1.0"} in rows


# ------------------------------------------------------------------------------------- signalling, spellings
def test_private_signalling_on_a_single_type_says_so(capsys):
    assert main(["solve", "prosecutor", "--signalling", "private", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["value"] == pytest.approx(0.6)  # still solved
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("note: ") and "single receiver type" in lines[0], err
    assert main(["solve", "prosecutor", "--json"]) == 0
    assert capsys.readouterr().err == ""  # the default says nothing


def test_private_beats_public_on_two_reviewers(capsys):
    values = {}
    for signalling in ("public", "private"):
        assert main(["solve", "two_reviewers", "--json", "--signalling", signalling]) == 0
        values[signalling] = json.loads(capsys.readouterr().out)["value"]
    assert values == {"public": pytest.approx(7 / 15), "private": pytest.approx(2 / 3)}
    assert values["private"] > values["public"] + 0.1


@pytest.mark.parametrize("spelling", ["two_judges", "two-judges"])
def test_both_spellings_of_example_names(spelling, tmp_path, capsys):
    assert main(["solve", spelling, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["value"] == pytest.approx(0.5)
    assert main(["example", spelling]) == 0
    assert Game.from_dict(json.loads(capsys.readouterr().out)).to_dict() == two_judges().to_dict()
    assert main(["plot", spelling, "-o", str(tmp_path / "typed.png")]) == 0
    assert (tmp_path / "typed.png").read_bytes()[:8] == PNG_MAGIC


def test_plot_typed_game(tmp_path, capsys):
    assert main(["plot", "two_judges", "-o", str(tmp_path / "typed.svg")]) == 0
    svg = (tmp_path / "typed.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "private signalling" in svg


# ------------------------------------------------------------------------------------- the README
def _readme() -> str:
    return (ROOT / "README.md").read_text()


def test_readme_names_examples_as_the_code_spells_them():
    text = _readme()
    named = re.findall(r"persuasion (?:solve|example|plot) ([A-Za-z][\w-]*)", text)
    named += re.findall(r"example\(\"([^\"]+)\"\)", text)
    named += re.findall(r"or: ([a-z_-]+) \(", text)
    names = [n for n in named if not n.endswith(".json") and n not in ("game", "GAME")]
    assert names and set(names) <= set(EXAMPLES), sorted(set(names) - set(EXAMPLES))


def test_readme_persuasion_commands_run(tmp_path, monkeypatch, capsys):
    """Every ``persuasion ...`` line of the README's shell blocks runs (in order, in a scratch folder)."""
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```bash\n(.*?)```", _readme(), flags=re.S)
    commands = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    commands = [c for c in commands if c.startswith("persuasion ")]
    assert any(c.startswith("persuasion plot") for c in commands)
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, (command, capsys.readouterr().err)
    capsys.readouterr()


def test_readme_shows_private_beating_public():
    text = _readme()
    game = two_reviewers()
    public, private = solve_public(game).value, solve_private(game).value
    assert private > public + 0.1
    assert f"{public:.4g}" in text and f"{private:.4g}" in text and "two_reviewers" in text

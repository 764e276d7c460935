"""Tests of the ``persuasion`` command, in process (``main(argv)``) and through the installed console script."""

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from persuasion import Game, __version__
from persuasion.cli import main
from persuasion.examples import EXAMPLES, prosecutor, recommendation

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
    ("plot-typed", ["plot", "two_judges", "-o", "{d}/typed.png"], "single receiver type"),
    ("plot-no-output", ["plot", "prosecutor"], "-o/--output"),
    ("plot-bad-dir", ["plot", "prosecutor", "-o", "{d}/no/such/dir.png"], "does not exist"),
    ("unknown-option", ["solve", "prosecutor", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    ("bad-signalling", ["solve", "two_judges", "--signalling", "secret"], "invalid choice"),
    ("no-command", [], "required"),
    ("example-no-name", ["example"], "NAME"),
    ("not-an-object", ["solve", "{d}/list.json"], "must be a JSON object"),
]


def _write_inputs(d: Path) -> None:
    good = prosecutor().to_dict()
    (d / "invalid.json").write_text('{"prior": [0.5, 0.5], ')
    (d / "bad_shape.json").write_text(json.dumps({**good, "receiver_utility": [[1, 0, 0], [0, 1, 0]]}))
    (d / "bad_prior.json").write_text(json.dumps({**good, "prior": [0.7, 0.7]}))
    (d / "nan.json").write_text(json.dumps({**good, "sender_utility": [[0, float("nan")], [0, 1]]}))
    (d / "list.json").write_text("[1, 2]")
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


@pytest.mark.parametrize("case,argv,fragment", BAD_INPUTS, ids=[c for c, _, _ in BAD_INPUTS])
def test_bad_input_in_process(case, argv, fragment, inputs, capsys):
    assert main([a.format(d=inputs) for a in argv]) == 2
    out, err = capsys.readouterr()
    _assert_one_error_line(err, fragment)
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
    assert "normalize" in capsys.readouterr().err
    assert main(["solve", str(path), "--json", "--normalize"]) == 0
    assert json.loads(capsys.readouterr().out)["value"] == pytest.approx(0.6)


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


def test_example(tmp_path, capsys):
    for name, fn in EXAMPLES.items():
        assert main(["example", name]) == 0
        assert Game.from_dict(json.loads(capsys.readouterr().out)).to_dict() == fn().to_dict()
    path = tmp_path / "p.json"
    assert main(["example", "prosecutor", "-o", str(path)]) == 0
    assert Game.from_json(path).to_dict() == prosecutor().to_dict()
    capsys.readouterr()
    assert main(["example", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(EXAMPLES)

"""experiments/dapa.py: the smoke run on a tiny GPT-2 pair with planted modules, resuming, and one-line errors."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dapa_cli():
    spec = importlib.util.spec_from_file_location("dapa_experiment", ROOT / "experiments" / "dapa.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["dapa_experiment"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("dapa_experiment", None)


def test_smoke_run_finds_the_planted_modules_and_resumes(dapa_cli, tmp_path: Path, test_cache: Path, capsys):
    out = tmp_path / "run"
    assert dapa_cli.main(["--smoke", "--out", str(out), "--controls", "2", "--publish", str(tmp_path / "pub")]) == 0
    result = json.loads((out / "result.json").read_text())
    search = result["search"]
    assert tuple(search["modules"]) == dapa_cli.SMOKE_PLANTED
    assert search["kept"] >= 0.9 and len(search["candidates"]) == 8
    assert [p["k"] for p in result["prefix_curve"]] == [0, 1, 2]
    assert result["prefix_curve"][-1]["score"] == search["score_found"]
    assert len(result["controls"]) == 2
    assert result["search_prompts"] == result["test_prompts"] == 2  # half select, half test
    test = result["test"]
    assert test["found"] == test["full"] > test["unaligned"] and test["kept"] == 1.0
    for suffix in (".json", "-table.md", ".png"):
        assert (tmp_path / f"pub{suffix}").stat().st_size > 0
    table = (out / "table.md").read_text()
    assert "2 of 8 candidate modules" in table and "transformer.h.1.attn, transformer.h.2.mlp" in table
    rows = (out / "evaluations.jsonl").read_text().splitlines()
    capsys.readouterr()
    assert dapa_cli.main(["--smoke", "--out", str(out), "--controls", "2"]) == 0  # resumes: nothing recomputed
    assert (out / "evaluations.jsonl").read_text().splitlines() == rows
    assert "criterion" not in capsys.readouterr().out.split("| model |")[0]
    again = json.loads((out / "result.json").read_text())["search"]
    assert again["modules"] == search["modules"] and len(again["evaluations"]) == len(search["evaluations"])


@pytest.mark.parametrize("argv, message", [
    (["--rho", "1.5"], "--rho must lie in (0, 1]"),
    (["--epsilon", "-1"], "--epsilon must be >= 0"),
    (["--controls", "-1"], "--controls must be >= 0"),
    (["--aligned", "gpt2"], "--smoke builds its own tiny pair"),
    (["--max-new-tokens", "0"], "--max-new-tokens must be >= 1"),
])
def test_bad_settings_print_one_line_and_exit_2(dapa_cli, tmp_path: Path, capsys, argv, message):
    assert dapa_cli.main(["--smoke", "--out", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_changed_settings_on_an_existing_run_are_refused(dapa_cli, tmp_path: Path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text(json.dumps({"rho": 0.1}))
    assert dapa_cli.main(["--smoke", "--out", str(tmp_path / "r")]) == 2
    assert "other settings" in capsys.readouterr().err

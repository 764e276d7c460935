"""experiments/bpa_regret.py: the Advisor's online regret against the simulated Receiver (a small case)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bpa_regret():
    spec = importlib.util.spec_from_file_location("bpa_regret", ROOT / "experiments" / "bpa_regret.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bpa_regret"] = module  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bpa_regret", None)


@pytest.fixture(scope="module")
def quick_run(bpa_regret, tmp_path_factory):
    out = tmp_path_factory.mktemp("bpa_regret")
    assert bpa_regret.main(["--out", str(out), "--quick"]) == 0
    return out


def test_quick_run_writes_its_files(quick_run, bpa_regret) -> None:
    for name in ("config.json", "summary.json", "table.md", "bpa_regret.png", "bpa_regret.pdf"):
        assert (quick_run / name).stat().st_size > 0, name
    summary = json.loads((quick_run / "summary.json").read_text())
    assert set(summary["learners"]) == set(bpa_regret.LEARNERS)
    rec = json.loads((quick_run / "runs" / "robust.json").read_text())
    assert len(rec["t"]) == len(rec["mean"]) == len(rec["band_low"]) == len(rec["bound"]["values"])
    assert rec["t"][-1] == 4000 and rec["m"] == len(rec["states"])
    table = (quick_run / "table.md").read_text()
    assert sum(line.startswith("| ") for line in table.splitlines()) == len(bpa_regret.LEARNERS) + 1


def test_regret_is_sublinear_and_the_baselines_are_exact(quick_run) -> None:
    summary = json.loads((quick_run / "summary.json").read_text())
    game, s = summary["game"], summary["learners"]
    T = 4000
    # fixed schemes: exactly (OPT - V) T
    for name in ("full_disclosure", "no_disclosure"):
        exact = (game["opt"] - game[f"{name}_value"]) * T
        assert s[name]["final_regret"] == pytest.approx(exact, rel=1e-3)
    assert s["oracle"]["final_regret"] == pytest.approx(0.0, abs=1e-2)
    # the game needs persuasion: the optimum beats revealing the helpful item
    assert game["opt"] > game["full_disclosure_value"] + 0.005
    robust = json.loads((quick_run / "runs" / "robust.json").read_text())
    t, mean = np.array(robust["t"]), np.array(robust["mean"])
    early = np.interp(1000, t, mean) / 1000
    late = (mean[-1] - np.interp(2000, t, mean)) / (t[-1] - 2000)
    assert late < 0.6 * early  # per-round regret falls: sublinear
    assert s["robust"]["slope"] < 0.9
    assert s["robust"]["final_regret"] < s["full_disclosure"]["final_regret"]
    assert s["robust"]["violation_rate"] == 0.0
    assert s["plugin"]["violation_rate"] > 0.1  # the non-robust LP loses persuasiveness


def test_simulated_success_matches_the_exact_value(quick_run) -> None:
    """The oracle's realized success (the simulated Receiver's draws on the drawn problems) matches OPT."""
    summary = json.loads((quick_run / "summary.json").read_text())
    oracle = summary["learners"]["oracle"]
    n = oracle["horizon"] * oracle["seeds"]
    wins = round(oracle["success_rate"] * n)
    assert binomtest(wins, n, summary["game"]["opt"]).pvalue > 1e-3


def test_resume_reuses_runs(quick_run, bpa_regret) -> None:
    path = quick_run / "runs" / "oracle.json"
    before = path.stat().st_mtime_ns
    assert bpa_regret.main(["--out", str(quick_run), "--quick", "--learners", "oracle", "--no-plots"]) == 0
    assert path.stat().st_mtime_ns == before



@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--out", "{file}/x", "--quick"], "--out {file}/x: {file} is a file, not a directory"),
        (["--out", "{d}/o", "--seeds", "0"], "argument --seeds: must be an integer >= 1, got 0"),
        (["--out", "{d}/o", "--horizon", "150"], "--horizon must be a multiple of --chunk (100), got 150"),
        (["--out", "{d}/o", "--spec", "{d}/nope.json"], "--spec {d}/nope.json: simulated spec file not found"),
    ],
)
def test_bad_input_is_one_line_naming_the_flag_and_status_2(bpa_regret, tmp_path, capsys, args, fragment) -> None:
    file = tmp_path / "a_file"
    file.write_text("")
    fill = {"file": str(file), "d": str(tmp_path)}
    assert bpa_regret.main([a.format(**fill) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and fragment.format(**fill) in err, err

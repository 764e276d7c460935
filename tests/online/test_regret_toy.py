"""End-to-end test of experiments/regret_toy.py on a tiny configuration: outputs, shapes, resume."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from online_games import SEEDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def regret_toy():
    spec = importlib.util.spec_from_file_location("regret_toy", ROOT / "experiments" / "regret_toy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["regret_toy"] = module  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("regret_toy", None)


def test_experiment_writes_summary_runs_and_figures_and_resumes(regret_toy, tmp_path):
    args = [
        "--out",
        str(tmp_path),
        "--horizon",
        "3000",
        "--seeds",
        str(SEEDS),
        "--ms",
        "2",
        "3",
        "--n-actions",
        "2",
        "--typed-ms",
        "--no-progress",
    ]
    assert regret_toy.main(args) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    algs = summary["algorithms"]
    for name in ("robust", "plugin", "oracle", "full_disclosure", "no_disclosure", "exp3", "etc"):
        assert {"slope", "violation_rate", "final_regret"} <= set(algs[name]), name
    assert isinstance(algs["robust"]["slope"], float) and algs["oracle"]["slope"] is None
    assert algs["plugin"]["violation_rate"] > algs["robust"]["violation_rate"]
    assert {"alpha", "beta", "reference"} <= set(summary["scaling"]["robust"])
    assert summary["config"]["horizon"] == 3000 and summary["reused_runs"] == 0
    run = json.loads((tmp_path / "runs" / "prosecutor__robust.json").read_text())
    assert len(run["t"]) == len(run["mean"]) == len(run["band_low"]) == len(run["bound"]["values"])
    assert all(lo <= mu <= hi for lo, mu, hi in zip(run["band_low"], run["mean"], run["band_high"]))
    assert run["t"][-1] == 3000 and run["config"]["seeds"] == SEEDS
    for fig in summary["figures"]:
        assert (tmp_path / fig).stat().st_size > 1000
    assert {"regret_vs_T_prosecutor.png", "regret_vs_m.png"} <= set(summary["figures"])
    assert not list(tmp_path.rglob("*.tmp"))
    # resume: every run is reused, nothing is recomputed
    stamp = (tmp_path / "runs" / "prosecutor__robust.json").stat().st_mtime_ns
    assert regret_toy.main(args + ["--no-plots"]) == 0
    again = json.loads((tmp_path / "summary.json").read_text())
    assert again["reused_runs"] == again["runs"] == summary["runs"]
    assert (tmp_path / "runs" / "prosecutor__robust.json").stat().st_mtime_ns == stamp
    assert again["algorithms"]["robust"]["final_regret"] == algs["robust"]["final_regret"]


def test_quick_run_says_one_game_per_m_is_not_for_conclusions(regret_toy, tmp_path, monkeypatch, capsys):
    # one name per idea: per-run `summarize` (persuasion.online.analysis), whole-run `summary_json`
    assert not hasattr(regret_toy, "summarise") and callable(regret_toy.summary_json)
    quick = regret_toy.Config.quick()
    assert quick.games_per_m == 1 and any("not for conclusions" in c for c in regret_toy.caveats(quick))
    assert regret_toy.caveats(regret_toy.Config()) == []  # 3 games per m
    monkeypatch.setattr(regret_toy, "plan_runs", lambda cfg: [])  # the caveat, not the simulation, is under test
    assert regret_toy.main(["--out", str(tmp_path), "--quick", "--no-plots", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "note: 1 random game per m" in out and "not for conclusions" in out
    assert json.loads((tmp_path / "summary.json").read_text())["caveats"] == regret_toy.caveats(quick)


def test_figures_are_publication_ready(regret_toy, tmp_path):
    from PIL import Image

    t = [100.0, 1000.0, 10000.0]
    games = {"prosecutor": regret_toy.PRIOR_ALGORITHMS, "prosecutor_typed": regret_toy.TYPE_ALGORITHMS}
    records = [
        {"game": game, "algorithm": alg, "m": 2, "t": t, "mean": [10.0, 30.0, 100.0], "band_low": [5.0, 20.0, 80.0],
         "band_high": [15.0, 40.0, 120.0], "bound": {"values": [50.0, 200.0, 800.0]}}
        for game, algs in games.items()
        for alg in algs
    ]
    names = regret_toy.plots(records, tmp_path, regret_toy.Config(horizon=10_000), {})
    assert {"regret_vs_T_prosecutor.png", "regret_vs_T_typed.png"} <= set(names)
    for name in names:
        with Image.open(tmp_path / name) as img:
            assert min(img.info["dpi"]) >= 199.5 and img.size[0] >= 1000  # >= 200 dpi raster
        assert (tmp_path / name).with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"  # and a vector copy
    assert regret_toy.FIG_STYLE["legend.fontsize"] >= 8


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--out", "{file}/x"], "--out {file}/x: {file} is a file, not a directory"),
        (["--out", "{file}"], "--out {file}: {file} is a file, not a directory"),
        (["--out", "{d}/o", "--horizon", "-5"], "argument --horizon: must be an integer >= 1, got -5"),
        (["--out", "{d}/o", "--horizon", "150"], "--horizon must be a multiple of 100"),
        (["--out", "{d}/o", "--seeds", "0"], "argument --seeds: must be an integer >= 1, got 0"),
        (["--out", "{d}/o", "--ms", "0"], "argument --ms: must be an integer >= 1, got 0"),
        (["--out", "{d}/o", "--ms", "two"], "argument --ms: must be an integer >= 1, got 'two'"),
        (["--out", "{d}/o", "--n-actions", "1"], "argument --n-actions: must be an integer >= 2, got 1"),
        (["--out", "{d}/o", "--games-per-m", "0"], "argument --games-per-m: must be an integer >= 1, got 0"),
        (["--quick"], "the following arguments are required: --out"),
    ],
)
def test_bad_input_is_one_line_naming_the_flag_and_status_2(regret_toy, tmp_path, capsys, args, fragment):
    file = tmp_path / "a_file"
    file.write_text("")
    fill = {"file": str(file), "d": str(tmp_path)}
    assert regret_toy.main([a.format(**fill) for a in args] + ["--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and fragment.format(**fill) in err, err
    assert not (tmp_path / "o").exists()  # nothing written


def test_a_run_prints_its_headline_table(regret_toy, tmp_path, capsys):
    args = ["--out", str(tmp_path), "--horizon", "200", "--seeds", "2", "--ms", "2", "--typed-ms", "--no-plots",
            "--no-progress"]
    assert regret_toy.main(args) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    robust = summary["algorithms"]["robust"]
    assert "| algorithm | game | regret R_T [95% CI] | log-log slope | violation rate | R_T / bound |" in out
    assert f"| robust | prosecutor | {robust['final_regret']:.1f} [" in out
    assert out.count("\n| ") >= len(summary["algorithms"])  # one row per headline algorithm

"""The methods side by side in the BPA pipeline: registry, CLI, rows, costs, summary, resume, docs."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from llm.bpa.config import BPAConfig
from llm.bpa.pipeline import run
from llm.bpa.report import methods_markdown
from llm.experiment_cli import main
from llm.lm import LMError
from llm.methods import (
    BPA_CONDITIONS,
    CONDITIONS,
    METHOD_OF_CONDITION,
    METHODS,
    MethodsConfig,
    aligner,
    conditions_for,
    inspector,
    linear_alignment,
    parse_methods,
)

ROOT = Path(__file__).resolve().parents[3]
METHOD_CONDS = ("baseline", "aligner", "aligner-squad", "linear-alignment")


def test_registry():
    assert parse_methods("all") == tuple(METHODS)
    assert parse_methods(" linear-alignment,aligner ") == ("aligner", "linear-alignment")
    assert conditions_for(("bpa",)) == BPA_CONDITIONS == BPAConfig().conditions
    assert conditions_for(tuple(METHODS)) == CONDITIONS
    assert conditions_for(("aligner-squad",)) == ("baseline", "aligner-squad")
    assert set(METHOD_OF_CONDITION) == set(CONDITIONS) and set(METHOD_OF_CONDITION.values()) == set(METHODS)
    for bad in ("", "magic", "aligner,magic"):
        with pytest.raises(ValueError, match="unknown method"):
            parse_methods(bad)


@pytest.mark.parametrize("kwargs", [{"squad_threshold": 1.5}, {"la_top_p": 0.0}, {"la_ratio": -1.0},
                                    {"inspector_l2": 0.0}, {"correction_tokens": 0}, {"aligner_epochs": 0}])
def test_bad_method_settings(kwargs):
    with pytest.raises(ValueError):
        MethodsConfig(**kwargs)


def test_docs_show_every_template_verbatim():
    doc = (ROOT / "docs" / "methods.md").read_text()
    for module in (aligner, inspector, linear_alignment):
        for name, template in module.TEMPLATES.items():
            assert template in doc, f"docs/methods.md does not show {name} verbatim"


@pytest.mark.parametrize("argv, match", [
    (["--method", "aligner", "--conditions", "baseline"], "not both"), (["--method", "magic"], "unknown method"),
    (["--conditions", "baseline,magic"], "unknown condition"), (["--la-top-p", "2", "--method", "aligner"], "la_top_p"),
])
def test_cli_rejects_bad_methods_in_one_line(tmp_path, capsys, argv, match):
    assert main([*argv, "--out", str(tmp_path / "x")], "prog", "doc", {
        "out": "x", "task": "synthetic", "catalogue": "math", "limit": 1, "max_new_tokens": 4}) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and match in err and len(err.splitlines()) == 1


def test_linear_alignment_refuses_http_receivers(tmp_path):
    cfg = BPAConfig(task="synthetic", receivers=("http://localhost:1/v1#m",), conditions=("linear-alignment",))
    with pytest.raises(LMError, match="HTTP endpoint"):
        run(cfg, tmp_path / "http")
    assert not (tmp_path / "http").exists()


def test_corrector_conditions_need_trained_correctors(tmp_path):
    from llm.bpa.context import Context
    from llm.game.catalogue import load_catalogue
    from llm.bpa.methods import method_wrappers
    from llm.tasks import get_task
    from tests.llm.fake_lm import FakeLM

    for cond in ("aligner", "aligner-squad"):
        cfg = BPAConfig(task="synthetic", conditions=("baseline", cond))
        ctx = Context(cfg, tmp_path, get_task("synthetic"), load_catalogue("math"), lambda spec: FakeLM(spec))
        with pytest.raises(LMError, match=f"'{cond}' needs the trained corrector"):
            method_wrappers(ctx, FakeLM("r"), None)


@pytest.fixture(scope="module")
def loader(tiny_dir):
    from llm.backends.hf import HFModel

    return lambda spec: HFModel.from_pretrained(spec, device="cpu", dtype="float32", batch_size=4)


def _config(tiny_dir: Path, conditions=METHOD_CONDS, **methods) -> BPAConfig:
    settings = {"aligner_epochs": 1, "aligner_max_steps": 2, "aligner_lr": 1e-3, **methods}
    return BPAConfig(task="synthetic", advisor=str(tiny_dir), receivers=(str(tiny_dir),), limit=3, train_limit=3,
                     conditions=conditions, max_new_tokens=8, chat="no", shots=0, batch_size=4, chunk=2, device="cpu",
                     dtype="float32", methods=MethodsConfig(**settings))


@pytest.fixture(scope="module")
def methods_run(tmp_path_factory, tiny_dir, loader):
    out = tmp_path_factory.mktemp("methods") / "run"
    result = run(_config(tiny_dir), out, loader=loader, log=lambda _: None)
    return out, result


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]


def test_every_method_runs_end_to_end(methods_run):
    out, result = methods_run
    rows = _rows(out)
    assert len(rows) == len({r["key"] for r in rows}) == 3 * len(METHOD_CONDS)
    assert all(r["method"] == METHOD_OF_CONDITION[r["condition"]] for r in rows)
    base = {r["problem_id"]: r for r in rows if r["condition"] == "baseline"}
    for r in rows:
        b = base[r["problem_id"]]
        assert r["prompt"] == b["prompt"] and r["cost_seconds"] > 0 and r["tokens"] > 0
        if r["condition"] == "baseline":
            assert r["calls"] == 1 and r["tokens"] > r["new_tokens"] > 0
        elif r["condition"] == "aligner":
            assert r["calls"] == 2 and r["fired"] and r["p_correct"] is None
        elif r["condition"] == "aligner-squad":
            assert r["fired"] == (r["p_correct"] < 0.5) and r["calls"] == 4 + r["fired"]
            if not r["fired"]:
                assert r["response"] == r["original_response"]
        else:
            assert r["calls"] == 2 and r["fired"] is None
        if r["condition"] != "baseline":
            assert r["original_response"] == b["response"] and r["original_correct"] == b["correct"]
            assert isinstance(r["changed"], bool) and r["tokens"] > b["tokens"]
    qa = [json.loads(line) for line in (out / "qa.jsonl").read_text().splitlines()]
    assert len(qa) == 3 and all(q["key"].startswith("qa|synthetic/1/") for q in qa)  # the training split
    trained = next((out / "training").iterdir())  # the training Receiver's folder
    insp = json.loads((trained / "inspector.json").read_text())
    assert insp["train_n"] == 3 and len(insp["weights"]) == 4
    assert json.loads((trained / "aligner.json").read_text())["sft"]["steps"] == 1  # 3 pairs, batch 4, one epoch
    assert result["aligner"]["pairs"] == 3 and "weights" in result["inspector"]


def test_summary_compares_accuracy_and_cost(methods_run):
    out, result = methods_run
    s = next(iter(result["receivers"].values()))
    assert set(s) == set(METHOD_CONDS)
    for c in METHOD_CONDS[1:]:
        assert s[c]["n"] == 3 and len(s[c]["diff_ci95"]) == 2 and 0 <= s[c]["p_mcnemar"] <= s[c]["p_holm"] <= 1
        assert s[c]["extra_cost"]["calls"] >= 1 and s[c]["extra_cost"]["tokens"] > 0
    assert s["baseline"]["cost"]["calls"] == 1 and "extra_cost" in s["baseline"]
    assert s["aligner"]["extra_cost"]["calls"] == 1 and s["linear-alignment"]["extra_cost"]["calls"] == 1
    fix = s["aligner"]["corrections"]
    assert fix["n"] == 3 and fix["fire_rate"] == 1.0 and fix["fixed"] + fix["broken"] <= 3
    table = (out / "methods.md").read_text()
    assert table.startswith("# synthetic: 3 test problems\n\nAdvisor: ")
    assert table.endswith(methods_markdown(result["receivers"], "")[1:])
    assert "| aligner-squad | aligner-squad | 3 |" in table and (out / "methods.png").stat().st_size > 0


def test_resume_adds_only_new_conditions_and_refuses_other_settings(methods_run, tiny_dir, loader, tmp_path):
    out, _ = methods_run
    before = _rows(out)
    again = run(_config(tiny_dir), out, loader=loader, log=lambda _: None, publish=tmp_path / "results" / "cmp")
    assert _rows(out) == before and again["rows"] == len(before)
    assert (tmp_path / "results" / "cmp.md").read_text() == (out / "methods.md").read_text()
    assert (tmp_path / "results" / "cmp.png").exists()
    more = run(_config(tiny_dir, METHOD_CONDS + ("prior",)), out, loader=loader, log=lambda _: None)
    rows = _rows(out)
    assert rows[:len(before)] == before and len(rows) == len({r["key"] for r in rows}) == len(before) + 3
    assert {r["condition"] for r in rows[len(before):]} == {"prior"} and more["rows"] == len(rows)
    with pytest.raises(ValueError, match="different configuration \\(methods\\)"):
        run(_config(tiny_dir, la_ratio=2.0), out, loader=loader, log=lambda _: None)


def test_an_older_config_without_method_settings_resumes(tiny_dir, loader, tmp_path):
    cfg = replace(_config(tiny_dir, ("baseline",)), methods=MethodsConfig())
    old = {k: v for k, v in asdict(cfg).items() if k != "methods"}  # config.json written before this feature
    out = tmp_path / "old"
    out.mkdir()
    (out / "config.json").write_text(json.dumps(old))
    result = run(cfg, out, loader=loader, log=lambda _: None)
    assert result["rows"] == 3 and json.loads((out / "config.json").read_text())["methods"]["la_ratio"] == 1.0

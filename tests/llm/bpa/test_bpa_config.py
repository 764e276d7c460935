"""BPAConfig and the CLI derived from it."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from llm.bpa.config import BPAConfig, check_config
from llm.experiment_cli import build_parser, config_from_args, field_help, main
from llm.methods import MethodsConfig

DEFAULTS = {"out": "x", "task": "gsm8k", "catalogue": "math", "limit": 20}


@pytest.mark.parametrize("kwargs, match", [
    ({"conditions": ("baseline", "magic")}, "unknown condition"), ({"receivers": ()}, "receiver"),
    ({"chat": "maybe"}, "chat"), ({"limit": 0}, "limit"), ({"samples": 0}, "samples"),
    ({"temperature": 0.0}, "temperature"), ({"scheme": "magic"}, "scheme"), ({"state_features": "x"}, "state"),
    ({"timeout": 0}, "timeout"),
])
def test_bad_config_is_one_line(kwargs, match):
    with pytest.raises(ValueError, match=match) as err:
        BPAConfig(**kwargs)
    assert len(str(err.value).splitlines()) == 1


def test_persuasion_is_an_alias_of_signal_and_round_trip():
    cfg = BPAConfig(conditions=("baseline", "persuasion", "signal"))
    assert cfg.conditions == ("baseline", "signal")
    assert BPAConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="unknown BPAConfig field"):
        BPAConfig.from_dict({"nope": 1})


def test_training_receiver_and_task():
    assert BPAConfig(receivers=("a", "b")).training_receiver == "a"
    assert BPAConfig(receivers=("a", "b"), train_receiver="b").training_receiver == "b"
    assert BPAConfig(task="humaneval", catalogue="code").training_task == "mbpp"
    assert BPAConfig(task="synthetic", train_task="gsm8k").training_task == "gsm8k"


def test_resume_refuses_a_changed_setting_but_not_more_receivers(tmp_path):
    cfg = BPAConfig(task="synthetic")
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict()))
    check_config(tmp_path, BPAConfig(task="synthetic", receivers=("a", "b"), limit=3, batch_size=2))
    with pytest.raises(ValueError, match="different configuration \\(samples\\)"):
        check_config(tmp_path, BPAConfig(task="synthetic", samples=8))


def test_every_config_field_is_an_option_with_help():
    parser = build_parser("p", "d", DEFAULTS)
    options = {a.dest: a for a in parser._actions}
    for cls, skip in ((BPAConfig, {"methods"}), (MethodsConfig, set())):
        helps = field_help(cls)
        for f in fields(cls):
            if f.name in skip:
                continue
            assert f.name in options, f"no CLI option for {cls.__name__}.{f.name}"
            assert helps.get(f.name), f"no help text for {cls.__name__}.{f.name}"


def test_layered_defaults():
    p = build_parser("p", "d", DEFAULTS)
    cfg = config_from_args(p.parse_args(["--task", "synthetic"]), DEFAULTS)
    assert cfg.receivers == ("simulated",) and cfg.advisor == "template" and cfg.catalogue == "math"
    cfg = config_from_args(p.parse_args(["--task", "synthetic", "--receiver", "r", "--limit", "0", "--dpo",
                                         "--samples", "6", "--la-ratio", "2"]), DEFAULTS)
    assert cfg.receivers == ("r",) and cfg.limit is None and cfg.dpo and cfg.samples == 6
    assert cfg.methods.la_ratio == 2.0
    assert config_from_args(p.parse_args([]), DEFAULTS).task == "gsm8k"


@pytest.mark.parametrize("argv, match", [
    (["--smoke", "--receiver", "x"], "--smoke builds its own"), (["--samples", "0"], "samples"),
    (["--task", "nope"], "unknown task"),
    (["--task", "synthetic", "--limit", "-1"], "the whole split: --limit 0"),  # the flag's value, not Python's None
])
def test_cli_errors_are_one_line(tmp_path, capsys, argv, match):
    assert main([*argv, "--out", str(tmp_path / "x")], "prog", "doc", DEFAULTS) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and match in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("out", ["{file}", "{file}/sub"])
def test_an_out_folder_with_a_file_in_the_way_is_one_line(tmp_path, capsys, out):
    file = tmp_path / "a_file"
    file.write_text("")
    out = out.format(file=file)
    assert main(["--task", "synthetic", "--out", out], "prog", "doc", DEFAULTS) == 2
    err = capsys.readouterr().err
    assert err == f"error: --out {out}: {file} is a file, not a directory\n"

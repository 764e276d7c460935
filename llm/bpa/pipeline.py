"""The driver: feedback -> game -> training -> evaluation -> report, resumable, in one output folder.

Data flows one way: the training task's train split gives feedback (phase 1), the feedback gives the game and the
scheme (2), the feedback trains the Advisor (3), the Advisor meets the test split (4), the rows give the report
(5). Everything the training Receiver's feedback produced lives in ``training/<receiver>/`` (``game.json``,
``state_model.npz``, ``advisor.json``, the corrector), so a folder resumed with another training Receiver
retrains instead of inheriting; ``config.json`` records what trained what.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from llm.bpa.config import BPAConfig, check_config
from llm.bpa.context import Context, config_loader, local_receiver_engine, question
from llm.bpa.evaluation import ADVISOR_CONDITIONS, Advisor, evaluate
from llm.bpa.feedback import collect_feedback
from llm.bpa.game import load_game, solve_game
from llm.bpa.learnability import used_design
from llm.bpa.report import hint_flip_rate, methods_markdown, plot_results, summarize, summary_markdown
from llm.bpa.training import fit_advisor_state, reward_table, signal_rewards, train_advisor
from llm.game.catalogue import load_catalogue
from llm.lm import LanguageModel, LMError
from llm.rows import EvalRow
from llm.runinfo import run_facts, run_facts_markdown
from llm.store import write_json_atomic
from llm.tasks import get_task


def run(config: BPAConfig, out: str | Path, loader: Callable[[str], LanguageModel] | None = None,
        log: Callable[[str], None] = print, publish: str | Path | None = None) -> dict[str, Any]:
    """Runs (or resumes) every phase; writes ``summary.json``, ``summary.md``, ``methods.md`` and plots to ``out``.

    Args:
        config: the experiment.
        out: its folder (resumed if it exists; locked while the run holds it).
        loader: ``spec -> model`` (default :func:`llm.backends.registry.load_model` with the config's placement).
        log: progress messages.
        publish: also copy the side-by-side table and plot to ``<publish>.md`` and ``<publish>.png``.

    Raises:
        ValueError: a different configuration in ``out``, another run holding it, or overlapping training and
            test problems.
        LMError: ``linear-alignment`` asked of a Receiver without white-box access, or a model problem.
    """
    from llm.store import OutputLock

    out = Path(out)
    conds = config.conditions
    task = get_task(config.task)
    train_task = get_task(config.training_task)
    trains = any(c in conds for c in ADVISOR_CONDITIONS + ("aligner", "aligner-squad"))
    if trains and ("train" not in train_task.splits or train_task.kind != task.kind):
        raise ValueError(f"cannot train on task {train_task.name!r}: choose a {task.kind} task with a train split")
    catalogue = load_catalogue(config.catalogue).with_none()
    ctx = Context(config, out, task, catalogue, loader or config_loader(config), log=log)
    if "linear-alignment" in conds:
        for spec in config.receivers:
            if not ctx.model(spec).capabilities.white_box:
                raise LMError(f"linear-alignment needs local white-box Receivers; {spec} is not one (an HTTP endpoint "
                               "gives no full logits)")
    out.mkdir(parents=True, exist_ok=True)
    with OutputLock(out):
        check_config(out, config)
        return _run(ctx, train_task, trains, publish)


def _preregister(ctx: Context, path: Path, rows: Any, game: Any, design: dict[str, Any],
                 n_test: int) -> dict[str, Any] | None:
    """Writes the pre-registration and returns the run's result (it stops there), or checks it and returns None."""
    from llm.bpa.preregistration import advisor_hash, check_preregistration, write_preregistration
    from llm.bpa.report import design_flip_rate

    digest = advisor_hash(ctx.train_dir)
    if path.exists():
        check_preregistration(path, digest)
        ctx.log(f"pre-registration {path} matches the trained Advisor ({digest[:12]}...): evaluating")
        return None
    d = hint_flip_rate(rows)
    write_preregistration(path, config=ctx.config.to_dict(), design=design, game=game.details, digest=digest,
                          n_test=n_test, flip_rate=design_flip_rate(d)[0], trained_on=ctx.config.training_task,
                          trained_by=ctx.config.training_receiver)
    return {"preregistered": str(path), "advisor_hash": digest}


def _run(ctx: Context, train_task: Any, trains: bool, publish: str | Path | None) -> dict[str, Any]:
    config, out, catalogue, task = ctx.config, ctx.out, ctx.catalogue, ctx.task
    conds = config.conditions
    t0 = time.perf_counter()
    train_ctx = replace(ctx, task=train_task)  # shares the loaded models
    train = train_task.load("train", path=config.data, limit=config.train_limit) if trains else []
    test = task.load(None, path=config.data, limit=config.limit)
    seen = {p.id for p in train} | {question(p) for p in train}
    excluded = sorted(p.id for p in test if p.id in seen or question(p) in seen)
    if excluded and len(excluded) == len(test):
        raise ValueError(f"every test problem also appears in training ({len(excluded)}, e.g. {excluded[0]!r}): "
                         "refusing to train on the test split")
    if excluded:  # decontamination: real splits repeat a few questions (MBPP train and test share one)
        ctx.log(f"left out {len(excluded)} test problem(s) whose id or question is also a training problem's: "
                f"{', '.join(excluded[:5])}")
        left_out = set(excluded)
        test = [p for p in test if p.id not in left_out]
    record = {**config.to_dict(), "trained_by": {"advisor_feedback": config.training_receiver,
                                                 "training_folder": str(ctx.train_dir.relative_to(out))}}
    write_json_atomic(out / "config.json", record)

    advisor = None
    rows: list[Any] = []
    training: dict[str, Any] = {}
    flip_rate = None  # the design's flip rate d (llm.bpa.report.hint_flip_rate); a stated default without feedback
    if any(c in conds for c in ADVISOR_CONDITIONS):
        rows = collect_feedback(train_ctx, train)
        flip_rate = hint_flip_rate(rows)
        questions = {p.id: question(p) for p in train}
        game_path = ctx.train_dir / "game.json"
        state_model = fit_advisor_state(train_ctx, rows, train)
        with np.load(ctx.train_dir / "held_out.npz") as oof:
            prior = {k: oof[k] for k in oof.files}
        game = (load_game(json.loads(game_path.read_text())) if game_path.exists()
                else solve_game(rows, catalogue, scheme=config.scheme, seed=config.seed, level=config.confidence,
                                prior=prior, path=game_path, follow_cost=config.follow_cost))
        writer = train_advisor(train_ctx, rows, questions)
        advisor = Advisor(ctx, state_model, game, writer)
        design = json.loads((ctx.train_dir / "design.json").read_text())
        if config.preregister:
            stop = _preregister(ctx, Path(config.preregister), rows, game, design, len(test))
            if stop is not None:
                return stop
        training = {k: game.details[k] for k in ("full_disclosure_value", "no_disclosure_value", "state_counts",
                                                 "mean_rate", "oracle_rate", "problems")}
        training["plugin_value"] = game.details["plugin"]["value"]
        training["robust_value"] = game.details["robust"]["value"]
        training["scheme_used"] = game.scheme_name
        training["mean_reward"] = reward_table(signal_rewards(rows))
        training["advisor"] = json.loads((ctx.train_dir / "advisor.json").read_text())
        training["design"] = {k: design[k] for k in ("chosen", "best_single_item", "learning_curve", "tau_used",
                                                    "tau_source")}
        training["design"]["used"] = used_design(design)  # what the Advisor does, with its cross-fitted value
        if "matched" in conds:
            training["matched_rate"] = advisor.speaking_rate(test)
        training["flip_rate"] = flip_rate
        training["feedback"] = json.loads((ctx.train_dir / "feedback.json").read_text())  # answers vs the grid
    correctors = None
    if "aligner" in conds or "aligner-squad" in conds:
        from llm.bpa.methods import prepare_correctors

        correctors = prepare_correctors(train_ctx, train)  # phase 3b
    store = evaluate(ctx, test, advisor, correctors)
    ids = {p.id for p in test}  # a resumed folder may hold more problems or Receivers: summarise those asked
    rows_ = [EvalRow.from_dict(r) for r in store.rows() if r["problem_id"] in ids and r["receiver"] in
             config.receivers and r["condition"] in conds]
    summary = summarize(rows_, conds, flip_rate=flip_rate)
    result = {"config": config.to_dict(), "receivers": summary, "training": training, "test_left_out": excluded,
              "wall_seconds_this_call": time.perf_counter() - t0, "rows": len(rows_)}
    for name in ("aligner", "inspector"):
        path = ctx.train_dir / f"{name}.json"
        if path.exists():
            result[name] = {k: v for k, v in json.loads(path.read_text()).items() if k not in ("mean", "scale")}
    result["run"] = run_facts(config, ctx.engines, {"feedback": rows, "evaluation": rows_},
                              result["wall_seconds_this_call"], local_receiver_engine(config))
    write_json_atomic(out / "summary.json", result)
    header = f"# {config.task}: {len(test)} test problems"
    (out / "summary.md").write_text(summary_markdown(summary, f"{header}\n\n{run_facts_markdown(result['run'])}",
                                                     design=training.get("design")))
    mc = config.methods
    notes = (f"{header}\n\nAdvisor: `{config.advisor}`; corrector start: `{mc.corrector or config.advisor}`; "
             f"squad threshold {mc.squad_threshold}; Linear Alignment r = {mc.la_ratio}, top-p = {mc.la_top_p}; "
             f"seed {config.seed}. Cost per problem: model requests, tokens read and generated, wall seconds "
             "(the Receiver's own answer included; see docs/methods.md).")
    (out / "methods.md").write_text(methods_markdown(summary, notes))
    plot_results(rows_, summary, catalogue, out)
    if publish is not None:
        target = Path(publish)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "methods.md", target.with_name(target.name + ".md"))
        shutil.copyfile(out / "methods.png", target.with_name(target.name + ".png"))
    return result

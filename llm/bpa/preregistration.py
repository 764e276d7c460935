"""Pre-registration: the trained design, written down with the Advisor's hash before any test problem is answered.

A run with ``preregister=PATH`` trains (phases 1-3) and, if ``PATH`` does not exist, writes it and stops: commit it,
then run again. The second run recomputes the hash of the trained Advisor (:func:`advisor_hash`: the state model's
arrays, the game's scheme and states, the signal writer's weights) and evaluates only if it matches the file's.
The Git history then shows the design before the results it governs.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from llm.bpa.learnability import used_design
from llm.bpa.report import ANALYSIS_CONDITIONS
from llm.stats import design_discordance, mde_paired

_HASH = re.compile(r"^advisor sha256: `([0-9a-f]{64})`", re.MULTILINE)


def advisor_hash(train_dir: str | Path) -> str:
    """sha256 of what the trained Advisor does: ``state_model.npz``'s arrays, ``game.json``'s scheme and states,
    and the files of the signal writer named in ``advisor.json`` (when it is a local folder)."""
    train_dir = Path(train_dir)
    h = hashlib.sha256()
    with np.load(train_dir / "state_model.npz") as z:
        for key in sorted(z.files):
            h.update(key.encode())
            h.update(np.ascontiguousarray(z[key]).tobytes())
    game = json.loads((train_dir / "game.json").read_text())
    h.update(json.dumps({"scheme": game["scheme"], "states": game["states"]}, sort_keys=True).encode())
    info = json.loads((train_dir / "advisor.json").read_text()) if (train_dir / "advisor.json").exists() else {}
    model = Path(str(info.get("model", "template")))
    h.update(str(info.get("model", "template")).encode() if not model.is_dir() else b"")
    if model.is_dir():
        for f in sorted(p for p in model.rglob("*") if p.is_file()):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def write_preregistration(path: str | Path, *, config: Mapping[str, Any], design: Mapping[str, Any],
                          game: Mapping[str, Any], digest: str, n_test: int, flip_rate: float, trained_on: str,
                          trained_by: str) -> Path:
    """Writes the Markdown file (module doc) and returns its path.

    Args:
        trained_on, trained_by: the task whose train split and the Receiver whose feedback trained the Advisor
            (:attr:`llm.bpa.config.BPAConfig.training_task`, ``training_receiver``: HumanEval trains on MBPP).
    """
    path = Path(path)
    chosen = design["chosen"]
    used = used_design(design)  # the threshold the Advisor uses (None: --tau off the cross-fit's grid)
    scored = used if used is not None else chosen
    q = float(scored["speaking_rate"])
    discordance = flip_rate
    psi = design_discordance(q, flip_rate)
    mde = mde_paired(n_test, psi) if psi > 0 else None
    value = scored["value"]
    off_grid = ("" if used is not None else f"\n  The threshold used, tau = {design.get('tau_used'):g} (set by hand), "
                "was not cross-fitted: these are the numbers at the cross-fitted threshold.")
    curve = "\n".join(f"| {r['train_size']} | {r['value']['mean']:+.3f} [{r['value']['lo']:+.3f}, "
                      f"{r['value']['hi']:+.3f}] | {r['speaking_rate']:.0%} |" for r in design.get("learning_curve", []))
    tau = design.get("tau_used", chosen["tau"])
    conditions = [c for c in config.get("conditions", []) if c != "baseline"]
    family = [c for c in conditions if c not in ANALYSIS_CONDITIONS]
    references = [c for c in conditions if c in ANALYSIS_CONDITIONS]
    text = f"""# Pre-registration: {config.get('task')} with `{', '.join(config.get('receivers', []))}`

Written by `llm.bpa.pipeline.run` after training and before any test problem was answered.

advisor sha256: `{digest}`

## Design
- Task `{config.get('task')}` (test split, n = {n_test}); trained on `{trained_on}` train with `{trained_by}`'s
  feedback, {design['problems']} problems, k = {config.get('samples')} samples per cell at T = {config.get('temperature')}.
- Receivers: {', '.join(f'`{r}`' for r in config.get('receivers', []))}; Advisor writer `{config.get('advisor')}`; seed
  {config.get('seed')}.
- State model: features `{chosen['features']}`, lambda {chosen['lam']:g}, lower-bound level {design['level']},
  threshold tau = {tau:g} ({design.get('tau_source', 'cross-fitted')}); scheme `{game.get('scheme_used')}`.
- Conditions: {', '.join(config.get('conditions', []))}.

## Expected effect (cross-fitted on training problems, {design['folds']} folds)
- Policy value of the design at tau = {scored['tau']:g}: {value['mean']:+.3f} [{value['lo']:+.3f}, {value['hi']:+.3f}] per
  problem (the best of {len(design['candidates'])} candidates: optimistic by that selection); speaking rate {q:.0%}.{off_grid}
- Always silent: 0; best single item: {design['best_single_item']['mean']:+.3f}.
- Learning curve:

| training problems | held-out value | speaking rate |
|---|---|---|
{curve}

## Analysis
- Primary: the paired difference `signal - baseline` with its 95% Newcombe interval, per Receiver.
- Tests: exact McNemar against `baseline`, Holm-adjusted over {', '.join(f'`{c}`' for c in family) or 'nothing'};
  {', '.join(f'`{c}`' for c in references) or 'no condition'} reported beside them, outside the family (comparators).
- Do no harm: `signal` is not significantly below `baseline`; `signal` above `matched` (a uniform hint on the same
  share of problems).
- Design MDE (80% power, level 0.05): expected discordance q d = {q:.3f} x {discordance:.3f} = {psi:.4f}
  gives {('%.3f' % mde) if mde is not None and math.isfinite(mde) else 'none (the Advisor is silent: no effect is detectable)'}.

## Config
```json
{json.dumps(dict(config), indent=1, sort_keys=True)}
```
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def check_preregistration(path: str | Path, digest: str) -> None:
    """Refuses (one line) when the file names no hash or another Advisor's."""
    match = _HASH.search(Path(path).read_text(encoding="utf-8"))
    if match is None:
        raise ValueError(f"{path} is not a pre-registration (no 'advisor sha256' line)")
    if match.group(1) != digest:
        raise ValueError(f"the trained Advisor's hash {digest[:12]}... differs from the pre-registered "
                         f"{match.group(1)[:12]}... in {path}: the design changed after registration")

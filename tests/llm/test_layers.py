"""The import graph of ``llm/``: no cycle, no lower layer importing a higher one, no backend importing another.

The graph is read with ``ast`` from the source (imports inside functions count: a lazy import is still an arrow),
so it needs no import of torch or of the package. The layer order is written down in ``docs/layout.md``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "llm"

#: Lowest first. A module may import modules of its own layer and of lower layers only.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("llm", "llm.lm", "llm.store", "llm.stats", "llm.rows", "llm.runinfo"),  # protocols, store, statistics, run facts
    ("llm.sandbox",),  # runs model-written code; imports nothing else of the package
    ("llm.game",),  # catalogue, beliefs, signals, the empirical game, prompt templates
    ("llm.tasks",),  # benchmarks: loaders, prompts, answer formats, graders
    ("llm.backends",),  # language models behind llm.lm.LanguageModel, and their registry
    ("llm.train",),  # fine-tuning (SFT, DPO)
    ("llm.methods",),  # the decoupled methods: Aligner, squads, Linear Alignment, DAPA
    ("llm.bpa",),  # Bayesian Persuasion Alignment, one module per phase, and the experiment around them
    ("llm.experiment_cli",),  # the command line of the experiments
)

#: Modules of ``llm.backends`` that a backend may import: the registry's options, what local engines share (prompt
#: rendering, device, dtype) and where local weights come from.
BACKEND_SHARED = ("llm.backends", "llm.backends.registry", "llm.backends.local", "llm.backends.models",
                  "llm.backends.model_check")


def module_names() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of the package that ``name`` imports (``from a import b`` counts ``a.b`` when it is a module)."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
        else:
            continue
        out.update(t for t in targets if t == "llm" or t.startswith("llm."))
    return out - {name}


def layer(name: str) -> int:
    """The index in :data:`LAYERS` of the deepest prefix of ``name`` listed there."""
    best = None
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > len(best[1]):
                    best = (i, prefix)
    if best is None:
        raise AssertionError(f"{name} is in no layer: add it to LAYERS and to docs/layout.md")
    return best[0]


MODULES = module_names()
GRAPH = {name: imports(name, path, MODULES) for name, path in MODULES.items()}


def test_every_import_resolves_to_a_module_of_the_package() -> None:
    missing = sorted((a, b) for a, deps in GRAPH.items() for b in deps if b not in MODULES)
    assert not missing, missing


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        layer(name)


def test_no_lower_layer_imports_a_higher_one() -> None:
    upward = sorted(f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
                    for a, deps in GRAPH.items() for b in deps if layer(b) > layer(a))
    assert not upward, "\n".join(upward)


def test_the_import_graph_has_no_cycle() -> None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)


def _backend(name: str) -> str | None:
    """The backend ``name`` belongs to (``llm.backends.hf`` for its submodules), or ``None`` for a shared module."""
    if not name.startswith("llm.backends.") or name in BACKEND_SHARED:
        return None
    return ".".join(name.split(".")[:3])


def test_no_backend_imports_another_backend() -> None:
    crossing = sorted(f"{a} imports {b}" for a, deps in GRAPH.items() for b in deps
                      if _backend(a) and _backend(b) and _backend(a) != _backend(b))
    assert not crossing, crossing


def test_methods_never_import_bpa() -> None:
    assert not [(a, b) for a, deps in GRAPH.items() for b in deps
                if a.startswith("llm.methods") and b.startswith("llm.bpa")]


def test_the_registry_names_its_backends_without_importing_them() -> None:
    from llm.backends.registry import BACKENDS, LOCAL

    assert not {d for d in GRAPH["llm.backends.registry"] if _backend(d)}
    for target in (*BACKENDS.values(), LOCAL):
        module, _, function = target.partition(":")
        assert module in MODULES and function, target


def test_the_supervisor_script_imports_nothing_of_the_package() -> None:
    # It runs as ``python -I -S supervisor.py``: the package is not importable there.
    assert GRAPH["llm.sandbox.supervisor"] == set()

"""The library's shape: layers import one way, no import cycle, torch-free configuration.

Layers, lowest first (``sp_prm_lib/__init__.py`` lists them for readers):
core, config, data, models, the paper's algorithms, experiments, report, entry points.
A module may import from its own layer and the layers below it; imports inside
functions count too, so a lazy import cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sp_prm_lib"

LAYERS = [
    ("core", ["sp_prm_lib", "sp_prm_lib.core"]),
    ("config", ["sp_prm_lib.config"]),
    ("data", ["sp_prm_lib.data"]),
    ("models", ["sp_prm_lib.models"]),
    (
        "algorithms",
        [
            "sp_prm_lib.scoring",
            "sp_prm_lib.training",
            "sp_prm_lib.evaluation",
            "sp_prm_lib.judge",
            "sp_prm_lib.decoding",
            "sp_prm_lib.gold",
        ],
    ),
    ("experiments", ["sp_prm_lib.experiments"]),
    ("report", ["sp_prm_lib.report"]),
    ("entry points", ["sp_prm_lib.cli", "sp_prm_lib.notebook"]),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    """Index of the layer whose most specific prefix names ``module``."""
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    if best is None:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")
    return best


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The sp_prm_lib modules a file imports, anywhere in it (``from pkg import mod`` resolves to mod)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "sp_prm_lib")
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (use sp_prm_lib.… absolute imports)"
            if node.module and node.module.split(".")[0] == "sp_prm_lib":
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    out.add(sub if sub in known else node.module)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def test_every_module_belongs_to_a_layer():
    for name in modules():
        layer_of(name)


def test_imports_only_go_to_the_same_or_a_lower_layer():
    upward = [
        f"{src} ({LAYERS[layer_of(src)][0]}) imports {dst} ({LAYERS[layer_of(dst)][0]})"
        for src, targets in graph().items()
        for dst in targets
        if layer_of(dst) > layer_of(src)
    ]
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    assert _cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_paper_algorithms_do_not_know_profiles():
    algorithms = [i for i, (name, _) in enumerate(LAYERS) if name == "algorithms"][0]
    offenders = [
        f"{src} imports {dst}"
        for src, targets in graph().items()
        if layer_of(src) == algorithms
        for dst in targets
        if dst.startswith("sp_prm_lib.config.profile")
    ]
    assert not offenders, offenders


@pytest.mark.parametrize("module", ["sp_prm_lib.config", "sp_prm_lib.core"])
def test_configuration_does_not_import_torch(module):
    code = (
        f"import sys, {module}; {module}.__name__; "
        f"from sp_prm_lib.config import load_profile; load_profile('smoke'); "
        "bad = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=PACKAGE.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_terminal_progress_writes_to_the_process_stream_not_the_captured_one(monkeypatch, capsys):
    """Inside a notebook kernel sys.stderr is the cell's output and sys.__stderr__ the terminal."""
    import io

    from sp_prm_lib.core import progress

    terminal = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", terminal)
    monkeypatch.delenv("SP_PRM_PROGRESS", raising=False)
    assert list(progress.terminal_progress(range(3), desc="steps")) == [0, 1, 2]
    assert "steps" in terminal.getvalue() and "3/3" in terminal.getvalue()
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("SP_PRM_PROGRESS", "0")
    quiet = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", quiet)
    assert list(progress.terminal_progress(range(2))) == [0, 1] and quiet.getvalue() == ""


def test_the_experiments_docstring_names_every_module():
    import sp_prm_lib.experiments as experiments

    names = sorted(p.stem for p in (PACKAGE / "experiments").glob("*.py") if p.stem != "__init__")
    missing = [n for n in names if f"``{n}``" not in experiments.__doc__]
    assert not missing, f"sp_prm_lib/experiments/__init__.py does not describe {', '.join(missing)}"
